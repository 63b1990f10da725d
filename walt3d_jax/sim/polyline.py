"""Paths on the ground: resampling by arc length and distances to polylines (numpy)."""

from __future__ import annotations

import math

import numpy as np


def resample(polyline: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
  """The polyline (N, 2) resampled every ~`step` metres, ends kept.

  Returns points (M, 2) and their arc length s (M,) metres from the start.
  """
  polyline = np.asarray(polyline, np.float64)
  s0 = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(polyline, axis=0), axis=1))])
  s = np.linspace(0.0, s0[-1], max(2, int(math.ceil(s0[-1] / step)) + 1))
  return np.stack([np.interp(s, s0, polyline[:, 0]), np.interp(s, s0, polyline[:, 1])], axis=1), s


def distance_to_polyline(polyline: np.ndarray, points: np.ndarray) -> np.ndarray:
  """(N,) metres from points (N, 2) to the polyline (M, 2).

  Loops over segments rather than broadcasting points × segments, so a whole image's worth
  of ground points stays within O(N) memory.
  """
  polyline = np.asarray(polyline, np.float64)
  points = np.asarray(points, np.float64).reshape(-1, 2)
  best = np.full(len(points), np.inf)
  for a, b in zip(polyline[:-1], polyline[1:]):
    ab = b - a
    t = np.clip(((points - a) @ ab) / max(float(ab @ ab), 1e-12), 0.0, 1.0)
    best = np.minimum(best, np.linalg.norm(points - a - t[:, None] * ab, axis=1))
  return best
