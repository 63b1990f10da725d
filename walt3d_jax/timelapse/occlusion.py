"""WALT's box heuristic for unoccluded objects, done right, and truncation at the image border.

On a stationary camera looking down at a ground plane, the object whose box bottom lies lower in
the image stands nearer the camera (the bottom of a box is where the object meets the ground,
and image rows increase towards the camera). So only a box with a LOWER bottom can hide another.
WALT [63] keeps an object as unoccluded when no such nearer box overlaps it by more than δ.

Definitions used here (pixels, boxes COCO xywh, pixel edges at integer coordinates):
  overlap(i, j) = area(box_i ∩ box_j) / area(box_i)   — the fraction of object i's own box that
    box j covers (not IoU: a small person in front of a bus covers little of the bus's box but
    a lot of a smaller object's box; the fraction is what says how much of i may be hidden).
  occluded_i   ⇔ ∃ j ≠ i: bottom_j ≥ bottom_i and overlap(i, j) > δ  (on a tie of bottoms the
    depth order is unknown, so both overlapping objects count as occluded: mining wants purity).
  truncated_i  ⇔ box_i comes within `margin` pixels of an image border.
  unoccluded_i ⇔ not occluded_i and not truncated_i.

About WALT's public code (cwalt/utils.py `bb_intersection_over_union_unoccluded`): it gates the
test on the pair's IoU (`iou > threshold and iou < 1`), so two coincident boxes — the most
occluded case there is — come out as NOT occluding, and its per-side fractions measure only the
horizontal extent of the overlap. The right test is the one above: the covered fraction of the
object's own box, compared with δ strictly (`> δ` means occluded), for any nearer box, identical
boxes included. Because of the sign of that test, a larger δ keeps MORE objects: recall of
unoccluded objects rises with δ and precision falls.
"""

from __future__ import annotations

import enum

import numpy as np


class Reason(enum.IntFlag):
  """Why an object was rejected (bit flags; NONE = kept as unoccluded)."""

  NONE = 0
  OCCLUDED = 1  # a nearer box overlaps it by more than δ
  TRUNCATED = 2  # its box touches the image border (within `margin`)


def _check_boxes(boxes: np.ndarray) -> np.ndarray:
  boxes = np.asarray(boxes, np.float64)
  if boxes.ndim != 2 or boxes.shape[1] != 4:
    raise ValueError(f"boxes must be (N, 4) xywh, got shape {boxes.shape}")
  if not np.isfinite(boxes).all():
    raise ValueError("boxes contain NaN or infinity")
  if (boxes[:, 2:] < 0).any():
    raise ValueError("boxes have a negative width or height")
  return boxes


def overlap_fractions(boxes: np.ndarray) -> np.ndarray:
  """(N, N) area(box_i ∩ box_j) / area(box_i); 0 on the diagonal and for empty boxes.

  boxes: (N, 4) COCO xywh pixels.
  """
  boxes = _check_boxes(boxes)
  x0, y0 = boxes[:, 0], boxes[:, 1]
  x1, y1 = x0 + boxes[:, 2], y0 + boxes[:, 3]
  iw = np.clip(np.minimum(x1[:, None], x1[None]) - np.maximum(x0[:, None], x0[None]), 0, None)
  ih = np.clip(np.minimum(y1[:, None], y1[None]) - np.maximum(y0[:, None], y0[None]), 0, None)
  area = boxes[:, 2] * boxes[:, 3]
  fraction = np.divide(iw * ih, area[:, None], out=np.zeros((len(boxes), len(boxes))),
                       where=area[:, None] > 0)
  np.fill_diagonal(fraction, 0.0)
  return fraction


def occluded_by_nearer(boxes: np.ndarray, delta: float, valid: np.ndarray | None = None) -> np.ndarray:
  """(N,) bool: another valid box whose bottom edge is as low or lower covers > `delta` of box i.

  boxes: (N, 4) xywh pixels; valid: (N,) bool (padding rows neither occlude nor are flagged).
  """
  boxes = _check_boxes(boxes)
  if not 0.0 <= delta < 1.0:
    raise ValueError(f"delta must lie in [0, 1), got {delta}")
  valid = np.ones(len(boxes), bool) if valid is None else np.asarray(valid, bool)
  bottom = boxes[:, 1] + boxes[:, 3]
  # nearer[i, j]: j's bottom is lower in the image, so j stands nearer the camera than i (or
  # ties with it); the diagonal of overlap_fractions is 0, so i never occludes itself.
  nearer = (bottom[None, :] >= bottom[:, None]) & valid[None, :]
  return valid & ((overlap_fractions(boxes) > delta) & nearer).any(axis=1)


def truncated_at_border(
    boxes: np.ndarray, image_size: tuple[int, int], margin: float, valid: np.ndarray | None = None
) -> np.ndarray:
  """(N,) bool: box i comes within `margin` pixels of the image border.

  boxes: (N, 4) xywh pixels (edges: a box touching column 0 has x = 0, the right border is at
  x + w = width); image_size: (width, height) pixels; margin >= 0 pixels.
  """
  boxes = _check_boxes(boxes)
  width, height = image_size
  if margin < 0:
    raise ValueError(f"margin must be >= 0 pixels, got {margin}")
  valid = np.ones(len(boxes), bool) if valid is None else np.asarray(valid, bool)
  x0, y0 = boxes[:, 0], boxes[:, 1]
  x1, y1 = x0 + boxes[:, 2], y0 + boxes[:, 3]
  near = (x0 <= margin) | (y0 <= margin) | (x1 >= width - margin) | (y1 >= height - margin)
  return valid & near


def heuristic_unoccluded(
    boxes: np.ndarray,
    image_size: tuple[int, int],
    delta: float,
    margin: float,
    valid: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
  """WALT's δ test plus border truncation for the N boxes of one frame.

  boxes: (N, 4) xywh pixels; image_size: (width, height); delta: overlap fraction in [0, 1);
  margin: pixels; valid: (N,) bool for padded batches.
  Returns keep (N,) bool (unoccluded and untruncated; False for invalid rows) and reasons (N,)
  uint8 `Reason` flags.
  """
  boxes = _check_boxes(boxes)
  valid = np.ones(len(boxes), bool) if valid is None else np.asarray(valid, bool)
  if valid.shape != (len(boxes),):
    raise ValueError(f"valid must be ({len(boxes)},), got shape {valid.shape}")
  occluded = occluded_by_nearer(boxes, delta, valid)
  truncated = truncated_at_border(boxes, image_size, margin, valid)
  reasons = (occluded * int(Reason.OCCLUDED) | truncated * int(Reason.TRUNCATED)).astype(np.uint8)
  return valid & (reasons == 0), reasons
