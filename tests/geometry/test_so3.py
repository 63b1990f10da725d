"""so3 against scipy.spatial.transform.Rotation."""

import hypothesis
import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from walt3d_jax.geometry import so3

_settings = hypothesis.settings(max_examples=50, deadline=None, derandomize=True)
_rotvec_to_matrix = jax.jit(so3.rotvec_to_matrix)
_matrix_to_rotvec = jax.jit(so3.matrix_to_rotvec)
_geodesic = jax.jit(so3.geodesic_angle)

_unit = st.tuples(*[st.floats(-1, 1)] * 3).filter(lambda v: np.linalg.norm(v) > 0.1).map(
    lambda v: np.asarray(v) / np.linalg.norm(v))


def test_elementary_rotations_match_scipy():
  angles = np.linspace(-np.pi, np.pi, 7)
  for axis, fn in zip('xyz', (so3.rot_x, so3.rot_y, so3.rot_z)):
    got = np.asarray(fn(jnp.asarray(angles)))
    assert got.shape == (7, 3, 3)
    want = Rotation.from_euler(axis, angles[:, None]).as_matrix()
    np.testing.assert_allclose(got, want, atol=1e-6)


@_settings
@hypothesis.given(_unit, st.floats(0., np.pi))
def test_rotvec_to_matrix_matches_scipy(axis, angle):
  rotvec = axis * angle
  np.testing.assert_allclose(np.asarray(_rotvec_to_matrix(jnp.asarray(rotvec, jnp.float32))),
                             Rotation.from_rotvec(rotvec).as_matrix(), atol=2e-6)


@_settings
@hypothesis.given(_unit, st.floats(0., np.pi - 1e-3))
def test_matrix_to_rotvec_matches_scipy(axis, angle):
  mat = Rotation.from_rotvec(axis * angle).as_matrix()
  got = np.asarray(_matrix_to_rotvec(jnp.asarray(mat, jnp.float32)))
  np.testing.assert_allclose(got, Rotation.from_matrix(mat).as_rotvec(), atol=2e-5)


@pytest.mark.parametrize('angle', [0., 1e-7, 1e-4, np.pi - 1e-4, np.pi])
def test_rotvec_round_trip_at_the_ends(angle):
  axis = np.array([0.3, -0.5, 0.8]) / np.linalg.norm([0.3, -0.5, 0.8])
  mat = Rotation.from_rotvec(axis * angle).as_matrix()
  rotvec = np.asarray(_matrix_to_rotvec(jnp.asarray(mat, jnp.float32)))
  assert np.all(np.isfinite(rotvec))
  # Near pi the axis sign is ambiguous, so compare the rotations, and the angle.
  np.testing.assert_allclose(np.asarray(_rotvec_to_matrix(rotvec)), mat, atol=2e-6)
  assert np.linalg.norm(rotvec) == pytest.approx(angle, abs=2e-6)


@_settings
@hypothesis.given(st.integers(0, 2**32 - 1))
def test_quaternion_matches_scipy_and_round_trips(seed):
  rot = Rotation.random(random_state=seed)
  q = np.asarray(so3.matrix_to_quaternion(jnp.asarray(rot.as_matrix(), jnp.float32)))
  ref = np.roll(rot.as_quat(), 1)  # scipy is (x, y, z, w)
  ref = ref if ref[0] >= 0 else -ref
  assert q[0] >= 0.
  np.testing.assert_allclose(q, ref, atol=2e-6)
  np.testing.assert_allclose(np.asarray(so3.quaternion_to_matrix(q)), rot.as_matrix(), atol=2e-6)


@_settings
@hypothesis.given(st.integers(0, 2**32 - 1))
def test_geodesic_angle_matches_scipy(seed):
  r1, r2 = Rotation.random(2, random_state=seed)
  got = float(_geodesic(jnp.asarray(r1.as_matrix(), jnp.float32),
                        jnp.asarray(r2.as_matrix(), jnp.float32)))
  assert got == pytest.approx((r1.inv() * r2).magnitude(), abs=2e-6)


def test_geodesic_angle_is_accurate_for_small_angles():
  # arccos((tr - 1) / 2) would be off by ~5e-4 rad here in float32.
  eye = jnp.eye(3)
  got = np.asarray(_geodesic(eye, so3.rot_z(jnp.asarray([1e-3, 1e-4]))))
  np.testing.assert_allclose(got, [1e-3, 1e-4], rtol=1e-3)
  assert float(_geodesic(eye, eye)) == 0.


def test_float64_when_enabled():
  with jax.enable_x64(True):
    rots = Rotation.random(5, random_state=1)
    rotvec = rots.as_rotvec()
    mat = so3.rotvec_to_matrix(jnp.asarray(rotvec))
    assert mat.dtype == jnp.float64
    np.testing.assert_allclose(np.asarray(mat), rots.as_matrix(), atol=1e-12)
    np.testing.assert_allclose(np.asarray(so3.matrix_to_rotvec(mat)), rotvec, atol=1e-12)


def test_yaw_of_ignores_a_small_tilt():
  yaw = jnp.asarray([-3., -1., 0., 0.5, 2.9])
  rot = so3.rot_z(yaw) @ so3.rot_y(jnp.float32(0.1))
  np.testing.assert_allclose(np.asarray(so3.yaw_of(rot)), np.asarray(yaw), atol=1e-6)


def test_gradients_are_finite_at_the_identity():
  g = jax.grad(lambda v: so3.rotvec_to_matrix(v).sum())(jnp.zeros(3))
  assert np.all(np.isfinite(np.asarray(g)))
  g = jax.grad(lambda r: so3.matrix_to_rotvec(r).sum())(jnp.eye(3))
  assert np.all(np.isfinite(np.asarray(g)))
