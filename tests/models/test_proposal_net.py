"""The proposal network: shapes, its input normalisation, and the decoder on hand-made maps."""

import jax
import numpy as np
import pytest

from walt3d_jax.models import amodal
from walt3d_jax.models import proposal_net


@pytest.fixture(scope="module")
def tiny():
  return proposal_net.create("tiny", 0)


def test_maps_are_at_stride_four_with_boxes_of_positive_extent(tiny):
  rng = np.random.default_rng(0)
  images = rng.integers(0, 255, (2, 36, 52, 3), np.uint8)
  out = tiny(images, images[::-1])
  assert out["heatmap"].shape == (2, 9, 13, amodal.NUM_CLASSES)
  assert out["ltrb"].shape == (2, 9, 13, 4)
  assert bool((np.asarray(out["ltrb"]) > 0).all())
  # Most cells hold no object: an untrained network starts near the prior.
  np.testing.assert_allclose(np.asarray(jax.nn.sigmoid(out["heatmap"])).mean(), 0.01, rtol=0.5)


def test_mismatched_frame_and_background_are_refused(tiny):
  with pytest.raises(ValueError, match=r"must both be \(B, H, W, 3\)"):
    tiny(np.zeros((1, 32, 32, 3), np.uint8), np.zeros((1, 32, 48, 3), np.uint8))
  with pytest.raises(ValueError, match="unknown variant"):
    proposal_net.create("huge")


def test_inputs_bring_a_dark_frame_to_the_level_of_a_bright_one():
  rng = np.random.default_rng(1)
  bright_bg = rng.integers(60, 140, (1, 8, 8, 3)).astype(np.float32)
  bright = bright_bg.copy()
  bright[0, 2:5, 2:5] += 40
  dark_bg, dark = bright_bg / 4, bright / 4  # the same scene a quarter as bright
  a, b = np.asarray(proposal_net.inputs(bright, bright_bg)), np.asarray(proposal_net.inputs(dark, dark_bg))
  np.testing.assert_allclose(a, b, atol=1e-5)
  # The difference channels are zero where the frame shows the background.
  assert np.abs(a[0, 6:, 6:, 6:]).max() == 0 and np.abs(a[0, 3, 3, 6:]).min() > 0


def test_decode_takes_peaks_with_their_boxes_and_classes():
  h, w = 6, 8
  heat = np.full((1, h, w, 2), -8.0, np.float32)
  heat[0, 2, 3, 1] = 2.0  # a person's centre at cell (2, 3) ...
  heat[0, 2, 4, 1] = 1.0  # ... and a weaker neighbour, no peak
  heat[0, 4, 6, 0] = 0.5  # a car's centre
  ltrb = np.ones((1, h, w, 4), np.float32)
  ltrb[0, 2, 3] = (3.0, 10.0, 5.0, 6.0)
  det = proposal_net.decode({"heatmap": heat, "ltrb": ltrb}, 3)
  centre = amodal.cell_centres(h, w).reshape(h, w, 2)
  u, v = (float(c) for c in centre[2, 3])
  np.testing.assert_allclose(det["boxes"][0, 0], [u - 3, v - 10, u + 5, v + 6], atol=1e-5)
  np.testing.assert_allclose(det["scores"][0, :2], jax.nn.sigmoid(np.array([2.0, 0.5])), rtol=1e-6)
  np.testing.assert_array_equal(det["categories"][0, :2], [2, 1])
  assert float(det["scores"][0, 2]) < 1e-3  # the neighbour was suppressed: the third is background
