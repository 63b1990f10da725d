"""Stored `walt3d_clipart` records → dense numpy examples (masks decoded, depth in metres).

A record is what `tfds.data_source(...)[i]` returns (images decoded, `Sequence` features as
Python lists of per-object arrays, text as bytes), what `tfds.as_numpy(tfds.load(...))` yields
(sequences stacked, text as bytes), or `clipart.example.to_features(example)` itself (text as
str). All three decode to the same dense example:

  image (H, W, 3) uint8 RGB; depth (H, W) float32 metres (0: no object); K (3, 3) float32;
  plane (4,) float32 [n, d]; seed () int64; key str; and per object (leading axis N):
  category (N,) int32; amodal_mask, visible_mask (N, H, W) bool; amodal_box, visible_box
  (N, 4) float32 [x, y, w, h] pixels (COCO: column c spans [c, c + 1)); occlusion (N,) float32;
  keypoints (N, 17, 2) float32 pixels (centres at integers); keypoint_states (N, 17) int32;
  num_keypoints (N,) int32; rotation (N, 3, 3); translation (N, 3); ground_pose (N, 3);
  dimensions (N, 3); shape (N, 10); shape_num (N,) int32; keypoints_3d (N, 17, 3);
  object_depth (N,) float32 m; track_id (N,) int64.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from pycocotools import mask as mask_utils

from walt3d_jax.clipart import example as example_lib

MAX_KEYPOINTS = example_lib.MAX_KEYPOINTS
NUM_SHAPE_SLOTS = example_lib.NUM_SHAPE_SLOTS

# Per-object numeric fields: name in the batch -> (stored name, dtype, per-object shape).
OBJECT_FIELDS = {
    "category": ("category", np.int32, ()),
    "amodal_box": ("amodal_box", np.float32, (4,)),
    "visible_box": ("visible_box", np.float32, (4,)),
    "occlusion": ("occlusion", np.float32, ()),
    "keypoints": ("keypoints", np.float32, (MAX_KEYPOINTS, 2)),
    "keypoint_states": ("keypoint_states", np.int32, (MAX_KEYPOINTS,)),
    "num_keypoints": ("num_keypoints", np.int32, ()),
    "rotation": ("rotation", np.float32, (3, 3)),
    "translation": ("translation", np.float32, (3,)),
    "ground_pose": ("ground_pose", np.float32, (3,)),
    "dimensions": ("dimensions", np.float32, (3,)),
    "shape": ("shape", np.float32, (NUM_SHAPE_SLOTS,)),
    "shape_num": ("shape_num", np.int32, ()),
    "keypoints_3d": ("keypoints_3d", np.float32, (MAX_KEYPOINTS, 3)),
    "object_depth": ("depth", np.float32, ()),
    "track_id": ("track_id", np.int64, ()),
}
MASK_FIELDS = {"amodal_mask": "amodal_rle", "visible_mask": "visible_rle"}


def _text(value: Any) -> str:
  if isinstance(value, np.ndarray):
    value = value.item()
  return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _stack(values: Any, dtype, shape: tuple[int, ...]) -> np.ndarray:
  """(N, *shape) array of a list of per-object arrays or an already stacked array."""
  if isinstance(values, np.ndarray):
    return values.astype(dtype, copy=False).reshape((-1, *shape))
  if len(values) == 0:
    return np.zeros((0, *shape), dtype)
  return np.stack([np.asarray(v, dtype) for v in values]).reshape((-1, *shape))


def nearest_index(n_out: int, n_in: int) -> np.ndarray:
  """(n_out,) source pixel of each output pixel when resampling n_in → n_out pixels by the
  nearest pixel centre."""
  return np.clip(((np.arange(n_out) + 0.5) * n_in / n_out).astype(np.int64), 0, n_in - 1)


def decode_masks(counts: Any, height: int, width: int,
                 size: tuple[int, int] | None = None) -> np.ndarray:
  """(N, H, W) bool masks of N COCO compressed RLE counts strings (str or bytes) of (H, W)
  masks; with `size` (W', H'), resampled to it by the nearest pixel centre (`nearest_index`).

  One pycocotools call for all N; its column-major (H, W, N) output is read as (N, W, H), and
  only the kept rows and columns are gathered before the transpose to (N, H, W).
  """
  rles = [{"size": [height, width], "counts": c.encode("ascii") if isinstance(c, str) else bytes(c)}
          for c in (_text(c) for c in counts)]
  out_w, out_h = (width, height) if size is None else (int(size[0]), int(size[1]))
  if not rles:
    return np.zeros((0, out_h, out_w), bool)
  by_column = mask_utils.decode(rles).T  # (N, W, H) C-contiguous view, uint8
  if size is not None:
    by_column = by_column[:, nearest_index(out_w, width)][:, :, nearest_index(out_h, height)]
  return np.ascontiguousarray(by_column.transpose(0, 2, 1)).view(bool)


def decode_record(record: Mapping[str, Any], mask_size: tuple[int, int] | None = None) -> dict[str, Any]:
  """The dense example (module docstring) of one stored record; mask_size (W', H'): its masks
  already resampled to that size (as `transforms.resize` would), the rest at the stored size."""
  image = np.asarray(record["image"], np.uint8)
  height, width = image.shape[:2]
  objects = record["objects"]
  out = {
      "image": image,
      "depth": example_lib.depth_from_units(record["depth"]),
      "K": np.asarray(record["camera"]["K"], np.float32).reshape(3, 3),
      "plane": np.asarray(record["camera"]["plane"], np.float32).reshape(4),
      "seed": np.int64(np.asarray(record["seed"]).item()),
      "key": _text(record["key"]),
  }
  for name, (stored, dtype, shape) in OBJECT_FIELDS.items():
    out[name] = _stack(objects[stored], dtype, shape)
  for name, stored in MASK_FIELDS.items():
    out[name] = decode_masks(objects[stored], height, width, mask_size)
  return out


def num_objects(example: Mapping[str, Any]) -> int:
  return int(len(example["category"]))
