"""Ground-constrained poses <-> camera-frame (R, t)."""

import hypothesis
import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from walt3d_jax.geometry import camera as camera_lib
from walt3d_jax.geometry import plane
from walt3d_jax.geometry import pose
from walt3d_jax.geometry import so3

_settings = hypothesis.settings(max_examples=50, deadline=None, derandomize=True)
_to_camera = jax.jit(pose.ground_pose_to_camera)
_to_ground = jax.jit(pose.camera_pose_to_ground)

_CAM = camera_lib.mounted_camera(9., 0.5, 1.2, (640, 360), 0.03)
_R_CG, _T_CG = plane.ground_frame(_CAM.normal, _CAM.offset)


def _wrap(a):
  return (a + np.pi) % (2 * np.pi) - np.pi


@_settings
@hypothesis.given(st.floats(-30, 30), st.floats(-30, 30), st.floats(-np.pi, np.pi))
def test_ground_pose_round_trip(x, y, yaw):
  r, t = _to_camera(_R_CG, _T_CG, x, y, yaw)
  gx, gy, gyaw = (float(a) for a in _to_ground(_R_CG, _T_CG, r, t))
  assert gx == pytest.approx(x, abs=1e-4) and gy == pytest.approx(y, abs=1e-4)
  assert abs(_wrap(gyaw - yaw)) < 1e-5


@_settings
@hypothesis.given(st.floats(-30, 30), st.floats(-30, 30), st.floats(-np.pi, np.pi))
def test_camera_pose_round_trip_for_upright_poses(x, y, yaw):
  # Start from an upright (R, t) built without pose.py: object -> ground is rot_z(yaw), (x, y, 0).
  r_go = np.asarray(so3.rot_z(jnp.float32(yaw)))
  r_cg, t_cg = np.asarray(_R_CG), np.asarray(_T_CG)
  r, t = r_cg @ r_go, r_cg @ [x, y, 0.] + t_cg
  back_r, back_t = _to_camera(_R_CG, _T_CG, *_to_ground(_R_CG, _T_CG, r, t))
  assert float(so3.geodesic_angle(jnp.asarray(r), back_r)) < 1e-5
  np.testing.assert_allclose(np.asarray(back_t), t, atol=1e-4)


def test_object_frame_meaning_in_the_camera():
  x, y, yaw = 12., -3., 0.7
  r, t = pose.ground_pose_to_camera(_R_CG, _T_CG, x, y, yaw)
  # Object origin -> the ground point (x, y, 0); its up axis -> the plane normal; its forward
  # axis -> heading yaw on the ground.
  np.testing.assert_allclose(np.asarray(t), np.asarray(
      plane.ground_to_camera(_R_CG, _T_CG, jnp.array([x, y, 0.]))), atol=1e-5)
  np.testing.assert_allclose(np.asarray(r[:, 2]), np.asarray(_CAM.normal), atol=1e-6)
  forward = np.asarray(_R_CG).T @ np.asarray(r[:, 0])
  np.testing.assert_allclose(forward, [np.cos(yaw), np.sin(yaw), 0.], atol=1e-6)
  # A point 1 m up in the object frame is 1 m off the plane, on the camera's side.
  top = pose.transform_points(r, t, jnp.array([[0., 0., 1.]]))[0]
  assert float(top @ _CAM.normal + _CAM.offset) == pytest.approx(1., abs=1e-5)


def test_batched_poses_and_transform_points_match_a_loop():
  rng = np.random.default_rng(3)
  x, y, yaw = rng.uniform(-20, 20, (2, 5)), rng.uniform(-20, 20, (2, 5)), rng.uniform(-3, 3, (2, 5))
  r, t = pose.ground_pose_to_camera(_R_CG, _T_CG, x, y, yaw)
  assert r.shape == (2, 5, 3, 3) and t.shape == (2, 5, 3)
  pts = jnp.asarray(rng.uniform(-2, 2, (2, 5, 12, 3)), jnp.float32)
  got = np.asarray(pose.transform_points(r, t, pts))
  assert got.shape == (2, 5, 12, 3)
  for i in range(2):
    for j in range(5):
      ri, ti = pose.ground_pose_to_camera(_R_CG, _T_CG, x[i, j], y[i, j], yaw[i, j])
      want = np.asarray(pts[i, j]) @ np.asarray(ri).T + np.asarray(ti)
      np.testing.assert_allclose(got[i, j], want, atol=1e-4)
  gx, gy, gyaw = pose.camera_pose_to_ground(_R_CG, _T_CG, r, t)
  np.testing.assert_allclose(np.asarray(gx), x, atol=1e-4)
  np.testing.assert_allclose(np.asarray(gy), y, atol=1e-4)
  np.testing.assert_allclose(_wrap(np.asarray(gyaw) - yaw), 0., atol=1e-5)
