"""Tests for walt3d_jax.sim.pedestrians, through traffic.simulate_burst."""

import functools

import numpy as np
import pytest

from walt3d_jax.shapes import person
from walt3d_jax.sim import pedestrians, polyline, presets, traffic


@functools.lru_cache(maxsize=None)
def _people(name: str, seed: int = 2):
  layout = presets.PRESETS[name](seed)
  frames = traffic.simulate_burst(layout, np.random.default_rng(seed), 150, 0.1, 6, 14, 1)
  tracks = {}
  for k, states in enumerate(frames):
    for a in states:
      if a.kind == "person":
        tracks.setdefault(a.track_id, []).append((k, a))
  return layout, frames, tracks


def _on_some_walkway(layout, xy):
  return min(polyline.distance_to_polyline(w.polyline, xy[None])[0] - w.width / 2
             for w in layout.walkways)


@pytest.mark.parametrize("name", sorted(presets.PRESETS))
def test_people_stay_on_walkways(name):
  layout, _, tracks = _people(name)
  for track in tracks.values():
    for _, a in track:
      # Within the walkway's width, give or take a side-step at a corner.
      assert _on_some_walkway(layout, a.position) < 0.35


def test_walking_speed_and_gait_cadence():
  _, _, tracks = _people("avenue")
  speeds, cadences = [], []
  for track in tracks.values():
    for (_, a), (_, b) in zip(track, track[1:]):
      dist = float(np.linalg.norm(b.position - a.position))
      if a.speed > 0 and dist > 0.1:
        speeds.append(dist / 0.1)
        dphase = (b.phase - a.phase) % 1.0
        cadences.append(2 * dphase / 0.1)  # two steps per gait cycle
  speeds, cadences = np.array(speeds), np.array(cadences)
  assert 1.15 < np.median(speeds) < 1.55  # REFERENCE.md: 1.2-1.5 m/s
  assert 1.5 < np.median(cadences) < 2.3  # REFERENCE.md: about 1.8-2.0 steps/s
  assert all(isinstance(a.phase, float) and 0 <= a.phase < 1
             for t in tracks.values() for _, a in t)


def test_both_directions_groups_and_crossing():
  layout, frames, tracks = _people("crosswalk")
  headings = np.array([np.cos(a.yaw) for t in tracks.values() for _, a in t])
  assert (headings > 0.5).any() and (headings < -0.5).any()
  # Groups: people spawned together walk abreast, about a metre apart, same speed.
  abreast = 0
  for states in frames:
    people = [a for a in states if a.kind == "person"]
    for i, a in enumerate(people):
      for b in people[i + 1:]:
        if abs(b.track_id - a.track_id) == 1 and np.linalg.norm(a.position - b.position) < 1.2:
          abreast += 1
  assert abreast >= 1
  crossing = [w for w in layout.walkways if w.crossing][0]
  on_crossing = [a for f in frames for a in f if a.kind == "person"
                 and polyline.distance_to_polyline(crossing.polyline, a.position[None])[0] < 1.0
                 and abs(a.position @ np.array([0.0, 1.0])) < 50]
  assert on_crossing


def test_footprint_radius_and_params_from_the_person_model():
  _, frames, _ = _people("intersection")
  people = [a for f in frames for a in f if a.kind == "person"]
  assert people
  for a in people[:20]:
    person.validate_person_params(a.params)


def test_walkway_geometry_junctions_and_open_ends():
  layout = presets.PRESETS["intersection"](0)
  geoms = pedestrians.walkway_geometry(layout)
  for w, g in zip(layout.walkways, geoms):
    if w.crossing:
      # A crossing leads onto a sidewalk at both ends and never leaves the scene.
      assert g.open_ends == ()
      assert {round(j.s) for j in g.junctions} == {0, round(g.length)}
    else:
      assert g.open_ends == (0, 1)
  p = geoms[0]
  k = len(p.s) // 4  # on a straight stretch, lateral offsets run along the normal
  np.testing.assert_allclose(p.at(p.s[k], 0.5) - p.at(p.s[k], 0.0), 0.5 * p.normals[k], atol=1e-9)
