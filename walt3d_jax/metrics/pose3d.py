"""3D scores: MPJPE and 3D PCK for people, rotation and translation errors for cars.

People (WALT3D § 6.2, "the standard metrics of previous work"): joints are COCO-17 in the
camera frame, metres. COCO-17 has no pelvis, so the root is the mid-hip, the mean of the left
and right hip joints (indices 11 and 12): predicted and true skeletons are each translated to
put their root at the origin, and MPJPE is the mean Euclidean joint error after that (per
object over its valid joints, then the mean over objects). 3D PCK is the fraction of valid
joints whose root-aligned error is below a threshold, 150 mm by default (REFERENCE.md).

Cars (REFERENCE.md; the paper's Table 4): the rotation error is the geodesic angle
arccos((trace(R_predᵀ R_gt) − 1) / 2), computed as `geometry.so3.geodesic_angle` does (atan2 of
the rotation's sine and cosine, well conditioned near 0 and π) in numpy float64;
Acc(π/6) and Acc(π/18) are the fractions of objects strictly below those angles; the median
rotation error (radians) and the median translation error ‖t_pred − t_gt‖ (metres) complete it.

Every summary also comes per occlusion bin (`amodal.all_bins()`, the bins of the amodal AP)
when the objects' occlusion ratios are given. Empty sets give None, never NaN.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from walt3d_jax.metrics import amodal
from walt3d_jax.shapes import person

LEFT_HIP = person.COCO_KEYPOINT_NAMES.index("left_hip")
RIGHT_HIP = person.COCO_KEYPOINT_NAMES.index("right_hip")
PCK3D_THRESHOLD = 0.150  # metres
ACCURACY_ANGLES = {"acc_pi_6": np.pi / 6, "acc_pi_18": np.pi / 18}


def root_aligned(joints: np.ndarray) -> np.ndarray:
  """(N, 17, 3) COCO-17 joints minus their mid-hip root (N, 1, 3)."""
  joints = np.asarray(joints, np.float64)
  if joints.ndim != 3 or joints.shape[1:] != (len(person.COCO_KEYPOINT_NAMES), 3):
    raise ValueError(f"root_aligned: joints shape {joints.shape}, expected (N, 17, 3)")
  return joints - 0.5 * (joints[:, LEFT_HIP] + joints[:, RIGHT_HIP])[:, None]


def joint_errors(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
  """(N, 17) metres: root-aligned Euclidean error per joint of pred and truth (N, 17, 3)."""
  pred, truth = root_aligned(pred), root_aligned(truth)
  if pred.shape != truth.shape:
    raise ValueError(f"joint_errors: pred {pred.shape} and truth {truth.shape} differ")
  return np.linalg.norm(pred - truth, axis=-1)


def _valid(valid: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
  return np.ones(shape, bool) if valid is None else np.asarray(valid, bool).reshape(shape)


def mpjpe(pred: np.ndarray, truth: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
  """(N,) metres: each object's mean root-aligned joint error over its valid (N, 17) joints
  (all by default; NaN for an object without any)."""
  err = joint_errors(pred, truth)
  v = _valid(valid, err.shape)
  count = v.sum(1)
  return np.where(count > 0, (err * v).sum(1) / np.maximum(count, 1), np.nan)


def geodesic_angle(rot1: np.ndarray, rot2: np.ndarray) -> np.ndarray:
  """(...) radians in [0, π]: the angle of rot1ᵀ rot2 for (..., 3, 3) rotations (numpy float64
  twin of `geometry.so3.geodesic_angle`)."""
  rel = np.swapaxes(np.asarray(rot1, np.float64), -1, -2) @ np.asarray(rot2, np.float64)
  cos = 0.5 * (np.trace(rel, axis1=-2, axis2=-1) - 1.0)
  axis2 = np.stack([rel[..., 2, 1] - rel[..., 1, 2], rel[..., 0, 2] - rel[..., 2, 0],
                    rel[..., 1, 0] - rel[..., 0, 1]], -1)
  return np.arctan2(0.5 * np.linalg.norm(axis2, axis=-1), cos)


def _by_bins(summary: Callable[[np.ndarray], dict], n: int, occlusion: np.ndarray | None,
             bins: Sequence[amodal.OcclusionBin] | None) -> dict[str, Any]:
  out = summary(np.ones(n, bool))
  if occlusion is not None:
    occlusion = np.asarray(occlusion, np.float64).reshape(-1)
    if len(occlusion) != n:
      raise ValueError(f"{len(occlusion)} occlusion ratios for {n} objects")
    bins = amodal.all_bins() if bins is None else bins
    out["bins"] = {b.name: summary(b.contains(occlusion)) for b in bins}
  return out


def _mean(x: np.ndarray) -> float | None:
  return float(np.mean(x)) if x.size else None


def _median(x: np.ndarray) -> float | None:
  return float(np.median(x)) if x.size else None


def people_scores(pred: np.ndarray, truth: np.ndarray, valid: np.ndarray | None = None,
                  occlusion: np.ndarray | None = None, threshold: float = PCK3D_THRESHOLD,
                  bins: Sequence[amodal.OcclusionBin] | None = None) -> dict[str, Any]:
  """{'mpjpe_mm', 'pck3d', 'num_objects', 'num_joints'} of N matched people (joints (N, 17, 3)
  metres, valid (N, 17)), and 'bins' with occlusion (N,). pck3d: fraction of valid joints with
  root-aligned error < threshold metres."""
  err = joint_errors(pred, truth)
  v = _valid(valid, err.shape)
  per_object = mpjpe(pred, truth, v)

  def summary(rows: np.ndarray) -> dict[str, Any]:
    has = rows & (v.sum(1) > 0)
    joints = v & rows[:, None]
    mean = _mean(per_object[has])
    return {"mpjpe_mm": None if mean is None else 1000.0 * mean,
            "pck3d": _mean((err < threshold)[joints]), "num_objects": int(has.sum()),
            "num_joints": int(joints.sum())}

  return _by_bins(summary, len(err), occlusion, bins)


def car_scores(pred_rotation: np.ndarray, truth_rotation: np.ndarray, pred_translation: np.ndarray,
               truth_translation: np.ndarray, occlusion: np.ndarray | None = None,
               bins: Sequence[amodal.OcclusionBin] | None = None) -> dict[str, Any]:
  """{'acc_pi_6', 'acc_pi_18', 'median_rotation_error' (rad), 'median_rotation_error_deg',
  'median_translation_error' (m), 'num_objects'} of N matched cars: rotations (N, 3, 3)
  object → camera, translations (N, 3) metres; and 'bins' with occlusion (N,)."""
  rot_err = geodesic_angle(pred_rotation, truth_rotation).reshape(-1)
  pred_t = np.asarray(pred_translation, np.float64).reshape(-1, 3)
  truth_t = np.asarray(truth_translation, np.float64).reshape(-1, 3)
  if not len(pred_t) == len(truth_t) == len(rot_err):
    raise ValueError(f"car_scores: {len(rot_err)} rotations, {len(pred_t)} and {len(truth_t)} translations")
  t_err = np.linalg.norm(pred_t - truth_t, axis=-1)

  def summary(rows: np.ndarray) -> dict[str, Any]:
    med = _median(rot_err[rows])
    out = {name: _mean(rot_err[rows] < angle) for name, angle in ACCURACY_ANGLES.items()}
    out.update(median_rotation_error=med,
               median_rotation_error_deg=None if med is None else float(np.degrees(med)),
               median_translation_error=_median(t_err[rows]), num_objects=int(rows.sum()))
    return out

  return _by_bins(summary, len(rot_err), occlusion, bins)
