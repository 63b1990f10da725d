"""The proposal stage: objects the background difference misses, found by a small learnt detector.

The built-in detector (`detect.py`) finds an object where enough of its pixels differ from the
background by more than the noise; at night, and for far or dark objects by day, many differ by
less, spread over the object (a dark person at night: 0.2-0.8 of the threshold per pixel), and the
detector finds nothing there to verify or refine. The proposal network (`models/proposal_net.py`)
looks at the frame, its background and their difference together, the way the verifier does, but
over the whole frame, and marks object centres with their boxes (CenterNet).

As a stage of `detect.Chain`, after the verifier and the box refiner, the proposer adds its peaks
at or above its threshold that overlap no detection already there (IoU < `max_overlap`) and no
better peak (non-maximum suppression at `nms_iou`, across classes) and, given the camera
(`detect.Chain.with_camera`), that could stand on the ground as what it is called (`stands`: a
person as tall and as wide as one: lit windows on a facade at dusk were most of its false people,
and on the benchmark's seeds 0 and 2 a quarter of its false people measured taller than 2.6 m
standing, none of the true ones). A proposal's mask is its box:
the network gives boxes, and the pixels that differ are what it was found without. `mine` tracks
proposals and shows them to the occlusion classifier as objects nearer the camera, but never
mines them (`bank.fills_box`: `MiningFlag.BOX_MASK`) nor learns the static-occluder map from
them. Proposals are neither verified nor refined: the verifier and the refiner learnt the built-in
detector's detections, and on the benchmark's validation scenes both lowered MOTA when they also
judged the proposals (docs/design.md).

Trained on simulated frames (`train/proposals.py`); weights in models/data/proposal_net.npz
(`models/proposal_weights.py`). It learnt simulated footage only.
"""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np

from walt3d_jax.formats import rle
from walt3d_jax.formats.coco import Category
from walt3d_jax.geometry import camera as camera_lib
from walt3d_jax.metrics import detection as detection_metrics
from walt3d_jax.models import proposal_net
from walt3d_jax.models import proposal_weights
from walt3d_jax.timelapse import detect
from walt3d_jax.timelapse import refine
from walt3d_jax.timelapse import resize
from walt3d_jax.timelapse.types import FrameDetections
from walt3d_jax.timelapse.types import NUM_KEYPOINTS

SHIPPED_PATH = proposal_weights.SHIPPED_PATH
MIN_SIDE = 2.0  # pixels: a proposal narrower or shorter than this once cut to the image is dropped


def _decode(model: proposal_net.ProposalNet, image, background, max_detections: int) -> dict:
  return proposal_net.detect(model, image[None], background[None], max_detections)


def stands(boxes: np.ndarray, categories: np.ndarray, camera: camera_lib.Camera,
           config: detect.DetectorConfig = detect.DetectorConfig()) -> np.ndarray:
  """(N,) bool: boxes (N, 4) xywh pixels that could stand on the ground as their category (N,)
  says: any object `detect.plausible_size`; a person (2) also with its feet below the horizon, at
  most `person_max_height_m` tall and `person_max_width_m` wide (the detector's own bounds)."""
  boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
  width, height, _, valid = detect.metric_size(camera, boxes)
  person = valid & (height <= config.person_max_height_m) & (width <= config.person_max_width_m)
  return detect.plausible_size(boxes, camera, config) & np.where(np.asarray(categories) == Category.PERSON, person, True)


def box_masks(boxes: np.ndarray, image_size: tuple[int, int]) -> tuple[dict, ...]:
  """COCO RLE masks of the pixels each box (N, 4) xywh covers; image_size (W, H)."""
  width, height = image_size
  masks = []
  for x, y, w, h in np.asarray(boxes, np.float64).reshape(-1, 4):
    mask = np.zeros((height, width), bool)
    mask[int(np.floor(y)):int(np.ceil(y + h)), int(np.floor(x)):int(np.ceil(x + w))] = True
    masks.append(rle.encode_mask(mask))
  return tuple(masks)


@dataclasses.dataclass(frozen=True)
class Proposer:
  """A trained proposal network and how to use it; `proposer(image, background, detections)`
  returns the detections with the proposals added (detect_frame's verifier hook)."""

  model: proposal_net.ProposalNet
  threshold: float  # centre probability at and above which a peak is proposed
  max_overlap: float = 0.3  # IoU with a detection already there at and above which a peak is that object
  nms_iou: float = 0.5  # IoU between two peaks above which the weaker is dropped (across classes)
  max_detections: int = 64  # peaks looked at per frame
  input_width: int = 0  # frames wider than this are shrunk to it first (the training frames' width); 0: never
  camera: camera_lib.Camera | None = None  # the frames' camera: proposals must stand (`stands`); None: no test

  def __post_init__(self):
    for name in ("threshold", "max_overlap", "nms_iou"):
      value = getattr(self, name)
      if not 0.0 < value <= 1.0:
        raise ValueError(f"Proposer.{name} must lie in (0, 1], got {value}")
    if self.input_width < 0:
      raise ValueError(f"Proposer.input_width must be >= 0, got {self.input_width}")

  @classmethod
  def load(cls, path: pathlib.Path = SHIPPED_PATH) -> "Proposer":
    """The network stored in `path` (default: the shipped one), at its stored threshold and
    input width."""
    weights = proposal_weights.load(path)
    return cls(weights.model, weights.threshold, input_width=weights.input_width)

  def proposals(self, image: np.ndarray, background: np.ndarray, image_id: int = 0) -> FrameDetections:
    """Every proposal of one frame (its peaks at or above the threshold, cut to the image, after
    non-maximum suppression, and standing as what they are called where the camera is given);
    image, background: (H, W, 3) uint8 RGB."""
    image, background = np.asarray(image), np.asarray(background)
    if image.ndim != 3 or image.shape[-1] != 3 or background.shape != image.shape:
      raise ValueError(f"Proposer: image {image.shape} and background {background.shape} must both be (H, W, 3)")
    height, width = image.shape[:2]
    # Objects as large in pixels as in the frames it learnt (a 1280×720 frame of the same view
    # holds them 2.7 times larger than the 480×270 ones).
    size = resize.working_size((width, height), self.input_width)
    scale = np.array([width / size[0], height / size[1]] * 2)
    out = {k: np.asarray(v[0]) for k, v in
           _decode(self.model, resize.resize_image(image.astype(np.uint8), size),
                   resize.resize_image(background.astype(np.uint8), size), self.max_detections).items()}
    boxes = np.concatenate([out["boxes"][:, :2], out["boxes"][:, 2:] - out["boxes"][:, :2]], axis=1) * scale
    finite = np.isfinite(boxes).all(axis=1) & np.isfinite(out["scores"])
    keep = np.flatnonzero(finite & (np.where(finite, out["scores"], 0.0) >= self.threshold))
    boxes = refine.clip_boxes(boxes[keep], (width, height), min_side=0.0)
    wide_enough = (boxes[:, 2:] >= MIN_SIDE).all(axis=1)
    keep, boxes = keep[wide_enough], boxes[wide_enough]
    order = detection_metrics.nms(boxes, out["scores"][keep], self.nms_iou)
    keep, boxes = keep[order], boxes[order]
    if self.camera is not None:
      standing = stands(boxes, out["categories"][keep], self.camera)
      keep, boxes = keep[standing], boxes[standing]
    n = len(keep)
    return FrameDetections(image_id, boxes, out["scores"][keep], out["categories"][keep],
                           box_masks(boxes, (width, height)), np.zeros((n, NUM_KEYPOINTS, 3)), -np.ones(n))

  def __call__(self, image: np.ndarray, background: np.ndarray, detections: FrameDetections) -> FrameDetections:
    """`detections` and, after them, the proposals that overlap none of them."""
    found = self.proposals(image, background, detections.image_id)
    if detections.num and found.num:
      found = found.select(np.flatnonzero(detection_metrics.box_iou(found.boxes, detections.boxes).max(axis=1)
                                          < self.max_overlap))
    return FrameDetections.concatenate([detections, found]) if found.num else detections
