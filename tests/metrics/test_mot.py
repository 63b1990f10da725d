"""CLEAR MOT and IDF1 against hand-computed sequences (incl. py-motmetrics' documented example)."""

import dataclasses
import types

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
import pytest

from walt3d_jax.metrics import mot


def _frame(ids, boxes, categories=None):
  ids = np.asarray(ids, np.int64)
  categories = np.ones(len(ids), np.int32) if categories is None else np.asarray(categories)
  return types.SimpleNamespace(track_ids=ids, boxes=np.asarray(boxes, np.float32).reshape(-1, 4),
                               categories=categories)


def test_py_motmetrics_readme_example():
  # py-motmetrics' README example, distances d turned into similarities 1 - d (NaN: no pair).
  nan = np.nan
  frames = [
      mot.MotFrame([1, 2], [1, 2, 3], 1 - np.array([[0.1, nan, 0.3], [0.5, 0.2, 0.3]])),
      mot.MotFrame([1, 2], [1], 1 - np.array([[0.2], [0.4]])),
      # Hungarian alone would pair 1-3 (0.2) and 2-1 (0.1); CLEAR MOT keeps 1-1 while valid,
      # and object 2 switches from hypothesis 2 to 3.
      mot.MotFrame([1, 2], [1, 3], 1 - np.array([[0.6, 0.2], [0.1, 0.6]])),
  ]
  scores = mot.clear_mot(frames, iou_threshold=0.01)
  assert (scores.num_gt, scores.matches, scores.fn, scores.fp, scores.id_switches) == (6, 5, 1, 1, 1)
  assert scores.mota == pytest.approx(0.5)
  assert scores.motp == pytest.approx(1 - 0.34)
  # Trajectory agreement: best one-to-one is gt1-h1 (3 frames) + gt2-h3 (2 frames): IDTP 5.
  assert (scores.idtp, scores.idfp, scores.idfn) == (5, 1, 1)
  assert scores.idf1 == pytest.approx(10 / 12)


def test_swapped_identities_at_a_crossing():
  a = [[0, 0, 10, 10], [10, 0, 10, 10], [20, 0, 10, 10], [30, 0, 10, 10]]
  b = [[30, 20, 10, 10], [20, 20, 10, 10], [10, 20, 10, 10], [0, 20, 10, 10]]
  truth = [_frame([1, 2], [a[t], b[t]]) for t in range(4)]
  # The tracker follows A with id 7 for two frames, then B (and the other way round).
  hyp = [_frame([7, 8], [a[t], b[t]] if t < 2 else [b[t], a[t]]) for t in range(4)]
  scores = mot.evaluate_tracking(truth, hyp)
  assert scores.id_switches == 2 and scores.fn == scores.fp == 0
  assert scores.mota == pytest.approx(1 - 2 / 8)
  assert scores.idtp == 4 and scores.idf1 == pytest.approx(0.5)


def test_gap_then_same_id_is_no_switch_new_id_is_one():
  box = [0, 0, 10, 10]
  truth = [_frame([1], [box])] * 4
  same = [_frame([5], [box]), _frame([], []), _frame([5], [box]), _frame([5], [box])]
  scores = mot.evaluate_tracking(truth, same)
  assert (scores.fn, scores.fp, scores.id_switches) == (1, 0, 0)
  assert scores.mota == pytest.approx(0.75) and scores.idf1 == pytest.approx(6 / 7)
  new = [_frame([5], [box]), _frame([], []), _frame([6], [box]), _frame([6], [box])]
  scores = mot.evaluate_tracking(truth, new)
  assert (scores.fn, scores.fp, scores.id_switches) == (1, 0, 1)
  assert scores.mota == pytest.approx(0.5)
  assert scores.idtp == 2 and scores.idf1 == pytest.approx(4 / 7)


def test_threshold_and_untracked_and_category_filters():
  truth = [_frame([1, 2], [[0, 0, 10, 10], [50, 0, 4, 10]], [1, 2])]
  hyp = [_frame([3, -1, 4], [[2, 0, 10, 10], [50, 0, 4, 10], [50, 0, 4, 10]], [1, 2, 2])]
  scores = mot.evaluate_tracking(truth, hyp)  # -1 dropped; IoU 80/120 > 0.5
  assert (scores.matches, scores.fp, scores.fn) == (2, 0, 0)
  assert mot.evaluate_tracking(truth, hyp, iou_threshold=0.7).matches == 1
  cars = mot.evaluate_tracking(truth, hyp, category=1)
  assert (cars.num_gt, cars.num_hyp, cars.matches) == (1, 1, 1)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_perfect_tracking_scores_one_and_ids_are_names(seed):
  rng = np.random.default_rng(seed)
  num_tracks, num_frames = int(rng.integers(1, 6)), int(rng.integers(1, 8))
  starts = rng.uniform(0, 200, (num_tracks, 2))
  velocity = rng.uniform(-5, 5, (num_tracks, 2))
  size = rng.uniform(5, 30, (num_tracks, 2))
  present = rng.uniform(size=(num_frames, num_tracks)) < 0.8
  rename = rng.permutation(1000)[:num_tracks] + 10
  truth, hyp = [], []
  for t in range(num_frames):
    idx = np.flatnonzero(present[t])
    boxes = np.concatenate([starts[idx] + t * velocity[idx], size[idx]], axis=1)
    truth.append(_frame(idx + 1, boxes))
    order = rng.permutation(len(idx))
    hyp.append(_frame(rename[idx][order], boxes[order]))
  scores = mot.evaluate_tracking(truth, hyp)
  assert scores.mota == 1. and scores.idf1 == 1. and scores.id_switches == 0
  assert scores.num_hyp_tracks == scores.num_gt_tracks


def test_pooled_scores_are_those_of_the_sequences_end_to_end():
  rng = np.random.default_rng(4)
  sequences = []
  for offset in (0, 100):  # ids kept apart between the sequences
    truth, hyp = [], []
    for _ in range(6):
      boxes = rng.uniform(0, 60, (4, 2)).round()
      boxes = np.concatenate([boxes, np.full((4, 2), 12.)], axis=1)
      keep = rng.uniform(size=4) < 0.8
      truth.append(_frame(np.flatnonzero(keep) + 1 + offset, boxes[keep]))
      jitter = boxes + rng.normal(0, 2, boxes.shape)
      ids = rng.permutation(5)[:4] + 1 + offset  # switches and misses happen
      found = rng.uniform(size=4) < 0.7
      hyp.append(_frame(ids[found], jitter[found]))
    sequences.append((truth, hyp))
  parts = [mot.evaluate_tracking(t, h) for t, h in sequences]
  whole = mot.evaluate_tracking(sequences[0][0] + sequences[1][0], sequences[0][1] + sequences[1][1])
  together = mot.pooled(parts)
  assert together == dataclasses.replace(whole, motp=together.motp)
  assert together.motp == pytest.approx(whole.motp)
  assert together.mota == pytest.approx(whole.mota)
  assert together.mota != pytest.approx(np.mean([p.mota for p in parts]))  # not a mean of MOTAs
  with pytest.raises(ValueError, match="no scores"):
    mot.pooled([])


def test_empty_and_bad_inputs():
  scores = mot.evaluate_tracking([_frame([], [])] * 3, [_frame([], [])] * 3)
  assert scores.mota == 1. and scores.idf1 == 1. and scores.num_frames == 3
  assert mot.evaluate_tracking([_frame([], [])], [_frame([1], [[0, 0, 1, 1]])]).mota == -np.inf
  with pytest.raises(ValueError, match="unique"):
    mot.clear_mot([mot.MotFrame([1, 1], [], np.zeros((2, 0)))])
  with pytest.raises(ValueError, match="truth frames"):
    mot.evaluate_tracking([_frame([], [])], [])
