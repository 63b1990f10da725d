"""Street scenes seen by a stationary traffic camera: `PRESETS[name](seed) -> SceneLayout`.

Each scene is drawn in a local "map" frame (roads along the axes, a junction at the origin) and
then moved into the camera's ground frame (origin under the camera, x along the view, y left):
the camera rig says where the camera stands on the map and which way it looks. The seed varies
the scenery (buildings, trees, parked cars, colours), never the road network.

Figures follow REFERENCE.md: lanes 3.5 m wide (3.0–3.7), urban speed limits <= 14 m/s, cameras
4–15 m high, pitched 15–50 degrees down with a 40–90 degree horizontal field of view.
Right-hand traffic.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

import numpy as np

from walt3d_jax.sim import layout as L
from walt3d_jax.sim import polyline as polyline_lib

LANE_WIDTH = 3.5  # metres (REFERENCE.md: 3.0-3.7)
SIDEWALK_WIDTH = 4.0  # kerb to back of the sidewalk
WALKWAY_OFFSET = 2.25  # walkway centreline from the kerb: a 1 m street-furniture strip first
WALKWAY_WIDTH = 2.8  # two people abreast each way
CROSSING_WIDTH = 3.0
ARM_LENGTH = 48.0  # how far a junction's roads run from its centre
SPEED_LIMIT = 12.5  # m/s, 45 km/h
TURN_SPEED = {"straight": 10.0, "left": 7.5, "right": 6.0}
# Statics keep this far from lane centrelines: half the widest car (2.1 m, REFERENCE.md) plus
# the swing of a 6 m pickup's corners on the tightest turn (radius 6.5 m).
CAR_CLEARANCE = 1.7
# Nothing but the camera's own mast stands this close to it (a large mesh crossing the near
# plane would be clipped away whole).
CAMERA_CLEARANCE = 7.0


def ccw(polygon: np.ndarray) -> np.ndarray:
  """The (N, 2) polygon with its vertices in counter-clockwise order."""
  polygon = np.asarray(polygon, np.float64)
  x, y = polygon[:, 0], polygon[:, 1]
  area = 0.5 * np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)
  return polygon if area > 0 else polygon[::-1].copy()


def _rect(x0: float, x1: float, y0: float, y1: float) -> np.ndarray:
  return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)


def _oriented_rect(centre, yaw: float, length: float, width: float) -> np.ndarray:
  """Corners (4, 2) of a rectangle, counter-clockwise."""
  c, s = math.cos(yaw), math.sin(yaw)
  half = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]], np.float64) * [length / 2, width / 2]
  return np.asarray(centre, np.float64) + half @ np.array([[c, s], [-s, c]])


def points_in_polygon(polygon: np.ndarray, points: np.ndarray) -> np.ndarray:
  """(N,) bool: which points (N, 2) lie inside the polygon (M, 2) (even-odd rule)."""
  points = np.asarray(points, np.float64).reshape(-1, 2)
  a = np.asarray(polygon, np.float64)
  b = np.roll(a, -1, axis=0)
  px, py = points[:, None, 0], points[:, None, 1]
  straddles = (a[None, :, 1] > py) != (b[None, :, 1] > py)
  with np.errstate(divide="ignore", invalid="ignore"):
    x_cross = a[None, :, 0] + (py - a[None, :, 1]) * (b[None, :, 0] - a[None, :, 0]) / (
        b[None, :, 1] - a[None, :, 1])
  return np.sum(straddles & (px < x_cross), axis=1) % 2 == 1


def surface_at(layout: L.SceneLayout, points: np.ndarray) -> np.ndarray:
  """(N,) int `Surface` painted at ground points (N, 2): the last patch containing it wins."""
  points = np.asarray(points, np.float64).reshape(-1, 2)
  out = np.full(len(points), int(L.Surface.GRASS))
  for patch in layout.ground:
    out[points_in_polygon(patch.polygon, points)] = int(patch.surface)
  return out


def static_footprint(obj: L.StaticObject) -> np.ndarray:
  """Corners (4, 2) metres of a static object's footprint, counter-clockwise."""
  return _oriented_rect(obj.position, obj.yaw, obj.size[0], obj.size[1])


def _footprint_samples(corners: np.ndarray, n: int = 6) -> np.ndarray:
  """(n*n, 2) points covering a rectangle given by its corners (4, 2), edges included."""
  t = np.linspace(0, 1, n)
  u, v = np.meshgrid(t, t)
  a, b, d = corners[0], corners[1], corners[3]
  return a + u.reshape(-1, 1) * (b - a) + v.reshape(-1, 1) * (d - a)


def static_clear_of_paths(layout: L.SceneLayout, obj: L.StaticObject, margin: float = 0.0
                          ) -> bool:
  """Whether a static object's footprint keeps CAR_CLEARANCE + margin off every lane's
  centreline and half a walkway's width + margin off every walkway's polyline."""
  return _clear_of_paths(
      [ln.centreline for ln in layout.lanes], [(w.polyline, w.width) for w in layout.walkways],
      static_footprint(obj), margin)


def _clear_of_paths(lanes: list, walkways: list, corners: np.ndarray, margin: float) -> bool:
  pts = _footprint_samples(corners)
  for centreline in lanes:
    if np.any(polyline_lib.distance_to_polyline(centreline, pts) < CAR_CLEARANCE + margin):
      return False
  for polyline, width in walkways:
    if np.any(polyline_lib.distance_to_polyline(polyline, pts) < width / 2 + margin):
      return False
  return True


@dataclasses.dataclass
class _Scene:
  """Mutable lists the preset builders fill in the map frame; camera_xy: (2,) the mast."""

  camera_xy: np.ndarray
  ground: list = dataclasses.field(default_factory=list)
  markings: list = dataclasses.field(default_factory=list)
  lanes: list = dataclasses.field(default_factory=list)
  walkways: list = dataclasses.field(default_factory=list)
  statics: list = dataclasses.field(default_factory=list)

  def patch(self, surface: L.Surface, polygon, stripe_direction=None) -> None:
    stripe = None if stripe_direction is None else np.asarray(stripe_direction, np.float64)
    self.ground.append(L.GroundPatch(surface, ccw(polygon), stripe))

  def mark(self, polyline, width: float = 0.12, dashes=None, color=(0.92, 0.92, 0.88)) -> None:
    self.markings.append(L.LaneMarking(np.asarray(polyline, np.float64), width, dashes, color))

  def lane(self, centreline, spawn: bool, speed_limit: float = SPEED_LIMIT) -> int:
    self.lanes.append({"centreline": polyline_lib.resample(centreline, 1.0)[0],
                       "width": LANE_WIDTH, "spawn": spawn, "speed": speed_limit, "next": []})
    return len(self.lanes) - 1

  def walkway(self, polyline, width: float = WALKWAY_WIDTH, crossing: bool = False) -> int:
    self.walkways.append({"polyline": np.asarray(polyline, np.float64), "width": width,
                          "crossing": crossing})
    return len(self.walkways) - 1

  def place(self, kind: L.StaticKind, position, yaw: float, size, color, seed: int,
            margin: float = 0.3) -> bool:
    """Adds a static object unless it would touch a lane, a walkway or another static."""
    corners = _oriented_rect(position, yaw, size[0], size[1])
    lanes = [ln["centreline"] for ln in self.lanes]
    walkways = [(w["polyline"], w["width"]) for w in self.walkways]
    if not _clear_of_paths(lanes, walkways, corners, margin):
      return False
    if np.min(np.linalg.norm(_footprint_samples(corners) - self.camera_xy, axis=1)) < CAMERA_CLEARANCE:
      return False
    if kind != L.StaticKind.PARKED_CAR:
      road = [p.polygon for p in self.ground if p.surface in (L.Surface.ASPHALT, L.Surface.PARKING)]
      pts = _footprint_samples(corners)
      if any(points_in_polygon(poly, pts).any() for poly in road):
        return False
    for other in self.statics:
      if _rects_overlap(corners, static_footprint(other), margin):
        return False
    self.statics.append(L.StaticObject(kind, np.asarray(position, np.float64), float(yaw),
                                       tuple(float(s) for s in size), tuple(color), int(seed)))
    return True


def _rects_overlap(a: np.ndarray, b: np.ndarray, margin: float) -> bool:
  """Separating-axis test for two convex quads (4, 2), grown by `margin`."""
  for poly in (a, b):
    edges = np.roll(poly, -1, axis=0) - poly
    for e in edges:
      axis = np.array([-e[1], e[0]]) / max(np.linalg.norm(e), 1e-12)
      pa, pb = a @ axis, b @ axis
      if pa.max() + margin <= pb.min() or pb.max() + margin <= pa.min():
        return False
  return True


def _arc(centre, radius: float, a0: float, a1: float, step: float = 0.5) -> np.ndarray:
  n = max(3, int(abs(a1 - a0) * radius / step) + 1)
  a = np.linspace(a0, a1, n)
  return np.asarray(centre) + radius * np.stack([np.cos(a), np.sin(a)], axis=1)


def _perp(u: np.ndarray) -> np.ndarray:
  """u rotated +90 degrees (to the left)."""
  return np.array([-u[1], u[0]])


_ARMS = {"E": np.array([1.0, 0.0]), "N": np.array([0.0, 1.0]),
         "W": np.array([-1.0, 0.0]), "S": np.array([0.0, -1.0])}


def _junction(scene: _Scene, arms: str, half: float = LANE_WIDTH, length: float = ARM_LENGTH
              ) -> None:
  """A junction of two-lane roads (one lane each way) at the map origin.

  arms: which of 'E', 'N', 'W', 'S' exist (3 for a T junction, 4 for a crossroads).
  half: half the road width. Crossings cross each arm just outside the junction box, stop lines
  stand before them, and turn lanes are quarter circles between the stop lines.
  """
  cross = half + WALKWAY_OFFSET  # crossings meet the sidewalk walkways at their corners
  stop = cross + CROSSING_WIDTH / 2 + 1.0  # where inbound lanes end, 1 m before the stripes
  outer = half + SIDEWALK_WIDTH
  # Asphalt: each arm plus the whole junction square, whose corners the sidewalks paint over.
  for name in arms:
    u = _ARMS[name]
    p = _perp(u)
    scene.patch(L.Surface.ASPHALT, np.array(
        [u * half - p * half, u * length - p * half, u * length + p * half, u * half + p * half]))
  scene.patch(L.Surface.ASPHALT, _rect(-outer, outer, -outer, outer))
  # Crosswalk stripes, then sidewalks on top (they hide the stripes past the kerb).
  for name in arms:
    u = _ARMS[name]
    p = _perp(u)
    c0, c1 = u * (cross - CROSSING_WIDTH / 2), u * (cross + CROSSING_WIDTH / 2)
    scene.patch(L.Surface.CROSSWALK, np.array([c0 - p * outer, c1 - p * outer, c1 + p * outer,
                                               c0 + p * outer]), stripe_direction=p)
  for sx in (-1, 1):
    for sy in (-1, 1):
      ax, ay = ("E" if sx > 0 else "W"), ("N" if sy > 0 else "S")
      if ax in arms and ay in arms:
        corner = np.array([sx * outer, sy * outer])
        # Kerb: along the x arm, a quarter circle about the sidewalk's outer corner (radius =
        # sidewalk width), along the y arm; then the back edge against the block.
        a0 = math.atan2(-sy, 0.0)
        a1 = a0 + math.remainder(math.atan2(0.0, -sx) - a0, 2 * math.pi)
        arc = _arc(corner, SIDEWALK_WIDTH, a0, a1)
        poly = np.concatenate([
            [[sx * length, sy * half]], arc, [[sx * half, sy * length]],
            [[sx * outer, sy * length]], [corner], [[sx * length, sy * outer]]])
        scene.patch(L.Surface.SIDEWALK, poly)
        w = half + WALKWAY_OFFSET
        scene.walkway([[sx * length, sy * w], [sx * w, sy * w], [sx * w, sy * length]])
  for name in "NSEW":
    if name not in arms:
      # The road ends here: one straight sidewalk along the through road's side.
      u = _ARMS[name]
      p = _perp(u)
      scene.patch(L.Surface.SIDEWALK, np.array(
          [u * half - p * length, u * half + p * length, u * outer + p * length,
           u * outer - p * length]))
      w = half + WALKWAY_OFFSET
      scene.walkway([u * w - p * length, u * w + p * length])
  for name in arms:
    u = _ARMS[name]
    p = _perp(u)
    scene.walkway([u * cross - p * (half + WALKWAY_OFFSET), u * cross + p * (half + WALKWAY_OFFSET)],
                  width=CROSSING_WIDTH, crossing=True)
  # Lanes: inbound on the right of its travel direction (right-hand traffic).
  inbound, outbound = {}, {}
  for name in arms:
    u = _ARMS[name]
    right_in = _perp(-u) * -1  # right of the inbound direction -u
    right_out = _perp(u) * -1
    inbound[name] = scene.lane([u * length + right_in * half / 2, u * stop + right_in * half / 2],
                               spawn=True)
    outbound[name] = scene.lane([u * stop + right_out * half / 2, u * length + right_out * half / 2],
                                spawn=False)
  for a in arms:
    ua = _ARMS[a]
    for b in arms:
      if a == b:
        continue
      ub = _ARMS[b]
      start = scene.lanes[inbound[a]]["centreline"][-1]
      end = scene.lanes[outbound[b]]["centreline"][0]
      if np.allclose(ua, -ub):
        kind, pts = "straight", np.array([start, end])
      else:
        centre = ua * stop + ub * stop
        a0 = math.atan2(*(start - centre)[::-1])
        a1 = math.atan2(*(end - centre)[::-1])
        if a1 - a0 > math.pi:
          a1 -= 2 * math.pi
        if a0 - a1 > math.pi:
          a1 += 2 * math.pi
        # Right turn when the outbound arm is to the right of the inbound direction.
        kind = "right" if float(np.dot(ub, _perp(-ua))) < 0 else "left"
        pts = _arc(centre, float(np.linalg.norm(start - centre)), a0, a1)
      connector = scene.lane(pts, spawn=False, speed_limit=TURN_SPEED[kind])
      scene.lanes[inbound[a]]["next"].append(connector)
      scene.lanes[connector]["next"].append(outbound[b])
  # Markings: centre line (solid near the junction, dashed further out), edge lines, stop lines.
  for name in arms:
    u = _ARMS[name]
    p = _perp(u)
    near = stop + 15.0
    scene.mark([u * stop, u * near], width=0.15)
    scene.mark([u * near, u * length], width=0.12, dashes=(3.0, 6.0))
    for side in (-1, 1):
      scene.mark([u * outer + p * side * (half - 0.25), u * length + p * side * (half - 0.25)])
    right_in = -_perp(-u)
    scene.mark([u * (stop + 0.25) + right_in * 0.1, u * (stop + 0.25) + right_in * (half - 0.1)],
               width=0.4)


def _connect_walkways(walkways: list) -> list[tuple[int, ...]]:
  """Walkway i connects to j when an end of one lies on the other (within 0.3 m)."""
  n = len(walkways)
  links = [set() for _ in range(n)]
  for i in range(n):
    for j in range(n):
      if i == j:
        continue
      ends = walkways[j]["polyline"][[0, -1]]
      if np.any(polyline_lib.distance_to_polyline(walkways[i]["polyline"], ends) < 0.3):
        links[i].add(j)
        links[j].add(i)
  return [tuple(sorted(s)) for s in links]


def _finish(scene: _Scene, name: str, rig: L.CameraRig, target_xy,
            grass_color=(0.33, 0.42, 0.25)) -> L.SceneLayout:
  """Freezes the map-frame scene into the ground frame of its camera looking at target_xy
  (the view direction projected on the ground becomes +x)."""
  origin = np.asarray(scene.camera_xy, np.float64)
  heading = math.atan2(target_xy[1] - origin[1], target_xy[0] - origin[0])
  c, s = math.cos(heading), math.sin(heading)
  rot = np.array([[c, -s], [s, c]])  # map = rot @ ground; so ground = (map - origin) @ rot

  def move(p):
    return (np.asarray(p, np.float64) - origin) @ rot

  def turn(v):
    return None if v is None else np.asarray(v) @ rot

  ground = tuple(L.GroundPatch(g.surface, move(g.polygon), turn(g.stripe_direction))
                 for g in scene.ground)
  markings = tuple(dataclasses.replace(m, polyline=move(m.polyline)) for m in scene.markings)
  lanes = tuple(L.Lane(move(ln["centreline"]), ln["width"], tuple(ln["next"]), ln["spawn"],
                       ln["speed"]) for ln in scene.lanes)
  links = _connect_walkways(scene.walkways)
  walkways = tuple(L.Walkway(move(w["polyline"]), w["width"], w["crossing"], links[i])
                   for i, w in enumerate(scene.walkways))
  statics = tuple(dataclasses.replace(o, position=move(o.position),
                                      yaw=float(math.remainder(o.yaw - heading, 2 * math.pi)))
                  for o in scene.statics)
  return L.SceneLayout(name, rig, ground, markings, lanes, walkways, statics, grass_color)


def _building_color(rng: np.random.Generator) -> tuple[float, float, float]:
  palette = np.array([[0.62, 0.55, 0.48], [0.72, 0.68, 0.60], [0.55, 0.35, 0.30],
                      [0.78, 0.76, 0.72], [0.45, 0.47, 0.52], [0.70, 0.60, 0.42]])
  return tuple(float(v) for v in np.clip(palette[rng.integers(len(palette))]
                                         + rng.normal(0, 0.03, 3), 0, 1))


def _buildings_along(scene: _Scene, rng, start, direction, depth_dir, x0: float, x1: float,
                     setback: float) -> None:
  """A row of buildings whose fronts face the street, from x0 to x1 along `direction`."""
  u, v = np.asarray(direction, np.float64), np.asarray(depth_dir, np.float64)
  x = x0
  yaw = math.atan2(v[1], v[0])
  while x < x1 - 6.0:
    width = float(rng.uniform(8.0, 18.0))
    depth = float(rng.uniform(8.0, 14.0))
    height = float(rng.uniform(6.0, 22.0))
    centre = np.asarray(start) + u * (x + width / 2) + v * (setback + depth / 2)
    scene.place(L.StaticKind.BUILDING, centre, yaw, (depth, width, height), _building_color(rng),
                int(rng.integers(2**31)))
    x += width + float(rng.uniform(0.5, 4.0))


def _tree(scene: _Scene, rng, position) -> bool:
  size = float(rng.uniform(2.0, 3.2))
  color = tuple(float(v) for v in np.clip([0.22, 0.38, 0.16] + rng.normal(0, 0.04, 3), 0, 1))
  return scene.place(L.StaticKind.TREE, position, float(rng.uniform(0, math.pi)),
                     (size, size, float(rng.uniform(5.0, 9.0))), color, int(rng.integers(2**31)))


def _pole(scene: _Scene, rng, position, height: float = 7.5) -> bool:
  return scene.place(L.StaticKind.POLE, position, 0.0, (0.3, 0.3, height), (0.35, 0.36, 0.38),
                     int(rng.integers(2**31)), margin=0.15)


def _sign(scene: _Scene, rng, position, yaw: float) -> bool:
  return scene.place(L.StaticKind.SIGN, position, yaw, (0.1, 0.4, 2.6), (0.8, 0.1, 0.1),
                     int(rng.integers(2**31)), margin=0.15)


def _parked_cars(scene: _Scene, rng, start, direction, length: float) -> None:
  """Cars parked nose to tail along a parking strip's centreline."""
  u = np.asarray(direction, np.float64)
  s = float(rng.uniform(0.5, 4.0))
  yaw = math.atan2(u[1], u[0])
  while s < length - 5.5:
    car_length = float(rng.uniform(3.9, 5.2))
    if rng.uniform() < 0.75:
      scene.place(L.StaticKind.PARKED_CAR, np.asarray(start) + u * (s + car_length / 2), yaw,
                  (car_length, float(rng.uniform(1.7, 1.95)), 1.5), (0.5, 0.5, 0.5),
                  int(rng.integers(2**31)), margin=0.2)
    s += car_length + float(rng.uniform(0.8, 3.0))


def _deg(x: float) -> float:
  return math.radians(x)


def intersection(seed: int) -> L.SceneLayout:
  """A four-way crossroads seen from a 9 m pole on a corner, looking across the junction.

  One lane each way on every arm, straight / left / right turn lanes through the junction,
  zebra crossings on all four arms, buildings on three blocks, traffic-light poles and trees
  between the camera and the road.
  """
  rng = np.random.default_rng(seed)
  scene = _Scene(np.array([-13.0, -12.0]))
  _junction(scene, "ENWS")
  half, outer = LANE_WIDTH, LANE_WIDTH + SIDEWALK_WIDTH
  for sx, sy in ((1, 1), (-1, 1), (1, -1)):
    _buildings_along(scene, rng, [sx * (outer + 1.0), sy * (outer + 2.0)], [sx, 0], [0, sy],
                     0.0, ARM_LENGTH - outer, 0.0)
  # The camera's own block (south-west): a small park with trees.
  for _ in range(12):
    _tree(scene, rng, [-rng.uniform(outer + 2, 30), -rng.uniform(outer + 2, 30)])
  # Traffic-light poles at the kerb just before each stop line, signs by the kerb.
  for name, u in _ARMS.items():
    right_in = -_perp(-u)
    _pole(scene, rng, u * (outer + 1.0) + right_in * (half + 0.4))
    _sign(scene, rng, u * (outer + 6.0) + right_in * (half + 0.45), math.atan2(u[1], u[0]))
    _pole(scene, rng, u * (outer + 20.0) - right_in * (half + 0.4))
  for _ in range(6):
    d = rng.uniform(outer + 3, ARM_LENGTH - 3)
    _tree(scene, rng, [-d, -(outer + 1.8)])
  rig = L.CameraRig(height=9.0, pitch=_deg(30.0), hfov=_deg(72.0))
  return _finish(scene, "intersection", rig, target_xy=[0.0, 1.0])


def t_junction(seed: int) -> L.SceneLayout:
  """A side road joining a through road, seen from 11 m across the through road.

  Lanes turn left and right into and out of the side road; crossings on all three arms.
  """
  rng = np.random.default_rng(seed)
  scene = _Scene(np.array([-21.0, 4.2]))
  _junction(scene, "EWS")
  half, outer = LANE_WIDTH, LANE_WIDTH + SIDEWALK_WIDTH
  _buildings_along(scene, rng, [-ARM_LENGTH, outer + 1.0], [1, 0], [0, 1], 0.0, 2 * ARM_LENGTH - 6,
                   1.0)
  for sx in (-1, 1):
    _buildings_along(scene, rng, [sx * (outer + 1.0), -(outer + 2.0)], [sx, 0], [0, -1], 0.0,
                     ARM_LENGTH - outer, 0.0)
  # A row of street trees and lamp posts along the camera's side of the through road.
  for x in np.arange(-40.0, 40.0, 9.0) + rng.uniform(0, 3):
    if abs(x) > 7:
      _pole(scene, rng, [x, half + 0.5])
  scene.place(L.StaticKind.BUS_SHELTER, [float(rng.uniform(12, 20)), outer + 1.0], 0.0,
              (4.0, 1.6, 2.5), (0.55, 0.6, 0.65), int(rng.integers(2**31)))
  for name in "EWS":
    u = _ARMS[name]
    right_in = -_perp(-u)
    _pole(scene, rng, u * (outer + 1.0) + right_in * (half + 0.4))
    _sign(scene, rng, u * (outer + 6.0) + right_in * (half + 0.45), math.atan2(u[1], u[0]))
  rig = L.CameraRig(height=11.0, pitch=_deg(28.0), hfov=_deg(64.0))
  return _finish(scene, "t_junction", rig, target_xy=[2.0, -6.0])


def avenue(seed: int) -> L.SceneLayout:
  """A four-lane two-way avenue seen along its length from a 13 m mast beside it.

  Two lanes each way, a parking strip with parked cars on the far side, grass verges with
  trees and lamp posts, sidewalks both sides, one mid-block zebra crossing.
  """
  rng = np.random.default_rng(seed)
  scene = _Scene(np.array([-8.0, 2 * LANE_WIDTH + 3.0]))
  x0, x1 = -25.0, 150.0
  half = 2 * LANE_WIDTH
  park = 2.5
  verge = 2.0
  crossing_x = 48.0
  y_near = half + verge  # camera side (left, +y): road edge, verge, sidewalk
  y_far = -(half + park + verge)
  scene.patch(L.Surface.ASPHALT, _rect(x0, x1, -half - park, half))
  scene.patch(L.Surface.PARKING, _rect(x0, x1, -half - park, -half))
  scene.patch(L.Surface.CROSSWALK, _rect(crossing_x - 1.5, crossing_x + 1.5, -half - park, half),
              stripe_direction=[0.0, 1.0])
  for y_kerb, sign in ((half, 1), (-half - park, -1)):
    y_walk = y_kerb + sign * verge
    # Sidewalk strip, plus a paved gap through the verge at the crossing.
    scene.patch(L.Surface.SIDEWALK, _rect(x0, x1, *sorted([y_walk, y_walk + sign * 3.0])))
    scene.patch(L.Surface.SIDEWALK, _rect(crossing_x - 1.5, crossing_x + 1.5,
                                          *sorted([y_kerb, y_walk])))
    scene.walkway([[x0, y_walk + sign * 1.5], [x1, y_walk + sign * 1.5]], width=WALKWAY_WIDTH)
  scene.walkway([[crossing_x, y_far - 1.5], [crossing_x, y_near + 1.5]], width=CROSSING_WIDTH,
                crossing=True)
  # Lanes: eastbound (+x) on the right (y < 0), westbound on the left.
  for k in (0, 1):
    y = -(k + 0.5) * LANE_WIDTH
    scene.lane([[x0, y], [x1, y]], spawn=True, speed_limit=13.5 - k)
    scene.lane([[x1, -y], [x0, -y]], spawn=True, speed_limit=13.5 - k)
  scene.mark([[x0, 0.15], [x1, 0.15]])
  scene.mark([[x0, -0.15], [x1, -0.15]])
  for y in (LANE_WIDTH, -LANE_WIDTH):
    scene.mark([[x0, y], [crossing_x - 3, y]], dashes=(3.0, 9.0))
    scene.mark([[crossing_x + 3, y], [x1, y]], dashes=(3.0, 9.0))
  scene.mark([[x0, half - 0.25], [x1, half - 0.25]])
  scene.mark([[x0, -half + 0.1], [x1, -half + 0.1]])
  for xs, (ya, yb) in ((crossing_x - 2.5, (0.0, -half)), (crossing_x + 2.5, (0.0, half))):
    scene.mark([[xs, ya], [xs, yb]], width=0.4)
  # Parked cars in the parking strip, clear of the crossing.
  _parked_cars(scene, rng, [x0, -half - park / 2], [1, 0], crossing_x - 3 - x0)
  _parked_cars(scene, rng, [crossing_x + 3, -half - park / 2], [1, 0], x1 - crossing_x - 3)
  # Verge trees and lamp posts; some stand between the camera and the lanes.
  for x in np.arange(x0 + 3, x1, 10.0) + rng.uniform(0, 3):
    for y in (half + verge / 2, -half - park - verge / 2):
      if rng.uniform() < 0.6:
        scene.place(L.StaticKind.TREE, [x, y], 0.0, (1.6, 1.6, float(rng.uniform(5, 8))),
                    (0.22, 0.4, 0.17), int(rng.integers(2**31)), margin=0.15)
      else:
        _pole(scene, rng, [x, y], height=9.0)
  _sign(scene, rng, [crossing_x - 5, half + verge / 2], 0.0)
  _sign(scene, rng, [crossing_x + 5, -half - park - verge / 2], math.pi)
  scene.place(L.StaticKind.BUS_SHELTER, [70.0, y_far - 3.0 - 1.0], 0.0, (4.0, 1.6, 2.5),
              (0.55, 0.6, 0.65), int(rng.integers(2**31)))
  for y0, sign in ((y_near + 3.5, 1), (y_far - 3.5, -1)):
    scene_start = [x0, y0]
    _buildings_along(scene, rng, scene_start, [1, 0], [0, sign], 0.0, x1 - x0, 1.5)
  rig = L.CameraRig(height=13.0, pitch=_deg(22.0), hfov=_deg(58.0))
  return _finish(scene, "avenue", rig, target_xy=[40.0, -3.0])


def crosswalk(seed: int) -> L.SceneLayout:
  """A two-lane street with a zebra crossing, seen from 5 m with a wide lens at the kerb.

  Close-up people crossing in front of waiting cars; a bus shelter, lamp posts and trees stand
  between the camera and the road.
  """
  rng = np.random.default_rng(seed)
  scene = _Scene(np.array([-8.0, LANE_WIDTH + 5.0]))
  x0, x1 = -45.0, 45.0
  half = LANE_WIDTH
  scene.patch(L.Surface.ASPHALT, _rect(x0, x1, -half, half))
  scene.patch(L.Surface.CROSSWALK, _rect(-1.5, 1.5, -half, half), stripe_direction=[0.0, 1.0])
  for sign in (-1, 1):
    scene.patch(L.Surface.SIDEWALK, _rect(x0, x1, *sorted([sign * half, sign * (half + 4.5)])))
    scene.walkway([[x0, sign * (half + 2.6)], [x1, sign * (half + 2.6)]], width=WALKWAY_WIDTH)
  scene.walkway([[0.0, -(half + 2.6)], [0.0, half + 2.6]], width=CROSSING_WIDTH, crossing=True)
  scene.lane([[x0, -half / 2], [x1, -half / 2]], spawn=True, speed_limit=11.0)
  scene.lane([[x1, half / 2], [x0, half / 2]], spawn=True, speed_limit=11.0)
  scene.mark([[x0, 0], [-6, 0]], dashes=(3.0, 6.0))
  scene.mark([[6, 0], [x1, 0]], dashes=(3.0, 6.0))
  scene.mark([[-6, 0], [-2, 0]])
  scene.mark([[2, 0], [6, 0]])
  scene.mark([[-2.5, 0], [-2.5, -half]], width=0.4)
  scene.mark([[2.5, 0], [2.5, half]], width=0.4)
  for sign in (-1, 1):
    scene.mark([[x0, sign * (half - 0.2)], [x1, sign * (half - 0.2)]])
  # Street furniture in the strip by the kerb (the walkway starts 1.3 m from it).
  for x in (-14.0, -4.0, 6.5, 17.0):
    _pole(scene, rng, [x + rng.uniform(-1, 1), half + 0.5])
  for x in (-9.0, 11.0, 24.0):
    scene.place(L.StaticKind.TREE, [x + rng.uniform(-1, 1), -(half + 0.6)], 0.0,
                (0.9, 0.9, float(rng.uniform(5, 7))), (0.24, 0.4, 0.18), int(rng.integers(2**31)),
                margin=0.1)
  _sign(scene, rng, [-3.0, half + 0.5], 0.0)
  _sign(scene, rng, [3.0, -(half + 0.5)], math.pi)
  scene.place(L.StaticKind.BUS_SHELTER, [12.0, half + 4.5 + 1.0], 0.0, (4.0, 1.6, 2.5),
              (0.55, 0.6, 0.65), int(rng.integers(2**31)))
  for sign in (-1, 1):
    _buildings_along(scene, rng, [x0, sign * (half + 5.5)], [1, 0], [0, sign], 0.0, x1 - x0, 0.5)
  rig = L.CameraRig(height=5.0, pitch=_deg(24.0), hfov=_deg(86.0))
  return _finish(scene, "crosswalk", rig, target_xy=[3.0, -2.0])


PRESETS: dict[str, Callable[[int], L.SceneLayout]] = {
    "intersection": intersection,
    "avenue": avenue,
    "crosswalk": crosswalk,
    "t_junction": t_junction,
}
