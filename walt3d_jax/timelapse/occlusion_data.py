"""The occlusion classifier's dataset: object crops + masks with occlusion labels from the simulator.

Every object in a simulated frame becomes one example: a fixed-size square crop of the frame
around its box (with context), its visible mask, an "inside the image" plane and the masks of
the other objects that stand nearer the camera (box bottom as low or lower: the δ heuristic's
evidence, so the network can learn when an overlap really hides something) as extra channels, and the label occluded = (ground-truth occlusion ≥ threshold, counting other agents
AND static scenery) or truncated. With source "detections" the examples are the imitated
detector's outputs (docs/formats.md `detections.json`), matched to ground truth by mask IoU, so
the classifier sees detector-like masks and boxes and the benchmark sees what mining would; with
source "builtin" they are the built-in detector's (`builtin_detections`), and with unmatched
"reject" those matching no true object are examples to turn down.

Splits are whole scenes: a scene is a (preset, seed) pair — the seed changes the layout's
buildings, trees, poles and parked cars, the traffic, colours and lighting — so held-out scenes
are never seen in training. Everything is deterministic given the configs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pathlib
from typing import Sequence

import cv2
import ml_collections
import numpy as np
from pycocotools import mask as mask_utils
import tqdm

from walt3d_jax.formats import rle
from walt3d_jax.geometry import camera as camera_lib
from walt3d_jax.sim import simulate
from walt3d_jax.timelapse import background as background_lib
from walt3d_jax.timelapse import bank as bank_lib
from walt3d_jax.timelapse import detect as detect_lib
from walt3d_jax.timelapse import detections as detections_lib
from walt3d_jax.timelapse import frames as frames_lib

# Channels of a crop: RGB, the object's visible mask, the part of the window inside the image,
# the visible masks of the frame's other objects nearer the camera.
NUM_CHANNELS = 6


@dataclasses.dataclass(frozen=True)
class SceneSpec:
  """One simulated scene: a preset laid out with a seed."""

  preset: str
  seed: int

  @property
  def name(self) -> str:
    return f"{self.preset}_seed{self.seed}"


@dataclasses.dataclass(frozen=True)
class OcclusionExamples:
  """Columnar examples (N rows).

  crops: (N, S, S, 6) uint8 — RGB, visible mask, inside-image, nearer objects' masks (×255).
  occluded: (N,) bool label (occlusion ≥ threshold or truncated); False for unmatched detections.
  matched: (N,) bool — a true object stands behind the example (always True for source "truth").
  occlusion: (N,) float32 ground-truth hidden fraction of the amodal area (0 if unmatched).
  by_scenery: (N,) float32 part of `occlusion` hidden by static scenery.
  truncated: (N,) bool ground truth (part of the object projects outside the image).
  boxes: (N, 4) float32 xywh pixels (the detection's or the visible ground-truth box).
  area: (N,) int32 visible mask pixels.
  category: (N,) int32 (1 car, 2 person).
  frame: (N,) int64 key of the frame, unique over the scenes of one build.
  scene: (N,) int32 index of the scene in the build's list.
  target_boxes: (N, 4) float32 xywh pixels, the visible box of the true object the example
    stands for (for a detection, the one it overlaps most); NaN where it overlaps none.
  image_size: (width, height) pixels, shared by the build.
  """

  crops: np.ndarray
  occluded: np.ndarray
  matched: np.ndarray
  occlusion: np.ndarray
  by_scenery: np.ndarray
  truncated: np.ndarray
  boxes: np.ndarray
  area: np.ndarray
  category: np.ndarray
  frame: np.ndarray
  scene: np.ndarray
  target_boxes: np.ndarray
  image_size: tuple[int, int]

  @property
  def num(self) -> int:
    return len(self.occluded)

  def select(self, index: np.ndarray) -> "OcclusionExamples":
    """The rows `index` (int indices or a bool mask)."""
    fields = {f.name: getattr(self, f.name)[index] for f in dataclasses.fields(self)
              if f.name != "image_size"}
    return OcclusionExamples(image_size=self.image_size, **fields)

  @staticmethod
  def concatenate(parts: Sequence["OcclusionExamples"]) -> "OcclusionExamples":
    if not parts:
      raise ValueError("nothing to concatenate")
    if len({p.image_size for p in parts}) != 1:
      raise ValueError(f"examples of different image sizes: {[p.image_size for p in parts]}")
    fields = {f.name: np.concatenate([getattr(p, f.name) for p in parts])
              for f in dataclasses.fields(OcclusionExamples) if f.name != "image_size"}
    return OcclusionExamples(image_size=parts[0].image_size, **fields)


def crop_window(box: Sequence[float], context: float) -> tuple[float, float, float]:
  """(x0, y0, side) pixels: the square window `crop_object` samples around `box` (xywh pixels),
  of side max(w, h, 4)·(1 + 2·context), centred on the box."""
  x, y, w, h = (float(v) for v in box)
  side = max(w, h, 4.0) * (1.0 + 2.0 * context)
  return x + w / 2 - side / 2, y + h / 2 - side / 2, side


def crop_object(image: np.ndarray, mask: np.ndarray, box: Sequence[float], size: int,
                context: float, nearer: np.ndarray | None = None) -> np.ndarray:
  """(size, size, 6) uint8 crop of one object, aspect kept, zero-padded outside the image.

  image: (H, W, 3) uint8 RGB; mask: (H, W) bool visible mask; nearer: (H, W) bool union of the
  visible masks of other objects nearer the camera (None: none); box: xywh pixels (edges at integer
  coordinates, pixel i spans [i, i + 1)); context: extra margin per side, as a fraction of the
  box's longer side. The window is the square of side max(w, h)·(1 + 2·context) centred on the
  box, so thin people and long buses keep their shape.
  """
  x0, y0, side = crop_window(box, context)
  scale = size / side
  # Inverse map (output pixel centre j -> input pixel coordinate), both in cv2's convention of
  # pixel centres at integers: edge coordinate e is cv2 coordinate e - 0.5.
  inverse = np.array([[1 / scale, 0, x0 + 0.5 / scale - 0.5], [0, 1 / scale, y0 + 0.5 / scale - 0.5]])
  height, width = mask.shape
  nearer = np.zeros((height, width), bool) if nearer is None else nearer
  planes = np.dstack([image, mask.astype(np.uint8) * 255, np.full((height, width), 255, np.uint8),
                      nearer.astype(np.uint8) * 255])
  flags = (cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR) | cv2.WARP_INVERSE_MAP
  # warpAffine handles at most 4 channels in one call.
  rgb = cv2.warpAffine(planes[..., :3], inverse, (size, size), flags=flags,
                       borderMode=cv2.BORDER_CONSTANT, borderValue=0)
  extra = cv2.warpAffine(planes[..., 3:], inverse, (size, size), flags=flags,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0)
  return np.dstack([rgb, extra]).astype(np.uint8)


def frame_crops(image: np.ndarray, masks: Sequence[np.ndarray], boxes: np.ndarray, size: int,
                context: float) -> np.ndarray:
  """(N, size, size, 6) uint8 classifier crops of the N objects of one frame.

  masks: N (H, W) bool visible masks; boxes: (N, 4) xywh pixels. Each crop's sixth channel is
  the union of the masks of the other objects whose box bottom is as low or lower in the image,
  i.e. that stand nearer the camera on the ground plane and may hide it.
  """
  bottoms = boxes[:, 1] + boxes[:, 3]
  crops = np.zeros((len(masks), size, size, NUM_CHANNELS), np.uint8)
  for i, mask in enumerate(masks):
    nearer = np.zeros_like(mask)
    for j in np.flatnonzero(bottoms >= bottoms[i]):
      if j != i:
        nearer |= masks[j]
    crops[i] = crop_object(image, mask, boxes[i], size, context, nearer)
  return crops


def sim_digest(sim_config: ml_collections.ConfigDict) -> str:
  """12 hex digits of sha256 over the simulator settings that shape a scene (all but the seed,
  which names the scene, and the progress bar)."""
  settings = {k: v for k, v in sim_config.to_dict().items() if k not in ("seed", "progress")}
  return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:12]


def simulate_scenes(sim_config: ml_collections.ConfigDict, scenes: Sequence[SceneSpec],
                    cache_dir: pathlib.Path) -> list[pathlib.Path]:
  """Simulates each scene into cache_dir/sim-<digest>/<preset>_seed<seed> unless already there.

  The digest is of sim_config (`sim_digest`), so scenes simulated under other settings (another
  frame size, frames per burst, detector noise) are never taken for these.
  """
  roots = []
  base = pathlib.Path(cache_dir) / f"sim-{sim_digest(sim_config)}"
  for spec in tqdm.tqdm(scenes, desc="simulate scenes", unit="scene", delay=2.0):
    root = base / spec.name
    if not (root / "detections.json").exists():
      config = ml_collections.ConfigDict(sim_config.to_dict())
      config.seed = spec.seed
      config.progress = False
      simulate.simulate_sequence(config, spec.preset, 0, root)
    roots.append(root)
  return roots


def match_detections(detections: list[dict], truths: list[dict], min_iou: float) -> np.ndarray:
  """(D,) index of the ground-truth object each detection matches (-1: none).

  Greedy by descending score on visible-mask IoU ≥ min_iou, one detection per object, as COCO
  evaluation matches.
  """
  match = np.full(len(detections), -1, np.int64)
  if not detections or not truths:
    return match
  iou = np.asarray(mask_utils.iou([rle.coco_form(d["segmentation"]) for d in detections],
                                  [rle.coco_form(t["segmentation"]) for t in truths],
                                  [0] * len(truths)), np.float64).reshape(len(detections), len(truths))
  taken = np.zeros(len(truths), bool)
  for d in np.argsort([-d["score"] for d in detections], kind="stable"):
    candidates = np.where(taken, -1.0, iou[d])
    best = int(np.argmax(candidates))
    if candidates[best] >= min_iou:
      match[d], taken[best] = best, True
  return match


def builtin_detections(root: pathlib.Path, stages: detect_lib.Chain | None = None) -> list[dict]:
  """COCO results entries of the built-in detector (`timelapse.detect`) on every frame of a
  simulated sequence, as the `mine` job runs it: each frame against its own background from the
  sequence's frames (`BackgroundModel.frame_background`, the samples for the ghost test), with
  the sequence's camera, and the learnt `stages` (`stages.py`: the detection verifier, the box
  refiner...) when given."""
  reader = frames_lib.open_frames(root)
  model = background_lib.fit_background(reader.iterate())
  camera = camera_lib.load_camera(pathlib.Path(root) / "camera.json")
  chain = stages.with_camera(camera) if stages is not None else None
  return detections_lib.to_results(detect_lib.detect_frames(reader.iterate(), model, camera, verifier=chain))


def sequence_examples(root: pathlib.Path, config: ml_collections.ConfigDict, scene_index: int = 0,
                      frame_offset: int = 0, stages: detect_lib.Chain | None = None) -> OcclusionExamples:
  """Examples of every object in every frame of one simulated sequence.

  config: crop_size (pixels), context (fraction), occlusion_threshold, source ("truth" |
    "detections" | "builtin": the built-in detector run on the frames, `builtin_detections`),
    match_iou, unmatched ("drop" | "reject": detections that match no true object are
    labelled as to be rejected, occluded = True, so a classifier learns to turn down the
    detector's ghosts, merged blobs and fragments too; absent: "drop").
  frame_offset: added to image ids to make frame keys unique over sequences.
  stages: the learnt stages the built-in detector runs with (source "builtin"), or None.
  """
  root = pathlib.Path(root)
  truth = json.loads((root / "ground_truth.json").read_text())
  by_image: dict[int, list[dict]] = {}
  for ann in truth["annotations"]:
    by_image.setdefault(ann["image_id"], []).append(ann)
  if config.get("unmatched", "drop") not in ("drop", "reject"):
    raise ValueError(f"config.unmatched must be 'drop' or 'reject', got {config.unmatched!r}")
  reject = config.get("unmatched", "drop") == "reject"
  if config.source in ("detections", "builtin"):
    detected: dict[int, list[dict]] = {}
    entries = (json.loads((root / "detections.json").read_text()) if config.source == "detections"
               else builtin_detections(root, stages))
    for det in entries:
      detected.setdefault(det["image_id"], []).append(det)
  elif config.source != "truth":
    raise ValueError(f"config.source must be 'truth', 'detections' or 'builtin', got {config.source!r}")

  rows = []
  for image in truth["images"]:
    objects = [a for a in by_image.get(image["id"], []) if a["area"] > 0]
    if config.source == "truth":
      entries, match = objects, np.arange(len(objects))
    else:
      entries = detected.get(image["id"], [])
      match = match_detections(entries, objects, config.match_iou)
    if not entries:
      continue
    bgr = cv2.imread(str(root / image["file_name"]), cv2.IMREAD_COLOR)
    if bgr is None:
      raise ValueError(f"{root / image['file_name']}: unreadable frame")
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    masks = [rle.decode_mask(entry["segmentation"]) for entry in entries]
    crops = frame_crops(rgb, masks, np.array([e["bbox"] for e in entries], np.float64),
                        config.crop_size, config.context)
    for i, (entry, m) in enumerate(zip(entries, match)):
      mask = masks[i]
      gt = objects[m] if m >= 0 else None
      occlusion = gt["occlusion"] if gt else 0.0
      truncated = bool(gt["truncated"]) if gt else False
      rows.append(dict(
          crops=crops[i],
          occluded=(bool(gt) and (occlusion >= config.occlusion_threshold or truncated)) or (gt is None and reject),
          matched=gt is not None, occlusion=occlusion,
          by_scenery=gt["occluded_by_scenery"] if gt else 0.0, truncated=truncated,
          boxes=entry["bbox"], area=int(mask.sum()), category=entry["category_id"],
          frame=frame_offset + image["id"], scene=scene_index,
          target_boxes=gt["bbox"] if gt else NO_TARGET,
      ))
  size = (int(truth["images"][0]["width"]), int(truth["images"][0]["height"])) if truth["images"] else (0, 0)
  return stack_rows(rows, config.crop_size, size)


_DTYPES = dict(crops=np.uint8, occluded=bool, matched=bool, occlusion=np.float32,
               by_scenery=np.float32, truncated=bool, boxes=np.float32, area=np.int32,
               category=np.int32, frame=np.int64, scene=np.int32, target_boxes=np.float32)
# The target box of an example that stands for no true object.
NO_TARGET = (np.nan,) * 4


def stack_rows(rows: list[dict], crop_size: int, image_size: tuple[int, int],
               channels: int = NUM_CHANNELS) -> OcclusionExamples:
  """Examples from rows (dicts of the fields above, one per example); `channels` per crop."""
  if not rows:
    empty = {k: np.zeros((0,), t) for k, t in _DTYPES.items()}
    empty["crops"] = np.zeros((0, crop_size, crop_size, channels), np.uint8)
    empty["boxes"] = empty["target_boxes"] = np.zeros((0, 4), np.float32)
    return OcclusionExamples(image_size=image_size, **empty)
  return OcclusionExamples(image_size=image_size,
                           **{k: np.asarray([r[k] for r in rows], t) for k, t in _DTYPES.items()})


def build_examples(sim_config: ml_collections.ConfigDict, scenes: Sequence[SceneSpec],
                   data_config: ml_collections.ConfigDict, cache_dir: pathlib.Path,
                   stages: detect_lib.Chain | None = None) -> OcclusionExamples:
  """Simulates (or reuses) `scenes` and concatenates their examples; scene i's frames get keys
  i·10⁶ + image id; `stages` as in `sequence_examples`."""
  roots = simulate_scenes(sim_config, scenes, cache_dir)
  return OcclusionExamples.concatenate([
      sequence_examples(root, data_config, index, index * 1_000_000, stages)
      for index, root in enumerate(tqdm.tqdm(roots, desc="classifier crops", unit="scene", delay=2.0))
  ])


def usable(examples: OcclusionExamples, min_area: int, unmatched: bool = False) -> np.ndarray:
  """(N,) bool: the rows to train and score on — true objects (and with `unmatched`, the
  detections that match none) with at least min_area visible pixels (smaller ones are too small
  to reconstruct and are never mined) and a mask that is an outline, not its box (`bank.fills_box`:
  never mined either)."""
  return ((examples.matched | unmatched) & (examples.area >= min_area)
          & ~bank_lib.fills_box(examples.boxes, examples.area))


def scene_specs(presets: Sequence[str], seeds: Sequence[int]) -> list[SceneSpec]:
  """Every (preset, seed) pair, presets outermost."""
  return [SceneSpec(p, int(s)) for p in presets for s in seeds]
