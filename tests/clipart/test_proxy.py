"""Depth proxies: the capsule against its analytic depth, the hull around its keypoints."""

import numpy as np

from walt3d_jax.clipart import proxy
from walt3d_jax.shapes import car_model
from walt3d_jax.shapes import vehicle


K = np.array([[400.0, 0, 160], [0, 400.0, 90], [0, 0, 1]])


def test_capsule_front_is_radius_before_axis():
  tris = proxy.capsule(np.array([0.0, 1.0, 12.0]), np.array([0.0, -1.0, 0.0]), 1.7, 0.2)
  depth = proxy.window_depth(tris, K, np.array([0, 0, 320, 180]), (320, 180))
  # The pixel of the axis at mid height: nearest surface 0.2 m in front of the axis (faceted).
  u, v = np.rint(K @ np.array([0.0, 1.0 - 0.85, 12.0]) / 12.0)[:2].astype(int)
  assert 11.8 - 1e-3 <= depth[v, u] <= 11.8 + 0.2 * (1 - np.cos(np.pi / 10)) + 1e-3
  assert np.isinf(depth[0, 0])


def test_car_hull_contains_keypoints_and_ground():
  params = vehicle.sample_car_params(np.random.default_rng(0), "sedan")
  kp = vehicle.car_keypoints(params) + np.array([0.0, 0.0, 0.0])
  # Object frame z up → a camera looking along +x: X_cam = (y, -z + 1.5, x + 15).
  cam = np.column_stack([-kp[:, 1], 1.5 - kp[:, 2], kp[:, 0] + 15.0])
  plane = np.array([0.0, -1.0, 0.0, 1.5])
  tris = proxy.car_hull(cam, plane)
  verts = tris.reshape(-1, 3)
  assert np.isclose(verts @ plane[:3] + plane[3], 0, atol=1e-9).sum() >= 4  # feet on the ground
  for p in cam:
    assert np.min(np.linalg.norm(verts - p, axis=1)) < 1e-9  # every keypoint is a hull vertex


def test_fill_nearest():
  depth = np.full((5, 5), np.inf, np.float32)
  depth[0, 0], depth[4, 4] = 3.0, 7.0
  filled = proxy.fill_nearest(depth, 1.0)
  assert filled[1, 0] == 3.0 and filled[4, 3] == 7.0 and np.isfinite(filled).all()
  assert (proxy.fill_nearest(np.full((2, 2), np.inf, np.float32), 5.0) == 5.0).all()
