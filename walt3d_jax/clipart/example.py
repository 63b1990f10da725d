"""One clip-art example: the composited image and its pseudo-ground-truth, as numpy arrays.

This is the contract between the compositor (`clipart.compose`) and everything that stores or
reads examples: the TFDS builder (`tfds_builders/walt3d_clipart`), the COCO-amodal export and
the grain input pipeline (`walt3d_jax.data`). `to_features` gives the dict the TFDS builder
yields; its keys and dtypes are the dataset's features (docs/formats.md, "Clip-art dataset").

Conventions: pixels (u, v) with centres at integers; metres and radians; camera frame OpenCV;
masks as COCO compressed RLE over the whole image (`walt3d_jax.formats.rle`). Objects are
ordered by the compositor's draw order (not by depth); every array's leading axis is the object.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import cv2
import numpy as np

from walt3d_jax.formats import rle

MAX_KEYPOINTS = 17  # keypoint slots per object: cars use the first 12, people all 17
NUM_SHAPE_SLOTS = 10  # PCA shape coefficients; `shape_num` says how many are used
# The depth map is stored as uint16 centimetres: 0 where no object is visible, at most 655 m.
DEPTH_UNITS_PER_METRE = 100.0
MODES = ("walt3d", "walt2d")
# zlib level of stored PNGs: 1 writes a 640×360 composite in a few ms where TFDS's default
# (TensorFlow's encoder at its default level) took ~110 ms, for files ~10 % larger.
PNG_COMPRESSION = 1


@dataclasses.dataclass
class ClipartObjects:
  """Per-object labels of one example; N objects, leading axis N.

  category: (N,) int32 COCO id (1 car, 2 person).
  amodal_mask, visible_mask: (N, H, W) bool: the object's whole (source) mask, and the pixels it
    wins in the composite. visible ⊆ amodal; visible masks are disjoint.
  amodal_box, visible_box: (N, 4) float32 [x, y, w, h] pixels (zeros for an empty mask).
  occlusion: (N,) float32, 1 − |visible| / |amodal|.
  keypoints: (N, 17, 2) float32 pixels (cars: first 12 slots, the rest zero).
  keypoint_states: (N, 17) int8 formats.coco.KeypointState (0 visible, 1 self-occluded,
    2 occluded by others, 3 outside the image); unused slots 3.
  num_keypoints: (N,) int32, 12 for cars and 17 for people.
  rotation (N, 3, 3), translation (N, 3): object → camera, metres. ground_pose (N, 3):
    [x, y, yaw] in the ground frame. dimensions (N, 3): [length, width, height] metres.
  shape (N, 10), shape_num (N,): PCA coefficients of cars (the first shape_num used; people 0).
  keypoints_3d: (N, 17, 3) camera frame, metres. depth: (N,) camera z of the object origin.
  track_id, source_frame, source_row: (N,) int64: the bank's track, frame index and row.
  time_bucket: N strs, the bucket of the frame each object was mined from.
  """

  category: np.ndarray
  amodal_mask: np.ndarray
  visible_mask: np.ndarray
  amodal_box: np.ndarray
  visible_box: np.ndarray
  occlusion: np.ndarray
  keypoints: np.ndarray
  keypoint_states: np.ndarray
  num_keypoints: np.ndarray
  rotation: np.ndarray
  translation: np.ndarray
  ground_pose: np.ndarray
  dimensions: np.ndarray
  shape: np.ndarray
  shape_num: np.ndarray
  keypoints_3d: np.ndarray
  depth: np.ndarray
  track_id: np.ndarray
  source_frame: np.ndarray
  source_row: np.ndarray
  time_bucket: list[str]

  @property
  def num(self) -> int:
    return int(len(self.category))


@dataclasses.dataclass
class ClipartExample:
  """One composited image with its labels.

  image: (H, W, 3) uint8 RGB. depth: (H, W) float32 camera z of the visible object, metres;
    0 where no object is visible.
  K: (3, 3) float32 intrinsics; plane: (4,) float32 [n, d] with n·X + d = 0 (camera frame).
  time_bucket: the background's bucket (e.g. 'day'); camera: the bank's camera name.
  key: the example key it was made from; seed: the integer seed derived from it.
  mode: 'walt3d' (per-pixel depth test, non-intersecting footprints) or 'walt2d' (WALT's 2D
    paste in random order, no footprint test).
  objects: the per-object labels.
  stats: measurements of the composite that the dataset does not store (e.g. its physical
    plausibility, `clipart.compose.plausibility`); empty unless asked for.
  """

  image: np.ndarray
  depth: np.ndarray
  K: np.ndarray
  plane: np.ndarray
  time_bucket: str
  camera: str
  key: str
  seed: int
  mode: str
  objects: ClipartObjects
  stats: dict = dataclasses.field(default_factory=dict)

  @property
  def image_size(self) -> tuple[int, int]:
    """(W, H) pixels."""
    return int(self.image.shape[1]), int(self.image.shape[0])


def depth_to_units(depth: np.ndarray) -> np.ndarray:
  """(H, W, 1) uint16 centimetres of a (H, W) float depth map in metres (0 stays 0)."""
  units = np.rint(np.nan_to_num(depth, nan=0.0, posinf=0.0) * DEPTH_UNITS_PER_METRE)
  return np.clip(units, 0, np.iinfo(np.uint16).max).astype(np.uint16)[..., None]


def depth_from_units(units: np.ndarray) -> np.ndarray:
  """(H, W) float32 metres of a stored (H, W, 1) or (H, W) uint16 depth map."""
  units = np.asarray(units)
  return (units.reshape(units.shape[:2]).astype(np.float32) / DEPTH_UNITS_PER_METRE)


def encode_png(image: np.ndarray) -> bytes:
  """Lossless PNG bytes of an (H, W, 3) uint8 RGB or (H, W, 1) uint16 image (deterministic)."""
  pixels = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 and image.shape[2] == 3 else image
  ok, data = cv2.imencode(".png", pixels, [cv2.IMWRITE_PNG_COMPRESSION, PNG_COMPRESSION])
  if not ok:
    raise ValueError(f"PNG encoding of a {image.dtype} {image.shape} image failed")
  return data.tobytes()


def to_features(example: ClipartExample, png: bool = False) -> dict[str, Any]:
  """The TFDS feature dict of an example (the dataset's features, docs/formats.md).

  Masks become COCO compressed RLE counts strings (size = the image's (H, W)); the depth map
  uint16 centimetres. png: the image and the depth map as PNG bytes (`encode_png`), which TFDS
  stores as they are, instead of arrays.
  """
  o = example.objects
  counts = lambda masks: [rle.encode_mask(m)["counts"] for m in masks]
  depth = depth_to_units(example.depth)
  return {
      "image": encode_png(example.image) if png else example.image,
      "depth": encode_png(depth) if png else depth,
      "camera": {"K": example.K.astype(np.float32), "plane": example.plane.astype(np.float32)},
      "time_bucket": example.time_bucket,
      "camera_name": example.camera,
      "key": example.key,
      "seed": np.int64(example.seed),
      "mode": example.mode,
      "objects": {
          "category": o.category.astype(np.int32),
          "amodal_rle": counts(o.amodal_mask),
          "visible_rle": counts(o.visible_mask),
          "amodal_box": o.amodal_box.astype(np.float32),
          "visible_box": o.visible_box.astype(np.float32),
          "occlusion": o.occlusion.astype(np.float32),
          "keypoints": o.keypoints.astype(np.float32),
          "keypoint_states": o.keypoint_states.astype(np.int32),
          "num_keypoints": o.num_keypoints.astype(np.int32),
          "rotation": o.rotation.astype(np.float32),
          "translation": o.translation.astype(np.float32),
          "ground_pose": o.ground_pose.astype(np.float32),
          "dimensions": o.dimensions.astype(np.float32),
          "shape": o.shape.astype(np.float32),
          "shape_num": o.shape_num.astype(np.int32),
          "keypoints_3d": o.keypoints_3d.astype(np.float32),
          "depth": o.depth.astype(np.float32),
          "track_id": o.track_id.astype(np.int64),
          "source_frame": o.source_frame.astype(np.int64),
          "source_row": o.source_row.astype(np.int64),
          "time_bucket": list(o.time_bucket),
      },
  }
