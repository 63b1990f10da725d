"""Self-calibration from the scene's own tracks: focal length, camera height, tilt and roll.

With no `camera.json`, the people walking through a stationary camera's view calibrate it. A
person of stature H standing at a foot pixel predicts a head pixel once the camera is known; over
many people at many depths those predictions fix the camera up to scale, and a stature prior
fixes the scale (the classic calibration from pedestrians: Lv, Zhao & Nevatia 2006; here as one
robust least-squares problem instead of vanishing-point algebra).

Camera model (documented assumptions): square pixels, principal point at the image centre
((w-1)/2, (h-1)/2, pixel centres at integers), no distortion, zero skew; a flat ground. The
camera is `geometry.camera.mounted_camera(height, pitch, hfov, image_size, roll)`, so the unknowns
are f (pixels, hfov = 2 atan(w / 2f)), the height above the ground (metres), the pitch below the
horizon and the roll about the optical axis (radians).

People (category 2), two kinds of residual:
- every box clear of the image border: its bottom edge is the lowest point of the feet, the body
  axis FOOT_REACH · H behind it across that row's ground line (the mean over gait phase and
  heading, growing from 0.09 to 0.16 as the view steepens from 5° to 70° down: lifted feet
  nearer the camera become the lowest point seen from above), its top edge the head top's row
  (the crown of a walking person, WALKING_DROP below the stature); the foot's column
  is solved so that the box centre lies midway between foot and head (a person's image leans
  towards the vertical vanishing point). The foot row is a latent of each observation fitted to
  both edges (errors in variables: a detector's mask jitter moves both edges, and fitting the top
  edge alone given the bottom one biases the horizon);
- observations whose shoulders and hips (COCO-17) are confident add a lean: the mid-shoulder
  lies on the image line from the mid-hip to the vertical vanishing point K n; where the ears
  are confident too, so does the mid-ear (on the body axis, 0.4 H above the hips: a longer
  lever than the shoulders' 0.29 H). Boxes alone fix
  the horizon and the scale but only weakly the focal length (flagged); the leans fix it.
A weak field-of-view prior (that of cars below: traffic cameras 40-90°) holds the focal length
where only boxes are seen.
Unknowns: log f, log height, pitch, roll, the population's mean stature μ (prior 1.70 ± 0.03 m:
populations differ by a few centimetres), one stature per track H_k (prior μ ± 0.09 m:
REFERENCE.md, "a single prior of 1.70 ± 0.09 m is common in calibration from pedestrians").
Residuals are in pixels divided by a noise scale that grows with the person's size (the bottom
edge's also with the gait's spread of the foot reach, FOOT_REACH_SD, evaluated at a first fit),
and a Cauchy loss downweights occluded and mis-detected people; near the detector's least box
height the residuals expect the truncated mean (`_size_cut`). Measured (benchmarks/calibrate.py,
30 one-second tracks with detection noise; mean ± sd over 10 seeds): the horizon biases are gone
(intersection +0.1 ± 2.0 %H, was +2.1; avenue +0.4 ± 2.0, was -2.8; crosswalk +0.4 ± 0.9;
t_junction +0.9 ± 3.1), but the spread per run stays 1-3 %H, mostly from the statures of 30
people (noise-free, every stature equal: 0.6), so the 1 %H goal is not met per run; avenue's
focal length spreads by 7.5 % (keypoint noise on small people). The start comes from a robust plane fit of box
height against the foot pixel (heights vanish at the horizon), then a grid of focal lengths;
Levenberg-Marquardt on the Cauchy-weighted normal equations (IRLS) refines each, the lowest robust
cost among cameras above the people's heads wins.

Cars (category 1) (`calibrate_cars`): each car is the silhouette of
a mid-size car (`car_template`, scaled by the car's length, width and height under a size prior
fitted to the simulator's mix of body types, CAR_SIZE_M); its track is cut into pieces of about
a second (`car_piece_s`), each driven straight at constant speed on the ground, and the projected
silhouette's box explains every observed box (4 edges). Cars along lanes carry the lanes'
vanishing points; one car's fixed size seen at many depths and angles carries the horizon and the
focal length (which is why a track's pieces share its size: a video's long tracks then constrain
the camera where one straight line per track broke on turns and stops), the size prior the
scale; a weak prior on the field of view (traffic cameras: 40-90°) and a robust right-angle prior
on the moving pieces' directions of travel (roads cross at right angles or run parallel; turning
cars are outliers) break the tie between focal length and tilt that boxes leave. With one road
direction (all moving cars parallel) that prior carries the focal length: flagged. Measured
(benchmarks/calibrate.py, 3 seeds per preset, worst errors f % / height % / tilt ° / horizon %H):
from a video's tracks (10 s) avenue 14.8 / 2.8 / 3.4 / 0.2, crosswalk 10.0 / 12.7 / 1.2 / 4.5,
intersection 8.6 / 11.0 / 1.3 / 3.1, t_junction 6.2 / 4.4 / 2.1 / 1.6; from a time-lapse's 1 s
bursts (one piece per track) up to 22 % / 9.6 % / 5.7° / 4.0 %H. The cost stays nearly flat
along focal length vs tilt and the standard errors understate the errors 4-11 times, so every
car-only result is flagged as weak; the test asserts what is stable on one scene.

People and cars together (`calibrate_joint`; `calibrate`'s 'auto' when both classes have enough
tracks): one camera, each class with its own latents and priors (the field-of-view prior counted
once); the people's boxes carry the horizon and the scale, their leans the focal length, the
cars' boxes the lanes' vanishing points, so the cars hold the focal length where the people have
no keypoints (the built-in detector's case). Each class is fitted alone first and both optima
start the joint fit. Measured (benchmarks/calibrate.py, 30 people, 3 seeds, worst f % / height % /
tilt ° / horizon %H over the four presets): people's boxes alone 15-28 / 5.5-19 / 2.9-5.9 /
1.8-7.3, with a time-lapse's cars 8-15 / 2.8-5.6 / 1.1-2.7 / 1.1-3.2, with a video's 6-14 /
1.9-7.3 / 1.8-3.0 / 0.3-2.7; boxes with keypoints alone 1.7-9.7 / 2.1-5.6 / 0.6-1.9 / 1.2-2.4,
with a time-lapse's cars 2.3-8.0 / 0.6-4.1 / 0.2-1.9 / 0.9-2.2 (the horizon within 1 %H on
crosswalk), with a video's 4-10 / 1.6-6.1 / 0.5-2.2 / 0.2-2.3 (within 1 %H on avenue and
t_junction; the video's many car observations bring the cars' own biases). The standard errors
understate the errors up to 10 times (the car model's), so a joint fit from people without
keypoints is flagged. Under 'auto', a class that refuses on its own (e.g. cars on one row band)
is left out, and the flag says why.

A prior on the orientation and focal length from elsewhere (`CameraPrior`: the background's
straight lines, `geometry.vanishing`) adds 3 rows to any of these fits; the tracks then give the
scale. With the lines, people's boxes alone reach f within 1.7 %, height 4 %, tilt 0.3° on every
preset (benchmarks/calibrate.py --sections lines), and the tracks' own fit, compared with the
prior, flags a disagreement (`calibrate`).

Uncertainty: the Gauss-Newton covariance at the optimum, σ² (JᵀJ)⁻¹ with the Cauchy-weighted
Jacobian and σ² the weighted residual variance; the stature (or car size) priors are part of J, so
the scale's standard error includes the prior's. Standard errors are reported for f, height,
pitch, roll and the horizon row at the centre column.

Refusals (`CalibrationError`, a `UserError`): too few tracks or observations of either class, no vertical spread
of the foot rows, sizes that do not grow towards the bottom of the image (a camera looking at the
sky, or an upside-down image), a fit whose horizon is not above the feet, a pitch outside
[-10°, 85°] or a focal length outside 0.3–5 × the image width. A fit that works but is weak is
returned with `flags` saying why (large standard errors, few inliers).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
from typing import Any, Sequence

import numpy as np
from scipy import optimize
from scipy import special

from walt3d_jax.errors import UserError
from walt3d_jax.geometry import camera as camera_lib

# COCO category ids (walt3d_jax.formats.coco.Category).
CAR, PERSON = 1, 2
# COCO-17 indices.
_LEFT_EAR, _RIGHT_EAR = 3, 4
_LEFT_SHOULDER, _RIGHT_SHOULDER, _LEFT_HIP, _RIGHT_HIP = 5, 6, 11, 12
# A walking person's lowest image point (the box's bottom edge) lies in front of the body axis
# by a fraction of the stature (half a foot's length plus half the spread of the stride) that
# grows with how steeply the camera looks down on the feet: the feet and shins are not flat, and
# seen from above a lifted swing foot or a toe nearer the camera is the lowest point, while seen
# from low only points on the ground are. Mean and spread over gait phase and heading of
# shapes.person's walking meshes (the farthest reach towards the camera of p·d - z cot β over the
# mesh, at depression angle β of the view; tests/geometry/test_calibrate.py recomputes them),
# per FOOT_REACH_DEPRESSION_DEG. A constant 0.12 (its mean at ~22°) made near people look too
# small relative to far ones: the horizon came out ~1 % of the image height low on noise-free
# people (intersection, 10 seeds).
FOOT_REACH_DEPRESSION_DEG = (5., 10., 15., 20., 25., 30., 35., 40., 45., 50., 60., 70.)
FOOT_REACH = (0.086, 0.103, 0.113, 0.121, 0.127, 0.134, 0.139, 0.144, 0.148, 0.152, 0.158,
              0.164)
# The spread moves the box's bottom edge and not its top (the head stays on the body axis), so
# the bottom edge is the noisier one.
FOOT_REACH_SD = (0.107, 0.100, 0.095, 0.091, 0.088, 0.084, 0.081, 0.079, 0.078, 0.077, 0.076,
                 0.076)
# Head half-width (horizontal, the mean of half-depth and half-width) and half-height as
# fractions of stature (shapes.person: 0.100, 0.078, 0.115 m at 1.70 m; anthropometric tables
# give a head about 0.13 × stature tall).
HEAD_RADII = (0.089 / 1.70, 0.115 / 1.70)
# Walking lowers the crown: the pelvis rides lower on a bent stance leg than standing, and the
# head top is on average this fraction of the stature below it (shapes.person's gait: 0.019 ±
# 0.013 over phase). Left out, the scale (camera height) came out ~2 % high.
WALKING_DROP = 0.019
# Stature prior (REFERENCE.md): per person 1.70 ± 0.09 m; the population mean itself ± 0.03 m
# (men 1.75, women 1.62: a street's mix moves the mean by a few centimetres).
STATURE_M, STATURE_SD_M, STATURE_MEAN_SD_M = 1.70, 0.09, 0.03
# The camera looks down on people: lower optima are degenerate (heads above the horizon).
MIN_CAMERA_HEIGHT_M = 2.0
# No street camera stands a kilometre up (a drone flies under 120 m): a solve beyond ran off.
MAX_CAMERA_HEIGHT_M = 1000.0
# Global parameters: log f, log height, pitch, roll.
_NUM_CAMERA = 4
_NAMES = ('focal_px', 'height_m', 'pitch_rad', 'roll_rad', 'horizon_row')


class CalibrationError(UserError):
  """The tracks do not constrain the camera; the message says why and what would help."""


@dataclasses.dataclass(frozen=True)
class Observations:
  """Per-detection observations of one stationary camera.

  track_id: (N,) int, the tracker's identity (< 0: untracked, ignored).
  frame: (N,) int frame index; time: (N,) seconds (frame / fps when unknown).
  category: (N,) int, 1 car, 2 person (COCO ids of the project).
  box: (N, 4) float [x, y, w, h] pixels, COCO convention (`formats.rle.mask_box`): a box spans
    columns x .. x + w - 1, so its edges lie at x - 0.5 and x + w - 0.5.
  keypoints: (N, 17, 3) [u, v, score] or None (people: COCO-17; cars: ignored).
  image_size: (width, height) pixels.
  """

  track_id: np.ndarray
  frame: np.ndarray
  time: np.ndarray
  category: np.ndarray
  box: np.ndarray
  keypoints: np.ndarray | None
  image_size: tuple[int, int]

  def __len__(self) -> int:
    return len(self.track_id)

  def select(self, mask: np.ndarray) -> 'Observations':
    kp = None if self.keypoints is None else self.keypoints[mask]
    return Observations(self.track_id[mask], self.frame[mask], self.time[mask],
                        self.category[mask], self.box[mask], kp, self.image_size)

  @classmethod
  def concatenate(cls, parts: Sequence['Observations']) -> 'Observations':
    """One camera's observations from several sources (e.g. people and cars found apart); their
    track ids must not overlap. Parts without keypoints get zero-score ones."""
    if not parts:
      raise ValueError('no observations to concatenate')
    sizes = {p.image_size for p in parts}
    if len(sizes) != 1:
      raise ValueError(f'observations of one camera have one image size, got {sorted(sizes)}')
    ids = [np.unique(p.track_id[p.track_id >= 0]) for p in parts]
    if len(np.concatenate(ids)) != len(np.unique(np.concatenate(ids))):
      raise ValueError('the parts share track ids: renumber them first')
    kps = None
    if any(p.keypoints is not None for p in parts):
      kps = np.concatenate([np.zeros((len(p), 17, 3)) if p.keypoints is None else p.keypoints
                            for p in parts])
    cat = lambda name: np.concatenate([getattr(p, name) for p in parts])
    return cls(cat('track_id'), cat('frame'), cat('time'), cat('category'), cat('box'), kps,
               sizes.pop())

  @classmethod
  def from_coco(cls, entries: Sequence[dict[str, Any]], image_size: tuple[int, int],
                fps: float = 10.0, source: str = '<observations>') -> 'Observations':
    """From COCO annotation entries with `track_id`, `image_id` (= frame index), `category_id`,
    `bbox` and optional `keypoints` (17 × 3 for people); `time` from `timestamp` if present,
    else image_id / fps. Errors name `source` and the entry."""
    n = len(entries)
    track, frame, time, cat = (np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(n),
                               np.zeros(n, np.int64))
    box = np.zeros((n, 4))
    kps = np.zeros((n, 17, 3))
    for i, e in enumerate(entries):
      for field in ('track_id', 'image_id', 'category_id', 'bbox'):
        if field not in e:
          raise CalibrationError(f'{source}: entry {i}: missing field {field!r}')
      b = np.asarray(e['bbox'], np.float64)
      if b.shape != (4,) or not np.all(np.isfinite(b)):
        raise CalibrationError(f'{source}: entry {i}: field \'bbox\': expected 4 numbers')
      track[i], frame[i], cat[i], box[i] = int(e['track_id']), int(e['image_id']), int(
          e['category_id']), b
      time[i] = float(e.get('timestamp', frame[i] / fps))
      k = e.get('keypoints')
      if k is not None and len(k) == 51 and cat[i] == PERSON:
        kps[i] = np.asarray(k, np.float64).reshape(17, 3)
    return cls(track, frame, time, cat, box, kps, (int(image_size[0]), int(image_size[1])))


@dataclasses.dataclass(frozen=True)
class CalibrationConfig:
  """Knobs of `calibrate`.

  use: 'people' (person tracks), 'cars' (car tracks), 'both' (one fit of both), 'auto' (both
    when each class has enough tracks, else the class that has; a class that refuses alone is
    left out, flagged) or 'people_first' (with a prior, the people alone when they calibrate,
    else, flagged, as 'auto'; without a prior as 'auto'). Under the lines' prior the tracks give
    only the scale, and people's statures are the tighter yardstick: from_video's simulated
    videos (built-in detector, no camera; true heights 9 / 5 m) came out at 14.1 / 5.68 m with
    'auto' (its car boxes merge queues and carry shadows; cars alone 14.1 / 5.69) and
    9.26 / 5.28 m with 'people_first'.
  min_tracks / min_observations: fewer usable ones is a refusal.
  min_foot_spread: the 10–90 % range of foot rows, as a fraction of the image height, below which
    the horizon cannot be told from the sizes (refusal).
  border_px: boxes within this many pixels of the image border are truncated: not used.
  keypoint_score: least score of both shoulders and hips (and both ears) for a lean residual.
  keypoint_sigma_px: their noise, pixels.
  loss_scale: residuals (in noise units) beyond this are downweighted (Cauchy).
  noise_px, noise_fraction: residual noise scale, sqrt(noise_px² + (noise_fraction · size)²).
  focal_range: (lo, hi) × image width; the start grid and the refusal bounds.
  num_starts: focal lengths tried as starts.
  pitch_range_deg: sane pitch (refusal outside).
  max_observations_per_track, max_tracks: subsampling (evenly spaced) to bound the cost (for
    cars: observations per piece).
  car_piece_s: a car track is cut into pieces about this many seconds long, each driven
    straight at constant speed; the pieces share the car's size.
  max_car_pieces: pieces kept per car track (evenly spaced over it).
  flag_relative_std: a standard error of f or height above this fraction is flagged.
  size_cut: model the detector's least box height among people (`_size_cut`): near it, boxes
    whose noise made them taller are the ones kept.
  occluded_ratio: a person box less tall than this fraction of its track's median height is
    taken as cut from below (occluded) when finding the smallest box.
  fragment_ratio, fragment_window: a person observation whose box is less tall than
    fragment_ratio × the median height of its track's observations within fragment_window
    places before and after it is a fragment (a detector's piece of the person: legs lost
    against the road) and left out; 0 keeps every observation.
  """

  use: str = 'auto'
  min_tracks: int = 4
  min_observations: int = 20
  min_foot_spread: float = 0.08
  border_px: float = 2.0
  keypoint_score: float = 0.5
  keypoint_sigma_px: float = 2.0
  loss_scale: float = 2.0
  noise_px: float = 1.0
  noise_fraction: float = 0.03
  focal_range: tuple[float, float] = (0.3, 5.0)
  num_starts: int = 4
  pitch_range_deg: tuple[float, float] = (-10.0, 85.0)
  max_observations_per_track: int = 8
  max_tracks: int = 200
  car_piece_s: float = 1.0
  max_car_pieces: int = 6
  flag_relative_std: float = 0.1
  size_cut: bool = True
  occluded_ratio: float = 0.85
  fragment_ratio: float = 0.85
  fragment_window: int = 5


@dataclasses.dataclass(frozen=True)
class CameraPrior:
  """A Gaussian prior on the camera's orientation and focal length from another source (the
  background's lines: `vanishing.SceneLines.prior`): mean (3,) of (log f, pitch, roll),
  covariance (3, 3). `calibrate` adds it to the tracks' residuals; the tracks give the scale."""

  mean: np.ndarray
  covariance: np.ndarray
  source: str = 'prior'

  def __post_init__(self):
    mean, cov = np.asarray(self.mean, np.float64), np.asarray(self.covariance, np.float64)
    if mean.shape != (3,) or cov.shape != (3, 3) or not (np.all(np.isfinite(mean))
                                                         and np.all(np.isfinite(cov))):
      raise CalibrationError(f'camera prior ({self.source}): need a finite mean (3,) and '
                             f'covariance (3, 3), got {mean.shape} and {cov.shape}')
    if np.min(np.linalg.eigvalsh(0.5 * (cov + cov.T))) <= 0:
      raise CalibrationError(f'camera prior ({self.source}): the covariance is not positive '
                             'definite')

  def whitening(self) -> np.ndarray:
    """(3, 3) W with Wᵀ W = covariance⁻¹: W (x - mean) are standard units."""
    return np.linalg.cholesky(np.linalg.inv(np.asarray(self.covariance, np.float64))).T


@dataclasses.dataclass(frozen=True)
class CalibrationResult:
  """A calibrated camera, its standard errors and diagnostics.

  camera: the `Camera` (mounted_camera of the estimates).
  focal_px, height_m, pitch_rad, roll_rad: the estimates; horizon_row: the horizon's row at the
    centre column, pixels.
  std: standard errors of the same five, keyed by _NAMES.
  covariance: (4, 4) of (log f, log height, pitch, roll).
  source: what calibrated it ('people', 'cars' or 'people+cars'; '+scene lines' with that prior).
  num_tracks, num_observations: used; num_inliers: observations within 3 noise units;
  residual_px: median |residual| of the inliers, pixels.
  flags: why the result is weak (empty when not).
  """

  camera: camera_lib.Camera
  focal_px: float
  height_m: float
  pitch_rad: float
  roll_rad: float
  horizon_row: float
  std: dict[str, float]
  covariance: np.ndarray
  source: str
  num_tracks: int
  num_observations: int
  num_inliers: int
  residual_px: float
  flags: tuple[str, ...] = ()

  def uncertainty(self) -> dict[str, Any]:
    """camera.json's `uncertainty` field: standard errors and diagnostics, plain floats."""
    return {
        'std': {k: float(v) for k, v in self.std.items()},
        'estimate': {'focal_px': self.focal_px, 'height_m': self.height_m,
                     'pitch_rad': self.pitch_rad, 'roll_rad': self.roll_rad,
                     'horizon_row': self.horizon_row},
        'source': self.source, 'num_tracks': self.num_tracks,
        'num_observations': self.num_observations, 'num_inliers': self.num_inliers,
        'residual_px': self.residual_px, 'flags': list(self.flags),
    }


# --- the camera as numbers -------------------------------------------------------------------


def rotation(pitch: float, roll: float) -> np.ndarray:
  """(3, 3) R_cg of `camera.mount_rotation` in numpy (float64)."""
  s, c = math.sin(pitch), math.cos(pitch)
  rows = np.array([[0., -1., 0.], [-s, 0., -c], [c, 0., -s]])
  cr, sr = math.cos(roll), math.sin(roll)
  rz = np.array([[cr, -sr, 0.], [sr, cr, 0.], [0., 0., 1.]])
  return rz.T @ rows


def intrinsics(f: float, image_size: tuple[int, int]) -> np.ndarray:
  w, h = image_size
  return np.array([[f, 0., 0.5 * (w - 1)], [0., f, 0.5 * (h - 1)], [0., 0., 1.]])


def horizon_row(f: float, pitch: float, roll: float, image_size: tuple[int, int],
                u: float | None = None) -> float:
  """Row of the horizon (the image of the ground's points at infinity) at column u (default:
  the centre column). The horizon is the line n₀(u - cx) + n₁(v - cy) + f n₂ = 0 of the ground
  normal n (camera frame)."""
  w, h = image_size
  cx, cy = 0.5 * (w - 1), 0.5 * (h - 1)
  n = rotation(pitch, roll)[:, 2]
  u = cx if u is None else u
  return cy - (n[0] * (u - cx) + f * n[2]) / n[1]


def make_camera(f: float, height: float, pitch: float, roll: float,
                image_size: tuple[int, int]) -> camera_lib.Camera:
  """The `mounted_camera` with focal length f pixels (hfov = 2 atan(w / 2f))."""
  hfov = 2. * math.atan(0.5 * image_size[0] / f)
  return camera_lib.mounted_camera(height, pitch, hfov, image_size, roll)


def _ground_points(K_inv: np.ndarray, R: np.ndarray, height: float, uv: np.ndarray,
                   level: np.ndarray) -> np.ndarray:
  """Camera-frame points (N, 3) seen at pixels uv (N, 2) on the plane `level` (N,) metres above
  the ground. Rays that miss it (above its horizon) are clamped to a far point in front."""
  rays = np.concatenate([uv, np.ones_like(uv[:, :1])], 1) @ K_inv.T
  n = R[:, 2]
  down = -(rays @ n)  # > 0 for rays that descend to the plane
  depth = (height - level) / np.maximum(down, 1e-4)
  return depth[:, None] * rays


def _project(K: np.ndarray, points: np.ndarray) -> np.ndarray:
  p = points @ K.T
  return p[:, :2] / np.maximum(p[:, 2:3], 1e-6)


# --- people -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _PeopleData:
  """Box rows: track index (Nb,), box centre column, bottom and top rows, the noise (pixels) of
  the top edge and of the bottom edge; lean rows (observations with confident hips and
  shoulders): mid-hip (Nl, 2) and a point above it on the body axis (Nl, 2), the mid-shoulder
  or (a second row for observations with confident ears) the mid-ear."""

  box_track: np.ndarray
  u_centre: np.ndarray
  v_bottom: np.ndarray
  v_top: np.ndarray
  box_sigma: np.ndarray
  bottom_sigma: np.ndarray
  hip: np.ndarray
  shoulder: np.ndarray
  lean_sigma: float
  num_tracks: int
  size_cut: float = -np.inf
  size_sigma: float = 1.


def _box_edges(box: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
  """Left, right, top, bottom edges (N,) of COCO boxes (N, 4) (pixel centres at integers)."""
  x, y, w, h = box.T
  return x - 0.5, x + w - 0.5, y - 0.5, y + h - 0.5


def _inside(box: np.ndarray, image_size: tuple[int, int], margin: float) -> np.ndarray:
  """(N,) boxes clear of the image border by `margin` pixels (not truncated)."""
  left, right, top, bottom = _box_edges(box)
  w, h = image_size
  return ((left > margin - 0.5) & (top > margin - 0.5) & (right < w - 0.5 - margin)
          & (bottom < h - 0.5 - margin) & (box[:, 2] >= 2) & (box[:, 3] >= 4))


def _subsample(obs: Observations, config: CalibrationConfig, rng: np.random.Generator
               ) -> Observations:
  """At most config.max_tracks tracks (random) and config.max_observations_per_track
  observations per track (evenly spaced along the track)."""
  tracks = np.unique(obs.track_id)
  if len(tracks) > config.max_tracks:
    tracks = np.sort(rng.choice(tracks, config.max_tracks, replace=False))
  keep = np.zeros(len(obs), bool)
  for t in tracks:
    idx = np.flatnonzero(obs.track_id == t)
    keep[_evenly(idx[np.argsort(obs.frame[idx], kind='stable')],
                 config.max_observations_per_track)] = True
  return obs.select(keep)


def _evenly(items: np.ndarray, most: int) -> np.ndarray:
  """At most `most` of `items` (in order), evenly spaced, the first and last kept."""
  if len(items) <= most:
    return items
  return items[np.round(np.linspace(0, len(items) - 1, most)).astype(int)]


def _people_data(obs: Observations, config: CalibrationConfig) -> _PeopleData:
  _, track_index = np.unique(obs.track_id, return_inverse=True)
  left, right, top, bottom = _box_edges(obs.box)
  use_kp = np.zeros(len(obs), bool)
  hip = shoulder = np.zeros((0, 2))
  if obs.keypoints is not None:
    kp = obs.keypoints
    scores = kp[:, [_LEFT_SHOULDER, _RIGHT_SHOULDER, _LEFT_HIP, _RIGHT_HIP], 2]
    use_kp = np.all(scores >= config.keypoint_score, axis=1)
    use_ears = use_kp & np.all(kp[:, [_LEFT_EAR, _RIGHT_EAR], 2] >= config.keypoint_score, axis=1)
    # Ears stand on the body axis above the shoulders (shapes.person: 1 cm behind it; the
    # posture's plumb line through ear, shoulder and hip): a second lean with a longer lever.
    # Its hip noise is shared with the shoulders' row; counted as independent, the standard
    # errors of f come out somewhat small.
    hip = 0.5 * (kp[:, _LEFT_HIP, :2] + kp[:, _RIGHT_HIP, :2])
    hip = np.concatenate([hip[use_kp], hip[use_ears]])
    shoulder = np.concatenate([
        0.5 * (kp[use_kp, _LEFT_SHOULDER, :2] + kp[use_kp, _RIGHT_SHOULDER, :2]),
        0.5 * (kp[use_ears, _LEFT_EAR, :2] + kp[use_ears, _RIGHT_EAR, :2])])
  size = bottom - top
  sigma = np.sqrt(config.noise_px ** 2 + (config.noise_fraction * size) ** 2)
  cut, cut_sigma = _size_cut(size, track_index, config) if config.size_cut else (-np.inf, 1.)
  return _PeopleData(track_index, 0.5 * (left + right), bottom, top, sigma, sigma, hip, shoulder,
                     config.keypoint_sigma_px * math.sqrt(2.),
                     int(track_index.max()) + 1 if len(obs) else 0, cut, cut_sigma)


def _size_cut(height: np.ndarray, track: np.ndarray, config: CalibrationConfig
              ) -> tuple[float, float]:
  """The detector's least box height (pixels) among boxes of heights (N,) on tracks (N,), and
  the standard deviation (pixels) of a box height's noise there.

  A detector (or tracker) keeps boxes above some least size. Near it, a box whose noise made it
  taller is kept and one made shorter is lost: the smallest people look taller than they are,
  as if farther below the horizon (avenue, a long lens with 10 % of the boxes within 2 px of a
  12 px cut: the horizon ~2 % of the image height high from ±1 px box jitter alone, 10 seeds).
  Leaving those boxes out by their height would cut again, with the same bias; the residuals
  instead expect the truncated mean (`_truncation_shift`). The cut is the smallest box not cut
  from below (under config.occluded_ratio of its track's median height: occluded)."""
  if not len(height):
    return -np.inf, 1.
  median = np.zeros(len(height))
  for k in np.unique(track):
    median[track == k] = np.median(height[track == k])
  whole = height >= config.occluded_ratio * median
  cut = float(height[whole].min()) if whole.any() else float(height.min())
  # Two edges of noise_px and noise_fraction · size each.
  return cut, math.sqrt(2.) * math.hypot(config.noise_px, config.noise_fraction * cut)


def _truncation_shift(predicted: np.ndarray, cut: float, sigma: float) -> np.ndarray:
  """Mean excess (N,) pixels of the observed over the predicted box heights (N,) among boxes kept
  by a cut at `cut` pixels, for Gaussian height noise of `sigma` pixels: σ φ(a) / Φ(a), a = (h -
  cut) / σ (the inverse Mills ratio; 0 far above the cut, about cut - h far below it)."""
  a = (predicted - cut) / sigma
  # A trial step of the solver far off (a camera the line search then rejects for its non-finite
  # residuals) can square a past the float range: no warning for that.
  with np.errstate(over='ignore', invalid='ignore'):
    return sigma * np.exp(-0.5 * a ** 2 - 0.5 * math.log(2. * math.pi) - special.log_ndtr(a))


def _head_row(K: np.ndarray, K_inv: np.ndarray, R: np.ndarray, height: float,
              u_centre: np.ndarray, v_foot: np.ndarray, statures: np.ndarray) -> np.ndarray:
  """Rows (N,) of the head tops of people whose box bottom edge is at row v_foot (N,) and whose
  box centre column is u_centre (N,). The foot column is solved so that the box centre lies
  midway between foot and head (the image of a person leans towards the vertical vanishing
  point); the body axis stands the foot reach (`_foot_reach`) beyond the lowest point, away from
  the camera across the ground line of the foot's row."""
  n = R[:, 2]
  u_foot = u_centre.copy()
  away, reach, _ = _foot_reach(K, n, v_foot)
  for _ in range(2):
    foot = _ground_points(K_inv, R, height, np.stack([u_foot, v_foot], 1), np.zeros_like(u_foot))
    head = _project(K, _head_top(foot + (reach * statures)[:, None] * away, n, statures))
    u_foot = u_centre - 0.5 * (head[:, 0] - u_foot)
  return head[:, 1]


def _foot_reach(K: np.ndarray, n: np.ndarray, rows: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """For feet whose lowest image point is at image rows (N,): the unit ground direction (N, 3),
  camera frame, across the ground line seen at that row and away from the camera, and the mean
  and spread (N,) of the body axis's distance behind that line as fractions of stature
  (FOOT_REACH, FOOT_REACH_SD at the view's depression angle); n (3,) the ground's unit up.

  The row's line touches the feet: the axis stands behind it along the line's normal, not along
  the ray from the camera's foot (the two differ off the centre column, and then an error in
  the foot column turns into one in depth)."""
  # The plane through the camera centre and the image row v is N · X = 0, N = Kᵀ (0, 1, -v);
  # N · X = z (v' - v) for a point X seen at row v', so -N points to smaller rows. The feet's
  # farthest point towards the camera across that plane is the lowest; its tilt from the
  # vertical is the depression angle β of the view (cot β = vertical / horizontal part of N).
  N = np.stack([np.zeros_like(rows), np.full_like(rows, K[1, 1]), K[1, 2] - rows], 1)
  vertical = N @ n
  m = -(N - vertical[:, None] * n[None])
  horizontal = np.maximum(np.linalg.norm(m, axis=1), 1e-12)
  beta = np.degrees(np.arctan2(horizontal, np.abs(vertical)))
  return (m / horizontal[:, None], np.interp(beta, FOOT_REACH_DEPRESSION_DEG, FOOT_REACH),
          np.interp(beta, FOOT_REACH_DEPRESSION_DEG, FOOT_REACH_SD))


def _head_top(axis_foot: np.ndarray, n: np.ndarray, statures: np.ndarray) -> np.ndarray:
  """Camera-frame points (N, 3) that make the top edge of the head's silhouette, for body axes
  standing at axis_foot (N, 3) on the ground (unit up n (3,)): the point of the head ellipsoid
  (HEAD_RADII × stature, horizontally round) highest in the image. Seen from above that is
  behind the crown, lower and farther than it; at the crown only for a level view. Taking the
  crown tilts the fit by about half a degree on traffic cameras (measured on noise-free
  `synthetic_people`)."""
  a, c = HEAD_RADII[0] * statures, HEAD_RADII[1] * statures
  centre = axis_foot + ((1. - WALKING_DROP) * statures - c)[:, None] * n
  d = centre / np.maximum(np.linalg.norm(centre, axis=1, keepdims=True), 1e-9)
  u = n[None] - (d @ n)[:, None] * d  # up, perpendicular to the line of sight
  u /= np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-9)
  un = u @ n
  eu = (a ** 2)[:, None] * u + ((c ** 2 - a ** 2) * un)[:, None] * n[None]
  return centre + eu / np.sqrt(np.maximum((u * eu).sum(1), 1e-12))[:, None]


def _with_gait_noise(theta: np.ndarray, data: _PeopleData, image_size) -> _PeopleData:
  """data with the bottom edges' noise (Nb,) pixels at the camera theta: the box noise plus the
  gait's spread of the foot reach (FOOT_REACH_SD at the view's depression angle, times the
  track's stature, metres along the ground away from the camera) as it moves the foot's row. Evaluated at a fitted camera and then held fixed: a noise
  that followed the parameters inside the fit would reward cameras that inflate it."""
  f, height = math.exp(theta[0]), math.exp(theta[1])
  R, K = rotation(theta[2], theta[3]), intrinsics(f, image_size)
  foot = _ground_points(np.linalg.inv(K), R, height, np.stack([data.u_centre, data.v_bottom], 1),
                        np.zeros(len(data.v_bottom)))
  away, _, spread = _foot_reach(K, R[:, 2], data.v_bottom)
  reach = spread * theta[5:][data.box_track]
  shift = _project(K, foot + reach[:, None] * away)[:, 1] - _project(K, foot)[:, 1]
  return dataclasses.replace(data, bottom_sigma=np.hypot(data.box_sigma, shift))


def _people_residuals(theta: np.ndarray, data: _PeopleData, image_size) -> np.ndarray:
  """Residuals in noise units: box top rows (Nb,), leans (Nl,), the priors: mean stature, field of
  view, statures (2 + K,).

  theta: log f, log height, pitch, roll, mean stature μ, statures H_k (K,)."""
  f, height = math.exp(theta[0]), math.exp(theta[1])
  R = rotation(theta[2], theta[3])
  K = intrinsics(f, image_size)
  K_inv = np.linalg.inv(K)
  n = R[:, 2]
  mu, statures = theta[4], theta[5:]
  # Boxes (errors in variables): the foot row s is a latent of each observation, fitted to both
  # edges (the bottom edge is as noisy as the top: mask jitter, the gait); it is eliminated in
  # closed form on the head row's linearisation, one Gauss-Newton step from the bottom edge.
  H = statures[data.box_track]
  s = data.v_bottom.copy()
  # Weighted by the two edges' noise (the bottom one carries the gait's foot reach).
  vb, vt = data.bottom_sigma ** 2, data.box_sigma ** 2
  # Near the detector's size cut the kept boxes are taller than predicted by the truncated mean
  # (`_size_cut`), half at each edge (held at its value at the observed foot row for the step).
  top = _head_row(K, K_inv, R, height, data.u_centre, s, H)
  half = 0.5 * _truncation_shift(s - top, data.size_cut, data.size_sigma)
  for _ in range(1):
    slope = (_head_row(K, K_inv, R, height, data.u_centre, s + 0.5, H) - top) / 0.5
    s = s + (vt * (data.v_bottom - half - s) + vb * slope * (data.v_top + half - top)) / (
        vt + vb * slope ** 2)
    top = _head_row(K, K_inv, R, height, data.u_centre, s, H)
  half = 0.5 * _truncation_shift(s - top, data.size_cut, data.size_sigma)
  out = [(s + half - data.v_bottom) / data.bottom_sigma,
         (top - half - data.v_top) / data.box_sigma]
  # Leans: the mid-shoulder lies on the line from the mid-hip to the vertical vanishing point
  # K n (homogeneous: also when it is at infinity).
  if len(data.hip):
    vp = K @ n
    ones = np.ones((len(data.hip), 1))
    line = np.cross(np.concatenate([data.hip, ones], 1), vp[None])
    dist = (np.concatenate([data.shoulder, ones], 1) * line).sum(1) / np.hypot(line[:, 0],
                                                                               line[:, 1])
    out.append(dist / data.lean_sigma)
  out.append(np.array([(mu - STATURE_M) / STATURE_MEAN_SD_M]))
  out.append(np.array([_focal_prior(theta[0], image_size)]))
  out.append((statures - mu) / STATURE_SD_M)
  return np.concatenate(out)


def _people_jacobian(theta: np.ndarray, data: _PeopleData, image_size) -> np.ndarray:
  """Forward-difference Jacobian: one column per global parameter, and all statures at once
  (each box residual depends on one track's stature, the leans on none)."""
  r0 = _people_residuals(theta, data, image_size)
  num_box = 2 * len(data.box_track)
  J = np.zeros((len(r0), len(theta)))
  for j in range(5):
    step = 1e-6 * max(1., abs(theta[j]))
    t = theta.copy()
    t[j] += step
    J[:, j] = (_people_residuals(t, data, image_size) - r0) / step
  step = 1e-6
  t = theta.copy()
  t[5:] += step
  d = (_people_residuals(t, data, image_size) - r0)[:num_box] / step
  J[np.arange(num_box), 5 + np.tile(data.box_track, 2)] = d
  prior = len(r0) - data.num_tracks
  J[prior + np.arange(data.num_tracks), 5 + np.arange(data.num_tracks)] = 1. / STATURE_SD_M
  return J


def _plane_fit(u: np.ndarray, v: np.ndarray, size: np.ndarray, iters: int = 20
               ) -> tuple[np.ndarray, np.ndarray]:
  """Robust (Huber IRLS) fit size ≈ a v + b u + c; returns (a, b, c) and the weights."""
  A = np.stack([v, u, np.ones_like(u)], 1)
  w = np.ones_like(u)
  coef = np.zeros(3)
  for _ in range(iters):
    sw = np.sqrt(w)
    coef = np.linalg.lstsq(A * sw[:, None], size * sw, rcond=None)[0]
    r = size - A @ coef
    s = 1.4826 * np.median(np.abs(r)) + 1e-9
    k = 1.345 * s
    w = np.where(np.abs(r) <= k, 1., k / np.maximum(np.abs(r), 1e-12))
  return coef, w


def _check_people_geometry(obs: Observations, config: CalibrationConfig,
                           what: str = 'people') -> tuple[float, float]:
  """Refuses people observations that cannot calibrate; returns the start (horizon row at the
  centre column, horizon slope dv/du) of the plane fit."""
  w, h = obs.image_size
  left, right, top, bottom = _box_edges(obs.box)
  spread = np.percentile(bottom, 90) - np.percentile(bottom, 10)
  if spread < config.min_foot_spread * h:
    raise CalibrationError(
        f'no vertical spread: the feet of the {what} lie on one band of rows ({spread:.1f} px '
        f'between the 10th and 90th percentile, need >= {config.min_foot_spread:.0%} of the image '
        f'height = {config.min_foot_spread * h:.1f} px); the horizon cannot be told from sizes')
  size = bottom - top
  u = 0.5 * (left + right) - 0.5 * (w - 1)
  v = bottom - 0.5 * (h - 1)
  (a, b, c), _ = _plane_fit(u, v, size)
  # Size must grow towards the image bottom by a clear margin over the foot rows' spread.
  growth = a * spread
  if not growth > 0.15 * np.median(size):
    raise CalibrationError(
        f'{what} do not grow towards the bottom of the image (box height changes by '
        f'{growth:+.1f} px over the foot rows\' spread, median height {np.median(size):.1f} px): '
        'no ground plane is seen below a horizon (a camera looking at the sky, an upside-down '
        f'image, or boxes that are not {what} on the ground)')
  horizon = -c / a + 0.5 * (h - 1)
  # Cars' box heights depend on their heading as much as on depth: their plane fit only says
  # whether sizes grow downwards, not where the horizon is.
  if what == 'people' and horizon > np.percentile(bottom, 10):
    raise CalibrationError(
        f'the horizon of the sizes (row {horizon:.0f}) lies below the feet: a camera looking at '
        'the sky, or an upside-down image')
  return float(horizon), float(-b / a)


def _start_people(horizon: float, slope: float, f: float, data: _PeopleData,
                  image_size) -> np.ndarray:
  """theta at focal length f: pitch from the horizon row, roll from its slope, height scaled so
  that median predicted and observed box heights agree."""
  w, h = image_size
  pitch = math.atan2(0.5 * (h - 1) - horizon, f)
  # The roll whose horizon slope matches (sign from the model itself).
  d = 1e-3
  s = (horizon_row(f, pitch, d, image_size, 0.5 * (w - 1) + 100.)
       - horizon_row(f, pitch, d, image_size)) / 100.
  roll = float(np.clip(slope / (s / d) if abs(s) > 1e-12 else 0., -0.5, 0.5))
  K = data.num_tracks
  theta = np.concatenate([[math.log(f), math.log(10.), pitch, roll, STATURE_M],
                          np.full(K, STATURE_M)])
  for _ in range(3):
    R, Km = rotation(theta[2], theta[3]), intrinsics(f, image_size)
    top = _head_row(Km, np.linalg.inv(Km), R, math.exp(theta[1]), data.u_centre, data.v_bottom,
                    np.full(len(data.v_bottom), STATURE_M))
    ratio = np.median(np.maximum(data.v_bottom - top, 1e-3)
                      / np.maximum(data.v_bottom - data.v_top, 1e-3))
    if not np.isfinite(ratio) or ratio <= 0:
      break
    theta[1] += math.log(ratio)
  return theta


@dataclasses.dataclass(frozen=True)
class _Solution:
  """A robust least-squares optimum: parameters, residuals, the Jacobian, the Cauchy weights and
  the robust cost."""

  x: np.ndarray
  fun: np.ndarray
  jac: np.ndarray
  weights: np.ndarray
  cost: float
  iterations: int


def cauchy_loss(r: np.ndarray, scale: float, num_robust: int | None = None
                ) -> tuple[float, np.ndarray]:
  """Robust cost Σ c²/2 log(1 + (r/c)²) over the first `num_robust` residuals (the data) plus
  Σ r²/2 over the rest (the priors), and the IRLS weights (1 / (1 + (r/c)²), then 1).

  Priors must stay quadratic: under the Cauchy loss a prior's cost is capped, and the scale
  (camera height and statures together) drifts to zero as soon as the data's robust cost gains
  more than the cap (seen with 100 tracks: camera heights of 0.1 m)."""
  num_robust = len(r) if num_robust is None else num_robust
  # A trial step that runs off overflows to an infinite cost, which the solver rejects.
  with np.errstate(over='ignore'):
    z = (r[:num_robust] / scale) ** 2
    cost = 0.5 * scale ** 2 * np.sum(np.log1p(z)) + 0.5 * np.sum(r[num_robust:] ** 2)
  return float(cost), np.concatenate([1. / (1. + z), np.ones(len(r) - num_robust)])


def solve_robust(fun, jac, theta0: np.ndarray, loss_scale: float, max_iterations: int = 100,
                 tol: float = 1e-10, num_priors: int = 0) -> _Solution:
  """Levenberg-Marquardt on the Cauchy-weighted normal equations (IRLS): the systems are tiny
  (4 camera + 1 + K stature parameters), so each step is one small dense solve. The last
  `num_priors` residuals are priors (quadratic, never downweighted)."""
  x = np.array(theta0, np.float64)
  r = fun(x)
  robust = len(r) - num_priors
  cost, w = cauchy_loss(r, loss_scale, robust)
  lam = 1e-3
  J = jac(x)
  it = 0
  for it in range(1, max_iterations + 1):
    A = J.T @ (w[:, None] * J)
    g = J.T @ (w * r)
    improved = False
    for _ in range(12):
      step = np.linalg.solve(A + lam * np.diag(np.maximum(np.diag(A), 1e-12)), -g)
      x_new = x + step
      r_new = fun(x_new)
      cost_new, w_new = cauchy_loss(r_new, loss_scale, robust) if np.all(np.isfinite(r_new)) else (
          np.inf, None)
      if cost_new < cost:
        improved = True
        break
      lam *= 4.
    if not improved:
      break
    done = cost - cost_new < tol * max(cost, 1.) and np.max(np.abs(step)) < 1e-7 * (
        1. + np.max(np.abs(x)))
    x, r, cost, w = x_new, r_new, cost_new, w_new
    lam = max(lam / 3., 1e-9)
    J = jac(x)
    if done:
      break
  return _Solution(x, r, J, w, cost, it)


def robust_covariance(res: _Solution, num_data: int, num_latent: int = 0) -> np.ndarray:
  """Gauss-Newton covariance of all parameters: σ² (Jᵀ W J)⁻¹ with the Cauchy weights W and σ²
  the weighted variance of the data residuals (the priors' rows are exact units)."""
  J, r, w = res.jac, res.fun, res.weights
  dof = max(num_data - num_latent - J.shape[1], 1)
  sigma2 = float(np.sum(w[:num_data] * r[:num_data] ** 2) / dof)
  return np.linalg.pinv(J.T @ (w[:, None] * J)) * max(sigma2, 1e-12)


def _with_prior(fun, jac, prior: CameraPrior | None):
  """fun and jac with the prior's 3 rows appended (standard units on log f, pitch, roll: theta's
  columns 0, 2, 3), and how many rows that adds; unchanged without a prior."""
  if prior is None:
    return fun, jac, 0
  W, mean = prior.whitening(), np.asarray(prior.mean, np.float64)
  cols = [0, 2, 3]

  def fun_prior(theta):
    return np.concatenate([fun(theta), W @ (theta[cols] - mean)])

  def jac_prior(theta):
    J = jac(theta)
    rows = np.zeros((3, J.shape[1]))
    rows[:, cols] = W
    return np.concatenate([J, rows])

  return fun_prior, jac_prior, 3


def _source(what: str, prior: CameraPrior | None) -> str:
  return what if prior is None else f'{what}+{prior.source}'


def _finish(theta: np.ndarray, cov: np.ndarray, image_size, source: str, num_tracks: int,
            residuals_units: np.ndarray, residual_px: np.ndarray, feet_rows: np.ndarray,
            feet_cols: np.ndarray, config: CalibrationConfig) -> CalibrationResult:
  w, h = image_size
  f, height, pitch, roll = math.exp(theta[0]), math.exp(theta[1]), theta[2], theta[3]
  if not config.focal_range[0] * w <= f <= config.focal_range[1] * w:
    raise CalibrationError(
        f'degenerate fit from {source}: focal length {f:.0f} px is outside '
        f'{config.focal_range[0]}–{config.focal_range[1]} × the image width ({w} px)')
  lo, hi = config.pitch_range_deg
  if not lo <= math.degrees(pitch) <= hi:
    raise CalibrationError(
        f'degenerate fit from {source}: pitch {math.degrees(pitch):.1f}° is outside '
        f'[{lo}°, {hi}°]')
  inlier = residuals_units < 3.
  below = feet_rows > np.array([horizon_row(f, pitch, roll, image_size, u) for u in feet_cols])
  if np.mean(below[inlier]) < 0.9 if inlier.any() else True:
    raise CalibrationError(
        f'degenerate fit from {source}: the fitted horizon is not above the feet '
        f'({np.mean(below):.0%} of the feet below it): a camera looking at the sky?')
  horizon = horizon_row(f, pitch, roll, image_size)
  # Delta method for the horizon row.
  grad = np.zeros(4)
  for j in range(4):
    t = np.array(theta[:4], np.float64)
    step = 1e-6
    t[j] += step
    grad[j] = (horizon_row(math.exp(t[0]), t[2], t[3], image_size) - horizon) / step
  c4 = cov[:4, :4]
  sd = np.sqrt(np.maximum(np.diag(c4), 0.))
  std = {'focal_px': f * sd[0], 'height_m': height * sd[1], 'pitch_rad': sd[2],
         'roll_rad': sd[3], 'horizon_row': float(np.sqrt(max(grad @ c4 @ grad, 0.)))}
  flags = []
  for name, value in (('focal length', sd[0]), ('camera height', sd[1])):
    if value > config.flag_relative_std:
      flags.append(f'uncertain {name}: standard error {value:.0%}')
  if std['pitch_rad'] > math.radians(2.):
    flags.append(f'uncertain tilt: standard error {math.degrees(std["pitch_rad"]):.1f}°')
  if inlier.mean() < 0.6:
    flags.append(f'few inliers: {inlier.mean():.0%} of the observations')
  return CalibrationResult(
      camera=make_camera(f, height, pitch, roll, image_size), focal_px=f, height_m=height,
      pitch_rad=float(pitch), roll_rad=float(roll), horizon_row=float(horizon),
      std={k: float(v) for k, v in std.items()}, covariance=c4, source=source,
      num_tracks=num_tracks, num_observations=len(residuals_units),
      num_inliers=int(inlier.sum()),
      residual_px=float(np.median(residual_px[inlier])) if inlier.any() else float('nan'),
      flags=tuple(flags))


def _usable(obs: Observations, category: int, config: CalibrationConfig) -> Observations:
  keep = (obs.category == category) & (obs.track_id >= 0) & _inside(obs.box, obs.image_size,
                                                                      config.border_px)
  keep &= np.all(np.isfinite(obs.box), axis=1)
  return obs.select(keep)


def _count_check(obs: Observations, what: str, config: CalibrationConfig) -> None:
  tracks = len(np.unique(obs.track_id))
  if tracks < config.min_tracks or len(obs) < config.min_observations:
    raise CalibrationError(
        f'too few {what}: {tracks} tracks and {len(obs)} usable observations (boxes clear of the '
        f'image border), need >= {config.min_tracks} tracks and >= {config.min_observations} '
        'observations; give a longer or busier sequence, or a camera.json')


def calibrate_people(obs: Observations, config: CalibrationConfig = CalibrationConfig(),
                     seed: int = 0, prior: CameraPrior | None = None) -> CalibrationResult:
  """Calibrates from the person tracks of `obs` (see the module docstring), with `prior` on the
  orientation and focal length when given."""
  best, data = _fit_people(obs, config, seed, prior)
  num_obs, num_lean = len(data.box_track), len(data.hip)
  cov = robust_covariance(best, 2 * num_obs + num_lean, num_obs)
  units, px = _people_fit_units(best.fun, data)
  return _finish(best.x, cov, obs.image_size, _source('people', prior), data.num_tracks, units, px,
                 data.v_bottom, data.u_centre, config)


def _implied_heights(prior_mean: np.ndarray, data: _PeopleData, image_size,
                     iterations: int = 40) -> np.ndarray:
  """(Nb,) camera heights (metres) at which a STATURE_M person standing at each box's bottom
  edge reaches its top edge, for the camera (log f, pitch, roll) = prior_mean. The view scales
  with the camera height, so the head row depends on stature / height alone: bisected on that
  ratio, between the heights MIN_CAMERA_HEIGHT_M and MAX_CAMERA_HEIGHT_M."""
  K = intrinsics(math.exp(prior_mean[0]), image_size)
  K_inv, R = np.linalg.inv(K), rotation(prior_mean[1], prior_mean[2])
  lo = np.full(len(data.v_top), STATURE_M / MAX_CAMERA_HEIGHT_M)  # head too low: a short person
  hi = np.full(len(data.v_top), STATURE_M / MIN_CAMERA_HEIGHT_M)
  for _ in range(iterations):
    mid = np.sqrt(lo * hi)
    above = _head_row(K, K_inv, R, 1., data.u_centre, data.v_bottom, mid) < data.v_top
    hi, lo = np.where(above, mid, hi), np.where(above, lo, mid)
  return STATURE_M / np.sqrt(lo * hi)


def _track_heights(heights: np.ndarray, track: np.ndarray) -> np.ndarray:
  """(T,) each track's median of its boxes' camera heights (Nb,), tracks in `np.unique` order."""
  return np.array([np.median(heights[track == t]) for t in np.unique(track)])


def scale_from_people(obs: Observations, prior: CameraPrior, config: CalibrationConfig = CalibrationConfig(),
                      seed: int = 0) -> CalibrationResult:
  """The prior's camera (orientation and focal length, from the background's lines) at the
  height its people give: per box, the camera height at which a STATURE_M person standing at its
  bottom edge reaches its top edge (`_implied_heights`); per track their median, and the median
  over tracks. Standard errors: the tracks' spread (a bootstrap over tracks), the mean stature's
  (STATURE_MEAN_SD_M) and the prior's, carried through (delta method).

  For when the full people fit (`calibrate_people`) refuses: a steep view whose boxes the model
  does not explain (foreshortened bodies, soft shadows in the boxes) can pull it to a camera at
  head height; with the orientation held, one number is left, which boxes of upright people
  tell robustly."""
  people = _usable(obs, PERSON, config)
  _count_check(people, 'people', config)
  data = _people_data(people, config)
  size = obs.image_size
  mean = np.asarray(prior.mean, np.float64)
  per_track = _track_heights(_implied_heights(mean, data, size), data.box_track)
  height = float(np.median(per_track))
  if not MIN_CAMERA_HEIGHT_M < height < MAX_CAMERA_HEIGHT_M:
    raise CalibrationError(f'people scale under the {prior.source}: their boxes put the camera at {height:.2f} m, '
                           f'outside {MIN_CAMERA_HEIGHT_M}-{MAX_CAMERA_HEIGHT_M:g} m')
  rng = np.random.default_rng(seed)
  boot = np.median(per_track[rng.integers(0, len(per_track), (200, len(per_track)))], axis=1)
  var_log = float(np.var(np.log(boot))) + (STATURE_MEAN_SD_M / STATURE_M) ** 2
  # How the height moves with the prior's parameters (forward differences in log height).
  J = np.zeros(3)
  for j in range(3):
    step = np.zeros(3)
    step[j] = 1e-4
    moved = np.median(_track_heights(_implied_heights(mean + step, data, size), data.box_track))
    J[j] = (math.log(moved) - math.log(height)) / 1e-4
  prior_cov = np.asarray(prior.covariance, np.float64)
  cov = np.zeros((4, 4))
  cov[np.ix_([0, 2, 3], [0, 2, 3])] = prior_cov
  cov[1, 1] = var_log + J @ prior_cov @ J
  cov[1, [0, 2, 3]] = cov[[0, 2, 3], 1] = J @ prior_cov
  theta = np.array([mean[0], math.log(height), mean[1], mean[2]])
  # Residuals: each box's top row against a STATURE_M person's at the fitted camera, in units of
  # the box noise and the statures' spread (STATURE_SD_M of the box's height).
  K = intrinsics(math.exp(mean[0]), size)
  top = _head_row(K, np.linalg.inv(K), rotation(mean[1], mean[2]), height, data.u_centre, data.v_bottom,
                  np.full(len(data.v_top), STATURE_M))
  px = np.abs(top - data.v_top)
  sigma = np.hypot(data.box_sigma, STATURE_SD_M / STATURE_M * (data.v_bottom - data.v_top))
  return _finish(theta, cov, size, f'people scale+{prior.source}', data.num_tracks, px / sigma, px,
                 data.v_bottom, data.u_centre, config)


def _people_fit_units(fun: np.ndarray, data: _PeopleData) -> tuple[np.ndarray, np.ndarray]:
  """Per box (Nb,): the residual's size in noise units and in pixels (both edges), from the
  people residuals `fun` (their box rows come first)."""
  num_obs = len(data.box_track)
  pairs = fun[:2 * num_obs].reshape(2, num_obs)
  return (np.hypot(pairs[0], pairs[1]),
          np.hypot(pairs[0] * data.bottom_sigma, pairs[1] * data.box_sigma))


def _stands_high(res) -> bool:
  """Whether a solve (x[1] = log camera height) ended finite with the camera between
  MIN_CAMERA_HEIGHT_M and MAX_CAMERA_HEIGHT_M; compared in log space, so a start that ran off
  is dropped, not overflowed."""
  return bool(np.all(np.isfinite(res.x)) and np.isfinite(res.cost)
              and math.log(MIN_CAMERA_HEIGHT_M) <= res.x[1] <= math.log(MAX_CAMERA_HEIGHT_M))


def _fit_people(obs: Observations, config: CalibrationConfig, seed: int,
                prior: CameraPrior | None = None) -> tuple[_Solution, _PeopleData]:
  """The people's optimum (theta: camera, μ, statures) and their data with the gait's noise."""
  people = _usable(obs, PERSON, config)
  _count_check(people, 'people', config)
  people = _subsample(people, config, np.random.default_rng(seed))
  horizon, slope = _check_people_geometry(people, config)
  data = _people_data(people, config)
  size = obs.image_size
  fun, jac, extra = _with_prior(lambda t: _people_residuals(t, data, size),
                                lambda t: _people_jacobian(t, data, size), prior)
  w = size[0]
  best = fallback = None
  for f in np.geomspace(config.focal_range[0] * w, config.focal_range[1] * w, config.num_starts):
    theta0 = _start_people(horizon, slope, float(f), data, size)
    if not np.all(np.isfinite(fun(theta0))):
      continue
    res = solve_robust(fun, jac, theta0, config.loss_scale, num_priors=2 + data.num_tracks + extra)
    # A camera below the people's heads explains sizes too (degenerate): traffic cameras look
    # down on people, so such optima are skipped.
    if not _stands_high(res):
      if np.all(np.isfinite(res.x)) and (fallback is None or res.cost < fallback.cost):
        fallback = res
      continue
    if best is None or res.cost < best.cost:
      best = res
  if best is None:
    if fallback is None:
      raise CalibrationError('people: no starting camera gave finite residuals')
    raise CalibrationError(
        f'degenerate fit from people: the best camera stands {math.exp(fallback.x[1]):.2f} m '
        f'above the ground, below the people\'s heads (need >= {MIN_CAMERA_HEIGHT_M} m)')
  # The start's grid compares costs under one noise model (both edges alike); from its best
  # camera, the bottom edges get the gait's noise too (`_with_gait_noise`), re-evaluated once at
  # the refined camera. The gait moves the bottom edge more than the top: weighting both alike
  # is an errors-in-variables fit with the wrong noise ratio (measured on intersection, 10
  # seeds with detection noise, before the size cut and the ears: mean horizon error +0.7 %H
  # and tilt -0.4° without, +0.1 %H and -0.1° with).
  for _ in range(2):
    noisier = _with_gait_noise(best.x, data, size)
    fun, jac, extra = _with_prior(lambda t, d=noisier: _people_residuals(t, d, size),
                                  lambda t, d=noisier: _people_jacobian(t, d, size), prior)
    refined = solve_robust(fun, jac, best.x, config.loss_scale,
                           num_priors=2 + data.num_tracks + extra)
    if not _stands_high(refined):
      break
    best, data = refined, noisier
  return best, data


# --- cars -------------------------------------------------------------------------------------

# Car size prior, length, width (no mirrors), height in metres, of `car_template` (a sedan's
# hull) scaled to box like each car of a street's mix (REFERENCE.md: hatchbacks 3.6-4.2 m,
# sedans 4.4-4.95, SUVs 4.3-5.1, vans and pickups to 5.9 m long; widths 1.65-2.10 m; heights
# 1.40-2.00 m): mean and spread over an equal mix of shapes.vehicle's five body types. A boxy
# car boxes like a taller sedan (a van's 1.87 m like 2.11 m), so the template's heights average
# 1.79 m where the cars' own average 1.68 m; a prior on the own heights shrank the scene (camera
# heights 3-13 % low). tests/geometry/test_calibrate_cars.py refits these to the meshes.
CAR_SIZE_M = np.array([4.79, 1.88, 1.79])
CAR_SIZE_SD_M = np.array([0.6, 0.13, 0.26])
# Field of view prior (REFERENCE.md: traffic cameras have horizontal fields of view of 40-90
# degrees): log f about that of 65 degrees, sd 0.3 (40 and 90 degrees at about 1.8 and 1.5 sd).
# Boxes of cars seen over a second or two trade focal length against tilt (a long lens looking
# steeply down makes the same boxes); the prior breaks that tie. People's boxes without
# keypoints leave the focal length as loose (noise-free, 10 seeds on intersection: 25-38 %
# spread), and there the prior holds it; with the leans the data outweigh it.
TRAFFIC_HFOV_RAD = math.radians(65.)
TRAFFIC_LOG_FOCAL_SD = 0.3


def _focal_prior(log_focal: float, image_size) -> float:
  """The field-of-view prior's residual (standard units) of a focal length exp(log_focal) px."""
  return (log_focal - math.log(image_size[0] / (2. * math.tan(0.5 * TRAFFIC_HFOV_RAD)))) / (
      TRAFFIC_LOG_FOCAL_SD)
# A car track is cut into pieces of CalibrationConfig.car_piece_s seconds, each driven straight at
# constant speed: per piece ground x, y (metres, at the piece's mid time), heading (rad) and
# speed (m/s); per track the car's length, width and height (metres), which all its pieces share.
_CAR_MOTION = 4
_CAR_SIZE = 3


@functools.lru_cache(maxsize=1)
def car_template() -> np.ndarray:
  """(P, 3) silhouette points of a car of unit length, width and height (object frame: x
  forward, z up, origin at the footprint centre): the convex hull of a mid-size sedan's mesh
  (`shapes.vehicle`), whose bonnet, cabin and boot a cuboid would overstate at the top."""
  from scipy import spatial  # pylint: disable=g-import-not-at-top
  from walt3d_jax.shapes import vehicle  # pylint: disable=g-import-not-at-top
  params = vehicle.sample_car_params(np.random.default_rng(0), 'sedan')
  verts = vehicle.car_mesh(params).vertices / np.asarray(vehicle.car_dimensions(params))
  return verts[spatial.ConvexHull(verts).vertices]


# Roads meet at right angles (or run parallel) in most street layouts: the moving cars'
# directions of travel, modulo 90°, scatter about one road direction by about this much
# (radians). Turning cars and oblique roads are outliers of the Cauchy loss. The angles between
# roads on the ground are what pins the focal length against the tilt.
ROAD_ANGLE_SD_RAD = 0.1


@dataclasses.dataclass(frozen=True)
class _CarData:
  """Observations of car tracks: piece index (N,), track index (N,), seconds from the piece's
  mid time (N,), box edges (N, 4) left, right, top, bottom (pixels), noise (N,) pixels; moving
  (S,) bool: pieces whose box centre moved by more than half its height (their heading is
  seen)."""

  piece: np.ndarray
  track: np.ndarray
  dt: np.ndarray
  edges: np.ndarray
  sigma: np.ndarray
  num_pieces: int
  num_tracks: int
  moving: np.ndarray


def _car_pieces(obs: Observations, seconds: float) -> np.ndarray:
  """(N,) piece index of each observation: its track's time span cut into round(span / seconds)
  (at least one) equal pieces; pieces numbered 0.. in order of (track, time)."""
  _, track = np.unique(obs.track_id, return_inverse=True)
  num = track.max() + 1 if len(obs) else 0
  first, last = np.full(num, np.inf), np.full(num, -np.inf)
  np.minimum.at(first, track, obs.time)
  np.maximum.at(last, track, obs.time)
  count = np.maximum(np.round((last - first) / seconds), 1.)
  length = np.maximum((last - first) / count, 1e-9)
  index = np.minimum(np.floor((obs.time - first[track]) / length[track]), count[track] - 1)
  return np.unique(np.stack([track, index.astype(np.int64)], 1), axis=0,
                   return_inverse=True)[1].reshape(-1)


def _car_subsample(obs: Observations, config: CalibrationConfig, rng: np.random.Generator
                   ) -> Observations:
  """At most 40 tracks (random), config.max_car_pieces pieces per track and
  config.max_observations_per_track observations per piece (both evenly spaced): the solve has
  4 parameters per piece."""
  obs = _subsample(obs, dataclasses.replace(config, max_tracks=min(config.max_tracks, 40),
                                            max_observations_per_track=len(obs)), rng)
  piece = _car_pieces(obs, config.car_piece_s)
  keep = np.zeros(len(obs), bool)
  for t in np.unique(obs.track_id):
    for k in _evenly(np.unique(piece[obs.track_id == t]), config.max_car_pieces):
      idx = np.flatnonzero(piece == k)
      keep[_evenly(idx[np.argsort(obs.time[idx], kind='stable')],
                   config.max_observations_per_track)] = True
  return obs.select(keep)


def _car_data(obs: Observations, config: CalibrationConfig) -> _CarData:
  piece = _car_pieces(obs, config.car_piece_s)
  _, track = np.unique(obs.track_id, return_inverse=True)
  num_pieces = int(piece.max()) + 1 if len(obs) else 0
  lo = np.full(num_pieces, np.inf)
  hi = np.full(num_pieces, -np.inf)
  np.minimum.at(lo, piece, obs.time)
  np.maximum.at(hi, piece, obs.time)
  edges = np.stack(_box_edges(obs.box), 1)
  size = edges[:, 3] - edges[:, 2]
  sigma = np.sqrt(config.noise_px ** 2 + (config.noise_fraction * size) ** 2)
  centre = np.stack([edges[:, :2].mean(1), edges[:, 2:].mean(1)], 1)
  moving = np.zeros(num_pieces, bool)
  for k in range(num_pieces):
    idx = np.flatnonzero(piece == k)
    first, last = idx[np.argmin(obs.time[idx])], idx[np.argmax(obs.time[idx])]
    moving[k] = np.linalg.norm(centre[last] - centre[first]) > 0.5 * np.median(size[idx])
  return _CarData(piece, track, obs.time - 0.5 * (lo + hi)[piece], edges, sigma, num_pieces,
                  int(track.max()) + 1 if len(obs) else 0, moving)


def _car_split(theta: np.ndarray, data: _CarData) -> tuple[np.ndarray, np.ndarray]:
  """theta's per-piece motion (S, 4) and per-track size (K, 3)."""
  cut = _NUM_CAMERA + _CAR_MOTION * data.num_pieces
  return (theta[_NUM_CAMERA:cut].reshape(-1, _CAR_MOTION), theta[cut:].reshape(-1, _CAR_SIZE))


def _road_angle_residuals(headings: np.ndarray, moving: np.ndarray) -> np.ndarray:
  """(M,) deviations of the moving tracks' headings (K,) from the nearest multiple of 90° about
  the dominant road direction (the circular mean of 4θ), in ROAD_ANGLE_SD_RAD units."""
  theta = headings[moving]
  if len(theta) < 2:
    return np.zeros(len(theta))
  road = np.angle(np.mean(np.exp(4j * theta))) / 4.
  return np.sin(4. * (theta - road)) / 4. / ROAD_ANGLE_SD_RAD


def _car_edges(theta: np.ndarray, data: _CarData, image_size) -> np.ndarray:
  """Predicted box edges (N, 4) of each observation: the projected silhouette of its track's
  size at its piece's position at that time (straight line, constant speed)."""
  # Clipped: a wild trial step must come back as a poor (rejected) step, not an overflow.
  f, height = np.exp(np.clip(theta[:2], -30., 30.))
  R = rotation(theta[2], theta[3])
  K = intrinsics(f, image_size)
  motion, dims = _car_split(theta, data)
  motion = motion[data.piece]  # (N, 4)
  heading = motion[:, 2]
  c, s = np.cos(heading), np.sin(heading)
  x = motion[:, 0] + motion[:, 3] * data.dt * c
  y = motion[:, 1] + motion[:, 3] * data.dt * s
  local = car_template()[None] * dims[data.track][:, None]  # (N, P, 3)
  ground = np.stack([x[:, None] + c[:, None] * local[..., 0] - s[:, None] * local[..., 1],
                     y[:, None] + s[:, None] * local[..., 0] + c[:, None] * local[..., 1],
                     local[..., 2]], -1)
  cam = ground @ R.T - height * R[:, 2]
  z = np.maximum(cam[..., 2], 0.1)  # points behind the camera: clamped (such starts lose)
  u = K[0, 0] * cam[..., 0] / z + K[0, 2]
  v = K[1, 1] * cam[..., 1] / z + K[1, 2]
  return np.stack([u.min(1), u.max(1), v.min(1), v.max(1)], 1)


def _car_residuals(theta: np.ndarray, data: _CarData, image_size) -> np.ndarray:
  """Box edges (4N,) in noise units, the road angles of the moving pieces, then the size priors
  (3K,) and the field-of-view prior."""
  pred = _car_edges(theta, data, image_size)
  res = ((pred - data.edges) / data.sigma[:, None]).T.reshape(-1)
  motion, dims = _car_split(theta, data)
  roads = _road_angle_residuals(motion[:, 2], data.moving)
  fov = _focal_prior(theta[0], image_size)
  return np.concatenate([res, roads, ((dims - CAR_SIZE_M) / CAR_SIZE_SD_M).reshape(-1), [fov]])


def _car_jacobian(theta: np.ndarray, data: _CarData, image_size) -> np.ndarray:
  """Forward differences: one column per camera parameter, and each per-piece (per-track)
  parameter of all pieces (tracks) at once (an observation depends on its own piece and track
  only); the priors are analytic."""
  r0 = _car_residuals(theta, data, image_size)
  n, num_pieces = len(data.piece), data.num_pieces
  J = np.zeros((len(r0), len(theta)))
  for j in range(_NUM_CAMERA):
    step = 1e-6 * max(1., abs(theta[j]))
    t = theta.copy()
    t[j] += step
    J[:, j] = (_car_residuals(t, data, image_size) - r0) / step
  rows = np.arange(4 * n)
  cut = _NUM_CAMERA + _CAR_MOTION * num_pieces
  for first, width, owner, count in ((_NUM_CAMERA, _CAR_MOTION, data.piece, num_pieces),
                                     (cut, _CAR_SIZE, data.track, data.num_tracks)):
    owner = np.tile(owner, 4)
    for j in range(width):
      step = 1e-6
      t = theta.copy()
      t[first + j:first + width * count:width] += step
      J[rows, first + width * owner + j] = (
          _car_residuals(t, data, image_size)[:4 * n] - r0[:4 * n]) / step
  # Road angles: each row depends on its piece's heading (and, weakly, through the dominant
  # direction, on all: left out, as an IRLS step would).
  movers = np.flatnonzero(data.moving)
  if len(movers) >= 2:
    heading = _car_split(theta, data)[0][movers, 2]
    road = np.angle(np.mean(np.exp(4j * heading))) / 4.
    J[4 * n + np.arange(len(movers)), _NUM_CAMERA + _CAR_MOTION * movers + 2] = (
        np.cos(4. * (heading - road)) / ROAD_ANGLE_SD_RAD)
  prior_rows = 4 * n + len(movers) + np.arange(_CAR_SIZE * data.num_tracks)  # the focal prior (last) is in the camera columns
  J[prior_rows, cut + np.arange(_CAR_SIZE * data.num_tracks)] = np.tile(1. / CAR_SIZE_SD_M, data.num_tracks)
  return J


def _start_cars(f: float, pitch: float, data: _CarData, image_size) -> np.ndarray:
  """theta for a camera (f, pitch, no roll): `_place_cars`, the height scaled until the median
  predicted and observed box heights agree."""
  height = 10.
  theta = np.concatenate([[math.log(f), math.log(height), pitch, 0.],
                          np.zeros(_CAR_MOTION * data.num_pieces),
                          np.tile(CAR_SIZE_M, data.num_tracks)])
  for _ in range(3):
    theta[1] = math.log(height)
    _place_cars(theta, data, image_size)
    pred = _car_edges(theta, data, image_size)
    ratio = np.median((pred[:, 3] - pred[:, 2]) / np.maximum(data.edges[:, 3] - data.edges[:, 2], 1.))
    if not np.isfinite(ratio) or ratio <= 0:
      break
    height *= ratio
  return theta


def _place_cars(theta: np.ndarray, data: _CarData, image_size) -> None:
  """Fills theta's per-piece motion in place for its camera: each piece put where its box
  bottoms meet the ground, heading along its motion (or across the line of sight for a car that
  hardly moves)."""
  f, height = math.exp(theta[0]), math.exp(theta[1])
  R, Km = rotation(theta[2], theta[3]), intrinsics(f, image_size)
  bottom = np.stack([0.5 * (data.edges[:, 0] + data.edges[:, 1]), data.edges[:, 3]], 1)
  cam = _ground_points(np.linalg.inv(Km), R, height, bottom, np.zeros(len(bottom)))
  ground = (cam + height * R[:, 2]) @ R  # camera -> ground frame
  motion = _car_split(theta, data)[0]  # a view: filled in place
  for k in range(data.num_pieces):
    idx = np.flatnonzero(data.piece == k)
    pts, dt = ground[idx, :2], data.dt[idx]
    centre = pts.mean(0)
    # The box bottom is the car's near side: its centre lies about half a width farther.
    away = centre / max(np.linalg.norm(centre), 1e-6)
    centre = centre + 0.9 * away
    span = dt.max() - dt.min()
    move = pts[np.argmax(dt)] - pts[np.argmin(dt)]
    heading = math.atan2(move[1], move[0]) if np.linalg.norm(move) > 1. else math.atan2(away[1], away[0]) + math.pi / 2
    speed = np.linalg.norm(move) / span if span > 0 and np.linalg.norm(move) > 1. else 0.
    motion[k] = [centre[0], centre[1], heading, speed]


def calibrate_cars(obs: Observations, config: CalibrationConfig = CalibrationConfig(),
                   seed: int = 0, prior: CameraPrior | None = None) -> CalibrationResult:
  """Calibrates from the car tracks of `obs`: each track is `car_template` of one size (prior
  CAR_SIZE_M ± CAR_SIZE_SD_M), cut into pieces of config.car_piece_s seconds, each moving
  straight at constant speed on the ground; its projected box explains the observed boxes.
  Cars driving along lanes carry the lanes' vanishing points (perspective along the motion),
  their fixed sizes at many depths the horizon, the size prior the scale. Turning or occluded
  observations are downweighted by the Cauchy loss."""
  best, data = _fit_cars(obs, config, seed, prior)
  num_obs = len(data.track)
  cov = robust_covariance(best, 4 * num_obs, 0)
  units = _car_fit_units(best.fun, data)
  result = _finish(best.x, cov, obs.image_size, _source('cars', prior), data.num_tracks, units,
                   units * data.sigma, data.edges[:, 3],
                   0.5 * (data.edges[:, 0] + data.edges[:, 1]), config)
  if prior is not None:
    return result  # the prior (the background's lines) holds the focal length and tilt
  # Measured on the simulator's presets (benchmarks/calibrate.py, 3 seeds): focal length off by
  # up to 15-22 %, tilt by up to 3-6° and the horizon by up to 4.5 % of the image height, with
  # standard errors that understate it (the cost is nearly flat along focal length vs tilt):
  # always said.
  result = dataclasses.replace(result, flags=result.flags + (
      'car-only calibration: focal length and tilt are weakly constrained by car boxes (errors '
      'up to 15-22 % / 6° on simulated scenes); check the ground grid in the report',))
  spread = _direction_spread(_car_split(best.x, data)[0])
  if spread < math.radians(30.):
    # One road direction gives one vanishing point: the focal length then rests on the
    # field-of-view prior and the car-size model (measured errors up to +30 %).
    flag = (f'one road direction (moving cars\' headings within {math.degrees(spread):.0f}°): focal '
            'length and tilt rest on the field-of-view prior; standard errors understate it')
    result = dataclasses.replace(result, flags=result.flags + (flag,))
  return result


def _car_fit_units(fun: np.ndarray, data: _CarData) -> np.ndarray:
  """Per observation (N,): the rms of its 4 edge residuals in noise units, from the car
  residuals `fun` (their edge rows come first)."""
  num_obs = len(data.track)
  return np.sqrt(np.mean(fun[:4 * num_obs].reshape(4, num_obs) ** 2, axis=0))


def _fit_cars(obs: Observations, config: CalibrationConfig, seed: int,
              prior: CameraPrior | None = None) -> tuple[_Solution, _CarData]:
  """The cars' optimum (theta: camera, piece motions, car sizes) and their data."""
  cars = _usable(obs, CAR, config)
  _count_check(cars, 'cars', config)
  cars = _car_subsample(cars, config, np.random.default_rng(seed))
  _check_people_geometry(cars, config, 'cars')  # spread of rows, growth towards the bottom
  data = _car_data(cars, config)
  size = cars.image_size
  fun, jac, extra = _with_prior(lambda t: _car_residuals(t, data, size),
                                lambda t: _car_jacobian(t, data, size), prior)
  num_priors = 3 * data.num_tracks + 1 + extra
  starts = []
  for f in np.geomspace(0.4 * size[0], 2.5 * size[0], 4):
    for pitch in np.radians([8., 20., 35., 55.]):
      theta0 = _start_cars(float(f), float(pitch), data, size)
      r0 = fun(theta0)
      if np.all(np.isfinite(r0)):
        starts.append((cauchy_loss(r0, config.loss_scale, len(r0) - num_priors)[0], theta0))
  if not starts:
    raise CalibrationError('cars: no starting camera gave finite residuals')
  # A few steps from every start, then the 3 best of those to convergence: each solve has a few
  # hundred parameters, and the cost is flat along focal length vs tilt, so a start's own cost
  # says little (on the intersection the best camera came from the 10th start of 16).
  short = [solve_robust(fun, jac, theta0, config.loss_scale, max_iterations=6,
                        num_priors=num_priors) for _, theta0 in starts]
  short = [r for r in short if _stands_high(r)]
  best = None
  for r in sorted(short, key=lambda r: r.cost)[:3]:
    res = solve_robust(fun, jac, r.x, config.loss_scale, max_iterations=100, num_priors=num_priors)
    if not _stands_high(res):
      continue
    if best is None or res.cost < best.cost:
      best = res
  if best is None:
    raise CalibrationError(f'degenerate fit from cars: every camera found stands below '
                           f'{MIN_CAMERA_HEIGHT_M} m')
  return best, data


# --- people and cars together ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _JointData:
  """People and cars seen by one camera; theta = camera (4), μ and the statures (1 + Kp), the
  cars' piece motions and sizes (4 S + 3 Kc)."""

  people: _PeopleData
  cars: _CarData

  @property
  def num_people_data(self) -> int:  # box bottoms and tops, leans
    return 2 * len(self.people.box_track) + len(self.people.hip)

  @property
  def num_car_data(self) -> int:  # box edges, road angles of the moving pieces
    return 4 * len(self.cars.track) + int(np.count_nonzero(self.cars.moving))

  @property
  def num_priors(self) -> int:  # μ, field of view, statures; car sizes
    return 2 + self.people.num_tracks + _CAR_SIZE * self.cars.num_tracks

  def split(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The people's theta and the cars' theta, each with the shared camera first."""
    cut = _NUM_CAMERA + 1 + self.people.num_tracks
    return theta[:cut], np.concatenate([theta[:_NUM_CAMERA], theta[cut:]])


def _joint_residuals(theta: np.ndarray, data: _JointData, image_size) -> np.ndarray:
  """The people's data rows, the cars' data rows, then the priors: μ, the field of view (once),
  the statures, the car sizes."""
  tp, tc = data.split(theta)
  rp = _people_residuals(tp, data.people, image_size)
  rc = _car_residuals(tc, data.cars, image_size)
  n_p, n_c = data.num_people_data, data.num_car_data
  return np.concatenate([rp[:n_p], rc[:n_c], rp[n_p:], rc[n_c:-1]])


def _joint_jacobian(theta: np.ndarray, data: _JointData, image_size) -> np.ndarray:
  """The two classes' Jacobians, rows ordered as `_joint_residuals`, sharing the camera columns."""
  tp, tc = data.split(theta)
  Jp = _people_jacobian(tp, data.people, image_size)
  Jc = _car_jacobian(tc, data.cars, image_size)
  n_p, n_c, cut = data.num_people_data, data.num_car_data, len(tp)
  J = np.zeros((len(Jp) + len(Jc) - 1, len(theta)))
  rows_p = np.r_[0:n_p, n_p + n_c:n_p + n_c + len(Jp) - n_p]
  rows_c = np.r_[n_p:n_p + n_c, n_p + n_c + len(Jp) - n_p:len(J)]
  J[rows_p, :cut] = Jp
  Jc = Jc[:-1]  # the field-of-view prior: counted once, with the people's
  J[rows_c, :_NUM_CAMERA] = Jc[:, :_NUM_CAMERA]
  J[rows_c, cut:] = Jc[:, _NUM_CAMERA:]
  return J


def calibrate_joint(obs: Observations, config: CalibrationConfig = CalibrationConfig(),
                    seed: int = 0, prior: CameraPrior | None = None) -> CalibrationResult:
  """Calibrates from the person and the car tracks of `obs` together: one camera explains the
  people's boxes (and leans) and the cars' boxes, each class with its own latents and priors
  (see the module docstring). Each class is first fitted alone; both optima start the joint
  fit (the other class's latents placed at that camera) and the lower cost wins."""
  sol_p, people = _fit_people(obs, config, seed, prior)
  sol_c, cars = _fit_cars(obs, config, seed, prior)
  size = obs.image_size
  data = _JointData(people, cars)
  placed = np.concatenate([sol_p.x[:_NUM_CAMERA], np.zeros(_CAR_MOTION * cars.num_pieces),
                           np.tile(CAR_SIZE_M, cars.num_tracks)])
  _place_cars(placed, cars, size)
  starts = [np.concatenate([sol_p.x, placed[_NUM_CAMERA:]]),
            np.concatenate([sol_c.x[:_NUM_CAMERA], np.full(1 + people.num_tracks, STATURE_M),
                            sol_c.x[_NUM_CAMERA:]])]
  best = None
  fun, jac, extra = _with_prior(lambda t: _joint_residuals(t, data, size),
                                lambda t: _joint_jacobian(t, data, size), prior)
  for theta0 in starts:
    res = solve_robust(fun, jac, theta0, config.loss_scale, num_priors=data.num_priors + extra)
    if _stands_high(res) and (best is None or res.cost < best.cost):
      best = res
  if best is None:
    raise CalibrationError(f'degenerate fit from people and cars: every camera found stands '
                           f'below {MIN_CAMERA_HEIGHT_M} m')
  # The bottom edges' gait noise, at the joint camera (as `_fit_people` does at its own).
  noisier = dataclasses.replace(data, people=_with_gait_noise(data.split(best.x)[0], people, size))
  fun, jac, extra = _with_prior(lambda t: _joint_residuals(t, noisier, size),
                                lambda t: _joint_jacobian(t, noisier, size), prior)
  refined = solve_robust(fun, jac, best.x, config.loss_scale,
                         num_priors=noisier.num_priors + extra)
  if _stands_high(refined):
    best, data = refined, noisier
  people = data.people
  n_p = data.num_people_data
  num_box = len(people.box_track)
  cov = robust_covariance(best, n_p + data.num_car_data, num_box)
  units_p, px_p = _people_fit_units(best.fun, people)
  units_c = _car_fit_units(best.fun[n_p:], cars)
  result = _finish(best.x, cov, size, _source('people+cars', prior),
                   people.num_tracks + cars.num_tracks,
                   np.concatenate([units_p, units_c]), np.concatenate([px_p, units_c * cars.sigma]),
                   np.concatenate([people.v_bottom, cars.edges[:, 3]]),
                   np.concatenate([people.u_centre, 0.5 * (cars.edges[:, 0] + cars.edges[:, 1])]),
                   config)
  if not len(people.hip) and prior is None:
    # Without leans the people's boxes barely constrain the focal length: it rests on the car
    # model, whose standard errors understate its errors (benchmarks/calibrate.py: up to 15 % and
    # 3° on simulated scenes, at up to 10 standard errors).
    result = dataclasses.replace(result, flags=result.flags + (
        'people without keypoints: focal length and tilt rest on the cars\' boxes (errors up to '
        '15 % / 3° on simulated scenes); check the ground grid in the report',))
  return result


def _direction_spread(motion: np.ndarray, min_speed: float = 1.) -> float:
  """Spread (radians) of the directions of travel of the pieces (S, 4) (x, y, heading, speed)
  moving at >= min_speed m/s, modulo π (half the circular standard deviation of the doubled angles); 0 when fewer than
  two move (no vanishing point at all)."""
  moving = motion[np.abs(motion[:, 3]) >= min_speed, 2]
  if len(moving) < 2:
    return 0.
  resultant = np.abs(np.mean(np.exp(2j * moving)))
  return 0.5 * math.sqrt(max(-2. * math.log(max(resultant, 1e-12)), 0.))


# The tracks' own fit is compared with a prior: the squared Mahalanobis distance between them
# (under both covariances, the tracks' scaled by TRACKS_INFLATION² since their standard errors
# understate the errors several times, see the module docstring) above PRIOR_CHI2 (χ² with 3
# degrees of freedom at 0.999) is flagged.
PRIOR_CHI2 = 16.27
TRACKS_INFLATION = 3.0


def calibrate(obs: Observations, config: CalibrationConfig = CalibrationConfig(),
              seed: int = 0, prior: CameraPrior | None = None) -> CalibrationResult:
  """The camera of `obs` from its person tracks (config.use 'people'), its car tracks ('cars'),
  both together ('both'), or ('auto') both when each class has enough tracks, else the class
  that has. Under 'auto', when one class of two cannot calibrate (its refusal), the other
  calibrates alone and the result is flagged with that refusal. Raises CalibrationError naming
  the reason when the tracks do not constrain the camera.

  prior: the orientation and focal length from elsewhere (the background's lines:
  `vanishing.SceneLines.prior`), added to the tracks' residuals; the tracks then give the scale
  and what the prior leaves open. The tracks are also fitted alone, and when their camera and
  the prior disagree (PRIOR_CHI2) the result is flagged. The prior is kept: on the simulated
  crosswalk video the built-in detector's tracks alone gave 394-983 px (true 343) over the
  original, re-encoded and shaken copies, while the lines gave 339-345 px on every copy.

  Person fragments are left out first (`drop_fragments`)."""
  obs = drop_fragments(obs, config)
  if prior is None:
    return _calibrate(obs, config, seed, None)
  result = _calibrate(obs, config, seed, prior)
  try:
    alone = _calibrate(obs, config, seed, None)
  except CalibrationError:
    return result  # the tracks cannot tell the camera alone: nothing to compare
  cols = [0, 2, 3]
  gap = np.array([math.log(alone.focal_px), alone.pitch_rad, alone.roll_rad]) - np.asarray(
      prior.mean, np.float64)
  both = alone.covariance[np.ix_(cols, cols)] * TRACKS_INFLATION ** 2 + np.asarray(
      prior.covariance, np.float64)
  d2 = float(gap @ np.linalg.solve(both, gap))
  if d2 <= PRIOR_CHI2:
    return result
  return dataclasses.replace(result, flags=result.flags + (
      f'{prior.source} and tracks disagree: the tracks alone give focal length '
      f'{alone.focal_px:.0f} px and tilt {math.degrees(alone.pitch_rad):.1f}°, the '
      f'{prior.source} {math.exp(prior.mean[0]):.0f} px and {math.degrees(prior.mean[1]):.1f}° '
      f'(Mahalanobis distance {math.sqrt(d2):.1f}); kept the {prior.source}: check them in the '
      'report',))


def drop_fragments(obs: Observations, config: CalibrationConfig) -> Observations:
  """obs without its people's fragments (`CalibrationConfig.fragment_ratio`): person boxes much
  less tall than their track's neighbouring boxes in time. A detector loses parts of people
  (legs against the road, a head against a dark facade) far more often than it adds them, so
  such boxes bias the scale one way: on from_video's simulated video the built-in detector's
  unoccluded people came out 12 % short at the median. Car tracks are left as they are (a
  turning car's box changes height; on crosswalk's time-lapse cars the filter moved the
  tracks-alone focal length from 343 towards 440 px)."""
  if config.fragment_ratio <= 0 or not len(obs):
    return obs
  height = obs.box[:, 3]
  keep = np.ones(len(obs), bool)
  k = max(int(config.fragment_window), 1)
  for t in np.unique(obs.track_id[(obs.category == PERSON) & (obs.track_id >= 0)]):
    idx = np.flatnonzero(obs.track_id == t)
    idx = idx[np.argsort(obs.time[idx], kind='stable')]
    if len(idx) < 3:
      continue
    h = height[idx]
    local = np.array([np.median(h[max(0, j - k):j + k + 1]) for j in range(len(idx))])
    keep[idx] = h >= config.fragment_ratio * local
  return obs.select(keep)


def _calibrate(obs: Observations, config: CalibrationConfig, seed: int,
               prior: CameraPrior | None) -> CalibrationResult:
  """`calibrate`'s choice of fit (config.use, 'auto'), each with the prior when given."""
  if config.use not in ('auto', 'people', 'cars', 'both', 'people_first'):
    raise CalibrationError(f"calibration: field 'use': expected auto, people, cars, both or people_first, "
                           f'got {config.use!r}')
  if not (config.car_piece_s > 0 and config.max_car_pieces >= 1):
    raise CalibrationError(f'calibration: need car_piece_s > 0 and max_car_pieces >= 1, got '
                           f'{config.car_piece_s} and {config.max_car_pieces}')
  fits = {'people': calibrate_people, 'cars': calibrate_cars, 'both': calibrate_joint}
  if config.use == 'people_first':
    auto = dataclasses.replace(config, use='auto')
    if prior is None:
      return _calibrate(obs, auto, seed, None)
    try:
      return calibrate_people(obs, config, seed, prior)
    except CalibrationError as refusal:
      try:
        result = scale_from_people(obs, prior, config, seed)
        return dataclasses.replace(result, flags=result.flags + (
            f'the people gave the scale only ({refusal}): the focal length and tilt are the '
            f'{prior.source}\' alone; check the 1.7 m people in the report',))
      except CalibrationError:
        pass
      result = _calibrate(obs, auto, seed, prior)
      return dataclasses.replace(result, flags=result.flags + (
          f'the scale rests on {result.source.removesuffix("+" + prior.source)}, not on people alone ({refusal}): '
          'check the 1.7 m people in the report',))
  if config.use != 'auto':
    return fits[config.use](obs, config, seed, prior)
  counts = {}
  for what, category in (('people', PERSON), ('cars', CAR)):
    usable = _usable(obs, category, config)
    counts[what] = (len(np.unique(usable.track_id)), len(usable))
  enough = [what for what, (tracks, rows) in counts.items()
            if tracks >= config.min_tracks and rows >= config.min_observations]
  if len(enough) == 1:
    return fits[enough[0]](obs, config, seed, prior)
  if not enough:
    (people, people_rows), (cars, car_rows) = counts['people'], counts['cars']
    raise CalibrationError(
        f'too few tracks to calibrate from: {people} person tracks ({people_rows} usable '
        f'observations) and {cars} car tracks ({car_rows}); need >= {config.min_tracks} tracks '
        f'and >= {config.min_observations} observations of one class (boxes clear of the image '
        'border); give a longer or busier sequence, or a camera.json')
  try:
    return calibrate_joint(obs, config, seed, prior)
  except CalibrationError as joint_error:
    # One class may refuse (cars on one row band, people that are not on the ground, ...):
    # the other alone, flagged.
    for what, other in (('people', 'cars'), ('cars', 'people')):
      try:
        result = fits[what](obs, config, seed, prior)
      except CalibrationError:
        continue
      return dataclasses.replace(result, flags=result.flags + (
          f'{other} left out of the calibration: {joint_error}',))
    raise


# --- files ------------------------------------------------------------------------------------


def save_calibration(result: CalibrationResult, path: str | os.PathLike) -> None:
  """Writes camera.json (`camera.save_camera`) with an extra `uncertainty` field
  (`CalibrationResult.uncertainty`); `camera.load_camera` ignores fields it does not know."""
  source = os.fspath(path)
  camera_lib.save_camera(result.camera, source)
  with open(source) as f:
    data = json.load(f)
  data['uncertainty'] = result.uncertainty()
  camera_lib.camera_from_dict(data, source)  # still loads
  with open(source, 'w') as f:
    json.dump(data, f, indent=2, allow_nan=False)
    f.write('\n')


def load_uncertainty(path: str | os.PathLike) -> dict[str, Any] | None:
  """The `uncertainty` field of a camera.json written by `save_calibration` (None if absent)."""
  with open(os.fspath(path)) as f:
    return json.load(f).get('uncertainty')


# --- synthetic observations (tests, benchmark) ------------------------------------------------


def synthetic_people(height: float, pitch: float, hfov: float, image_size: tuple[int, int],
                     roll: float, num_tracks: int, rng: np.random.Generator, frames: int = 10,
                     fps: float = 10., occluded_fraction: float = 0.1, box_jitter_px: int = 1,
                     keypoint_sigma_px: float = 2., keypoints: bool = True,
                     min_height_px: float = 12.) -> Observations:
  """People walking on the ground of `mounted_camera(height, pitch, hfov, image_size, roll)`.

  Each track is a sampled adult (`shapes.person`, statures 1.62 / 1.75 ± 0.07 m) walking straight
  at 1.2–1.5 m/s for `frames` frames; boxes are the tight integer boxes of the projected mesh,
  grown or shrunk by up to `box_jitter_px` (as the imitated detector's mask jitter); keypoints
  the projected COCO-17 joints with Gaussian noise, scores 0.6–1.0. A fraction
  `occluded_fraction` of the observations loses 20–60 % of its box from the bottom (a car in
  front) with low ankle scores. Observations whose box leaves the image or is under
  `min_height_px` are dropped.
  """
  from walt3d_jax.shapes import person  # pylint: disable=g-import-not-at-top

  w, h = image_size
  f = 0.5 * w / math.tan(0.5 * hfov)
  K, R = intrinsics(f, image_size), rotation(pitch, roll)
  K_inv = np.linalg.inv(K)
  t_cg = -height * R[:, 2]
  horizon = max(horizon_row(f, pitch, roll, image_size, 0.), horizon_row(f, pitch, roll,
                                                                           image_size, w - 1.))
  rows = dict(track=[], frame=[], box=[], kp=[])
  track_id, frame0 = 0, 0
  while track_id < num_tracks:
    # A foot pixel below the horizon -> its ground point (ground frame).
    uv = np.array([[rng.uniform(0.05, 0.95) * w, rng.uniform(max(horizon + 0.04 * h, 0.), h)]])
    cam = _ground_points(K_inv, R, height, uv, np.zeros(1))[0]
    start = R.T @ (cam - t_cg)
    params = person.sample_person(rng)
    heading = rng.uniform(-math.pi, math.pi)
    speed = rng.uniform(1.2, 1.5)
    phase0 = rng.uniform(0., 1.)
    step = person.person_step_length(params)
    c, s = math.cos(heading), math.sin(heading)
    yaw_rot = np.array([[c, -s, 0.], [s, c, 0.], [0., 0., 1.]])
    kept = 0
    for k in range(frames):
      t = k / fps
      origin = start + np.array([c, s, 0.]) * speed * t
      phase = (phase0 + speed * t / (2 * step)) % 1.
      verts = person.person_mesh(params, phase).vertices @ yaw_rot.T + origin
      joints = person.person_joints(params, phase) @ yaw_rot.T + origin
      vc, jc = verts @ R.T + t_cg, joints @ R.T + t_cg
      if np.any(vc[:, 2] < 0.5):
        continue
      p = _project(K, vc)
      x0, x1 = math.ceil(p[:, 0].min()), math.floor(p[:, 0].max())
      y0, y1 = math.ceil(p[:, 1].min()), math.floor(p[:, 1].max())
      j = int(rng.integers(-box_jitter_px, box_jitter_px + 1)) if box_jitter_px else 0
      x0, y0, x1, y1 = x0 - j, y0 - j, x1 + j, y1 + j
      if x0 < 0 or y0 < 0 or x1 > w - 1 or y1 > h - 1 or y1 - y0 + 1 < min_height_px:
        continue
      kp = np.zeros((17, 3))
      kp[:, :2] = _project(K, jc) + rng.normal(size=(17, 2)) * keypoint_sigma_px
      kp[:, 2] = rng.uniform(0.6, 1.0, 17)
      if rng.uniform() < occluded_fraction:
        y1 = int(round(y1 - rng.uniform(0.2, 0.6) * (y1 - y0 + 1)))
        kp[11:, 2] = rng.uniform(0.05, 0.45, 6)
      rows['track'].append(track_id)
      rows['frame'].append(frame0 + k)
      rows['box'].append([x0, y0, x1 - x0 + 1, y1 - y0 + 1])
      rows['kp'].append(kp)
      kept += 1
    if kept:
      track_id += 1
      frame0 += frames
  n = len(rows['track'])
  frame = np.asarray(rows['frame'], np.int64)
  return Observations(np.asarray(rows['track'], np.int64), frame, frame / fps,
                      np.full(n, PERSON), np.asarray(rows['box'], np.float64).reshape(n, 4),
                      np.asarray(rows['kp']).reshape(n, 17, 3) if keypoints else None,
                      (int(w), int(h)))
