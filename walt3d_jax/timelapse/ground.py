"""Pixels back-projected onto the ground plane, in NumPy: the detector's per-blob geometry
(a blob's foot point, candidate positions of objects under it), where a jitted call per blob
would cost more than the arithmetic. `geometry.plane.pixel_to_ground` is the JAX counterpart in
the ground frame."""

from __future__ import annotations

import numpy as np

from walt3d_jax.geometry import camera as camera_lib


def pixels_to_ground(camera: camera_lib.Camera, u: np.ndarray, v: np.ndarray,
                     height_m: float = 0.) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Camera-frame ground points (3, N) metres seen at pixels (u, v) (N,) each, their depth (N,)
  (camera z) and whether the ray meets the ground ahead (N,) bool; point and depth are 0 where
  it does not (at or above the horizon). height_m: the points lie that far above the ground
  instead (a car's lamps), on the plane parallel to it; below the camera's height."""
  K = np.asarray(camera.K, np.float64)
  n = np.asarray(camera.normal, np.float64)
  u = np.asarray(u, np.float64)
  rays = np.linalg.solve(K, np.stack([u, np.asarray(v, np.float64), np.ones_like(u)]))  # (3, N), z = 1
  denom = n @ rays
  on_ground = denom < 0
  depth = np.where(on_ground, (height_m - float(camera.offset)) / np.where(on_ground, denom, -1.), 0.)
  return depth * rays, depth, on_ground
