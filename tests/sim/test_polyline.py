import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from walt3d_jax.sim import polyline


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_distance_matches_dense_sampling(seed):
  rng = np.random.default_rng(seed)
  line = np.cumsum(rng.normal(size=(int(rng.integers(2, 6)), 2)) * 5, axis=0)
  points = rng.uniform(-20, 20, size=(50, 2))
  dense, _ = polyline.resample(line, 0.001)
  brute = np.min(np.linalg.norm(points[:, None] - dense[None], axis=-1), axis=1)
  np.testing.assert_allclose(polyline.distance_to_polyline(line, points), brute, atol=1e-3)


def test_resample_keeps_ends_and_spacing():
  line = np.array([[0.0, 0.0], [3.0, 0.0], [3.0, 4.0]])
  points, s = polyline.resample(line, 0.5)
  np.testing.assert_allclose(points[[0, -1]], line[[0, -1]])
  np.testing.assert_allclose(s[-1], 7.0)
  np.testing.assert_allclose(np.diff(s), 0.5)
  assert polyline.distance_to_polyline(line, points).max() < 1e-12
