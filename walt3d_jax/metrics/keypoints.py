"""PCK@α of 2D keypoints, split by visibility state and class (REFERENCE.md, WALT3D § 6.2).

A predicted keypoint is correct when its distance to the truth is below α × max(w, h) of the
object's amodal box (strictly below, as mmpose's `keypoint_pck_accuracy`). Objects come as
matched pairs (prediction ↔ ground truth: a model run on the truth's boxes, or detections
matched to the truth by `metrics.detection.greedy_match` on amodal boxes); matching is not
this module's business.

Visibility states (formats.coco.KeypointState): 0 visible, 1 self-occluded, 2 occluded by
others (agents or scenery); 3 (outside the image, and unused slots) is never scored. 'all' in
the result pools states 0-2.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from walt3d_jax.formats.coco import KeypointState
from walt3d_jax.metrics import amodal

SCORED_STATES = {"visible": KeypointState.VISIBLE, "self_occluded": KeypointState.SELF_OCCLUDED,
                 "occluded_by_others": KeypointState.OCCLUDED_BY_OTHERS}
ALL = "all"


def keypoint_correct(pred: np.ndarray, truth: np.ndarray, amodal_boxes: np.ndarray,
                     alpha: float) -> np.ndarray:
  """(N, K) bool: pred (N, K, 2) within alpha × max(w, h) of truth (N, K, 2) pixels, boxes
  (N, 4) [x, y, w, h] amodal, pixels."""
  pred = np.asarray(pred, np.float64)
  truth = np.asarray(truth, np.float64)
  boxes = np.asarray(amodal_boxes, np.float64).reshape(-1, 4)
  if pred.shape != truth.shape or pred.ndim != 3 or pred.shape[-1] != 2 or len(boxes) != len(pred):
    raise ValueError(f"keypoint_correct: pred {pred.shape}, truth {truth.shape} must be (N, K, 2) "
                     f"and boxes {boxes.shape} (N, 4)")
  if not 0 < alpha < 1:
    raise ValueError(f"keypoint_correct: alpha={alpha} must lie in (0, 1)")
  radius = alpha * np.maximum(boxes[:, 2], boxes[:, 3])
  return np.linalg.norm(pred - truth, axis=-1) < radius[:, None]


def _cell(correct: np.ndarray, scored: np.ndarray) -> dict[str, Any]:
  count = int(scored.sum())
  hits = int((correct & scored).sum())
  return {"pck": hits / count if count else None, "correct": hits, "count": count}


def pck(pred: np.ndarray, truth: np.ndarray, states: np.ndarray, amodal_boxes: np.ndarray,
        categories: np.ndarray, alpha: float = 0.1, occlusion: np.ndarray | None = None,
        bins: Sequence[amodal.OcclusionBin] | None = None) -> dict[str, Any]:
  """PCK@alpha of N matched objects: {class: {state: {'pck', 'correct', 'count'}}}.

  pred, truth: (N, K, 2) pixels; states: (N, K) KeypointState of the truth; amodal_boxes
  (N, 4); categories (N,) COCO ids. Classes are the ids present and 'all'; states the names
  of SCORED_STATES and 'all' (states 0-2 together). 'pck' is None where nothing was scored.
  occlusion (N,) ratios: also {'bins': {bin: the same table over the objects in the bin}}
  with `bins` (default `amodal.all_bins()`).
  """
  correct = keypoint_correct(pred, truth, amodal_boxes, alpha)
  states = np.asarray(states).reshape(correct.shape)
  categories = np.asarray(categories).reshape(-1)
  if len(categories) != len(correct):
    raise ValueError(f"pck: {len(categories)} categories for {len(correct)} objects")

  def table(rows: np.ndarray) -> dict[Any, Any]:
    out = {}
    for cls in [int(c) for c in np.unique(categories)] + [ALL]:
      objects = rows & (categories == cls if cls != ALL else True)
      cell = {name: _cell(correct, objects[:, None] & (states == s)) for name, s in SCORED_STATES.items()}
      cell[ALL] = _cell(correct, objects[:, None] & np.isin(states, list(SCORED_STATES.values())))
      out[cls] = cell
    return out

  result = table(np.ones(len(correct), bool))
  if occlusion is not None:
    occlusion = np.asarray(occlusion, np.float64).reshape(-1)
    bins = amodal.all_bins() if bins is None else bins
    result["bins"] = {b.name: table(b.contains(occlusion)) for b in bins}
  return result
