"""Differentiable PnP: forward vs truth and cv2.solvePnP, implicit gradients vs finite differences
and unrolled iterations (float64), degenerate problems (valid False, finite, zero gradients)."""

import functools

import cv2
import jax
import jax.numpy as jnp
import numpy as np
from scipy.spatial import transform

from walt3d_jax.geometry import camera as camera_lib
from walt3d_jax.models import pnp
from walt3d_jax.shapes import car_model
from walt3d_jax.shapes import vehicle

_K = np.asarray(camera_lib.intrinsics(np.deg2rad(60.), (1280, 720)), np.float64)
_BATCH = 16  # one shape for every batched float32 call: each layer compiles once


def _problems(seed: int, noise: float, batch: int = _BATCH, max_missing: int = 4):
  """Sampled cars upright on the ground of a camera 3-10 m high pitched 6-29° down, 10-40 m
  ahead, any yaw; `noise` px; 0 to max_missing of 12 keypoints with weight 0."""
  rng = np.random.default_rng(seed)
  out = {k: [] for k in ('points', 'uv', 'weight', 'R', 't', 'n', 'd', 'x', 'y', 'yaw')}
  for _ in range(batch):
    pts = np.asarray(vehicle.car_keypoints(vehicle.sample_car_params(rng)), np.float64)
    height = rng.uniform(3., 10.)
    r_cg = np.asarray(camera_lib.mount_rotation(rng.uniform(0.1, 0.5)), np.float64)
    x, y, yaw = rng.uniform(10., 40.), rng.uniform(-0.25, 0.25), rng.uniform(-np.pi, np.pi)
    y *= x
    rot = r_cg @ transform.Rotation.from_euler('z', yaw).as_matrix()
    t = r_cg @ np.array([x, y, 0.]) - height * r_cg[:, 2]
    w = np.ones(12)
    w[rng.choice(12, rng.integers(0, max_missing + 1), replace=False)] = 0.
    uv = _project(pts, rot, t) + rng.normal(0., noise, (12, 2))
    for key, v in zip(out, (pts, uv, w, rot, t, r_cg[:, 2], height, x, y, yaw)):
      out[key].append(v)
  return {k: np.array(v) for k, v in out.items()}


def _project(points, rot, t):
  p = (points @ rot.T + t) @ _K.T
  return p[..., :2] / p[..., 2:]


def _cost(points, uv, w, rot, t):
  return np.sum(w * np.sum((_project(points, rot, t) - uv) ** 2, -1))


def _f32(*arrays):
  return tuple(jnp.asarray(a, jnp.float32) for a in arrays)


@functools.cache
def _batched_6dof():
  return jax.jit(pnp.pnp_6dof_batch)


@functools.cache
def _batched_ground():
  return jax.jit(pnp.pnp_ground_batch)


def _solve_6dof(p):
  return _batched_6dof()(*_f32(p['points'], p['uv'], p['weight'], _K))


def _solve_ground(p):
  return _batched_ground()(*_f32(p['points'], p['uv'], p['weight'], _K, p['n'], p['d']))


def _opencv(p, flags=cv2.SOLVEPNP_ITERATIVE):
  rots, ts = [], []
  for pts, uv, w in zip(p['points'], p['uv'], p['weight']):
    used = w > 0
    _, rvec, tvec = cv2.solvePnP(pts[used], uv[used], _K, None, flags=flags)
    rots.append(cv2.Rodrigues(rvec)[0])
    ts.append(tvec[:, 0])
  return np.array(rots), np.array(ts)


def _angle(r1, r2):
  return np.arccos(np.clip((np.einsum('...ij,...ij->...', r1, r2) - 1) / 2, -1, 1))


# ------------------------------------------------------------------------------- forward


def test_6dof_noise_free_matches_truth_and_opencv():
  p = _problems(0, noise=0.)
  r = _solve_6dof(p)
  assert np.asarray(r.valid).all()
  cv_rot, cv_t = _opencv(p)
  rot, t = np.asarray(r.R, np.float64), np.asarray(r.t, np.float64)
  assert np.abs(rot - cv_rot).max() < 1e-4 and np.abs(rot - p['R']).max() < 1e-4
  depth = np.linalg.norm(p['t'], axis=-1)
  assert (np.linalg.norm(t - cv_t, axis=-1) / depth).max() < 1e-4
  assert (np.linalg.norm(t - p['t'], axis=-1) / depth).max() < 1e-4
  assert np.allclose(np.asarray(r.cost), 0., atol=1e-3)


def test_6dof_noisy_costs_match_opencv_iterative():
  p = _problems(1, noise=2.)
  r = _solve_6dof(p)
  assert np.asarray(r.valid).all()
  cv_rot, cv_t = _opencv(p)
  cv_cost = np.array([_cost(*a) for a in zip(p['points'], p['uv'], p['weight'], cv_rot, cv_t)])
  ours = np.array([_cost(*a) for a in zip(p['points'], p['uv'], p['weight'],
                                          np.asarray(r.R, np.float64), np.asarray(r.t,
                                                                                  np.float64))])
  # Both minimise the same objective: float32 LM reaches OpenCV's float64 optimum.
  assert np.all(ours <= cv_cost * 1.001 + 1e-2)
  np.testing.assert_allclose(np.asarray(r.cost), ours, rtol=1e-3)
  assert np.degrees(np.median(_angle(np.asarray(r.R, np.float64), cv_rot))) < 0.01


def test_weights_equal_repeated_points():
  # Weight 2 on a point is the same objective as the point listed twice (cv2 has no weights).
  p = _problems(2, noise=2., max_missing=0)
  p['weight'][:, :3] = 2.
  r = _solve_6dof(p)
  rots = []
  for pts, uv in zip(p['points'], p['uv']):
    _, rvec, _ = cv2.solvePnP(np.r_[pts, pts[:3]], np.r_[uv, uv[:3]], _K, None)
    rots.append(cv2.Rodrigues(rvec)[0])
  assert np.degrees(np.median(_angle(np.asarray(r.R, np.float64), np.array(rots)))) < 0.01


def test_ground_recovers_the_true_ground_pose():
  p = _problems(3, noise=0.)
  r = _solve_ground(p)
  assert np.asarray(r.valid).all()
  np.testing.assert_allclose(np.asarray(r.x), p['x'], atol=2e-3)
  np.testing.assert_allclose(np.asarray(r.y), p['y'], atol=2e-3)
  yaw_err = np.angle(np.exp(1j * (np.asarray(r.yaw, np.float64) - p['yaw'])))
  assert np.abs(yaw_err).max() < 1e-4
  assert np.abs(np.asarray(r.R, np.float64) - p['R']).max() < 1e-4
  assert np.abs(np.asarray(r.t, np.float64) - p['t']).max() < 2e-3


def test_ground_noisy_reaches_at_most_the_cost_of_the_truth():
  # The true pose is a ground pose: the ground optimum cannot cost more; it costs at least the
  # 6-DoF optimum (three fewer degrees of freedom).
  p = _problems(4, noise=2.)
  r = _solve_ground(p)
  assert np.asarray(r.valid).all()
  truth = np.array([_cost(*a) for a in zip(p['points'], p['uv'], p['weight'], p['R'], p['t'])])
  assert np.all(np.asarray(r.cost) <= truth * 1.001)
  free = np.asarray(_solve_6dof(p).cost)
  assert np.all(np.asarray(r.cost) >= free * 0.999)


def test_batched_equals_single_calls():
  p = _problems(5, noise=2.)
  r = _solve_ground(p)
  single = jax.jit(pnp.pnp_ground)
  for b in range(2):
    one = single(*_f32(p['points'][b], p['uv'][b], p['weight'][b], _K, p['n'][b], p['d'][b]))
    for a, c in zip(one, r):
      np.testing.assert_allclose(np.asarray(a), np.asarray(c[b]), rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------------- degenerate


def _degenerate(ground: bool):
  """Problem batch whose first 7 problems are degenerate, the last one fine (a control)."""
  p = _problems(6, noise=1., batch=8, max_missing=0)
  if ground:
    p['weight'][0, 1:] = 0.  # one point left
  else:
    p['weight'][0, 3:] = 0.  # three points left
  p['weight'][1] = 0.  # no weighted point
  p['uv'][2, 5] = np.nan  # NaN in a weighted point
  p['weight'][3, 4] = np.nan  # NaN weight
  if ground:  # every point on one vertical line: the yaw is not observable
    p['points'][4, :, :2] = 0.3
  else:  # collinear points: the rotation about the line is not observable
    p['points'][4] = np.linspace(0., 1., 12)[:, None] * np.array([3., 1., 0.5])
  p['uv'][4] = _project(p['points'][4], p['R'][4], p['t'][4])
  # Points behind the camera. 6-DoF: the object straddles the camera's plane, so every pose
  # that explains the pixels puts some points behind it. Ground: the car stands behind the
  # camera, so the rays of its pixels point above the horizon and never meet the ground.
  if ground:
    r_cg = np.asarray(camera_lib.mount_rotation(0.3), np.float64)
    p['n'][5], p['d'][5] = r_cg[:, 2], 5.
    rot = r_cg @ transform.Rotation.from_euler('z', 0.4).as_matrix()
    t = r_cg @ np.array([-15., 1., 0.]) - 5. * r_cg[:, 2]
  else:
    rot, t = p['R'][5], np.array([0., 0., 0.5])
  p['uv'][5] = _project(p['points'][5], rot, t)
  # NaN in the camera (one K per problem for this batch).
  ks = np.repeat(_K[None], 8, 0)
  ks[6, 0, 0] = np.nan
  # NaN in an ignored point is fine (the control, problem 7).
  p['uv'][7, 0], p['points'][7, 0], p['weight'][7, 0] = np.nan, np.nan, 0.
  return p, ks


def _check_degenerate(loss, p, args):
  (_, result), grads = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2), has_aux=True))(*args)
  valid = np.asarray(result.valid)
  assert not valid[:7].any(), valid
  assert valid[7]
  for leaf in jax.tree.leaves(result):
    assert np.all(np.isfinite(np.asarray(leaf)))
  for g in grads:
    g = np.asarray(g)
    assert np.all(np.isfinite(g))
    assert np.all(g[:7] == 0.)
    assert np.all(g[7, 0] == 0.) and np.any(g[7] != 0.)


def test_degenerate_6dof_problems_are_invalid_finite_with_zero_gradients():
  p, ks = _degenerate(ground=False)

  def loss(points, uv, weight, k):
    r = pnp.pnp_6dof_batch(points, uv, weight, k)
    return jnp.sum(r.R) + jnp.sum(r.t) + jnp.sum(r.cost), r

  _check_degenerate(loss, p, _f32(p['points'], p['uv'], p['weight'], ks))


def test_degenerate_ground_problems_are_invalid_finite_with_zero_gradients():
  p, ks = _degenerate(ground=True)

  def loss(points, uv, weight, k, n, d):
    r = pnp.pnp_ground_batch(points, uv, weight, k, n, d)
    return jnp.sum(r.x + r.y + r.yaw + r.cost) + jnp.sum(r.t), r

  _check_degenerate(loss, p, _f32(p['points'], p['uv'], p['weight'], ks, p['n'], p['d']))


# ------------------------------------------------------------------------------- gradients


def _central_differences(f, args, step):
  """∂f/∂args[i] for every i (same shapes) by central differences with steps relative to
  |x| ∨ 1, all perturbed problems in one vmapped call (one compile, one dispatch)."""
  args = [np.asarray(a) for a in args]
  rows, steps = [[] for _ in args], []
  for i, x in enumerate(args):
    for j in range(x.size):
      h = step * max(1., abs(float(x.flat[j])))
      steps.append(h)
      for sign in (1., -1.):
        for k, a in enumerate(args):
          a = a.copy()
          if k == i:
            a.flat[j] += sign * h
          rows[k].append(a)
  values = np.asarray(jax.jit(jax.vmap(f))(*(jnp.asarray(np.stack(r)) for r in rows)))
  diffs = (values[0::2] - values[1::2]) / (2 * np.asarray(steps))
  splits = np.cumsum([x.size for x in args])[:-1]
  return [d.reshape(x.shape) for d, x in zip(np.split(diffs, splits), args)]


def _gradient_problem(seed):
  """One noisy float64 problem with weights in [0.5, 1.5] and one ignored point."""
  p = _problems(seed, noise=2., batch=1, max_missing=0)
  rng = np.random.default_rng(seed)
  w = rng.uniform(0.5, 1.5, 12)
  w[7] = 0.
  return [jnp.asarray(a) for a in (p['points'][0], p['uv'][0], w, _K)], p


_STEPS_F64 = 10  # enough for float64 convergence from EPnP / the Procrustes start


def _loss_6dof(points, uv, weight, k, implicit=True, steps=_STEPS_F64):
  r = pnp.pnp_6dof(points, uv, weight, k, steps=steps, implicit=implicit)
  c = jnp.arange(1., 10.).reshape(3, 3) / 9
  return jnp.sum(c * r.R) + jnp.sum(jnp.array([0.3, -0.2, 0.1]) * r.t) + 1e-3 * r.cost


def _loss_ground(points, uv, weight, k, n, d, implicit=True, steps=_STEPS_F64):
  r = pnp.pnp_ground(points, uv, weight, k, n, d, steps=steps, implicit=implicit)
  return (0.3 * r.x - 0.2 * r.y + 2. * r.yaw + jnp.sum(jnp.array([0.1, 0.2, -0.3]) * r.t)
          + 1e-3 * r.cost)


def _check_gradients(loss, args, unrolled_steps):
  n = len(args)
  implicit = jax.jit(jax.grad(loss, argnums=tuple(range(n))))(*args)
  unrolled = jax.jit(jax.grad(functools.partial(loss, implicit=False, steps=unrolled_steps),
                              argnums=tuple(range(n))))(*args)
  differences = _central_differences(loss, args, 1e-4)
  for i in range(n):
    g = np.asarray(implicit[i])
    assert np.all(np.isfinite(g))
    scale = np.abs(g).max()
    fd = differences[i]
    if i == 2:  # E is not differentiable in an ignored point's weight (0 is its kink)
      fd[7] = 0.
    np.testing.assert_allclose(g, fd, rtol=0, atol=1e-4 * scale)
    np.testing.assert_allclose(g, np.asarray(unrolled[i]), rtol=0, atol=1e-6 * scale)
  # The ignored point gets no gradient.
  for i in range(3):
    assert np.all(np.asarray(implicit[i])[7] == 0.)
  return implicit


def test_6dof_gradients_match_finite_differences_and_unrolled_iterations_float64():
  with jax.enable_x64(True):
    args, _ = _gradient_problem(10)
    _check_gradients(_loss_6dof, args, unrolled_steps=20)


def test_ground_gradients_match_finite_differences_and_unrolled_iterations_float64():
  with jax.enable_x64(True):
    args, p = _gradient_problem(11)
    args += [jnp.asarray(p['n'][0]), jnp.asarray(p['d'][0])]
    grads = _check_gradients(_loss_ground, args, unrolled_steps=20)
    # Shape coefficients α reach the loss through the keypoints X = X̄ + Σ α_k Q_k.
    model = car_model.load_car_model(5, dtype=jnp.float64)
    alpha = jnp.asarray([0.2, -0.1, 0.05, 0., 0.1])
    args[0] = car_model.keypoints_from_shape(model, alpha)
    by_shape = jax.jit(jax.grad(
        lambda a: _loss_ground(car_model.keypoints_from_shape(model, a), *args[1:])))(alpha)
    by_points = jax.jit(jax.grad(_loss_ground))(*args)
    np.testing.assert_allclose(by_shape, jnp.einsum('pc,kpc->k', by_points, model.components),
                               rtol=1e-10, atol=1e-12)
    assert np.abs(np.asarray(by_shape)).max() > 0 and np.abs(np.asarray(grads[0])).max() > 0


def test_backward_uses_the_true_hessian():
  # sym(∂g/∂θ) of the left-trivialised gradient equals jax.hessian of the objective in the
  # chart, and differs from Gauss–Newton's JᵀJ on a noisy problem: with JᵀJ the implicit
  # gradient would not be exact.
  with jax.enable_x64(True):
    args, _ = _gradient_problem(13)

    @jax.jit
    def hessians(points, uv, weight, k):
      r = pnp.pnp_6dof(points, uv, weight, k, steps=_STEPS_F64)
      grad_fn = lambda th: pnp._grad_6dof(th, r.R, r.t, points, uv, weight, k)
      zero = jnp.zeros(6, points.dtype)
      jac = jax.jacfwd(lambda th: grad_fn(th)[1])(zero)
      hess = jax.hessian(lambda th: grad_fn(th)[0])(zero)
      pts, uv_c, w, _, _ = pnp._clean(points, uv, weight)
      _, gauss_newton, g = pnp._linearise_6dof(r.R, r.t, pts, uv_c, w, k)
      return jac, hess, gauss_newton, g

    jac, hess, gauss_newton, g = (np.asarray(a) for a in hessians(*args))
    scale = np.abs(hess).max()
    np.testing.assert_allclose(0.5 * (jac + jac.T), hess, rtol=0, atol=1e-9 * scale)
    assert np.abs(g).max() < 1e-6 * scale  # at the optimum
    assert np.abs(hess - gauss_newton).max() > 1e-4 * scale
