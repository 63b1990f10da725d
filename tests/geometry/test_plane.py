"""Ground plane: the paper's depth formula, the canonical frame, pixel <-> ground."""

import hypothesis
import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from walt3d_jax.geometry import camera as camera_lib
from walt3d_jax.geometry import plane

_settings = hypothesis.settings(max_examples=50, deadline=None, derandomize=True)
_depth = jax.jit(plane.ray_plane_depth)
_intersect = jax.jit(plane.intersect_ray_plane)
_frame = jax.jit(plane.ground_frame)

# A camera as the presets mount them (REFERENCE.md ranges: 4-15 m, pitch 15-50 deg, hfov
# 40-90 deg), plus roll so that nothing relies on a level camera.
_mounts = st.tuples(st.floats(4., 15.), st.floats(np.deg2rad(15.), np.deg2rad(50.)),
                    st.floats(np.deg2rad(40.), np.deg2rad(90.)), st.floats(-0.1, 0.1))


@_settings
@hypothesis.given(_mounts, st.integers(0, 2**32 - 1))
def test_paper_depth_equals_depth_of_known_ground_points(mount, seed):
  height, pitch, hfov, roll = mount
  cam = camera_lib.mounted_camera(height, pitch, hfov, (640, 360), roll)
  # Ground points in the mount's frame, mapped to the camera by the mount's own rotation
  # (not by plane.ground_frame): X_cam = R (X_g - camera centre).
  rng = np.random.default_rng(seed)
  ground = np.column_stack([rng.uniform(3., 60., 16), rng.uniform(-15., 15., 16), np.zeros(16)])
  r = np.asarray(camera_lib.mount_rotation(pitch, roll), np.float64)
  cam_pts = (ground - [0., 0., height]) @ r.T
  uv = cam_pts[:, :2] / cam_pts[:, 2:] @ np.asarray(cam.K, np.float64)[:2, :2].T + np.asarray(
      cam.K, np.float64)[:2, 2]
  z = np.asarray(_depth(cam.K, cam.normal, cam.offset, jnp.asarray(uv, jnp.float32)))
  np.testing.assert_allclose(z, cam_pts[:, 2], rtol=2e-4)


@_settings
@hypothesis.given(st.integers(0, 2**32 - 1))
def test_paper_depth_equals_direct_ray_plane_intersection(seed):
  rng = np.random.default_rng(seed)
  n = rng.normal(size=3)
  n /= np.linalg.norm(n)
  d = rng.uniform(1., 20.)
  k = np.array([[rng.uniform(300, 900), rng.uniform(-2, 2), 320.],
                [0., rng.uniform(300, 900), 180.], [0., 0., 1.]])
  uv = rng.uniform([0., 0.], [640., 360.], (32, 2))
  rays = np.linalg.solve(k, np.column_stack([uv, np.ones(32)]).T).T
  points, valid = _intersect(jnp.zeros((32, 3)), jnp.asarray(rays, jnp.float32),
                             jnp.asarray(n, jnp.float32), jnp.float32(d))
  z = np.asarray(_depth(jnp.asarray(k, jnp.float32), jnp.asarray(n, jnp.float32),
                        jnp.float32(d), jnp.asarray(uv, jnp.float32)))
  points, valid = np.asarray(points), np.asarray(valid)
  # Reference: solve n·(s r) + d = 0 in float64.
  s = -d / (rays @ n)
  np.testing.assert_array_equal(valid, s > 0)
  np.testing.assert_allclose(points[valid], (s[:, None] * rays)[valid], rtol=1e-4, atol=1e-4)
  # The paper's z_b is that intersection's depth; negative exactly where it is behind.
  np.testing.assert_allclose(z, s, rtol=1e-4)
  assert np.all(points[~valid] == 0.)


def test_intersect_rejects_parallel_and_backward_rays_without_nan():
  n, d = jnp.array([0., 0., 1.]), jnp.float32(2.)
  origins = jnp.zeros((3, 3))
  dirs = jnp.array([[1., 0., 0.], [0., 0., 1.], [0., 0., -1.]])  # parallel, away, towards
  points, valid = plane.intersect_ray_plane(origins, dirs, n, d)
  np.testing.assert_array_equal(np.asarray(valid), [False, False, True])
  np.testing.assert_allclose(np.asarray(points), [[0, 0, 0], [0, 0, 0], [0, 0, -2]])


@_settings
@hypothesis.given(st.tuples(*[st.floats(-1, 1)] * 3).filter(lambda v: np.linalg.norm(v) > .1),
                  st.floats(0.5, 20.))
def test_ground_frame_is_the_documented_frame(n, d):
  n = np.asarray(n) / np.linalg.norm(n)
  r, t = (np.asarray(a) for a in _frame(jnp.asarray(n, jnp.float32), jnp.float32(d)))
  np.testing.assert_allclose(r.T @ r, np.eye(3), atol=1e-5)
  assert np.linalg.det(r) == pytest.approx(1., abs=1e-5)
  np.testing.assert_allclose(r[:, 2], n, atol=1e-6)
  np.testing.assert_allclose(t, -d * n, rtol=1e-6, atol=1e-6)
  # x_g is the optical axis projected on the plane, whenever that projection exists.
  axis = np.array([0., 0., 1.]) - n[2] * n
  if np.linalg.norm(axis) > 1e-3:
    np.testing.assert_allclose(r[:, 0], axis / np.linalg.norm(axis), atol=1e-4)


def test_ground_frame_of_a_camera_looking_straight_down():
  r, t = plane.ground_frame(jnp.array([0., 0., -1.]), jnp.float32(10.))
  r = np.asarray(r)
  assert np.all(np.isfinite(r))
  # The image's up direction (-y_cam) becomes forward, as in the limit pitch -> 90 deg.
  np.testing.assert_allclose(r, [[0., -1., 0.], [-1., 0., 0.], [0., 0., -1.]], atol=1e-6)
  tilted = np.asarray(camera_lib.mounted_camera(10., np.deg2rad(89.9), 1., (64, 48)).normal)
  np.testing.assert_allclose(np.asarray(plane.ground_frame(jnp.asarray(tilted), 10.)[0]), r,
                             atol=3e-3)


@pytest.mark.parametrize('pitch,roll', [(0.3, 0.), (0.7, 0.), (0.5, 0.08), (1.2, -0.05)])
def test_mounted_camera_canonical_frame_is_the_mount_frame(pitch, roll):
  height = 8.5
  cam = camera_lib.mounted_camera(height, pitch, 1.2, (640, 360), roll)
  r_cg, t_cg = plane.ground_frame(cam.normal, cam.offset)
  np.testing.assert_allclose(np.asarray(r_cg), np.asarray(camera_lib.mount_rotation(pitch, roll)),
                             atol=1e-6)
  # The camera centre sits at (0, 0, h) and looks along +x_g, pitched down by `pitch`.
  centre = plane.camera_to_ground(r_cg, t_cg, jnp.zeros(3))
  np.testing.assert_allclose(np.asarray(centre), [0., 0., height], atol=1e-5)
  optical = np.asarray(r_cg).T @ [0., 0., 1.]
  np.testing.assert_allclose(optical, [np.cos(pitch), 0., -np.sin(pitch)], atol=1e-6)


@_settings
@hypothesis.given(_mounts, st.integers(0, 2**32 - 1))
def test_ground_to_camera_and_back(mount, seed):
  cam = camera_lib.mounted_camera(mount[0], mount[1], mount[2], (64, 48), mount[3])
  r, t = plane.ground_frame(cam.normal, cam.offset)
  pts = jnp.asarray(np.random.default_rng(seed).uniform(-50, 50, (4, 5, 3)), jnp.float32)
  cam_pts = plane.ground_to_camera(r, t, pts)
  assert cam_pts.shape == (4, 5, 3)
  np.testing.assert_allclose(np.asarray(plane.camera_to_ground(r, t, cam_pts)), np.asarray(pts),
                             atol=1e-4)
  # Points on the ground (z_g = 0) satisfy the plane equation in the camera frame.
  on_ground = plane.ground_to_camera(r, t, pts.at[..., 2].set(0.))
  np.testing.assert_allclose(np.asarray(on_ground @ cam.normal + cam.offset), 0., atol=1e-4)


def test_pixel_to_ground_and_back():
  cam = camera_lib.mounted_camera(6., 0.35, 1.3, (320, 180))
  u, v = np.meshgrid(np.arange(0, 320, 7.), np.arange(0, 180, 5.))
  uv = jnp.asarray(np.stack([u, v], -1), jnp.float32)
  xy, valid = jax.jit(plane.pixel_to_ground)(cam, uv)
  xy, valid = np.asarray(xy), np.asarray(valid)
  assert xy.shape == uv.shape and valid.shape == uv.shape[:2]
  # Horizon row: v = cy - f tan(pitch); rows above it see sky.
  k = np.asarray(cam.K)
  horizon = k[1, 2] - k[1, 1] * np.tan(0.35)
  np.testing.assert_array_equal(valid, v > horizon)
  assert np.all(xy[~valid] == 0.) and np.all(np.isfinite(xy))
  assert np.all(xy[valid][:, 0] > 0.)  # everything seen lies ahead
  ground = np.concatenate([xy, np.zeros(xy.shape[:-1] + (1,))], -1)
  back, in_front = plane.ground_to_pixel(cam, jnp.asarray(ground, jnp.float32))
  # Far from the horizon; near it a pixel spans kilometres of ground in float32.
  near = valid & (v > horizon + 10.)
  np.testing.assert_allclose(np.asarray(back)[near], np.asarray(uv)[near], atol=2e-2)
  assert np.all(np.asarray(in_front)[valid])


def test_ground_to_pixel_flags_points_behind_the_camera():
  cam = camera_lib.mounted_camera(6., 0.35, 1.3, (320, 180))
  uv, in_front = plane.ground_to_pixel(cam, jnp.array([[-10., 0., 0.], [10., 0., 0.]]))
  np.testing.assert_array_equal(np.asarray(in_front), [False, True])
  np.testing.assert_array_equal(np.asarray(uv[0]), [0., 0.])
  assert float(uv[1, 0]) == pytest.approx(159.5, abs=1e-3)
