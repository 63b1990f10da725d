"""Differentiable PnP: batched, exact implicit gradients, never NaN; 6-DoF and ground-constrained.

Both layers minimise the weighted reprojection error of N 2D–3D correspondences

  E(θ) = Σ_i w_i ‖π(K (R X_i + t)) − x_i‖²      (pixels², no ½)

over a pose θ, in a fixed number of Levenberg–Marquardt steps (a `fori_loop`, static shapes):

- `pnp_6dof`: θ = (R, t) ∈ SE(3), started at the batched EPnP (`fit.epnp`); a step is a
  rotation vector δ applied on the left to the rotated object points, R ← exp([δ]×) R, plus a
  translation increment (rotating about the object origin, not the camera centre, keeps the
  rotation and translation columns of the Jacobian nearly independent).
- `pnp_ground`: θ = (x, y, yaw) on the camera's ground plane, the track fit's parametrisation
  (`geometry.plane.ground_frame(n, d)`, `geometry.pose.ground_pose_to_camera`); no EPnP: each
  keypoint's ray is cut with the horizontal plane at its own height, a weighted 2-D Procrustes
  gives a yaw in closed form (`fit.init`), and LM runs from that yaw and its flip (and ±90°),
  keeping the lowest cost.

Backward (`jax.custom_vjp`): the implicit function theorem at the optimum, ∇_θ E(θ*, p) = 0 ⇒
∂θ*/∂p = −H⁻¹ ∂²E/∂θ∂p, with H the *true* Hessian of E at θ* (`jax.hessian` of the scalar
objective in the local chart; the Gauss–Newton JᵀJ would drop Σ r ∇²r and be exact only for
zero-residual problems), solved exactly by an unrolled, Jacobi-scaled Cholesky. p is every
input: 3D points (hence shape coefficients), 2D points, weights, K and, for the ground layer,
the plane (n, d). The cost output's gradient is ∂E/∂p (the envelope theorem).

Validity: `valid` is False for problems with fewer than 4 (6-DoF) or 2 (ground) weighted
points, all weights zero, collinear points (6-DoF; for the ground layer, points on one
vertical line), a rank-deficient Gauss–Newton Hessian at the solution, weighted points at or
behind the camera at the solution, or a non-finite weighted input (points with weight ≤ 0 are
ignored and may hold NaN). Invalid problems return R = I, t = 0, cost 0 (finite), and zero
gradients; a valid problem whose true Hessian is not positive definite (a saddle) also gets
zero gradients. Nothing returned, forward or backward, is NaN or inf.

The functions take one problem and jit/vmap/grad; `*_batch` vmaps them over a leading axis.
All arithmetic on 3-vectors and small matrices is written out elementwise (`small_linalg`):
XLA's CPU backend runs batched tiny dots and Cholesky as slow library calls.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from walt3d_jax.fit import epnp as epnp_lib
from walt3d_jax.fit import init as init_lib
from walt3d_jax.geometry import plane
from walt3d_jax.geometry import small_linalg
from walt3d_jax.geometry import so3

MIN_POINTS_6DOF = 4
MIN_POINTS_GROUND = 2
# Camera depth (metres) below which a weighted point counts as behind the camera; projections
# clamp depths here so pixels stay finite for any pose.
MIN_DEPTH = 1e-3
STEPS_6DOF = 6
STEPS_GROUND = 4
YAW_HYPOTHESES = 2
# Initial LM damping, relative to the Jacobi-scaled Gauss–Newton matrix (unit diagonal).
_INITIAL_DAMPING = 1e-3
_DAMPING_DOWN, _DAMPING_UP = 1. / 3., 4.
# A step is kept unless it raises the cost by more than rounding (this many eps, relative): at the optimum, Gauss–Newton
# steps change the cost by less than its last bits, and rejecting them would stop the pose
# short of the minimum by ~√eps (the implicit gradient assumes ∇E = 0).
_ACCEPT_EPS = 100.
# A Jacobi-scaled Gauss–Newton matrix (unit diagonal) whose smallest Cholesky pivot is below
# this times the dtype's eps is rank-deficient at that precision.
_RANK_TOL = 100.


class PnPResult(NamedTuple):
  """R (..., 3, 3), t (..., 3) metres: object → camera, X_cam = R X + t; cost (...) pixels²;
  valid (...) bool."""

  R: jax.Array
  t: jax.Array
  cost: jax.Array
  valid: jax.Array


class GroundPnPResult(NamedTuple):
  """R (..., 3, 3), t (..., 3): object → camera; x, y (...) metres and yaw (...) radians in
  the ground frame; cost (...) pixels²; valid (...) bool."""

  R: jax.Array
  t: jax.Array
  x: jax.Array
  y: jax.Array
  yaw: jax.Array
  cost: jax.Array
  valid: jax.Array


# ---------------------------------------------------------------------------------------------
# Shared pieces


def _clean(points: jax.Array, uv: jax.Array, weight: jax.Array, *extra: jax.Array):
  """Inputs with unused points zeroed; (points, uv, w, count, inputs_ok).

  A point is used when its weight is > 0; a used point with a non-finite coordinate, any
  non-finite weight, or a non-finite `extra` array (K, plane) makes the whole problem invalid.
  """
  finite = (jnp.all(jnp.isfinite(points), -1) & jnp.all(jnp.isfinite(uv), -1)
            & jnp.isfinite(weight))
  used = weight > 0  # False for NaN weights
  inputs_ok = ~jnp.any(used & ~finite) & jnp.all(jnp.isfinite(weight))
  for e in extra:
    inputs_ok &= jnp.all(jnp.isfinite(e))
  keep = used & finite
  w = jnp.where(keep, weight, 0)
  return (jnp.where(keep[:, None], points, 0), jnp.where(keep[:, None], uv, 0), w,
          jnp.sum(keep), inputs_ok)


def _project_clamped(K: jax.Array, cam: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
  """(u, v, s) (N,) each: pixels of camera points cam (N, 3) and the clamped depth s."""
  p = small_linalg.matvec(K, cam)
  s = jnp.maximum(p[:, 2], MIN_DEPTH)
  return p[:, 0] / s, p[:, 1] / s, s


def _jacobi_scaled(h: jax.Array) -> tuple[jax.Array, jax.Array]:
  """(D h D, diag D) with D = diag(h)^-1/2 (1 where the diagonal is not positive)."""
  diag = jnp.diagonal(h)
  scale = jnp.where(diag > 0, jax.lax.rsqrt(jnp.where(diag > 0, diag, 1)), 1)
  return h * scale[:, None] * scale[None, :], scale


def _damped_step(h: jax.Array, g: jax.Array, mu: jax.Array) -> jax.Array:
  """Δ solving (h + μ diag h) Δ = −g by an unrolled Cholesky (Marquardt's scaling)."""
  a, scale = _jacobi_scaled(h)
  a = a + mu * jnp.eye(h.shape[0], dtype=h.dtype)
  return small_linalg.cholesky_solve(a, (-g * scale)[:, None])[:, 0] * scale


def _min_pivot(a: jax.Array) -> jax.Array:
  """Smallest pivot () of the unrolled Cholesky of a symmetric a (n, n); ≤ 0 if not PD."""
  n = a.shape[0]
  low: dict[tuple[int, int], jax.Array] = {}
  pivots = []
  for j in range(n):
    pivot = a[j, j] - sum((low[j, k] ** 2 for k in range(j)), jnp.zeros_like(a[j, j]))
    pivots.append(pivot)
    inv = jnp.where(pivot > 0, jax.lax.rsqrt(jnp.where(pivot > 0, pivot, 1)), 0)
    for i in range(j + 1, n):
      dot = sum((low[i, k] * low[j, k] for k in range(j)), jnp.zeros_like(pivot))
      low[i, j] = (a[i, j] - dot) * inv
  return jnp.min(jnp.stack(pivots))


def _full_rank(h: jax.Array) -> jax.Array:
  """() bool: the Jacobi-scaled h is positive definite at the working precision."""
  a, _ = _jacobi_scaled(h)
  return (_min_pivot(a) > _RANK_TOL * jnp.finfo(h.dtype).eps) & jnp.all(jnp.diagonal(h) > 0)


def _implicit_cotangent(grad_fn, theta_bar: jax.Array, cost_bar: jax.Array, ok: jax.Array,
                        primals: tuple) -> tuple:
  """Cotangents of `primals` for θ* = argmin E(θ, *primals), in a chart with θ* at θ = 0.

  grad_fn(θ (n,), *primals) -> (E (), g (n,)): the objective and its exact gradient at chart
  point θ, except that g may be the left-trivialised gradient of a rotation (whose Jacobian
  differs from the Hessian by an antisymmetric ½[g]× that vanishes at the optimum): the
  symmetric part of ∂g/∂θ at θ = 0 is the true Hessian in both cases. theta_bar (n,): the
  cotangent of θ*; cost_bar (): of the optimal cost. ok () bool: False zeroes everything (the
  primals must then be finite stand-ins).
  """
  zero = jnp.zeros_like(theta_bar)
  jac = jax.jacfwd(lambda th: grad_fn(th, *primals)[1])(zero)
  a, scale = _jacobi_scaled(0.5 * (jac + jac.T))
  u = -small_linalg.cholesky_solve(a, (theta_bar * scale)[:, None])[:, 0] * scale
  # A saddle or singular Hessian (no Cholesky) leaves the pose without a gradient.
  u = jnp.where(ok & jnp.all(jnp.isfinite(u)), u, 0)
  cost_bar = jnp.where(ok, cost_bar, 0)

  def lagrangian(*p):
    cost, g = grad_fn(zero, *p)
    return jnp.sum(g * u) + cost_bar * cost

  grads = jax.grad(lagrangian, argnums=tuple(range(len(primals))))(*primals)
  return tuple(jnp.where(ok & jnp.isfinite(g), g, 0) for g in grads)


def _levenberg_marquardt(params, linearise, retract, steps: int):
  """`steps` LM steps from params (a pytree); returns (params, cost, Gauss–Newton h, g).

  linearise(params) -> (cost (), h (n, n), g (n,)); retract(params, Δ (n,)) -> params. A
  step that raises the cost is undone and the damping raised; a kept one lowers it. A
  `fori_loop` with a static trip count (a scan: reverse-differentiable for `implicit=False`).
  """
  cost, h, g = linearise(params)
  dtype = cost.dtype
  tol = 1 + _ACCEPT_EPS * jnp.finfo(dtype).eps

  def body(_, state):
    params, cost, h, g, mu = state
    step = _damped_step(h, g, mu)
    step = jnp.where(jnp.all(jnp.isfinite(step)), step, 0)
    new = retract(params, step)
    cost_new, h_new, g_new = linearise(new)
    accept = cost_new <= cost * tol
    kept = jax.tree.map(lambda a, b: jnp.where(accept, a, b), (new, cost_new, h_new, g_new),
                        (params, cost, h, g))
    return (*kept, jnp.where(accept, mu * _DAMPING_DOWN, mu * _DAMPING_UP))

  state = (params, cost, h, g, jnp.asarray(_INITIAL_DAMPING, dtype))
  return jax.lax.fori_loop(0, steps, body, state)[:4]


# ---------------------------------------------------------------------------------------------
# 6-DoF


def _exp_so3(d: jax.Array) -> jax.Array:
  """(3, 3) exp([d]×), Rodrigues written out elementwise (Taylor terms near 0)."""
  theta2 = jnp.sum(d * d)
  small = theta2 < 1e-6
  safe2 = jnp.where(small, 1, theta2)
  theta = jnp.sqrt(safe2)
  a = jnp.where(small, 1 - theta2 / 6, jnp.sin(theta) / theta)
  b = jnp.where(small, 0.5 - theta2 / 24, (1 - jnp.cos(theta)) / safe2)
  return _rotation_from_series(d, a, b)


def _rotation_from_series(d: jax.Array, a: jax.Array, b: jax.Array) -> jax.Array:
  """I + a [d]× + b [d]×² for d (3,), a, b (): entry by entry ([d]×² = d dᵀ − |d|² I)."""
  x, y, z = d[0], d[1], d[2]
  n2 = x * x + y * y + z * z
  return jnp.stack([
      jnp.stack([1 + b * (x * x - n2), -a * z + b * x * y, a * y + b * x * z]),
      jnp.stack([a * z + b * x * y, 1 + b * (y * y - n2), -a * x + b * y * z]),
      jnp.stack([-a * y + b * x * z, a * x + b * y * z, 1 + b * (z * z - n2)]),
  ])


def _normal_equations(w, ru, rv, ju, jv):
  """cost (), Gauss–Newton matrix (n, n) and gradient (n,) of Σ w (ru² + rv²); ju, jv (N, n).

  Every entry is one weighted sum over the N points, all taken in a single reduction (a
  batched (n, N) × (N, n) product is a slow library call on XLA's CPU backend).
  """
  n = ju.shape[-1]
  upper = [(i, j) for i in range(n) for j in range(i, n)]
  terms = ([ru * ru + rv * rv] + [ju[:, i] * ru + jv[:, i] * rv for i in range(n)]
           + [ju[:, i] * ju[:, j] + jv[:, i] * jv[:, j] for i, j in upper])
  sums = jnp.sum(jnp.stack(terms) * w, -1)
  entry = dict(zip(upper, 2 * sums[1 + n:]))
  h = jnp.stack([jnp.stack([entry[min(i, j), max(i, j)] for j in range(n)]) for i in range(n)])
  return sums[0], h, 2 * sums[1:1 + n]


def _cost_and_gradient(w, ru, rv, ju, jv):
  """cost () and gradient (n,) of Σ w (ru² + rv²), in one reduction over the N points."""
  n = ju.shape[-1]
  terms = [ru * ru + rv * rv] + [ju[:, i] * ru + jv[:, i] * rv for i in range(n)]
  sums = jnp.sum(jnp.stack(terms) * w, -1)
  return sums[0], 2 * sums[1:]


def _residuals_6dof(R, t, pts, uv, K):
  """Pixel residuals ru, rv (N,), their Jacobians ju, jv (N, 6) in θ = (δ, Δt) and depths."""
  rx = small_linalg.matvec(R, pts)  # (N, 3): rotated object points
  u, v, s = _project_clamped(K, rx + t)
  # d(u, v)/dX_cam; then d/dδ = (R X) × a (rotation about the object origin), d/dt = a.
  a0 = (K[0] - u[:, None] * K[2]) / s[:, None]
  a1 = (K[1] - v[:, None] * K[2]) / s[:, None]
  ju = jnp.concatenate([jnp.cross(rx, a0), a0], -1)
  jv = jnp.concatenate([jnp.cross(rx, a1), a1], -1)
  return u - uv[:, 0], v - uv[:, 1], ju, jv, s


def _linearise_6dof(R, t, pts, uv, w, K):
  """cost (), Gauss–Newton matrix (6, 6) and gradient (6,) of E at (R, t) for θ = (δ, Δt)."""
  ru, rv, ju, jv, _ = _residuals_6dof(R, t, pts, uv, K)
  return _normal_equations(w, ru, rv, ju, jv)


def _grad_6dof(theta, R, t, points, uv, weight, K):
  """(E, left-trivialised ∇E) at R(δ) = (I + [δ]× + ½[δ]×²) R, t + Δt (θ = (δ, Δt)).

  The chart agrees with exp to second order. Takes the raw inputs, cleaned per point by
  `where` so that ignored points get zero gradients.
  """
  pts, uv_c, w, _, _ = _clean(points, uv, weight)
  rot = small_linalg.matmul(_rotation_from_series(theta[:3], 1., 0.5), R)
  ru, rv, ju, jv, _ = _residuals_6dof(rot, t + theta[3:], pts, uv_c, K)
  return _cost_and_gradient(w, ru, rv, ju, jv)


def _solve_6dof(points, uv, weight, K, steps: int):
  """Forward: (R, t, cost, valid) of one problem; inputs as `pnp_6dof`."""
  dtype = jnp.result_type(points, uv, weight, K, jnp.float32)
  points, uv, weight, K = (jnp.asarray(a, dtype) for a in (points, uv, weight, K))
  pts, uv_c, w, count, inputs_ok = _clean(points, uv, weight, K)
  K_safe = jnp.where(inputs_ok, K, jnp.eye(3, dtype=dtype))
  R, t, epnp_ok = epnp_lib.epnp(pts, uv_c, w > 0, K_safe)
  R, t = jax.lax.stop_gradient((R, t))
  (R, t), cost, h, _ = _levenberg_marquardt(
      (R, t), lambda p: _linearise_6dof(*p, pts, uv_c, w, K_safe),
      lambda p, d: (small_linalg.matmul(_exp_so3(d[:3]), p[0]), p[1] + d[3:]), steps)
  depth = small_linalg.matvec(K_safe, small_linalg.matvec(R, pts) + t)[:, 2]
  in_front = jnp.all((depth > MIN_DEPTH) | (w == 0))
  valid = (inputs_ok & epnp_ok & (count >= MIN_POINTS_6DOF) & in_front & _full_rank(h)
           & jnp.isfinite(cost) & jnp.all(jnp.isfinite(R)) & jnp.all(jnp.isfinite(t)))
  R = jnp.where(valid, R, jnp.eye(3, dtype=dtype))
  t = jnp.where(valid, t, 0)
  return R, t, jnp.where(valid, cost, 0), valid


@functools.partial(jax.custom_vjp, nondiff_argnums=(4,))
def _pnp_6dof_implicit(points, uv, weight, K, steps):
  return _solve_6dof(points, uv, weight, K, steps)


def _pnp_6dof_fwd(points, uv, weight, K, steps):
  out = _solve_6dof(points, uv, weight, K, steps)
  return out, (points, uv, weight, K, out)


def _pnp_6dof_bwd(steps, res, cotangents):
  del steps
  points, uv, weight, K, (R, t, _, valid) = res
  R_bar, t_bar, cost_bar, _ = cotangents
  # δ̄ for R(δ) = exp([δ]×) R: dR/dδ_k = [e_k]× R, so δ̄ = Σ_j R[:, j] × R̄[:, j].
  delta_bar = jnp.sum(jnp.cross(R.T, R_bar.T), 0)
  theta_bar = jnp.concatenate([delta_bar, t_bar])
  # Invalid problems: finite stand-ins everywhere, so 0 · (something) is never 0 · NaN.
  safe = lambda a, fill: jnp.where(valid, a, fill)
  K_safe = safe(K, jnp.eye(3, dtype=K.dtype))
  return _implicit_cotangent(
      lambda th, *p: _grad_6dof(th, R, t, *p), theta_bar, cost_bar, valid,
      (safe(points, 0), safe(uv, 0), safe(weight, 0), K_safe))


_pnp_6dof_implicit.defvjp(_pnp_6dof_fwd, _pnp_6dof_bwd)


def pnp_6dof(points_3d: jax.Array, uv: jax.Array, weight: jax.Array, K: jax.Array, *,
             steps: int = STEPS_6DOF, implicit: bool = True) -> PnPResult:
  """Object → camera pose of one problem by EPnP + `steps` LM steps on SE(3).

  points_3d: (N, 3) metres, object frame. uv: (N, 2) pixels. weight: (N,) ≥ 0 (0 ignores a
  point, which may then hold NaN). K: (3, 3). implicit: gradients by the implicit function
  theorem (default); False differentiates the unrolled iterations (a reference for tests).
  """
  if implicit:
    return PnPResult(*_pnp_6dof_implicit(points_3d, uv, weight, K, steps))
  return PnPResult(*_solve_6dof(points_3d, uv, weight, K, steps))


# ---------------------------------------------------------------------------------------------
# Ground-constrained


def _ground_camera_map(K, normal, offset):
  """(A, b): pixels' homogeneous p = A G + b of ground-frame points G; A = K R_cg, b = K t_cg."""
  R_cg, t_cg = plane.ground_frame(normal, offset)
  return small_linalg.matmul(K, R_cg), small_linalg.matvec(K, t_cg)


def _ground_residuals(x, y, yaw, pts, uv, A, b):
  """(ru, rv, s, X', Y'): pixel residuals (N,), clamped depth, yaw-rotated object x, y."""
  c, s_ = jnp.cos(yaw), jnp.sin(yaw)
  xr = c * pts[:, 0] - s_ * pts[:, 1]
  yr = s_ * pts[:, 0] + c * pts[:, 1]
  ground = jnp.stack([xr + x, yr + y, pts[:, 2]], -1)
  p = small_linalg.matvec(A, ground) + b
  s = jnp.maximum(p[:, 2], MIN_DEPTH)
  u, v = p[:, 0] / s, p[:, 1] / s
  return u - uv[:, 0], v - uv[:, 1], u, v, s, xr, yr, p[:, 2]


def _jacobian_ground(theta, pts, uv, A, b):
  """Pixel residuals ru, rv (N,), Jacobians ju, jv (N, 3) in θ = (x, y, yaw), raw depths."""
  ru, rv, u, v, s, xr, yr, depth = _ground_residuals(theta[0], theta[1], theta[2], pts, uv, A, b)
  a0 = (A[0] - u[:, None] * A[2]) / s[:, None]  # d(u)/dG (N, 3)
  a1 = (A[1] - v[:, None] * A[2]) / s[:, None]
  ju = jnp.stack([a0[:, 0], a0[:, 1], xr * a0[:, 1] - yr * a0[:, 0]], -1)
  jv = jnp.stack([a1[:, 0], a1[:, 1], xr * a1[:, 1] - yr * a1[:, 0]], -1)
  return ru, rv, ju, jv, depth


def _linearise_ground(theta, pts, uv, w, A, b):
  """cost (), Gauss–Newton matrix (3, 3) and gradient (3,) of E at θ = (x, y, yaw)."""
  ru, rv, ju, jv, _ = _jacobian_ground(theta, pts, uv, A, b)
  return _normal_equations(w, ru, rv, ju, jv)


def _grad_ground(theta, theta_star, points, uv, weight, K, normal, offset):
  """(E, ∇E) at θ* + θ from the raw inputs (cleaned per point by `where`)."""
  pts, uv_c, w, _, _ = _clean(points, uv, weight)
  A, b = _ground_camera_map(K, normal, offset)
  ru, rv, ju, jv, _ = _jacobian_ground(theta_star + theta, pts, uv_c, A, b)
  return _cost_and_gradient(w, ru, rv, ju, jv)


def _ground_starts(pts, uv, w, K, normal, offset, hypotheses: int):
  """(H, 3) start poses (x, y, yaw) and ok (): Procrustes yaw on the ground and its turns."""
  R_cg, t_cg = plane.ground_frame(normal, offset)
  p, hit = init_lib.keypoints_on_ground(uv, w, K, R_cg, t_cg, pts[:, 2])
  wg = jnp.where(hit, w, 0)
  yaw0, ok = init_lib.procrustes_yaw(p[None], pts[None, :, :2], wg[None])
  yaw0, ok = yaw0[0], ok[0]
  turns = jnp.asarray([0., jnp.pi, 0.5 * jnp.pi, -0.5 * jnp.pi][:hypotheses], w.dtype)
  yaws = yaw0 + turns
  total = jnp.maximum(jnp.sum(wg), jnp.finfo(w.dtype).tiny)
  p_bar = jnp.sum(wg[:, None] * p, 0) / total
  q_bar = jnp.sum(wg[:, None] * pts[:, :2], 0) / total
  c, s = jnp.cos(yaws), jnp.sin(yaws)
  x = p_bar[0] - (c * q_bar[0] - s * q_bar[1])
  y = p_bar[1] - (s * q_bar[0] + c * q_bar[1])
  return jnp.stack([x, y, jnp.arctan2(s, c)], -1), ok


def _solve_ground(points, uv, weight, K, normal, offset, steps: int, hypotheses: int):
  """Forward: (R, t, x, y, yaw, cost, valid) of one problem; inputs as `pnp_ground`."""
  dtype = jnp.result_type(points, uv, weight, K, normal, offset, jnp.float32)
  points, uv, weight, K, normal, offset = (jnp.asarray(a, dtype) for a in
                                           (points, uv, weight, K, normal, offset))
  pts, uv_c, w, count, inputs_ok = _clean(points, uv, weight, K, normal, offset)
  inputs_ok &= offset > 0
  K_safe = jnp.where(inputs_ok, K, jnp.eye(3, dtype=dtype))
  n_safe = jnp.where(inputs_ok, normal, jnp.asarray([0., -1., 0.], dtype))
  d_safe = jnp.where(inputs_ok, offset, 1)
  starts, start_ok = _ground_starts(pts, uv_c, w, K_safe, n_safe, d_safe, hypotheses)
  A, b = _ground_camera_map(K_safe, n_safe, d_safe)

  def start_cost(theta):
    ru, rv, *_ = _ground_residuals(theta[0], theta[1], theta[2], pts, uv_c, A, b)
    cost = jnp.sum(w * (ru * ru + rv * rv))
    return jnp.where(jnp.isfinite(cost), cost, jnp.inf)

  # The closed-form (x, y) of each yaw start is already close: LM runs from the best only.
  theta = jax.lax.stop_gradient(starts[jnp.argmin(jax.vmap(start_cost)(starts))])
  theta, cost, h, _ = _levenberg_marquardt(
      theta, lambda th: _linearise_ground(th, pts, uv_c, w, A, b), jnp.add, steps)
  theta = theta.at[2].set(jnp.arctan2(jnp.sin(theta[2]), jnp.cos(theta[2])))
  depth = _ground_residuals(theta[0], theta[1], theta[2], pts, uv_c, A, b)[-1]
  in_front = jnp.all((depth > MIN_DEPTH) | (w == 0))
  valid = (inputs_ok & start_ok & (count >= MIN_POINTS_GROUND) & in_front & _full_rank(h)
           & jnp.isfinite(cost) & jnp.all(jnp.isfinite(theta)))
  theta = jnp.where(valid, theta, 0)
  return theta, jnp.where(valid, cost, 0), valid


@functools.partial(jax.custom_vjp, nondiff_argnums=(6, 7))
def _pnp_ground_implicit(points, uv, weight, K, normal, offset, steps, hypotheses):
  return _solve_ground(points, uv, weight, K, normal, offset, steps, hypotheses)


def _pnp_ground_fwd(points, uv, weight, K, normal, offset, steps, hypotheses):
  out = _solve_ground(points, uv, weight, K, normal, offset, steps, hypotheses)
  return out, (points, uv, weight, K, normal, offset, out)


def _pnp_ground_bwd(steps, hypotheses, res, cotangents):
  del steps, hypotheses
  points, uv, weight, K, normal, offset, (theta, _, valid) = res
  theta_bar, cost_bar, _ = cotangents
  safe = lambda a, fill: jnp.where(valid, a, fill)
  primals = (safe(points, 0), safe(uv, 0), safe(weight, 0), safe(K, jnp.eye(3, dtype=K.dtype)),
             safe(normal, jnp.asarray([0., -1., 0.], normal.dtype)), safe(offset, 1))
  return _implicit_cotangent(
      lambda th, *p: _grad_ground(th, theta, *p), theta_bar, cost_bar, valid, primals)


_pnp_ground_implicit.defvjp(_pnp_ground_fwd, _pnp_ground_bwd)


def pnp_ground(points_3d: jax.Array, uv: jax.Array, weight: jax.Array, K: jax.Array,
               normal: jax.Array, offset: jax.Array, *, steps: int = STEPS_GROUND,
               hypotheses: int = YAW_HYPOTHESES, implicit: bool = True) -> GroundPnPResult:
  """Ground-constrained pose (x, y, yaw) of one problem, and its object → camera (R, t).

  points_3d: (N, 3) metres, object frame (z up, origin on the ground). uv: (N, 2) pixels.
  weight: (N,) ≥ 0. K: (3, 3). normal (3,), offset (): the ground plane n·X + d = 0 in the
  camera frame (`geometry.plane`). steps: LM steps per start; hypotheses: 1–4 yaw starts
  (Procrustes yaw, + π, ± π/2). implicit: as `pnp_6dof`.
  """
  if not 1 <= hypotheses <= 4:
    raise ValueError(f'hypotheses must be 1 to 4, got {hypotheses}')
  if implicit:
    theta, cost, valid = _pnp_ground_implicit(points_3d, uv, weight, K, normal, offset, steps,
                                              hypotheses)
  else:
    theta, cost, valid = _solve_ground(points_3d, uv, weight, K, normal, offset, steps,
                                       hypotheses)
  # (R, t) from (x, y, yaw) outside the custom_vjp (ordinary autodiff): the product of
  # `pose.ground_pose_to_camera` written out elementwise (a batched 3×3 matmul is a slow
  # library call on XLA's CPU backend).
  dtype = theta.dtype
  n_safe = jnp.where(valid, jnp.asarray(normal, dtype), jnp.asarray([0., -1., 0.], dtype))
  d_safe = jnp.where(valid, jnp.asarray(offset, dtype), 1)
  R_cg, t_cg = plane.ground_frame(n_safe, d_safe)
  R = small_linalg.matmul(R_cg, so3.rot_z(theta[2]))
  t = small_linalg.matvec(R_cg, jnp.stack([theta[0], theta[1], jnp.zeros_like(theta[0])])) + t_cg
  R = jnp.where(valid, R, jnp.eye(3, dtype=dtype))
  t = jnp.where(valid, t, 0)
  return GroundPnPResult(R, t, theta[0], theta[1], theta[2], cost, valid)


# ---------------------------------------------------------------------------------------------
# Batched entry points


def pnp_6dof_batch(points_3d: jax.Array, uv: jax.Array, weight: jax.Array, K: jax.Array,
                   **kwargs) -> PnPResult:
  """`pnp_6dof` over a leading batch axis: points_3d (B, N, 3), uv (B, N, 2), weight (B, N),
  K (3, 3) shared or (B, 3, 3)."""
  k_axis = 0 if jnp.ndim(K) == 3 else None
  return jax.vmap(functools.partial(pnp_6dof, **kwargs), (0, 0, 0, k_axis))(
      points_3d, uv, weight, K)


def pnp_ground_batch(points_3d: jax.Array, uv: jax.Array, weight: jax.Array, K: jax.Array,
                     normal: jax.Array, offset: jax.Array, **kwargs) -> GroundPnPResult:
  """`pnp_ground` over a leading batch axis: points_3d (B, N, 3), uv (B, N, 2), weight (B, N);
  K (3, 3) or (B, 3, 3), normal (3,) or (B, 3), offset () or (B,) shared or per problem."""
  axes = (0, 0, 0, 0 if jnp.ndim(K) == 3 else None, 0 if jnp.ndim(normal) == 2 else None,
          0 if jnp.ndim(offset) == 1 else None)
  return jax.vmap(functools.partial(pnp_ground, **kwargs), axes)(
      points_3d, uv, weight, K, normal, offset)
