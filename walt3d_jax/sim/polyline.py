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


def distance_to_polyline(polyline: np.ndarray, points: np.ndarray, chunk: int = 4096) -> np.ndarray:
  """(N,) metres from points (N, 2) to the polyline (M, 2).

  Vectorised over points × segments, `chunk` points at a time so that a whole image's worth
  of ground points stays within O(chunk · M) memory.
  """
  polyline = np.asarray(polyline, np.float64)
  points = np.asarray(points, np.float64).reshape(-1, 2)
  a, ab = polyline[:-1], np.diff(polyline, axis=0)
  inv_len2 = 1.0 / np.maximum(np.einsum("mk,mk->m", ab, ab), 1e-12)
  out = np.empty(len(points))
  for start in range(0, len(points), chunk):
    rel = points[start:start + chunk, None, :] - a[None]  # (C, M, 2)
    t = np.clip(np.einsum("cmk,mk->cm", rel, ab) * inv_len2, 0.0, 1.0)
    gap = rel - t[..., None] * ab
    out[start:start + chunk] = np.sqrt(np.min(np.einsum("cmk,cmk->cm", gap, gap), axis=1))
  return out
