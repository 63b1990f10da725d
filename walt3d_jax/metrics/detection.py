"""Detection scores: box IoU, greedy score-ordered matching, precision / recall / F1 per class.

Boxes are COCO [x, y, w, h] in pixels with corners at pixel edges (rle.mask_box), so a box's
area is w * h. Matching follows COCO at a single IoU threshold: predictions in decreasing score
take the unmatched ground truth they overlap most (IoU >= threshold); ground truth marked
`ignore` (e.g. heavily occluded objects when scoring the unoccluded subset) may absorb
predictions, which then count neither as true nor as false positives.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterable, Sequence

import numpy as np

ALL = "all"  # key of the class-summed counts in `evaluate_detections`


def _boxes(a: np.ndarray) -> np.ndarray:
  """(N, 4) float64 boxes, checked finite with non-negative sides."""
  a = np.asarray(a, np.float64).reshape(-1, 4)
  if not np.isfinite(a).all():
    raise ValueError("box_iou: boxes must be finite")
  if (a[:, 2:] < 0).any():
    raise ValueError("box_iou: box width and height must be >= 0")
  return a


def _intersect(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  """Intersection areas of broadcastable boxes a (..., 4) and b (..., 4)."""
  iw = np.clip(np.minimum(a[..., 0] + a[..., 2], b[..., 0] + b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
  ih = np.clip(np.minimum(a[..., 1] + a[..., 3], b[..., 1] + b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
  return iw * ih


def _iou(inter: np.ndarray, area_a: np.ndarray, area_b: np.ndarray) -> np.ndarray:
  union = area_a + area_b - inter
  return np.where(union > 0, inter / np.where(union > 0, union, 1.), 0.)


def box_intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  """Intersection areas (N, M) of boxes a (N, 4) and b (M, 4), [x, y, w, h] pixels."""
  return _intersect(_boxes(a)[:, None], _boxes(b)[None])


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  """IoU (N, M) of boxes a (N, 4) and b (M, 4), [x, y, w, h] pixels; 0 where a union is empty."""
  a, b = _boxes(a), _boxes(b)
  return _iou(_intersect(a[:, None], b[None]), (a[:, 2] * a[:, 3])[:, None], (b[:, 2] * b[:, 3])[None])


def paired_box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  """IoU (N,) of a[i] with b[i], boxes (N, 4) [x, y, w, h] pixels; 0 where a union is empty."""
  a, b = _boxes(a), _boxes(b)
  if len(a) != len(b):
    raise ValueError(f"paired_box_iou: {len(a)} boxes against {len(b)}")
  return _iou(_intersect(a, b), a[:, 2] * a[:, 3], b[:, 2] * b[:, 3])


def greedy_match(iou: np.ndarray, scores: np.ndarray, iou_threshold: float,
                 ignore: np.ndarray | None = None) -> np.ndarray:
  """Ground-truth index (N,) int matched to each of N predictions, -1 when none.

  iou: (N, M) prediction × ground truth; scores: (N,) predictions, taken in decreasing order
  (stable, so ties keep their input order). Each prediction takes the unmatched, not ignored
  ground truth of highest IoU >= iou_threshold; failing that, the ignored one of highest IoU
  (ignored ground truth may absorb several predictions, like COCO's crowd regions).
  """
  iou = np.asarray(iou, np.float64)
  n, m = iou.shape
  scores = np.asarray(scores, np.float64).reshape(-1)
  if scores.shape != (n,):
    raise ValueError(f"greedy_match: scores shape {scores.shape} != ({n},)")
  ignore = np.zeros(m, bool) if ignore is None else np.asarray(ignore, bool).reshape(-1)
  if ignore.shape != (m,):
    raise ValueError(f"greedy_match: ignore shape {ignore.shape} != ({m},)")
  match = np.full(n, -1, np.int64)
  taken = np.zeros(m, bool)
  for i in np.argsort(-scores, kind="stable"):
    for candidates in (~ignore & ~taken, ignore):
      ok = candidates & (iou[i] >= iou_threshold)
      if ok.any():
        j = int(np.argmax(np.where(ok, iou[i], -1.)))
        match[i] = j
        taken[j] |= not ignore[j]
        break
  return match


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
  """Indices (M,) of boxes (N, 4) xywh kept by greedy non-maximum suppression, best score first."""
  order = np.argsort(-np.asarray(scores), kind="stable")
  keep: list[int] = []
  for i in order:
    if not keep or box_iou(boxes[i:i + 1], boxes[keep]).max() <= iou:
      keep.append(int(i))
  return np.asarray(keep, np.int64)


@dataclasses.dataclass(frozen=True)
class DetectionCounts:
  """True positives, false positives, misses (false negatives); ignored matches excluded."""

  tp: int = 0
  fp: int = 0
  fn: int = 0

  def __add__(self, other: "DetectionCounts") -> "DetectionCounts":
    return DetectionCounts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

  @property
  def precision(self) -> float:
    """tp / (tp + fp); 1 when nothing was predicted (nothing claimed, nothing wrong)."""
    return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.

  @property
  def recall(self) -> float:
    """tp / (tp + fn); 1 when there is nothing to find."""
    return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.

  @property
  def f1(self) -> float:
    """Harmonic mean of precision and recall (2 tp / (2 tp + fp + fn)); 1 when both are empty."""
    denom = 2 * self.tp + self.fp + self.fn
    return 2 * self.tp / denom if denom else 1.


def frame_counts(pred_boxes: np.ndarray, pred_scores: np.ndarray, gt_boxes: np.ndarray,
                 iou_threshold: float = 0.5, gt_ignore: np.ndarray | None = None) -> DetectionCounts:
  """Counts for one image and one class: predictions (N, 4) with scores (N,), truth (M, 4)."""
  pred_boxes = np.asarray(pred_boxes, np.float64).reshape(-1, 4)
  gt_boxes = np.asarray(gt_boxes, np.float64).reshape(-1, 4)
  ignore = np.zeros(len(gt_boxes), bool) if gt_ignore is None else np.asarray(gt_ignore, bool)
  match = greedy_match(box_iou(pred_boxes, gt_boxes), pred_scores, iou_threshold, ignore)
  matched = match >= 0
  on_ignored = np.zeros(len(match), bool)
  on_ignored[matched] = ignore[match[matched]]  # (indexing with -1 would fail on empty truth)
  tp = int(np.sum(matched & ~on_ignored))
  fp = int(np.sum(~matched))
  found = np.zeros(len(gt_boxes), bool)
  found[match[matched]] = True
  fn = int(np.sum(~found & ~ignore))
  return DetectionCounts(tp, fp, fn)


def evaluate_detections(pairs: Iterable[tuple[Any, Any]], iou_threshold: float = 0.5,
                        gt_ignore: Sequence[np.ndarray] | None = None,
                        class_agnostic: bool = False) -> dict[Any, DetectionCounts]:
  """Counts per category id and summed under `ALL`, over (prediction, truth) pairs of images.

  pairs: per image, two objects with `boxes` (N, 4) xywh, `categories` (N,) and (predictions)
    `scores` (N,), e.g. `timelapse.types.FrameDetections`.
  gt_ignore: per image, (M,) bool over the truth's objects to ignore (see module docstring).
  class_agnostic: match regardless of category (localisation only); only `ALL` is returned.
  Matching is per class otherwise: a car box on a person counts as one FP and one FN.
  """
  totals: dict[Any, DetectionCounts] = {}
  for index, (pred, truth) in enumerate(pairs):
    p_cat = np.asarray(pred.categories).reshape(-1)
    t_cat = np.asarray(truth.categories).reshape(-1)
    ignore = np.zeros(len(t_cat), bool) if gt_ignore is None else np.asarray(gt_ignore[index], bool)
    if ignore.shape != t_cat.shape:
      raise ValueError(f"evaluate_detections: gt_ignore[{index}] shape {ignore.shape} != {t_cat.shape}")
    classes = [None] if class_agnostic else sorted(set(p_cat.tolist()) | set(t_cat.tolist()))
    for cls in classes:
      ps = np.ones(len(p_cat), bool) if cls is None else p_cat == cls
      ts = np.ones(len(t_cat), bool) if cls is None else t_cat == cls
      counts = frame_counts(np.asarray(pred.boxes).reshape(-1, 4)[ps], np.asarray(pred.scores).reshape(-1)[ps],
                            np.asarray(truth.boxes).reshape(-1, 4)[ts], iou_threshold, ignore[ts])
      key = ALL if cls is None else int(cls)
      totals[key] = totals.get(key, DetectionCounts()) + counts
      if cls is not None:
        totals[ALL] = totals.get(ALL, DetectionCounts()) + counts
  totals.setdefault(ALL, DetectionCounts())
  return totals
