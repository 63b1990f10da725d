"""EPnP (Lepetit, Moreno-Noguer and Fua, 2009) in JAX: fixed shapes, a validity mask, vmap-able.

It follows OpenCV's `calib3d/src/epnp.cpp` step for step: four control points (the centroid and
the principal axes of the valid points), barycentric coordinates, the 2N × 12 system M, the four
eigenvectors of MᵀM with the smallest eigenvalues, the 6 × 10 system L β̄ = ρ of control-point
distances, three approximations of β each refined by Gauss–Newton, a sign fix so the points lie
in front of the camera, Procrustes (Kabsch) for (R, t), and the candidate with the lowest mean
reprojection error. Every choice is a `jnp.where`/`argmin`, so the function jits and vmaps over
any batch of problems.

Two departures from OpenCV, both for float32 conditioning and neither changing the answer on
exact data: the object points are centred and scaled to unit spread before the solve, and the
image points enter as normalised rays K⁻¹ [u, v, 1] (so the systems are O(1) whatever the focal
length and the object size). Least squares go through normal equations with a tiny ridge, not
`jnp.linalg.lstsq` (which was seen to hang in a large vmapped batch, see SOLVERS.md).

With noisy points the estimate depends on which side of the centroid each control point sits,
i.e. on the signs of the principal axes, which any eigensolver picks at will. Here the axes
are made right-handed; the result then equals a float64 transcription of the published
algorithm with the same axes (tests/fit/test_epnp.py). OpenCV's SVD picks other signs, so
cv2.solvePnP(SOLVEPNP_EPNP) differs by ~0.4° median at 2 px noise (equally accurate); with
its signs the transcription reproduces OpenCV exactly.

Known limit (jax 0.10.2, XLA CPU, 2 cores): jit(vmap(epnp)) over 32,768 problems in one call
hung inside XLA's runtime (compiled fine, never returned; 16,384 runs at 42 µs/pose), and
per-frame EPnP inside the track fit's batched starts (1,024 tracks × 32 frames) hung the same
way. Neither eigh, SVD nor det alone hangs at that batch. Batches of up to 16k problems per
call have been reliable; the track fit's default starts do not use EPnP.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from walt3d_jax.geometry import camera as camera_lib

# OpenCV's epnp.cpp refines each β approximation with 5 Gauss–Newton steps.
GAUSS_NEWTON_STEPS = 5
MIN_POINTS = 4
# Pairs of control points (a, b) in OpenCV's order: rows of L and entries of ρ.
_PAIRS = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))
# β̄ = [β11 β12 β22 β13 β23 β33 β14 β24 β34 β44]: the (i, j) of each entry.
_BETA_PAIRS = ((0, 0), (0, 1), (1, 1), (0, 2), (1, 2), (2, 2), (0, 3), (1, 3), (2, 3), (3, 3))


def _solve_normal(a: jax.Array, b: jax.Array) -> jax.Array:
  """Least-squares x (n,) of a (m, n) x ≈ b (m,) by normal equations with a tiny ridge.

  The ridge (eps · trace) keeps rank-deficient systems finite without moving a well-posed
  answer by more than rounding.
  """
  ata = a.T @ a
  eps = jnp.finfo(a.dtype).eps
  ridge = eps * jnp.trace(ata) + jnp.finfo(a.dtype).tiny
  return jnp.linalg.solve(ata + ridge * jnp.eye(a.shape[1], dtype=a.dtype), a.T @ b)


def _safe_div(num: jax.Array, den: jax.Array) -> jax.Array:
  """num / den, 0 where den == 0 (OpenCV divides by zero there; we keep the value finite)."""
  ok = den != 0
  return jnp.where(ok, num / jnp.where(ok, den, 1), 0)


def _betas_approx_1(l: jax.Array, rho: jax.Array) -> jax.Array:
  """β from [β11 β12 β13 β14] (OpenCV's find_betas_approx_1)."""
  b4 = _solve_normal(l[:, jnp.array([0, 1, 3, 6])], rho)
  sign = jnp.where(b4[0] < 0, -1, 1).astype(l.dtype)
  b0 = jnp.sqrt(jnp.abs(b4[0]))
  return jnp.stack([b0, *(sign * _safe_div(b4[k], b0) for k in (1, 2, 3))])


def _two_betas(b: jax.Array) -> tuple[jax.Array, jax.Array]:
  """(β1, β2) from b = [β11 β12 β22 ...] with OpenCV's sign rules (approximations 2 and 3)."""
  neg = b[0] < 0
  b0 = jnp.sqrt(jnp.abs(b[0]))
  b1 = jnp.where(neg, jnp.sqrt(jnp.maximum(-b[2], 0)), jnp.sqrt(jnp.maximum(b[2], 0)))
  b0 = jnp.where(b[1] < 0, -b0, b0)
  return b0, b1


def _betas_approx_2(l: jax.Array, rho: jax.Array) -> jax.Array:
  """β from [β11 β12 β22] (OpenCV's find_betas_approx_2)."""
  b0, b1 = _two_betas(_solve_normal(l[:, :3], rho))
  zero = jnp.zeros_like(b0)
  return jnp.stack([b0, b1, zero, zero])


def _betas_approx_3(l: jax.Array, rho: jax.Array) -> jax.Array:
  """β from [β11 β12 β22 β13 β23] (OpenCV's find_betas_approx_3)."""
  b5 = _solve_normal(l[:, :5], rho)
  b0, b1 = _two_betas(b5)
  return jnp.stack([b0, b1, _safe_div(b5[3], b0), jnp.zeros_like(b0)])


def _gauss_newton(gram: jax.Array, rho: jax.Array, beta: jax.Array) -> jax.Array:
  """β (4,) refined on ρ_p = βᵀ G_p β by Gauss–Newton; gram: (6, 4, 4) G_p, rho: (6,)."""

  # A fixed, unrolled count: XLA's CPU while loop around the batched solves was seen to hang
  # on a second call at B = 4096 (the same symptom SOLVERS.md reports for lstsq).
  for _ in range(GAUSS_NEWTON_STEPS):
    jac = 2 * jnp.einsum('pij,j->pi', gram, beta)  # (6, 4): ∂(βᵀ G_p β)/∂β
    res = rho - jnp.einsum('i,pij,j->p', beta, gram, beta)
    new = beta + _solve_normal(jac, res)
    # A singular step (e.g. β = 0) keeps the last finite β rather than spreading NaN.
    beta = jnp.where(jnp.all(jnp.isfinite(new)), new, beta)
  return beta


def _procrustes(src: jax.Array, dst: jax.Array, w: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Proper rigid (R, t) minimising Σ w |R src + t - dst|²; src, dst (N, 3), w (N,) ≥ 0."""
  total = jnp.maximum(jnp.sum(w), 1)
  src0 = jnp.sum(w[:, None] * src, 0) / total
  dst0 = jnp.sum(w[:, None] * dst, 0) / total
  cross = jnp.einsum('n,ni,nj->ij', w, dst - dst0, src - src0)
  u, _, vt = jnp.linalg.svd(cross)
  # Reflection fix (Kabsch): flip the least significant axis when U Vᵀ is improper.
  det = jnp.linalg.det(u @ vt)
  u = u.at[:, 2].multiply(jnp.where(det < 0, -1, 1).astype(u.dtype))
  rot = u @ vt
  return rot, dst0 - rot @ src0


def _mean_reprojection_error(K: jax.Array, rot: jax.Array, t: jax.Array, points: jax.Array,
                             uv: jax.Array, w: jax.Array) -> jax.Array:
  """Mean pixel distance over valid points (OpenCV's selection criterion); inf if not finite."""
  proj = camera_lib.project(K, points @ rot.T + t)
  dist = jnp.linalg.norm(proj - uv, axis=-1)
  err = jnp.sum(jnp.where(w > 0, dist, 0)) / jnp.maximum(jnp.sum(w), 1)
  return jnp.where(jnp.isfinite(err), err, jnp.inf)


def epnp(points_3d: jax.Array, uv: jax.Array, valid: jax.Array,
         K: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Object → camera pose from N 2D–3D correspondences, of which `valid` are used.

  points_3d: (N, 3) metres, object frame. uv: (N, 2) pixels (undistorted). valid: (N,) bool;
  entries where it is False are ignored (they may hold NaN). K: (3, 3) intrinsics, pixels.
  Returns R (3, 3) and t (3,) metres with X_cam = R X_obj + t, and ok () bool: at least four
  valid points that are not collinear and a finite solution. Where ok is False, R is the
  identity and t is zero. The dtype follows the inputs (float32 or float64).
  """
  dtype = jnp.result_type(points_3d, uv, K, jnp.float32)
  valid = jnp.asarray(valid, bool)
  w = valid.astype(dtype)
  # Masked entries may be NaN or inf: replace them before any arithmetic touches them.
  pts = jnp.where(valid[:, None], jnp.asarray(points_3d, dtype), 0)
  uv = jnp.where(valid[:, None], jnp.asarray(uv, dtype), 0)
  K = jnp.asarray(K, dtype)
  count = jnp.sum(w)
  n = jnp.maximum(count, 1)

  # Control points: the centroid and the principal axes scaled by the spread along them.
  centroid = jnp.sum(w[:, None] * pts, 0) / n
  centred = (pts - centroid) * w[:, None]
  evals, axes = jnp.linalg.eigh(centred.T @ centred / n)  # ascending
  evals, axes = evals[::-1], axes[:, ::-1]  # descending, as OpenCV's SVD
  # A right-handed basis, or the pose found in it would be a reflection of the object's.
  axes = axes.at[:, 2].multiply(jnp.where(jnp.linalg.det(axes) < 0, -1, 1).astype(dtype))
  spread = jnp.sqrt(jnp.maximum(evals, 0))
  scale = spread[0]
  tol = 10 * jnp.sqrt(jnp.finfo(dtype).eps)
  collinear = spread[1] <= tol * scale
  # Work in units of the largest spread: control points at distance ≤ 1 from the centroid.
  # A flat set (spread[2] ≈ 0) keeps a small third axis so the barycentric map stays finite;
  # its control point is then pinned only by the distance constraints, which L carries.
  safe_scale = jnp.where(scale > 0, scale, 1)
  rel = jnp.maximum(spread / safe_scale, tol)
  local = (pts - centroid) @ axes / safe_scale  # (N, 3) in principal axes, unit spread
  ctrl = jnp.concatenate([jnp.zeros((1, 3), dtype), jnp.diag(rel)], 0)  # (4, 3) in local
  alpha_rest = local / rel  # barycentric weights of control points 1..3
  alphas = jnp.concatenate([1 - jnp.sum(alpha_rest, 1, keepdims=True), alpha_rest], 1)

  # M (2N × 12) on normalised rays: rows α ⊗ [1, 0, -x] and α ⊗ [0, 1, -y]; masked rows zero.
  rays = camera_lib.pixel_rays(K, uv)
  zero = jnp.zeros_like(rays[:, 0])
  one = jnp.ones_like(zero)
  row_u = jnp.stack([one, zero, -rays[:, 0]], -1)
  row_v = jnp.stack([zero, one, -rays[:, 1]], -1)
  m_u = (alphas[:, :, None] * row_u[:, None, :]).reshape(-1, 12)
  m_v = (alphas[:, :, None] * row_v[:, None, :]).reshape(-1, 12)
  m = jnp.concatenate([m_u, m_v], 0) * jnp.concatenate([w, w])[:, None]
  _, vecs = jnp.linalg.eigh(m.T @ m)
  null = vecs[:, :4].T.reshape(4, 4, 3)  # v_k (4 control points × 3), smallest first

  # L (6 × 10) and ρ (6,): squared control-point distances, as quadratic forms in β.
  a_idx = jnp.array([a for a, _ in _PAIRS])
  b_idx = jnp.array([b for _, b in _PAIRS])
  diff = null[:, a_idx] - null[:, b_idx]  # (4, 6, 3)
  gram = jnp.einsum('ipk,jpk->pij', diff, diff)  # (6, 4, 4)
  bi = jnp.array([i for i, _ in _BETA_PAIRS])
  bj = jnp.array([j for _, j in _BETA_PAIRS])
  coef = jnp.where(bi == bj, 1, 2).astype(dtype)
  l = gram[:, bi, bj] * coef
  rho = jnp.sum((ctrl[a_idx] - ctrl[b_idx]) ** 2, -1)

  betas = jnp.stack([_betas_approx_1(l, rho), _betas_approx_2(l, rho),
                     _betas_approx_3(l, rho)])
  betas = jax.vmap(_gauss_newton, (None, None, 0))(gram, rho, betas)

  def candidate(beta):
    cam_ctrl = jnp.einsum('k,kcj->cj', beta, null)  # (4, 3) camera-frame control points
    cam_pts = alphas @ cam_ctrl
    # Sign fix: the valid points must lie in front of the camera (OpenCV tests one point).
    flip = jnp.sum(w * cam_pts[:, 2]) < 0
    cam_pts = jnp.where(flip, -cam_pts, cam_pts)
    rot, t_local = _procrustes(local, cam_pts, w)
    err = _mean_reprojection_error(K, rot, t_local, local, uv, w)
    return rot, t_local, err

  rots, ts, errs = jax.vmap(candidate)(betas)
  best = jnp.argmin(errs)
  # Back from the normalised object frame: X_local = Aᵀ (X - c) / s, so
  # X_cam ∝ R_l Aᵀ X - R_l Aᵀ c + s t_l, and the depth scale s multiplies t.
  rot = rots[best] @ axes.T
  t = scale * ts[best] - rot @ centroid

  ok = ((count >= MIN_POINTS) & ~collinear & jnp.isfinite(errs[best])
        & jnp.all(jnp.isfinite(rot)) & jnp.all(jnp.isfinite(t)))
  rot = jnp.where(ok, rot, jnp.eye(3, dtype=dtype))
  t = jnp.where(ok, t, jnp.zeros(3, dtype))
  return rot, t, ok
