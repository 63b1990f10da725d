"""Cars at night found by their lamps.

At night a dark car on a dark road sits under any background model's noise: on the detector
benchmark's seed-0 intersection, 40 of the 64 cars missed at night had under 30 % of their
pixels above the threshold. Their lamps are the brightest things in the frame. As in night-time
traffic surveillance (Chen, Wu, Huang & Chen 2011, "A real-time vision system for nighttime
vehicle detection and traffic surveillance"), lamps are paired, here with the camera:

- a lamp (`find_lamps`) is a small blob, at least `min_level` in its brightest channel, that
  the background does not hold (`min_rise` over it) and that outshines the pixels around it by
  `min_contrast` (a lit white car or a lane marking does not; a sensor speck is below
  `min_area`); red when its green is under `red_ratio` of its red (tail lights), white
  otherwise (headlights), and then nearly clipped in every channel (`white_level`: a lamp's
  light saturates the sensor at night, a sunlit white surface seldom does in all three; JPEG
  blurs a small lamp's edge below 255);
- two lamps of one colour are a pair (`pair_lamps`) when, placed at a lamp's height above the
  ground, they lie `separation_m` apart and neither is larger than `max_size_m` there (UNECE
  Regulation 48 mounts head and tail lamps 0.5–1.5 m above the ground; a passenger car's
  lamp centres are about 1.2–1.5 m apart), and the car they make faces the camera within
  `max_view_angle_deg` (seen from the side, a car's two front lamps overlap);
- a pair is the end of a car that faces the camera: the headlights of one coming towards it or
  the tail lights of one driving away. Either way the body extends from the lamps' midpoint away
  from the camera, perpendicular to the line joining them, a cuboid of
  `silhouettes.SilhouetteConfig.car_size_m` whose image is the car's silhouette (`lamp_cars`).

`detect.detect` uses the cars to add those no blob found, to cut a car's blob down to its
silhouette (a headlight's pool of light on the road ahead is dropped, another object in the
blob is kept) and to join the fragments of one car.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from walt3d_jax.geometry import camera as camera_lib
from walt3d_jax.timelapse import ground as ground_lib
from walt3d_jax.timelapse import silhouettes


@dataclasses.dataclass(frozen=True)
class LampConfig:
  """Knobs of `find_lamps`, `pair_lamps` and `lamp_cars` (grey levels; sizes in metres).

  headlight_height_m, taillight_height_m: lamp centres above the ground (a passenger car's
    headlights about 0.65 m, tail lights about 0.85 m).
  beam_reach_m, beam_half_angle_deg: the pool a car's headlights throw on the road ahead,
    dropped from its blob (low beams light 20–40 m).
  """

  min_level: float = 200.
  white_level: float = 222.
  min_rise: float = 60.
  min_contrast: float = 80.
  min_area: int = 2
  red_ratio: float = 0.5
  max_size_m: float = 0.6
  separation_m: tuple[float, float] = (1.0, 1.8)
  max_area_ratio: float = 4.
  max_view_angle_deg: float = 60.
  headlight_height_m: float = 0.65
  taillight_height_m: float = 0.85
  beam_reach_m: float = 30.
  beam_half_angle_deg: float = 30.

  def __post_init__(self):
    low, high = self.separation_m
    if not 0 < low < high:
      raise ValueError(f"LampConfig.separation_m must satisfy 0 < low < high, got {self.separation_m}")
    for name in ("min_level", "min_rise", "min_contrast", "max_size_m", "max_area_ratio",
                 "headlight_height_m", "taillight_height_m", "beam_reach_m"):
      if not (np.isfinite(getattr(self, name)) and getattr(self, name) > 0):
        raise ValueError(f"LampConfig.{name} must be finite and > 0, got {getattr(self, name)}")
    if not (0 < self.red_ratio < 1 and 0 < self.beam_half_angle_deg < 90 and 0 < self.max_view_angle_deg <= 90):
      raise ValueError(f"LampConfig: need 0 < red_ratio < 1, 0 < beam_half_angle_deg < 90 and 0 < "
                       f"max_view_angle_deg <= 90, got {self.red_ratio}, {self.beam_half_angle_deg}, "
                       f"{self.max_view_angle_deg}")
    if int(self.min_area) != self.min_area or self.min_area < 1:
      raise ValueError(f"LampConfig.min_area must be an int >= 1, got {self.min_area}")


@dataclasses.dataclass(frozen=True)
class Lamps:
  """Lamps in one frame: labels (H, W) int32 (lamp k's pixels are k + 1, 0 elsewhere),
  centres (N, 2) pixels (x, y), areas (N,) pixels, red (N,) bool (tail lights)."""

  labels: np.ndarray
  centres: np.ndarray
  areas: np.ndarray
  red: np.ndarray


@dataclasses.dataclass(frozen=True)
class LampCars:
  """Cars found by lamp pairs: masks (M, H, W) bool (their cuboids' silhouettes), lamps (M, H, W)
  bool (the pair's pixels), ahead (M, H, W) bool (the pool of light its headlights throw on the
  road ahead: towards the camera from headlights, beyond the car from tail lights), depths (M,)
  metres (the lamps' midpoint)."""

  masks: np.ndarray
  lamps: np.ndarray
  ahead: np.ndarray
  depths: np.ndarray

  def __len__(self) -> int:
    return len(self.masks)


def find_lamps(image: np.ndarray, background: np.ndarray, config: LampConfig = LampConfig()) -> Lamps:
  """Small bright blobs the background does not hold (module docstring).

  image, background: (H, W, 3) uint8 RGB, the frame and its background.
  """
  bright = image.max(axis=2).astype(np.float32)
  candidates = (bright >= config.min_level) & (bright - background.max(axis=2) >= config.min_rise)
  count, labels, stats, centres = cv2.connectedComponentsWithStats(candidates.astype(np.uint8), connectivity=8)
  out = np.zeros(labels.shape, np.int32)
  kept_centres, areas, red = [], [], []
  ring_kernel = np.ones((5, 5), np.uint8)
  for i in range(1, count):
    if stats[i, cv2.CC_STAT_AREA] < config.min_area:
      continue
    x, y, w, h = (int(v) for v in stats[i, :4])
    # The ring: 2 px around the blob, within a window to keep this cheap per blob.
    x0, y0 = max(0, x - 3), max(0, y - 3)
    x1, y1 = min(labels.shape[1], x + w + 3), min(labels.shape[0], y + h + 3)
    blob = labels[y0:y1, x0:x1] == i
    ring = cv2.dilate(blob.astype(np.uint8), ring_kernel).astype(bool) & ~candidates[y0:y1, x0:x1]
    window = bright[y0:y1, x0:x1]
    if not ring.any() or window[blob].mean() - window[ring].mean() < config.min_contrast:
      continue
    rgb = image[y0:y1, x0:x1][blob].astype(np.float32).mean(axis=0)
    is_red = bool(rgb[1] < config.red_ratio * rgb[0])
    if not is_red and rgb.min() < config.white_level:
      continue
    out[y0:y1, x0:x1][blob] = len(areas) + 1
    kept_centres.append(centres[i])
    areas.append(int(stats[i, cv2.CC_STAT_AREA]))
    red.append(is_red)
  return Lamps(out, np.asarray(kept_centres, np.float64).reshape(-1, 2), np.asarray(areas, np.int64),
               np.asarray(red, bool))


def _lamp_points(lamps: Lamps, camera: camera_lib.Camera,
                 config: LampConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Camera-frame points (N, 3) of the lamps at their height above the ground, depths (N,) and
  whether each lies ahead at that height and is small enough to be a lamp there (N,) bool."""
  heights = np.where(lamps.red, config.taillight_height_m, config.headlight_height_m)
  points, depths, ok = np.zeros((len(heights), 3)), np.zeros(len(heights)), np.zeros(len(heights), bool)
  for height in np.unique(heights):
    sel = heights == height
    p, d, o = ground_lib.pixels_to_ground(camera, lamps.centres[sel, 0], lamps.centres[sel, 1], float(height))
    points[sel], depths[sel], ok[sel] = p.T, d, o
  fx = float(np.asarray(camera.K)[0, 0])
  size_m = np.sqrt(lamps.areas) * depths / fx
  return points, depths, ok & (size_m <= config.max_size_m)


def pair_lamps(lamps: Lamps, camera: camera_lib.Camera, config: LampConfig = LampConfig()) -> np.ndarray:
  """(M, 2) int lamp indices of the pairs: one colour, `separation_m` apart at their height,
  areas within `max_area_ratio`, the line joining them at least 90° - `max_view_angle_deg`
  off the line of sight; greedily, the separations nearest the range's middle first,
  each lamp in one pair at most."""
  points, _, ok = _lamp_points(lamps, camera, config)
  return _pairs(lamps, points, ok, silhouettes.ground_axes(camera)[0], config)


def _pairs(lamps: Lamps, points: np.ndarray, ok: np.ndarray, up: np.ndarray, config: LampConfig) -> np.ndarray:
  """`pair_lamps` given the lamps' points (N, 3) and usability (N,) (`_lamp_points`) and the
  ground's unit normal up (3,), camera frame."""
  low, high = config.separation_m
  i, j = np.triu_indices(len(points), k=1)
  gap = np.linalg.norm(points[i] - points[j], axis=1)
  ratio = np.maximum(lamps.areas[i], lamps.areas[j]) / np.maximum(np.minimum(lamps.areas[i], lamps.areas[j]), 1)
  # The line of sight to the pair's middle, on the ground plane; the pair's line lies in it.
  sight = points[i] + points[j]
  sight -= (sight @ up)[:, None] * up
  cosine = np.abs(np.einsum('ij,ij->i', points[j] - points[i], sight)) / np.maximum(
      gap * np.linalg.norm(sight, axis=1), 1e-9)
  good = (ok[i] & ok[j] & (lamps.red[i] == lamps.red[j]) & (gap >= low) & (gap <= high)
          & (ratio <= config.max_area_ratio) & (cosine <= np.sin(np.radians(config.max_view_angle_deg))))
  used, pairs = np.zeros(len(points), bool), []
  for k in np.flatnonzero(good)[np.argsort(np.abs(gap[good] - 0.5 * (low + high)))]:
    if not (used[i[k]] or used[j[k]]):
      used[i[k]] = used[j[k]] = True
      pairs.append((i[k], j[k]))
  return np.asarray(pairs, np.int64).reshape(-1, 2)


def lamp_cars(image: np.ndarray, background: np.ndarray, camera: camera_lib.Camera,
              config: LampConfig = LampConfig(),
              car_size_m: tuple[float, float, float] = silhouettes.SilhouetteConfig().car_size_m) -> LampCars:
  """Cars behind lamp pairs (module docstring): image, background (H, W, 3) uint8 RGB."""
  lamps = find_lamps(image, background, config)
  points, depths, ok = _lamp_points(lamps, camera, config)
  up, forward, side = silhouettes.ground_axes(camera)
  pairs = _pairs(lamps, points, ok, up, config)
  shape = image.shape[:2]
  if not len(pairs):
    empty = np.zeros((0,) + shape, bool)
    return LampCars(empty, empty, empty, np.zeros(0))
  red = lamps.red[pairs[:, 0]]
  heights = np.where(red, config.taillight_height_m, config.headlight_height_m)
  middle = 0.5 * (points[pairs[:, 0]] + points[pairs[:, 1]]) - heights[:, None] * up  # on the ground
  across = points[pairs[:, 1]] - points[pairs[:, 0]]
  along = np.cross(up, across)
  along /= np.linalg.norm(along, axis=1, keepdims=True)
  along *= np.where(np.einsum('ij,ij->i', along, middle) < 0, -1., 1.)[:, None]  # away from the camera
  length = car_size_m[0]
  yaws = np.arctan2(along @ side, along @ forward)
  masks = silhouettes.silhouette_masks(
      silhouettes.cuboid_corners(middle + 0.5 * length * along, yaws, car_size_m, camera), camera)
  pair_pixels = np.stack([np.isin(lamps.labels, [a + 1, b + 1]) for a, b in pairs])
  # Headlights light the road from the lamps towards the camera; a car showing its tail lights
  # lights the road beyond its far end.
  ahead = np.stack([_beam(camera, up, m + length * a, a, config, shape) if r
                    else _beam(camera, up, m, -a, config, shape) for m, a, r in zip(middle, along, red)])
  return LampCars(masks, pair_pixels, ahead, 0.5 * (depths[pairs[:, 0]] + depths[pairs[:, 1]]))


def _beam(camera: camera_lib.Camera, up: np.ndarray, origin: np.ndarray, direction: np.ndarray,
          config: LampConfig, shape: tuple[int, int]) -> np.ndarray:
  """(H, W) bool: the image of the ground a car's headlights light, a wedge from the car's front
  (2 m wide at origin (3,), on the ground) along direction (3,) (unit, on the ground), camera
  frame; up (3,) the ground's unit normal."""
  side = np.cross(up, direction)
  slope = np.tan(np.radians(config.beam_half_angle_deg))
  edges = np.stack([direction + slope * side, direction - slope * side])
  # A wedge pointing towards the camera is cut half a metre in front of it.
  closing = edges[:, 2] < 0
  reach = min([config.beam_reach_m] + list((origin[2] - 0.5) / -edges[closing, 2]))
  corners = np.stack([origin + side, origin + reach * edges[0], origin + reach * edges[1], origin - side])
  proj = corners @ np.asarray(camera.K, np.float64).T
  mask = np.zeros(shape, np.uint8)
  if (proj[:, 2] > 1e-3).all():
    cv2.fillConvexPoly(mask, np.round(proj[:, :2] / proj[:, 2:]).astype(np.int32), 1)
  return mask.astype(bool)
