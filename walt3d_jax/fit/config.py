"""Settings of the vehicle track fit: residual weights, solver, initialisation, quality gates."""

from __future__ import annotations

import dataclasses

from walt3d_jax.fit import robust


@dataclasses.dataclass(frozen=True)
class FitConfig:
  """Every knob of `track_fit.fit_track`; frozen and hashable, so jit treats it as static.

  Residual (each term divided by its sigma, so the cost is in chi-square units):
    keypoint_sigma_px: detector keypoint noise, pixels.
    loss, loss_scale: robust loss on each keypoint's 2-D error ('l2', 'huber', 'cauchy');
      loss_scale in units of keypoint_sigma_px.
    shape_prior_weight: weight of the prior residual α_k / σ_k (σ_k: the PCA's stddev).
    smooth: add the temporal terms below between consecutive valid frames (frames are
      assumed equally spaced in time).
    accel_sigma_m: second difference of the ground position, metres per frame².
    yaw_rate_sigma: change of heading, radians per frame.
    lateral_sigma_m: sideways motion (perpendicular to the heading) over one frame, metres;
      cars do not slide, so this ties the heading to the direction of motion up to sign.
    anchor_sigma_m: weak pull of every pose towards its initial value (keeps frames with too
      few keypoints well posed); padded frames are held at their initial value.
    min_depth_m: keypoints nearer than this to the image plane are clamped before projecting.
  Solver (Levenberg-Marquardt; μ₀ = damping · max diag JᵀJ, Nielsen's update):
    solver: 'schur' (`schur.SchurLevenbergMarquardt`: per-frame Jacobian blocks, poses
      eliminated by the Schur complement; fast) or 'dense' (jaxopt.LevenbergMarquardt on the
      full Jacobian; the reference it is tested against). Same cost function either way.
    robust_model: the Gauss-Newton model of the robust keypoint term, 'schur' only (the cost
      is the same either way): 'chain' differentiates the robustified residual, as jaxopt
      does on the 'dense' path; 'irls' weights residual and Jacobian by √ρ' (Ceres's choice
      for concave ρ), which does not overshoot in Huber's linear part: on synthetic tracks
      at most 9 steps where 'chain' took 13, same final costs.
    dense_linear_solver: jaxopt's solve of the dense damped normal equations ('cholesky',
      'lu', 'qr').
    maxiter: LM steps at most, probe included. tol: the gradient tolerance. 'dense' stops at
      ‖∇cost‖₂ ≤ tol (jaxopt's test); 'schur' at ‖∇cost‖₂ ≤ tol · (1 + ‖r‖), the test
      `converged` reports for 'dense', which float32 can reach. xtol, ftol: 'schur' also
      stops when a step is below xtol relative to ‖params‖, or the cost decrease below ftol
      relative to the cost (each floored at a few float eps), and reports converged when
      any of its three tests stopped it before maxiter.
    num_yaw_hypotheses: 1-4 starts per track, in this order: per-frame ground Procrustes yaw,
      its 180° flip, the track's motion heading, its flip (cars are nearly front/back
      symmetric, so a single start may flip); the lowest final cost wins.
    probe_iters: LM steps every start gets before all but the cheapest are dropped; 0 picks
      the start of lowest cost (on synthetic tracks as accurate as 1-5 probe steps, and the
      probe was a third of the time).
    min_motion_m: a track whose ground path is shorter than this has no motion heading (the
      Procrustes yaw stands in).
  Quality gates (reason codes in `quality`):
    min_keypoints: usable keypoints a frame needs to count as observed.
    min_frames: observed frames a track needs (fewer: SHORT_TRACK).
    collinear_px: a frame whose keypoints spread less than this across their principal line
      is degenerate.
    max_rmse_px: reprojection RMSE above this fails the track (and the frame).
    max_shape_sigma: |α_k/σ_k| above this is an implausible shape.
    length_m, width_m, height_m: plausible (min, max) keypoint extents of a car: REFERENCE.md's
      3.6-5.9 m length, 1.65-2.10 m width and 1.40-2.00 m height, widened by about 0.3 m for
      the keypoints sitting inside the body and for fitting noise.
    image_margin_px: how far outside the image a fitted keypoint centroid may lie.
  """

  keypoint_sigma_px: float = 2.
  loss: str = 'huber'
  loss_scale: float = 2.
  shape_prior_weight: float = 1.
  smooth: bool = True
  accel_sigma_m: float = 0.1
  yaw_rate_sigma: float = 0.05
  lateral_sigma_m: float = 0.05
  anchor_sigma_m: float = 100.
  min_depth_m: float = 0.5
  maxiter: int = 30
  tol: float = 1e-2
  damping: float = 1e-3
  solver: str = 'schur'
  dense_linear_solver: str = 'cholesky'
  robust_model: str = 'irls'
  xtol: float = 1e-7
  ftol: float = 1e-7
  num_yaw_hypotheses: int = 4
  probe_iters: int = 0
  min_motion_m: float = 1.
  min_keypoints: int = 4
  min_frames: int = 2
  collinear_px: float = 2.
  max_rmse_px: float = 8.
  max_shape_sigma: float = 3.5
  length_m: tuple[float, float] = (3.2, 6.2)
  width_m: tuple[float, float] = (1.3, 2.4)
  height_m: tuple[float, float] = (1.1, 2.3)
  image_margin_px: float = 0.

  def __post_init__(self):
    if self.loss not in robust.LOSSES:
      raise ValueError(f'FitConfig.loss must be one of {robust.LOSSES}, got {self.loss!r}')
    if not 1 <= self.num_yaw_hypotheses <= 4:
      raise ValueError(f'FitConfig.num_yaw_hypotheses must be in [1, 4], got '
                       f'{self.num_yaw_hypotheses}')
    if self.probe_iters < 0 or self.maxiter < 1:
      raise ValueError(f'FitConfig needs probe_iters ≥ 0 and maxiter ≥ 1, got '
                       f'{self.probe_iters} and {self.maxiter}')
    if self.solver not in ('schur', 'dense'):
      raise ValueError(f"FitConfig.solver must be 'schur' or 'dense', got {self.solver!r}")
    if self.robust_model not in ('chain', 'irls'):
      raise ValueError(f"FitConfig.robust_model must be 'chain' or 'irls', got "
                       f'{self.robust_model!r}')
    if self.dense_linear_solver not in ('cholesky', 'lu', 'qr'):
      raise ValueError(f"FitConfig.dense_linear_solver must be 'cholesky', 'lu' or 'qr', got "
                       f'{self.dense_linear_solver!r}')
    for name in ('keypoint_sigma_px', 'loss_scale', 'accel_sigma_m', 'yaw_rate_sigma',
                 'lateral_sigma_m', 'anchor_sigma_m', 'min_depth_m'):
      if getattr(self, name) <= 0.:
        raise ValueError(f'FitConfig.{name} must be > 0, got {getattr(self, name)}')
