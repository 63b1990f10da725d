"""People on the ground plane: WALT3D section 3's z_b placement with a COCO-17 skeleton.

The paper puts each unoccluded person where the ray through the bottom of its box meets the
ground: z_b = -d / nᵀ(K⁻¹ p_b) (`geometry.plane.ray_plane_depth`), X_b = z_b K⁻¹ p_b. Here a
track shares one stature: the prior 1.70 ± 0.09 m (REFERENCE.md) combined, precision-weighted,
with the statures the box heights imply at each frame's depth where those are plausible. The
person faces the direction of the track's ground motion (a least-squares velocity over the
track's frames); a person standing still faces the camera. The skeleton is a mean adult's
COCO-17 joints (`shapes.person.person_joints`) at left mid-stance, scaled to the stature,
upright on the plane.

Bad inputs never give NaN: a box whose bottom lies above the horizon (the plane behind the
camera), non-finite boxes or padding frames get the track's mean position, and the reason bits
of `fit.quality` say why.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from walt3d_jax.fit import quality
from walt3d_jax.fit import batching
from walt3d_jax.geometry import camera as camera_lib
from walt3d_jax.geometry import plane
from walt3d_jax.geometry import pose as pose_lib
from walt3d_jax.shapes import person

# The mean adult of REFERENCE.md (Drillis & Contini widths) that the skeleton template is
# built from; colour indices are irrelevant to the joints.
_MEAN_STATURE_M = 1.70
_MEAN_PERSON = dict(height=_MEAN_STATURE_M, shoulder_width=0.259 * _MEAN_STATURE_M,
                    hip_width=0.191 * _MEAN_STATURE_M, build=1.0, is_female=0.5, skin=0,
                    hair=0, shirt=0, trousers=0, shoes=0, long_sleeves=0.)
# Phase 0 of `person.person_joints` is left mid-stance (right mid-swing).
MID_STANCE_PHASE = 0.0


@dataclasses.dataclass(frozen=True)
class PeopleConfig:
  """Settings of `place_person_track`; frozen and hashable (static under jit).

  height_prior_m, height_sigma_m: the stature prior (REFERENCE.md: 1.70 ± 0.09 m).
  box_sigma_px: noise of a box's top and bottom edges, pixels (detector mask jitter); sets
    how much a frame's box-implied stature counts against the prior.
  plausible_height_m: box-implied statures outside this range are ignored (a false positive,
    a child on a shoulder, a merged pair); when the track's median one lies outside it the
    track is flagged IMPLAUSIBLE_SHAPE.
  foot_reach_m: the box bottom sees the nearest foot, not the point under the pelvis: the
    origin lies this much further along the ground ray (half a shoe length).
  min_depth_m, max_depth_m: a bottom pixel whose ground depth lies outside this range is not on
    a usable plane (behind the camera, or so near the horizon that a pixel is metres).
  consistent_fraction: frames whose box-implied stature is within this fraction of the
    track's set its heading (when two or more are).
  min_motion_m: a track whose fitted ground path is shorter than this stands still: it faces
    the camera and carries NO_MOTION (informational for people).
  image_margin_px: how far outside the image the projected origin may lie.
  phase: gait phase of the skeleton (`person.person_joints`).
  """

  height_prior_m: float = 1.70
  height_sigma_m: float = 0.09
  box_sigma_px: float = 1.5
  plausible_height_m: tuple[float, float] = (1.0, 2.4)
  foot_reach_m: float = 0.1
  min_depth_m: float = 0.5
  max_depth_m: float = 300.
  consistent_fraction: float = 0.15
  min_motion_m: float = 0.3
  image_margin_px: float = 0.
  phase: float = MID_STANCE_PHASE

  def __post_init__(self):
    for name in ('height_prior_m', 'height_sigma_m', 'box_sigma_px', 'min_depth_m'):
      if getattr(self, name) <= 0.:
        raise ValueError(f'PeopleConfig.{name} must be > 0, got {getattr(self, name)}')
    lo, hi = self.plausible_height_m
    if not 0. < lo < hi:
      raise ValueError(f'PeopleConfig.plausible_height_m must be 0 < lo < hi, got '
                       f'{self.plausible_height_m}')
    if self.max_depth_m <= self.min_depth_m:
      raise ValueError('PeopleConfig.max_depth_m must exceed min_depth_m')


class PersonFit(NamedTuple):
  """One person track's placement (leading batch axes when batched). Always finite.

  x, y (T,) metres, yaw (T,) radians: ground poses (origin under the pelvis, x forward).
  height () metres: the track's stature. rotation (T, 3, 3), translation (T, 3): object →
  camera. keypoints_3d (T, 17, 3) camera frame, metres; uv (T, 17, 2) their pixels.
  dimensions (3,): [length, width, height] metres (the simulator's footprint disc × stature).
  depth (T,): camera z of the origin, metres. bottom_depth (T,): the paper's z_b at the box
  bottom (0 where invalid). moved (): whether the heading came from motion.
  reason () and frame_reason (T,): int32 `quality` bits (0 = good; NO_MOTION informational).
  """

  x: jax.Array
  y: jax.Array
  yaw: jax.Array
  height: jax.Array
  rotation: jax.Array
  translation: jax.Array
  keypoints_3d: jax.Array
  uv: jax.Array
  dimensions: jax.Array
  depth: jax.Array
  bottom_depth: jax.Array
  moved: jax.Array
  reason: jax.Array
  frame_reason: jax.Array


@functools.lru_cache(maxsize=4)
def skeleton_template(phase: float = MID_STANCE_PHASE) -> np.ndarray:
  """(17, 3) COCO-17 joints of a mean adult scaled to a stature of 1 m, object frame."""
  params = np.array([float(_MEAN_PERSON[n]) for n in person.PERSON_PARAM_NAMES])
  return person.person_joints(params, phase) / _MEAN_STATURE_M


def box_bottom_centre(box: jax.Array) -> jax.Array:
  """(..., 2) pixel (u, v) of the bottom-centre of COCO boxes (..., 4) [x, y, w, h].

  Pixel centres are integers and a box spans columns x..x+w-1 (`formats.rle.mask_box`), so the
  bottom edge is at v = y + h - 0.5 and the centre at u = x + w/2 - 0.5.
  """
  return jnp.stack([box[..., 0] + 0.5 * box[..., 2] - 0.5, box[..., 1] + box[..., 3] - 0.5], -1)


def stature_from_box(K: jax.Array, foot_cam: jax.Array, up: jax.Array,
                     top_v: jax.Array) -> jax.Array:
  """Statures (...) metres whose head top, straight above foot_cam (..., 3), projects to row
  top_v (...) pixels. up (3,): the plane's unit normal (camera frame). Solves
  v_top (k₃·(X + H n)) = k₂·(X + H n) for H in closed form; 0 where that is degenerate."""
  k2, k3 = K[1], K[2]
  num = foot_cam @ k2 - top_v * (foot_cam @ k3)
  den = top_v * jnp.dot(k3, up) - jnp.dot(k2, up)
  ok = jnp.abs(den) > 1e-9
  return jnp.where(ok, num / jnp.where(ok, den, 1.), 0.)


def _heading(xy: jax.Array, time: jax.Array, use: jax.Array,
             min_motion_m: float) -> tuple[jax.Array, jax.Array]:
  """Least-squares ground velocity direction (yaw ()) of positions xy (T, 2) at times (T,)
  over frames `use`; moved () when the fitted path (speed × time span) ≥ min_motion_m."""
  w = use.astype(xy.dtype)
  total = jnp.maximum(jnp.sum(w), 1.)
  t_bar = jnp.sum(w * time) / total
  p_bar = jnp.sum(w[:, None] * xy, 0) / total
  dt = jnp.where(use, time - t_bar, 0.)
  var = jnp.sum(dt * dt)
  velocity = jnp.sum(dt[:, None] * (xy - p_bar), 0) / jnp.maximum(var, 1e-12)
  span = jnp.max(jnp.where(use, time, -jnp.inf)) - jnp.min(jnp.where(use, time, jnp.inf))
  span = jnp.where(jnp.isfinite(span), span, 0.)
  path = jnp.linalg.norm(velocity) * span
  moved = (jnp.sum(use) >= 2) & (var > 0.) & (path >= min_motion_m)
  return jnp.arctan2(velocity[1], velocity[0]), moved


def place_person_track(box: jax.Array, time: jax.Array, frame_valid: jax.Array, K: jax.Array,
                       R_cg: jax.Array, t_cg: jax.Array, image_size: jax.Array,
                       template: jax.Array, config: PeopleConfig) -> PersonFit:
  """Places one padded person track on the ground plane. Pure; jit/vmap-able.

  box (T, 4) visible boxes [x, y, w, h] pixels; time (T,) seconds; frame_valid (T,) bool
  (False = padding); K (3, 3); R_cg (3, 3), t_cg (3,): the ground frame
  (`plane.ground_frame`); image_size (2,) (w, h); template (17, 3): `skeleton_template()`.
  """
  dtype = K.dtype
  n, cam_height = R_cg[:, 2], -jnp.dot(R_cg[:, 2], t_cg)
  finite = jnp.all(jnp.isfinite(box), -1) & jnp.isfinite(time)
  use = frame_valid & finite
  box = jnp.where(use[:, None], box, jnp.array([0., 0., 1., 1.], dtype))
  time = jnp.where(use, time, 0.)
  p_b = box_bottom_centre(box)
  z_b = plane.ray_plane_depth(K, n, cam_height, p_b)  # the paper's z_b
  on_plane = (use & jnp.isfinite(z_b) & (z_b >= config.min_depth_m)
              & (z_b <= config.max_depth_m) & (cam_height > 0.))
  z_b = jnp.where(on_plane, z_b, 0.)
  foot_cam = camera_lib.back_project(K, p_b, z_b)
  contact = plane.camera_to_ground(R_cg, t_cg, foot_cam)[:, :2]
  # The origin under the pelvis lies past the nearest foot, away from the camera's foot.
  ray = contact / jnp.maximum(jnp.linalg.norm(contact, axis=-1, keepdims=True), 1e-6)
  centre = contact + config.foot_reach_m * ray
  count = jnp.sum(on_plane)
  fill = jnp.sum(jnp.where(on_plane[:, None], centre, 0.), 0) / jnp.maximum(count, 1)
  centre = jnp.where(on_plane[:, None], centre, fill)

  # Stature: the prior and every plausible box-implied measurement, precision-weighted.
  lo, hi = config.plausible_height_m
  measured = stature_from_box(K, foot_cam, n, box[:, 1] - 0.5)
  # Metres per pixel of head height at this depth: the measurement's spread.
  per_px = measured / jnp.maximum(box[:, 3], 1.)
  sigma = jnp.maximum(config.box_sigma_px * per_px, 1e-3)
  plausible = on_plane & (measured >= lo) & (measured <= hi)
  w_meas = jnp.where(plausible, 1. / sigma ** 2, 0.)
  w_prior = 1. / config.height_sigma_m ** 2
  height = ((w_prior * config.height_prior_m + jnp.sum(w_meas * measured))
            / (w_prior + jnp.sum(w_meas)))
  median = jnp.nanmedian(jnp.where(on_plane, measured, jnp.nan))
  height_ok = (count == 0) | ((median >= lo) & (median <= hi))
  height = jnp.where(jnp.isfinite(height), height, config.height_prior_m)

  # A detector's mask that lost the feet (or the head) implies a stature far from the track's;
  # such frames' bottoms are unreliable, so the heading uses the consistent frames when it can.
  consistent = plausible & (jnp.abs(measured - height) <= config.consistent_fraction * height)
  steady = jnp.where(jnp.sum(consistent) >= 2, consistent, on_plane)
  heading, moved = _heading(centre, time, steady, config.min_motion_m)
  # Standing still: face the camera (its foot is the ground frame's origin).
  to_camera = jnp.arctan2(-fill[1], -fill[0])
  yaw = jnp.full(time.shape, jnp.where(moved, heading, to_camera))
  x, y = centre[:, 0], centre[:, 1]
  R, t = pose_lib.ground_pose_to_camera(R_cg, t_cg, x, y, yaw)
  joints = pose_lib.transform_points(R, t, template * height)
  depth_kp = joints[..., 2]
  safe = jnp.where(depth_kp[..., None] > config.min_depth_m, joints, jnp.ones_like(joints))
  uv = jnp.where(depth_kp[..., None] > config.min_depth_m, camera_lib.project(K, safe), 0.)
  origin_uv = camera_lib.project(K, jnp.where(t[:, 2:] > config.min_depth_m, t, 1.))
  m = config.image_margin_px
  inside = jnp.all((origin_uv >= -m) & (origin_uv <= image_size - 1. + m), -1)
  frame_code = (jnp.where(finite, 0, quality.NOT_FINITE)
                | jnp.where(on_plane | ~finite, 0, quality.PLANE_INVALID)
                | jnp.where(jnp.any(depth_kp <= config.min_depth_m, -1),
                            quality.BEHIND_CAMERA, 0)
                | jnp.where(inside, 0, quality.OUT_OF_IMAGE))
  frame_code = jnp.where(frame_valid, frame_code, 0).astype(jnp.int32)
  reason = (jnp.where(count == 0, quality.PLANE_INVALID | quality.NO_OBSERVED_FRAMES, 0)
            | jnp.where(moved, 0, quality.NO_MOTION)
            | jnp.where(height_ok, 0, quality.IMPLAUSIBLE_SHAPE)).astype(jnp.int32)
  radius = person.PERSON_FOOTPRINT_RADIUS
  return PersonFit(
      x=x, y=y, yaw=yaw, height=height, rotation=R, translation=t, keypoints_3d=joints,
      uv=uv, dimensions=jnp.stack([jnp.asarray(2. * radius, dtype),
                                   jnp.asarray(2. * radius, dtype), height]),
      depth=t[:, 2], bottom_depth=z_b, moved=moved, reason=reason, frame_reason=frame_code)


@functools.partial(jax.jit, static_argnames=('config',))
def place_person_batch(box: jax.Array, time: jax.Array, frame_valid: jax.Array, K: jax.Array,
                       R_cg: jax.Array, t_cg: jax.Array, image_size: jax.Array,
                       template: jax.Array, config: PeopleConfig) -> PersonFit:
  """`place_person_track` over B tracks padded to one length T (jit of vmap).

  box (B, T, 4); time (B, T); frame_valid (B, T); K (B, 3, 3); R_cg (B, 3, 3); t_cg (B, 3);
  image_size (B, 2); template (17, 3) shared.
  """
  return jax.vmap(place_person_track, in_axes=(0,) * 7 + (None, None))(
      box, time, frame_valid, K, R_cg, t_cg, image_size, template, config)


_PER_FRAME = frozenset({'x', 'y', 'yaw', 'rotation', 'translation', 'keypoints_3d', 'uv',
                        'depth', 'bottom_depth', 'frame_reason'})


def place_people(box: Sequence[np.ndarray], time: Sequence[np.ndarray], K: np.ndarray,
                 R_cg: np.ndarray, t_cg: np.ndarray, image_size: np.ndarray,
                 config: PeopleConfig = PeopleConfig(), batch_size: int = 1024,
                 min_bucket: int = 1) -> list[PersonFit]:
  """Places person tracks of any lengths, bucketed by padded length (powers of two).

  box: N arrays (T_i, 4) pixels; time: N arrays (T_i,) seconds; K (N, 3, 3), R_cg (N, 3, 3),
  t_cg (N, 3), image_size (N, 2) per track; tracks are padded to at least min_bucket frames.
  Returns N PersonFits (numpy), unpadded, in input order.
  """
  template = jnp.asarray(skeleton_template(config.phase), jnp.float32)
  lengths = [len(b) for b in box]
  results: list[PersonFit | None] = [None] * len(box)
  pad_length = lambda n: batching.bucket_length(n, min_bucket)
  for length, size, idx in batching.length_batches(lengths, batch_size, pad_length):
    b = batching.pad_tracks(box, idx, size, length)
    tm = batching.pad_tracks(time, idx, size, length)
    valid = batching.frame_mask(lengths, idx, size, length)
    take = batching.padded_rows(idx, size)
    # Times relative to each track's first frame keep float32 exact (absolute ones are 1e5 s).
    tm = tm - tm[:, :1]
    f32 = lambda a: jnp.asarray(a, jnp.float32)
    out = place_person_batch(f32(b), f32(tm), jnp.asarray(valid), f32(np.asarray(K)[take]),
                             f32(np.asarray(R_cg)[take]), f32(np.asarray(t_cg)[take]),
                             f32(np.asarray(image_size)[take]), template, config)
    out = jax.tree.map(np.asarray, out)
    for row, i in enumerate(idx):
      n = lengths[i]
      results[i] = PersonFit(*(v[row, :n] if name in _PER_FRAME else v[row]
                               for name, v in zip(PersonFit._fields, out)))
  return results
