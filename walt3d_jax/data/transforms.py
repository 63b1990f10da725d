"""Geometric transforms of dense clip-art examples (`decode.decode_record`), labels kept exact.

Pixel conventions (docs/design.md): keypoints and K use pixel centres at integers, so a resize
by (sx, sy) maps u → (u + ½) sx − ½ and a horizontal flip u → W − 1 − u; boxes [x, y, w, h]
are COCO's (column c spans [c, c + 1)), so they scale as x → x sx and flip as x → W − x − w.

The horizontal flip mirrors the camera: X_cam → F X_cam with F = diag(−1, 1, 1). Then
- K → M K F with M the pixel flip [[−1, 0, W − 1], [0, 1, 0], [0, 0, 1]]: cx → W − 1 − cx (and
  a skew changes sign), fx, fy unchanged, so K' F X projects to the flipped pixel of X;
- the plane [n, d] → [F n, d];
- an object is mirrored too, and its frame re-chosen so that it stays right-handed with x
  forward, y left, z up: X_obj → G X_obj with G = diag(1, −1, 1). So R → F R G (det +1),
  t → F t; keypoint j of the flipped object is the mirror image of keypoint mirror(j) of the
  original (left and right swap: `vehicle.CAR_KEYPOINT_MIRROR`, `person.COCO_KEYPOINT_MIRROR`),
  in 2D (u flipped), in 3D (x negated) and in its visibility state;
- the ground frame, rebuilt from the flipped plane (`geometry.plane.ground_frame`), becomes
  R_cg → F R_cg G, t_cg → F t_cg, so ground poses map (x, y, yaw) → (x, −y, −yaw).
`tests/data/test_transforms.py` checks that the flipped 3D keypoints project with the flipped K
onto the flipped 2D keypoints, that R stays a rotation and that ground poses agree.
"""

from __future__ import annotations

from typing import Any, Mapping

import cv2
import numpy as np

from walt3d_jax.data import decode
from walt3d_jax.formats import coco
from walt3d_jax.shapes import person
from walt3d_jax.shapes import vehicle

_F = np.diag([-1.0, 1.0, 1.0]).astype(np.float32)
_G = np.diag([1.0, -1.0, 1.0]).astype(np.float32)


def keypoint_mirror(category: np.ndarray) -> np.ndarray:
  """(N, 17) int: slot j of a mirrored object takes slot perm[j] of the original."""
  car = np.arange(decode.MAX_KEYPOINTS)
  car[:len(vehicle.CAR_KEYPOINT_MIRROR)] = vehicle.CAR_KEYPOINT_MIRROR
  people = np.asarray(person.COCO_KEYPOINT_MIRROR)
  return np.where((np.asarray(category) == int(coco.Category.PERSON))[:, None], people, car)


def _used_slots(example: Mapping[str, Any]) -> np.ndarray:
  """(N, 17) bool: the keypoint slots an object's class uses."""
  return np.arange(decode.MAX_KEYPOINTS) < example["num_keypoints"][:, None]


def hflip(example: Mapping[str, Any]) -> dict[str, Any]:
  """The mirror image of a dense example (module docstring); a new dict, inputs untouched."""
  out = dict(example)
  width = example["image"].shape[1]
  out["image"] = example["image"][:, ::-1].copy()
  out["depth"] = example["depth"][:, ::-1].copy()
  out["amodal_mask"] = example["amodal_mask"][:, :, ::-1].copy()
  out["visible_mask"] = example["visible_mask"][:, :, ::-1].copy()
  m = np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], np.float32)
  out["K"] = (m @ example["K"] @ _F).astype(np.float32)
  out["plane"] = (example["plane"] * np.array([-1, 1, 1, 1], np.float32)).astype(np.float32)
  for name in ("amodal_box", "visible_box"):
    box = example[name].copy()
    box[:, 0] = np.where(box[:, 2] > 0, width - box[:, 0] - box[:, 2], box[:, 0])
    out[name] = box
  perm = keypoint_mirror(example["category"])
  take = lambda a: np.take_along_axis(a, perm.reshape(perm.shape + (1,) * (a.ndim - 2)), axis=1)
  used = _used_slots(example)
  kp = take(example["keypoints"]).copy()
  kp[..., 0] = np.where(used, width - 1.0 - kp[..., 0], kp[..., 0])
  out["keypoints"] = kp
  out["keypoint_states"] = take(example["keypoint_states"])
  out["keypoints_3d"] = (take(example["keypoints_3d"]) * np.array([-1, 1, 1], np.float32))
  out["rotation"] = (_F @ example["rotation"] @ _G).astype(np.float32)
  out["translation"] = example["translation"] * np.array([-1, 1, 1], np.float32)
  out["ground_pose"] = example["ground_pose"] * np.array([1, -1, -1], np.float32)
  return out


def resize(example: Mapping[str, Any], size: tuple[int, int]) -> dict[str, Any]:
  """The example at `size` (W, H): image by area (down) or bilinear (up) interpolation, masks
  and depth by nearest pixel; keypoints, boxes and K scaled (module docstring). 3D unchanged."""
  width, height = int(size[0]), int(size[1])
  h0, w0 = example["image"].shape[:2]
  if (w0, h0) == (width, height):
    return dict(example)
  out = dict(example)
  sx, sy = width / w0, height / h0
  interp = cv2.INTER_AREA if sx * sy < 1 else cv2.INTER_LINEAR
  out["image"] = cv2.resize(example["image"], (width, height), interpolation=interp)
  rows, cols = decode.nearest_index(height, h0), decode.nearest_index(width, w0)
  out["depth"] = example["depth"][rows][:, cols]
  for name in ("amodal_mask", "visible_mask"):
    if example[name].shape[1:] != (height, width):  # else decoded at this size already
      out[name] = example[name][:, rows][:, :, cols]
  s = np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1]], np.float32)
  out["K"] = (s @ example["K"]).astype(np.float32)
  scale = np.array([sx, sy, sx, sy], np.float32)
  for name in ("amodal_box", "visible_box"):
    out[name] = (example[name] * scale).astype(np.float32)
  kp = example["keypoints"].copy()
  used = _used_slots(example)
  kp[..., 0] = np.where(used, (kp[..., 0] + 0.5) * sx - 0.5, kp[..., 0])
  kp[..., 1] = np.where(used, (kp[..., 1] + 0.5) * sy - 0.5, kp[..., 1])
  out["keypoints"] = kp
  return out


def pad_objects(example: Mapping[str, Any], max_objects: int) -> dict[str, Any]:
  """Per-object fields padded (or cut) to `max_objects` along axis 0, with masks.

  Adds object_valid (M,) bool, num_objects () int32 (kept objects) and objects_dropped ()
  int32 (objects past `max_objects`, cut: the first ones in draw order are kept). Padding is
  zeros, except keypoint_states 3 (outside the image) and rotation the identity.
  """
  n = decode.num_objects(example)
  keep = min(n, max_objects)
  out = dict(example)
  for name in (*decode.OBJECT_FIELDS, *decode.MASK_FIELDS):
    value = example[name][:keep]
    pad = np.zeros((max_objects - keep, *value.shape[1:]), value.dtype)
    if name == "keypoint_states":
      pad[:] = int(coco.KeypointState.OUTSIDE_IMAGE)
    elif name == "rotation":
      pad[:] = np.eye(3, dtype=value.dtype)
    out[name] = np.concatenate([value, pad])
  out["object_valid"] = np.arange(max_objects) < keep
  out["num_objects"] = np.int32(keep)
  out["objects_dropped"] = np.int32(n - keep)
  return out


def modal_labels(example: Mapping[str, Any]) -> dict[str, Any]:
  """The example as an off-the-shelf (modal) detector's training data would label it.

  The amodal box and mask become the visible ones, keypoints hidden by other objects become
  unlabelled (state 3, as outside the image), and objects with no visible pixel are dropped:
  what a model learns from modal annotations, the baseline of the paper's amodal training.
  """
  keep = example["visible_mask"].reshape(len(example["visible_mask"]), -1).any(1)
  out = {name: (example[name][keep] if name in (*decode.OBJECT_FIELDS, *decode.MASK_FIELDS) else example[name])
         for name in example}
  out["amodal_box"] = out["visible_box"].copy()
  out["amodal_mask"] = out["visible_mask"].copy()
  out["occlusion"] = np.zeros_like(out["occlusion"])
  states = out["keypoint_states"].copy()
  states[states == int(coco.KeypointState.OCCLUDED_BY_OTHERS)] = int(coco.KeypointState.OUTSIDE_IMAGE)
  out["keypoint_states"] = states
  return out
