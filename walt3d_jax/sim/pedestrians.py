"""People walking the sidewalks and crossings of a `SceneLayout`, one time step at a time.

Walking figures from REFERENCE.md: 1.2–1.5 m/s with a step length of about 0.41 × stature, so a
cadence of about 1.8–2.0 steps/s. People keep to the right of their walkway, some walk in groups
of two or three (two abreast, a third behind), and they cross a road only where a crossing is,
waiting at the kerb while a car is on it or too close to stop.

The traffic module owns the occupancy of the street (`traffic.Occupancy`): a person moves only
to a spot that overlaps nobody and nothing, otherwise it side-steps or waits.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, Protocol

import numpy as np

from walt3d_jax.shapes import person as person_lib
from walt3d_jax.sim import layout as L
from walt3d_jax.sim import polyline as polyline_lib

WALK_SPEED = (1.2, 1.5)  # m/s (REFERENCE.md)
GROUP_PROBABILITY = 0.3  # share of spawns that are a group of 2-3
ROW_OFFSETS = (0.3, 1.0)  # metres right of the walkway centre of the two people abreast
ROW_GAP = 0.9  # metres between rows of a group
TURN_PROBABILITY = 0.35  # at a junction, chance of leaving the current walkway
CROSS_PROBABILITY = 0.4  # ... when the junction leads onto a crossing
SIDESTEP_SPEED = 1.0  # m/s sideways of a blocked person stepping aside
DRIFT_SPEED = 0.5  # m/s towards the preferred lateral offset


class Occupancy(Protocol):
  """What people need from the street: whether a disc is free of every other footprint."""

  def disc_free(self, index: int, centre: np.ndarray, radius: float) -> bool: ...

  def move(self, index: int, centre: np.ndarray, yaw: float) -> None: ...


@dataclasses.dataclass
class Junction:
  """Where walkway `other` can be entered from this walkway at arc length `s` metres.

  s_other: arc length on `other` of the junction; directions: the ways (+1/-1) one can walk on
  `other` from there (one way at its ends, both in its middle).
  """

  s: float
  other: int
  s_other: float
  directions: tuple[int, ...]


@dataclasses.dataclass
class WalkwayGeom:
  """A walkway resampled for fast lookup: points (N, 2), arc length s (N,), unit left normals
  (N, 2) metres; junctions; open_ends: which ends (0 = start, 1 = end) leave the scene."""

  points: np.ndarray
  s: np.ndarray
  normals: np.ndarray
  width: float
  crossing: bool
  junctions: list
  open_ends: tuple[int, ...]

  @property
  def length(self) -> float:
    return float(self.s[-1])

  def at(self, s: float, lateral: float) -> np.ndarray:
    """(2,) ground point at arc length s and `lateral` metres to the left of the centreline;
    s outside [0, length] extends the end segments straight on (people entering at a corner)."""
    k = 0 if s < 0 else (len(self.s) - 1 if s > self.length else None)
    if k is not None:
      tangent = np.array([self.normals[k, 1], -self.normals[k, 0]])
      end = 0.0 if k == 0 else self.length
      return self.points[k] + (s - end) * tangent + lateral * self.normals[k]
    x = np.interp(s, self.s, self.points[:, 0]) + lateral * np.interp(s, self.s, self.normals[:, 0])
    y = np.interp(s, self.s, self.points[:, 1]) + lateral * np.interp(s, self.s, self.normals[:, 1])
    return np.array([x, y])


def walkway_geometry(layout: L.SceneLayout, step: float = 0.5) -> list[WalkwayGeom]:
  """Resampled walkways of a layout with their junctions (from `Walkway.connects`)."""
  geoms = []
  for w in layout.walkways:
    p, s = polyline_lib.resample(w.polyline, step)
    t = np.gradient(p, axis=0)
    t /= np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-12)
    geoms.append(WalkwayGeom(p, s, np.stack([-t[:, 1], t[:, 0]], axis=1), float(w.width),
                             bool(w.crossing), [], ()))
  tol = 0.5
  for i, (w, g) in enumerate(zip(layout.walkways, geoms)):
    for j in w.connects:
      other = geoms[j]
      if g.crossing and other.crossing:
        continue  # crossings meet at a corner of the sidewalk: people go on via the sidewalk
      for end, s_other in ((0, 0.0), (1, other.length)):
        e = other.points[-1 if end else 0]
        d = np.linalg.norm(g.points - e, axis=1)
        k = int(np.argmin(d))
        if d[k] < tol:
          g.junctions.append(Junction(float(g.s[k]), j, s_other, (1,) if end == 0 else (-1,)))
      for end in (0, 1):
        e = g.points[-1 if end else 0]
        d = np.linalg.norm(other.points - e, axis=1)
        k = int(np.argmin(d))
        if d[k] < tol and 0.5 < other.s[k] < other.length - 0.5:
          g.junctions.append(Junction(g.length if end else 0.0, j, float(other.s[k]), (1, -1)))
  for g in geoms:
    ends = []
    for end, s_end in ((0, 0.0), (1, g.length)):
      if not any(abs(jn.s - s_end) < 0.5 for jn in g.junctions):
        ends.append(end)
    g.open_ends = tuple(ends)
    g.junctions.sort(key=lambda jn: jn.s)
  return geoms


@dataclasses.dataclass
class Person:
  """One walking person's state; position (2,) metres, yaw radians, ground frame."""

  track_id: int
  params: object
  radius: float
  stride: float  # metres per gait cycle (two steps): the phase advances by distance / stride
  walkway: int
  s: float
  direction: int  # +1 along the walkway's polyline, -1 against it
  lateral: float  # metres left of the walkway centreline
  slot: float  # preferred metres to the right of the walking direction
  speed: float
  phase: float
  group: int
  position: np.ndarray
  yaw: float
  waiting: Junction | None = None  # the crossing junction this person waits at, if any
  came_from: int = -1  # the walkway they left for this one: no turning straight back


def preferred_lateral(person: Person, geom: WalkwayGeom) -> float:
  """Metres left of the centreline where the person likes to walk (keep right)."""
  limit = max(0.0, geom.width / 2 - person.radius - 0.05)
  return -person.direction * min(person.slot, limit)


def new_group(rng: np.random.Generator, geoms: list[WalkwayGeom], walkway: int, s: float,
              direction: int, first_id: int, group: int) -> list[Person]:
  """A single person or a group (2-3) on `walkway` at arc length s, walking `direction`."""
  size = 1 if rng.uniform() >= GROUP_PROBABILITY else int(rng.integers(2, 4))
  speed = float(rng.uniform(*WALK_SPEED))
  geom = geoms[walkway]
  people = []
  single_slot = float(rng.uniform(ROW_OFFSETS[0], ROW_OFFSETS[1]))
  for k in range(size):
    params = person_lib.sample_person(rng)
    slot = single_slot if size == 1 else ROW_OFFSETS[k % 2]
    pk = Person(
        track_id=first_id + k, params=params, radius=float(person_lib.PERSON_FOOTPRINT_RADIUS),
        stride=2 * float(person_lib.person_step_length(params)), walkway=walkway,
        s=float(np.clip(s - direction * ROW_GAP * (k // 2), 0, geom.length)),
        direction=direction, lateral=0.0, slot=slot, speed=speed, phase=float(rng.uniform()),
        group=group, position=np.zeros(2), yaw=0.0)
    pk.lateral = preferred_lateral(pk, geom)
    pk.position = geom.at(pk.s, pk.lateral)
    t = geom.at(min(pk.s + 0.1, geom.length), 0.0) - geom.at(max(pk.s - 0.1, 0.0), 0.0)
    pk.yaw = math.atan2(direction * t[1], direction * t[0])
    people.append(pk)
  return people


def step_person(p: Person, index: int, geoms: list[WalkwayGeom], dt: float,
                occupancy: Occupancy, crossing_clear: Callable[[int], bool],
                decide: Callable[[Person, Junction], tuple[bool, int]]) -> bool:
  """Moves one person by one time step dt seconds. Returns False when they left the scene.

  crossing_clear(walkway) says whether no car is on, or about to reach, that crossing;
  decide(person, junction) -> (take it, direction on the new walkway), shared by a group.
  """
  geom = geoms[p.walkway]
  if p.waiting is not None:
    # At the kerb, for a crossing: re-check the road, then step onto the crossing.
    jn = p.waiting
    if not crossing_clear(jn.other):
      return True
    _enter(p, geoms, jn, decide(p, jn)[1])
    p.waiting = None
    geom = geoms[p.walkway]
  s_new = p.s + p.direction * p.speed * dt
  # Junctions passed in this step, in walking order.
  lo, hi = sorted((p.s, s_new))
  passed = [j for j in geom.junctions
            if j.other != p.came_from and (lo < j.s <= hi or (p.direction < 0 and lo <= j.s < hi))]
  passed.sort(key=lambda j: p.direction * j.s)
  for jn in passed:
    take, direction = decide(p, jn)
    if not take and not geom.crossing:
      continue  # (a crossing's only way on is onto the sidewalk at its end)
    if geoms[jn.other].crossing and not crossing_clear(jn.other):
      s_new, p.waiting = jn.s, jn
      break
    _enter(p, geoms, jn, direction)
    geom = geoms[p.walkway]
    s_new = p.s + p.direction * 0.05
    break
  if (s_new < 0.0 and p.direction < 0) or (s_new > geom.length and p.direction > 0):
    end = 1 if p.direction > 0 else 0
    if end in geom.open_ends:
      occupancy.move(index, np.array([np.nan, np.nan]), 0.0)
      return False
    p.direction = -p.direction  # a dead end: turn round
    s_new = _clip(s_new, 0.0, geom.length)
  target = preferred_lateral(p, geom)
  limit = max(0.0, geom.width / 2 - p.radius)
  drift = _clip(target - p.lateral, -DRIFT_SPEED * dt, DRIFT_SPEED * dt)
  # Off the centreline, a corner's outer side is longer than its arc length: shorten the step
  # until the person covers about speed * dt, not more.
  for _ in range(4):
    reach = float(np.linalg.norm(geom.at(s_new, p.lateral + drift) - p.position))
    if reach <= 1.05 * p.speed * dt + abs(drift):
      break
    s_new = p.s + (s_new - p.s) * p.speed * dt / reach
  candidates = [(s_new, p.lateral + drift)]
  side = -p.direction  # right of the walking direction, in lateral units
  for shift in (SIDESTEP_SPEED * dt * side, -SIDESTEP_SPEED * dt * side):
    candidates.append((s_new, p.lateral + shift))
    candidates.append((p.s, p.lateral + shift))
  # Someone who entered this walkway off its usable width (at a corner) drifts back onto it
  # rather than jumping.
  lo, hi = min(-limit, p.lateral), max(limit, p.lateral)
  for s_c, lat_c in candidates:
    lat_c = _clip(lat_c, lo, hi)
    centre = geom.at(s_c, lat_c)
    if not _allclose(centre, p.position) and occupancy.disc_free(index, centre, p.radius):
      moved = centre - p.position
      distance = float(np.linalg.norm(moved))
      p.s, p.lateral = s_c, lat_c
      p.position = centre
      p.yaw = math.atan2(moved[1], moved[0]) if distance > 1e-3 else p.yaw
      p.phase = (p.phase + distance / p.stride) % 1.0
      occupancy.move(index, centre, p.yaw)
      return True
  return True


def _clip(x: float, lo: float, hi: float) -> float:
  """float(np.clip(x, lo, hi)) for scalars (lo <= hi), without numpy's per-call overhead.

  Like numpy's, it keeps x itself when x equals a bound, so even the sign of a zero agrees.
  """
  return float(min(max(x, lo), hi))


def _allclose(a: np.ndarray, b: np.ndarray) -> bool:
  """np.allclose(a, b) (default tolerances) of two (2,) points, in scalar maths: numpy's generic
  version costs ~70 us, and every person tries up to five spots every step."""
  for x, y in ((float(a[0]), float(b[0])), (float(a[1]), float(b[1]))):
    if not ((abs(x - y) <= 1e-8 + 1e-5 * abs(y) and math.isfinite(y)) or x == y):
      return False
  return True


def _enter(p: Person, geoms: list[WalkwayGeom], jn: Junction, direction: int) -> None:
  """Moves the person's reference onto walkway jn.other, keeping their actual position."""
  other = geoms[jn.other]
  p.came_from, p.walkway, p.direction = p.walkway, jn.other, direction
  # Express the current position on the new walkway (arc length + lateral offset).
  a, b = other.points[:-1], other.points[1:]
  ab = b - a
  raw = np.sum((p.position - a) * ab, axis=1) / np.maximum(np.sum(ab * ab, axis=1), 1e-12)
  t = np.clip(raw, 0.0, 1.0)
  # Past either end, keep the along-track overshoot (s < 0 or s > length) so nobody jumps.
  t[0], t[-1] = min(raw[0], t[0] if len(t) > 1 else raw[0]), max(raw[-1], t[-1])
  if len(t) == 1:
    t[0] = raw[0]
  foot = a + t[:, None] * ab
  k = int(np.argmin(np.linalg.norm(p.position - foot, axis=1)))
  p.s = float(other.s[k] + t[k] * (other.s[k + 1] - other.s[k]))
  normal = np.array([-ab[k, 1], ab[k, 0]]) / max(float(np.linalg.norm(ab[k])), 1e-12)
  p.lateral = float((p.position - foot[k]) @ normal)
