"""Synthetic vehicle tracks with exact truth, for the fit's tests and benchmark.

Each track: a car from the parametric family (`shapes.vehicle`), its own traffic camera
(`geometry.camera.mounted_camera`: 6-12 m high, pitched 20-40° down, 640×360 or 1280×720,
50-70° horizontal field of view), a smooth constant-speed path of gentle curvature on the
ground, 10-40 m from the camera's foot, fully in view; the 12 keypoints projected, Gaussian
pixel noise added and a fraction dropped at random (weight 0). numpy only: it runs outside jit.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from walt3d_jax.geometry import camera as camera_lib
from walt3d_jax.geometry import plane
from walt3d_jax.shapes import car_model
from walt3d_jax.shapes import vehicle

IMAGE_SIZES = ((640, 360), (1280, 720))
HEIGHT_M = (6., 12.)
PITCH_RAD = (np.deg2rad(20.), np.deg2rad(40.))
HFOV_RAD = (np.deg2rad(50.), np.deg2rad(70.))
DISTANCE_M = (10., 40.)
SPEED_MPS = (5., 14.)  # REFERENCE.md urban speeds
CURVATURE_PER_M = 0.02  # |κ| at most: a 50 m turning radius
_MAX_TRIES = 2000


class SyntheticTracks(NamedTuple):
  """N tracks of T frames; pixels, metres, radians; float64 numpy arrays.

  uv (N, T, 12, 2) noisy pixels (0 where dropped); weight (N, T, 12) 1 kept / 0 dropped;
  frame_valid (N, T) bool; K (N, 3, 3); R_cg (N, 3, 3), t_cg (N, 3) ground frames;
  image_size (N, 2) (w, h); x, y, yaw (N, T) true ground poses; alpha (N, K) the PCA
  coefficients closest to each car; keypoints_3d (N, 12, 3) the car's exact object-frame
  keypoints; uv_clean (N, T, 12, 2) the noise-free pixels.
  """

  uv: np.ndarray
  weight: np.ndarray
  frame_valid: np.ndarray
  K: np.ndarray
  R_cg: np.ndarray
  t_cg: np.ndarray
  image_size: np.ndarray
  x: np.ndarray
  y: np.ndarray
  yaw: np.ndarray
  alpha: np.ndarray
  keypoints_3d: np.ndarray
  uv_clean: np.ndarray


def _rot_z(yaw: np.ndarray) -> np.ndarray:
  c, s = np.cos(yaw), np.sin(yaw)
  z, o = np.zeros_like(yaw), np.ones_like(yaw)
  return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)],
                  -2)


def project_ground_poses(keypoints: np.ndarray, x: np.ndarray, y: np.ndarray, yaw: np.ndarray,
                         K: np.ndarray, R_cg: np.ndarray,
                         t_cg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Pixels (T, 12, 2) and depths (T, 12) of object keypoints (12, 3) at poses x, y, yaw (T,)."""
  ground = np.einsum('tij,pj->tpi', _rot_z(yaw), keypoints)
  ground[..., 0] += x[:, None]
  ground[..., 1] += y[:, None]
  cam = ground @ R_cg.T + t_cg
  pix = cam @ K.T
  return pix[..., :2] / pix[..., 2:], cam[..., 2]


def _camera(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple]:
  size = IMAGE_SIZES[int(rng.integers(len(IMAGE_SIZES)))]
  cam = camera_lib.mounted_camera(rng.uniform(*HEIGHT_M), rng.uniform(*PITCH_RAD),
                                  rng.uniform(*HFOV_RAD), size)
  r_cg, t_cg = plane.ground_frame(cam.normal, cam.offset)
  return (np.asarray(cam.K, np.float64), np.asarray(r_cg, np.float64),
          np.asarray(t_cg, np.float64), size)


def _path(rng: np.random.Generator, num_frames: int, frame_interval_s: float):
  """A constant-speed, constant-curvature path: x, y, yaw (T,) in the ground frame."""
  dist = rng.uniform(*DISTANCE_M)
  bearing = rng.uniform(-0.6, 0.6)
  heading = rng.uniform(-np.pi, np.pi)
  speed = rng.uniform(*SPEED_MPS) * frame_interval_s
  kappa = rng.uniform(-CURVATURE_PER_M, CURVATURE_PER_M)
  s = speed * (np.arange(num_frames) - 0.5 * (num_frames - 1))  # arc length, centred
  yaw = heading + kappa * s
  # Exact integral of the unit tangent along the arc.
  if abs(kappa) > 1e-9:
    dx = (np.sin(yaw) - np.sin(heading)) / kappa
    dy = -(np.cos(yaw) - np.cos(heading)) / kappa
  else:
    dx, dy = s * np.cos(heading), s * np.sin(heading)
  return dist * np.cos(bearing) + dx, dist * np.sin(bearing) + dy, yaw


def synthetic_tracks(rng: np.random.Generator, num_tracks: int, num_frames: int,
                     model: car_model.CarShapeModel, noise_px: float = 2.,
                     drop_fraction: float = 0.2,
                     frame_interval_s: float = 1. / 30.) -> SyntheticTracks:
  """num_tracks tracks of num_frames frames (module docstring); deterministic given rng.

  noise_px: stddev of the Gaussian pixel noise per coordinate; drop_fraction: probability
  that a keypoint is missing (weight 0, uv 0); frame_interval_s: time between frames.
  """
  out = {f: [] for f in SyntheticTracks._fields}
  mean = np.asarray(model.mean, np.float64)
  basis = np.asarray(model.components, np.float64).reshape(model.num_components, -1)
  for _ in range(num_tracks):
    kp = vehicle.car_keypoints(vehicle.sample_car_params(rng))
    for _ in range(_MAX_TRIES):
      K, r_cg, t_cg, size = _camera(rng)
      x, y, yaw = _path(rng, num_frames, frame_interval_s)
      uv, depth = project_ground_poses(kp, x, y, yaw, K, r_cg, t_cg)
      dist = np.hypot(x, y)
      inside = ((uv >= 0.).all() and (uv[..., 0] <= size[0] - 1).all()
                and (uv[..., 1] <= size[1] - 1).all())
      if (depth > 0.).all() and inside and (dist >= DISTANCE_M[0]).all() and (
          dist <= DISTANCE_M[1]).all():
        break
    else:
      raise RuntimeError(f'no in-view path found in {_MAX_TRIES} tries')
    keep = rng.uniform(size=uv.shape[:2]) >= drop_fraction
    noisy = uv + rng.normal(0., noise_px, uv.shape)
    for field, value in (('uv', np.where(keep[..., None], noisy, 0.)),
                         ('weight', keep.astype(np.float64)),
                         ('frame_valid', np.ones(num_frames, bool)), ('K', K), ('R_cg', r_cg),
                         ('t_cg', t_cg), ('image_size', np.asarray(size, np.float64)),
                         ('x', x), ('y', y), ('yaw', yaw),
                         ('alpha', basis @ (kp - mean).reshape(-1)), ('keypoints_3d', kp),
                         ('uv_clean', uv)):
      out[field].append(value)
  return SyntheticTracks(**{f: np.stack(v) for f, v in out.items()})
