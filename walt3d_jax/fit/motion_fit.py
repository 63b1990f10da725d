"""Vehicle tracks without keypoints (the built-in detector gives none): poses from motion.

Heading from the track's ground motion, position from the mask's (or amodal box's) bottom
pixel back-projected to the plane, mean shape. The bottom pixel sees the footprint's point
nearest the camera, so the centre lies further along the ground ray by the footprint's extent
in that direction. The 2-D keypoints then come from projecting this fit, flagged as derived.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from walt3d_jax.fit import init as init_lib
from walt3d_jax.fit import quality
from walt3d_jax.fit import residuals
from walt3d_jax.fit.config import FitConfig
from walt3d_jax.fit.track_fit import FitResult
from walt3d_jax.shapes import car_model


def fit_track_from_motion(bottom_uv: jax.Array, frame_valid: jax.Array, K: jax.Array,
                          R_cg: jax.Array, t_cg: jax.Array, image_size: jax.Array,
                          model: car_model.CarShapeModel, config: FitConfig) -> FitResult:
  """Keypoint-free fit of one padded track; `derived` is True, alpha is the mean shape (0).

  bottom_uv (T, 2) pixels: the bottom-centre of each frame's mask or amodal box;
  frame_valid (T,) bool; K (3, 3); R_cg (3, 3), t_cg (3,): the ground frame; image_size (2,).
  A track that moved less than config.min_motion_m has no heading: yaw 0 and NO_MOTION.
  """
  dtype = K.dtype
  finite = jnp.all(jnp.isfinite(bottom_uv), -1)
  use = frame_valid & finite
  uv = jnp.where(use[:, None], bottom_uv, 0.)
  contact, hit = init_lib.keypoints_on_ground(uv[:, None], use[:, None].astype(dtype), K, R_cg,
                                              t_cg, jnp.zeros(1, dtype))
  contact, hit = contact[:, 0], hit[:, 0]
  heading, moved = init_lib.motion_heading(contact, hit, config.min_motion_m)
  yaw = jnp.full(uv.shape[:1], heading)
  alpha = jnp.zeros(model.num_components, dtype)
  length, width, _ = quality.shape_dimensions(model, alpha)
  # Support of the footprint rectangle along the ground ray from the camera's foot.
  ray = contact / jnp.maximum(jnp.linalg.norm(contact, axis=-1, keepdims=True), 1e-6)
  rel = jnp.arctan2(ray[:, 1], ray[:, 0]) - yaw
  reach = 0.5 * length * jnp.abs(jnp.cos(rel)) + 0.5 * width * jnp.abs(jnp.sin(rel))
  centre = contact + reach[:, None] * ray
  fill = jnp.sum(hit[:, None] * centre, 0) / jnp.maximum(jnp.sum(hit), 1)
  centre = jnp.where(hit[:, None], centre, fill)
  x, y = centre[:, 0], centre[:, 1]
  proj, depth = residuals.project_track(x, y, yaw, alpha, K, R_cg, t_cg, model,
                                        config.min_depth_m)
  inside = jnp.all((jnp.mean(proj, -2) >= -config.image_margin_px)
                   & (jnp.mean(proj, -2) <= image_size - 1. + config.image_margin_px), -1)
  frame_code = (jnp.where(finite, 0, quality.NOT_FINITE)
                | jnp.where(jnp.any(depth <= config.min_depth_m, -1), quality.BEHIND_CAMERA, 0)
                | jnp.where(inside, 0, quality.OUT_OF_IMAGE))
  frame_code = jnp.where(frame_valid, frame_code, 0).astype(jnp.int32)
  observed = jnp.sum(hit)
  reason = (jnp.where(moved, 0, quality.NO_MOTION)
            | jnp.where(jnp.any(hit), 0, quality.PLANE_INVALID | quality.NO_OBSERVED_FRAMES)
            | jnp.where((observed > 0) & (observed < config.min_frames), quality.SHORT_TRACK, 0)
            | (jnp.bitwise_or.reduce(frame_code) & quality.TRACK_FROM_FRAMES)).astype(jnp.int32)
  zero = jnp.zeros((), dtype)
  return FitResult(
      x=x, y=y, yaw=yaw, alpha=alpha, dimensions=quality.shape_dimensions(model, alpha),
      uv_fit=proj, cost=zero, rmse_px=zero, frame_rmse_px=jnp.zeros_like(x),
      iterations=jnp.zeros((), jnp.int32), converged=moved & jnp.any(hit),
      hypothesis=jnp.zeros((), jnp.int32), reason=reason, frame_reason=frame_code,
      derived=jnp.ones((), bool))
