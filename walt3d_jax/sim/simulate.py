"""Simulates a stationary-camera time-lapse and writes it in the project's on-disk contracts.

One sequence per scene preset: `camera.json`, `frames/NNNNNN.jpg`, `ground_truth.json` (COCO
with amodal, keypoint-visibility and 3D fields) and `detections.json` (COCO results from an
imitated off-the-shelf detector); see docs/formats.md. Separate random streams drive the traffic,
the sensor and the detector, so changing the detector's noise leaves the frames unchanged.
"""

from __future__ import annotations

import dataclasses
import functools
import pathlib
import time
from typing import Any

from absl import logging
import cv2
import jax
import ml_collections
import numpy as np
import tqdm

from walt3d_jax.formats import coco
from walt3d_jax.formats import rle
from walt3d_jax.geometry import camera as camera_lib
from walt3d_jax.geometry import plane
from walt3d_jax.geometry import pose as pose_lib
from walt3d_jax.shapes import car_model
from walt3d_jax.shapes import person
from walt3d_jax.shapes import vehicle
from walt3d_jax.sim import appearance
from walt3d_jax.sim import capture
from walt3d_jax.sim import detector_model
from walt3d_jax.sim import lighting as lighting_lib
from walt3d_jax.sim import presets
from walt3d_jax.sim import render
from walt3d_jax.sim import traffic
from walt3d_jax.sim import truth as truth_lib

# Cars' keypoints are mesh vertices on the surface: allow for rasterisation depth error only.
CAR_KEYPOINT_TOLERANCE = 0.03  # metres

# Independent random streams of one sequence.
_TRAFFIC, _SENSOR, _DETECTOR, _CAPTURE, _LOOKS = range(5)


@dataclasses.dataclass(frozen=True)
class SequenceFiles:
  """Where one simulated sequence lives."""

  root: pathlib.Path

  @property
  def camera(self) -> pathlib.Path:
    return self.root / "camera.json"

  @property
  def frames(self) -> pathlib.Path:
    return self.root / "frames"

  @property
  def ground_truth(self) -> pathlib.Path:
    return self.root / "ground_truth.json"

  @property
  def detections(self) -> pathlib.Path:
    return self.root / "detections.json"

  @property
  def video(self) -> pathlib.Path:
    return self.root / "video.mp4"

  @property
  def background(self) -> pathlib.Path:
    return self.root / "background.png"


@dataclasses.dataclass
class Agent:
  """One agent in one frame, posed in the camera frame."""

  track_id: int
  category: coco.Category
  mesh_vertices: np.ndarray  # (V, 3) camera frame
  mesh_faces: np.ndarray
  albedo: np.ndarray
  emission: np.ndarray
  keypoints: np.ndarray  # (P, 3) camera frame
  keypoint_tolerance: np.ndarray  # (P,)
  rotation: np.ndarray  # (3, 3) object → camera
  translation: np.ndarray  # (3,)
  ground_pose: tuple[float, float, float]  # x, y metres; yaw radians, ground frame
  dimensions: tuple[float, float, float]  # length, width, height metres
  extra: dict[str, Any]


def _stream(seed: int, sequence: int, stream: int, *more: int) -> np.random.Generator:
  return np.random.default_rng(np.random.SeedSequence([seed, sequence, stream, *more]))


@functools.lru_cache(maxsize=4)
def _car_shape_model(num_components: int) -> car_model.CarShapeModel:
  return car_model.load_car_model(num_components)


@dataclasses.dataclass(frozen=True)
class TrackLooks:
  """What stays the same along a track: colours and, for a car, its mesh and PCA shape."""

  palette: dict
  car_mesh: Any = None  # shapes.mesh.Mesh
  car_dimensions: tuple[float, float, float] | None = None
  car_shape: np.ndarray | None = None  # (K,) PCA coefficients


def track_looks(state, shape_model, rng: np.random.Generator) -> TrackLooks:
  """The looks of the track that `state` starts; `rng` draws its colours."""
  palette = appearance.palette_for(state.kind, state.params, rng)
  if state.kind != "car":
    return TrackLooks(palette)
  mesh = vehicle.car_mesh(state.params)
  return TrackLooks(
      palette, mesh, tuple(float(v) for v in vehicle.car_dimensions(state.params)),
      np.asarray(car_model.shape_from_keypoints(shape_model, mesh.keypoints), np.float64),
  )


def _bounds(state, look: TrackLooks) -> np.ndarray:
  """(8, 3) corners, object frame, of a box that surely contains the agent's mesh."""
  if state.kind == "car":
    length, width, height = look.car_dimensions
  else:
    # Hands and feet swing up to ~0.45 m ahead of or behind the body (shapes.person).
    length, width = 1.0, 2 * person.PERSON_FOOTPRINT_RADIUS
    height = float(state.params[person.PERSON_PARAM_NAMES.index("height")]) + 0.15
  corners = np.array([[sx, sy, sz] for sx in (-0.5, 0.5) for sy in (-0.5, 0.5) for sz in (0.0, 1.0)])
  return corners * [length, width, height]


def _may_be_in_view(corners_cam: np.ndarray, K: np.ndarray, image_size: tuple[int, int]) -> bool:
  """False only when a box (corners (8, 3), camera frame) certainly projects outside the image.

  A box in front of the camera projects inside the convex hull of its projected corners, so
  all corners beyond one image border means nothing of it can show. The borders are widened by
  a fifth of the image so that agents just outside still cast their shadows in. Boxes reaching
  behind the camera are kept (the renderer clips them).
  """
  if (corners_cam[:, 2] <= 1e-3).any():
    return True
  uv = corners_cam @ K.T
  uv = uv[:, :2] / uv[:, 2:]
  width, height = image_size
  mx, my = 0.2 * width, 0.2 * height
  return not ((uv[:, 0] < -mx).all() or (uv[:, 0] > width + mx).all()
              or (uv[:, 1] < -my).all() or (uv[:, 1] > height + my).all())


_ground_pose_to_camera = jax.jit(pose_lib.ground_pose_to_camera)


def _ground_poses_to_camera(
    R_cg: np.ndarray, t_cg: np.ndarray, xy: np.ndarray, yaw: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
  """(R (N, 3, 3), t (N, 3)) float64 camera poses of ground poses xy (N, 2) metres, yaw (N,).

  float32 like the rest of the jnp geometry (40 m away that is a few micrometres). Jitted on
  agent counts padded to a power of two: op-by-op dispatch cost ~5 ms a frame, and a shape per
  agent count would compile again and again.
  """
  n = len(yaw)
  slots = max(8, 1 << (n - 1).bit_length())
  pad = lambda a: np.pad(np.asarray(a, np.float32), [(0, slots - n)] + [(0, 0)] * (np.ndim(a) - 1))
  R, t = _ground_pose_to_camera(R_cg.astype(np.float32), t_cg.astype(np.float32), pad(xy[:, 0]), pad(xy[:, 1]), pad(yaw))
  return np.asarray(R, np.float64)[:n], np.asarray(t, np.float64)[:n]


def pose_agents(
    states: list, R_cg: np.ndarray, t_cg: np.ndarray, looks: dict[int, TrackLooks], night: bool,
    K: np.ndarray, image_size: tuple[int, int],
) -> list[Agent]:
  """Meshes, keypoints and poses in the camera frame of the agents that may show in the image.

  Agents wholly outside the view are left out: they would have no pixel and no annotation.
  """
  if not states:
    return []
  rotations, translations = _ground_poses_to_camera(
      R_cg, t_cg, np.array([s.position for s in states]), np.array([s.yaw for s in states]))
  agents = []
  for state, R, t in zip(states, rotations, translations):
    look = looks[state.track_id]
    if not _may_be_in_view(_bounds(state, look) @ R.T + t, K, image_size):
      continue
    if state.kind == "car":
      mesh, dims = look.car_mesh, look.car_dimensions
      tolerance = np.full(len(mesh.keypoint_vertices), CAR_KEYPOINT_TOLERANCE)
      extra = {"shape": look.car_shape, "car_params": np.asarray(state.params)}
      category = coco.Category.CAR
    else:
      mesh = person.person_mesh(state.params, state.phase)
      radius = person.PERSON_FOOTPRINT_RADIUS
      dims = (2 * radius, 2 * radius, float(mesh.vertices[:, 2].max()))
      tolerance = np.asarray(person.person_keypoint_radii(state.params), np.float64)
      extra = {"height": float(state.params[person.PERSON_PARAM_NAMES.index("height")]),
               "gait_phase": float(state.phase)}
      category = coco.Category.PERSON
    albedo, emission = appearance.face_colors(mesh.parts, look.palette, night)
    vertices = mesh.vertices @ R.T + t
    agents.append(Agent(
        track_id=state.track_id, category=category, mesh_vertices=vertices,
        mesh_faces=mesh.faces, albedo=albedo, emission=emission,
        keypoints=mesh.keypoints @ R.T + t, keypoint_tolerance=tolerance,
        rotation=R, translation=t,
        ground_pose=(float(state.position[0]), float(state.position[1]), float(state.yaw)),
        dimensions=dims, extra=extra,
    ))
  return agents


def _annotation(agent: Agent, truth: truth_lib.ObjectTruth, ann_id: int, image_id: int) -> dict:
  """COCO ground-truth entry with the amodal, visibility and 3D fields of docs/formats.md."""
  visible_area = int(np.count_nonzero(truth.visible_mask))
  flags = [coco.coco_visibility_flag(s) for s in truth.keypoint_states]
  keypoints = np.column_stack([truth.keypoints_uv, flags]).reshape(-1)
  entry = {
      "id": ann_id,
      "image_id": image_id,
      "category_id": int(agent.category),
      "track_id": agent.track_id,
      "iscrowd": 0,
      "bbox": truth.visible_box,
      "area": visible_area,
      "segmentation": rle.encode_mask(truth.visible_mask),
      "amodal_bbox": truth.amodal_box,
      "amodal_area": int(np.count_nonzero(truth.amodal_mask)),
      "amodal_segmentation": rle.encode_mask(truth.amodal_mask),
      "occlusion": round(truth.occlusion, 5),
      "occluded_by_objects": round(truth.occluded_by_objects, 5),
      "occluded_by_scenery": round(truth.occluded_by_scenery, 5),
      "truncated": truth.truncated,
      "keypoints": [round(float(v), 3) for v in keypoints],
      "num_keypoints": int(sum(f == 2 for f in flags)),
      "keypoint_states": [int(s) for s in truth.keypoint_states],
      "keypoints_3d": np.round(agent.keypoints, 5).tolist(),
      "rotation": np.round(agent.rotation, 7).tolist(),
      "translation": np.round(agent.translation, 5).tolist(),
      "ground_pose": [round(v, 5) for v in agent.ground_pose],
      "dimensions": [round(v, 5) for v in agent.dimensions],
      "depth": round(float(agent.translation[2]), 5),
  }
  for key, value in agent.extra.items():
    entry[key] = np.round(value, 6).tolist() if isinstance(value, np.ndarray) else round(value, 6)
  return entry


def frame_truth(
    agents: list[Agent], rendered: render.RenderedFrame, K: np.ndarray
) -> list[truth_lib.ObjectTruth]:
  """Ground truth of every agent in a rendered frame (agent i was drawn with index i)."""
  height, width = rendered.ids.shape
  truths = []
  for index, agent in enumerate(agents):
    # The renderer's crops lie inside the image.
    x0, y0, crop = rendered.amodal[index]
    window = (slice(y0, y0 + crop.shape[0]), slice(x0, x0 + crop.shape[1]))
    amodal = np.zeros((height, width), bool)
    amodal[window] = crop
    self_depth = np.full((height, width), np.inf, np.float32)
    self_depth[window] = rendered.self_depth[index]
    truths.append(truth_lib.object_truth(
        index, rendered.ids, rendered.depth, amodal, self_depth, agent.keypoints,
        agent.keypoint_tolerance, agent.mesh_vertices, K, render.STATIC_ID_BASE,
    ))
  return truths


@dataclasses.dataclass(frozen=True)
class Scene:
  """A preset made ready to simulate: its layout, camera and prerendered background."""

  name: str
  layout: Any
  camera: camera_lib.Camera
  K: np.ndarray  # (3, 3)
  R_cg: np.ndarray  # (3, 3) ground → camera rotation
  t_cg: np.ndarray  # (3,) ground → camera translation, metres
  background: render.Background
  background_seconds: float

  @property
  def image_size(self) -> tuple[int, int]:
    return int(self.camera.width), int(self.camera.height)


def prepare_scene(config: ml_collections.ConfigDict, preset: str) -> Scene:
  """The layout of `preset` with config.seed, its camera (config.image_size if set), background."""
  if preset not in presets.PRESETS:
    raise ValueError(f"unknown scene preset {preset!r}; known: {sorted(presets.PRESETS)}")
  layout = presets.PRESETS[preset](int(config.seed))
  rig = layout.rig
  if config.get("image_size"):
    rig = dataclasses.replace(rig, image_size=tuple(int(v) for v in config.image_size))
  camera = camera_lib.mounted_camera(rig.height, rig.pitch, rig.hfov, rig.image_size, rig.roll)
  R_cg, t_cg = (np.asarray(a, np.float64) for a in plane.ground_frame(camera.normal, camera.offset))
  tic = time.perf_counter()
  background = render.render_background(layout, camera, int(config.seed))
  return Scene(preset, layout, camera, np.asarray(camera.K, np.float64), R_cg, t_cg, background,
               time.perf_counter() - tic)


@dataclasses.dataclass
class SimulatedFrame:
  """One frame as the simulator made it, before anything is written."""

  index: int
  burst: Any  # capture.Burst
  time: float  # seconds since the start of the capture
  lighting: lighting_lib.Lighting
  agents: list[Agent]
  rendered: render.RenderedFrame
  truths: list[truth_lib.ObjectTruth]


def simulate_frames(
    config: ml_collections.ConfigDict, scene: Scene, sequence_index: int, timings: dict | None = None,
    schedule: list | None = None,
):
  """Yields every `SimulatedFrame` of one sequence, burst after burst.

  timings: if given, seconds spent in "traffic", "render" and "truth" are added to it.
  schedule: the bursts (capture.Burst) to record; None: capture.capture_schedule from config.
  """
  timings = {} if timings is None else timings
  for key in ("traffic", "render", "truth"):
    timings.setdefault(key, 0.0)
  seed = int(config.seed)
  if schedule is None:
    schedule = capture.capture_schedule(
        _stream(seed, sequence_index, _CAPTURE), config.num_bursts, config.frames_per_burst,
        config.fps, config.num_days,
    )
  traffic_rng = _stream(seed, sequence_index, _TRAFFIC)
  sensor_rng = _stream(seed, sequence_index, _SENSOR)
  shape_model = _car_shape_model(config.num_shape_components)
  next_track_id, frame_index = 1, 0
  for burst in schedule:
    light = lighting_lib.lighting_at(burst.hour_of_day)
    tic = time.perf_counter()
    frames = traffic.simulate_burst(
        scene.layout, traffic_rng, len(burst.frame_times), 1.0 / config.fps, config.num_cars,
        config.num_people, next_track_id,
    )
    timings["traffic"] += time.perf_counter() - tic
    looks = {}  # track ids never repeat across bursts
    for states, frame_time in zip(frames, burst.frame_times):
      tic = time.perf_counter()
      for s in states:
        if s.track_id not in looks:
          looks[s.track_id] = track_looks(s, shape_model, _stream(seed, sequence_index, _LOOKS, s.track_id))
        next_track_id = max(next_track_id, s.track_id + 1)
      agents = pose_agents(states, scene.R_cg, scene.t_cg, looks, light.night, scene.K, scene.image_size)
      items = [
          render.RenderItem(a.mesh_vertices, a.mesh_faces, a.albedo, a.emission, i)
          for i, a in enumerate(agents)
      ]
      rendered = render.render_frame(scene.background, items, scene.camera, light, sensor_rng)
      timings["render"] += time.perf_counter() - tic
      tic = time.perf_counter()
      truths = frame_truth(agents, rendered, scene.K)
      timings["truth"] += time.perf_counter() - tic
      yield SimulatedFrame(frame_index, burst, float(frame_time), light, agents, rendered, truths)
      frame_index += 1


def simulate_sequence(
    config: ml_collections.ConfigDict, preset: str, sequence_index: int, out_dir: pathlib.Path,
    schedule: list | None = None,
) -> dict:
  """Simulates scene `preset` and writes the sequence to `out_dir`; returns a summary.
  schedule: the bursts to record (capture.Burst); None: capture.capture_schedule from config."""
  files = SequenceFiles(out_dir)
  files.frames.mkdir(parents=True, exist_ok=True)
  scene = prepare_scene(config, preset)
  camera_lib.save_camera(scene.camera, files.camera)
  width, height = scene.image_size
  detector_rng = _stream(int(config.seed), sequence_index, _DETECTOR)
  noise = detector_model.DetectorNoise(**config.detector.to_dict())

  images, annotations, detections = [], [], []
  timings = {"background": scene.background_seconds, "write": 0.0}
  video = None
  if config.write_video:
    video = cv2.VideoWriter(str(files.video), cv2.VideoWriter_fourcc(*"mp4v"), config.fps, (width, height))
  total = (config.num_bursts * config.frames_per_burst if schedule is None
           else sum(len(b.frame_times) for b in schedule))
  for frame in tqdm.tqdm(simulate_frames(config, scene, sequence_index, timings, schedule), total=total,
                         desc=f"simulate {preset}", unit="frame", disable=not config.progress):
    tic = time.perf_counter()
    for agent, truth in zip(frame.agents, frame.truths):
      if truth.amodal_mask.any():
        annotations.append(_annotation(agent, truth, len(annotations) + 1, frame.index))
    detections += detector_model.imitate_detections(
        [
            detector_model.TrueObject(a.category, t.visible_mask, t.occlusion, t.keypoints_uv, t.keypoint_states)
            for a, t in zip(frame.agents, frame.truths)
        ],
        frame.index, (width, height), detector_rng, noise,
    )
    name = f"{frame.index:06d}.{config.image_format}"
    bgr = cv2.cvtColor(frame.rendered.image, cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(files.frames / name), bgr, _encode_params(config))
    if video is not None:
      video.write(bgr)
    images.append({
        "id": frame.index, "file_name": f"frames/{name}", "width": width, "height": height,
        "frame_index": frame.index, "burst": frame.burst.index, "timestamp": round(frame.time, 4),
        "hour_of_day": round(float(frame.burst.hour_of_day), 4), "lighting": frame.lighting.period,
    })
    timings["write"] += time.perf_counter() - tic
  if video is not None:
    video.release()
  # The empty street at noon, for checking background models against.
  empty = render.render_frame(scene.background, [], scene.camera, lighting_lib.lighting_at(12.0),
                              _stream(int(config.seed), sequence_index, _SENSOR, 1))
  cv2.imwrite(str(files.background), cv2.cvtColor(empty.image, cv2.COLOR_RGB2BGR))

  info = {
      "description": f"walt3d_jax simulated time-lapse, preset {preset}",
      "format_version": coco.FORMAT_VERSION, "preset": preset, "seed": int(config.seed),
      "camera": "camera.json", "shape_model_components": config.num_shape_components,
  }
  coco.write_json(
      {"info": info, "images": images, "annotations": annotations, "categories": coco.categories()},
      files.ground_truth,
  )
  coco.write_json(detections, files.detections)
  return {
      "preset": preset, "root": str(files.root), "frames": len(images),
      "objects": len(annotations), "detections": len(detections), "timings": timings,
  }


def _encode_params(config: ml_collections.ConfigDict) -> list[int]:
  if config.image_format == "jpg":
    return [cv2.IMWRITE_JPEG_QUALITY, int(config.jpeg_quality)]
  return []


def frames_per_second(summary: dict) -> float:
  """Per-frame throughput of a `simulate_sequence` summary (the one-off background excluded)."""
  seconds = sum(v for k, v in summary["timings"].items() if k != "background")
  return summary["frames"] / max(seconds, 1e-9)


def run(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> list[dict]:
  """The `simulate` job: one sequence per preset in `config.presets` under `workdir`."""
  summaries = []
  for index, preset in enumerate(config.presets):
    summary = simulate_sequence(config, preset, index, workdir / preset)
    logging.info("%s: %d frames, %d objects, %.1f frames/s → %s", preset, summary["frames"],
                 summary["objects"], frames_per_second(summary), summary["root"])
    summaries.append(summary)
  return summaries
