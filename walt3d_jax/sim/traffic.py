"""Cars and people moving through a `SceneLayout`: `simulate_burst` -> per-frame agent states.

Cars enter at spawn lanes, follow lane centrelines (yaw = the centreline's tangent) with the
Intelligent Driver Model (Treiber, Hennecke & Helbing 2000), pick a successor lane (straight or a
turn) at each lane end, enter a junction lane only while no car is on a lane crossing or merging
with it, stop for people on crossings and leave at exit lanes; new cars keep about `num_cars` in
the scene. Urban speeds 5–14 m/s (REFERENCE.md) come from the lanes' speed limits. People are
`walt3d_jax.sim.pedestrians`.

Hard invariant: in every frame no two agents' footprints (cars: rectangles of
`car_dimensions`; people: discs of `PERSON_FOOTPRINT_RADIUS`) and no agent and static object
overlap. Agents move one after another (in a random order each step) and an agent moves only to
a spot that is free of everyone's footprint at that moment, otherwise it stays; so the invariant
holds after every single move. Everything is numpy: ~20 agents cost well under a millisecond of
array work per step, where jitted calls with changing shapes would cost far more in dispatch.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from walt3d_jax.shapes import vehicle
from walt3d_jax.sim import layout as L
from walt3d_jax.sim import polyline as polyline_lib
from walt3d_jax.sim import pedestrians

# Intelligent Driver Model for urban traffic (Treiber & Kesting, "Traffic Flow Dynamics", 2013).
MAX_ACCEL = 2.0  # m/s^2
COMFORT_DECEL = 2.0  # m/s^2
HEADWAY = 1.2  # s
MIN_GAP = 2.0  # m, standing bumper-to-bumper gap
DESIRED_SPEED = (0.85, 1.0)  # a driver's share of the speed limit
LOOKAHEAD = 45.0  # metres of path scanned for obstacles
LANE_CLEARANCE = 0.3  # metres: lateral slack when deciding whether an obstacle is in my path
CONFLICT_DISTANCE = 3.0  # lanes whose centrelines come closer conflict (lanes are >= 3.5 apart)
CLEARANCE = 0.08  # metres every footprint keeps from every other one
CROSSING_WARNING = 1.5  # metres: people stay off a crossing a car cannot stop before + this
CROSSING_REACTION = 0.7  # s: a driver's reaction time before braking for a crossing person
CAR_SPAWN_RATE = 0.8  # cars per second at most while below the target count
PEOPLE_SPAWN_RATE = 0.6  # groups per second
WARMUP_SECONDS = 14.0
WARMUP_DT = 0.1


@dataclasses.dataclass(frozen=True)
class AgentState:
  """One agent in one frame.

  kind: 'car' or 'person'. position: (2,) metres, ground frame (footprint centre); yaw: radians
  from +x towards +y (heading); speed: m/s; params: the car parameter vector of
  `shapes.vehicle` or the person parameters of `shapes.person`; phase: gait phase in [0, 1)
  (people; 0 for cars).
  """

  track_id: int
  kind: str
  position: np.ndarray
  yaw: float
  speed: float
  params: object
  phase: float = 0.0


@dataclasses.dataclass
class LaneGeom:
  """A lane resampled every metre: points (N, 2), arc length s (N,), heading (N,) unwrapped
  radians; conflicts: {other lane: arc length on the other lane where the stretch that comes
  within CONFLICT_DISTANCE of this lane ends}; crossings: (walkway, s_in, s_out) metres."""

  points: np.ndarray
  s: np.ndarray
  heading: np.ndarray
  speed_limit: float
  successors: tuple[int, ...]
  spawn: bool
  conflicts: dict
  crossings: list

  @property
  def length(self) -> float:
    return float(self.s[-1])

  def at(self, s: float) -> tuple[np.ndarray, float]:
    """Centreline point (2,) and heading (radians) at arc length s."""
    x = np.interp(s, self.s, self.points[:, 0])
    y = np.interp(s, self.s, self.points[:, 1])
    return np.array([x, y]), float(np.interp(s, self.s, self.heading))


def lane_geometry(layout: L.SceneLayout, walkways: list[pedestrians.WalkwayGeom]
                  ) -> list[LaneGeom]:
  """Resampled lanes with their conflict sets and crossing intervals."""
  geoms = []
  for lane in layout.lanes:
    p, s = polyline_lib.resample(lane.centreline, 1.0)
    t = np.gradient(p, axis=0)
    heading = np.unwrap(np.arctan2(t[:, 1], t[:, 0]))
    geoms.append(LaneGeom(p, s, heading, float(lane.speed_limit), tuple(lane.successors),
                          bool(lane.spawn), {}, []))
  parents = [set() for _ in geoms]
  for i, g in enumerate(geoms):
    for j in g.successors:
      parents[j].add(i)
  for i, gi in enumerate(geoms):
    for j, gj in enumerate(geoms):
      if j <= i or j in gi.successors or i in gj.successors or parents[i] & parents[j]:
        continue  # consecutive lanes and siblings of one lane are ordered by car following
      close = np.linalg.norm(gi.points[:, None] - gj.points[None], axis=-1) < CONFLICT_DISTANCE
      if close.any():
        gi.conflicts[j] = float(gj.s[np.nonzero(close.any(axis=0))[0][-1]])
        gj.conflicts[i] = float(gi.s[np.nonzero(close.any(axis=1))[0][-1]])
  for g in geoms:
    for w, walk in enumerate(walkways):
      if not walk.crossing:
        continue
      d = polyline_lib.distance_to_polyline(walk.points, g.points)
      inside = np.nonzero(d < walk.width / 2 + 0.5)[0]
      if len(inside):
        g.crossings.append((w, float(g.s[inside[0]]), float(g.s[inside[-1]])))
  return geoms


class Occupancy:
  """Every agent's footprint in fixed slots plus the statics', for one-against-all tests.

  Slots hold rectangles (cars, statics) as centre (2,), yaw, half size (2,) and discs (people)
  as centre and radius; an empty slot has a NaN centre. The statics fill the rows after the
  `capacity` agent slots, so one set of array operations tests against everything at once
  (these tests run for every move of every agent). All tests grow shapes by CLEARANCE.
  """

  def __init__(self, capacity: int, statics: tuple[L.StaticObject, ...]):
    n = capacity + len(statics)
    self.centre = np.full((n, 2), np.nan)
    self.yaw = np.zeros(n)
    self.half = np.zeros((n, 2))
    self.is_disc = np.zeros(n, bool)
    if statics:
      self.centre[capacity:] = np.array([o.position for o in statics], np.float64).reshape(-1, 2)
      self.yaw[capacity:] = np.array([o.yaw for o in statics], np.float64)
      self.half[capacity:] = np.array([o.size[:2] for o in statics], np.float64).reshape(-1, 2) / 2
    self._update_reach()

  def _update_reach(self) -> None:
    # (N,) metres: bounding-circle radius of every slot, for the cheap cull in `_free`.
    self.reach = np.hypot(self.half[:, 0], self.half[:, 1])

  def set(self, index: int, centre, yaw: float, half_size, is_disc: bool) -> None:
    self.centre[index] = centre
    self.yaw[index] = yaw
    self.half[index] = half_size
    self.is_disc[index] = is_disc
    self._update_reach()

  def move(self, index: int, centre: np.ndarray, yaw: float) -> None:
    self.centre[index] = centre
    self.yaw[index] = yaw

  def disc_free(self, index: int, centre: np.ndarray, radius: float) -> bool:
    return self._free(index, centre, 0.0, np.array([radius, radius]), True)

  def rect_free(self, index: int, centre: np.ndarray, yaw: float, half_size: np.ndarray) -> bool:
    return self._free(index, centre, yaw, half_size, False)

  def _free(self, index: int, centre, yaw, half, is_disc) -> bool:
    # Cheap cull by bounding circles before the exact tests (NaN centres of empty slots
    # compare False). sqrt(dx^2 + dy^2) is what np.linalg.norm computes, at a third the cost.
    reach = np.hypot(*half) if not is_disc else half[0]
    d = self.centre - centre
    near = np.sqrt(d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1]) < reach + self.reach + CLEARANCE
    near[index] = False
    if not near.any():
      return True
    c, y, h, disc = self.centre[near], self.yaw[near], self.half[near], self.is_disc[near]
    rect = ~disc
    if disc.any():
      if is_disc:
        hit = np.linalg.norm(c[disc] - centre, axis=1) < h[disc, 0] + half[0] + CLEARANCE
      else:
        hit = _disc_rect_overlap(c[disc], h[disc, 0], centre, yaw, half)
      if hit.any():
        return False
    if rect.any():
      if is_disc:
        hit = _disc_rect_overlap(centre, half[0], c[rect], y[rect], h[rect])
      else:
        hit = _rect_rect_overlap(centre, yaw, half, c[rect], y[rect], h[rect])
      if hit.any():
        return False
    return True


def _disc_rect_overlap(p: np.ndarray, r, c: np.ndarray, yaw, half: np.ndarray) -> np.ndarray:
  """(M,) bool: discs (p, r) within CLEARANCE of rectangles (c, yaw, half).

  One side is a batch of M, the other a single shape (or both M): p, c (2,) or (M, 2); r, yaw
  scalars or (M,); half (2,) or (M, 2).
  """
  d = p - c
  cos, sin = np.cos(yaw), np.sin(yaw)
  local = np.stack([cos * d[:, 0] + sin * d[:, 1], -sin * d[:, 0] + cos * d[:, 1]], axis=1)
  outside = np.maximum(np.abs(local) - half, 0.0)
  return np.linalg.norm(outside, axis=1) < r + CLEARANCE


def _corners(c: np.ndarray, yaw: np.ndarray, half: np.ndarray) -> np.ndarray:
  """(M, 4, 2) corners of rectangles c (M, 2), yaw (M,), half (M, 2)."""
  u = np.stack([np.cos(yaw), np.sin(yaw)], axis=-1)
  v = np.stack([-u[..., 1], u[..., 0]], axis=-1)
  signs = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]], np.float64)
  return (c[:, None] + signs[None, :, :1] * (half[:, None, :1] * u[:, None])
          + signs[None, :, 1:] * (half[:, None, 1:] * v[:, None]))


def _rect_rect_overlap(c: np.ndarray, yaw: float, half: np.ndarray, cs: np.ndarray,
                       yaws: np.ndarray, halves: np.ndarray) -> np.ndarray:
  """(M,) bool: one rectangle within CLEARANCE of rectangles (M,) (separating axes)."""
  a = _corners(c[None], np.array([yaw]), half[None])[0]  # (4, 2)
  b = _corners(cs, yaws, halves)  # (M, 4, 2)
  axes_a = np.array([[math.cos(yaw), math.sin(yaw)], [-math.sin(yaw), math.cos(yaw)]])
  axes_b = np.stack([np.stack([np.cos(yaws), np.sin(yaws)], -1),
                     np.stack([-np.sin(yaws), np.cos(yaws)], -1)], axis=1)  # (M, 2, 2)
  separated = np.zeros(len(cs), bool)
  pa = a @ axes_a.T  # (4, 2)
  pb = np.einsum("mkj,ij->mki", b, axes_a)  # (M, 4, 2)
  separated |= np.any((pa.max(0)[None] + CLEARANCE <= pb.min(1))
                      | (pb.max(1) + CLEARANCE <= pa.min(0)[None]), axis=1)
  qa = np.einsum("kj,mij->mki", a, axes_b)  # (M, 4, 2)
  qb = np.einsum("mkj,mij->mki", b, axes_b)
  separated |= np.any((qa.max(1) + CLEARANCE <= qb.min(1)) | (qb.max(1) + CLEARANCE <= qa.min(1)),
                      axis=1)
  return ~separated


@dataclasses.dataclass
class Car:
  """One car's state: on `lane` at arc length s (its centre), speed v m/s."""

  track_id: int
  params: np.ndarray
  length: float
  width: float
  lane: int
  s: float
  v: float
  desire: float  # share of the speed limit this driver aims for
  next_lane: int  # chosen successor, -1 at an exit
  prev_lane: int  # the lane it came from while its tail is still there, else -1
  position: np.ndarray
  yaw: float


class _World:
  """The whole simulation state and its step; see the module docstring."""

  def __init__(self, layout: L.SceneLayout, rng: np.random.Generator, num_cars: int,
               num_people: int, first_track_id: int):
    self.rng = rng
    self.walkways = pedestrians.walkway_geometry(layout)
    self.lanes = lane_geometry(layout, self.walkways)
    self.num_cars, self.num_people = num_cars, num_people
    self.next_id = first_track_id
    self.next_group = 0
    # Slots: one per agent alive at once; generous so spawning never runs out.
    self.capacity = 2 * (num_cars + num_people) + 8
    self.occupancy = Occupancy(self.capacity, layout.statics)
    self.agents: dict[int, Car | pedestrians.Person] = {}
    self.decisions: dict[tuple[int, int, float], tuple[bool, int]] = {}
    self.spawn_lanes = [i for i, g in enumerate(self.lanes) if g.spawn]
    self.open_ends = [(w, end) for w, g in enumerate(self.walkways) if not g.crossing
                      for end in g.open_ends]

  # ---- bookkeeping ---------------------------------------------------------------------------
  def _free_slot(self) -> int | None:
    for i in range(self.capacity):
      if i not in self.agents:
        return i
    return None

  def cars(self) -> list[tuple[int, Car]]:
    return [(i, a) for i, a in self.agents.items() if isinstance(a, Car)]

  def people(self) -> list[tuple[int, pedestrians.Person]]:
    return [(i, a) for i, a in self.agents.items() if isinstance(a, pedestrians.Person)]

  # ---- cars ----------------------------------------------------------------------------------
  def _choose_next(self, lane: int) -> int:
    succ = self.lanes[lane].successors
    return int(succ[self.rng.integers(len(succ))]) if succ else -1

  def try_spawn_car(self, lane: int, s: float | None = None) -> bool:
    slot = self._free_slot()
    if slot is None:
      return False
    params = vehicle.sample_car_params(self.rng)
    length, width, _ = vehicle.car_dimensions(params)
    g = self.lanes[lane]
    s = length / 2 + 0.1 if s is None else s
    position, yaw = g.at(s)
    car = Car(self.next_id, params, length, width, lane, s, 0.0,
              float(self.rng.uniform(*DESIRED_SPEED)), self._choose_next(lane), -1, position, yaw)
    # Room for a short braking distance in front: a grown footprint must be free.
    grown = np.array([length / 2 + 4.0, width / 2 + 0.3])
    if not self.occupancy.rect_free(slot, position, yaw, grown):
      return False
    gap, _ = self._leader_gap(slot, car)
    car.v = float(min(car.desire * g.speed_limit, max(0.0, (gap - MIN_GAP) / HEADWAY)))
    self.occupancy.set(slot, position, yaw, np.array([length / 2, width / 2]), False)
    self.agents[slot] = car
    self.next_id += 1
    return True

  def _may_enter(self, slot: int, lane: int) -> bool:
    """Whether no other car is on a conflicting lane short of the end of the conflict zone.

    A car counts from entering the conflicting lane until its rear has passed the zone, so
    crossing lanes are free again as soon as the car is through, merging ones once it left.
    """
    conflicts = self.lanes[lane].conflicts
    for i, c in self.cars():
      if i == slot:
        continue
      for other, rear in ((c.lane, c.s - c.length / 2),
                          (c.prev_lane, c.s + self.lanes[c.prev_lane].length - c.length / 2)):
        if other >= 0 and other in conflicts and rear < conflicts[other] + 0.5:
          return False
    return True

  def _busy_crossings(self) -> set:
    """Crossings with someone walking on them (one waiting at its far end for the next
    crossing stands on the sidewalk and does not count)."""
    return {p.walkway for _, p in self.people()
            if self.walkways[p.walkway].crossing and p.waiting is None}

  def _leader_gap(self, slot: int, car: Car) -> tuple[float, float]:
    """Bumper gap (m) to the nearest obstacle on the car's path and that obstacle's speed."""
    g = self.lanes[car.lane]
    front = car.s + car.length / 2
    best_gap, best_v = math.inf, 0.0
    # Path points ahead of the car's centre along this lane and its chosen successor (arc
    # lengths are sorted, so the points ahead are a suffix and those within LOOKAHEAD a prefix).
    first = np.searchsorted(g.s, car.s, side="right")
    pts, s_path = g.points[first:], g.s[first:]
    remaining = g.length - car.s
    if car.next_lane >= 0:
      n = self.lanes[car.next_lane]
      keep = np.searchsorted(n.s, LOOKAHEAD, side="left")
      pts = np.concatenate([pts, n.points[:keep]])
      s_path = np.concatenate([s_path, g.length + n.s[:keep]])
    # Discs standing for the other agents: three along each car, one per person.
    discs, radii, speeds = [], [], []
    heading = np.array([math.cos(car.yaw), math.sin(car.yaw)])
    cx, cy = float(car.position[0]), float(car.position[1])
    hx, hy = float(heading[0]), float(heading[1])
    # Every agent's position is its occupancy centre: one array pass keeps those ahead and
    # roughly within reach (squared distance, with slack for rounding); the exact scalar test
    # below then decides as before.
    d = self.occupancy.centre[:self.capacity] - car.position
    candidate = ((d[:, 0] * hx + d[:, 1] * hy > 0)
                 & (d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1] <= (LOOKAHEAD + 5) ** 2 + 1e-6))
    candidate[slot] = False
    for i, a in self.agents.items():
      if not candidate[i]:
        continue
      dx, dy = float(a.position[0]) - cx, float(a.position[1]) - cy
      if dx * hx + dy * hy <= 0:
        continue  # behind: its business to keep off me
      if math.hypot(dx, dy) > LOOKAHEAD + 5:
        continue
      px, py = float(a.position[0]), float(a.position[1])
      if isinstance(a, Car):
        u = np.array([math.cos(a.yaw), math.sin(a.yaw)])
        off = max(0.0, a.length / 2 - a.width / 2)
        wx, wy = off * float(u[0]), off * float(u[1])
        speed = a.v * float(u @ heading)
        discs += [(px - wx, py - wy), (px, py), (px + wx, py + wy)]  # rear, centre, front
        radii += [a.width / 2] * 3
        speeds += [speed] * 3
      else:
        discs.append((px, py))
        radii.append(a.radius)
        speeds.append(0.0)
    if discs and len(pts):
      diff = pts[:, None] - np.array(discs)[None]  # (P, D, 2)
      d = np.sqrt(diff[..., 0] * diff[..., 0] + diff[..., 1] * diff[..., 1])
      radii = np.array(radii)
      hit = d < car.width / 2 + radii[None] + LANE_CLEARANCE
      cols = np.nonzero(hit.any(axis=0))[0]
      if len(cols):
        # The first path point each disc touches; the nearest such disc (the first of equals).
        gaps = s_path[np.argmax(hit[:, cols], axis=0)] - front - radii[cols]
        m = int(np.argmin(gaps))
        if gaps[m] < best_gap:
          best_gap, best_v = float(gaps[m]), max(0.0, speeds[cols[m]])
    # Lane end: stop unless the next lane may be entered (or this lane is an exit).
    if car.next_lane >= 0 and not self._may_enter(slot, car.next_lane):
      gap = remaining - car.length / 2 + 1.0
      if gap < best_gap:
        best_gap, best_v = gap, 0.0
    # Crossings with people on them, that the car's front has not reached yet.
    busy = self._busy_crossings()
    if busy:
      intervals = [(w, a, b) for w, a, b in g.crossings]
      if car.next_lane >= 0:
        intervals += [(w, g.length + a, g.length + b) for w, a, b in self.lanes[car.next_lane].crossings]
      for w, s_in, _ in intervals:
        if w in busy and s_in > front - 0.3:
          gap = s_in - front - 1.0
          if gap < best_gap:
            best_gap, best_v = gap, 0.0
    return best_gap, best_v

  def step_car(self, slot: int, car: Car, dt: float) -> None:
    g = self.lanes[car.lane]
    limit = g.speed_limit * car.desire
    if car.next_lane >= 0:
      # Slow down in time for a slower (turning) lane ahead.
      nxt = self.lanes[car.next_lane].speed_limit * car.desire
      limit = min(limit, math.sqrt(nxt * nxt + 2 * COMFORT_DECEL * max(0.0, g.length - car.s)))
    gap, v_lead = self._leader_gap(slot, car)
    free = 1.0 - (car.v / max(limit, 0.1)) ** 4
    if math.isinf(gap):
      accel = MAX_ACCEL * free
    else:
      s_star = MIN_GAP + max(0.0, car.v * HEADWAY + car.v * (car.v - v_lead)
                             / (2 * math.sqrt(MAX_ACCEL * COMFORT_DECEL)))
      accel = MAX_ACCEL * (free - (s_star / max(gap, 0.1)) ** 2)
    v = max(0.0, car.v + accel * dt)
    s, lane, next_lane, prev_lane = car.s + v * dt, car.lane, car.next_lane, car.prev_lane
    if s > g.length:
      if next_lane < 0:
        self.occupancy.move(slot, np.array([np.nan, np.nan]), 0.0)
        del self.agents[slot]
        return
      if not self._may_enter(slot, next_lane):
        s, v = g.length, 0.0
      else:
        s -= g.length
        prev_lane, lane = lane, next_lane
        next_lane = self._choose_next(lane)
    if prev_lane >= 0 and s > car.length / 2 + 0.5:
      prev_lane = -1
    if v == 0.0 and car.v == 0.0 and (s, lane, next_lane, prev_lane) == (
        car.s, car.lane, car.next_lane, car.prev_lane):
      return  # standing still: moving or being blocked would both leave the car as it is
    position, yaw = self.lanes[lane].at(s)
    half = np.array([car.length / 2, car.width / 2])
    if self.occupancy.rect_free(slot, position, yaw, half):
      car.s, car.v, car.lane, car.next_lane, car.prev_lane = s, v, lane, next_lane, prev_lane
      car.position, car.yaw = position, yaw
      self.occupancy.move(slot, position, yaw)
    else:
      car.v = 0.0  # blocked: wait where it is

  def crossing_clear(self, walkway: int) -> bool:
    """No car on crossing `walkway`, nor so close that it could not stop before it."""
    for _, c in self.cars():
      intervals = [(c.s, w, a, b) for w, a, b in self.lanes[c.lane].crossings]
      if c.next_lane >= 0:
        intervals += [(c.s - self.lanes[c.lane].length, w, a, b)
                      for w, a, b in self.lanes[c.next_lane].crossings]
      if c.prev_lane >= 0:
        intervals += [(c.s + self.lanes[c.prev_lane].length, w, a, b)
                      for w, a, b in self.lanes[c.prev_lane].crossings]
      for s, w, s_in, s_out in intervals:
        if w != walkway or s - c.length / 2 > s_out + 0.5:
          continue
        stopping = c.v * CROSSING_REACTION + c.v * c.v / (2 * 3.0) + CROSSING_WARNING
        if s_in - (s + c.length / 2) < stopping:
          return False
    return True

  # ---- people --------------------------------------------------------------------------------
  def decide(self, p: pedestrians.Person, jn: pedestrians.Junction) -> tuple[bool, int]:
    """Whether a person (with their group) takes junction jn, and which way; remembered per
    group so groups stay together."""
    key = (p.group, p.walkway, round(jn.s, 2), jn.other)
    if key not in self.decisions:
      crossing = self.walkways[jn.other].crossing
      take = self.rng.uniform() < (pedestrians.CROSS_PROBABILITY if crossing
                                   else pedestrians.TURN_PROBABILITY)
      self.decisions[key] = (bool(take), int(self.rng.choice(jn.directions)))
    return self.decisions[key]

  def try_spawn_group(self, walkway: int, s: float, direction: int) -> bool:
    group = pedestrians.new_group(self.rng, self.walkways, walkway, s, direction, self.next_id,
                                  self.next_group)
    slots = []
    for p in group:
      slot = next((i for i in range(self.capacity) if i not in self.agents and i not in slots),
                  None)
      if slot is None or not self.occupancy.disc_free(slot, p.position, p.radius + 0.01):
        for i in slots:  # undo a partial group
          self.occupancy.move(i, np.array([np.nan, np.nan]), 0.0)
          del self.agents[i]
        return False
      self.occupancy.set(slot, p.position, p.yaw, np.array([p.radius, p.radius]), True)
      self.agents[slot] = p
      slots.append(slot)
    self.next_id += len(group)
    self.next_group += 1
    return True

  # ---- the step ------------------------------------------------------------------------------
  def populate(self) -> None:
    """Scatters cars over the spawn lanes and people over the walkways (then warm up)."""
    for _ in range(4 * self.num_cars):
      if len(self.cars()) >= self.num_cars or not self.spawn_lanes:
        break
      lane = int(self.rng.choice(self.spawn_lanes))
      g = self.lanes[lane]
      self.try_spawn_car(lane, float(self.rng.uniform(3.0, max(3.5, g.length - 6.0))))
    sidewalks = [i for i, w in enumerate(self.walkways) if not w.crossing]
    for _ in range(4 * self.num_people):
      if len(self.people()) >= self.num_people or not sidewalks:
        break
      w = int(self.rng.choice(sidewalks))
      self.try_spawn_group(w, float(self.rng.uniform(0.5, self.walkways[w].length - 0.5)),
                           int(self.rng.choice([-1, 1])))

  def step(self, dt: float) -> None:
    if len(self.cars()) < self.num_cars and self.spawn_lanes and (
        self.rng.uniform() < CAR_SPAWN_RATE * dt * len(self.spawn_lanes)):
      self.try_spawn_car(int(self.rng.choice(self.spawn_lanes)))
    if len(self.people()) < self.num_people and self.open_ends and (
        self.rng.uniform() < PEOPLE_SPAWN_RATE * dt * len(self.open_ends)):
      w, end = self.open_ends[int(self.rng.integers(len(self.open_ends)))]
      length = self.walkways[w].length
      self.try_spawn_group(w, length - 0.4 if end else 0.4, -1 if end else 1)
    order = list(self.agents)
    self.rng.shuffle(order)
    for slot in order:
      agent = self.agents.get(slot)
      if agent is None:
        continue
      if isinstance(agent, Car):
        self.step_car(slot, agent, dt)
      elif not pedestrians.step_person(agent, slot, self.walkways, dt, self.occupancy,
                                       self.crossing_clear, self.decide):
        del self.agents[slot]

  def snapshot(self) -> list[AgentState]:
    states = []
    for a in sorted(self.agents.values(), key=lambda a: a.track_id):
      if isinstance(a, Car):
        states.append(AgentState(a.track_id, "car", a.position.copy(), float(a.yaw), float(a.v),
                                 a.params, 0.0))
      else:
        moving = a.waiting is None
        states.append(AgentState(a.track_id, "person", a.position.copy(),
                                 float(math.remainder(a.yaw, 2 * math.pi)),
                                 float(a.speed if moving else 0.0), a.params, float(a.phase)))
    return states


def simulate_burst(layout: L.SceneLayout, rng: np.random.Generator, num_frames: int, dt: float,
                   num_cars: int, num_people: int, first_track_id: int = 1
                   ) -> list[list[AgentState]]:
  """Traffic and pedestrians for one burst of consecutive frames.

  num_frames frames dt seconds apart, after WARMUP_SECONDS of unrecorded simulation so the first
  frame already has traffic. Track ids start at first_track_id, are unique within the burst and
  follow each agent across frames. Returns, per frame, the agents in it sorted by track id.
  Deterministic for a given rng state.
  """
  if num_frames < 0 or not dt > 0 or num_cars < 0 or num_people < 0:
    raise ValueError(f"simulate_burst: need num_frames >= 0, dt > 0, num_cars >= 0, "
                     f"num_people >= 0; got {num_frames}, {dt}, {num_cars}, {num_people}")
  world = _World(layout, rng, num_cars, num_people, first_track_id)
  world.populate()
  warm_dt = max(dt, WARMUP_DT)
  for _ in range(int(WARMUP_SECONDS / warm_dt)):
    world.step(warm_dt)
  frames = []
  for _ in range(num_frames):
    world.step(dt)
    frames.append(world.snapshot())
  return frames

