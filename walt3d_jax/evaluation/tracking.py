"""Tracking with a trained amodal detector on true-occlusion sequences (the paper's Table 2).

  frames = tracking.sequence("crosswalk", 1000, (640, 360), num_bursts=5, frames_per_burst=20)
  model, meta = predict.load(checkpoint)
  result = tracking.track_scores(model, meta, frames)   # JSON-ready: MOTA, IDF1, ... per class

`sequence` simulates consecutive frames of one scene with real occlusion (the simulator through
`walt3d_trueocc.frame_example`, so the truth is the test set's: boxes from the renderer's
masks, the amodal one clipped to the image, and each agent's track id). `detect_sequence` runs
the detector over them (fixed-size batches through `models.predict.detect`, without 3D),
`track_detections` links the detections with SORT (`timelapse.track`; bursts hours apart are
never linked) and `score_tracks` scores them with CLEAR MOT and IDF1 (`metrics.mot`) against
the objects with a visible pixel, per class and pooled over the classes.

Frames of several scenes may be concatenated (`sequence(a) + sequence(b)`): each scene is
tracked alone and its truth and track ids are made unique over the concatenation.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal, Sequence

import cv2
import numpy as np

from walt3d_jax.formats import rle
from walt3d_jax.metrics import mot
from walt3d_jax.timelapse import track as sort
from walt3d_jax.timelapse.types import FrameDetections
from walt3d_jax.timelapse.types import NUM_KEYPOINTS

BoxKind = Literal["amodal", "visible"]
BOX_KINDS = ("amodal", "visible")
CLASS_NAMES = {1: "car", 2: "person"}  # formats.coco.Category
# Per-group keys of track_scores' result.
SCORE_KEYS = ("mota", "idf1", "motp", "idp", "idr", "fp", "fn", "id_switches", "matches", "num_gt", "num_hyp",
              "idtp", "idfp", "idfn", "num_gt_tracks", "num_hyp_tracks")


@dataclasses.dataclass(frozen=True)
class SequenceFrame:
  """One simulated frame and its exact truth (N objects whose amodal mask touches the image).

  scene: "<preset>-s<seed>"; index: frame number in the scene's simulation; burst: its burst
    index; time: seconds since the start of the capture (frames of a burst 1/fps apart).
  image: (H, W, 3) uint8 RGB. K: (3, 3) float32 intrinsics (pixel centres at integers).
  plane: (4,) float32 ground plane [n, d] in the camera frame (n·X + d = 0, metres).
  track_ids: (N,) int64 agent track ids (unique within the scene, over all its bursts).
  categories: (N,) int32 (1 car, 2 person). amodal_boxes, visible_boxes: (N, 4) float32
    [x, y, w, h] pixels of the masks (amodal clipped to the image; zeros when empty).
  visible_area: (N,) int64 visible pixels. occlusion: (N,) float32 1 − visible / amodal.
  visible_rles: N COCO RLE dicts of the visible masks.
  """

  scene: str
  index: int
  burst: int
  time: float
  image: np.ndarray
  K: np.ndarray
  plane: np.ndarray
  track_ids: np.ndarray
  categories: np.ndarray
  amodal_boxes: np.ndarray
  visible_boxes: np.ndarray
  visible_area: np.ndarray
  occlusion: np.ndarray
  visible_rles: tuple[dict, ...]

  @property
  def image_size(self) -> tuple[int, int]:
    """(W, H) pixels."""
    return int(self.image.shape[1]), int(self.image.shape[0])


def _check_kind(boxes: str) -> None:
  if boxes not in BOX_KINDS:
    raise ValueError(f"boxes must be one of {BOX_KINDS}, got {boxes!r}")


# ---------------------------------------------------------------------------------------------
# Sequences.


def frame_from_example(example, index: int, burst: int, time: float) -> SequenceFrame:
  """The SequenceFrame of a walt3d_trueocc `ClipartExample` (masks reduced to areas and RLE)
  that is frame `index` of burst `burst`, at `time` seconds."""
  o = example.objects
  return SequenceFrame(
      scene=example.camera, index=int(index), burst=int(burst), time=float(time), image=example.image,
      K=np.asarray(example.K, np.float32), plane=np.asarray(example.plane, np.float32),
      track_ids=np.asarray(o.track_id, np.int64), categories=np.asarray(o.category, np.int32),
      amodal_boxes=np.asarray(o.amodal_box, np.float32).reshape(-1, 4),
      visible_boxes=np.asarray(o.visible_box, np.float32).reshape(-1, 4),
      visible_area=o.visible_mask.reshape(len(o.category), -1).sum(1).astype(np.int64),
      occlusion=np.asarray(o.occlusion, np.float32), visible_rles=tuple(rle.encode_mask(m) for m in o.visible_mask))


def sequence(preset: str, seed: int, image_size: tuple[int, int] = (640, 360), num_bursts: int = 1,
             frames_per_burst: int = 10, sim: Sequence[tuple[str, Any]] = ()) -> list[SequenceFrame]:
  """Every frame of one simulated scene, in time order: num_bursts bursts of frames_per_burst
  consecutive frames at the simulator's fps (10; bursts hours apart), (W, H) = image_size.

  Deterministic in its arguments; the same frames and truth as walt3d_trueocc with these
  settings (sim: (name, value) overrides of the simulator's settings, e.g. (("num_cars", 20),)).
  """
  # Imported here: the simulator and TFDS only when a sequence is made.
  from tfds_builders.walt3d_trueocc import walt3d_trueocc_dataset_builder as trueocc
  from walt3d_jax.sim import simulate

  config = trueocc.BuilderConfig(name="tracking", presets=(preset,), seeds=(int(seed),),
                                 image_size=tuple(int(v) for v in image_size), num_bursts=int(num_bursts),
                                 frames_per_burst=int(frames_per_burst), sim=tuple(sim))
  sim_config = config.simulate_config(seed)
  scene = simulate.prepare_scene(sim_config, preset)
  out = []
  for frame in simulate.simulate_frames(sim_config, scene, 0):
    example = trueocc.frame_example(scene, frame, f"{preset}-s{seed}-{frame.index:06d}", seed)
    out.append(frame_from_example(example, frame.index, frame.burst.index, frame.time))
  return out


def frame_times(frames: Sequence[SequenceFrame]) -> np.ndarray:
  """(F,) float64 seconds of each frame."""
  return np.array([f.time for f in frames], np.float64)


def scene_runs(frames: Sequence[SequenceFrame]) -> list[slice]:
  """Slices of the maximal runs of consecutive frames of the same scene."""
  starts = [i for i in range(len(frames)) if i == 0 or frames[i].scene != frames[i - 1].scene]
  return [slice(a, b) for a, b in zip(starts, starts[1:] + [len(frames)])]


def _visible(frame: SequenceFrame, min_visible_pixels: int) -> np.ndarray:
  """(N,) bool: the objects scored (at least min_visible_pixels visible pixels)."""
  return frame.visible_area >= max(int(min_visible_pixels), 1)


def truth_detections(frames: Sequence[SequenceFrame], boxes: BoxKind = "amodal",
                     min_visible_pixels: int = 1) -> list[FrameDetections]:
  """Per frame, the truth of its visible objects as FrameDetections (score 1, no keypoints),
  `boxes` their amodal or visible boxes, track_ids the agents' ids (unique within a scene)."""
  _check_kind(boxes)
  out = []
  for f in frames:
    keep = np.flatnonzero(_visible(f, min_visible_pixels))
    out.append(FrameDetections(
        image_id=f.index, boxes=(f.amodal_boxes if boxes == "amodal" else f.visible_boxes)[keep],
        scores=np.ones(len(keep)), categories=f.categories[keep], masks=tuple(f.visible_rles[i] for i in keep),
        keypoints=np.zeros((len(keep), NUM_KEYPOINTS, 3)), track_ids=f.track_ids[keep]))
  return out


# ---------------------------------------------------------------------------------------------
# Detection.


def model_inputs(frames: Sequence[SequenceFrame], input_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """(images (F, h, w, 3) uint8, K (F, 3, 3), plane (F, 4)) at the model's input (w, h):
  resized (area) with K scaled to match where a frame's size differs."""
  from walt3d_jax.models import predict  # K's scaling convention, shared with the predict job

  iw, ih = input_size
  images, Ks = [], []
  for f in frames:
    fw, fh = f.image_size
    if (fw, fh) == (iw, ih):
      images.append(f.image)
      Ks.append(f.K)
    else:
      images.append(cv2.resize(f.image, (iw, ih), interpolation=cv2.INTER_AREA))
      Ks.append(predict.scale_intrinsics(f.K, iw / fw, ih / fh))
  return (np.stack(images).astype(np.uint8), np.stack(Ks).astype(np.float32),
          np.stack([f.plane for f in frames]).astype(np.float32))


def to_frame_detections(det: dict[str, np.ndarray], image_id: int, frame_size: tuple[int, int],
                        input_size: tuple[int, int], score_threshold: float, boxes: BoxKind) -> FrameDetections:
  """FrameDetections of one image's decoded detections (`amodal.decode` fields, (k, ...) at the
  input size) with score >= score_threshold, mapped to the frame's pixels (fw, fh)."""
  (fw, fh), (iw, ih) = frame_size, input_size
  sx, sy = fw / iw, fh / ih
  keep = np.flatnonzero(np.asarray(det["score"]) >= score_threshold)
  box = np.asarray(det[f"{boxes}_box"], np.float64)[keep] * [sx, sy, sx, sy]
  box[:, 2:] = np.maximum(box[:, 2:], 0.)  # the visible head's signed sides can cross
  masks = np.asarray(det["visible_mask"])[keep].astype(np.uint8)
  if (fw, fh) != (iw, ih):
    masks = [cv2.resize(m, (fw, fh), interpolation=cv2.INTER_NEAREST) for m in masks]
  kp = (np.asarray(det["keypoints"], np.float64)[keep] + 0.5) * [sx, sy] - 0.5  # centres at integers
  keypoints = np.concatenate([kp, np.asarray(det["keypoint_score"], np.float64)[keep, :, None]], -1)
  return FrameDetections(
      image_id=int(image_id), boxes=box, scores=np.asarray(det["score"])[keep],
      categories=np.asarray(det["category"])[keep], masks=tuple(rle.encode_mask(m > 0) for m in masks),
      keypoints=keypoints.reshape(len(keep), NUM_KEYPOINTS, 3), track_ids=np.full(len(keep), -1))


def detect_sequence(model, meta: dict, frames: Sequence[SequenceFrame], score_threshold: float = 0.3,
                    max_detections: int = 32, boxes: BoxKind = "amodal", batch_size: int = 8) -> list[FrameDetections]:
  """Untracked detections (track id -1) of every frame, boxes in the frame's pixels.

  model: `amodal.Model`; meta: its checkpoint metadata (meta["model"]["image_size"] = (W, H),
  the input every image is resized to). boxes: which decoded box the detections carry (what
  SORT tracks and the scores compare). Batches are padded to batch_size by repetition so the
  jitted decode compiles once.
  """
  import jax  # jax and the model only when detecting

  from walt3d_jax.models import predict

  _check_kind(boxes)
  input_size = tuple(int(v) for v in meta["model"]["image_size"])
  out: list[FrameDetections] = []
  for start in range(0, len(frames), batch_size):
    chunk = list(frames[start:start + batch_size])
    images, K, plane = model_inputs(chunk + [chunk[-1]] * (batch_size - len(chunk)), input_size)
    det = jax.device_get(predict.detect(model, images, K, plane, input_size, int(max_detections), False))
    for i, f in enumerate(chunk):
      one = {k: v[i] for k, v in det.items()}
      out.append(to_frame_detections(one, f.index, f.image_size, input_size, score_threshold, boxes))
  return out


# ---------------------------------------------------------------------------------------------
# Tracking and scores.


def _offset_ids(ids: np.ndarray, offset: int) -> np.ndarray:
  """ids + offset where tracked (>= 0), -1 kept."""
  ids = np.asarray(ids, np.int64)
  return np.where(ids >= 0, ids + offset, ids)


def track_detections(frames: Sequence[SequenceFrame], detections: Sequence[FrameDetections],
                     sort_config: sort.SortConfig = sort.SortConfig()) -> list[FrameDetections]:
  """`detections` (one per frame) with SORT's track ids: each scene tracked alone, with the
  frames' times (a burst gap ends every track), ids unique over all scenes."""
  if len(frames) != len(detections):
    raise ValueError(f"track_detections: {len(frames)} frames vs {len(detections)} detection frames")
  times = frame_times(frames)
  out: list[FrameDetections] = []
  offset = 0
  for run in scene_runs(frames):
    tracked = sort.track(list(detections[run]), times[run], sort_config)
    out += [d.with_track_ids(_offset_ids(d.track_ids, offset)) for d in tracked]
    offset += max([0] + [int(d.track_ids.max()) for d in tracked if d.num])
  return out


def unique_truth(frames: Sequence[SequenceFrame], truth: Sequence[FrameDetections]) -> list[FrameDetections]:
  """`truth` with its (per-scene) track ids offset so that no two scenes share one."""
  out: list[FrameDetections] = []
  offset = 0
  for run in scene_runs(frames):
    part = truth[run]
    out += [t.with_track_ids(_offset_ids(t.track_ids, offset)) for t in part]
    offset += 1 + max([0] + [int(t.track_ids.max()) for t in part if t.num])
  return out


def _finite_or_none(value: float) -> float | None:
  """JSON has no NaN or infinity: undefined scores are None."""
  return float(value) if np.isfinite(value) else None


def pooled(scores: Sequence[mot.MotScores]) -> mot.MotScores:
  """The MotScores of several disjoint groups (classes) together: counts summed, MOTP the
  match-weighted mean."""
  total = lambda name: int(sum(getattr(s, name) for s in scores))
  matches = total("matches")
  similarity = sum(s.motp * s.matches for s in scores if s.matches)
  return mot.MotScores(
      num_frames=max([0] + [s.num_frames for s in scores]), num_gt=total("num_gt"), num_hyp=total("num_hyp"),
      matches=matches, fn=total("fn"), fp=total("fp"), id_switches=total("id_switches"),
      motp=similarity / matches if matches else float("nan"), idtp=total("idtp"), idfp=total("idfp"),
      idfn=total("idfn"), num_gt_tracks=total("num_gt_tracks"), num_hyp_tracks=total("num_hyp_tracks"))


def score_dict(scores: mot.MotScores) -> dict[str, Any]:
  """The JSON-ready SCORE_KEYS of one MotScores (floats or None, ints)."""
  out: dict[str, Any] = {}
  for key in SCORE_KEYS:
    value = getattr(scores, key)
    out[key] = _finite_or_none(value) if isinstance(value, float) else int(value)
  return out


def score_tracks(truth: Sequence[FrameDetections], hypotheses: Sequence[FrameDetections],
                 iou_threshold: float = 0.5) -> dict[str, dict[str, Any]]:
  """{"car", "person", "overall"}: score_dict of CLEAR MOT and IDF1 per class (a hypothesis
  matches truth of its own class only) and pooled over the classes. Untracked hypotheses (-1)
  are left out; track ids must be unique over the sequence."""
  per_class = {c: mot.evaluate_tracking(truth, hypotheses, iou_threshold, category=c) for c in CLASS_NAMES}
  out = {CLASS_NAMES[c]: score_dict(s) for c, s in per_class.items()}
  out["overall"] = score_dict(pooled(list(per_class.values())))
  return out


def evaluate_detections(frames: Sequence[SequenceFrame], detections: Sequence[FrameDetections],
                        sort_config: sort.SortConfig = sort.SortConfig(), truth_boxes: BoxKind = "amodal",
                        iou_threshold: float = 0.5, min_visible_pixels: int = 1) -> dict[str, Any]:
  """Track `detections` (per frame, boxes of the same kind as truth_boxes) with SORT and score
  them against the frames' visible objects: score_tracks' groups plus the settings and counts
  (num_frames, num_scenes, num_bursts, num_detections, truth_boxes, iou_threshold,
  min_visible_pixels, sort)."""
  _check_kind(truth_boxes)
  truth = unique_truth(frames, truth_detections(frames, truth_boxes, min_visible_pixels))
  tracked = track_detections(frames, detections, sort_config)
  out: dict[str, Any] = score_tracks(truth, tracked, iou_threshold)
  out.update(
      num_frames=len(frames), num_scenes=len(scene_runs(frames)),
      num_bursts=len({(f.scene, f.burst) for f in frames}), num_detections=int(sum(d.num for d in detections)),
      truth_boxes=truth_boxes, iou_threshold=float(iou_threshold), min_visible_pixels=int(min_visible_pixels),
      sort=dataclasses.asdict(sort_config))
  return out


def oracle_scores(frames: Sequence[SequenceFrame], sort_config: sort.SortConfig = sort.SortConfig(),
                  truth_boxes: BoxKind = "amodal", iou_threshold: float = 0.5,
                  min_visible_pixels: int = 1) -> dict[str, Any]:
  """evaluate_detections of the truth itself (its visible objects, ids removed): the scores of
  a perfect detector, i.e. what SORT alone loses on these frames (tiny or crowded objects,
  occlusion gaps longer than max_age)."""
  untracked = [d.with_track_ids(np.full(d.num, -1)) for d in truth_detections(frames, truth_boxes, min_visible_pixels)]
  return evaluate_detections(frames, untracked, sort_config, truth_boxes, iou_threshold, min_visible_pixels)


def track_scores(model, meta: dict, frames: Sequence[SequenceFrame],
                 sort_config: sort.SortConfig = sort.SortConfig(), score_threshold: float = 0.3,
                 truth_boxes: BoxKind = "amodal", iou_threshold: float = 0.5, max_detections: int = 32,
                 min_visible_pixels: int = 1, batch_size: int = 8) -> dict[str, Any]:
  """The detector's tracking scores on `frames` (JSON-ready): detect_sequence with boxes of
  the truth's kind, then evaluate_detections; adds "score_threshold"."""
  detections = detect_sequence(model, meta, frames, score_threshold, max_detections, truth_boxes, batch_size)
  out = evaluate_detections(frames, detections, sort_config, truth_boxes, iou_threshold, min_visible_pixels)
  out["score_threshold"] = float(score_threshold)
  return out
