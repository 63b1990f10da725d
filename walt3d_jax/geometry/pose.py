"""Object poses: ground-constrained (x, y, yaw) <-> camera-frame (R, t).

A pose (R, t) maps the object frame (origin at the footprint centre on the ground, x forward,
y left, z up) to the camera frame: X_cam = R @ X_obj + t. A ground-constrained pose stands the
object on the plane at ground-frame (x, y) metres with heading yaw radians (from +x_g to +y_g).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from walt3d_jax.geometry import so3
from walt3d_jax.geometry import small_linalg


def transform_points(R: jax.Array, t: jax.Array, points: jax.Array) -> jax.Array:
  """R @ X + t for points (..., P, 3) under poses R (..., 3, 3), t (..., 3) -> (..., P, 3)."""
  return small_linalg.matvec(R[..., None, :, :], points) + t[..., None, :]


def ground_pose_to_camera(R_cg: jax.Array, t_cg: jax.Array, x: jax.Array, y: jax.Array,
                          yaw: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Object -> camera pose (R (..., 3, 3), t (..., 3)) of a ground pose.

  R_cg (..., 3, 3), t_cg (..., 3): the ground frame (`plane.ground_frame`); x, y (...) metres,
  yaw (...) radians, all broadcast together.
  """
  x, y, yaw = jnp.broadcast_arrays(*(jnp.asarray(v, R_cg.dtype) for v in (x, y, yaw)))
  r = R_cg @ so3.rot_z(yaw)
  t_go = jnp.stack([x, y, jnp.zeros_like(x)], axis=-1)
  return r, small_linalg.matvec(R_cg, t_go) + t_cg


def camera_pose_to_ground(R_cg: jax.Array, t_cg: jax.Array, R: jax.Array,
                          t: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Ground pose (x, y, yaw), each (...), of an object -> camera pose R (..., 3, 3), t (..., 3).

  Inverse of `ground_pose_to_camera`. A pose that is not upright on the plane is projected:
  (x, y) is its origin's position on the plane, yaw the heading of its x axis.
  """
  r_go = jnp.swapaxes(R_cg, -1, -2) @ R
  t_go = small_linalg.matvec(jnp.swapaxes(R_cg, -1, -2), t - t_cg)
  return t_go[..., 0], t_go[..., 1], so3.yaw_of(r_go)
