"""Structured (Schur) LM: exact steps, the jaxopt and scipy optimum, padding, vmap."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize

from walt3d_jax.fit import init as init_lib
from walt3d_jax.fit import residuals
from walt3d_jax.fit import robust
from walt3d_jax.fit import schur
from walt3d_jax.fit import synthetic
from walt3d_jax.fit import track_fit
from walt3d_jax.fit.config import FitConfig
from walt3d_jax.shapes import car_model


@pytest.fixture(scope='module')
def model64():
  with jax.enable_x64(True):
    yield car_model.load_car_model(5, dtype=jnp.float64)


def _problem(model, seed, num_frames, perturb=True):
  """(params (3T + K,), args of track_residuals after params) of one synthetic track, f64.

  With perturb, poses are ~0.5 m and ~10° off the truth and β random, so keypoint errors
  straddle the robust loss's knee; without, the start is `init.initial_poses`' first.
  """
  tr = synthetic.synthetic_tracks(np.random.default_rng(seed), 1, num_frames, model)
  valid = jnp.asarray(tr.frame_valid[0])
  uv, w = residuals.usable_keypoints(jnp.asarray(tr.uv[0]), jnp.asarray(tr.weight[0]), valid)
  cam = tuple(jnp.asarray(a[0]) for a in (tr.K, tr.R_cg, tr.t_cg))
  if perturb:
    rng = np.random.default_rng(seed + 100)
    anchor = jnp.stack([jnp.asarray(tr.x[0]), jnp.asarray(tr.y[0]), jnp.asarray(tr.yaw[0])], -1)
    pose = anchor + rng.normal(0., [.5, .5, .2], (num_frames, 3))
    beta = jnp.asarray(rng.normal(0., 1., model.num_components))
  else:
    starts, _ = init_lib.initial_poses(uv, w, *cam, model, FitConfig())
    anchor = pose = starts[0]
    beta = jnp.zeros(model.num_components)
  params = residuals.pack(pose[:, 0], pose[:, 1], pose[:, 2], beta)
  return params, (uv, w, valid, anchor, *cam, model)


# Jitted once: eagerly, the unrolled 6×6 Cholesky and the scans dispatch op by op.
_linearise = jax.jit(schur.linearise, static_argnames=('config',))
_dense_step = jax.jit(schur.dense_damped_step, static_argnames=('config',))
_band_solve = jax.jit(schur.solve_pose_band)


@jax.jit
def _step(lin, mu):
  d_pose, d_beta = schur.damped_step(lin, mu)
  return residuals.pack(d_pose[:, 0], d_pose[:, 1], d_pose[:, 2], d_beta)


def _flat_step(lin, mu):
  return np.asarray(_step(lin, jnp.asarray(mu)))


@pytest.mark.parametrize('num_frames', [2, 5])
def test_schur_step_equals_dense_damped_normal_equations(model64, num_frames):
  with jax.enable_x64(True):
    config = FitConfig(loss='cauchy', robust_model='chain')
    params, args = _problem(model64, num_frames, num_frames)
    x, y, yaw, beta = residuals.unpack(params, num_frames)
    lin = _linearise(jnp.stack([x, y, yaw], -1), beta, *args, config)
    np.testing.assert_allclose(lin.cost, residuals.track_cost(params, *args, config=config),
                               rtol=1e-12)
    for mu in (1e-4, 1., 30.):
      dense = np.asarray(_dense_step(params, mu, *args, config=config))
      np.testing.assert_allclose(_flat_step(lin, mu), dense, rtol=0,
                                 atol=1e-9 * np.abs(dense).max())


def test_irls_step_equals_dense_step_with_frozen_robust_weights(model64):
  with jax.enable_x64(True):
    config = FitConfig(loss='huber', robust_model='irls')
    num_frames = 6
    params, args = _problem(model64, 11, num_frames)
    uv, w, valid, anchor, K, R_cg, t_cg, model = args

    def errors(p):
      x, y, yaw, beta = residuals.unpack(p, num_frames)
      proj, _ = residuals.project_track(x, y, yaw, beta * model.stddev, K, R_cg, t_cg, model,
                                        config.min_depth_m)
      return (proj - uv) / config.keypoint_sigma_px

    # IRLS: the keypoint residual e·√(ρ'(|e₀|²) w) with ρ' frozen at the current point.
    sq0 = jnp.sum(errors(params) ** 2, -1)
    d_rho = jax.vmap(jax.vmap(jax.grad(functools.partial(
        robust.robust_rho, loss=config.loss, scale=config.loss_scale))))(sq0)
    assert np.any(np.asarray(d_rho) < 0.99)  # some keypoints in Huber's linear part
    q = jnp.sqrt(d_rho * w)[..., None]

    def model_residuals(p):
      rest = residuals.track_residuals(p, *args, config=config)[24 * num_frames:]
      return jnp.concatenate([(errors(p) * q).reshape(-1), rest])

    r, jac = jax.jit(lambda p: (model_residuals(p), jax.jacfwd(model_residuals)(p)))(params)
    # Same gradient as the true robust cost: only the Gauss-Newton matrix differs.
    np.testing.assert_allclose(
        jac.T @ r, jax.grad(residuals.track_cost)(params, *args, config=config), rtol=1e-9,
        atol=1e-9)
    x, y, yaw, beta = residuals.unpack(params, num_frames)
    lin = _linearise(jnp.stack([x, y, yaw], -1), beta, *args, config)
    for mu in (1e-4, 1.):
      dense = np.asarray(-jnp.linalg.solve(jac.T @ jac + mu * jnp.eye(params.size), jac.T @ r))
      np.testing.assert_allclose(_flat_step(lin, mu), dense, rtol=0,
                                 atol=1e-9 * np.abs(dense).max())


def test_pose_band_solve_is_exact_for_odd_and_even_lengths():
  with jax.enable_x64(True):
    rng = np.random.default_rng(0)
    for num_frames in (1, 3, 4, 7):
      m = rng.normal(size=(3 * num_frames, 3 * num_frames))
      band = np.abs(np.subtract.outer(np.arange(3 * num_frames) // 3,
                                      np.arange(3 * num_frames) // 3)) <= 2
      a = np.where(band, m @ m.T, 0.) + 3 * num_frames * np.eye(3 * num_frames)
      blocks = a.reshape(num_frames, 3, num_frames, 3).transpose(0, 2, 1, 3)
      idx = np.arange(num_frames)
      upper = [np.stack([blocks[t, t + s] if t + s < num_frames else np.zeros((3, 3))
                         for t in idx]) for s in (1, 2)]
      rhs = rng.normal(size=(num_frames, 3, 4))
      got = _band_solve(jnp.asarray(blocks[idx, idx]), *map(jnp.asarray, upper),
                                  jnp.asarray(rhs))
      want = np.linalg.solve(a, rhs.reshape(3 * num_frames, 4)).reshape(num_frames, 3, 4)
      np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_structured_lm_reaches_the_dense_jaxopt_and_scipy_optimum(model64):
  with jax.enable_x64(True):
    config = FitConfig(tol=1e-6)
    params, args = _problem(model64, 21, 8, perturb=False)
    # The default IRLS model ('chain' steps equal the dense ones, tested above).
    _, state = jax.jit(schur.SchurLevenbergMarquardt(config, 60).run)(params, *args)
    assert bool(state.converged)
    costs = {'schur': float(state.value)}
    _, dense = jax.jit(track_fit.make_solver(config, 60).run)(params, *args)
    costs['dense'] = float(dense.value)
    fun = jax.jit(functools.partial(residuals.track_residuals, config=config))
    jac = jax.jit(jax.jacfwd(functools.partial(residuals.track_residuals, config=config)))
    ref = scipy.optimize.least_squares(lambda p: np.asarray(fun(p, *args)), params,
                                       lambda p: np.asarray(jac(p, *args)), method='trf',
                                       xtol=1e-12, ftol=1e-12, gtol=1e-10)
    start = float(residuals.track_cost(params, *args, config=config))
    assert ref.cost < 0.5 * start  # the start is far from the optimum
    for name, cost in costs.items():
      assert abs(cost - ref.cost) <= 1e-3 * ref.cost, (name, cost, ref.cost)


def test_padded_frames_have_no_effect(model64):
  with jax.enable_x64(True):
    run = jax.jit(schur.SchurLevenbergMarquardt(FitConfig(), 30).run)
    params, (uv, w, valid, anchor, *rest) = _problem(model64, 31, 5)
    short, short_state = run(params, uv, w, valid, anchor, *rest)
    # Three padded frames with junk pixels and poses: frame_valid zeroes their weights
    # (`usable_keypoints`) and the unit anchor holds them at their start.
    x, y, yaw, beta = residuals.unpack(params, 5)
    junk = np.full(3, 7.)
    padded_params = residuals.pack(*(jnp.concatenate([v, junk]) for v in (x, y, yaw)), beta)
    pad_valid = jnp.arange(8) < 5
    pad_uv, pad_w = residuals.usable_keypoints(
        jnp.concatenate([uv, jnp.full((3, 12, 2), 123.)]),
        jnp.concatenate([w, jnp.ones((3, 12))]), pad_valid)
    pad_anchor = jnp.concatenate([anchor, jnp.full((3, 3), 7.)])
    padded, padded_state = run(padded_params, pad_uv, pad_w, pad_valid, pad_anchor, *rest)
    px, py, pyaw, pbeta = residuals.unpack(padded, 8)
    got = residuals.pack(px[:5], py[:5], pyaw[:5], pbeta)
    np.testing.assert_allclose(got, short, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(px[5:], junk, atol=1e-12)
    np.testing.assert_allclose(padded_state.value, short_state.value, rtol=1e-10)
    assert int(padded_state.iter_num) == int(short_state.iter_num)


def test_vmap_equals_loop_and_never_nan(model64):
  with jax.enable_x64(True):
    solver = schur.SchurLevenbergMarquardt(FitConfig(), 30)
    problems = [_problem(model64, seed, 4) for seed in (41, 42, 43)]
    # Track 2: no keypoints at all; only the anchor and the prior hold it (singular J).
    p2, a2 = problems[2]
    problems[2] = (p2, (a2[0], jnp.zeros_like(a2[1])) + a2[2:])
    run = jax.jit(solver.run)
    singles = [run(p, *a) for p, a in problems]
    stack = lambda i: jax.tree.map(lambda *v: jnp.stack(v), *(p[1][i] for p in problems))
    batched_args = [stack(i) for i in range(7)]
    params, state = jax.jit(jax.vmap(solver.run, in_axes=(0,) * 8 + (None,)))(
        jnp.stack([p for p, _ in problems]), *batched_args, model64)
    for i, (p, s) in enumerate(singles):
      np.testing.assert_allclose(params[i], p, rtol=1e-10, atol=1e-10)
      np.testing.assert_allclose(state.value[i], s.value, rtol=1e-10)
      assert int(state.iter_num[i]) == int(s.iter_num)
    assert np.all(np.isfinite(params)) and np.all(np.isfinite(state.value))
