"""The ground as the camera sees it: every pixel below the horizon back-projected to the ground
plane and painted with the layout's materials, markings and procedural wear; sky above.

Textures live in ground coordinates (metres), so they are fixed to the street and seen in
correct perspective. Detail finer than a pixel's footprint on the ground is faded out instead
of aliased (far asphalt is a smooth grey, not sparkling noise).
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import jax.numpy as jnp
import numpy as np

from walt3d_jax.geometry import plane as plane_lib
from walt3d_jax.sim import polyline as polyline_lib
from walt3d_jax.sim.layout import GroundPatch, LaneMarking, SceneLayout, Surface

_NEAR = 0.05  # metres; polygons are clipped in front of the camera before projection
_VIEW_MARGIN = 1.0  # × the image's larger side: polygons are clipped this far outside the image
_MAX_DISTANCE = 5000.0  # metres; farther ground pixels are haze anyway
_NOISE_SIZE = 128
_SUBPIXEL_BITS = 4

ASPHALT = np.array([0.25, 0.25, 0.26], np.float32)
CONCRETE = np.array([0.60, 0.59, 0.56], np.float32)
PAINT = np.array([0.90, 0.90, 0.86], np.float32)
# Metres: European and US zebra bars are 0.5–0.6 m wide with equal gaps; sidewalk slabs
# 1.2–1.8 m; parking bays 2.5 m wide.
_ZEBRA_PERIOD = 1.1
_SLAB = 1.5
_JOINT = 0.02
_BAY = 2.5
_BAY_LINE = 0.12
# Wheel paths lie about 0.8–0.9 m either side of a lane's centre (track ~ 0.85 x 2 m width).
_WHEEL_PATH = 0.85


class GroundBuffers(NamedTuple):
  """albedo (H, W, 3) float32; depth (H, W) float64 camera z (inf above the horizon);
  sky (H, W) float32 height above the horizon in [0, 1] (-1 on the ground);
  xy (H, W, 2) float64 ground coordinates (nan above the horizon)."""

  albedo: np.ndarray
  depth: np.ndarray
  sky: np.ndarray
  xy: np.ndarray


def clip_polygon(points: np.ndarray, planes: np.ndarray) -> np.ndarray:
  """Sutherland-Hodgman: the part (M, 3) of the polygon points (N, 3) where every plane (P, 4)
  keeps points @ plane[:3] + plane[3] >= 0 (one pass per plane)."""
  for plane in planes:
    if not len(points):
      break
    side = points @ plane[:3] + plane[3]
    out = []
    for a in range(len(points)):
      b = (a + 1) % len(points)
      if side[a] >= 0:
        out.append(points[a])
      if (side[a] >= 0) != (side[b] >= 0):
        out.append(points[a] + side[a] / (side[a] - side[b]) * (points[b] - points[a]))
    points = np.asarray(out).reshape(-1, 3)
  return points


def fill_ground_polygon(mask: np.ndarray, polygon: np.ndarray, K: np.ndarray,
                        R_cg: np.ndarray, t_cg: np.ndarray, value: int,
                        antialias: bool = False) -> None:
  """Fills, in place, the image (H, W) uint8 `mask` where the ground polygon (N, 2) projects.

  The polygon is clipped in the camera frame to the view (in front of the camera, within
  _VIEW_MARGIN of the image's edges) before projection, so a polygon reaching beside or behind
  the camera keeps its true edges in the image. (Clamping far-out projected vertices instead
  moved them off their edges' lines: avenue's kerbs, reaching behind its 13 m mast, came out up
  to 5° off the road's direction.)
  """
  h, w = mask.shape[:2]
  pts = np.concatenate([polygon, np.zeros((len(polygon), 1))], axis=1) @ R_cg.T + t_cg
  m = _VIEW_MARGIN * max(w, h)
  k = np.asarray(K, np.float64)
  # z >= near, then u and v within the margin (planes through the camera centre: exact).
  planes = np.stack([[0., 0., 1., -_NEAR],
                     np.r_[k[0] + m * k[2], 0.], np.r_[(w - 1 + m) * k[2] - k[0], 0.],
                     np.r_[k[1] + m * k[2], 0.], np.r_[(h - 1 + m) * k[2] - k[1], 0.]])
  clipped = clip_polygon(pts, planes)
  if len(clipped) < 3:
    return
  hom = clipped @ K.T
  uv = hom[:, :2] / hom[:, 2:3] * (1 << _SUBPIXEL_BITS)
  cv2.fillPoly(mask, [np.round(uv).astype(np.int32)], int(value),
               lineType=cv2.LINE_AA if antialias else cv2.LINE_8, shift=_SUBPIXEL_BITS)


def _value_noise(xy: np.ndarray, scale: float, grid: np.ndarray,
                 footprint: np.ndarray) -> np.ndarray:
  """Smooth noise (H, W) float32 in about [-1, 1] with features of `scale` metres.

  Faded to 0 where a pixel covers more than half a feature (anti-aliasing).
  """
  coords = (xy / scale) % _NOISE_SIZE
  value = cv2.remap(grid, coords[..., 0].astype(np.float32), coords[..., 1].astype(np.float32),
                    cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
  fade = np.clip(2.0 - 4.0 * footprint / scale, 0.0, 1.0)
  return value * fade.astype(np.float32)


def _fbm(xy, scales, weights, grids, footprint) -> np.ndarray:
  return sum(w * _value_noise(xy, s, g, footprint) for s, w, g in zip(scales, weights, grids))


def _line_coverage(distance: np.ndarray, width: float, footprint: np.ndarray) -> np.ndarray:
  """Fraction of a pixel covered by a line of `width` metres at `distance` from its centre."""
  half = 0.5 * np.maximum(footprint, 1e-6)
  lo = np.clip(distance - half, -0.5 * width, 0.5 * width)
  hi = np.clip(distance + half, -0.5 * width, 0.5 * width)
  # Overlap of [d - f/2, d + f/2] with [-w/2, w/2], divided by the footprint.
  return ((hi - lo) / (2 * half)).astype(np.float32)


def _periodic_distance(coord: np.ndarray, period: float) -> np.ndarray:
  """Distance (metres) to the nearest multiple of `period`."""
  return np.abs((coord / period + 0.5) % 1.0 - 0.5) * period


def _patch_axes(patch: GroundPatch) -> tuple[np.ndarray, np.ndarray]:
  """Unit (2,) direction of the polygon's longest edge and its perpendicular."""
  poly = np.asarray(patch.polygon, np.float64)
  edges = np.roll(poly, -1, axis=0) - poly
  e = edges[np.argmax(np.linalg.norm(edges, axis=1))]
  e = e / np.linalg.norm(e)
  return e, np.array([-e[1], e[0]])


def _marking_quads(marking: LaneMarking) -> list[np.ndarray]:
  """Ground polygons (4, 2) of a painted line's solid pieces (dashes or one per segment)."""
  line = np.asarray(marking.polyline, np.float64)
  half = 0.5 * marking.width
  quads = []
  travelled = 0.0
  for a, b in zip(line[:-1], line[1:]):
    length = float(np.linalg.norm(b - a))
    if length < 1e-9:
      continue
    t = (b - a) / length
    normal = np.array([-t[1], t[0]]) * half
    pieces = [(0.0, length)]
    if marking.dashes is not None:
      on, off = marking.dashes
      period = on + off
      pieces = []
      start = -(travelled % period)
      while start < length:
        s0, s1 = max(start, 0.0), min(start + on, length)
        if s1 > s0:
          pieces.append((s0, s1))
        start += period
    for s0, s1 in pieces:
      p0, p1 = a + s0 * t, a + s1 * t
      quads.append(np.array([p0 - normal, p1 - normal, p1 + normal, p0 + normal]))
    travelled += length
  return quads


def ground_buffers(layout: SceneLayout, camera, rng: np.random.Generator) -> GroundBuffers:
  """Paints the layout's ground as seen by `camera` (geometry.camera.Camera)."""
  K = np.asarray(camera.K, np.float64)
  n = np.asarray(camera.normal, np.float64)
  width, height = int(camera.width), int(camera.height)
  R_cg, t_cg = (np.asarray(a, np.float64) for a in plane_lib.ground_frame(
      jnp.asarray(camera.normal), jnp.asarray(camera.offset)))
  v, u = np.mgrid[0:height, 0:width].astype(np.float64)
  uv = np.stack([u, v], axis=-1)
  xy, valid = (np.asarray(a) for a in plane_lib.pixel_to_ground(camera, jnp.asarray(uv)))
  depth = np.asarray(plane_lib.ray_plane_depth(camera.K, camera.normal, camera.offset,
                                               jnp.asarray(uv)), np.float64)
  rays = np.stack([u, v, np.ones_like(u)], axis=-1) @ np.linalg.inv(K).T
  down = rays @ n  # < 0 where the ray meets the ground in front of the camera
  ground = valid & (depth > 0) & (depth * np.linalg.norm(rays, axis=-1) <= _MAX_DISTANCE)
  depth = np.where(ground, depth, np.inf)
  xy = np.where(ground[..., None], xy.astype(np.float64), 0.0)
  ray_len = np.linalg.norm(rays, axis=-1)
  # Metres per pixel on the ground: distance / focal, stretched by the grazing angle.
  grazing = np.clip(-down / ray_len, 0.05, 1.0)
  footprint = np.where(ground, depth * ray_len / K[0, 0] / np.sqrt(grazing), 1e3)
  sky = np.where(ground, -1.0, np.clip(np.arcsin(np.clip(down / ray_len, -1, 1)) / 0.6, 0, 1))

  grids = [rng.uniform(-1.0, 1.0, (_NOISE_SIZE, _NOISE_SIZE)).astype(np.float32)
           for _ in range(6)]
  big = _fbm(xy, (23.0, 7.0), (0.6, 0.4), grids[:2], footprint)
  medium = _fbm(xy, (1.3, 0.37), (0.6, 0.4), grids[2:4], footprint)
  grain = _fbm(xy, (0.09, 0.031), (0.6, 0.4), grids[4:6], footprint)

  material = np.full((height, width), Surface.GRASS, np.int8)
  patch_of = np.full((height, width), -1, np.int32)
  scratch = np.zeros((height, width), np.uint8)
  for i, patch in enumerate(layout.ground):
    scratch[:] = 0
    fill_ground_polygon(scratch, np.asarray(patch.polygon, np.float64), K, R_cg, t_cg, 1)
    inside = scratch.astype(bool) & ground
    material[inside] = patch.surface
    patch_of[inside] = i

  albedo = np.zeros((height, width, 3), np.float32)
  grass = np.asarray(layout.grass_color, np.float32)
  tone = 1.0 + 0.35 * big + 0.25 * medium + 0.3 * grain
  albedo[:] = grass * tone[..., None]
  # Dry, yellowish patches in the grass.
  albedo[..., 0] += 0.06 * np.clip(big, 0, 1)

  road = np.isin(material, [Surface.ASPHALT, Surface.CROSSWALK, Surface.MARKING,
                            Surface.PARKING])
  asphalt_tone = 1.0 + 0.22 * big + 0.12 * medium + 0.28 * grain
  albedo[road] = ASPHALT * asphalt_tone[road][:, None]
  _wear_lanes(albedo, road, xy, layout, big)
  walk = material == Surface.SIDEWALK
  albedo[walk] = CONCRETE * (1.0 + 0.10 * big + 0.08 * medium + 0.12 * grain)[walk][:, None]

  for i, patch in enumerate(layout.ground):
    here = patch_of == i
    if not here.any():
      continue
    p, fp = xy[here], footprint[here]
    if patch.surface == Surface.SIDEWALK:
      e, f = _patch_axes(patch)
      joint = np.maximum(_line_coverage(_periodic_distance(p @ e, _SLAB), _JOINT, fp),
                         _line_coverage(_periodic_distance(p @ f, _SLAB), _JOINT, fp))
      albedo[here] *= (1.0 - 0.45 * joint)[:, None]
    elif patch.surface == Surface.CROSSWALK:
      # Zebra bars lie along the traffic; walking across, one steps from bar to bar, so the
      # paint alternates along the walking direction `stripe_direction`.
      s = patch.stripe_direction
      s = _patch_axes(patch)[1] if s is None else np.asarray(s, np.float64)
      s = s / np.linalg.norm(s)
      centre = np.asarray(patch.polygon, np.float64).mean(axis=0) @ s
      stripe = _line_coverage(_periodic_distance(p @ s - centre, _ZEBRA_PERIOD),
                              0.5 * _ZEBRA_PERIOD, fp)
      _paint(albedo, here, stripe, PAINT, medium[here], grain[here])
    elif patch.surface == Surface.PARKING:
      e, _ = _patch_axes(patch)
      line = _line_coverage(_periodic_distance(p @ e, _BAY), _BAY_LINE, fp)
      _paint(albedo, here, line, PAINT, medium[here], grain[here])
    elif patch.surface == Surface.MARKING:
      _paint(albedo, here, np.ones(len(p), np.float32), PAINT, medium[here], grain[here])

  for marking in layout.markings:
    scratch[:] = 0
    for quad in _marking_quads(marking):
      fill_ground_polygon(scratch, quad, K, R_cg, t_cg, 255, antialias=True)
    here = (scratch > 0) & ground
    if here.any():
      _paint(albedo, here, scratch[here].astype(np.float32) / 255.0,
             np.asarray(marking.color, np.float32), medium[here], grain[here])
  albedo[~ground] = 0.0
  return GroundBuffers(albedo=np.clip(albedo, 0.0, 1.0), depth=depth,
                       sky=sky.astype(np.float32), xy=np.where(ground[..., None], xy, np.nan))


def _paint(albedo: np.ndarray, where: np.ndarray, coverage: np.ndarray, color: np.ndarray,
           medium: np.ndarray, grain: np.ndarray) -> None:
  """Blends worn road paint of `color` over `albedo` at `where` with per-pixel `coverage`."""
  wear = np.clip(0.85 + 0.35 * medium + 0.2 * grain, 0.3, 1.0)
  alpha = (coverage * wear)[:, None]
  albedo[where] = albedo[where] * (1.0 - alpha) + alpha * color


def _wear_lanes(albedo: np.ndarray, road: np.ndarray, xy: np.ndarray, layout: SceneLayout,
                big: np.ndarray) -> None:
  """Darkens wheel paths (polished, oily) and the oil-drip band in each lane's centre."""
  if not layout.lanes or not road.any():
    return
  p = xy[road]
  dist = np.full(len(p), np.inf)
  for lane in layout.lanes:
    dist = np.minimum(dist, polyline_lib.distance_to_polyline(lane.centreline, p))
  wheel = np.exp(-((dist - _WHEEL_PATH) / 0.3) ** 2)
  drip = np.exp(-(dist / 0.35) ** 2)
  strength = 0.6 + 0.4 * big[road]
  albedo[road] *= (1.0 - (0.10 * wheel + 0.14 * drip) * strength)[:, None]
