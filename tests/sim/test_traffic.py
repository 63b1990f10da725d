"""Tests for walt3d_jax.sim.traffic: the no-overlap invariant, motion and determinism."""

import functools
import math
import time

import jax
import numpy as np
import pytest

from walt3d_jax.geometry import footprint
from walt3d_jax.shapes import person, vehicle
from walt3d_jax.sim import presets, traffic

SLOTS = 64  # padded footprint count per frame: agents + the statics near them


@functools.lru_cache(maxsize=None)
def _burst(name: str, seed: int, frames: int = 200, dt: float = 0.1):
  layout = presets.PRESETS[name](seed)
  return layout, traffic.simulate_burst(layout, np.random.default_rng(seed), frames, dt, 14, 12, 1)


@jax.jit
def _overlaps(centre, yaw, half, is_disc, valid):
  fp = footprint.Footprints(centre, yaw, half, is_disc)
  return jax.vmap(footprint.pairwise_overlap)(fp, valid)


def _footprints(layout, frames):
  """Padded (F, SLOTS) footprints: the frame's agents first, then the statics within reach of
  one of them (nothing farther can touch an agent)."""
  n = len(frames)
  centre, yaw = np.zeros((n, SLOTS, 2)), np.zeros((n, SLOTS))
  half, disc, valid = np.full((n, SLOTS, 2), 0.1), np.zeros((n, SLOTS), bool), np.zeros((n, SLOTS), bool)
  counts = []
  for k, states in enumerate(frames):
    items = []
    for a in states:
      if a.kind == "car":
        length, width, _ = vehicle.car_dimensions(a.params)
        items.append((a.position, a.yaw, (length / 2, width / 2), False))
      else:
        r = person.PERSON_FOOTPRINT_RADIUS
        items.append((a.position, 0.0, (r, r), True))
    counts.append(len(items))
    if states:
      where = np.array([a.position for a in states])
      for o in layout.statics:
        reach = np.hypot(*o.size[:2]) / 2 + 3.5
        if np.min(np.linalg.norm(where - o.position, axis=1)) < reach:
          items.append((o.position, o.yaw, (o.size[0] / 2, o.size[1] / 2), False))
    assert len(items) <= SLOTS
    for j, (p, y, h, d) in enumerate(items):
      centre[k, j], yaw[k, j], half[k, j], disc[k, j], valid[k, j] = p, y, h, d, True
  return (centre, yaw, half, disc, valid), np.array(counts)


@pytest.mark.parametrize("name", sorted(presets.PRESETS))
@pytest.mark.parametrize("seed", [0, 1])
def test_no_footprints_ever_overlap(name, seed):
  layout, frames = _burst(name, seed)
  arrays, counts = _footprints(layout, frames)
  overlap = np.asarray(_overlaps(*arrays))
  agent = np.arange(SLOTS)[None, :] < counts[:, None]
  # Any overlapping pair that involves an agent (statics may not touch each other either,
  # which test_presets checks).
  bad = overlap & (agent[:, :, None] | agent[:, None, :])
  assert not bad.any(), np.argwhere(bad)[:5]


def test_overlap_check_catches_a_collision():
  """The checker above is able to fail: two cars put on one spot overlap."""
  layout, frames = _burst("crosswalk", 0)
  cars = [a for a in frames[0] if a.kind == "car"][:1]
  arrays, counts = _footprints(layout, [cars + cars])
  assert np.asarray(_overlaps(*arrays))[0, 0, 1]


@pytest.mark.parametrize("name", sorted(presets.PRESETS))
def test_traffic_present_moving_and_on_heading(name):
  layout, frames = _burst(name, 0)
  assert all(sum(a.kind == "car" for a in f) >= 4 for f in frames)  # warmed up from frame 0
  assert all(sum(a.kind == "person" for a in f) >= 4 for f in frames)
  tracks = {}
  for k, states in enumerate(frames):
    ids = [a.track_id for a in states]
    assert len(ids) == len(set(ids))
    for a in states:
      tracks.setdefault(a.track_id, []).append((k, a))
  moving = 0
  for track in tracks.values():
    kinds = {a.kind for _, a in track}
    assert len(kinds) == 1
    frames_seen = [k for k, _ in track]
    assert frames_seen == list(range(frames_seen[0], frames_seen[-1] + 1))  # no gaps
    for (_, a), (_, b) in zip(track, track[1:]):
      step = b.position - a.position
      dist = float(np.linalg.norm(step))
      if a.kind == "car":
        assert dist / 0.1 <= 14.0 + 1e-6  # urban speeds (REFERENCE.md)
        assert 0.0 <= b.speed <= 14.0
        if dist > 0.05:
          moving += 1
          dev = abs(math.remainder(math.atan2(step[1], step[0]) - b.yaw, 2 * math.pi))
          assert dev < math.radians(8)
      else:
        assert dist / 0.1 <= 1.5 * 1.6  # walking pace, side-steps included
  assert moving > 100
  # Cars reach cruising speed somewhere, and traffic flows out of the scene.
  assert max(a.speed for f in frames for a in f if a.kind == "car") >= 8.0
  left = [t for t in tracks.values() if t[-1][0] < len(frames) - 1 and t[0][1].kind == "car"]
  assert len(left) >= 1


def test_deterministic_and_track_ids_from_first_id():
  layout = presets.PRESETS["intersection"](4)
  run = lambda: traffic.simulate_burst(layout, np.random.default_rng(9), 30, 1 / 15, 8, 6, 100)
  a, b = run(), run()
  assert [[(s.track_id, s.kind, *s.position, s.yaw, s.phase) for s in f] for f in a] == \
         [[(s.track_id, s.kind, *s.position, s.yaw, s.phase) for s in f] for f in b]
  assert min(s.track_id for f in a for s in f) >= 100


@pytest.mark.parametrize("name", ["intersection", "t_junction"])
def test_cars_turn_at_junctions(name):
  layout, frames = _burst(name, 1)
  turned = 0
  tracks = {}
  for states in frames:
    for a in states:
      if a.kind == "car":
        tracks.setdefault(a.track_id, []).append(a.yaw)
  for yaws in tracks.values():
    change = abs(math.remainder(yaws[-1] - yaws[0], 2 * math.pi))
    turned += change > math.radians(60)
  assert turned >= 1


def test_speed_per_frame():
  layout = presets.PRESETS["intersection"](0)
  traffic.simulate_burst(layout, np.random.default_rng(0), 2, 0.1, 14, 12, 1)
  tic = time.perf_counter()
  frames = 300
  traffic.simulate_burst(layout, np.random.default_rng(0), frames, 0.1, 14, 12, 1)
  per_step = (time.perf_counter() - tic) / (frames + traffic.WARMUP_SECONDS / traffic.WARMUP_DT)
  assert per_step < 0.020


def test_bad_arguments_raise():
  layout = presets.PRESETS["avenue"](0)
  with pytest.raises(ValueError, match="dt > 0"):
    traffic.simulate_burst(layout, np.random.default_rng(0), 5, 0.0, 3, 3, 1)
