"""The `mine` job: a time-lapse and its detections in, tracked unoccluded objects out.

Streaming passes over the source, so memory stays bounded however long the footage is:
  1. background: reservoir samples per time-of-day bucket; each frame is detected against the
     median of its nearest samples in appearance from other moments (`frame_background`), and
     the bank stores each bucket's median for compositing;
  2. detect: read the detections file (COCO results), or run the built-in detector against the
     background (with a camera, through the learnt stages config.detector names, `stages.py`:
     its detections checked by the detection verifier, their boxes moved by the box refiner, and
     objects the proposal network finds added, with their boxes as masks); then SORT links the
     boxes of all frames into tracks (boxes only: small);
  3. mine: per frame, drop truncated objects, WALT's δ heuristic (when on), the occlusion
     classifier (by default one shipped with the package: with the built-in detector and a camera,
     the one trained on that detector's own detections), objects behind a static occluder (a
     pole the tracks pass behind, learnt from their outlines: `static_occluders.py`), low scores,
     small boxes, short tracks and masks that are only boxes (proposals); append the kept
     objects, with crops, to the object bank, and the medians beside them.
Writes <workdir>/bank.h5, summary.json and report.png.

Resumable: rerunning the same command after a kill (even `kill -9`) continues where the job
stopped and ends with the same bytes in bank.h5, summary.json (except its `seconds`) and
report.png as an uninterrupted run. Each pass checkpoints under <workdir>/mine_state/
(`mine_state.py`) every `checkpoint_frames` frames and `checkpoint_seconds` seconds: pass 1 its
reservoirs and reader position, passes 2 and 3 chunks of their per-frame results (detections;
kept objects with crops, outcome counts, the report's examples). A rerun reloads finished chunks
and reads on from the last one's position, so a kill loses at most one checkpoint interval.
Tracking (SORT over all boxes, seconds) is redone on every run. The bank is written from the
chunks into a temporary file and renamed, so bank.h5 is absent or whole; a simulated source is
made in a temporary folder and renamed too. A finished job leaves mine_complete.json (settings
digest and summary) and no checkpoints; a rerun with the same settings returns at once, other
settings start over.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import pathlib
import shutil
import time
from typing import Any

from absl import logging
import ml_collections
import numpy as np
import tqdm

from walt3d_jax.errors import UserError
from walt3d_jax.formats import coco
from walt3d_jax.formats import rle
from walt3d_jax.geometry import camera as camera_lib
from walt3d_jax.metrics import detection as detection_metrics
from walt3d_jax.models import occlusion_classifier
from walt3d_jax.models import occlusion_weights
from walt3d_jax.sim import simulate
from walt3d_jax.timelapse import background as background_lib
from walt3d_jax.timelapse import bank as bank_lib
from walt3d_jax.timelapse import detect as detect_lib
from walt3d_jax.timelapse import detections as detections_lib
from walt3d_jax.timelapse import frames as frames_lib
from walt3d_jax.timelapse import mine_state
from walt3d_jax.timelapse import mining_report
from walt3d_jax.timelapse import occlusion
from walt3d_jax.timelapse import occlusion_data
from walt3d_jax.timelapse import resize as resize_lib
from walt3d_jax.timelapse import stabilize as stabilize_lib
from walt3d_jax.timelapse import stages as stages_lib
from walt3d_jax.timelapse import static_occluders
from walt3d_jax.timelapse import track as track_lib
from walt3d_jax.timelapse.bank import MiningFlag
from walt3d_jax.train import occlusion as occlusion_training
from walt3d_jax.timelapse.types import FrameDetections


@dataclasses.dataclass(frozen=True)
class Source:
  """Where the footage comes from: frames (video, image folder or simulated sequence folder),
  an optional detections file (COCO results) and an optional camera.json."""

  frames: pathlib.Path
  detections: pathlib.Path | None
  camera: pathlib.Path | None


def resolve_source(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> Source:
  """The footage named by config.source, or a simulated sequence made in <workdir>/source."""
  src = config.source
  path = lambda value: pathlib.Path(value) if value else None
  given = src.video or src.frames
  if src.video and src.frames:
    raise UserError("config.source: give either video or frames, not both")
  if given:
    detections = path(src.detections) if src.detections != "builtin" else None
    if detections is not None and not detections.is_file():
      raise FileNotFoundError(f"config.source.detections: no file {detections}")
    return Source(pathlib.Path(given), detections, path(src.camera))
  root = workdir / "source" / src.simulate.preset
  if not (root / "ground_truth.json").is_file():
    # Made aside and renamed: a sequence killed half-written is never taken for a whole one.
    partial = root.with_name(f".{root.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.rmtree(root, ignore_errors=True)
    sim_config = ml_collections.ConfigDict(src.simulate.to_dict())
    sim_config.presets = [src.simulate.preset]
    sim_config.progress = bool(src.simulate.progress and config.progress)  # --config.progress=False: no bars at all
    simulate.simulate_sequence(sim_config, src.simulate.preset, 0, partial)
    os.replace(partial, root)
  detections = root / "detections.json" if src.detections != "builtin" else None
  return Source(root, detections, root / "camera.json")


def _reader(source: Source, config: ml_collections.ConfigDict):
  """The source's frames, sampled; at most config.source.max_width wide (`resize.ResizedFrames`);
  moved onto its first frame when config.source.stabilize (a shaking camera:
  `stabilize.StabilizedFrames`)."""
  sampling = frames_lib.Sampling(**config.sampling.to_dict())
  reader = frames_lib.open_frames(source.frames, sampling, order=config.source.order, fps=config.source.fps)
  if config.source.get("max_width", 0):
    reader = resize_lib.ResizedFrames(reader, config.source.max_width)
  return stabilize_lib.StabilizedFrames(reader) if config.source.get("stabilize", False) else reader


def _recorded_size(reader) -> tuple[int, int] | None:
  """(W, H) of the frames as stored when the reader shrinks them and has read one; else None."""
  while reader is not None:
    if isinstance(reader, resize_lib.ResizedFrames):
      return reader.recorded_size
    reader = getattr(reader, "inner", None)
  return None


def _progress(iterable, desc: str, config: ml_collections.ConfigDict, total: int | None = None,
              initial: int = 0):
  """A tqdm bar with a total (so it shows a rate and the time left); `initial` frames were done
  by an earlier, killed run."""
  return tqdm.tqdm(iterable, desc=desc, unit="frame", total=total, initial=initial,
                   disable=not config.progress)


def _throttle(config: ml_collections.ConfigDict) -> mine_state.Throttle:
  return mine_state.Throttle(config.get("checkpoint_frames", 200), config.get("checkpoint_seconds", 60.0))


TIME_OF_DAY = ("auto", "known", "unknown")


def clock_tells_time_of_day(source: Source, config: ml_collections.ConfigDict) -> bool:
  """Whether the frames' times give the hour of day (config.background.time_of_day: 'known',
  'unknown', or 'auto'): the simulator's clock (seconds from midnight of its first day) and
  file-name timestamps (Unix seconds, UTC) do; a video's clock and an unnamed folder's
  (index / fps) count from the start of the footage, so they do not."""
  mode = config.background.get("time_of_day", "auto")
  if mode not in TIME_OF_DAY:
    raise UserError(f"config.background.time_of_day={mode!r}: expected one of {TIME_OF_DAY}")
  if mode != "auto":
    return mode == "known"
  if (source.frames / "ground_truth.json").is_file():
    return True
  return source.frames.is_dir() and config.source.order == "timestamp"


def _background_config(config: ml_collections.ConfigDict, source: Source) -> background_lib.BackgroundConfig:
  """Time-of-day buckets from config.background, or one 'unknown' bucket when the clock does
  not tell the hour of day (`clock_tells_time_of_day`). The one bucket keeps as many samples as
  all the time-of-day buckets together (the same memory bound): each frame's background is
  chosen among them by appearance (`BackgroundModel.frame_background`), so a video that runs
  from day into night still finds its frames' light."""
  c = config.background
  max_samples = c.max_samples
  buckets = {}
  if not clock_tells_time_of_day(source, config):
    buckets = {"buckets": background_lib.UNKNOWN_BUCKETS}
    max_samples *= len(background_lib.BackgroundConfig().buckets)
  return background_lib.BackgroundConfig(max_samples=max_samples, start_hour=c.start_hour,
                                         neighbours=c.get("neighbours", 12), exclude_s=c.get("exclude_s", 120.0),
                                         estimator=c.get("estimator", "median"),  # the job's choice (experiments/mine.py)
                                         **buckets)


def fit_background(source: Source, config: ml_collections.ConfigDict,
                   state: mine_state.MineState) -> tuple[background_lib.BackgroundModel, Any, dict | None]:
  """Pass 1: the per-bucket median model; also returns the reader's report and, with
  config.source.stabilize, its ShakeReport's fields.

  Checkpoint `background`: the model's state, the reader's position and the shake report; `done`
  once complete.
  """
  saved = state.load("background")
  if saved is not None and saved["done"]:
    return (background_lib.BackgroundModel.from_state(_background_config(config, source), saved["model"]),
            saved["position"].report, saved.get("shake"))
  model = (background_lib.BackgroundModel.from_state(_background_config(config, source), saved["model"])
           if saved is not None else background_lib.BackgroundModel(_background_config(config, source)))
  start = saved["position"] if saved is not None else None
  reader = _reader(source, config)
  throttle = _throttle(config)
  shake = lambda: dataclasses.asdict(reader.shake) if isinstance(reader, stabilize_lib.StabilizedFrames) else None
  checkpoint = lambda done: state.save("background", {"model": model.state(), "position": reader.position(),
                                                      "shake": shake(), "done": done})
  frames = reader.iterate(start)
  for frame in _progress(frames, "background", config, reader.expected(), start.report.yielded if start else 0):
    model.update(frame)
    if throttle.tick():
      checkpoint(False)
  checkpoint(True)
  if shake() is not None:
    logging.info("%s", reader.shake.summary())
  return model, reader.report, shake()


def detect_and_track(
    source: Source, model: background_lib.BackgroundModel, camera, config: ml_collections.ConfigDict,
    state: mine_state.MineState, num_frames: int | None = None,
) -> tuple[list[FrameDetections], list[int]]:
  """Pass 2: detections of every sampled frame (file or built-in), linked by SORT.

  Returns the tracked detections and the frame indices they belong to, in reading order.
  Checkpoints: chunks `detect-N` of per-frame detections, times and indices, each with the
  reader's position after it; the last one `done`. num_frames: pass 1's count (progress total).
  """
  per_frame, times, indices = [], [], []
  start, done, number = None, False, 0
  for name in state.chunk_names("detect"):
    chunk = state.load(name)
    per_frame += chunk["detections"]
    times += chunk["times"]
    indices += chunk["indices"]
    start, done, number = chunk["position"], chunk["done"], number + 1
  if not done:
    loaded = None
    detector = detect_lib.DetectorConfig()
    # The learnt stages run with a camera only: the verifier and the refiner learnt the detector's
    # blobs found with one (metric sizes, fragments joined, silhouettes); without one (from_video's
    # calibration pass) they are other blobs, and on OpenCV's vtest.avi verifying them left people
    # tracks that calibrated to a 4.4 m camera with a 219 px focal length, against the scene
    # lines' 592 px.
    stages = load_stages(config) if source.detections is None and camera is not None else None
    stages = stages.with_camera(camera) if stages is not None else None
    reader = _reader(source, config)
    throttle = _throttle(config)
    first = len(indices)  # frames of this run's pending chunk start here

    def save_chunk(done: bool) -> None:
      nonlocal first, number
      state.save_chunk("detect", number, {
          "detections": per_frame[first:], "times": times[first:], "indices": indices[first:],
          "position": reader.position(), "done": done})
      first, number = len(indices), number + 1

    for frame in _progress(reader.iterate(start), "detect", config, num_frames, len(indices)):
      if source.detections is not None:
        if loaded is None:  # given in the recorded pixels, known once a frame is read
          recorded = _recorded_size(reader) or model.image_size
          loaded = detections_lib.load_detections(source.detections, image_size=recorded)
        found = resize_lib.scale_detections(loaded.get(frame.index, FrameDetections.empty(frame.index)),
                                            model.image_size)
        if isinstance(reader, stabilize_lib.StabilizedFrames):  # given in the frame's own pixels
          found = stabilize_lib.shift_detections(found, *reader.shift(frame.index), model.image_size)
      else:
        found = detect_lib.detect_frame(frame, model, camera, detector, stages)
      per_frame.append(found)
      times.append(frame.time)
      indices.append(frame.index)
      if throttle.tick():
        save_chunk(False)
    if loaded and indices and not any(d.num for d in per_frame):
      # A file of another footage, or 1-based ids: read as "nothing detected" it would end in an
      # empty bank with no word of why.
      ids = sorted(loaded)
      raise detections_lib.DetectionsError(
          f"{source.detections}: none of its image_ids ({ids[0]}..{ids[-1]}) is the index of a frame read "
          f"from {source.frames} ({min(indices)}..{max(indices)}): image_id must be the frame's index in "
          "reading order, from 0")
    save_chunk(True)
  sort = track_lib.SortConfig(**config.tracker.to_dict())
  return track_lib.track(per_frame, times, sort), indices


def load_stages(config: ml_collections.ConfigDict) -> detect_lib.Chain | None:
  """The learnt stages config.detector names (`stages.py`), chained, or None for none."""
  return stages_lib.load(config.get("detector", {}))


def _stage_name(config: ml_collections.ConfigDict, stage: str, built_in: bool) -> str | None:
  """Which weights a stage ran with (`stages.name`), or None (none; detections given, or no
  camera: `built_in` false)."""
  return stages_lib.name(config.get("detector", {}), stage) if built_in else None


STATIC_OCCLUDER_USES = ("builtin", "always", "never")


def static_occluder_config(config: ml_collections.ConfigDict,
                           built_in: bool) -> static_occluders.StaticOccluderConfig | None:
  """The static-occluder test's settings, or None where config.mining.static_occluders.use
  leaves it off: 'builtin' runs it only when the built-in detector finds the objects (`built_in`),
  whose masks the classifier cannot see a pole in; 'always'; 'never'."""
  c = config.mining.static_occluders
  if c.use not in STATIC_OCCLUDER_USES:
    raise UserError(f"config.mining.static_occluders.use must be one of {', '.join(STATIC_OCCLUDER_USES)}, "
                    f"got {c.use!r}")
  if c.use == "never" or (c.use == "builtin" and not built_in):
    return None
  try:
    return static_occluders.StaticOccluderConfig(**{f.name: c[f.name] for f in dataclasses.fields(
        static_occluders.StaticOccluderConfig) if f.name in c})
  except ValueError as e:
    raise UserError(f"config.mining.static_occluders: {e}") from None


def mining_flags(
    detections: FrameDetections, image_size: tuple[int, int], track_lengths: dict[int, int],
    config: ml_collections.ConfigDict, occluders: static_occluders.OccluderMap | None = None,
) -> np.ndarray:
  """(N,) uint32 MiningFlag bits of one frame's tracked detections (0 = mined).

  occluders: the footage's static occluders, or None for no such test.
  """
  flags = np.zeros(detections.num, np.int64)
  if not detections.num:
    return flags.astype(np.uint32)
  truncated = occlusion.truncated_at_border(detections.boxes, image_size, config.mining.border_margin)
  # δ ≥ 1 switches WALT's heuristic off (no box can cover more than all of another).
  occluded = (occlusion.occluded_by_nearer(detections.boxes, config.mining.delta)
              if config.mining.delta < 1 else np.zeros(detections.num, bool))
  rules = [
      (truncated, MiningFlag.TRUNCATED),
      (occluded, MiningFlag.OCCLUDED_HEURISTIC),
      (occluders.behind(detections) if occluders is not None else np.zeros(detections.num, bool),
       MiningFlag.OCCLUDED_STATIC),
      (detections.scores < config.mining.min_score, MiningFlag.LOW_SCORE),
      (np.minimum(detections.boxes[:, 2], detections.boxes[:, 3]) < config.mining.min_box_side, MiningFlag.TOO_SMALL),
      (np.array([track_lengths.get(int(t), 0) for t in detections.track_ids]) < config.mining.min_track_length,
       MiningFlag.SHORT_TRACK),
      (bank_lib.box_masked(detections), MiningFlag.BOX_MASK),
  ]
  for hit, flag in rules:
    flags[hit] |= int(flag)
  return flags.astype(np.uint32)


@dataclasses.dataclass(frozen=True)
class Classifier:
  """A trained occlusion classifier and how to feed it."""

  model: Any
  threshold: float  # P(occluded) at and above which an object is rejected
  crop_size: int
  context: float
  # Crops per forward pass, padded: one frame's objects fit in one pass, and one compile serves
  # every frame (a larger padding costs its full forward pass on every frame).
  batch_size: int = 32

  @classmethod
  def load(cls, config: ml_collections.ConfigDict, built_in: bool = False) -> "Classifier | None":
    """The occlusion classifier config.mining.classifier names, or None for none.

    A workdir (trained by the occlusion_classifier job) wins; it is built as `variant` and fed
    crops of `crop_size` pixels with `context`, the settings it was trained with. Otherwise, when
    `shipped` is true, a classifier shipped with the package, which carries its own settings:
    with `built_in` (the built-in detector finds the objects, with a camera) the one trained on
    that detector's own detections, which also turns down ghosts, merged blobs and fragments
    (models/data/occlusion_classifier_builtin.npz), else the one trained on clean detector-like
    masks (models/data/occlusion_classifier.npz). With `threshold_override` (config) its
    threshold is the one given.
    """
    c = config.mining.classifier
    override = threshold_override(config)
    if c.workdir:
      train_config = ml_collections.ConfigDict(dict(seed=0, model=dict(variant=c.variant)))
      model, threshold = occlusion_training.load(train_config, pathlib.Path(c.workdir))
      classifier = cls(model, threshold, int(c.crop_size), float(c.context))
    elif c.shipped:
      classifier = cls(*occlusion_weights.load_shipped(occlusion_weights.shipped_path(built_in)))
    else:
      return None
    return classifier if override is None else dataclasses.replace(classifier, threshold=override)

  def prob_occluded(self, image: np.ndarray, detections: FrameDetections) -> np.ndarray:
    """(N,) P(occluded or truncated) of one frame's detections."""
    masks = [rle.decode_mask(m) for m in detections.masks]
    crops = occlusion_data.frame_crops(image, masks, detections.boxes.astype(np.float64), self.crop_size, self.context)
    return occlusion_classifier.predict(self.model, crops, self.batch_size)


def threshold_override(config: ml_collections.ConfigDict) -> float | None:
  """config.mining.classifier.threshold when it replaces the classifier's own (> 0; above 1 no
  object is rejected, their scores still land in the bank), None when negative (the
  classifier's own); UserError for 0 (every object rejected) or NaN."""
  value = float(config.mining.classifier.get("threshold", -1.0))
  if value < 0:
    return None
  if not value > 0:
    raise UserError(f"config.mining.classifier.threshold must be a P(occluded) above 0 (above 1: reject none), "
                    f"or negative for the classifier's own, got {value:g}")
  return value


def _classifier_name(config: ml_collections.ConfigDict, built_in: bool) -> str | None:
  """Which occlusion classifier `Classifier.load` takes: a workdir, a shipped file's name, or
  None."""
  c = config.mining.classifier
  if c.workdir:
    return str(c.workdir)
  if c.shipped:
    return occlusion_weights.shipped_path(built_in).name
  return None


def _flag_names(flags: int) -> str:
  return "+".join(f.name.lower() for f in MiningFlag if flags & f) or "kept"


def category_name(category: int) -> str:
  """'car' or 'person' for a project category id (coco.Category)."""
  return coco.Category(int(category)).name.lower()


def by_category(counts: collections.Counter) -> dict[str, dict]:
  """Per category: its detections, how many were mined and their outcomes, from counts keyed
  (category name, outcome)."""
  out = {}
  for (name, outcome), n in sorted(counts.items()):
    entry = out.setdefault(name, {"detections": 0, "mined": 0, "outcomes": {}})
    entry["detections"] += n
    entry["mined"] += n if outcome == "kept" else 0
    entry["outcomes"][outcome] = n
  return out


# A category is under-represented in the bank when its share of the mined objects is under this
# fraction of its share of the detections (and it has at least CLASS_MIX_MIN_DETECTIONS).
CLASS_MIX_RATIO = 0.25
CLASS_MIX_MIN_DETECTIONS = 20


def class_mix_warnings(categories: dict[str, dict]) -> list[str]:
  """One line per category that mining kept far less of than the footage shows (`by_category`'s
  output): the bank, and a clip-art dataset composed from it, would hardly hold that category,
  which the mined count alone does not tell."""
  detections = sum(c["detections"] for c in categories.values())
  mined = sum(c["mined"] for c in categories.values())
  lines = []
  for name, c in categories.items():
    if not mined or c["detections"] < CLASS_MIX_MIN_DETECTIONS:
      continue
    share_found, share_mined = c["detections"] / detections, c["mined"] / mined
    if share_mined < CLASS_MIX_RATIO * share_found:
      turned_down = sorted(((k, v) for k, v in c["outcomes"].items() if k != "kept"), key=lambda kv: -kv[1])[:3]
      lines.append(f"mining kept {c['mined']} of {c['detections']} {name} detections: {share_mined:.0%} of the bank "
                   f"against {share_found:.0%} of the detections ({', '.join(f'{k} {v}' for k, v in turned_down)}); "
                   f"the bank and the clip-art made from it hold few of them")
  return lines


def truly_unoccluded(rows: dict[str, Any], truth_path: pathlib.Path, threshold: float,
                     image_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
  """Bank rows (`frame_index`, `box` columns) against the simulator's ground truth: (matched,
  clean), each (N,) bool.

  A row is matched to the truth object of its frame with the highest visible-box IoU (≥ 0.5),
  the truth's boxes scaled to the frames' working size image_size (W, H); it is clean when that
  object is truly unoccluded (occlusion < threshold and not truncated); unmatched rows are not.
  """
  with open(truth_path) as f:
    truth = json.load(f)
  sizes = {im["id"]: (im["width"], im["height"]) for im in truth["images"]}
  by_image = collections.defaultdict(list)
  for ann in truth["annotations"]:
    w, h = sizes[ann["image_id"]]
    sx, sy = image_size[0] / w, image_size[1] / h
    x, y, bw, bh = ann["bbox"]
    by_image[ann["image_id"]].append(dict(ann, bbox=[x * sx, y * sy, bw * sx, bh * sy]))
  num = len(rows["frame_index"])
  matched, clean = np.zeros(num, bool), np.zeros(num, bool)
  for i, (frame_index, box) in enumerate(zip(rows["frame_index"], rows["box"])):
    anns = by_image.get(int(frame_index), [])
    if not anns:
      continue
    iou = detection_metrics.box_iou(np.asarray(box)[None], np.array([a["bbox"] for a in anns]))[0]
    best = int(np.argmax(iou))
    if iou[best] >= 0.5:
      matched[i] = True
      clean[i] = anns[best]["occlusion"] < threshold and not anns[best]["truncated"]
  return matched, clean


def _purity(bank_path: pathlib.Path, truth_path: pathlib.Path, threshold: float,
            image_size: tuple[int, int]) -> dict[str, Any]:
  """Against the simulator's ground truth (`truly_unoccluded`): the fraction of mined objects
  truly unoccluded, over all and per category (`by_category`: mined and purity of each category
  name)."""
  with bank_lib.ObjectBank.open(bank_path) as bank:
    rows = (bank.read(slice(None), columns=["frame_index", "box", "category"]) if len(bank)
            else {"frame_index": [], "box": np.zeros((0, 4)), "category": []})
  matched, clean = truly_unoccluded(rows, truth_path, threshold, image_size)
  names = np.array([category_name(c) for c in rows["category"]], dtype=object)
  total = len(names)
  return {"mined": total, "matched": int(matched.sum()), "purity": float(clean.mean()) if total else None,
          "by_category": {name: {"mined": int((names == name).sum()), "purity": float(clean[names == name].mean())}
                          for name in sorted(set(names))}}


def _write_outputs(workdir: pathlib.Path, bank_path: pathlib.Path, examples: mining_report.Examples,
                   summary: dict, occluders: static_occluders.OccluderMap | None) -> None:
  """summary.json and report.png (with the static-occluder map when given), each written aside
  and renamed (whole or absent)."""
  tmp = workdir / ".summary.json.partial"
  coco.write_json(summary, tmp)
  os.replace(tmp, workdir / "summary.json")
  tmp = workdir / ".report.partial.png"  # cv2 picks the format from the suffix
  mining_report.write_report(tmp, bank_path, examples, summary, occluders.pixels if occluders is not None else None)
  os.replace(tmp, workdir / "report.png")


# A warning line at the end of the job when at least this share of the frames did not decode.
WARN_LOST_FRAMES = 0.05


def decode_loss_warning(report: frames_lib.ReadReport, summary_path: pathlib.Path) -> str | None:
  """The console warning when at least WARN_LOST_FRAMES of the offered frames were lost to
  decoding (damaged frames, a video that ends before its header's frame count), else None."""
  share = report.lost_share()
  if not report.num_skipped or share < WARN_LOST_FRAMES:
    return None
  reason, count = collections.Counter(r for _, r in report.skipped).most_common(1)[0]
  offered = report.num_skipped + report.yielded
  return (f"{report.source}: {report.num_skipped} of {offered} frames ({100 * share:.0f} %) lost to decoding "
          f"({count}: {reason}); mined the rest, see {summary_path}")


def mine_frames(
    source: Source, by_index: dict[int, FrameDetections], image_size: tuple[int, int],
    track_lengths: dict[int, int], classifier: Classifier | None, config: ml_collections.ConfigDict,
    state: mine_state.MineState, num_frames: int | None = None,
    occluders: static_occluders.OccluderMap | None = None,
) -> tuple[collections.Counter, mining_report.Examples]:
  """Pass 3: the verdict on every tracked detection (occluders: the footage's static
  occluders, or None); the kept ones' bank records go to chunks
  `mine-N` (per frame, with the outcome counts and report examples so far and the reader's
  position; the last one `done`). Returns the outcome counts, keyed (category name, outcome),
  and the report's examples."""
  counts = collections.Counter()
  examples = mining_report.Examples(config.report.examples, seed=config.seed)
  start, done, number, frames_done = None, False, 0, 0
  for name in state.chunk_names("mine"):
    chunk = state.load(name)
    # Chunks written before outcomes were counted per category hold plain outcome keys.
    counts = collections.Counter({(k if isinstance(k, tuple) else ("unknown", k)): v for k, v in chunk["counts"].items()})
    examples = chunk["examples"]
    start, done, number, frames_done = chunk["position"], chunk["done"], number + 1, chunk["frames_done"]
  if done:
    return counts, examples
  reader = _reader(source, config)
  throttle = _throttle(config)
  pending = []  # kept records per frame since the last chunk

  def save_chunk(done: bool) -> None:
    nonlocal number
    state.save_chunk("mine", number, {"records": pending, "counts": counts, "examples": examples,
                                      "frames_done": frames_done, "position": reader.position(), "done": done})
    pending.clear()
    number += 1

  for frame in _progress(reader.iterate(start), "mine", config, num_frames, frames_done):
    frames_done += 1
    detections = by_index.get(frame.index)
    if detections is not None and detections.num:
      flags = mining_flags(detections, image_size, track_lengths, config, occluders)
      records = bank_lib.object_records(frame, detections)
      if classifier is not None:
        prob = classifier.prob_occluded(frame.image, detections)
        flags[prob >= classifier.threshold] |= np.uint32(MiningFlag.OCCLUDED_CLASSIFIER)
        records["occlusion_score"] = prob.astype(np.float32)
      counts.update((category_name(c), _flag_names(int(f))) for c, f in zip(detections.categories, flags))
      examples.offer(frame, detections, flags)
      kept = np.flatnonzero(flags == 0)
      if kept.size:
        chosen = {k: (v[kept] if isinstance(v, np.ndarray) else [v[i] for i in kept]) for k, v in records.items()}
        chosen["mining_flags"] = flags[kept]
        pending.append(chosen)
    if throttle.tick():
      save_chunk(False)
  save_chunk(True)
  return counts, examples


# Rows per bank append when the bank is written from the chunks: appends fall on the same rows
# however the chunks were cut, so a resumed job writes the same file.
ROWS_PER_APPEND = 1024


def _concat(records: list[dict]) -> dict:
  """One records dict of several frames' (arrays concatenated, lists joined)."""
  return {k: (np.concatenate([r[k] for r in records]) if isinstance(records[0][k], np.ndarray)
              else [x for r in records for x in r[k]]) for k in records[0]}


def write_bank(state: mine_state.MineState, path: pathlib.Path, camera_json: dict,
               model: background_lib.BackgroundModel) -> int:
  """The bank from pass 3's chunks and the background medians, into a temporary file renamed to
  `path` (whole or absent); returns its row count."""
  tmp = path.with_name(f".{path.name}.partial")
  with bank_lib.ObjectBank.create(tmp, camera_json, model.image_size, overwrite=True) as bank:
    buffer, rows = [], 0
    for name in state.chunk_names("mine"):
      for records in state.load(name)["records"]:
        buffer.append(records)
        rows += len(records["frame_index"])
        if rows >= ROWS_PER_APPEND:
          bank.append(_concat(buffer))
          buffer, rows = [], 0
    if buffer:
      bank.append(_concat(buffer))
    for bucket in model.bucket_names:
      if model.seen(bucket):
        bank.put_background(bucket, model.median(bucket))
    num_mined = len(bank)
  os.replace(tmp, path)
  return num_mined


def run(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> dict:
  """Mines one camera's footage into <workdir>/bank.h5; returns the summary it writes.

  Resumes a killed run with the same settings; returns a finished one's summary at once (module
  docstring).
  """
  tic = time.perf_counter()
  workdir = pathlib.Path(workdir)
  digest = mine_state.settings_digest(config)
  finished = mine_state.completed(workdir, digest)
  if finished is not None and (workdir / "bank.h5").is_file():
    logging.info("mine: %s already holds this job's outputs (%s); nothing to do", workdir, mine_state.MARKER)
    return finished
  source = resolve_source(config, workdir)
  camera = camera_lib.load_camera(source.camera) if source.camera else None  # a bad file fails first
  occluder_config = static_occluder_config(config, built_in=source.detections is None)  # so do bad settings
  threshold_override(config)
  if source.detections is None:
    load_stages(config)  # a bad name fails before any work
  state = mine_state.MineState(workdir, digest)
  model, read_report, shake = fit_background(source, config, state)
  for note in read_report.notes:
    logging.info("%s: %s", source.frames, note)
  if model.image_size is None:
    raise UserError(f"{source.frames}: no readable frame ({read_report.summary()})")
  if camera is not None:
    camera = resize_lib.camera_for_frames(camera, model.image_size, config.source.get("max_width", 0),
                                          str(source.camera))
  tracked, indices = detect_and_track(source, model, camera, config, state, read_report.yielded)
  track_lengths = collections.Counter(int(t) for d in tracked for t in d.track_ids if t >= 0)

  # The built-in detector's own classifier learnt its detections with the scene's camera (metric
  # size, fragments joined); without one they are other blobs (from_video's calibration pass).
  built_in = source.detections is None and camera is not None
  classifier = Classifier.load(config, built_in=built_in)
  occluders = None
  if occluder_config is not None:
    tic_map = time.perf_counter()
    # A box given as the mask (a proposal) covers its track's holes: only outlines show a pole.
    outlines = [d.select(np.flatnonzero(~bank_lib.box_masked(d))) for d in tracked]
    occluders = static_occluders.OccluderMap(static_occluders.occluder_map(outlines, model.image_size, occluder_config),
                                             occluder_config)
    logging.info("static occluders: %d px (%.2f%% of the image) learnt from %d tracks in %.1f s",
                 occluders.pixels.sum(), 100 * occluders.pixels.mean(), len(track_lengths), time.perf_counter() - tic_map)
  counts, examples = mine_frames(source, dict(zip(indices, tracked)), model.image_size, track_lengths,
                                 classifier, config, state, read_report.yielded, occluders)
  mine_state.clear_marker(workdir)
  outcomes = collections.Counter()
  for (_, outcome), n in counts.items():
    outcomes[outcome] += n
  outcomes, categories = dict(sorted(outcomes.items())), by_category(counts)
  bank_path = workdir / "bank.h5"
  camera_json = camera_lib.camera_to_dict(camera) if camera is not None else {}
  num_mined = write_bank(state, bank_path, camera_json, model)

  summary = {
      "source": {"frames": str(source.frames), "detections": str(source.detections) if source.detections else "built-in",
                 "camera": str(source.camera) if source.camera else None},
      "read": {"frames": read_report.yielded, "image_size": list(model.image_size), "skipped": read_report.num_skipped,
               "lost_share": round(read_report.lost_share(), 4),
               "skipped_examples": read_report.skipped[:10], "notes": read_report.notes},
      "detections": int(sum(d.num for d in tracked)),
      "verifier": _stage_name(config, "verifier", built_in),
      "refiner": _stage_name(config, "refiner", built_in),
      "proposer": _stage_name(config, "proposer", built_in),
      "classifier": _classifier_name(config, built_in),
      "classifier_threshold": classifier.threshold if classifier is not None else None,
      "tracks": len(track_lengths),
      "static_occluder_share": round(float(occluders.pixels.mean()), 5) if occluders is not None else None,
      "mined": num_mined,
      "outcomes": outcomes,
      "by_category": categories,
      "bank": str(bank_path),
      "seconds": round(time.perf_counter() - tic, 2),
  }
  if shake is not None:
    summary["read"]["shake"] = shake
  warning = decode_loss_warning(read_report, workdir / "summary.json")
  if warning:
    summary["read"]["warning"] = warning
  summary["class_mix_warnings"] = class_mix_warnings(categories)
  truth_path = source.frames / "ground_truth.json"
  if truth_path.is_file():
    summary["purity_vs_simulator_truth"] = _purity(bank_path, truth_path, config.mining.truth_occlusion,
                                                   model.image_size)
  _write_outputs(workdir, bank_path, examples, summary, occluders)
  mine_state.mark_complete(workdir, digest, summary)
  logging.info("mined %d of %d detections in %d tracks → %s", num_mined, summary["detections"], summary["tracks"], bank_path)
  for line in ([warning] if warning else []) + summary["class_mix_warnings"]:
    logging.warning("%s", line)
  return summary
