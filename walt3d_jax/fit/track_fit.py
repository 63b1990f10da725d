"""Vehicle track fitting: ground-constrained poses per frame + one PCA shape per track.

WALT3D section 3 ("Reconstructing Unoccluded Objects", after Li et al.): keypoints
X = Q̄ + Σ α_k Q_k, poses on the constant ground plane, the shape shared by a track's frames,
reprojection error minimised. Here: one pure function per problem (`fit_track`), solved by
Levenberg-Marquardt (`schur`'s structured solver, or jaxopt's dense one as the reference)
from several yaw starts (`init.initial_poses`); batched over tracks (`fit_track_batch`: jitted
batched starts, LM steps regrouped as tracks converge by `compaction`, results), and tracks
bucketed by padded length (`fit_tracks`) so padding wastes little and each bucket compiles
once.
"""

from __future__ import annotations

import functools
from typing import NamedTuple, Sequence
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from walt3d_jax.fit import batching
from walt3d_jax.fit import compaction
from walt3d_jax.fit import init as init_lib
from walt3d_jax.fit import quality
from walt3d_jax.fit import residuals
from walt3d_jax.fit import schur
from walt3d_jax.fit import sharding
from walt3d_jax.fit.config import FitConfig
from walt3d_jax.shapes import car_model

bucket_length = batching.bucket_length  # callers know it from here

with warnings.catch_warnings():
  # jaxopt 0.8.5 announces it is unmaintained; it works on this jax (shared SOLVERS.md).
  warnings.filterwarnings('ignore', category=DeprecationWarning)
  import jaxopt


class FitResult(NamedTuple):
  """One track's fit (leading batch axes under `fit_track_batch`). Always finite.

  x, y (T,) metres and yaw (T,) radians in (-π, π]: ground poses (padding: their starts).
  alpha (K,) metres: shape coefficients. dimensions (3,): keypoint length, width, height, m.
  uv_fit (T, 12, 2): the fit's keypoints in pixels (the 2-D keypoints when `derived`).
  cost (): final robust cost (½‖residual‖², chi-square units). rmse_px () and
  frame_rmse_px (T,): reprojection RMSE over usable keypoints. iterations (), converged ().
  hypothesis (): index of the winning start. reason () and frame_reason (T,): int32 bit
  flags of `quality` (0 = good). derived (): True when the pose came without keypoints.
  """

  x: jax.Array
  y: jax.Array
  yaw: jax.Array
  alpha: jax.Array
  dimensions: jax.Array
  uv_fit: jax.Array
  cost: jax.Array
  rmse_px: jax.Array
  frame_rmse_px: jax.Array
  iterations: jax.Array
  converged: jax.Array
  hypothesis: jax.Array
  reason: jax.Array
  frame_reason: jax.Array
  derived: jax.Array


def make_solver(config: FitConfig, maxiter: int) -> jaxopt.LevenbergMarquardt:
  """jaxopt LM on `residuals.track_residuals`; extra arguments go positionally (SOLVERS.md)."""
  return jaxopt.LevenbergMarquardt(
      residual_fun=functools.partial(residuals.track_residuals, config=config),
      maxiter=maxiter, tol=config.tol, damping_parameter=config.damping,
      solver=config.dense_linear_solver, materialize_jac=True,
      # Exact backward solve: the default CG is off by 1e-3-1e-2 (SOLVERS.md).
      implicit_diff_solve=jaxopt.linear_solve.solve_lu)


def solve_track(params0: jax.Array, anchor: jax.Array, uv: jax.Array, weight: jax.Array,
                frame_valid: jax.Array, K: jax.Array, R_cg: jax.Array, t_cg: jax.Array,
                model: car_model.CarShapeModel, config: FitConfig,
                maxiter: int) -> tuple[jax.Array, ...]:
  """One LM run of at most maxiter steps: params (3T + K,), cost (), iterations (), converged ().

  params0 (3T + K,): the start (`residuals.pack`); anchor (T, 3): the anchor residual's
  target (x, y, yaw) per frame; uv, weight: cleaned (`residuals.usable_keypoints`).
  config.solver picks the structured or the dense LM; 'dense' counts as converged when its
  final gradient norm is ≤ tol · (1 + ‖r‖) (float32 gradients bottom out near eps·|J|·|r|,
  so the test is relative), 'schur' when one of its tolerances stopped it.
  """
  args = (uv, weight, frame_valid, anchor, K, R_cg, t_cg, model)
  if config.solver == 'schur':
    params, state = schur.SchurLevenbergMarquardt(config, maxiter).run(params0, *args)
    return params, state.value, state.iter_num, state.converged
  params, state = make_solver(config, maxiter).run(params0, *args)
  converged = state.error <= config.tol * (1. + jnp.sqrt(2. * state.value))
  return params, state.value, state.iter_num, converged


def _wrap(angle: jax.Array) -> jax.Array:
  return jnp.arctan2(jnp.sin(angle), jnp.cos(angle))


class _Start(NamedTuple):
  """A track's inputs cleaned and its chosen start (`_start`): uv (T, 12, 2) and weight
  (T, 12) as `residuals.usable_keypoints` leaves them; raw_finite (T,): the raw frame had no
  NaN/inf; params0 (3T + K,) the start the fit goes on from; anchor (T, 3) its poses, the
  anchor residual's target; best () which start won."""

  uv: jax.Array
  weight: jax.Array
  raw_finite: jax.Array
  params0: jax.Array
  anchor: jax.Array
  best: jax.Array


def _probe_iters(config: FitConfig) -> int:
  return min(config.probe_iters, config.maxiter)


def _remaining_iters(config: FitConfig) -> int:
  """LM steps left for the chosen start after the probe."""
  return max(config.maxiter - _probe_iters(config), 1)


def _start(uv: jax.Array, weight: jax.Array, frame_valid: jax.Array, K: jax.Array,
           R_cg: jax.Array, t_cg: jax.Array, model: car_model.CarShapeModel,
           config: FitConfig) -> _Start:
  """Cleans the keypoints and picks the start the fit goes on from (`fit_track`'s args)."""
  dtype = K.dtype
  raw_finite = jnp.all(jnp.isfinite(uv), (-1, -2)) & jnp.all(jnp.isfinite(weight), -1)
  uv, weight = residuals.usable_keypoints(uv, weight, frame_valid)
  starts, _ = init_lib.initial_poses(uv, weight, K, R_cg, t_cg, model, config)
  beta0 = jnp.zeros(model.num_components, dtype)
  args = (uv, weight, frame_valid, K, R_cg, t_cg, model, config)
  params0 = jax.vmap(lambda a: residuals.pack(a[:, 0], a[:, 1], a[:, 2], beta0))(starts)
  # Every start gets a few probe steps (or, with probe_iters = 0, just its cost); only the
  # cheapest goes on (most of the time is the one full run, not the H probes).
  probe_iters = _probe_iters(config)
  if probe_iters:
    probe = jax.vmap(solve_track, in_axes=(0, 0) + (None,) * 9)
    params, cost, _, _ = probe(params0, starts, *args, probe_iters)
  else:
    params = params0
    cost = jax.vmap(lambda p, a: residuals.track_cost(
        p, uv, weight, frame_valid, a, K, R_cg, t_cg, model, config=config))(params0, starts)
  cost = jnp.where(jnp.isfinite(cost), cost, jnp.inf)
  best = jnp.argmin(cost)
  return _Start(uv=uv, weight=weight, raw_finite=raw_finite, params0=params[best],
                anchor=starts[best], best=best.astype(jnp.int32))


def _finish(start: _Start, p: jax.Array, final_cost: jax.Array, iters: jax.Array,
            converged: jax.Array, frame_valid: jax.Array, K: jax.Array, R_cg: jax.Array,
            t_cg: jax.Array, image_size: jax.Array, model: car_model.CarShapeModel,
            config: FitConfig) -> FitResult:
  """The FitResult of the solver's params p (3T + K,), cost, iterations and convergence."""
  dtype = K.dtype
  uv, weight, anchor = start.uv, start.weight, start.anchor
  cost = jnp.where(jnp.isfinite(final_cost), final_cost, jnp.inf)
  finite = jnp.all(jnp.isfinite(p))
  num_frames = uv.shape[0]
  beta0 = jnp.zeros(model.num_components, dtype)
  fallback = residuals.pack(anchor[:, 0], anchor[:, 1], anchor[:, 2], beta0)
  p = jnp.where(finite, p, fallback)
  x, y, yaw, beta = residuals.unpack(p, num_frames)
  yaw = _wrap(yaw)
  alpha = beta * model.stddev
  proj, depth = residuals.project_track(x, y, yaw, alpha, K, R_cg, t_cg, model,
                                        config.min_depth_m)
  frame_code, frame_rmse = quality.frame_reasons(uv, weight, start.raw_finite, frame_valid,
                                                 proj, depth, image_size, config)

  mask = weight > 0.
  count = jnp.sum(mask)
  rmse = jnp.sqrt(jnp.sum(jnp.where(mask[..., None], proj - uv, 0.) ** 2)
                  / jnp.maximum(count, 1))
  observed = frame_valid & (frame_code & (quality.FEW_KEYPOINTS | quality.DEGENERATE) == 0)
  num_observed = jnp.sum(observed)
  dims = quality.shape_dimensions(model, alpha)
  # The ground plane is usable if some keypoint ray meets it in front of the camera.
  _, hit = init_lib.keypoints_on_ground(uv, weight, K, R_cg, t_cg, model.mean[:, 2])
  plane_ok = jnp.any(hit) & (-jnp.dot(R_cg[:, 2], t_cg) > 0.)
  from_frames = jnp.bitwise_or.reduce(jnp.where(frame_valid, frame_code, 0)) & (
      quality.TRACK_FROM_FRAMES)
  reason = (jnp.where(num_observed == 0, quality.NO_OBSERVED_FRAMES, 0)
            | jnp.where((num_observed > 0) & (num_observed < config.min_frames),
                        quality.SHORT_TRACK, 0)
            | jnp.where(converged, 0, quality.NOT_CONVERGED)
            | jnp.where(rmse > config.max_rmse_px, quality.HIGH_RESIDUAL, 0)
            | jnp.where(quality.shape_plausible(dims, beta, config), 0,
                        quality.IMPLAUSIBLE_SHAPE)
            | jnp.where(finite & jnp.isfinite(cost), 0, quality.NOT_FINITE)
            | jnp.where(plane_ok, 0, quality.PLANE_INVALID)
            | from_frames).astype(jnp.int32)
  safe_cost = jnp.where(jnp.isfinite(cost), cost, jnp.finfo(dtype).max)
  return FitResult(
      x=x, y=y, yaw=yaw, alpha=alpha, dimensions=dims, uv_fit=proj, cost=safe_cost,
      rmse_px=rmse, frame_rmse_px=frame_rmse,
      iterations=iters + _probe_iters(config), converged=converged,
      hypothesis=start.best, reason=reason, frame_reason=frame_code,
      derived=jnp.zeros((), bool))


def fit_track(uv: jax.Array, weight: jax.Array, frame_valid: jax.Array, K: jax.Array,
              R_cg: jax.Array, t_cg: jax.Array, image_size: jax.Array,
              model: car_model.CarShapeModel, config: FitConfig) -> FitResult:
  """Fits one padded track: shape α shared, ground pose (x, y, yaw) per frame.

  uv (T, 12, 2) pixels; weight (T, 12) ≥ 0 visibility × detector confidence (0 = missing;
  NaN/inf anywhere are treated as missing and flagged); frame_valid (T,) bool (False =
  padding); K (3, 3); R_cg (3, 3), t_cg (3,): the ground frame of camera.json's plane
  (`geometry.plane.ground_frame`); image_size (2,) (w, h) pixels. Runs config.probe_iters
  LM steps from each of config.num_yaw_hypotheses starts and finishes the cheapest one.
  Pure, jit/vmap-able.
  """
  start = _start(uv, weight, frame_valid, K, R_cg, t_cg, model, config)
  p, cost, iters, converged = solve_track(start.params0, start.anchor, start.uv, start.weight,
                                          frame_valid, K, R_cg, t_cg, model, config,
                                          _remaining_iters(config))
  return _finish(start, p, cost, iters, converged, frame_valid, K, R_cg, t_cg, image_size,
                 model, config)


@functools.partial(jax.jit, static_argnames=('config', 'mesh'))
def _fit_track_vmap(uv, weight, frame_valid, K, R_cg, t_cg, image_size, model, config,
                    mesh=None):
  fit = jax.vmap(functools.partial(fit_track, config=config), in_axes=(0,) * 7 + (None,))
  return sharding.per_device(fit, mesh, (True,) * 7 + (False,))(
      uv, weight, frame_valid, K, R_cg, t_cg, image_size, model)


@functools.partial(jax.jit, static_argnames=('solver', 'chunk', 'mesh'))
def _start_batch(uv, weight, frame_valid, K, R_cg, t_cg, model, solver, chunk, mesh=None):
  def rows(uv, weight, frame_valid, K, R_cg, t_cg, model):
    def one(row):
      uv, weight, frame_valid, K, R_cg, t_cg = row
      start = _start(uv, weight, frame_valid, K, R_cg, t_cg, model, solver.config)
      args = (start.uv, start.weight, frame_valid, start.anchor, K, R_cg, t_cg)
      return start, args, solver.init(start.params0, *args, model)
    return batching.map_rows(one, (uv, weight, frame_valid, K, R_cg, t_cg), chunk)
  return sharding.per_device(rows, mesh, (True,) * 6 + (False,))(
      uv, weight, frame_valid, K, R_cg, t_cg, model)


@functools.partial(jax.jit, static_argnames=('solver', 'chunk', 'mesh'))
def _step_batch(carry, args, model, solver, chunk, mesh=None):
  def rows(carry, args, model):
    return batching.map_rows(lambda row: solver.advance(row[0], *row[1], model, max_steps=1),
                             (carry, args), chunk)
  return sharding.per_device(rows, mesh, (True, True, False))(carry, args, model)


@functools.partial(jax.jit, static_argnames=('solver', 'mesh'))
def _active_batch(carry, solver, mesh=None):
  return sharding.per_device(jax.vmap(solver.active), mesh, (True,))(carry)


@functools.partial(jax.jit, static_argnames=('solver', 'chunk', 'mesh'))
def _finish_batch(start, carry, frame_valid, K, R_cg, t_cg, image_size, model, solver, chunk,
                  mesh=None):
  def rows(start, carry, frame_valid, K, R_cg, t_cg, image_size, model):
    def one(row):
      start, carry, frame_valid, K, R_cg, t_cg, image_size = row
      p, state = solver.result(carry)
      return _finish(start, p, state.value, state.iter_num, state.converged, frame_valid, K,
                     R_cg, t_cg, image_size, model, solver.config)
    return batching.map_rows(one, (start, carry, frame_valid, K, R_cg, t_cg, image_size),
                             chunk)
  return sharding.per_device(rows, mesh, (True,) * 7 + (False,))(
      start, carry, frame_valid, K, R_cg, t_cg, image_size, model)


def fit_track_batch(uv: jax.Array, weight: jax.Array, frame_valid: jax.Array, K: jax.Array,
                    R_cg: jax.Array, t_cg: jax.Array, image_size: jax.Array,
                    model: car_model.CarShapeModel, config: FitConfig, *,
                    min_batch: int = 64, chunk: int | None = None,
                    mesh: jax.sharding.Mesh | None = None) -> FitResult:
  """`fit_track` over a batch of B tracks padded to one length T.

  uv (B, T, 12, 2); weight (B, T, 12); frame_valid (B, T); K (B, 3, 3); R_cg (B, 3, 3);
  t_cg (B, 3); image_size (B, 2): every track may have its own camera. With the structured
  solver the starts, the LM steps and the results are each one jitted batched function, and
  the LM steps go through `compaction.solve_compacted`, so tracks that have converged stop
  costing time (the same numbers as jit(vmap(fit_track)) up to float rounding); each batched
  function maps over tracks with `batching.map_rows` in chunks of `chunk` tracks (None:
  `batching.default_chunk()`, 256 on CPU, one vmap elsewhere; 0: one vmap). The dense
  reference solver runs as one jit(vmap(fit_track)). A host-level function: call it outside
  jit (the regrouping reads back which tracks are still active); `fit_track` is the pure,
  jit- and vmap-able problem. Compiles once per (B, T, K, config),
  and the LM step once per smaller power-of-two batch (≥ min_batch) it regroups into: the
  default 64 spares small jobs compiles that would cost more than the steps they save (the
  fit job on the default bank: 40 s at 64, 47 s at 8).

  mesh: a 'data' mesh (`sharding.data_mesh`) of n > 1 devices splits the batch over them
  (B a multiple of n; regrouped batches stay multiples of n): the inputs are placed with
  `NamedSharding(mesh, P('data'))`, the model replicated, and each device runs the
  single-device map over its own B / n tracks (`sharding.per_device`). Results come back
  split the same way (`sharding.to_host` gathers them). None or one device: unsharded.
  """
  if sharding.sharded(mesh):
    uv, weight, frame_valid, K, R_cg, t_cg, image_size = sharding.put_rows(
        (uv, weight, frame_valid, K, R_cg, t_cg, image_size), mesh)
    model = sharding.put_replicated(model, mesh)
  else:
    mesh = None
  if config.solver != 'schur':
    return _fit_track_vmap(uv, weight, frame_valid, K, R_cg, t_cg, image_size, model, config,
                           mesh)
  chunk = batching.default_chunk() if chunk is None else chunk
  solver = schur.SchurLevenbergMarquardt(config, _remaining_iters(config))
  start, args, carry = _start_batch(uv, weight, frame_valid, K, R_cg, t_cg, model, solver,
                                    chunk, mesh)
  carry = compaction.solve_compacted(
      functools.partial(_step_batch, model=model, solver=solver, chunk=chunk, mesh=mesh),
      lambda carry: sharding.to_host(_active_batch(carry, solver, mesh)), carry, args,
      min_batch=min_batch, multiple=sharding.device_count(mesh))
  return _finish_batch(start, carry, frame_valid, K, R_cg, t_cg, image_size, model, solver,
                       chunk, mesh)


def fit_tracks(uv: Sequence[np.ndarray], weight: Sequence[np.ndarray], K: np.ndarray,
               R_cg: np.ndarray, t_cg: np.ndarray, image_size: np.ndarray,
               model: car_model.CarShapeModel, config: FitConfig,
               batch_size: int = 1024) -> list[FitResult]:
  """Fits tracks of any lengths, bucketed by padded length (powers of two).

  uv: N arrays (T_i, 12, 2) pixels; weight: N arrays (T_i, 12); K (N, 3, 3), R_cg (N, 3, 3),
  t_cg (N, 3), image_size (N, 2) per track. Within a bucket, tracks go in batches of at most
  batch_size, the last padded up to a power of two so batch shapes repeat (fewer compiles).
  Returns N FitResults (numpy arrays), unpadded to each track's length, in input order.
  """
  dtype = model.mean.dtype
  lengths = [len(u) for u in uv]
  results: list[FitResult | None] = [None] * len(uv)
  for length, size, idx in batching.length_batches(lengths, batch_size):
    u = batching.pad_tracks(uv, idx, size, length)
    w = batching.pad_tracks(weight, idx, size, length)
    valid = batching.frame_mask(lengths, idx, size, length)
    take = batching.padded_rows(idx, size)
    out = fit_track_batch(
        jnp.asarray(u, dtype), jnp.asarray(w, dtype), jnp.asarray(valid),
        jnp.asarray(np.asarray(K)[take], dtype), jnp.asarray(np.asarray(R_cg)[take], dtype),
        jnp.asarray(np.asarray(t_cg)[take], dtype),
        jnp.asarray(np.asarray(image_size)[take], dtype), model, config)
    out = jax.tree.map(np.asarray, out)
    for row, i in enumerate(idx):
      n = lengths[i]
      results[i] = FitResult(*(
          v[row, :n] if v.ndim >= 2 and v.shape[1] == length and name in _PER_FRAME
          else v[row] for name, v in zip(FitResult._fields, out)))
  return results


_PER_FRAME = frozenset({'x', 'y', 'yaw', 'uv_fit', 'frame_rmse_px', 'frame_reason'})
