"""PCK@α against cases worked out by hand."""

import numpy as np
import pytest

from walt3d_jax.metrics import keypoints


def test_threshold_is_alpha_times_the_longer_box_side():
  # Box 40 x 20: radius 0.1 * 40 = 4 px. Errors 3.9 (in), 4.0 (on the circle: out, strict <),
  # 5 (3-4-5 triangle: out).
  truth = np.zeros((1, 3, 2))
  pred = np.array([[[3.9, 0], [0, 4.0], [3, 4]]])
  np.testing.assert_array_equal(
      keypoints.keypoint_correct(pred, truth, [[0, 0, 40, 20]], 0.1), [[True, False, False]])
  np.testing.assert_array_equal(
      keypoints.keypoint_correct(pred, truth, [[0, 0, 20, 60]], 0.1), [[True, True, True]])


def test_pck_split_by_state_and_class():
  # Two cars (box 100 wide: radius 10) and one person (box 10 x 50: radius 5), 3 slots each.
  truth = np.zeros((3, 3, 2))
  pred = np.array([
      [[1, 0], [20, 0], [0, 0]],   # car 1: states visible, self-occluded, outside
      [[0, 9], [0, 11], [5, 0]],   # car 2: visible, occluded by others, occluded by others
      [[4, 0], [6, 0], [0, 0]],    # person: visible, visible, occluded by others
  ], float)
  states = np.array([[0, 1, 3], [0, 2, 2], [0, 0, 2]])
  boxes = [[0, 0, 100, 30], [0, 0, 100, 30], [0, 0, 10, 50]]
  r = keypoints.pck(pred, truth, states, boxes, [1, 1, 2], alpha=0.1)
  # cars: visible 2/2; self-occluded 0/1 (20 px); occluded by others 1/2 (11 px out, 5 in);
  # the outside keypoint (state 3) is not scored even though it is exact.
  assert r[1]["visible"] == {"pck": 1.0, "correct": 2, "count": 2}
  assert r[1]["self_occluded"] == {"pck": 0.0, "correct": 0, "count": 1}
  assert r[1]["occluded_by_others"] == {"pck": 0.5, "correct": 1, "count": 2}
  assert r[1]["all"] == {"pck": 0.6, "correct": 3, "count": 5}
  # person: visible 1/2 (6 px > 5), occluded by others 1/1; no self-occluded keypoint.
  assert r[2]["visible"]["pck"] == 0.5 and r[2]["occluded_by_others"]["pck"] == 1.0
  assert r[2]["self_occluded"] == {"pck": None, "correct": 0, "count": 0}
  assert r["all"]["all"] == {"pck": 5 / 8, "correct": 5, "count": 8}


def test_pck_by_occlusion_bin():
  truth = np.zeros((2, 1, 2))
  pred = np.array([[[0, 0]], [[50, 0]]], float)  # object 0 right, object 1 wrong
  r = keypoints.pck(pred, truth, [[0], [2]], [[0, 0, 10, 10]] * 2, [1, 1], occlusion=[0.05, 0.65])
  assert r["bins"]["0.0-0.1"]["all"]["all"]["pck"] == 1.0
  assert r["bins"]["0.6-0.7"]["all"]["all"]["pck"] == 0.0
  assert r["bins"]["L3"][1]["occluded_by_others"]["count"] == 1
  assert r["bins"]["0.3-0.4"]["all"]["all"]["pck"] is None


def test_bad_input():
  with pytest.raises(ValueError, match=r"\(N, K, 2\)"):
    keypoints.keypoint_correct(np.zeros((1, 2, 2)), np.zeros((1, 3, 2)), [[0, 0, 1, 1]], 0.1)
  with pytest.raises(ValueError, match="alpha"):
    keypoints.keypoint_correct(np.zeros((1, 2, 2)), np.zeros((1, 2, 2)), [[0, 0, 1, 1]], 1.5)
