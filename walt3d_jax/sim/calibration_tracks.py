"""Car tracks of a preset's traffic as a detector and tracker would report them, for testing
self-calibration (`geometry.calibrate`) without rendering; and a preset's empty street as a
background model would hold it (`empty_street`, for `geometry.vanishing`).

The traffic is the simulator's own (`traffic.simulate_burst`: cars follow the preset's lanes,
turn, queue and yield), the cars the simulator's meshes (`shapes.vehicle`); a box is the tight
integer box of the projected mesh (amodal), grown or shrunk by up to `box_jitter_px` on every edge
(a detector's mask jitter). A fraction of the observations loses 20–60 % of its height from the
bottom (a nearer object in front). Boxes touching the image border are dropped (truncated).
"""

from __future__ import annotations

import math

import numpy as np

from walt3d_jax.geometry import calibrate as calibrate_lib
from walt3d_jax.geometry import camera as camera_lib
from walt3d_jax.shapes import vehicle
from walt3d_jax.sim import lighting
from walt3d_jax.sim import presets
from walt3d_jax.sim import render
from walt3d_jax.sim import traffic


def empty_street(preset: str, seed: int, image_size: tuple[int, int] = (640, 360),
                 hour_of_day: float = 12.0) -> np.ndarray:
  """(H, W, 3) uint8 RGB: `preset`'s layout of `seed`, no traffic, seen by its rig at image_size
  under the light of hour_of_day, with the sensor's noise (one frame of an empty street)."""
  layout = presets.PRESETS[preset](seed)
  rig = layout.rig
  camera = camera_lib.mounted_camera(rig.height, rig.pitch, rig.hfov, image_size, rig.roll)
  background = render.render_background(layout, camera, seed)
  return render.render_frame(background, [], camera, lighting.lighting_at(hour_of_day),
                             np.random.default_rng([seed, 11])).image


def car_tracks(preset: str, seed: int, image_size: tuple[int, int] = (640, 360),
               num_bursts: int = 6, frames_per_burst: int = 10, fps: float = 10.,
               num_cars: int = 12, box_jitter_px: int = 1, occluded_fraction: float = 0.1,
               min_height_px: float = 8.) -> calibrate_lib.Observations:
  """Observations (category car, track ids unique over bursts) of `preset`'s rig at image_size.

  seed: the layout's seed and the traffic / noise stream. Frames are numbered over bursts;
  time is frame / fps within a burst, bursts an hour apart.
  """
  layout = presets.PRESETS[preset](seed)
  rig = layout.rig
  w, h = image_size
  f = 0.5 * w / math.tan(0.5 * rig.hfov)
  K = calibrate_lib.intrinsics(f, image_size)
  R = calibrate_lib.rotation(rig.pitch, rig.roll)
  t_cg = -rig.height * R[:, 2]
  rng = np.random.default_rng([seed, 7])
  meshes: dict[int, np.ndarray] = {}
  rows = dict(track=[], frame=[], time=[], box=[])
  next_id, frame = 1, 0
  for burst in range(num_bursts):
    states = traffic.simulate_burst(layout, rng, frames_per_burst, 1. / fps, num_cars, 0, next_id)
    for k, agents in enumerate(states):
      for s in agents:
        next_id = max(next_id, s.track_id + 1)
        if s.kind != "car":
          continue
        if s.track_id not in meshes:
          meshes[s.track_id] = vehicle.car_mesh(s.params).vertices
        box = _box(meshes[s.track_id], s.position, s.yaw, R, t_cg, K)
        if box is None:
          continue
        x0, y0, x1, y1 = box
        j = int(rng.integers(-box_jitter_px, box_jitter_px + 1)) if box_jitter_px else 0
        x0, y0, x1, y1 = x0 - j, y0 - j, x1 + j, y1 + j
        if x0 < 1 or y0 < 1 or x1 > w - 2 or y1 > h - 2 or y1 - y0 + 1 < min_height_px:
          continue
        if rng.uniform() < occluded_fraction:
          y1 = int(round(y1 - rng.uniform(0.2, 0.6) * (y1 - y0 + 1)))
        rows["track"].append(s.track_id)
        rows["frame"].append(frame + k)
        rows["time"].append(burst * 3600. + k / fps)
        rows["box"].append([x0, y0, x1 - x0 + 1, y1 - y0 + 1])
    frame += frames_per_burst
  n = len(rows["track"])
  return calibrate_lib.Observations(
      np.asarray(rows["track"], np.int64), np.asarray(rows["frame"], np.int64),
      np.asarray(rows["time"], np.float64), np.full(n, calibrate_lib.CAR, np.int64),
      np.asarray(rows["box"], np.float64).reshape(n, 4), None, (int(w), int(h)))


def _box(vertices: np.ndarray, position: np.ndarray, yaw: float, R: np.ndarray, t_cg: np.ndarray,
         K: np.ndarray) -> tuple[int, int, int, int] | None:
  """Tight integer box (x0, y0, x1, y1) of the mesh (V, 3) object frame at a ground pose; None
  when a vertex is behind or too close to the camera."""
  c, s = math.cos(yaw), math.sin(yaw)
  ground = vertices @ np.array([[c, -s, 0.], [s, c, 0.], [0., 0., 1.]]).T
  ground[:, :2] += np.asarray(position, np.float64)[:2]
  cam = ground @ R.T + t_cg
  if np.any(cam[:, 2] < 0.5):
    return None
  p = cam @ K.T
  p = p[:, :2] / p[:, 2:]
  return (math.ceil(p[:, 0].min()), math.ceil(p[:, 1].min()), math.floor(p[:, 0].max()),
          math.floor(p[:, 1].max()))
