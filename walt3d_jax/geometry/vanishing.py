"""Focal length, tilt and roll from the straight lines of a stationary camera's background.

A street's empty background shows lines that are vertical in the world (building edges, poles,
sign posts) and lines that are horizontal (kerbs, lane markings, crossing bars, building courses).
The vertical lines meet at the vertical vanishing point; each family of parallel horizontal lines
meets at a point on the horizon. Under `calibrate`'s camera model (square pixels, principal point
at the image centre) the vertical vanishing point's direction from the centre gives the roll, and
its distance d_v from the centre with the horizon's distance d_h gives the focal length,
f² = d_v · d_h, and the pitch, tan(pitch) = d_h / f (Caprile & Torre 1990). One vertical and any
number of horizontal directions ("Atlanta world", Schindler & Dellaert 2004) is all it takes: no
right angles between the horizontal families are assumed, so a skewed junction works as well as a
grid. The scale (the camera's height) is not in the lines; the people or cars give it
(`calibrate.calibrate(..., prior=scene.prior())`).

Segments come from OpenCV's line segment detector (LSD, von Gioi et al. 2010; no parameters to
learn). The vertical vanishing point is found by RANSAC among near-vertical segments; each focal
length of a grid then places the horizon (the vertical point's polar line), every other segment
crosses it at its own vanishing point, i.e. a heading on the ground, and the focal length whose
headings bunch into the tightest families wins. Levenberg-Marquardt on the Cauchy-weighted
endpoint distances (each segment's far endpoint from the line through its midpoint and its
vanishing point, the segment assigned to the nearest of the vertical point and the families')
refines log f, pitch, roll and the families' headings; the Gauss-Newton covariance gives the
standard errors. Segments of no family (curves, sloping roofs, shadows' edges) are outliers under
the Cauchy loss.

Refusals (`CalibrationError`, one line): too few segments, too few vertical lines (an open square
with no buildings or poles), no family of parallel horizontal lines, vanishing points that explain
less than half of the segments (clutter: random segments give 14-21 %, the simulator's streets
90-99 %), or a focal length or pitch out of range.
"""

from __future__ import annotations

import dataclasses
import math

import cv2
import numpy as np

from walt3d_jax.geometry import calibrate


# The lines' Gauss-Newton standard errors understate their errors somewhat (the segments' errors
# are not independent: LSD on the same rendered edges, families that are not quite one
# direction). Measured on the simulator's presets (benchmarks/calibrate.py, 640×360, 3 seeds):
# errors up to 1.5 standard errors (focal length within 0.64 %, tilt 0.16°, horizon 0.41 %H); the
# prior's covariance is scaled by this squared. (3 before the simulator's ground polygons were
# clipped to the view: with 1.5 every people-, car- and two-class fit with the lines' prior is
# within 0.92 %H of the horizon, with 3 intersection's were up to 2.0 %H off.)
PRIOR_INFLATION = 1.5


@dataclasses.dataclass(frozen=True)
class LineConfig:
  """Knobs of `scene_lines`.

  min_length: segments shorter than this fraction of the image width are dropped (LSD's short
    segments are texture and noise). At 640×360, 3 seeds: 0.025 gives horizons within 0.41 %H
    and focal lengths within 0.64 % on every preset, 0.04 within 0.36 %H and 0.74 % (0.07 left
    50 segments on avenue and a wrong vertical point).
  max_segments: the longest ones kept.
  vertical_window_deg: segments within this angle of the image's vertical are candidates for the
    vertical vanishing point (a camera pitched down 60° still sees its verticals within ~25° near
    the image edges).
  sigma_px: noise of a segment's endpoint across the segment, pixels.
  loss_scale: residuals beyond this many sigmas are downweighted (Cauchy).
  inlier_px: a segment within this distance of a vanishing point belongs to it (RANSAC, counts).
  max_families: horizontal families (vanishing points on the horizon) fitted.
  merge_deg: families whose headings end closer than this are merged (one direction).
  min_vertical, min_family: least segments on the vertical point, and in the largest family.
  min_inlier_share: least share of the segments that the vanishing points explain (within
    inlier_px); the simulator's streets 0.90-0.99, random segments 0.14-0.21.
  focal_range: (lo, hi) × image width; searched and refused outside.
  pitch_range_deg: sane pitch (refusal outside).
  ransac_iterations, seed: of the vertical point's RANSAC.
  """

  min_length: float = 0.025
  max_segments: int = 600
  vertical_window_deg: float = 25.0
  sigma_px: float = 0.7
  loss_scale: float = 2.0
  inlier_px: float = 1.5
  max_families: int = 4
  merge_deg: float = 5.0
  min_vertical: int = 6
  min_family: int = 4
  min_inlier_share: float = 0.5
  focal_range: tuple[float, float] = (0.3, 5.0)
  pitch_range_deg: tuple[float, float] = (1.0, 85.0)
  ransac_iterations: int = 500
  seed: int = 0


@dataclasses.dataclass(frozen=True)
class SceneLines:
  """The orientation and focal length the background's lines give.

  focal_px, pitch_rad, roll_rad: estimates (calibrate's camera model); horizon_row: at the centre
    column, pixels.
  covariance: (3, 3) of (log f, pitch, roll); std: standard errors of focal_px, pitch_rad,
    roll_rad and horizon_row.
  headings: (K,) radians, the horizontal families' directions on the ground (camera's forward
    = 0), modulo π.
  segments: (N, 4) [x0, y0, x1, y1] pixels; family: (N,) -1 outlier, 0 vertical, k >= 1 the
    k-th horizontal family.
  residual_px: median |endpoint distance| of the inliers.
  """

  focal_px: float
  pitch_rad: float
  roll_rad: float
  horizon_row: float
  covariance: np.ndarray
  std: dict[str, float]
  headings: np.ndarray
  segments: np.ndarray
  family: np.ndarray
  residual_px: float

  @property
  def num_vertical(self) -> int:
    return int(np.count_nonzero(self.family == 0))

  @property
  def family_sizes(self) -> tuple[int, ...]:
    return tuple(int(np.count_nonzero(self.family == k)) for k in range(1, len(self.headings) + 1))

  def prior(self, inflation: float = PRIOR_INFLATION) -> calibrate.CameraPrior:
    """This estimate as a Gaussian prior on (log f, pitch, roll) for `calibrate.calibrate`, its
    covariance scaled by inflation² (PRIOR_INFLATION: the Gauss-Newton standard errors
    understate the errors, see there)."""
    return calibrate.CameraPrior(
        mean=np.array([math.log(self.focal_px), self.pitch_rad, self.roll_rad]),
        covariance=self.covariance * inflation ** 2, source='scene lines')

  def summary(self) -> dict:
    """Plain numbers for reports and JSON."""
    return {'focal_px': self.focal_px, 'pitch_deg': math.degrees(self.pitch_rad),
            'roll_deg': math.degrees(self.roll_rad), 'horizon_row': self.horizon_row,
            'std': dict(self.std), 'num_segments': int(len(self.segments)),
            'num_vertical': self.num_vertical, 'family_sizes': list(self.family_sizes),
            'headings_deg': [math.degrees(h) for h in self.headings],
            'residual_px': self.residual_px}


def line_segments(image: np.ndarray, config: LineConfig = LineConfig()) -> np.ndarray:
  """Straight segments (N, 4) [x0, y0, x1, y1] pixels of an (H, W, 3) uint8 RGB or (H, W) grey
  image, at least config.min_length × W long, longest first (at most config.max_segments).

  LSD at its default scale (0.8: the image is first shrunk, which smooths aliased edges); at
  scale 1.0 avenue's focal length came out 1.6-4.2 % high (0.3-0.5 % at 0.8)."""
  image = np.asarray(image)
  if image.dtype != np.uint8 or image.ndim not in (2, 3):
    raise ValueError(f'line_segments: image must be (H, W[, 3]) uint8, got {image.shape} '
                     f'{image.dtype}')
  grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
  found = cv2.createLineSegmentDetector(cv2.LSD_REFINE_STD).detect(grey)[0]
  if found is None:
    return np.zeros((0, 4))
  seg = found.reshape(-1, 4).astype(np.float64)
  length = np.hypot(seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1])
  order = np.argsort(-length, kind='stable')
  order = order[length[order] >= config.min_length * image.shape[1]]
  return seg[order[:config.max_segments]]


def _homogeneous(points: np.ndarray) -> np.ndarray:
  return np.concatenate([points, np.ones_like(points[..., :1])], -1)


def _distances(seg: np.ndarray, vp: np.ndarray) -> np.ndarray:
  """Signed distance (N,) or (N, V), pixels, of each segment's second endpoint from the line
  through its midpoint and the vanishing point(s) vp (3,) or (V, 3), homogeneous (finite or at
  infinity)."""
  mid = _homogeneous(0.5 * (seg[:, :2] + seg[:, 2:]))
  end = _homogeneous(seg[:, 2:])
  vps = np.atleast_2d(vp)
  lines = np.cross(mid[:, None, :], vps[None, :, :])  # (N, V, 3)
  norm = np.hypot(lines[..., 0], lines[..., 1])
  # A vanishing point on the segment's own midpoint explains nothing: a large distance.
  d = np.where(norm > 1e-9, np.einsum('nvk,nk->nv', lines, end) / np.maximum(norm, 1e-9), 1e6)
  return d[:, 0] if np.ndim(vp) == 1 else d


def _camera(log_f: float, pitch: float, roll: float, image_size) -> tuple[np.ndarray, np.ndarray]:
  """(K, R) of calibrate's camera model: R's columns are the ground axes in the camera frame."""
  return calibrate.intrinsics(math.exp(log_f), image_size), calibrate.rotation(pitch, roll)


def _vanishing_points(theta: np.ndarray, image_size) -> np.ndarray:
  """(1 + K, 3) homogeneous: the vertical point, then the families' at headings theta[3:]."""
  K, R = _camera(theta[0], theta[1], theta[2], image_size)
  headings = theta[3:]
  ground = np.stack([np.cos(headings), np.sin(headings), np.zeros_like(headings)], 1)
  dirs = np.concatenate([R[:, 2][None], ground @ R.T])
  return dirs @ K.T


def _assign(seg: np.ndarray, theta: np.ndarray, image_size, reach_px: float) -> np.ndarray:
  """(N,) each segment's nearest vanishing point (0 vertical, k the k-th family), -1 when
  farther than reach_px from all."""
  d = np.abs(_distances(seg, _vanishing_points(theta, image_size)))
  best = np.argmin(d, axis=1)
  return np.where(d[np.arange(len(seg)), best] <= reach_px, best, -1)


def _residuals(theta: np.ndarray, seg: np.ndarray, family: np.ndarray, image_size,
               sigma: float) -> np.ndarray:
  vps = _vanishing_points(theta, image_size)
  d = _distances(seg, vps)
  return d[np.arange(len(seg)), family] / sigma


def _jacobian(fun, theta: np.ndarray) -> np.ndarray:
  r0 = fun(theta)
  J = np.zeros((len(r0), len(theta)))
  for j in range(len(theta)):
    step = 1e-6 * max(1., abs(theta[j]))
    t = theta.copy()
    t[j] += step
    J[:, j] = (fun(t) - r0) / step
  return J


def _vertical_point(seg: np.ndarray, image_size, config: LineConfig) -> np.ndarray:
  """The vertical vanishing point (3,) homogeneous by RANSAC over near-vertical segments, the
  hypothesis below the image centre with the longest total length of inliers (None if none)."""
  dx, dy = seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1]
  tilt = np.degrees(np.arctan2(np.abs(dx), np.abs(dy)))
  cand = seg[tilt <= config.vertical_window_deg]
  if len(cand) < config.min_vertical:
    raise calibrate.CalibrationError(
        f'scene lines: {len(cand)} near-vertical segments (building edges, poles), need >= '
        f'{config.min_vertical}')
  length = np.hypot(cand[:, 2] - cand[:, 0], cand[:, 3] - cand[:, 1])
  lines = np.cross(_homogeneous(cand[:, :2]), _homogeneous(cand[:, 2:]))
  centre_row = 0.5 * (image_size[1] - 1)
  rng = np.random.default_rng(config.seed)
  # Long segments first: they carry the direction best.
  p = length / length.sum()
  best, best_score = None, -1.
  for _ in range(config.ransac_iterations):
    i, j = rng.choice(len(cand), 2, replace=False, p=p)
    vp = np.cross(lines[i], lines[j])
    if not np.all(np.isfinite(vp)) or np.abs(vp).max() == 0:
      continue
    vp = vp / np.linalg.norm(vp)
    # A camera looking down sees the verticals meet below the image centre; lines that meet
    # above it are ground lines running away from the camera (near-vertical in a steep view).
    if abs(vp[2]) > 1e-9 and vp[1] / vp[2] <= centre_row:
      continue
    score = length[np.abs(_distances(cand, vp)) <= config.inlier_px].sum()
    if score > best_score:
      best, best_score = vp, score
  return best


def _orientation(vp: np.ndarray, f: float, image_size) -> tuple[float, float]:
  """(pitch, roll) of the camera whose ground-up direction images to the homogeneous point vp."""
  n = np.linalg.solve(calibrate.intrinsics(f, image_size), vp)
  n = n / np.linalg.norm(n)
  if n[1] > 0:  # up is towards the top of the image (negative y)
    n = -n
  return math.asin(max(-1., min(1., -n[2]))), math.atan2(-n[0], -n[1])


def _headings(seg: np.ndarray, f: float, pitch: float, roll: float, image_size) -> np.ndarray:
  """(N,) ground heading (radians, modulo π) of each segment taken as a horizontal line: where
  its image line crosses the horizon."""
  K, R = _camera(math.log(f), pitch, roll, image_size)
  horizon = np.linalg.solve(K.T, R[:, 2])  # the line Kᵀ⁻¹ n
  lines = np.cross(_homogeneous(seg[:, :2]), _homogeneous(seg[:, 2:]))
  vp = np.cross(lines, horizon[None])
  ground = np.linalg.solve(K, vp.T).T @ R  # camera -> ground coordinates
  return np.mod(np.arctan2(ground[:, 1], ground[:, 0]), np.pi)


def _families(headings: np.ndarray, weights: np.ndarray, count: int, width_rad: float
              ) -> np.ndarray:
  """Up to `count` modes (radians, modulo π) of the weighted headings: a circular histogram
  smoothed over width_rad, its highest peaks at least 3 widths apart."""
  bins = 360
  hist = np.bincount((headings / np.pi * bins).astype(int) % bins, weights, bins)
  k = max(int(round(width_rad / np.pi * bins)), 1)
  kernel = np.exp(-0.5 * (np.arange(-3 * k, 3 * k + 1) / k) ** 2)
  smooth = np.convolve(np.r_[hist[-3 * k:], hist, hist[:3 * k]], kernel, 'same')[3 * k:-3 * k]
  peaks = []
  for i in np.argsort(-smooth):
    if smooth[i] <= 0 or len(peaks) == count:
      break
    centre = (i + 0.5) / bins * np.pi
    if all(abs((centre - q + 0.5 * np.pi) % np.pi - 0.5 * np.pi) > 3 * width_rad for q in peaks):
      peaks.append(centre)
  return np.array(peaks)


def _starts(seg: np.ndarray, image_size, config: LineConfig, count: int = 3) -> list[np.ndarray]:
  """Up to `count` theta0 = (log f, pitch, roll, headings): the vertical point by RANSAC, then the
  focal lengths (local minima on a grid, best first) whose horizons gather the other segments
  into the tightest families."""
  w = image_size[0]
  vp = _vertical_point(seg, image_size, config)
  if vp is None:
    raise calibrate.CalibrationError('scene lines: no vertical vanishing point found')
  length = np.hypot(seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1])
  rest = np.abs(_distances(seg, vp)) > config.inlier_px
  grid = []
  for f in np.geomspace(config.focal_range[0] * w, config.focal_range[1] * w, 64):
    pitch, roll = _orientation(vp, float(f), image_size)
    fam = np.zeros(0)
    if 0 < pitch < math.radians(89.):
      heads = _headings(seg[rest], float(f), pitch, roll, image_size)
      fam = _families(heads, length[rest], config.max_families, math.radians(1.5))
    if not len(fam):
      grid.append((np.inf, None))
      continue
    theta = np.r_[math.log(f), pitch, roll, fam]
    d = np.abs(_distances(seg[rest], _vanishing_points(theta, image_size)[1:])).min(axis=1)
    grid.append((float(np.sum(np.log1p((d / (config.loss_scale * config.sigma_px)) ** 2))), theta))
  cost = np.array([c for c, _ in grid])
  padded = np.r_[np.inf, cost, np.inf]
  minima = [i for i in range(len(cost)) if np.isfinite(cost[i])
            and cost[i] <= padded[i] and cost[i] <= padded[i + 2]]
  if not minima:
    raise calibrate.CalibrationError('scene lines: no horizon places the horizontal lines')
  return [grid[i][1] for i in sorted(minima, key=lambda i: cost[i])[:count]]


def _total_cost(seg: np.ndarray, theta: np.ndarray, image_size, config: LineConfig) -> float:
  """Cauchy cost of every segment's distance to its nearest vanishing point (comparable across
  estimates, whichever segments each assigns)."""
  d = np.abs(_distances(seg, _vanishing_points(theta, image_size))).min(axis=1) / config.sigma_px
  return calibrate.cauchy_loss(d, config.loss_scale)[0]


def _refine(seg: np.ndarray, theta: np.ndarray, image_size, config: LineConfig):
  """LM from theta, the segments' assignments following the estimate; (solution, assignment)."""
  reach = 4. * config.loss_scale * config.sigma_px
  res = family = None
  for _ in range(4):
    family = _assign(seg, theta, image_size, reach)
    used = family >= 0
    fun = lambda t, s=seg[used], a=family[used]: _residuals(t, s, a, image_size, config.sigma_px)
    res = calibrate.solve_robust(fun, lambda t, fun=fun: _jacobian(fun, t), theta,
                                 config.loss_scale)
    theta = res.x
  return res, family


def fit_scene_lines(segments: np.ndarray, image_size: tuple[int, int],
                    config: LineConfig = LineConfig()) -> SceneLines:
  """The camera's focal length, pitch and roll from segments (N, 4) [x0, y0, x1, y1] pixels of an
  image of image_size (w, h) (see the module docstring); CalibrationError when the lines do not
  tell."""
  seg = np.asarray(segments, np.float64).reshape(-1, 4)
  seg = seg[np.all(np.isfinite(seg), axis=1)]
  need = config.min_vertical + config.min_family
  if len(seg) < need:
    raise calibrate.CalibrationError(
        f'scene lines: {len(seg)} straight segments in the background, need >= {need} '
        '(building edges, poles, kerbs, lane markings)')
  # The cost has local minima (a road's lines split into two families at a wrong horizon): each
  # start refined, the lowest robust cost kept.
  best, best_cost = None, np.inf
  for theta0 in _starts(seg, image_size, config):
    res, _ = _refine(seg, theta0, image_size, config)
    cost = _total_cost(seg, res.x, image_size, config)
    if cost < best_cost:
      best, best_cost = res, cost
  theta = best.x
  reach = 4. * config.loss_scale * config.sigma_px
  # A road's lines split into two families a few degrees apart let the horizon drift (avenue:
  # 1.9-2.3 %H off with, 0.7-1.5 without): families closer than merge_deg are one direction,
  # the smaller dropped and the rest refitted.
  while len(theta) > 4:
    h = theta[3:]
    gap = np.abs((h[:, None] - h[None, :] + 0.5 * np.pi) % np.pi - 0.5 * np.pi)
    gap += 9. * np.eye(len(h))  # not a family with itself
    i, j = np.unravel_index(np.argmin(gap), gap.shape)
    if gap[i, j] >= math.radians(config.merge_deg):
      break
    fam = _assign(seg, theta, image_size, reach)
    drop = i if np.count_nonzero(fam == 1 + i) < np.count_nonzero(fam == 1 + j) else j
    theta = _refine(seg, np.delete(theta, 3 + drop), image_size, config)[0].x
  family = _assign(seg, theta, image_size, config.inlier_px)
  counts = np.bincount(family[family >= 0], minlength=len(theta) - 2)
  if counts[0] < config.min_vertical:
    raise calibrate.CalibrationError(
        f'scene lines: {counts[0]} segments on the vertical vanishing point, need >= '
        f'{config.min_vertical} (building edges, poles)')
  if counts[1:].max(initial=0) < config.min_family:
    raise calibrate.CalibrationError(
        f'scene lines: no family of >= {config.min_family} parallel horizontal lines (largest '
        f'{counts[1:].max(initial=0)}): the horizon is not seen')
  # Families that kept too few segments carry nothing: dropped, the rest refitted.
  keep = np.r_[True, counts[1:] >= config.min_family]
  theta = np.r_[theta[:3], theta[3:][keep[1:]]]
  family = _assign(seg, theta, image_size, reach)
  used = family >= 0
  fun = lambda t: _residuals(t, seg[used], family[used], image_size, config.sigma_px)
  res = calibrate.solve_robust(fun, lambda t: _jacobian(fun, t), theta, config.loss_scale)
  theta = res.x
  cov = calibrate.robust_covariance(res, len(res.fun))[:3, :3]
  f, pitch, roll = math.exp(theta[0]), float(theta[1]), float(theta[2])
  w = image_size[0]
  if not config.focal_range[0] * w <= f <= config.focal_range[1] * w:
    raise calibrate.CalibrationError(
        f'scene lines: focal length {f:.0f} px is outside {config.focal_range[0]}–'
        f'{config.focal_range[1]} × the image width')
  lo, hi = config.pitch_range_deg
  if not lo <= math.degrees(pitch) <= hi:
    raise calibrate.CalibrationError(
        f'scene lines: pitch {math.degrees(pitch):.1f}° is outside [{lo}°, {hi}°] (the lines '
        'need a camera looking down on the street)')
  horizon = calibrate.horizon_row(f, pitch, roll, image_size)
  grad = np.zeros(3)
  for j in range(3):
    t = theta[:3].copy()
    t[j] += 1e-6
    grad[j] = (calibrate.horizon_row(math.exp(t[0]), t[1], t[2], image_size) - horizon) / 1e-6
  sd = np.sqrt(np.maximum(np.diag(cov), 0.))
  final = _assign(seg, theta, image_size, config.inlier_px)
  share = float(np.mean(final >= 0))
  if share < config.min_inlier_share:
    raise calibrate.CalibrationError(
        f'scene lines: the vanishing points explain {share:.0%} of the {len(seg)} segments (need '
        f'>= {config.min_inlier_share:.0%}): not a scene of straight built edges')
  inl = np.abs(fun(theta)) * config.sigma_px
  return SceneLines(
      focal_px=f, pitch_rad=pitch, roll_rad=roll, horizon_row=float(horizon), covariance=cov,
      std={'focal_px': f * sd[0], 'pitch_rad': float(sd[1]), 'roll_rad': float(sd[2]),
           'horizon_row': float(np.sqrt(max(grad @ cov @ grad, 0.)))},
      headings=np.mod(theta[3:], np.pi), segments=seg, family=final,
      residual_px=float(np.median(inl[inl <= config.inlier_px])) if np.any(
          inl <= config.inlier_px) else float('nan'))


def scene_lines(background: np.ndarray, config: LineConfig = LineConfig()) -> SceneLines:
  """`fit_scene_lines` on the LSD segments of a background image (H, W, 3) uint8 RGB."""
  background = np.asarray(background)
  return fit_scene_lines(line_segments(background, config),
                         (background.shape[1], background.shape[0]), config)
