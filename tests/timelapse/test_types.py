"""FrameDetections: shapes checked on construction, selection and track ids keep rows aligned."""

import numpy as np
import pytest

from walt3d_jax.formats import rle
from walt3d_jax.timelapse.types import NUM_KEYPOINTS
from walt3d_jax.timelapse.types import Frame
from walt3d_jax.timelapse.types import FrameDetections


def _detections(n=3):
  masks = []
  for i in range(n):
    m = np.zeros((20, 30), bool)
    m[i:i + 5, i:i + 4] = True
    masks.append(rle.encode_mask(m))
  keypoints = np.arange(n * NUM_KEYPOINTS * 3, dtype=np.float32).reshape(n, NUM_KEYPOINTS, 3)
  return FrameDetections(
      image_id=4, boxes=[[i, i, 4, 5] for i in range(n)], scores=np.linspace(0.5, 0.9, n),
      categories=[1, 2, 1][:n], masks=tuple(masks), keypoints=keypoints, track_ids=[-1] * n,
  )


def test_dtypes_are_coerced():
  d = _detections()
  assert (d.boxes.dtype, d.scores.dtype, d.categories.dtype, d.keypoints.dtype, d.track_ids.dtype) == (
      np.float32, np.float32, np.int32, np.float32, np.int64)
  assert d.num == 3


def test_empty():
  e = FrameDetections.empty(7)
  assert e.num == 0 and e.image_id == 7
  assert e.boxes.shape == (0, 4) and e.keypoints.shape == (0, NUM_KEYPOINTS, 3) and e.masks == ()


def test_select_keeps_rows_aligned():
  d = _detections()
  s = d.select([2, 0])
  np.testing.assert_array_equal(s.boxes, d.boxes[[2, 0]])
  np.testing.assert_array_equal(s.keypoints[1], d.keypoints[0])
  assert s.masks == (d.masks[2], d.masks[0])
  b = d.select(np.array([False, True, False]))
  assert b.num == 1 and b.masks == (d.masks[1],)
  assert d.select([]).num == 0


def test_select_rejects_out_of_range_and_wrong_mask_length():
  d = _detections()
  with pytest.raises(ValueError, match="out of range"):
    d.select([3])
  with pytest.raises(ValueError, match="bool selection"):
    d.select(np.array([True, False]))


def test_with_track_ids():
  d = _detections().with_track_ids([5, 6, 7])
  np.testing.assert_array_equal(d.track_ids, [5, 6, 7])
  assert d.track_ids.dtype == np.int64


@pytest.mark.parametrize("field, value, message", [
    ("boxes", np.zeros((3, 5)), "boxes must be"),
    ("scores", np.zeros(2), "scores must be"),
    ("categories", np.zeros((3, 1)), "categories must be"),
    ("keypoints", np.zeros((3, 12, 3)), "keypoints must be"),
    ("track_ids", np.zeros(4), "track_ids must be"),
    ("masks", (), "masks must hold 3"),
    ("masks", ({"size": [2, 2]},) * 3, r"masks\[0\] must be a COCO RLE"),
    ("boxes", np.full((3, 4), np.nan), "NaN"),
    ("keypoints", np.full((3, NUM_KEYPOINTS, 3), np.inf), "NaN or infinity"),
    ("boxes", np.array([[0, 0, -1, 2]] * 3), "negative width"),
])
def test_bad_fields_are_named(field, value, message):
  d = _detections()
  kwargs = {f: getattr(d, f) for f in ("image_id", "boxes", "scores", "categories", "masks", "keypoints", "track_ids")}
  kwargs[field] = value
  with pytest.raises(ValueError, match=message):
    FrameDetections(**kwargs)


def test_frame_is_a_named_tuple():
  f = Frame(3, 0.25, np.zeros((2, 3, 3), np.uint8), "x.jpg")
  assert f.index == 3 and f.time == 0.25 and f.name == "x.jpg" and tuple(f)[0] == 3


def test_concatenate_keeps_the_parts_in_order_and_refuses_other_images():
  a = FrameDetections(3, [[0, 0, 2, 2]], [0.5], [1], [rle.encode_mask(np.ones((4, 4), bool))],
                      np.zeros((1, NUM_KEYPOINTS, 3)), [7])
  b = FrameDetections(3, [[1, 1, 1, 1], [2, 2, 1, 1]], [0.9, 0.1], [2, 1],
                      [rle.encode_mask(np.zeros((4, 4), bool))] * 2, np.ones((2, NUM_KEYPOINTS, 3)), [-1, 4])
  both = FrameDetections.concatenate([a, FrameDetections.empty(3), b])
  assert both.num == 3 and both.image_id == 3
  np.testing.assert_array_equal(both.categories, [1, 2, 1])
  np.testing.assert_array_equal(both.track_ids, [7, -1, 4])
  assert both.masks == a.masks + b.masks and both.keypoints[1:].all() and not both.keypoints[0].any()
  with pytest.raises(ValueError, match="parts of images"):
    FrameDetections.concatenate([a, FrameDetections.empty(4)])
  with pytest.raises(ValueError, match="nothing to concatenate"):
    FrameDetections.concatenate([])
