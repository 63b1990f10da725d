r"""Batched EPnP: jit(vmap(fit.epnp)) µs/pose vs a loop of cv2.solvePnP(SOLVEPNP_EPNP).

  .venv/bin/python benchmarks/epnp.py [--batch 4096] [--noise 2] [--float64]

Baseline: OpenCV's EPnP called once per problem from Python, the way per-frame pose
initialisation would run without a batched solver. Problems: 12 car keypoints of sampled cars
(`shapes.vehicle`), upright on the ground seen by a camera pitched 6–30° down, yaw uniform,
10–40 m away, Gaussian pixel noise, up to 4 of 12 keypoints masked. Both solve the same
inputs (OpenCV gets the valid points only). Compile time is printed apart; the batched figure
is the best of a few timed calls after it. Also prints the median rotation difference to
OpenCV and each method's median rotation error to the truth; the difference is the choice of
principal-axis signs for the control points, not an error (`fit.epnp`'s docstring).
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import cv2
import jax
import jax.numpy as jnp
import numpy as np
from scipy.spatial import transform

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # run as a script

from walt3d_jax.fit.epnp import epnp
from walt3d_jax.geometry import camera as camera_lib
from walt3d_jax.shapes import vehicle

_IMAGE_SIZE = (1280, 720)
_HFOV = np.deg2rad(60.)
_MAX_MISSING = 4
_REPEATS = 5


def make_problems(rng: np.random.Generator, batch: int, noise: float):
  """(points (B, 12, 3) m, uv (B, 12, 2) px, valid (B, 12), K (3, 3), R (B, 3, 3), t (B, 3))."""
  k = np.asarray(camera_lib.intrinsics(_HFOV, _IMAGE_SIZE), np.float64)
  points, uvs, valids, rots, ts = [], [], [], [], []
  for _ in range(batch):
    pts = vehicle.car_keypoints(vehicle.sample_car_params(rng))
    r_cg = np.asarray(camera_lib.mount_rotation(rng.uniform(0.1, 0.5)), np.float64)
    rot = r_cg @ transform.Rotation.from_euler('z', rng.uniform(-np.pi, np.pi)).as_matrix()
    z = rng.uniform(10., 40.)
    t = np.array([rng.uniform(-0.3, 0.3) * z, rng.uniform(-0.2, 0.2) * z, z])
    cam = pts @ rot.T + t
    uv = cam @ k.T
    uv = uv[:, :2] / uv[:, 2:] + rng.normal(0., noise, (len(pts), 2))
    valid = np.ones(len(pts), bool)
    valid[rng.choice(len(pts), rng.integers(0, _MAX_MISSING + 1), replace=False)] = False
    points.append(pts)
    uvs.append(uv)
    valids.append(valid)
    rots.append(rot)
    ts.append(t)
  return (np.array(points), np.array(uvs), np.array(valids), k, np.array(rots), np.array(ts))


def rotation_angle_deg(r1: np.ndarray, r2: np.ndarray) -> np.ndarray:
  """(B,) degrees between rotations r1, r2 (B, 3, 3)."""
  cos = (np.einsum('bij,bij->b', r1, r2) - 1.) / 2.
  return np.degrees(np.arccos(np.clip(cos, -1., 1.)))


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--batch', type=int, default=4096)
  parser.add_argument('--noise', type=float, default=2., help='pixel noise sigma')
  parser.add_argument('--float64', action='store_true')
  parser.add_argument('--seed', type=int, default=0)
  args = parser.parse_args()
  jax.config.update('jax_enable_x64', args.float64)
  dtype = jnp.float64 if args.float64 else jnp.float32

  points, uv, valid, k, rot_true, _ = make_problems(
      np.random.default_rng(args.seed), args.batch, args.noise)
  inputs = (jnp.asarray(points, dtype), jnp.asarray(uv, dtype), jnp.asarray(valid),
            jnp.asarray(k, dtype))
  solve = jax.jit(jax.vmap(epnp, in_axes=(0, 0, 0, None)))

  start = time.perf_counter()
  compiled = solve.lower(*inputs).compile()
  compile_s = time.perf_counter() - start
  best = np.inf
  for _ in range(_REPEATS):
    start = time.perf_counter()
    rot, _, ok = jax.block_until_ready(compiled(*inputs))
    best = min(best, time.perf_counter() - start)
  jax_us = 1e6 * best / args.batch

  cv_rot = np.empty((args.batch, 3, 3))
  start = time.perf_counter()
  for b in range(args.batch):
    _, rvec, _ = cv2.solvePnP(points[b][valid[b]], uv[b][valid[b]], k, None,
                              flags=cv2.SOLVEPNP_EPNP)
    cv_rot[b] = cv2.Rodrigues(rvec)[0]
  cv_us = 1e6 * (time.perf_counter() - start) / args.batch

  rot = np.asarray(rot, np.float64)
  ok = np.asarray(ok)
  print(f'problems: {args.batch} x 12 keypoints, noise {args.noise} px, '
        f'{jnp.dtype(dtype).name}, device {jax.devices()[0].platform}')
  print(f'compile jit(vmap(epnp)): {compile_s:.2f} s')
  print(f'jit(vmap(epnp)):          {jax_us:8.2f} us/pose')
  print(f'cv2.solvePnP EPNP loop:   {cv_us:8.2f} us/pose')
  print(f'speed-up (cv2 / jax):     {cv_us / jax_us:8.2f}x')
  print(f'ok: {ok.mean():.4f}')
  print(f'median rotation difference to OpenCV: {np.median(rotation_angle_deg(rot, cv_rot)):.3f} deg'
        f' (p90 {np.percentile(rotation_angle_deg(rot, cv_rot), 90):.3f})')
  print(f'median rotation error to truth: jax {np.median(rotation_angle_deg(rot, rot_true)):.3f} '
        f'deg, OpenCV {np.median(rotation_angle_deg(cv_rot, rot_true)):.3f} deg')


if __name__ == '__main__':
  main()
