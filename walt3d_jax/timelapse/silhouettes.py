"""A foreground blob explained by the silhouettes of objects standing on the ground.

Touching objects make one blob: cars queued at a light, a car and its shadow, a person beside a
car. With a calibrated camera, the image of a car or a person standing at a ground point is
known up to its heading: the projection of a cuboid of the object's typical size. As in the
probabilistic occupancy map of Fleuret, Berclaz, Lengagne & Fua (2008, "Multicamera people
tracking with a probabilistic occupancy map"), where rectangles of a person's size at ground
positions explain background-subtraction blobs, `explain_blob` picks silhouettes greedily: the
one covering the most foreground not yet explained, if enough of it is foreground
(`min_fill`) and enough of it is new (`min_new`), until none qualifies. Each object's mask is
its silhouette's share of the blob, nearer objects first; the rest of the blob (a shadow, a
reflection) is left unexplained.

Candidates: ground points under a lattice of the blob's pixels (about `grid_m` apart at the
blob's depth), cars at `car_yaws` headings in [0, π), people (upright, heading-free) at each.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from walt3d_jax.formats.coco import Category
from walt3d_jax.geometry import camera as camera_lib


@dataclasses.dataclass(frozen=True)
class SilhouetteConfig:
  """Knobs of `explain_blob` (sizes in metres: REFERENCE.md).

  car_size_m, person_size_m: (length, width, height) of the cuboids: a mid-size car 4.5 × 1.8
    × 1.5 m; a person 0.5 × 0.5 × 1.7 m (stature 1.70 m, shoulders 0.26 × stature, a stride).
  car_yaws: headings tried for cars, evenly in [0, π).
  grid_m: spacing of the candidate ground points at the blob's depth.
  min_fill: least share of a silhouette's pixels that must be foreground.
  min_new: least share of a silhouette's pixels that must be foreground no earlier object
    explains.
  max_objects: most objects per blob.
  max_candidates: the lattice is thinned to keep at most this many ground points.
  people: try people's silhouettes too.
  """

  car_size_m: tuple[float, float, float] = (4.2, 1.75, 1.45)
  person_size_m: tuple[float, float, float] = (0.5, 0.5, 1.7)
  car_yaws: int = 8
  grid_m: float = 0.4
  min_fill: float = 0.7
  min_new: float = 0.5
  max_objects: int = 8
  max_candidates: int = 400
  people: bool = False

  def __post_init__(self):
    for name in ("car_size_m", "person_size_m"):
      if len(getattr(self, name)) != 3 or not all(v > 0 for v in getattr(self, name)):
        raise ValueError(f"SilhouetteConfig.{name} must be 3 sizes > 0, got {getattr(self, name)}")
    if not (0 < self.min_fill <= 1 and 0 < self.min_new <= 1 and self.grid_m > 0):
      raise ValueError(f"SilhouetteConfig: need 0 < min_fill, min_new <= 1 and grid_m > 0, got "
                       f"{self.min_fill}, {self.min_new}, {self.grid_m}")
    if self.car_yaws < 1 or self.max_objects < 1 or self.max_candidates < 1:
      raise ValueError("SilhouetteConfig: car_yaws, max_objects and max_candidates must be >= 1")


@dataclasses.dataclass(frozen=True)
class Explained:
  """Objects found in one blob: masks (N, H, W) bool (each the blob's pixels its silhouette
  covers and no nearer object's does), categories (N,) int32 (Category), depths (N,) metres."""

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


def _candidate_centres(blob: np.ndarray, camera: camera_lib.Camera, config: SilhouetteConfig) -> np.ndarray:
  """Ground points (M, 3) camera frame under a lattice of the blob's pixels (see module doc)."""
  ys, xs = np.nonzero(blob)
  K = np.asarray(camera.K, np.float64)
  n = np.asarray(camera.normal, np.float64)
  offset = float(camera.offset)
  # The lattice step in pixels: grid_m at the depth of the blob's lowest row.
  v_low = float(ys.max())
  ray = np.linalg.solve(K, np.array([xs.mean(), v_low, 1.]))
  denom = float(n @ ray)
  depth = -offset / denom if denom < 0 else 50.
  step = max(1, int(config.grid_m * K[0, 0] / depth))
  x0, y0, x1, y1 = xs.min(), ys.min(), xs.max(), ys.max()
  # Footprint centres lie below the blob's top; a nearer object's footprint may reach below it.
  us, vs = np.meshgrid(np.arange(x0, x1 + 1, step), np.arange(y0, y1 + 1 + 2 * step, step))
  pix = np.stack([us.ravel(), vs.ravel(), np.ones(us.size)]).astype(np.float64)
  rays = np.linalg.solve(K, pix)
  denom = n @ rays
  on_ground = denom < -1e-9
  points = (-offset / denom[on_ground]) * rays[:, on_ground]
  points = points.T
  if len(points) > config.max_candidates:
    points = points[np.linspace(0, len(points) - 1, config.max_candidates).astype(int)]
  return points


def _silhouettes(corners: np.ndarray, camera: camera_lib.Camera, window: tuple[int, int, int, int]) -> np.ndarray:
  """Filled convex hulls (N, h, w) bool of corners (N, 8, 3) projected into the image window
  (x, y, w, h); all False where a corner lies behind the camera."""
  x, y, w, h = window
  K = np.asarray(camera.K, np.float64)
  out = np.zeros((len(corners), h, w), np.uint8)
  proj = corners @ K.T
  ok = (proj[..., 2] > 1e-6).all(axis=1)
  px = proj[..., :2] / np.where(proj[..., 2:] > 1e-6, proj[..., 2:], 1.)
  px = px - np.array([x, y], np.float64)
  for i in np.flatnonzero(ok):
    hull = cv2.convexHull(np.round(px[i]).astype(np.int32))
    cv2.fillConvexPoly(out[i], hull, 1)
  return out.astype(bool)


def explain_blob(blob: np.ndarray, camera: camera_lib.Camera,
                 config: SilhouetteConfig = SilhouetteConfig()) -> Explained:
  """Objects standing on the ground whose silhouettes explain the blob (module docstring).

  blob: (H, W) bool, one connected foreground region of a frame the camera sees.
  Returns the objects found, nearest first; none when no silhouette qualifies.
  """
  empty = Explained(np.zeros((0,) + blob.shape, bool), np.zeros(0, np.int32), np.zeros(0))
  if not blob.any():
    return empty
  centres = _candidate_centres(blob, camera, config)
  if not len(centres):
    return empty
  yaws = np.pi * np.arange(config.car_yaws) / config.car_yaws
  car_c = np.repeat(centres, len(yaws), axis=0)
  car_y = np.tile(yaws, len(centres))
  corners = cuboid_corners(car_c, car_y, config.car_size_m, camera)
  categories = np.full(len(car_c), int(Category.CAR))
  depths = car_c[:, 2]
  if config.people:
    corners = np.concatenate([corners, cuboid_corners(centres, np.zeros(len(centres)), config.person_size_m, camera)])
    categories = np.concatenate([categories, np.full(len(centres), int(Category.PERSON))])
    depths = np.concatenate([depths, centres[:, 2]])
  ys, xs = np.nonzero(blob)
  x0, y0 = int(xs.min()), int(ys.min())
  window = (x0, y0, int(xs.max()) - x0 + 1, int(ys.max()) - y0 + 1)
  sub = blob[y0:y0 + window[3], x0:x0 + window[2]]
  sil = _silhouettes(corners, camera, window)
  # A silhouette reaching outside the window covers background there: count its full area.
  full_area = _full_areas(corners, camera)
  flat = sil.reshape(len(sil), -1)
  fg_inside = flat @ sub.ravel().astype(np.float64)
  fill = fg_inside / np.maximum(full_area, 1.)
  unexplained = sub.ravel().astype(np.float64)
  chosen = []
  for _ in range(config.max_objects):
    new = flat @ unexplained
    ok = (fill >= config.min_fill) & (new >= config.min_new * np.maximum(full_area, 1.))
    if not ok.any():
      break
    best = int(np.argmax(np.where(ok, new, -1.)))
    chosen.append(best)
    unexplained = unexplained * ~flat[best]
  if not chosen:
    return empty
  chosen.sort(key=lambda i: depths[i])
  masks, taken = [], np.zeros(sub.shape, bool)
  for i in chosen:
    part = sil[i] & sub & ~taken
    taken |= part
    full = np.zeros(blob.shape, bool)
    full[y0:y0 + window[3], x0:x0 + window[2]] = part
    masks.append(full)
  return Explained(np.stack(masks), categories[chosen].astype(np.int32), depths[chosen])


def _full_areas(corners: np.ndarray, camera: camera_lib.Camera) -> np.ndarray:
  """Pixel areas (N,) of the projected convex hulls of corners (N, 8, 3); 0 behind the camera."""
  K = np.asarray(camera.K, np.float64)
  proj = corners @ K.T
  ok = (proj[..., 2] > 1e-6).all(axis=1)
  px = proj[..., :2] / np.where(proj[..., 2:] > 1e-6, proj[..., 2:], 1.)
  areas = np.zeros(len(corners))
  for i in np.flatnonzero(ok):
    areas[i] = cv2.contourArea(cv2.convexHull(px[i].astype(np.float32)))
  return areas
