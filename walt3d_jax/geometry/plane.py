"""The ground plane: ray depths, the canonical ground frame, pixel <-> ground.

Plane in the camera frame: n·X + d = 0, n unit and pointing up (towards the camera), d > 0 the
camera height in metres. The canonical ground frame (the simulator's world frame):
  z_g = n; origin = foot of the perpendicular from the camera centre, X0 = -d n;
  x_g = the optical axis (0, 0, 1) projected on the plane, normalised; y_g = z_g × x_g;
  X_cam = R_cg @ X_ground + t_cg with R_cg = [x_g y_g z_g] (columns), t_cg = -d n.
So camera.json's (K, n, d) alone fixes every ground-frame pose.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from walt3d_jax.geometry import camera as camera_lib
from walt3d_jax.geometry import small_linalg

# Below this |projected optical axis| the camera looks (nearly) straight down and the image's
# up direction (-y_cam) defines x_g instead, which is the limit of the same frame.
_MIN_AXIS_PROJECTION = 1e-6


def ray_plane_depth(K: jax.Array, n: jax.Array, d: jax.Array, uv: jax.Array) -> jax.Array:
  """Camera depth z (...) metres where the ray through pixels uv (..., 2) meets the plane.

  The paper's z_b = -d / nᵀ(K⁻¹ p_b) with p_b = (u, v, 1). K (..., 3, 3); n (..., 3); d (...).
  Positive in front of the camera; negative or infinite where the ray misses the ground (above
  the horizon or parallel): use `intersect_ray_plane` for a validity mask.
  """
  rays = camera_lib.pixel_rays(K, uv)
  return -d / jnp.sum(n * rays, axis=-1)


def intersect_ray_plane(origins: jax.Array, directions: jax.Array, n: jax.Array,
                        d: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Points (..., 3) where rays origin + s·direction (s > 0) meet the plane n·X + d = 0.

  origins, directions: (..., 3) in the plane's frame; n (..., 3); d (...).
  Returns (points, valid (...) bool); invalid rays (parallel, or meeting the plane behind the
  origin) give zeros, never inf or NaN.
  """
  denom = jnp.sum(n * directions, axis=-1)
  num = -(jnp.sum(n * origins, axis=-1) + d)
  ok_denom = denom != 0.
  s = num / jnp.where(ok_denom, denom, 1.)
  valid = ok_denom & (s > 0.) & jnp.isfinite(s)
  points = origins + jnp.where(valid, s, 0.)[..., None] * directions
  return jnp.where(valid[..., None], points, 0.), valid


def ground_frame(n: jax.Array, d: jax.Array) -> tuple[jax.Array, jax.Array]:
  """The canonical ground frame of the plane (n (..., 3) unit, d (...) metres).

  Returns (R_cg (..., 3, 3), t_cg (..., 3)) with X_cam = R_cg @ X_ground + t_cg.
  """
  optical = jnp.zeros_like(n).at[..., 2].set(1.)
  image_up = jnp.zeros_like(n).at[..., 1].set(-1.)

  def on_plane(v):
    return v - jnp.sum(v * n, axis=-1, keepdims=True) * n

  a, b = on_plane(optical), on_plane(image_up)
  a_norm = jnp.linalg.norm(a, axis=-1, keepdims=True)
  x = jnp.where(a_norm > _MIN_AXIS_PROJECTION, a, b)
  x = x / jnp.linalg.norm(x, axis=-1, keepdims=True)
  y = jnp.cross(n, x)
  r_cg = jnp.stack([x, y, n], axis=-1)
  return r_cg, -jnp.asarray(d, n.dtype)[..., None] * n


def ground_to_camera(R_cg: jax.Array, t_cg: jax.Array, points: jax.Array) -> jax.Array:
  """Camera-frame points (..., 3) of ground-frame points (..., 3); R_cg (..., 3, 3)."""
  return small_linalg.matvec(R_cg, points) + t_cg


def camera_to_ground(R_cg: jax.Array, t_cg: jax.Array, points: jax.Array) -> jax.Array:
  """Ground-frame points (..., 3) of camera-frame points (..., 3); inverse of the above."""
  return small_linalg.matvec(jnp.swapaxes(R_cg, -1, -2), points - t_cg)


def pixel_to_ground(camera: camera_lib.Camera, uv: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Ground-frame (x, y) (..., 2) metres seen at pixels uv (..., 2).

  Returns (xy, valid (...) bool); valid is False above the horizon, where xy is 0.
  """
  rays = camera_lib.pixel_rays(camera.K, uv)
  points, valid = intersect_ray_plane(jnp.zeros_like(rays), rays, camera.normal, camera.offset)
  r_cg, t_cg = ground_frame(camera.normal, camera.offset)
  xy = camera_to_ground(r_cg, t_cg, points)[..., :2]
  return jnp.where(valid[..., None], xy, 0.), valid


def ground_to_pixel(camera: camera_lib.Camera,
                    points: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Pixels uv (..., 2) of ground-frame points (..., 3) metres, and in_front (...) bool.

  in_front is False for points at or behind the camera's image plane, where uv is 0.
  """
  r_cg, t_cg = ground_frame(camera.normal, camera.offset)
  cam = ground_to_camera(r_cg, t_cg, points)
  in_front = cam[..., 2] > 0.
  safe = jnp.where(in_front[..., None], cam, jnp.ones_like(cam))
  return jnp.where(in_front[..., None], camera_lib.project(camera.K, safe), 0.), in_front
