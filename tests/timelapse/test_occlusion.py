"""WALT's δ heuristic: the direction of the depth test, the overlap definition, truncation."""

import numpy as np
import pytest

from walt3d_jax.timelapse import occlusion

IMAGE = (200, 100)  # width, height


def test_a_box_lower_in_the_image_occludes_one_higher_up():
  far = [50, 20, 40, 30]  # bottom at 50
  near = [70, 30, 40, 30]  # bottom at 60: nearer the camera, covers a third of `far`
  keep, reasons = occlusion.heuristic_unoccluded(np.array([far, near]), IMAGE, delta=0.1, margin=2)
  np.testing.assert_array_equal(keep, [False, True])
  assert reasons[0] == occlusion.Reason.OCCLUDED and reasons[1] == occlusion.Reason.NONE


def test_the_test_follows_the_bottoms_not_the_list_order():
  far, near = [50, 20, 40, 30], [70, 30, 40, 30]
  keep, _ = occlusion.heuristic_unoccluded(np.array([near, far]), IMAGE, delta=0.1, margin=2)
  np.testing.assert_array_equal(keep, [True, False])


def test_overlap_is_the_covered_fraction_of_the_objects_own_box():
  big = [10, 10, 100, 50]  # bottom 60
  small = [20, 40, 10, 30]  # bottom 70, inside `big` for 10×20 pixels
  fraction = occlusion.overlap_fractions(np.array([big, small]))
  np.testing.assert_allclose(fraction, [[0.0, 200 / 5000], [200 / 300, 0.0]])
  # Covering 4 % of the big box: occluded at δ = 0.01, not at δ = 0.1 (strict "> δ").
  assert occlusion.occluded_by_nearer(np.array([big, small]), 0.01)[0]
  assert not occlusion.occluded_by_nearer(np.array([big, small]), 0.1)[0]
  assert not occlusion.occluded_by_nearer(np.array([big, small]), 0.04)[0]


def test_identical_boxes_and_a_larger_delta_keep_more():
  # WALT's public code lets identical boxes (IoU 1) through.
  # The right test flags both (equal bottoms: the depth order is unknown).
  same = np.array([[40, 20, 30, 30], [40, 20, 30, 30]], float)
  np.testing.assert_array_equal(occlusion.occluded_by_nearer(same, 0.5), [True, True])
  one_lower = np.array([[40, 20, 30, 30], [40, 20, 30, 31]], float)
  np.testing.assert_array_equal(occlusion.occluded_by_nearer(one_lower, 0.5), [True, False])
  rng = np.random.default_rng(0)
  xy = rng.uniform(10, 150, (30, 2))
  boxes = np.column_stack([xy, rng.uniform(5, 40, (30, 2))])
  kept = [occlusion.heuristic_unoccluded(boxes, (400, 400), d, 0)[0].sum() for d in (0.01, 0.1, 0.2, 0.5)]
  assert kept == sorted(kept) and kept[-1] > kept[0]


def test_vectorised_agrees_with_a_pairwise_loop():
  rng = np.random.default_rng(1)
  boxes = np.column_stack([rng.uniform(0, 150, (25, 2)), rng.uniform(1, 50, (25, 2))])
  valid = rng.uniform(size=25) > 0.2
  expected = []
  for i, (x, y, w, h) in enumerate(boxes):
    hit = False
    for j, (u, v, s, t) in enumerate(boxes):
      inter = max(0, min(x + w, u + s) - max(x, u)) * max(0, min(y + h, v + t) - max(y, v))
      hit |= j != i and valid[j] and v + t >= y + h and inter / (w * h) > 0.2
    expected.append(bool(valid[i] and hit))
  np.testing.assert_array_equal(occlusion.occluded_by_nearer(boxes, 0.2, valid), expected)


def test_truncation_at_each_border_within_the_margin():
  boxes = np.array([
      [0, 40, 10, 10], [190, 40, 10, 10], [80, 0, 10, 10], [80, 90, 10, 10],  # touching
      [3, 60, 10, 10], [80, 40, 10, 10],  # 3 px from the left border; in the middle
  ], float)
  np.testing.assert_array_equal(occlusion.truncated_at_border(boxes, IMAGE, margin=2),
                                [True] * 4 + [False, False])
  np.testing.assert_array_equal(occlusion.truncated_at_border(boxes, IMAGE, margin=3),
                                [True] * 5 + [False])
  keep, reasons = occlusion.heuristic_unoccluded(boxes, IMAGE, 0.1, 2)
  np.testing.assert_array_equal(keep, [False] * 4 + [True, True])
  assert all(r == occlusion.Reason.TRUNCATED for r in reasons[:4])


def test_padding_rows_neither_occlude_nor_are_kept():
  boxes = np.array([[50, 20, 40, 30], [50, 20, 40, 40]], float)
  keep, reasons = occlusion.heuristic_unoccluded(boxes, IMAGE, 0.1, 2, valid=np.array([True, False]))
  np.testing.assert_array_equal(keep, [True, False])
  np.testing.assert_array_equal(reasons, [0, 0])


def test_empty_frame_and_bad_inputs():
  keep, reasons = occlusion.heuristic_unoccluded(np.zeros((0, 4)), IMAGE, 0.1, 2)
  assert keep.shape == reasons.shape == (0,)
  with pytest.raises(ValueError, match="boxes must be"):
    occlusion.heuristic_unoccluded(np.zeros((3, 3)), IMAGE, 0.1, 2)
  with pytest.raises(ValueError, match="negative"):
    occlusion.heuristic_unoccluded(np.array([[0, 0, -1, 2]]), IMAGE, 0.1, 2)
  with pytest.raises(ValueError, match="NaN"):
    occlusion.heuristic_unoccluded(np.array([[0, 0, np.nan, 2]]), IMAGE, 0.1, 2)
  with pytest.raises(ValueError, match="delta"):
    occlusion.heuristic_unoccluded(np.array([[0, 0, 1, 2]]), IMAGE, 1.5, 2)
