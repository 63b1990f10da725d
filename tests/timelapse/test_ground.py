"""NumPy back-projection onto the ground: on the plane, seen at its pixel, nothing above the horizon."""

import numpy as np

from walt3d_jax.geometry import camera as camera_lib
from walt3d_jax.geometry import plane
from walt3d_jax.timelapse import ground


def test_points_lie_on_the_ground_where_their_pixels_look():
  camera = camera_lib.mounted_camera(7., np.deg2rad(10.), np.deg2rad(60.), (640, 360))
  u = np.array([0., 320., 639., 100., 500., 320.])
  v = np.array([359., 200., 300., 150., 359., 0.])  # the last one is above the horizon
  points, depth, on_ground = ground.pixels_to_ground(camera, u, v)
  np.testing.assert_array_equal(on_ground, [True] * 5 + [False])
  n, d = np.asarray(camera.normal, np.float64), float(camera.offset)
  np.testing.assert_allclose(n @ points[:, :5] + d, 0., atol=1e-9)
  uvw = np.asarray(camera.K, np.float64) @ points[:, :5]
  np.testing.assert_allclose(uvw[:2] / uvw[2], np.stack([u[:5], v[:5]]), atol=1e-6)
  np.testing.assert_allclose(depth[:5], points[2, :5])
  assert depth[5] == 0. and not points[:, 5].any()
  # The JAX ground-frame counterpart agrees on which pixels see the ground.
  _, valid = plane.pixel_to_ground(camera, np.stack([u, v], axis=1))
  np.testing.assert_array_equal(np.asarray(valid), on_ground)
