"""Depth proxies: a closed 3D surface per fitted object, rasterised to a per-pixel depth.

The compositor decides visibility per pixel by depth, so every object needs a depth at every
pixel of its mask. A fitted car has 12 semantic 3D keypoints (wheels, lights, roof corners);
its proxy is the convex hull of those points and of their feet on the ground plane: a
car-shaped solid that follows the fitted shape (bonnet, cabin, boot), where a 3D box would
put the roof's depth over the bonnet. A person is an upright capsule of their placed stature.
Both are rasterised with the simulator's z-buffer rasteriser (`sim.render.rasterize`). Mask
pixels the proxy misses (mirrors, a loose detector mask) take the depth of the nearest proxy
pixel, so the depth is defined on the whole crop window.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import spatial

from walt3d_jax.sim import render

NUM_CAR_KEYPOINTS = 12
# Capsule radius as a fraction of stature: about half the shoulder width (0.259 H, Drillis &
# Contini via REFERENCE.md), so arms swinging at the sides stay inside it.
CAPSULE_RADIUS_FRACTION = 0.13
_CAPSULE_SIDES = 10
_CAPSULE_CAP_RINGS = 3


def car_hull(keypoints_3d: np.ndarray, plane: np.ndarray) -> np.ndarray:
  """Triangles (T, 3, 3), camera frame, of the convex hull of a car's 12 keypoints and their
  feet on the ground plane.

  keypoints_3d: (12, 3) metres, camera frame. plane: (4,) [n, d] with n·X + d = 0.
  """
  n, d = plane[:3], plane[3]
  points = np.asarray(keypoints_3d, np.float64)[:NUM_CAR_KEYPOINTS]
  feet = points - (points @ n + d)[:, None] * n
  cloud = np.concatenate([points, feet])
  hull = spatial.ConvexHull(cloud)
  return cloud[hull.simplices]


def capsule(base: np.ndarray, up: np.ndarray, height: float, radius: float) -> np.ndarray:
  """Triangles (T, 3, 3) of an upright capsule standing on `base` (3,) along unit `up` (3,):
  a cylinder of `radius` with hemispherical ends, `height` metres tall in all (≥ 2 radius)."""
  radius = min(radius, height / 2)
  a = np.cross(up, [1.0, 0.0, 0.0] if abs(up[0]) < 0.9 else [0.0, 1.0, 0.0])
  a /= np.linalg.norm(a)
  b = np.cross(up, a)
  angles = 2 * np.pi * np.arange(_CAPSULE_SIDES) / _CAPSULE_SIDES
  circle = np.cos(angles)[:, None] * a + np.sin(angles)[:, None] * b  # (S, 3)
  # Rings from the bottom pole to the top pole: (centre height, ring radius).
  phis = np.linspace(0, np.pi / 2, _CAPSULE_CAP_RINGS + 1)[1:]
  rings = [(radius - radius * np.cos(p), radius * np.sin(p)) for p in phis]
  rings += [(height - h, r) for h, r in reversed(rings)]
  ring_points = np.array([[base + h * up + r * c for c in circle] for h, r in rings])  # (R, S, 3)
  bottom, top = base, base + height * up
  tris = []
  nxt = np.roll(np.arange(_CAPSULE_SIDES), -1)
  for s in range(_CAPSULE_SIDES):
    tris.append([bottom, ring_points[0, nxt[s]], ring_points[0, s]])
    tris.append([top, ring_points[-1, s], ring_points[-1, nxt[s]]])
  for r in range(len(rings) - 1):
    for s in range(_CAPSULE_SIDES):
      p00, p01 = ring_points[r, s], ring_points[r, nxt[s]]
      p10, p11 = ring_points[r + 1, s], ring_points[r + 1, nxt[s]]
      tris += [[p00, p01, p11], [p00, p11, p10]]
  return np.asarray(tris, np.float64)


def person_capsule(translation: np.ndarray, height: float, plane: np.ndarray) -> np.ndarray:
  """Triangles of a person's capsule: feet at `translation` (3,) camera frame, `height` metres."""
  return capsule(np.asarray(translation, np.float64), np.asarray(plane[:3], np.float64),
                 float(height), CAPSULE_RADIUS_FRACTION * float(height))


def window_depth(tris: np.ndarray, K: np.ndarray, window: np.ndarray,
                 image_size: tuple[int, int]) -> np.ndarray:
  """(h, w) float32 nearest camera z of the triangles over `window` [x, y, w, h] (whole pixels
  inside the image); inf where they cover nothing."""
  x0, y0, w, h = (int(v) for v in window)
  frags, _ = render.rasterize(tris, np.asarray(K, np.float64), *image_size)
  inside = (frags.x >= x0) & (frags.x < x0 + w) & (frags.y >= y0) & (frags.y < y0 + h)
  inv = np.zeros(h * w)
  np.maximum.at(inv, (frags.y[inside] - y0) * w + frags.x[inside] - x0, frags.inv_z[inside])
  with np.errstate(divide="ignore"):
    return (1.0 / inv).reshape(h, w).astype(np.float32)


def fill_nearest(depth: np.ndarray, fallback: float) -> np.ndarray:
  """`depth` (h, w) with every inf pixel given the value of the nearest finite one (Euclidean);
  all `fallback` when none is finite."""
  finite = np.isfinite(depth)
  if finite.all():
    return depth
  if not finite.any():
    return np.full(depth.shape, fallback, np.float32)
  # Labels of the nearest zero pixel of `~finite` (the finite ones), one label per pixel.
  _, labels = cv2.distanceTransformWithLabels((~finite).astype(np.uint8), cv2.DIST_L2, 5,
                                              labelType=cv2.DIST_LABEL_PIXEL)
  values = np.zeros(labels.max() + 1, np.float32)
  values[labels[finite]] = depth[finite]
  return values[labels]
