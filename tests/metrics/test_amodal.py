"""Amodal AP: a case worked out by hand, pycocotools called directly, occlusion bins."""

import copy
import io
import contextlib

import numpy as np
from pycocotools import coco as coco_lib
from pycocotools import cocoeval
import pytest

from walt3d_jax.metrics import amodal

_H, _W = 40, 60


def _box_masks(boxes):
  """(N, H, W) bool rectangles filling integer boxes: mask IoU = box IoU."""
  masks = np.zeros((len(boxes), _H, _W), bool)
  for m, (x, y, w, h) in zip(masks, boxes):
    m[y:y + h, x:x + w] = True
  return masks


# Image 0: A, B; image 1: C (one category). A is 5 %, B 55 %, C 15 % occluded.
_GT = [[[0, 0, 10, 10], [20, 0, 10, 10]], [[0, 0, 10, 10]]]
_OCC = [[0.05, 0.55], [0.15]]
# p1 = A exactly (0.9), p2 = C exactly (0.8), p3 off everything (0.7), p4 = B shifted by 2 px
# (0.6): IoU 80 / 120 = 2/3, a true positive at IoU thresholds 0.50-0.65 only.
_PRED = [([[0, 0, 10, 10], [40, 25, 10, 10], [22, 0, 10, 10]], [0.9, 0.7, 0.6]),
         ([[0, 0, 10, 10]], [0.8])]


def _truths():
  return [amodal.ImageTruth(np.array(b, float), np.ones(len(b), int), np.array(o), _W, _H, _box_masks(b))
          for b, o in zip(_GT, _OCC)]


def _predictions():
  return [amodal.ImagePredictions(np.array(b, float), np.array(s), np.ones(len(b), int), _box_masks(b))
          for b, s in _PRED]


def test_hand_computed_ap():
  # Scores order TP, TP, FP, TP over 3 objects: recall 1/3, 2/3, 2/3, 1 with precision 1, 1,
  # 2/3, 3/4; COCO's interpolated precision is 1 at recall thresholds 0.00-0.66 (67 of 101) and
  # 3/4 at 0.67-1.00 (34): AP = (67 + 34 * 3/4) / 101 at IoU <= 0.65. Above, p4 is a false
  # positive and recall stops at 2/3: AP = 67 / 101.
  high, low = 92.5 / 101, 67 / 101
  result = amodal.evaluate(_truths(), _predictions(), bins=())
  for iou_type in ("bbox", "segm"):
    s = result[iou_type]["all"]
    assert s["AP50"] == pytest.approx(high)
    assert s["AP75"] == pytest.approx(low)
    assert s["AP"] == pytest.approx((4 * high + 6 * low) / 10)
    assert s["num_gt"] == 3
    assert s["per_category"][1]["AP"] == pytest.approx(s["AP"])


def _direct(gt, results, iou_type):
  """pycocotools as everyone calls it: COCO, loadRes, COCOeval, summarize; stats[0:3]."""
  with contextlib.redirect_stdout(io.StringIO()):
    coco_gt = coco_lib.COCO()
    coco_gt.dataset = copy.deepcopy(gt)
    coco_gt.createIndex()
    e = cocoeval.COCOeval(coco_gt, coco_gt.loadRes(copy.deepcopy(results)), iou_type)
    e.evaluate()
    e.accumulate()
    e.summarize()
  return e.stats[:3]


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_equals_pycocotools_called_directly(iou_type):
  rng = np.random.default_rng(0)
  truths, preds = [], []
  for _ in range(4):  # random boxes, two categories, some predictions near the truth
    m, n = rng.integers(1, 5), rng.integers(0, 6)
    xy = rng.integers(0, 40, (m, 2))
    gt = np.column_stack([xy[:, 0], xy[:, 1] % 25, rng.integers(3, 15, (m, 2))])
    near = gt[rng.integers(0, m, n)] + rng.integers(-2, 3, (n, 4)) * [1, 1, 0, 0]
    near[:, :2] = np.clip(near[:, :2], 0, None)
    truths.append(amodal.ImageTruth(gt.astype(float), rng.integers(1, 3, m), rng.random(m), _W, _H, _box_masks(gt)))
    preds.append(amodal.ImagePredictions(near.astype(float), rng.random(n), rng.integers(1, 3, n), _box_masks(near)))
  ours = amodal.evaluate(truths, preds, iou_types=(iou_type,), bins=())[iou_type]["all"]
  stats = _direct(amodal.coco_ground_truth(truths), amodal.coco_results(preds, iou_type), iou_type)
  np.testing.assert_allclose([ours["AP"], ours["AP50"], ours["AP75"]], stats, atol=1e-12)


def test_occluded_truth_outside_the_bin_does_not_penalise():
  # Bin 0.5-0.6 holds B only. p1 (on A) and p2 (on C) match ignored objects: neither true nor
  # false positives. p3 (0.7) stays a false positive, p4 (0.6) finds B at IoU <= 0.65: precision
  # 1/2 at recall 1, so AP50 = 0.5, AP75 = 0, AP = 4 * 0.5 / 10.
  result = amodal.evaluate(_truths(), _predictions(), iou_types=("bbox",))["bbox"]
  s = result["bins"]["0.5-0.6"]
  assert (s["AP50"], s["AP75"], s["num_gt"]) == (pytest.approx(0.5), 0.0, 1)
  assert s["AP"] == pytest.approx(0.2)
  # The same as pycocotools on the data without A, C and the predictions they absorb.
  gt = amodal.coco_ground_truth(_truths())
  gt["annotations"] = [a for a in gt["annotations"] if a["occlusion"] == 0.55]
  results = [r for r in amodal.coco_results(_predictions(), "bbox") if r["score"] in (0.7, 0.6)]
  np.testing.assert_allclose([s["AP"], s["AP50"], s["AP75"]], _direct(gt, results, "bbox"), atol=1e-12)
  # Removing A and C instead (predictions kept) would count p1 and p2 as false positives.
  gt_removed_only = {**gt}
  removed = _direct(gt_removed_only, amodal.coco_results(_predictions(), "bbox"), "bbox")
  assert removed[1] == pytest.approx(0.25)
  # A bin without ground truth is undefined; L0 (0-0.2) holds A and C, found by p1 and p2
  # first, with p4 absorbed by the ignored B at IoU <= 0.65 and a false positive above.
  assert result["bins"]["0.2-0.3"]["AP"] is None and result["bins"]["0.2-0.3"]["num_gt"] == 0
  assert result["bins"]["L0"]["num_gt"] == 2 and result["bins"]["L0"]["AP50"] == pytest.approx(1.0)


def test_walt_protocol_drops_predictions_away_from_the_bin():
  # WALT keeps in bin 0.5-0.6 only B and the predictions overlapping it (IoU > 0.4): p4 alone,
  # so AP50 = 1 (p3, a background false positive, counts nowhere) and AP75 = 0.
  s = amodal.evaluate(_truths(), _predictions(), iou_types=("bbox",), protocol="walt")["bbox"]["bins"]["0.5-0.6"]
  assert (s["AP50"], s["AP75"], s["AP"]) == (pytest.approx(1.0), 0.0, pytest.approx(0.4))


def test_bins_cover_every_ratio_once():
  occ = np.array([0.0, 0.0999, 0.1, 0.5, 0.9, 0.95, 1.0])
  hits = np.stack([b.contains(occ) for b in amodal.decile_bins()])
  np.testing.assert_array_equal(hits.sum(0), 1)
  np.testing.assert_array_equal(np.argmax(hits, 0), [0, 0, 1, 5, 9, 9, 9])
  assert [b.name for b in amodal.COARSE_LEVELS] == ["L0", "L1", "L2", "L3"]


def test_no_predictions_and_bad_input():
  empty = [amodal.ImagePredictions(np.zeros((0, 4)), np.zeros(0), np.zeros(0, int), np.zeros((0, _H, _W), bool))] * 2
  s = amodal.evaluate(_truths(), empty, bins=())["segm"]["all"]
  assert (s["AP"], s["AP50"]) == (0.0, 0.0)
  with pytest.raises(ValueError, match="2 images of truth, 1"):
    amodal.evaluate(_truths(), empty[:1])
  with pytest.raises(ValueError, match="needs masks"):
    amodal.coco_results([amodal.ImagePredictions(np.zeros((1, 4)), [1.], [1])], "segm")
  with pytest.raises(ValueError, match="protocol"):
    amodal.evaluate(_truths(), empty, protocol="kins")


def test_walt_bin_filter_keeps_a_prediction_on_any_object_of_the_bin():
  gt = {"annotations": [
      {"image_id": 1, "occlusion": 0.55, "bbox": [0.0, 0.0, 10.0, 10.0]},
      {"image_id": 1, "occlusion": 0.52, "bbox": [50.0, 50.0, 10.0, 10.0]},
      {"image_id": 1, "occlusion": 0.05, "bbox": [100.0, 0.0, 10.0, 10.0]}]}
  results = [{"image_id": 1, "bbox": [1.0, 1.0, 10.0, 10.0], "score": 0.9},  # on the first
             {"image_id": 1, "bbox": [100.0, 0.0, 10.0, 10.0], "score": 0.8}]  # outside the bin
  kept_gt, kept = amodal.walt_bin_filter(gt, results, amodal.OcclusionBin("0.5-0.6", 0.5, 0.6))
  assert len(kept_gt["annotations"]) == 2
  assert kept == results[:1]
