"""A foreground blob explained by the silhouettes of objects standing on the ground.

Touching objects make one blob: cars queued at a light, a car and its shadow. With a calibrated
camera, the image of a car standing at a ground point is known up to its heading: the projection
of a cuboid of a car's typical size. As in the
probabilistic occupancy map of Fleuret, Berclaz, Lengagne & Fua (2008, "Multicamera people
tracking with a probabilistic occupancy map"), where rectangles of a person's size at ground
positions explain background-subtraction blobs, `explain_blob` picks silhouettes greedily: the
one that best explains foreground not yet explained, if enough of it is foreground
(`min_fill`) and enough of it is new (`min_new`), until none qualifies. "Best" is the new
foreground it covers less `ring_weight` times the unexplained foreground in a ring `ring_m` wide
around it: in a queue, a silhouette straddling two cars can cover more foreground than one on
the nearest car, but only the nearest car's outline lies on the blob's outline. Each object's
mask is its silhouette's share of the blob, nearer objects first; the rest of the blob (a
shadow, a reflection) is left unexplained.

Candidates: ground points under a lattice of the blob's pixels (about `grid_m` apart at the
blob's depth), cars at `car_yaws` headings in [0, π) at each. Only silhouettes at least `min_fill` foreground are kept as candidates, so the
greedy choice runs over a few hundred at most.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from walt3d_jax.formats.coco import Category
from walt3d_jax.geometry import camera as camera_lib
from walt3d_jax.timelapse import ground as ground_lib


@dataclasses.dataclass(frozen=True)
class SilhouetteConfig:
  """Knobs of `explain_blob` (sizes in metres: REFERENCE.md).

  car_size_m: (length, width, height) of the cuboid: a small car, 4.2 × 1.75 × 1.45 m (between
    a hatchback's and a sedan's; a larger car still fills most of it, measured a little better
    than 4.5 × 1.8 × 1.5 on the detector benchmark's seed 0).
  car_yaws: headings tried for cars, evenly in [0, π).
  grid_m: spacing of the candidate ground points at the blob's depth.
  min_fill: least share of a silhouette's pixels that must be foreground.
  min_new: least share of a silhouette's pixels that must be foreground no earlier object
    explains.
  max_objects: most objects per blob.
  max_candidates: the lattice is thinned to keep at most this many ground points.
  ring_m, ring_weight: width of the ring around a silhouette, at the blob's depth, and the weight
    of the unexplained foreground in it against the new foreground inside (0: the most new
    foreground wins). On the detector benchmark's seed 0, MOTA summed over its presets: 1.87
    without the ring, 1.98 with 0.3 m and 2 (1.99 with 0.2 m, 1.95 at weight 1, 1.97 at 3).
  """

  car_size_m: tuple[float, float, float] = (4.2, 1.75, 1.45)
  car_yaws: int = 8
  grid_m: float = 0.4
  min_fill: float = 0.7
  min_new: float = 0.5
  max_objects: int = 8
  max_candidates: int = 400
  ring_m: float = 0.3
  ring_weight: float = 2.

  def __post_init__(self):
    if len(self.car_size_m) != 3 or not all(v > 0 for v in self.car_size_m):
      raise ValueError(f"SilhouetteConfig.car_size_m must be 3 sizes > 0, got {self.car_size_m}")
    if not (0 < self.min_fill <= 1 and 0 < self.min_new <= 1 and self.grid_m > 0):
      raise ValueError(f"SilhouetteConfig: need 0 < min_fill, min_new <= 1 and grid_m > 0, got "
                       f"{self.min_fill}, {self.min_new}, {self.grid_m}")
    if not (self.ring_m >= 0 and self.ring_weight >= 0 and np.isfinite(self.ring_m + self.ring_weight)):
      raise ValueError(f"SilhouetteConfig: need ring_m >= 0 and ring_weight >= 0, got {self.ring_m}, "
                       f"{self.ring_weight}")
    if self.car_yaws < 1 or self.max_objects < 1 or self.max_candidates < 1:
      raise ValueError("SilhouetteConfig: car_yaws, max_objects and max_candidates must be >= 1")


@dataclasses.dataclass(frozen=True)
class Explained:
  """Objects found in one blob: masks (N, H, W) bool (each the blob's pixels its silhouette
  covers and no nearer object's does), categories (N,) int32 (Category: cars), depths (N,)
  metres."""

  masks: np.ndarray
  categories: np.ndarray
  depths: np.ndarray


def ground_axes(camera: camera_lib.Camera) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Camera-frame unit vectors (3,): up (the ground normal), forward (the optical axis on the
  ground) and side (forward × up completes a right-handed ground frame)."""
  up = np.asarray(camera.normal, np.float64)
  up /= np.linalg.norm(up)
  forward = np.array([0., 0., 1.]) - up[2] * up
  forward /= np.linalg.norm(forward)
  return up, forward, np.cross(forward, up)


def cuboid_corners(centres: np.ndarray, yaws: np.ndarray, size_m: tuple[float, float, float],
                   camera: camera_lib.Camera) -> np.ndarray:
  """Corners (N, 8, 3) metres, camera frame, of cuboids standing on the ground.

  centres: (N, 3) ground points (footprint centres), camera frame; yaws: (N,) radians from the
  ground-forward axis towards the side axis; size_m: (length, width, height).
  """
  up, forward, side = ground_axes(camera)
  length, width, height = size_m
  along = np.cos(yaws)[:, None] * forward + np.sin(yaws)[:, None] * side  # (N, 3)
  across = np.cross(up, along)
  signs = np.array([[sx, sy, sz] for sz in (0., 1.) for sx in (-.5, .5) for sy in (-.5, .5)])
  return (centres[:, None, :] + signs[None, :, 0:1] * length * along[:, None, :]
          + signs[None, :, 1:2] * width * across[:, None, :] + signs[None, :, 2:3] * height * up)


def _px_per_metre(xs: np.ndarray, ys: np.ndarray, camera: camera_lib.Camera) -> float | None:
  """Pixels a metre spans at the depth of the blob's lowest row (its pixels xs, ys (P,)); None
  when that row lies above the horizon."""
  _, depth, on_ground = ground_lib.pixels_to_ground(camera, np.array([xs.mean()]), np.array([ys.max()]))
  return float(np.asarray(camera.K)[0, 0]) / float(depth[0]) if on_ground[0] else None


def _candidate_centres(xs: np.ndarray, ys: np.ndarray, camera: camera_lib.Camera,
                       config: SilhouetteConfig, px_per_m: float) -> np.ndarray:
  """Ground points (M, 3) camera frame under a lattice of the blob's pixels xs, ys (P,), about
  grid_m apart at px_per_m (`_px_per_metre`) (see module doc)."""
  step = max(1, int(config.grid_m * px_per_m))
  # Footprint centres lie below the blob's top; a nearer object's footprint may reach below it.
  us, vs = np.meshgrid(np.arange(xs.min(), xs.max() + 1, step), np.arange(ys.min(), ys.max() + 1 + 2 * step, step))
  points, _, on_ground = ground_lib.pixels_to_ground(camera, us.ravel(), vs.ravel())
  points = points[:, on_ground].T
  if len(points) > config.max_candidates:
    points = points[np.linspace(0, len(points) - 1, config.max_candidates).astype(int)]
  return points


def _projected(corners: np.ndarray, camera: camera_lib.Camera,
               origin: tuple[int, int] = (0, 0)) -> tuple[np.ndarray, np.ndarray]:
  """Pixels (N, 8, 2) of corners (N, 8, 3) camera frame, relative to origin (x, y), and whether
  all of a cuboid's corners lie in front of the camera (N,) bool."""
  proj = corners @ np.asarray(camera.K, np.float64).T
  ok = (proj[..., 2] > 1e-6).all(axis=1)
  return proj[..., :2] / np.where(proj[..., 2:] > 1e-6, proj[..., 2:], 1.) - np.asarray(origin, np.float64), ok


def silhouette_masks(corners: np.ndarray, camera: camera_lib.Camera) -> np.ndarray:
  """(N, H, W) bool: the image of cuboids with corners (N, 8, 3) camera frame (their projected
  convex hulls, cut to the image); empty for a cuboid with a corner behind the camera."""
  px, ok = _projected(corners, camera)
  masks = np.zeros((len(corners), camera.height, camera.width), np.uint8)
  for i in np.flatnonzero(ok):
    cv2.fillConvexPoly(masks[i], cv2.convexHull(np.round(px[i]).astype(np.int32)), 1)
  return masks.astype(bool)


def _filled_silhouettes(corners: np.ndarray, camera: camera_lib.Camera, sub: np.ndarray,
                        origin: tuple[int, int], min_fill: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """The silhouettes, filled enough, of cuboids with corners (N, 8, 3): indices (M,) of those
  whose projected convex hull is at least min_fill foreground, their masks (M, h, w) bool in the
  window of `sub` (h, w) bool (the blob's box; origin its top-left x, y) and their areas (M,)
  pixels, inside the window or not (what the fill counts against); hulls with a corner behind
  the camera are skipped."""
  px, ok = _projected(corners, camera, origin)
  canvas = np.zeros(sub.shape, np.uint8)
  keep, masks, areas = [], [], []
  for i in np.flatnonzero(ok):
    hull = cv2.convexHull(np.round(px[i]).astype(np.int32))
    area = cv2.contourArea(hull)
    if area < 1.:
      continue
    canvas[:] = 0
    cv2.fillConvexPoly(canvas, hull, 1)
    mask = canvas.astype(bool)
    area = max(area, float(np.count_nonzero(mask)))
    if np.count_nonzero(mask & sub) >= min_fill * area:
      keep.append(i)
      masks.append(mask)
      areas.append(area)
  if not keep:
    return np.zeros(0, np.int64), np.zeros((0,) + sub.shape, bool), np.zeros(0)
  return np.asarray(keep), np.stack(masks), np.asarray(areas)


def _rings(masks: np.ndarray, width: int) -> np.ndarray:
  """(M, h * w) float32: the pixels within `width` pixels (chessboard distance) of each mask
  (M, h, w) bool but outside it, flattened (width >= 1)."""
  kernel = np.ones((2 * width + 1, 2 * width + 1), np.uint8)
  return np.stack([(cv2.dilate(m.view(np.uint8), kernel).astype(bool) & ~m).ravel()
                   for m in masks]).astype(np.float32)


def explain_blob(blob: np.ndarray, camera: camera_lib.Camera,
                 config: SilhouetteConfig = SilhouetteConfig()) -> Explained:
  """Objects standing on the ground whose silhouettes explain the blob (module docstring).

  blob: (H, W) bool, one connected foreground region of a frame the camera sees.
  Returns the objects found, nearest first; none when no silhouette qualifies.
  """
  empty = Explained(np.zeros((0,) + blob.shape, bool), np.zeros(0, np.int32), np.zeros(0))
  ys, xs = np.nonzero(blob)
  if not len(xs):
    return empty
  px_per_m = _px_per_metre(xs, ys, camera)
  if px_per_m is None:
    return empty
  centres = _candidate_centres(xs, ys, camera, config, px_per_m)
  if not len(centres):
    return empty
  yaws = np.pi * np.arange(config.car_yaws) / config.car_yaws
  centres = np.repeat(centres, len(yaws), axis=0)
  corners = cuboid_corners(centres, np.tile(yaws, len(centres) // len(yaws)), config.car_size_m, camera)
  x0, y0 = int(xs.min()), int(ys.min())
  h, w = int(ys.max()) - y0 + 1, int(xs.max()) - x0 + 1
  sub = blob[y0:y0 + h, x0:x0 + w]
  index, sil, areas = _filled_silhouettes(corners, camera, sub, (x0, y0), config.min_fill)
  if not len(index):
    return empty
  flat = sil.reshape(len(sil), -1).astype(np.float32)
  ring_px = int(round(config.ring_m * px_per_m)) if config.ring_weight else 0
  ring = _rings(sil, ring_px) if ring_px else None
  unexplained = sub.ravel().astype(np.float32)
  chosen = []
  for _ in range(config.max_objects):
    new = flat @ unexplained
    ok = new >= config.min_new * areas
    if not ok.any():
      break
    score = new if ring is None else new - config.ring_weight * (ring @ unexplained)
    best = int(np.argmax(np.where(ok, score, -np.inf)))
    chosen.append(best)
    unexplained = unexplained * (1. - flat[best])
  if not chosen:
    return empty
  chosen.sort(key=lambda k: centres[index[k], 2])
  masks, taken = [], np.zeros(sub.shape, bool)
  for k in chosen:
    part = sil[k] & sub & ~taken
    taken |= part
    full = np.zeros(blob.shape, bool)
    full[y0:y0 + h, x0:x0 + w] = part
    masks.append(full)
  return Explained(np.stack(masks), np.full(len(chosen), int(Category.CAR), np.int32), centres[index[chosen], 2])

