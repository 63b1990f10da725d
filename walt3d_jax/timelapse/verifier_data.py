"""The detection verifier's examples: the built-in detector's detections on simulated scenes.

A scene is simulated as benchmarks/detector.py scores the detector: a sequence of bursts over
days (the scored frames), and, for its background, single frames of the same camera at the
bursts' hours on other days with other traffic (`capture.same_hours_schedule`): what weeks of
a time-lapse hold for each hour. The detector runs on every scored frame against the background
it picks for it, with the scene's camera, and each detection becomes one example: its
`verifier_crops` crop (frame, mask, background), labelled to reject (`occluded` in
`OcclusionExamples`, the label the classifier's training reads) when its box overlaps no true
object by IoU `match_iou`, as the benchmark counts a false positive. `matched`, `occlusion`,
`by_scenery` and `truncated` describe the true object it overlaps most, and `target_boxes` is
that object's visible box wherever the two overlap at all (what the box refiner,
`timelapse/refine.py`, learns to move the detection's box to).

Scene folders are named as the benchmark names them (`scored_root`), so one cache serves both.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from typing import Sequence

import ml_collections
import numpy as np
import tqdm

from walt3d_jax.formats import rle
from walt3d_jax.geometry import camera as camera_lib
from walt3d_jax.metrics import detection as detection_metrics
from walt3d_jax.sim import capture
from walt3d_jax.sim import simulate
from walt3d_jax.timelapse import background as background_lib
from walt3d_jax.timelapse import detect as detect_lib
from walt3d_jax.timelapse import frames as frames_lib
from walt3d_jax.timelapse import occlusion_data
from walt3d_jax.timelapse.types import Frame
from walt3d_jax.timelapse.types import FrameDetections

# Frame RGB, the detection's mask, the part of the window inside the image, background RGB.
NUM_CHANNELS = 8


def verifier_crops(image: np.ndarray, background: np.ndarray, masks: Sequence[np.ndarray],
                   boxes: np.ndarray, size: int, context: float) -> np.ndarray:
  """(N, size, size, 8) uint8 verifier inputs of N detections in one frame.

  image, background: (H, W, 3) uint8 RGB, the frame and the background it was detected against;
  masks: N (H, W) bool; boxes: (N, 4) xywh pixels; size, context: as
  `occlusion_data.crop_object` (the window of the frame and of the background is the same).
  """
  if np.shape(background) != np.shape(image):
    raise ValueError(f"verifier_crops: background {np.shape(background)} must match the image {np.shape(image)}")
  crops = np.zeros((len(masks), size, size, NUM_CHANNELS), np.uint8)
  for i, (mask, box) in enumerate(zip(masks, np.asarray(boxes, np.float64).reshape(-1, 4))):
    crops[i, ..., :5] = occlusion_data.crop_object(image, mask, box, size, context)[..., :5]
    crops[i, ..., 5:] = occlusion_data.crop_object(background, mask, box, size, context)[..., :3]
  return crops



def detection_crops(image: np.ndarray, background: np.ndarray, detections: FrameDetections, size: int,
                    context: float) -> np.ndarray:
  """`verifier_crops` of one frame's detections (their RLE masks and boxes)."""
  masks = [rle.decode_mask(m) for m in detections.masks]
  return verifier_crops(image, background, masks, detections.boxes, size, context)

# Other days the same-hours background frames are drawn from.
BACKGROUND_DAYS = 8


def scored_root(cache_dir: pathlib.Path, preset: str, seed: int, sim_config: ml_collections.ConfigDict,
                sequence: int = 0) -> pathlib.Path:
  """The folder of a scene's scored sequence."""
  return (pathlib.Path(cache_dir) / f"{preset}_seed{seed}_seq{sequence}_{sim_config.num_bursts}x"
          f"{sim_config.frames_per_burst}_{sim_config.image_size[0]}")


def simulate_scored(preset: str, seed: int, sim_config: ml_collections.ConfigDict, cache_dir: pathlib.Path,
                    sequence: int = 0) -> pathlib.Path:
  """The scored sequence's folder, simulated unless it is there already.

  sim_config: a simulate config (experiments/simulate.py); its seed is replaced by `seed`.
  """
  root = scored_root(cache_dir, preset, seed, sim_config, sequence)
  if not (root / "ground_truth.json").exists():
    config = ml_collections.ConfigDict(sim_config.to_dict())
    config.seed, config.progress = int(seed), False
    simulate.simulate_sequence(config, preset, sequence, root)
  return root


def scored_bursts(root: pathlib.Path) -> list[capture.Burst]:
  """The bursts of a simulated sequence, read back from its ground_truth.json (hour, times)."""
  images = json.loads((pathlib.Path(root) / "ground_truth.json").read_text())["images"]
  by_burst: dict[int, list[dict]] = {}
  for image in images:
    by_burst.setdefault(image["burst"], []).append(image)
  out = []
  for index, ims in sorted(by_burst.items()):
    times = np.array([im["timestamp"] for im in ims])
    out.append(capture.Burst(index, float(times[0]), float(ims[0]["hour_of_day"]), times))
  return out


def same_hours_root(preset: str, seed: int, sim_config: ml_collections.ConfigDict, cache_dir: pathlib.Path,
                    per_burst: int) -> pathlib.Path:
  """The folder of a scene's same-hours background frames (`per_burst` per scored burst),
  simulated unless there already."""
  scored = simulate_scored(preset, seed, sim_config, cache_dir)
  bursts = scored_bursts(scored)
  root = (pathlib.Path(cache_dir) / f"{preset}_seed{seed}_samehours_{len(bursts)}x{per_burst}_"
          f"{sim_config.image_size[0]}")
  if not (root / "ground_truth.json").exists():
    config = ml_collections.ConfigDict(sim_config.to_dict())
    config.seed, config.progress = int(seed), False
    schedule = capture.same_hours_schedule(np.random.default_rng(seed), bursts, per_burst, BACKGROUND_DAYS)
    simulate.simulate_sequence(config, preset, 1, root, schedule)
  return root


def same_hours_background(frames: Sequence[Frame], estimator: str | None = None) -> background_lib.BackgroundModel:
  """The background model of same-hours frames: all kept in one reservoir, each detected frame
  picking its neighbours by appearance, never told the hour."""
  config = background_lib.BackgroundConfig(buckets=background_lib.UNKNOWN_BUCKETS, max_samples=len(frames))
  if estimator is not None:
    config = dataclasses.replace(config, estimator=estimator)
  return background_lib.fit_background(frames, config)


def scene_examples(preset: str, seed: int, sim_config: ml_collections.ConfigDict,
                   data_config: ml_collections.ConfigDict, cache_dir: pathlib.Path, scene_index: int = 0,
                   frame_offset: int = 0) -> occlusion_data.OcclusionExamples:
  """Examples of every built-in detection in a scene's scored frames (module docstring).

  data_config: crop_size (pixels), context (fraction), match_iou, background_frames (per burst).
  """
  root = simulate_scored(preset, seed, sim_config, cache_dir)
  background_root = same_hours_root(preset, seed, sim_config, cache_dir, int(data_config.background_frames))
  model = same_hours_background(list(frames_lib.open_frames(background_root).iterate()))
  camera = camera_lib.load_camera(root / "camera.json")
  truth = json.loads((root / "ground_truth.json").read_text())
  by_image: dict[int, list[dict]] = {}
  for ann in truth["annotations"]:
    if ann["area"] > 0:
      by_image.setdefault(ann["image_id"], []).append(ann)
  detector = detect_lib.DetectorConfig()
  backgrounds = []

  def keep_all(image, background, found):  # detect_frame's verifier hook: the frame's background
    backgrounds.append(background)
    return found

  rows = []
  for frame in frames_lib.open_frames(root).iterate():
    found = detect_lib.detect_frame(frame, model, camera, detector, keep_all)
    median = backgrounds.pop()
    if found.num == 0:
      continue
    objects = by_image.get(frame.index, [])
    iou = detection_metrics.box_iou(found.boxes, np.array([a["bbox"] for a in objects], np.float64).reshape(-1, 4))
    masks = [rle.decode_mask(m) for m in found.masks]
    crops = verifier_crops(frame.image, median, masks, found.boxes, data_config.crop_size, data_config.context)
    for i in range(found.num):
      best = int(np.argmax(iou[i])) if objects else -1
      real = best >= 0 and iou[i, best] >= data_config.match_iou
      gt = objects[best] if best >= 0 else None
      overlaps = best >= 0 and iou[i, best] > 0
      rows.append(dict(
          crops=crops[i], occluded=not real, matched=real,
          occlusion=gt["occlusion"] if real else 0.0, by_scenery=gt["occluded_by_scenery"] if real else 0.0,
          truncated=bool(gt["truncated"]) if real else False, boxes=found.boxes[i], area=int(masks[i].sum()),
          category=int(found.categories[i]), frame=frame_offset + frame.index, scene=scene_index,
          target_boxes=gt["bbox"] if overlaps else occlusion_data.NO_TARGET))
  width, height = sim_config.image_size
  return occlusion_data.stack_rows(rows, data_config.crop_size, (int(width), int(height)), NUM_CHANNELS)


def build_examples(sim_config: ml_collections.ConfigDict, scenes: Sequence[occlusion_data.SceneSpec],
                   data_config: ml_collections.ConfigDict, cache_dir: pathlib.Path) -> occlusion_data.OcclusionExamples:
  """Examples of `scenes` (simulated into cache_dir/verifier-<digest of sim_config> unless
  there), concatenated; scene i's
  frames get keys i·10⁶ + image id."""
  cache = pathlib.Path(cache_dir) / f"verifier-{occlusion_data.sim_digest(sim_config)}"
  return occlusion_data.OcclusionExamples.concatenate([
      scene_examples(spec.preset, spec.seed, sim_config, data_config, cache, index, index * 1_000_000)
      for index, spec in enumerate(tqdm.tqdm(scenes, desc="verifier examples", unit="scene", delay=2.0))])
