"""Levenberg-Marquardt for one vehicle track that exploits the track's block structure.

Unknowns: a ground pose p_t = (x, y, yaw) per frame and one shape β (K,). Each frame's
keypoint and anchor residuals depend only on (p_t, β); the temporal terms only on poses at
most two frames apart (acceleration); the shape prior only on β. So the damped normal matrix

  JᵀJ + μI = [[A, W], [Wᵀ, V]]

has A (3T, 3T) block-pentadiagonal in 3×3 frame blocks, which is block-tridiagonal in 6×6
blocks of frame pairs, W (3T, K) and V (K, K). A step eliminates the poses (Schur complement
S = V − Wᵀ A⁻¹ W, with A⁻¹ applied by a block Thomas sweep in `lax.scan`), solves S by
Cholesky and back-substitutes. Jacobians come per frame (`jax.jacfwd` of a (3 + K)-vector,
vmapped over frames) and per frame window, never as the dense (≈27T × (3T + K)) matrix.
Per iteration that is O(T (3 + K)² · 27) instead of jaxopt's dense O((3T + K)² · 27T).

Same cost as the dense path (`residuals.track_residuals`), the same step to rounding (the
exact solution of the same damped normal equations), the same damping schedule as
`jaxopt.LevenbergMarquardt` (μ₀ = damping · max diag JᵀJ, Nielsen's update). Stops, per
track, when ‖∇cost‖ ≤ tol · (1 + ‖r‖) (relative, so float32 reaches it), when a step is
below xtol relative to the parameters, or when the cost decrease is below ftol relative to
the cost (Ceres's three tests; the last two mean no further progress at this precision).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from walt3d_jax.fit import residuals
from walt3d_jax.fit import robust
from walt3d_jax.fit.config import FitConfig
from walt3d_jax.geometry import small_linalg
from walt3d_jax.shapes import car_model

POSE_DIM = 3  # (x, y, yaw) per frame
_MAX_INCREASE = 2. ** 32  # cap of Nielsen's ν and of μ's growth factor, as jaxopt's


class Linearisation(NamedTuple):
  """JᵀJ, Jᵀr and the cost of one track at one point, in block form.

  cost (): ½‖r‖². diag (T, 3, 3): pose block of frame t; upper1 (T, 3, 3): frame t with t + 1;
  upper2 (T, 3, 3): frame t with t + 2 (zero past the end). cross (T, 3, K): pose t with β.
  shape (K, K): the β block. grad_pose (T, 3), grad_shape (K,): Jᵀr.
  """

  cost: jax.Array
  diag: jax.Array
  upper1: jax.Array
  upper2: jax.Array
  cross: jax.Array
  shape: jax.Array
  grad_pose: jax.Array
  grad_shape: jax.Array


class SchurState(NamedTuple):
  """Final state of `SchurLevenbergMarquardt.run`: value () the cost, iter_num () steps tried,
  error () ‖∇cost‖₂, damping () μ, converged () a tolerance (gradient, step or cost) was met
  before maxiter."""

  value: jax.Array
  iter_num: jax.Array
  error: jax.Array
  damping: jax.Array
  converged: jax.Array


def _frame_windows(pose: jax.Array, frame_valid: jax.Array) -> tuple[jax.Array, ...]:
  """Windows (T-1, 3, 3) of poses (t, t+1, t+2) and their pair and triple masks (T-1,).

  The last window's third frame is a copy of the last pose with its triple mask False, so it
  adds nothing: every pair and triple term of `residuals.track_residuals` is in one window.
  """
  padded = jnp.concatenate([pose, pose[-1:]])
  windows = jnp.stack([padded[:-2], padded[1:-1], padded[2:]], 1)
  pair = frame_valid[:-1] & frame_valid[1:]
  triple = jnp.concatenate([frame_valid[:-2] & frame_valid[1:-1] & frame_valid[2:],
                            jnp.zeros(1, bool)])
  return windows, pair.astype(pose.dtype), triple.astype(pose.dtype)


def _pad_frames(blocks: jax.Array, before: int, after: int) -> jax.Array:
  """blocks (n, ...) zero-padded along frames."""
  return jnp.pad(blocks, ((before, after),) + ((0, 0),) * (blocks.ndim - 1))


def keypoint_jacobian(pose: jax.Array, beta: jax.Array, uv: jax.Array, weight: jax.Array,
                      K: jax.Array, R_cg: jax.Array, t_cg: jax.Array,
                      model: car_model.CarShapeModel,
                      config: FitConfig) -> tuple[jax.Array, jax.Array]:
  """`residuals.keypoint_residuals` and their Jacobian, frames last: (2, 12, T), (3+K, 2, 12, T).

  pose (T, 3) (x, y metres, yaw radians); beta (K,); the rest as `keypoint_residuals`'s.
  Jacobian row j < 3 is ∂/∂pose_t[j] of frame t's own residuals, row 3 + k is ∂/∂β_k.
  Written out (chain rule through ground → camera → pixels → robust scaling) with the frame
  axis minor, so XLA's CPU loops vectorise over frames: ~10× faster than a per-frame
  jax.jacfwd with 2- and 3-vectors as minor axes.
  """
  basis = model.components * model.stddev[:, None, None]  # (K, 12, 3) ∂X_object / ∂β
  obj = model.mean + jnp.sum(beta[:, None, None] * basis, 0)  # (12, 3)
  cos, sin = jnp.cos(pose[:, 2]), jnp.sin(pose[:, 2])  # (T,)
  # The object's keypoints rotated into the ground frame, relative to its centre (12, T).
  rx = cos * obj[:, 0:1] - sin * obj[:, 1:2]
  ry = sin * obj[:, 0:1] + cos * obj[:, 1:2]
  ground = (rx + pose[:, 0], ry + pose[:, 1], jnp.broadcast_to(obj[:, 2:3], rx.shape))
  cam = [sum(R_cg[i, j] * ground[j] for j in range(3)) + t_cg[i] for i in range(3)]
  near = cam[2] < config.min_depth_m  # depth clamped: no z derivative there
  cam[2] = jnp.maximum(cam[2], config.min_depth_m)
  hom = [sum(K[i, j] * cam[j] for j in range(3)) for i in range(3)]
  inv_z = 1. / hom[2]
  proj = (hom[0] * inv_z, hom[1] * inv_z)
  # ∂pixel_c/∂ground_j: rows of K R_cg, less the clamped depth's share.
  m = K @ R_cg
  m_z = [jnp.where(near, m[2, j] - K[2, 2] * R_cg[2, j], m[2, j]) for j in range(3)]
  d_proj = [[(jnp.where(near, m[c, j] - K[c, 2] * R_cg[2, j], m[c, j]) - proj[c] * m_z[j])
             * inv_z for j in range(3)] for c in range(2)]

  sigma = config.keypoint_sigma_px
  err = [(proj[c] - uv[:, :, c].T) / sigma for c in range(2)]
  sq = err[0] * err[0] + err[1] * err[1]
  root_w = jnp.sqrt(weight.T)
  scale, d_scale = jax.jvp(
      functools.partial(robust.robust_scale, loss=config.loss, scale=config.loss_scale),
      (sq,), (jnp.ones_like(sq),))
  r = jnp.stack(err) * (scale * root_w)
  if config.robust_model == 'irls':
    # r̃ = √(ρ'(|e|²) w) e, J̃ = √(ρ' w) ∂e: the same gradient J̃ᵀr̃ = ∇½ρ, a Gauss-Newton
    # model without the chain term below, which overshoots where ρ is concave.
    _, d_rho = jax.jvp(functools.partial(robust.robust_rho, loss=config.loss,
                                         scale=config.loss_scale), (sq,), (jnp.ones_like(sq),))
    q = jnp.sqrt(jnp.maximum(d_rho, 0.)) * root_w
    r_model = jnp.stack(err) * q
    b = [jnp.stack([q / sigma * d_proj[c][j] for c in range(2)]) for j in range(3)]
  else:
    r_model = r
    # r = e·s(|e|²)·√w ⇒ ∂r/∂ground = √w (s ∂e + 2 s'(|e|²) e (eᵀ∂e)), ∂e = ∂pixel / σ.
    e_dot = [(err[0] * d_proj[0][j] + err[1] * d_proj[1][j]) / sigma for j in range(3)]
    a, b2 = root_w * scale / sigma, 2. * root_w * d_scale
    b = [jnp.stack([a * d_proj[c][j] + b2 * err[c] * e_dot[j] for c in range(2)])
         for j in range(3)]  # ∂r/∂ground_j (2, 12, T)
  # Chain to the unknowns: ∂ground/∂(x, y) = e_x, e_y; ∂ground/∂yaw = (−ry, rx, 0);
  # ∂ground/∂β_k = Rz(yaw) basis_k, i.e. b rotated back into the object frame.
  d_yaw = b[1] * rx - b[0] * ry
  b_obj = (cos * b[0] + sin * b[1], cos * b[1] - sin * b[0], b[2])
  d_beta = sum(b_obj[d][None] * basis[:, None, :, d:d + 1] for d in range(3))  # (K, 2, 12, T)
  jac = jnp.concatenate([jnp.stack([b[0], b[1], d_yaw]), d_beta])
  return r, r_model, jac


def motion_jacobian(pose: jax.Array, frame_valid: jax.Array,
                    config: FitConfig) -> tuple[jax.Array, jax.Array]:
  """Temporal residuals (T-1, 6) per window and their Jacobian (T-1, 6, 3, 3).

  Window n: frames n, n+1, n+2 (the last window's third frame is a dummy with zero
  Jacobian): `residuals.motion_residuals` of the pair (n, n+1) (heading chord 2, slip 2)
  and `residuals.accel_residuals` of the triple, each masked by frame_valid (T,) like
  `residuals.track_residuals`. Jacobian axes: residual, frame in window, (x, y, yaw).
  """
  windows, pair, triple = _frame_windows(pose, frame_valid)
  a, b = windows[:, 0], windows[:, 1]
  motion = residuals.motion_residuals(a, b, config) * pair[:, None]
  accel = residuals.accel_residuals(a[:, :2], b[:, :2], windows[:, 2, :2],
                                    config) * triple[:, None]
  ca, sa = jnp.cos(a[:, 2]), jnp.sin(a[:, 2])
  cb, sb = jnp.cos(b[:, 2]), jnp.sin(b[:, 2])
  dx, dy = b[:, 0] - a[:, 0], b[:, 1] - a[:, 1]
  z = jnp.zeros_like(ca)
  inv_turn, inv_slip = 1. / config.yaw_rate_sigma, 1. / config.lateral_sigma_m
  # Rows: ∂/∂(x_a, y_a, yaw_a, x_b, y_b, yaw_b) of turn (2) and slip (2).
  rows = jnp.stack([
      jnp.stack([z, z, sa * inv_turn, z, z, -sb * inv_turn], -1),
      jnp.stack([z, z, -ca * inv_turn, z, z, cb * inv_turn], -1),
      jnp.stack([sa, -ca, -ca * dx - sa * dy, -sa, ca, z], -1) * inv_slip,
      jnp.stack([sb, -cb, z, -sb, cb, -cb * dx - sb * dy], -1) * inv_slip], 1)
  rows = rows * pair[:, None, None]
  j_motion = jnp.concatenate([rows, jnp.zeros_like(rows[..., :3])], -1)  # frame c unused
  eye = jnp.eye(2, 3, dtype=pose.dtype) / config.accel_sigma_m  # ∂accel/∂(x, y, yaw)
  j_accel = jnp.concatenate([eye, -2. * eye, eye], -1) * triple[:, None, None]
  jac = jnp.concatenate([j_motion, j_accel], 1).reshape(-1, 6, 3, 3)
  return jnp.concatenate([motion, accel], -1), jac


def _frame_gram(jac: jax.Array, r: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Per-frame JᵀJ (T, n, n) and Jᵀr (T, n) of jac (n, 2, 12, T) and r (2, 12, T).

  One reduction per upper-triangle entry, frames minor: on CPU about twice as fast as a
  broadcast product or an einsum over the (n, n, 2, 12, T) outer product.
  """
  n = jac.shape[0]
  entry = {(i, j): jnp.sum(jac[i] * jac[j], (0, 1)) for i in range(n) for j in range(i, n)}
  hess = jnp.stack([jnp.stack([entry[min(i, j), max(i, j)] for j in range(n)], -1)
                    for i in range(n)], -2)
  grad = jnp.stack([jnp.sum(jac[i] * r, (0, 1)) for i in range(n)], -1)
  return hess, grad


def linearise(pose: jax.Array, beta: jax.Array, uv: jax.Array, weight: jax.Array,
              frame_valid: jax.Array, anchor: jax.Array, K: jax.Array, R_cg: jax.Array,
              t_cg: jax.Array, model: car_model.CarShapeModel,
              config: FitConfig) -> Linearisation:
  """Block JᵀJ, Jᵀr and cost of `residuals.track_residuals` at poses (T, 3) and β (K,).

  Arguments after beta as in `residuals.track_residuals`.
  """
  num_frames, num_shape = pose.shape[0], beta.shape[0]
  r, r_model, jac = keypoint_jacobian(pose, beta, uv, weight, K, R_cg, t_cg, model, config)
  hess, grad = _frame_gram(jac, r_model)
  # The anchor residual s_t (p_t − anchor_t) adds s_t² to the pose diagonal.
  anchor_res = residuals.anchor_residuals(pose, anchor, frame_valid, config)
  anchor_sq = jnp.where(frame_valid, 1. / config.anchor_sigma_m, 1.) ** 2
  prior = config.shape_prior_weight ** 2
  cost = 0.5 * (jnp.sum(r * r) + jnp.sum(anchor_res * anchor_res)
                + prior * jnp.sum(beta * beta))
  diag = hess[:, :POSE_DIM, :POSE_DIM] + anchor_sq[:, None, None] * jnp.eye(POSE_DIM,
                                                                            dtype=pose.dtype)
  grad_pose = grad[:, :POSE_DIM] + anchor_sq[:, None] * (pose - anchor)
  upper1 = jnp.zeros_like(diag)
  upper2 = jnp.zeros_like(diag)

  if config.smooth and num_frames > 1:
    rw, jw = motion_jacobian(pose, frame_valid, config)
    # JᵀJ and Jᵀr of each window through small_linalg: XLA's CPU reduction and dot fusions
    # over an axis of 6 residuals cost ~100 ms a step at 4096 tracks, the unrolled form a few.
    flat = jw.reshape(jw.shape[0], jw.shape[1], 9)  # (T-1, residual, frame a × coordinate i)
    flat_t = jnp.swapaxes(flat, -1, -2)
    hw = small_linalg.matmul(flat_t, flat).reshape(-1, 3, 3, 3, 3)  # (T-1, a, i, b, j)
    hw = jnp.transpose(hw, (0, 1, 3, 2, 4))  # (T-1, a, b, i, j): frames a, b of the window
    gw = small_linalg.matvec(flat_t, rw).reshape(-1, 3, 3)  # (T-1, 3, 3)
    cost = cost + 0.5 * jnp.sum(rw * rw)
    # Window n covers frames n, n+1, n+2; frame n+2 = T is the dummy (zero Jacobian).
    diag = diag + (_pad_frames(hw[:, 0, 0], 0, 2) + _pad_frames(hw[:, 1, 1], 1, 1)
                   + _pad_frames(hw[:, 2, 2], 2, 0))[:num_frames]
    upper1 = (_pad_frames(hw[:, 0, 1], 0, 2) + _pad_frames(hw[:, 1, 2], 1, 1))[:num_frames]
    upper2 = _pad_frames(hw[:, 0, 2], 0, 1)[:num_frames]
    grad_pose = grad_pose + (_pad_frames(gw[:, 0], 0, 2) + _pad_frames(gw[:, 1], 1, 1)
                             + _pad_frames(gw[:, 2], 2, 0))[:num_frames]

  return Linearisation(
      cost=cost, diag=diag, upper1=upper1, upper2=upper2,
      cross=hess[:, :POSE_DIM, POSE_DIM:],
      shape=jnp.sum(hess[:, POSE_DIM:, POSE_DIM:], 0) + prior * jnp.eye(num_shape,
                                                                        dtype=beta.dtype),
      grad_pose=grad_pose, grad_shape=jnp.sum(grad[:, POSE_DIM:], 0) + prior * beta)


def solve_pose_band(diag: jax.Array, upper1: jax.Array, upper2: jax.Array,
                    rhs: jax.Array) -> jax.Array:
  """A⁻¹ rhs (T, 3, C) for the symmetric pose matrix A given by its 3×3 blocks.

  diag (T, 3, 3): A_tt; upper1 (T, 3, 3): A_t,t+1; upper2 (T, 3, 3): A_t,t+2 (entries past
  the end ignored); rhs (T, 3, C). Frames are paired into 6×6 blocks, which makes A
  block-tridiagonal; a block Thomas sweep (forward elimination, back substitution, both a
  `lax.scan` over T/2 pairs) solves it exactly with 6×6 Cholesky factorisations.
  """
  num_frames, _, cols = rhs.shape
  dtype = rhs.dtype
  n = num_frames
  upper1 = upper1.at[-1].set(0.)
  upper2 = upper2.at[-2:].set(0.)
  if n % 2:  # an odd length gets a decoupled identity frame whose solution is 0
    diag = jnp.concatenate([diag, jnp.eye(3, dtype=dtype)[None]])
    upper1, upper2 = (_pad_frames(a, 0, 1) for a in (upper1, upper2))
    rhs = _pad_frames(rhs, 0, 1)
    n += 1
  d, e, f = (a.reshape(n // 2, 2, 3, 3) for a in (diag, upper1, upper2))
  zero = jnp.zeros_like(d[:, 0])
  # Pair k = frames (2k, 2k+1); block_k couples them, off_k couples pair k with pair k+1.
  block = jnp.concatenate([jnp.concatenate([d[:, 0], e[:, 0]], -1),
                           jnp.concatenate([jnp.swapaxes(e[:, 0], -1, -2), d[:, 1]], -1)], -2)
  off = jnp.concatenate([jnp.concatenate([f[:, 0], zero], -1),
                         jnp.concatenate([e[:, 1], f[:, 1]], -1)], -2)
  b = rhs.reshape(n // 2, 6, cols)

  def forward(carry, inputs):
    prev_off, prev_g, prev_y = carry  # O_{k-1}, S_{k-1}⁻¹ O_{k-1}, S_{k-1}⁻¹ y_{k-1}
    block_k, off_k, b_k = inputs
    off_t = prev_off.T
    s = block_k - small_linalg.matmul(off_t, prev_g)
    y = b_k - small_linalg.matmul(off_t, prev_y)
    sol = small_linalg.cholesky_solve(s, jnp.concatenate([off_k, y], -1))
    g_k, y_k = sol[:, :6], sol[:, 6:]
    return (off_k, g_k, y_k), (g_k, y_k)

  init = (jnp.zeros((6, 6), dtype), jnp.zeros((6, 6), dtype), jnp.zeros((6, cols), dtype))
  _, (g, y) = jax.lax.scan(forward, init, (block, off, b))

  def backward(x_next, inputs):
    g_k, y_k = inputs
    x = y_k - small_linalg.matmul(g_k, x_next)
    return x, x

  _, x = jax.lax.scan(backward, jnp.zeros((6, cols), dtype), (g, y), reverse=True)
  return x.reshape(n, 3, cols)[:num_frames]


def damped_step(lin: Linearisation, damping: jax.Array) -> tuple[jax.Array, jax.Array]:
  """The LM step (poses (T, 3), β (K,)) solving (JᵀJ + μI) δ = −Jᵀr by the Schur complement.

  damping: μ ≥ 0 () added to every diagonal entry. NaN where the damped matrix is not
  positive definite in the working precision (the caller rejects such a step).
  """
  num_shape = lin.shape.shape[0]
  eye3 = jnp.eye(POSE_DIM, dtype=lin.diag.dtype)
  rhs = jnp.concatenate([lin.cross, lin.grad_pose[..., None]], -1)
  z = solve_pose_band(lin.diag + damping * eye3, lin.upper1, lin.upper2, rhs)
  z_cross, z_grad = z[..., :num_shape], z[..., num_shape]  # A⁻¹W (T, 3, K), A⁻¹g_p (T, 3)
  schur = (lin.shape + damping * jnp.eye(num_shape, dtype=lin.shape.dtype)
           - jnp.einsum('tik,til->kl', lin.cross, z_cross))
  reduced = lin.grad_shape - jnp.einsum('tik,ti->k', lin.cross, z_grad)
  d_beta = -small_linalg.cholesky_solve(schur, reduced[:, None])[:, 0]
  d_pose = -z_grad - jnp.einsum('tik,k->ti', z_cross, d_beta)
  return d_pose, d_beta


def gradient_norm(lin: Linearisation) -> jax.Array:
  """‖Jᵀr‖₂ ()."""
  return jnp.sqrt(jnp.sum(lin.grad_pose ** 2) + jnp.sum(lin.grad_shape ** 2))


def _max_diag(lin: Linearisation) -> jax.Array:
  return jnp.maximum(jnp.max(jnp.diagonal(lin.diag, axis1=-2, axis2=-1)),
                     jnp.max(jnp.diagonal(lin.shape)))


class SchurCarry(NamedTuple):
  """The LM's loop state for one track (`SchurLevenbergMarquardt.init` / `advance`).

  pose (T, 3), beta (K,): the current point; lin: its `Linearisation`; mu () the damping,
  nu () Nielsen's growth factor; it () steps tried; done () a tolerance stopped it.
  """

  pose: jax.Array
  beta: jax.Array
  lin: Linearisation
  mu: jax.Array
  nu: jax.Array
  it: jax.Array
  done: jax.Array


@dataclasses.dataclass(frozen=True)
class SchurLevenbergMarquardt:
  """Structured LM on `residuals.track_residuals`, in jaxopt's pure `run(init, *args)` style.

  config: the residual's settings and tol (relative gradient tolerance), damping (μ₀ relative
  to max diag JᵀJ), xtol (relative step), ftol (relative cost decrease); maxiter: steps
  tried at most. Frozen and hashable: jit it with the solver as a static argument, or close
  over it. `run` = `init`, `advance` to the end, `result`; the three pieces let a batched
  driver (`fit.compaction`) step tracks in chunks and drop the finished ones in between.
  Arguments after params0 / carry are `residuals.track_residuals`'s (uv, weight,
  frame_valid, anchor, K, R_cg, t_cg, model).
  """

  config: FitConfig
  maxiter: int

  def xtol(self, dtype) -> float:
    """The step tolerance: config.xtol, or a few float eps where the dtype cannot resolve it."""
    return max(self.config.xtol, 8. * float(jnp.finfo(dtype).eps))

  def ftol(self, dtype) -> float:
    """The cost tolerance: config.ftol, or the dtype's rounding noise on a sum of ~10³
    residuals if larger."""
    return max(self.config.ftol, 32. * float(jnp.finfo(dtype).eps))

  def _stationary(self, lin: Linearisation) -> jax.Array:
    return gradient_norm(lin) <= self.config.tol * (1. + jnp.sqrt(2. * lin.cost))

  def init(self, params0: jax.Array, *args) -> SchurCarry:
    """The carry at params0 (3T + K,) (`residuals.pack` layout), before any step."""
    num_frames = args[0].shape[0]
    x, y, yaw, beta = residuals.unpack(params0, num_frames)
    pose = jnp.stack([x, y, yaw], -1)
    lin = linearise(pose, beta, *args, self.config)
    dtype = params0.dtype
    return SchurCarry(pose=pose, beta=beta, lin=lin,
                      mu=self.config.damping * _max_diag(lin), nu=jnp.asarray(2., dtype),
                      it=jnp.asarray(0), done=self._stationary(lin))

  def active(self, carry: SchurCarry) -> jax.Array:
    """() bool: the track would take another step (not stopped, steps left)."""
    return ~carry.done & (carry.it < self.maxiter)

  def advance(self, carry: SchurCarry, *args, max_steps: int | None = None) -> SchurCarry:
    """Up to max_steps more steps (all that are left when None), stopping early as `run`.

    A stopped track's carry comes back unchanged. Pure; jit- and vmap-able (under vmap the
    loop runs until every track has stopped or used its max_steps, stopped ones frozen).
    """
    config = self.config
    dtype = carry.pose.dtype
    xtol = self.xtol(dtype)
    ftol = self.ftol(dtype)
    lin_at = lambda p, b: linearise(p, b, *args, config)
    limit = self.maxiter if max_steps is None else jnp.minimum(self.maxiter,
                                                               carry.it + max_steps)

    def cond(c: SchurCarry):
      return (c.it < limit) & ~c.done

    def body(c: SchurCarry) -> SchurCarry:
      pose, beta, lin, mu, nu = c.pose, c.beta, c.lin, c.mu, c.nu
      d_pose, d_beta = damped_step(lin, mu)
      finite = jnp.all(jnp.isfinite(d_pose)) & jnp.all(jnp.isfinite(d_beta))
      d_pose = jnp.where(finite, d_pose, 0.)
      d_beta = jnp.where(finite, d_beta, 0.)
      new_lin = lin_at(pose + d_pose, beta + d_beta)
      # Model decrease L(0) − L(δ) = ½ δᵀ(μδ − g) (Madsen-Nielsen eq. 6.16); > 0 for a
      # finite step of a positive definite system.
      step_sq = jnp.sum(d_pose ** 2) + jnp.sum(d_beta ** 2)
      g_dot = jnp.sum(d_pose * lin.grad_pose) + jnp.sum(d_beta * lin.grad_shape)
      predicted = 0.5 * (mu * step_sq - g_dot)
      actual = lin.cost - new_lin.cost
      gain = actual / jnp.where(predicted > 0., predicted, 1.)
      accept = finite & (predicted > 0.) & (gain > 0.) & jnp.isfinite(new_lin.cost)
      mu_accept = mu * jnp.maximum(1. / 3., 1. - (2. * gain - 1.) ** 3)
      mu = jnp.where(accept, mu_accept, jnp.minimum(mu * nu, _MAX_INCREASE * _max_diag(lin)))
      nu = jnp.where(accept, 2., jnp.minimum(2. * nu, _MAX_INCREASE))
      pose = jnp.where(accept, pose + d_pose, pose)
      beta = jnp.where(accept, beta + d_beta, beta)
      lin = jax.tree.map(lambda a, b: jnp.where(accept, a, b), new_lin, lin)
      norm = jnp.sqrt(jnp.sum(pose ** 2) + jnp.sum(beta ** 2))
      # Below these the cost cannot move at this precision: a step tiny against the
      # parameters (a larger μ only shrinks it), or a decrease, achieved or promised by a
      # rejected step, tiny against the cost (rounding noise then decides acceptance).
      tiny_step = finite & (jnp.sqrt(step_sq) <= xtol * (norm + xtol))
      tiny_gain = jnp.where(accept, actual, predicted) <= ftol * lin.cost
      return SchurCarry(pose, beta, lin, mu, nu, c.it + 1,
                        self._stationary(lin) | tiny_step | tiny_gain)

    return jax.lax.while_loop(cond, body, carry)

  def result(self, carry: SchurCarry) -> tuple[jax.Array, SchurState]:
    """(params (3T + K,), SchurState) of a carry."""
    pose, lin = carry.pose, carry.lin
    params = residuals.pack(pose[:, 0], pose[:, 1], pose[:, 2], carry.beta)
    return params, SchurState(value=lin.cost, iter_num=carry.it, error=gradient_norm(lin),
                              damping=carry.mu, converged=carry.done)

  def run(self, params0: jax.Array, uv: jax.Array, weight: jax.Array,
          frame_valid: jax.Array, anchor: jax.Array, K: jax.Array, R_cg: jax.Array,
          t_cg: jax.Array, model: car_model.CarShapeModel) -> tuple[jax.Array, SchurState]:
    """(params (3T + K,), SchurState) from params0 (3T + K,) (`residuals.pack` layout).

    Arguments after params0 as `residuals.track_residuals`'s. Pure; jit- and vmap-able
    (under vmap the loop runs until every track has stopped, finished tracks frozen).
    """
    args = (uv, weight, frame_valid, anchor, K, R_cg, t_cg, model)
    return self.result(self.advance(self.init(params0, *args), *args))


def dense_damped_step(params: jax.Array, damping: jax.Array, *args,
                      config: FitConfig) -> jax.Array:
  """Reference (3T + K,): solve (JᵀJ + μI) δ = −Jᵀr with the explicit dense Jacobian.

  args: those of `residuals.track_residuals` after params. For tests; O((3T + K)³).
  """
  fun = functools.partial(residuals.track_residuals, config=config)
  r = fun(params, *args)
  jac = jax.jacfwd(fun)(params, *args)
  normal = jac.T @ jac + damping * jnp.eye(params.size, dtype=params.dtype)
  return -jnp.linalg.solve(normal, jac.T @ r)
