"""Footprint overlap against brute force: dense point samples of both shapes (numpy, scipy)."""

import hypothesis
import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.spatial import cKDTree

from walt3d_jax.geometry import footprint

_separation = jax.jit(footprint.separation)
_overlap = jax.jit(footprint.overlap)
_pairwise = jax.jit(footprint.pairwise_overlap)

# Boundary samples per shape; the sampled distance overestimates the true one by at most about
# half the spacing (perimeter <= 24 m / 4000 samples = 6 mm).
_BOUNDARY_SAMPLES = 4000
_TOL = 0.01


def _single(centre, yaw, half, is_disc) -> footprint.Footprints:
  return footprint.Footprints(
      centre=jnp.asarray(centre, jnp.float32), yaw=jnp.float32(yaw),
      half_size=jnp.asarray(half, jnp.float32), is_disc=jnp.bool_(is_disc))


def _boundary(fp: footprint.Footprints) -> np.ndarray:
  """(_BOUNDARY_SAMPLES, 2) points on the footprint's outline."""
  c, yaw = np.asarray(fp.centre, float), float(fp.yaw)
  hl, hw = np.asarray(fp.half_size, float)
  s = np.linspace(0., 1., _BOUNDARY_SAMPLES, endpoint=False)
  if bool(fp.is_disc):
    return c + hl * np.stack([np.cos(2 * np.pi * s), np.sin(2 * np.pi * s)], -1)
  # Walk the perimeter at constant arc length.
  perim = 4 * (hl + hw)
  u = s * perim
  pts = np.empty((len(s), 2))
  for lo, hi, f in [
      (0, 2 * hl, lambda t: (-hl + t, -hw + 0 * t)),
      (2 * hl, 2 * hl + 2 * hw, lambda t: (hl + 0 * t, -hw + t)),
      (2 * hl + 2 * hw, 4 * hl + 2 * hw, lambda t: (hl - t, hw + 0 * t)),
      (4 * hl + 2 * hw, perim, lambda t: (-hl + 0 * t, hw - t))]:
    m = (u >= lo) & (u < hi)
    pts[m] = np.stack(f(u[m] - lo), -1)
  rot = np.array([[np.cos(yaw), -np.sin(yaw)], [np.sin(yaw), np.cos(yaw)]])
  return c + pts @ rot.T


def _contains(fp: footprint.Footprints, pts: np.ndarray) -> np.ndarray:
  """(M,) bool: which points lie in the closed footprint."""
  d = pts - np.asarray(fp.centre, float)
  hl, hw = np.asarray(fp.half_size, float)
  if bool(fp.is_disc):
    return np.linalg.norm(d, axis=-1) <= hl
  yaw = float(fp.yaw)
  x = np.cos(yaw) * d[:, 0] + np.sin(yaw) * d[:, 1]
  y = -np.sin(yaw) * d[:, 0] + np.cos(yaw) * d[:, 1]
  return (np.abs(x) <= hl) & (np.abs(y) <= hw)


def _brute_separation(a, b) -> float:
  """Outline-to-outline distance, negated when one shape reaches into the other.

  Two overlapping shapes either cross outlines (distance ~ 0) or one outline lies inside the
  other; the sign comes from whether any outline sample lies inside the other shape.
  """
  ba, bb = _boundary(a), _boundary(b)
  dist = cKDTree(ba).query(bb)[0].min()
  inside = _contains(b, ba).any() or _contains(a, bb).any()
  return -dist if inside else dist


_shapes = st.tuples(
    st.tuples(st.floats(-4, 4), st.floats(-4, 4)),
    st.floats(-np.pi, np.pi),
    st.tuples(st.floats(0.1, 3.), st.floats(0.1, 3.)),
    st.booleans(),
).map(lambda s: _single(*s))

_settings = hypothesis.settings(max_examples=50, deadline=None, derandomize=True)


@_settings
@hypothesis.given(_shapes, _shapes)
def test_separation_matches_dense_sampling(a, b):
  sep = float(_separation(a, b))
  brute = _brute_separation(a, b)
  if brute > _TOL:
    # Apart: the exact distance, within the sampling error.
    assert sep == pytest.approx(brute, abs=_TOL)
    assert not bool(_overlap(a, b))
  elif brute <= 0.:
    # A sample of one outline lies in the other shape: the closed shapes meet.
    assert sep <= 1e-5
  if sep < -_TOL:
    # A clear overlap must show up in the samples.
    assert brute <= 0.
    assert bool(_overlap(a, b))


@_settings
@hypothesis.given(_shapes, _shapes, st.floats(0., 2.), st.floats(0., 2.))
def test_overlap_symmetric_and_margin_monotone(a, b, m1, m2):
  assert float(_separation(a, b)) == pytest.approx(float(_separation(b, a)), abs=1e-5)
  assert bool(_overlap(a, b, m1)) == bool(_overlap(b, a, m1))
  lo, hi = min(m1, m2), max(m1, m2)
  if bool(_overlap(a, b, lo)):
    assert bool(_overlap(a, b, hi))


def test_rotated_squares_apart_along_a_diagonal():
  # Two unit squares rotated 45 degrees, corner to corner along x: the axis-aligned bounding
  # boxes overlap, but the squares are 0.1 m apart.
  r = np.sqrt(0.5)
  a = _single([0., 0.], np.pi / 4, [0.5, 0.5], False)
  b = _single([2 * r + 0.1, 0.], np.pi / 4, [0.5, 0.5], False)
  assert float(_separation(a, b)) == pytest.approx(0.1, abs=1e-5)
  assert not bool(_overlap(a, b))
  assert bool(_overlap(a, b, 0.11))
  assert not bool(_overlap(a, b, 0.09))


def test_disc_near_rectangle_corner():
  # The disc's bounding square overlaps the rectangle's corner, the disc itself does not.
  rect = _single([0., 0.], 0., [2., 1.], False)
  disc = _single([2.5, 1.5], 0., [0.6, 0.6], True)
  assert float(_separation(rect, disc)) == pytest.approx(np.sqrt(0.5) - 0.6, abs=1e-5)
  assert not bool(_overlap(rect, disc))
  disc_in = _single([2.3, 1.3], 0., [0.6, 0.6], True)
  assert bool(_overlap(rect, disc_in))


def test_disc_inside_rectangle_and_rectangle_inside_rectangle():
  big = _single([0., 0.], 0.3, [3., 2.], False)
  assert bool(_overlap(big, _single([0.1, 0.], 0., [0.2, 0.2], True)))
  assert bool(_overlap(big, _single([0., 0.1], 1.0, [0.5, 0.3], False)))


def test_discs_touching_is_not_overlap():
  a = _single([0., 0.], 0., [1., 1.], True)
  b = _single([2., 0.], 0., [1., 1.], True)
  assert float(_separation(a, b)) == pytest.approx(0., abs=1e-6)
  assert not bool(_overlap(a, b))
  assert bool(_overlap(a, b, 0.01))


def test_rectangle_corners_order_and_extent():
  corners = np.asarray(footprint.rectangle_corners(
      jnp.array([1., 2.]), jnp.float32(np.pi / 2), jnp.array([2., 1.])))
  # Heading +y: the front-right corner is at +2 along y and 1 towards +x (right of heading).
  np.testing.assert_allclose(corners, [[2., 4.], [0., 4.], [0., 0.], [2., 0.]], atol=1e-6)
  # Counter-clockwise: positive shoelace area = length * width.
  x, y = corners[:, 0], corners[:, 1]
  area = 0.5 * np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)
  assert area == pytest.approx(8., abs=1e-5)


def test_pairwise_overlap_matches_pairs_with_false_diagonal_and_padding():
  rng = np.random.default_rng(0)
  n = 12
  fp = footprint.concatenate([
      footprint.rectangles(rng.uniform(-6, 6, (8, 2)), rng.uniform(-np.pi, np.pi, 8),
                           rng.uniform(3.5, 5., 8), rng.uniform(1.6, 2., 8)),
      footprint.discs(rng.uniform(-6, 6, (4, 2)), 0.3)])
  valid = np.ones(n, bool)
  valid[[3, 10]] = False
  got = np.asarray(_pairwise(fp, jnp.asarray(valid), 0.2))
  assert got.shape == (n, n)
  assert not got.diagonal().any()
  np.testing.assert_array_equal(got, got.T)
  for i in range(n):
    for j in range(n):
      want = i != j and valid[i] and valid[j] and bool(_overlap(fp[i], fp[j], 0.2))
      assert got[i, j] == want, (i, j)
  assert got.any(), 'the scene should contain at least one overlapping pair'


def test_float64_footprints_keep_their_precision():
  with jax.enable_x64(True):
    a = footprint.rectangles(jnp.array([0., 0.]), 0., 4., 2.)
    b = footprint.discs(jnp.array([2. + 1e-9 + 0.5, 0.]), 0.5)
    sep = footprint.separation(a, b)
    assert sep.dtype == jnp.float64
    assert float(sep) == pytest.approx(1e-9, abs=1e-12)
