"""Quality of a track fit: reason codes (bit flags) for frames and tracks, plausibility.

A fit with reason 0 is good. Failed or implausible fits keep finite numbers and carry the
reasons, so the object bank can exclude them and count why, never store NaN.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from walt3d_jax.fit.config import FitConfig
from walt3d_jax.shapes import car_model

FEW_KEYPOINTS = 1 << 0  # frame: fewer than config.min_keypoints usable keypoints
DEGENERATE = 1 << 1  # frame: usable keypoints (nearly) collinear in the image
HIGH_RESIDUAL = 1 << 2  # frame or track: reprojection RMSE above config.max_rmse_px
BEHIND_CAMERA = 1 << 3  # frame: a fitted keypoint at or behind the image plane
OUT_OF_IMAGE = 1 << 4  # frame: the fitted keypoints' centroid outside the image
NOT_FINITE = 1 << 5  # NaN/inf in the inputs, or in the solution (replaced by finite values)
NOT_CONVERGED = 1 << 6  # track: the solver stopped at maxiter above its tolerance
IMPLAUSIBLE_SHAPE = 1 << 7  # track: dimensions outside car ranges or |α/σ| too large
NO_OBSERVED_FRAMES = 1 << 8  # track: no frame with enough non-degenerate keypoints
SHORT_TRACK = 1 << 9  # track: fewer observed frames than config.min_frames
PLANE_INVALID = 1 << 10  # track: no keypoint ray meets the ground plane in front
NO_MOTION = 1 << 11  # keypoint-free fit: the track did not move, its heading is unknown

REASONS = {
    'few_keypoints': FEW_KEYPOINTS, 'degenerate': DEGENERATE, 'high_residual': HIGH_RESIDUAL,
    'behind_camera': BEHIND_CAMERA, 'out_of_image': OUT_OF_IMAGE, 'not_finite': NOT_FINITE,
    'not_converged': NOT_CONVERGED, 'implausible_shape': IMPLAUSIBLE_SHAPE,
    'no_observed_frames': NO_OBSERVED_FRAMES, 'short_track': SHORT_TRACK,
    'plane_invalid': PLANE_INVALID, 'no_motion': NO_MOTION,
}

# Frame reasons that also fail the whole track when any observed frame has them.
TRACK_FROM_FRAMES = BEHIND_CAMERA | NOT_FINITE


def reason_names(code: int) -> list[str]:
  """The names of the bits set in a reason code, in REASONS order."""
  return [name for name, bit in REASONS.items() if int(code) & bit]


def keypoint_spread(uv: jax.Array, weight: jax.Array) -> jax.Array:
  """Per-frame spread (T,) pixels of usable keypoints across their principal line.

  uv (T, 12, 2), weight (T, 12) ≥ 0: the square root of the smaller eigenvalue of the
  weighted 2×2 covariance; 0 for frames with fewer than two usable points or collinear ones.
  """
  w = weight / jnp.maximum(jnp.sum(weight, -1, keepdims=True), 1e-12)
  centred = uv - jnp.sum(w[..., None] * uv, -2, keepdims=True)
  cov = jnp.einsum('tp,tpi,tpj->tij', w, centred, centred)
  a, b, c = cov[:, 0, 0], cov[:, 0, 1], cov[:, 1, 1]
  small = 0.5 * (a + c) - jnp.sqrt(jnp.maximum(0.25 * (a - c) ** 2 + b * b, 0.))
  return jnp.sqrt(jnp.maximum(small, 0.))


def shape_dimensions(model: car_model.CarShapeModel, alpha: jax.Array) -> jax.Array:
  """(length, width, height) (3,) metres: the extents of the keypoints of shape alpha (K,)."""
  kp = car_model.keypoints_from_shape(model, alpha)
  return jnp.stack([jnp.ptp(kp[:, 0]), jnp.ptp(kp[:, 1]), jnp.max(kp[:, 2])])


def shape_plausible(dims: jax.Array, beta: jax.Array, config: FitConfig) -> jax.Array:
  """() bool: dims (3,) within the config's car ranges and every |β_k| ≤ max_shape_sigma."""
  lo = jnp.array([config.length_m[0], config.width_m[0], config.height_m[0]], dims.dtype)
  hi = jnp.array([config.length_m[1], config.width_m[1], config.height_m[1]], dims.dtype)
  return (jnp.all((dims >= lo) & (dims <= hi))
          & jnp.all(jnp.abs(beta) <= config.max_shape_sigma))


def frame_reasons(uv: jax.Array, weight: jax.Array, raw_finite: jax.Array,
                  frame_valid: jax.Array, proj: jax.Array, depth: jax.Array,
                  image_size: jax.Array, config: FitConfig) -> tuple[jax.Array, jax.Array]:
  """Per-frame reason codes (T,) int32 and reprojection RMSE (T,) pixels.

  uv, weight: cleaned keypoints; raw_finite (T,) bool: the frame's inputs were finite;
  frame_valid (T,); proj (T, 12, 2) and depth (T, 12): the fit's keypoints; image_size (2,)
  (w, h) pixels. Padding frames get reason 0 and RMSE 0.
  """
  mask = weight > 0.
  count = jnp.sum(mask, -1)
  sq = jnp.sum(jnp.where(mask[..., None], proj - uv, 0.) ** 2, (-1, -2))
  rmse = jnp.sqrt(sq / jnp.maximum(count, 1))
  centroid = jnp.mean(proj, -2)
  m = config.image_margin_px
  inside = jnp.all((centroid >= -m) & (centroid <= image_size - 1. + m), -1)
  code = (jnp.where(count < config.min_keypoints, FEW_KEYPOINTS, 0)
          | jnp.where(keypoint_spread(uv, jnp.where(mask, 1., 0.)) < config.collinear_px,
                      DEGENERATE, 0)
          | jnp.where(rmse > config.max_rmse_px, HIGH_RESIDUAL, 0)
          | jnp.where(jnp.any(depth <= config.min_depth_m, -1), BEHIND_CAMERA, 0)
          | jnp.where(inside, 0, OUT_OF_IMAGE)
          | jnp.where(raw_finite, 0, NOT_FINITE))
  code = jnp.where(frame_valid, code, 0).astype(jnp.int32)
  return code, jnp.where(frame_valid, rmse, 0.)
