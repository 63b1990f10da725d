import cv2
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_utils

from walt3d_jax.formats import rle


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.integers(0, 2**31 - 1))
def test_encode_decode_round_trip(height, width, seed):
  mask = np.random.default_rng(seed).uniform(size=(height, width)) < 0.3
  encoded = rle.encode_mask(mask)
  assert encoded["size"] == [height, width]
  assert isinstance(encoded["counts"], str)
  np.testing.assert_array_equal(rle.decode_mask(encoded), mask)
  # pycocotools reads our dict back with the same area.
  assert mask_utils.area({"size": encoded["size"], "counts": encoded["counts"].encode()}) == mask.sum()
  assert rle.areas([encoded, encoded]).tolist() == [mask.sum()] * 2


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_mask_box_matches_opencv(seed):
  rng = np.random.default_rng(seed)
  mask = np.zeros((30, 50), bool)
  x0, y0 = rng.integers(0, 40), rng.integers(0, 20)
  mask[y0 : y0 + rng.integers(1, 10), x0 : x0 + rng.integers(1, 10)] = True
  assert rle.mask_box(mask) == list(map(float, cv2.boundingRect(mask.astype(np.uint8))))


def test_mask_box_of_empty_mask_is_zero():
  assert rle.mask_box(np.zeros((4, 4), bool)) == [0.0, 0.0, 0.0, 0.0]


def test_encode_rejects_non_2d():
  import pytest

  with pytest.raises(ValueError, match="must be"):
    rle.encode_mask(np.zeros((2, 2, 2), bool))
