"""Starting poses of a vehicle track: ground Procrustes per frame, its flip, the motion heading.

Each usable keypoint's ray is cut with the horizontal plane at that keypoint's height on the
mean car (wheels at hub height, roof corners at roof height), which puts it at its ground
(x, y) up to the shape's deviation from the mean. A 2-D Procrustes fit of the mean shape's
footprint points to those gives a per-frame yaw and centre in closed form; the track's motion
(the centres' drift) gives a heading for cars whose keypoint labels might be flipped.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from walt3d_jax.fit.config import FitConfig
from walt3d_jax.geometry import camera as camera_lib
from walt3d_jax.geometry import plane
from walt3d_jax.shapes import car_model

# Below this Σw·|q|·|p| (m²) a frame's points do not fix a rotation.
_MIN_SPREAD = 1e-6


def keypoints_on_ground(uv: jax.Array, weight: jax.Array, K: jax.Array, R_cg: jax.Array,
                        t_cg: jax.Array, heights: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Ground-frame (x, y) (T, 12, 2) metres of keypoints uv (T, 12, 2) at heights (12,) metres.

  Returns (xy, ok (T, 12)): ok where weight > 0 and the ray meets that height's plane in front
  of the camera; xy is 0 elsewhere.
  """
  n = R_cg[:, 2]
  d = -jnp.dot(n, t_cg)
  rays = camera_lib.pixel_rays(K, uv)
  points, hit = plane.intersect_ray_plane(jnp.zeros_like(rays), rays, n, d - heights)
  xy = plane.camera_to_ground(R_cg, t_cg, points)[..., :2]
  ok = hit & (weight > 0.)
  return jnp.where(ok[..., None], xy, 0.), ok


def _rot2(yaw: jax.Array) -> jax.Array:
  c, s = jnp.cos(yaw), jnp.sin(yaw)
  return jnp.stack([jnp.stack([c, -s], -1), jnp.stack([s, c], -1)], -2)


def centre_for_yaw(p: jax.Array, q: jax.Array, w: jax.Array, yaw: jax.Array) -> jax.Array:
  """Object centres (T, 2) placing model points q (12, 2) at ground points p (T, 12, 2).

  w (T, 12) ≥ 0 weights; yaw (T,) radians. The weighted least-squares translation.
  """
  total = jnp.maximum(jnp.sum(w, -1, keepdims=True), 1e-12)
  p_bar = jnp.sum(w[..., None] * p, -2) / total
  q_bar = jnp.sum(w[..., None] * q, -2) / total
  return p_bar - jnp.einsum('tij,tj->ti', _rot2(yaw), q_bar)


def procrustes_yaw(p: jax.Array, q: jax.Array, w: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Per-frame yaw (T,) rotating model points q (12, 2) onto ground points p (T, 12, 2).

  Weighted 2-D Procrustes (w (T, 12)); ok (T,) needs two or more weighted points with spread.
  """
  total = jnp.maximum(jnp.sum(w, -1, keepdims=True), 1e-12)
  pc = p - (jnp.sum(w[..., None] * p, -2) / total)[:, None]
  qc = q - (jnp.sum(w[..., None] * q, -2) / total)[:, None]
  sin = jnp.sum(w * (qc[..., 0] * pc[..., 1] - qc[..., 1] * pc[..., 0]), -1)
  cos = jnp.sum(w * (qc[..., 0] * pc[..., 0] + qc[..., 1] * pc[..., 1]), -1)
  ok = (jnp.sum(w > 0., -1) >= 2) & (jnp.hypot(sin, cos) > _MIN_SPREAD)
  return jnp.where(ok, jnp.arctan2(sin, cos), 0.), ok


def motion_heading(centres: jax.Array, ok: jax.Array,
                   min_motion: float) -> tuple[jax.Array, jax.Array]:
  """Heading () radians of a track's ground drift, and whether it moved enough to have one.

  centres (T, 2) metres, ok (T,) bool. The mean of the later half of the observed frames
  minus the mean of the earlier half: averaging makes it robust to per-frame noise; the
  track moved if that displacement (about half its path) is ≥ min_motion / 2.
  """
  rank = jnp.cumsum(ok)
  half = 0.5 * rank[-1]
  early = ok & (rank <= half)
  late = ok & (rank > half)

  def mean(mask):
    return jnp.sum(mask[:, None] * centres, 0) / jnp.maximum(jnp.sum(mask), 1)

  step = mean(late) - mean(early)
  moved = (jnp.sum(early) > 0) & (jnp.sum(late) > 0) & (jnp.hypot(*step) >= 0.5 * min_motion)
  return jnp.where(moved, jnp.arctan2(step[1], step[0]), 0.), moved


def _wrap(angle: jax.Array) -> jax.Array:
  return jnp.arctan2(jnp.sin(angle), jnp.cos(angle))


def initial_poses(uv: jax.Array, weight: jax.Array, K: jax.Array, R_cg: jax.Array,
                  t_cg: jax.Array, model: car_model.CarShapeModel,
                  config: FitConfig) -> tuple[jax.Array, jax.Array]:
  """Start poses (H, T, 3) = (x, y, yaw) per hypothesis and frame, and moved () bool.

  uv (T, 12, 2), weight (T, 12): cleaned keypoints (`residuals.usable_keypoints`). H =
  config.num_yaw_hypotheses, in the order: Procrustes yaw (each frame aligned, modulo π, to the
  frame with the most keypoints), its flip, the motion heading and its flip (for a car that
  did not move: the Procrustes yaw ± π/2, so four starts still cover the circle). Frames with
  no usable keypoint start at the mean of the others' centres. All values finite.
  """
  heights = model.mean[:, 2]
  q = model.mean[:, :2]
  p, ok = keypoints_on_ground(uv, weight, K, R_cg, t_cg, heights)
  w = jnp.where(ok, weight, 0.)
  yaw_p, ok_p = procrustes_yaw(p, q, w)
  ref = jnp.argmax(jnp.where(ok_p, jnp.sum(w > 0., -1), -1))
  yaw_ref = yaw_p[ref]
  # Per-frame yaws that disagree with the reference by more than 90° are taken as flipped.
  aligned = jnp.where(jnp.cos(yaw_p - yaw_ref) < 0., yaw_p + jnp.pi, yaw_p)
  yaw0 = jnp.where(ok_p, aligned, yaw_ref)
  seen = jnp.sum(w, -1) > 0.
  heading, moved = motion_heading(centre_for_yaw(p, q, w, yaw0), seen & ok_p,
                                  config.min_motion_m)
  motion = jnp.where(moved, heading, yaw_ref + 0.5 * jnp.pi)
  yaws = jnp.stack([yaw0, yaw0 + jnp.pi, jnp.full_like(yaw0, motion),
                    jnp.full_like(yaw0, motion + jnp.pi)])[:config.num_yaw_hypotheses]
  yaws = _wrap(yaws)

  def place(yaw):
    centres = centre_for_yaw(p, q, w, yaw)
    fill = jnp.sum(seen[:, None] * centres, 0) / jnp.maximum(jnp.sum(seen), 1)
    centres = jnp.where(seen[:, None], centres, fill)
    return jnp.concatenate([centres, yaw[:, None]], -1)

  starts = jax.vmap(place)(yaws)
  return jnp.where(jnp.isfinite(starts), starts, 0.), moved
