"""The picture of a self-calibration: horizon, a metric ground grid and 1.7 m people on a frame,
and the background's line segments that gave the orientation (when they did), coloured by the
vanishing point they meet at.

If the calibration is right, the grid's squares look square and equal on the road, the horizon
runs through the far end of the street, and the people drawn are as tall as the real ones
standing at the same place.
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from walt3d_jax.geometry import calibrate as calibrate_lib
from walt3d_jax.viz import overlays

GRID_M = 5.0  # side of a ground-grid square, metres
PERSON_M = 1.70  # stature of the drawn people, metres
_HORIZON = (255, 200, 0)  # RGB: images are RGB uint8 in memory
_GRID = (80, 255, 80)
_PERSON = (255, 60, 60)
# Segments on the vertical vanishing point, then on the horizontal families' (cycled); outliers
# grey.
_VERTICAL = (255, 0, 255)
_FAMILIES = ((0, 200, 255), (255, 140, 0), (0, 120, 255), (200, 255, 0))
_OUTLIER = (140, 140, 140)


def _ground_to_pixels(result: calibrate_lib.CalibrationResult,
                      points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Pixels (N, 2) of ground-frame points (N, 3) and whether each is in front (N,)."""
  R = calibrate_lib.rotation(result.pitch_rad, result.roll_rad)
  K = calibrate_lib.intrinsics(result.focal_px, result.camera.image_size)
  cam = (points - np.array([0., 0., result.height_m])) @ R.T
  front = cam[:, 2] > 0.5
  p = cam @ K.T
  return p[:, :2] / np.where(front, p[:, 2], 1.)[:, None], front


def draw_calibration(image: np.ndarray, result: calibrate_lib.CalibrationResult,
                     grid_m: float = GRID_M, people: int = 5,
                     segments: np.ndarray | None = None, family: np.ndarray | None = None
                     ) -> np.ndarray:
  """A copy of `image` (H, W, 3) uint8 RGB with the horizon, a ground grid of `grid_m` squares
  (up to 60 m ahead, ± 30 m aside) and `people` vertical 1.7 m segments with head dots on a
  row of ground points at several depths; the estimates and standard errors as text. Given
  segments (N, 4) [x0, y0, x1, y1] and their family (N,) (`vanishing.SceneLines`), those first."""
  out = np.ascontiguousarray(image.copy())
  if segments is not None:
    for seg, k in zip(np.asarray(segments), np.asarray(family)):
      colour = _OUTLIER if k < 0 else _VERTICAL if k == 0 else _FAMILIES[(k - 1) % len(_FAMILIES)]
      cv2.line(out, (int(round(seg[0])), int(round(seg[1]))),
               (int(round(seg[2])), int(round(seg[3]))), colour, 1, cv2.LINE_AA)
  w, h = result.camera.image_size
  # Horizon.
  cols = np.array([0., w - 1.])
  rows = [calibrate_lib.horizon_row(result.focal_px, result.pitch_rad, result.roll_rad,
                                    (w, h), u) for u in cols]
  cv2.line(out, (0, int(round(rows[0]))), (w - 1, int(round(rows[1]))), _HORIZON, 2,
           cv2.LINE_AA)
  # Ground grid: lines of constant x and of constant y, sampled densely, clipped in front.
  xs = np.arange(grid_m, 60. + 1e-6, grid_m)
  ys = np.arange(-30., 30. + 1e-6, grid_m)
  t = np.linspace(0., 1., 60)
  lines = [np.stack([np.full_like(t, x), ys[0] + t * (ys[-1] - ys[0]), 0 * t], 1) for x in xs]
  lines += [np.stack([xs[0] + t * (xs[-1] - xs[0]), np.full_like(t, y), 0 * t], 1) for y in ys]
  for pts in lines:
    uv, front = _ground_to_pixels(result, pts)
    for a, b, fa, fb in zip(uv[:-1], uv[1:], front[:-1], front[1:]):
      if fa and fb and np.all(np.abs(np.concatenate([a, b])) < 4 * max(w, h)):
        cv2.line(out, tuple(int(round(v)) for v in a), tuple(int(round(v)) for v in b), _GRID,
                 1, cv2.LINE_AA)
  # People: ground points along the centre of the view whose feet fall inside the image.
  placed = 0
  for x in np.geomspace(3., 80., 40):
    for y in (-4., 0., 4.):
      if placed >= people:
        break
      uv, front = _ground_to_pixels(result, np.array([[x, y, 0.], [x, y, PERSON_M]]))
      if not front.all() or not (0 <= uv[0, 0] < w and 0 <= uv[0, 1] < h and uv[1, 1] >= 0):
        continue
      if placed and abs(uv[0, 1] - last_row) < 0.12 * h:
        continue
      foot, head = (tuple(int(round(v)) for v in p) for p in uv)
      cv2.line(out, foot, head, _PERSON, 2, cv2.LINE_AA)
      cv2.circle(out, head, max(2, int(0.08 * abs(foot[1] - head[1]))), _PERSON, -1,
                 cv2.LINE_AA)
      last_row = uv[0, 1]
      placed += 1
  s = result.std
  text = [f'f {result.focal_px:.0f}+-{s["focal_px"]:.0f} px  height {result.height_m:.2f}'
          f'+-{s["height_m"]:.2f} m',
          f'pitch {np.degrees(result.pitch_rad):.1f}+-{np.degrees(s["pitch_rad"]):.1f}  roll '
          f'{np.degrees(result.roll_rad):.1f}+-{np.degrees(s["roll_rad"]):.1f} deg  ({result.source},'
          f' {result.num_tracks} tracks)',
          f'grid {grid_m:g} m, people {PERSON_M} m' + ('  FLAGGED' if result.flags else '')]
  scale = max(0.35, h / 900.)
  for i, line in enumerate(text):
    out = overlays.label(out, line, (4, int((i + 1) * 22 * scale / 0.45)), scale)
  return out


def write_calibration_report(image: np.ndarray, result: calibrate_lib.CalibrationResult,
                             path: str | os.PathLike, **kwargs) -> np.ndarray:
  """Draws `draw_calibration` on `image` (RGB uint8) and writes it as a PNG at `path`."""
  out = draw_calibration(image, result, **kwargs)
  if not cv2.imwrite(os.fspath(path), cv2.cvtColor(out, cv2.COLOR_RGB2BGR)):
    raise OSError(f'{os.fspath(path)}: cannot write the calibration report')
  return out
