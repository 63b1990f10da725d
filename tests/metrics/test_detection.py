"""Detection scores against hand-computed cases and pycocotools' IoU."""

import types

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_utils
import pytest

from walt3d_jax.metrics import detection


def _dets(boxes, categories, scores=None):
  boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
  scores = np.ones(len(boxes), np.float32) if scores is None else np.asarray(scores, np.float32)
  return types.SimpleNamespace(boxes=boxes, scores=scores, categories=np.asarray(categories, np.int32))


def test_box_iou_hand_values():
  iou = detection.box_iou([[0, 0, 2, 2]], [[1, 1, 2, 2], [0, 0, 2, 2], [5, 5, 1, 1], [0, 0, 0, 0]])
  np.testing.assert_allclose(iou, [[1 / 7, 1., 0., 0.]])
  assert detection.box_iou(np.zeros((0, 4)), [[0, 0, 1, 1]]).shape == (0, 1)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(*[st.floats(0, 50)] * 2, *[st.floats(0.5, 30)] * 2), min_size=1, max_size=5),
       st.lists(st.tuples(*[st.floats(0, 50)] * 2, *[st.floats(0.5, 30)] * 2), min_size=1, max_size=5))
def test_box_iou_matches_pycocotools(a, b):
  a, b = np.array(a), np.array(b)
  expected = mask_utils.iou(a.tolist(), b.tolist(), [0] * len(b))
  np.testing.assert_allclose(detection.box_iou(a, b), expected, atol=1e-9)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(*[st.floats(0, 50)] * 2, *[st.floats(0.5, 30)] * 4), min_size=1, max_size=6))
def test_paired_box_iou_is_the_diagonal_of_pycocotools(rows):
  a, b = np.array([r[:4] for r in rows]), np.array([r[:2] + r[4:] for r in rows])
  expected = np.diag(mask_utils.iou(a.tolist(), b.tolist(), [0] * len(b)))
  np.testing.assert_allclose(detection.paired_box_iou(a, b), expected, atol=1e-9)
  with pytest.raises(ValueError, match="1 boxes against 2"):
    detection.paired_box_iou(a[:1], np.concatenate([b, b])[:2])


def test_box_iou_rejects_bad_boxes():
  with pytest.raises(ValueError, match="finite"):
    detection.box_iou([[0, 0, np.nan, 1]], [[0, 0, 1, 1]])
  with pytest.raises(ValueError, match=">= 0"):
    detection.box_iou([[0, 0, -1, 1]], [[0, 0, 1, 1]])


def test_greedy_matching_takes_predictions_by_score():
  # A (0.9) overlaps X by 0.6 and Y by 0.7; B (0.8) overlaps only Y. Greedy by score: A takes Y,
  # B finds nothing, although A->X, B->Y would match both (greedy is not optimal, as in COCO).
  iou = np.array([[0.6, 0.7], [0.0, 0.6]])
  np.testing.assert_array_equal(detection.greedy_match(iou, [0.9, 0.8], 0.5), [1, -1])
  # Scores reversed: B takes Y first, A then takes X.
  np.testing.assert_array_equal(detection.greedy_match(iou, [0.7, 0.8], 0.5), [0, 1])
  np.testing.assert_array_equal(detection.greedy_match(iou, [0.9, 0.8], 0.65), [1, -1])
  np.testing.assert_array_equal(detection.greedy_match(iou, [0.9, 0.8], 0.75), [-1, -1])


def test_frame_counts_hand_case():
  gt = [[0, 0, 10, 10], [20, 0, 10, 10], [40, 0, 10, 10]]
  pred = [[0, 0, 10, 10], [1, 0, 10, 10], [21, 1, 10, 10], [80, 80, 5, 5]]
  # Pred 0 (score .9) takes gt 0; pred 1 duplicates it (FP); pred 2 takes gt 1 (IoU 81/119 =
  # 0.68); pred 3 hits nothing (FP); gt 2 is missed.
  counts = detection.frame_counts(pred, [0.9, 0.8, 0.7, 0.6], gt, 0.5)
  assert counts == detection.DetectionCounts(tp=2, fp=2, fn=1)
  assert counts.precision == 0.5 and counts.recall == pytest.approx(2 / 3)
  assert counts.f1 == pytest.approx(2 * 2 / (2 * 2 + 2 + 1))
  # At IoU 0.7, pred 2 no longer matches: 1 TP, 3 FP, 2 FN.
  assert detection.frame_counts(pred, [0.9, 0.8, 0.7, 0.6], gt, 0.7) == detection.DetectionCounts(1, 3, 2)


def test_ignored_truth_absorbs_predictions():
  gt = [[0, 0, 10, 10], [20, 0, 10, 10]]
  pred = [[0, 0, 10, 10], [20, 0, 10, 10], [20, 1, 10, 10]]
  counts = detection.frame_counts(pred, [0.9, 0.8, 0.7], gt, 0.5, gt_ignore=[False, True])
  assert counts == detection.DetectionCounts(tp=1, fp=0, fn=0)
  # An ignored object never counts as missed.
  assert detection.frame_counts(np.zeros((0, 4)), [], gt, 0.5, [True, True]) == detection.DetectionCounts()


def test_predictions_on_an_empty_frame_are_false_positives():
  # With an ignore array given for no truth at all (a frame with no objects), every prediction
  # is an FP; indexing the empty ignore array used to raise.
  counts = detection.frame_counts([[0, 0, 5, 5], [9, 9, 4, 4]], [0.9, 0.5], np.zeros((0, 4)), 0.5,
                                  gt_ignore=np.zeros(0, bool))
  assert counts == detection.DetectionCounts(tp=0, fp=2, fn=0)


def test_evaluate_per_class_and_agnostic():
  truth = _dets([[0, 0, 10, 10], [20, 0, 4, 10]], [1, 2])
  pred = _dets([[0, 0, 10, 10], [20, 0, 4, 10]], [1, 1], [0.9, 0.8])  # person called a car
  counts = detection.evaluate_detections([(pred, truth)])
  assert counts[1] == detection.DetectionCounts(1, 1, 0)
  assert counts[2] == detection.DetectionCounts(0, 0, 1)
  assert counts[detection.ALL] == detection.DetectionCounts(1, 1, 1)
  agnostic = detection.evaluate_detections([(pred, truth)], class_agnostic=True)
  assert agnostic == {detection.ALL: detection.DetectionCounts(2, 0, 0)}


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(0, 6))
def test_perfect_predictions_score_one(seed, num):
  rng = np.random.default_rng(seed)
  boxes = np.concatenate([rng.uniform(0, 100, (num, 2)), rng.uniform(1, 30, (num, 2))], axis=1)
  truth = _dets(boxes, rng.integers(1, 3, num))
  order = rng.permutation(num)
  pred = _dets(boxes[order], np.asarray(truth.categories)[order], rng.uniform(0, 1, num))
  counts = detection.evaluate_detections([(pred, truth), (_dets([], []), _dets([], []))])
  total = counts[detection.ALL]
  assert total.fp == total.fn == 0 and total.tp == num
  assert total.precision == total.recall == total.f1 == 1.


def test_evaluate_checks_ignore_shape():
  with pytest.raises(ValueError, match=r"gt_ignore\[0\]"):
    detection.evaluate_detections([(_dets([], []), _dets([[0, 0, 1, 1]], [1]))], gt_ignore=[np.zeros(2, bool)])


def test_greedy_match_iou_exactly_at_threshold_matches():
  iou = np.array([[0.5, 0.2]])
  np.testing.assert_array_equal(detection.greedy_match(iou, np.ones(1), 0.5), [0])
  np.testing.assert_array_equal(detection.greedy_match(iou, np.ones(1), 0.51), [-1])


def test_ignored_truth_absorbs_several_predictions():
  iou = np.array([[0.9], [0.8], [0.7]])
  ignore = np.array([True])
  np.testing.assert_array_equal(detection.greedy_match(iou, np.array([.9, .8, .7]), 0.5, ignore),
                                [0, 0, 0])
  # Not ignored, the truth takes only the best prediction.
  np.testing.assert_array_equal(detection.greedy_match(iou, np.array([.9, .8, .7]), 0.5), [0, -1, -1])


def test_nms_keeps_the_best_of_overlapping_boxes():
  boxes = np.array([[0., 0., 10., 20.], [1., 0., 10., 20.], [30., 0., 10., 20.]])
  np.testing.assert_array_equal(detection.nms(boxes, np.array([0.5, 0.9, 0.1]), 0.3), [1, 2])
