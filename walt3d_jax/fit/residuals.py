"""The residual vector of one vehicle track: reprojection, shape prior, temporal terms.

Unknowns, packed in one flat vector (jaxopt's LM wants an array): per frame a ground pose
(x, y metres, yaw radians) and one shape β (K,) shared by the track, with α = β·σ (the PCA's
stddev) so that every unknown is O(1)-scaled for the solver's µI damping.
  params = [x (T), y (T), yaw (T), β (K)]
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from walt3d_jax.fit import robust
from walt3d_jax.fit.config import FitConfig
from walt3d_jax.geometry import camera as camera_lib
from walt3d_jax.geometry import pose as pose_lib
from walt3d_jax.shapes import car_model


def pack(x: jax.Array, y: jax.Array, yaw: jax.Array, beta: jax.Array) -> jax.Array:
  """Flat (3T + K,) parameters of x, y, yaw (T,) and β (K,)."""
  return jnp.concatenate([x, y, yaw, beta])


def unpack(params: jax.Array, num_frames: int) -> tuple[jax.Array, ...]:
  """(x, y, yaw) each (T,) and β (K,) of flat parameters (3T + K,)."""
  t = num_frames
  return params[:t], params[t:2 * t], params[2 * t:3 * t], params[3 * t:]


def project_track(x: jax.Array, y: jax.Array, yaw: jax.Array, alpha: jax.Array, K: jax.Array,
                  R_cg: jax.Array, t_cg: jax.Array, model: car_model.CarShapeModel,
                  min_depth: float = 1e-3) -> tuple[jax.Array, jax.Array]:
  """Pixels (T, 12, 2) and camera depths (T, 12) metres of the track's keypoints.

  x, y, yaw (T,): ground poses (metres, radians); alpha (K,) metres; K (3, 3); R_cg (3, 3),
  t_cg (3,): the ground frame. Depths below min_depth are clamped before the division, so the
  pixels stay finite for any pose (the depths returned are the true ones).
  """
  rot, trans = pose_lib.ground_pose_to_camera(R_cg, t_cg, x, y, yaw)
  points = pose_lib.transform_points(rot, trans, car_model.keypoints_from_shape(model, alpha))
  depth = points[..., 2]
  safe = points.at[..., 2].set(jnp.maximum(depth, min_depth))
  return camera_lib.project(K, safe), depth


def usable_keypoints(uv: jax.Array, weight: jax.Array,
                     frame_valid: jax.Array) -> tuple[jax.Array, jax.Array]:
  """(uv, weight) with NaN/inf pixels, non-finite or negative weights and padded frames zeroed.

  uv (T, 12, 2) pixels; weight (T, 12) visibility × confidence; frame_valid (T,) bool.
  """
  finite = jnp.all(jnp.isfinite(uv), axis=-1) & jnp.isfinite(weight)
  w = jnp.where(finite & (weight > 0.) & frame_valid[:, None], weight, 0.)
  return jnp.where(finite[..., None], uv, 0.), w


def keypoint_residuals(x: jax.Array, y: jax.Array, yaw: jax.Array, beta: jax.Array,
                       uv: jax.Array, weight: jax.Array, K: jax.Array, R_cg: jax.Array,
                       t_cg: jax.Array, model: car_model.CarShapeModel,
                       config: FitConfig) -> jax.Array:
  """Robust reprojection residuals (T, 12, 2), units of config.keypoint_sigma_px.

  x, y, yaw (T,); beta (K,); uv (T, 12, 2) pixels and weight (T, 12) ≥ 0, cleaned by
  `usable_keypoints`. Each keypoint's 2-D error is robustified, then scaled by sqrt(weight).
  """
  proj, _ = project_track(x, y, yaw, beta * model.stddev, K, R_cg, t_cg, model,
                          config.min_depth_m)
  err = (proj - uv) / config.keypoint_sigma_px
  return robust.robustify(err, config.loss, config.loss_scale) * jnp.sqrt(weight)[..., None]


def anchor_residuals(pose: jax.Array, anchor: jax.Array, frame_valid: jax.Array,
                     config: FitConfig) -> jax.Array:
  """(T, 3) pull of poses (T, 3) towards anchor (T, 3): weak on real frames, unit on padding."""
  scale = jnp.where(frame_valid, 1. / config.anchor_sigma_m, 1.)
  return (pose - anchor) * scale[:, None]


def motion_residuals(pose_a: jax.Array, pose_b: jax.Array, config: FitConfig) -> jax.Array:
  """Heading change (2) and sideways slip (2) (..., 4) from poses pose_a to pose_b (..., 3)."""
  # Chord between unit headings: smooth and 2π-periodic, ≈ the angle change when small.
  turn = jnp.stack([jnp.cos(pose_b[..., 2]) - jnp.cos(pose_a[..., 2]),
                    jnp.sin(pose_b[..., 2]) - jnp.sin(pose_a[..., 2])], -1)
  step = pose_b[..., :2] - pose_a[..., :2]
  # Sideways component of the step, against the heading at both ends of it.
  slip = jnp.stack([
      -jnp.sin(pose_a[..., 2]) * step[..., 0] + jnp.cos(pose_a[..., 2]) * step[..., 1],
      -jnp.sin(pose_b[..., 2]) * step[..., 0] + jnp.cos(pose_b[..., 2]) * step[..., 1]], -1)
  return jnp.concatenate([turn / config.yaw_rate_sigma, slip / config.lateral_sigma_m], -1)


def accel_residuals(xy_a: jax.Array, xy_b: jax.Array, xy_c: jax.Array,
                    config: FitConfig) -> jax.Array:
  """Second difference (..., 2) of three consecutive ground positions (..., 2) metres."""
  return ((xy_c - xy_b) - (xy_b - xy_a)) / config.accel_sigma_m


def track_residuals(params: jax.Array, uv: jax.Array, weight: jax.Array,
                    frame_valid: jax.Array, anchor: jax.Array, K: jax.Array, R_cg: jax.Array,
                    t_cg: jax.Array, model: car_model.CarShapeModel,
                    config: FitConfig) -> jax.Array:
  """Residual vector (24T + 3T + K + 6(T-1) - 2,) whose half squared norm is the track cost.

  params (3T + K,): see the module docstring. uv (T, 12, 2) pixels and weight (T, 12) ≥ 0,
  already cleaned by `usable_keypoints` (0 = missing). frame_valid (T,) bool: padding is
  False. anchor (T, 3): the initial (x, y, yaw) per frame. K (3, 3), R_cg (3, 3), t_cg (3,).
  Terms, each in units of its sigma: robust keypoint reprojection × sqrt(weight); the anchor
  (weak on real frames, strong on padding); the shape prior α_k/σ_k; and, with config.smooth,
  heading change, sideways slip and acceleration between consecutive valid frames.
  """
  num_frames = uv.shape[0]
  x, y, yaw, beta = unpack(params, num_frames)
  err = keypoint_residuals(x, y, yaw, beta, uv, weight, K, R_cg, t_cg, model, config)
  pose = jnp.stack([x, y, yaw], axis=-1)
  anchor_res = anchor_residuals(pose, anchor, frame_valid, config)
  parts = [err.reshape(-1), anchor_res.reshape(-1), config.shape_prior_weight * beta]
  if config.smooth and num_frames > 1:
    pair = (frame_valid[:-1] & frame_valid[1:]).astype(params.dtype)[:, None]
    motion = motion_residuals(pose[:-1], pose[1:], config) * pair
    parts += [motion[:, :2].reshape(-1), motion[:, 2:].reshape(-1)]
    if num_frames > 2:
      triple = (frame_valid[:-2] & frame_valid[1:-1]
                & frame_valid[2:]).astype(params.dtype)[:, None]
      accel = accel_residuals(pose[:-2, :2], pose[1:-1, :2], pose[2:, :2], config)
      parts.append((accel * triple).reshape(-1))
  return jnp.concatenate(parts)


def track_cost(params: jax.Array, *args, config: FitConfig) -> jax.Array:
  """½‖residual‖² () of `track_residuals(params, *args, config)`."""
  r = track_residuals(params, *args, config=config)
  return 0.5 * jnp.sum(r * r)
