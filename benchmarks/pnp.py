r"""Differentiable PnP layer (models.pnp): µs/pose forward and forward+backward vs cv2.solvePnP.

  taskset -c 1 .venv/bin/python benchmarks/pnp.py [--batch 1024] [--noise 2]

Baseline: OpenCV's solvePnP called once per problem from Python (SOLVEPNP_EPNP and
SOLVEPNP_ITERATIVE), the forward a training step would otherwise run per object, with no
gradient at all. Problems: 12 car keypoints of sampled cars (`shapes.vehicle`) upright on the
ground of a camera 3–10 m high pitched 6–29° down, 10–40 m ahead, any yaw, Gaussian pixel
noise, 0–4 of 12 keypoints with weight 0; float32. Both sides solve the same inputs (OpenCV
gets the weighted points only). Each layer is the whole thing: initialisation (EPnP for
6-DoF, Procrustes yaw starts for the ground layer), LM, and for forward+backward the
implicit-function backward of a loss on every output. Compile time is printed apart; the
batched figures are the best of a few timed calls after it. Pin it to one core: the claim is
per core.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

import cv2
import jax
import jax.numpy as jnp
import numpy as np
from scipy.spatial import transform

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # run as a script

from walt3d_jax.geometry import camera as camera_lib
from walt3d_jax.models import pnp
from walt3d_jax.shapes import vehicle

_IMAGE_SIZE = (1280, 720)
_HFOV = np.deg2rad(60.)
_MAX_MISSING = 4
_REPEATS = 7


def make_problems(rng: np.random.Generator, batch: int, noise: float) -> dict[str, np.ndarray]:
  """points (B, 12, 3), uv (B, 12, 2), weight (B, 12), K (3, 3), n (B, 3), d (B,), R, t."""
  k = np.asarray(camera_lib.intrinsics(_HFOV, _IMAGE_SIZE), np.float64)
  out = {key: [] for key in ('points', 'uv', 'weight', 'n', 'd', 'R', 't')}
  for _ in range(batch):
    pts = np.asarray(vehicle.car_keypoints(vehicle.sample_car_params(rng)), np.float64)
    height = rng.uniform(3., 10.)
    r_cg = np.asarray(camera_lib.mount_rotation(rng.uniform(0.1, 0.5)), np.float64)
    x = rng.uniform(10., 40.)
    rot = r_cg @ transform.Rotation.from_euler('z', rng.uniform(-np.pi, np.pi)).as_matrix()
    t = r_cg @ np.array([x, rng.uniform(-0.25, 0.25) * x, 0.]) - height * r_cg[:, 2]
    p = (pts @ rot.T + t) @ k.T
    uv = p[:, :2] / p[:, 2:] + rng.normal(0., noise, (len(pts), 2))
    w = np.ones(len(pts))
    w[rng.choice(len(pts), rng.integers(0, _MAX_MISSING + 1), replace=False)] = 0.
    for key, v in zip(out, (pts, uv, w, r_cg[:, 2], height, rot, t)):
      out[key].append(v)
  problems = {key: np.array(v) for key, v in out.items()}
  problems['K'] = k
  return problems


def _time_compiled(fn, args) -> tuple[float, float, object]:
  """(compile s, best call s, last output) of jit(fn) on args."""
  start = time.perf_counter()
  compiled = jax.jit(fn).lower(*args).compile()
  compile_s = time.perf_counter() - start
  best, out = np.inf, None
  for _ in range(_REPEATS):
    start = time.perf_counter()
    out = jax.block_until_ready(compiled(*args))
    best = min(best, time.perf_counter() - start)
  return compile_s, best, out


def _opencv_loop(problems, flags) -> float:
  """Best of 3 seconds for the loop of cv2.solvePnP over all problems."""
  pts, uv, w, k = problems['points'], problems['uv'], problems['weight'], problems['K']
  used = [wb > 0 for wb in w]
  best = np.inf
  for _ in range(3):
    start = time.perf_counter()
    for b in range(len(pts)):
      cv2.solvePnP(pts[b][used[b]], uv[b][used[b]], k, None, flags=flags)
    best = min(best, time.perf_counter() - start)
  return best


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--batch', type=int, default=1024)
  parser.add_argument('--noise', type=float, default=2., help='pixel noise sigma')
  parser.add_argument('--seed', type=int, default=0)
  args = parser.parse_args()
  problems = make_problems(np.random.default_rng(args.seed), args.batch, args.noise)
  f32 = lambda key: jnp.asarray(problems[key], jnp.float32)
  points, uv, weight, k, n, d = (f32(key) for key in ('points', 'uv', 'weight', 'K', 'n', 'd'))
  batch = args.batch

  def ground_fwd(points, uv, weight):
    return pnp.pnp_ground_batch(points, uv, weight, k, n, d)

  def ground_loss(points, uv, weight):
    r = ground_fwd(points, uv, weight)
    return jnp.sum(r.x + r.y + r.yaw + r.cost) + jnp.sum(r.R) + jnp.sum(r.t)

  def free_fwd(points, uv, weight):
    return pnp.pnp_6dof_batch(points, uv, weight, k)

  def free_loss(points, uv, weight):
    r = free_fwd(points, uv, weight)
    return jnp.sum(r.cost) + jnp.sum(r.R) + jnp.sum(r.t)

  layers = (('ground-constrained forward', ground_fwd),
            ('ground-constrained forward+backward', jax.grad(ground_loss, argnums=(0, 1, 2))),
            ('6-DoF forward', free_fwd),
            ('6-DoF forward+backward', jax.grad(free_loss, argnums=(0, 1, 2))))
  inputs = (points, uv, weight)
  timings, outputs = {}, {}
  for name, fn in layers:
    compile_s, best, out = _time_compiled(fn, inputs)
    timings[name], outputs[name] = 1e6 * best / batch, out
    print(f'  (compile {name}: {compile_s:.1f} s)', flush=True)

  cv_epnp = 1e6 * _opencv_loop(problems, cv2.SOLVEPNP_EPNP) / batch
  cv_iter = 1e6 * _opencv_loop(problems, cv2.SOLVEPNP_ITERATIVE) / batch

  load = os.getloadavg()
  print(f'problems: {batch} x 12 keypoints, noise {args.noise} px, float32, device '
        f'{jax.devices()[0].platform}, CPU affinity {sorted(os.sched_getaffinity(0))}, '
        f'load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}')
  print(f'cv2.solvePnP EPNP loop: {cv_epnp:.2f} µs/pose')
  print(f'cv2.solvePnP ITERATIVE loop: {cv_iter:.2f} µs/pose')
  for name, _ in layers:
    print(f'{name}: {timings[name]:.2f} µs/pose')
    print(f'  ratio to cv2 EPNP: {timings[name] / cv_epnp:.3f}, to cv2 ITERATIVE: '
          f'{timings[name] / cv_iter:.3f} (< 1: faster than OpenCV)')
  ground = outputs['ground-constrained forward']
  free = outputs['6-DoF forward']
  print(f'valid: ground-constrained {np.mean(ground.valid):.4f}, 6-DoF {np.mean(free.valid):.4f}')
  grads = [np.asarray(g) for g in outputs['6-DoF forward+backward']
           + outputs['ground-constrained forward+backward']]
  print(f'gradients finite: {all(np.all(np.isfinite(g)) for g in grads)}')


if __name__ == '__main__':
  main()
