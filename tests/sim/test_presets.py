"""Tests for walt3d_jax.sim.presets: valid, visible, occluding street layouts."""

import math

import numpy as np
import pytest

from walt3d_jax.geometry import camera as camera_lib
from walt3d_jax.geometry import plane
from walt3d_jax.sim import layout as L
from walt3d_jax.sim import polyline as polyline_lib
from walt3d_jax.sim import presets

NAMES = sorted(presets.PRESETS)
ROAD = (int(L.Surface.ASPHALT), int(L.Surface.CROSSWALK), int(L.Surface.PARKING))


@pytest.fixture(scope="module", params=NAMES)
def scene(request):
  return presets.PRESETS[request.param](3)


def _camera(layout):
  rig = layout.rig
  cam = camera_lib.mounted_camera(rig.height, rig.pitch, rig.hfov, rig.image_size, rig.roll)
  r_cg, t_cg = (np.asarray(a, np.float64) for a in plane.ground_frame(cam.normal, cam.offset))
  return np.asarray(cam.K, np.float64), r_cg, t_cg


def _pixels(layout, points):
  """(N, 2) pixels and (N,) depth of ground-frame points (N, 3)."""
  K, r_cg, t_cg = _camera(layout)
  X = points @ r_cg.T + t_cg
  uv = X[:, :2] / X[:, 2:] * [K[0, 0], K[1, 1]] + K[:2, 2]
  return uv, X[:, 2]


def _in_image(layout, points):
  uv, z = _pixels(layout, points)
  w, h = layout.rig.image_size
  return (z > 0.5) & (uv[:, 0] >= 0) & (uv[:, 0] <= w - 1) & (uv[:, 1] >= 0) & (uv[:, 1] <= h - 1)


def _lift(xy, z=0.0):
  return np.concatenate([xy, np.full((len(xy), 1), z)], axis=1)


def _lateral_samples(polyline, offsets):
  pts = polyline_lib.resample(polyline, 0.5)[0]
  t = np.gradient(pts, axis=0)
  # Polygon edges sit exactly on the ends of roads and sidewalks: sample just inside.
  pts, t = pts[1:-1], t[1:-1]
  n = np.stack([-t[:, 1], t[:, 0]], 1) / np.linalg.norm(t, axis=1, keepdims=True)
  return np.concatenate([pts + o * n for o in offsets])


def test_at_least_four_distinct_viewpoints():
  rigs = {(l.rig.height, l.rig.pitch, l.rig.hfov) for l in (presets.PRESETS[n](0) for n in NAMES)}
  assert len(NAMES) >= 4 and len(rigs) == len(NAMES)


def test_rig_in_traffic_camera_ranges(scene):
  rig = scene.rig
  assert 4.0 <= rig.height <= 15.0
  assert math.radians(15) <= rig.pitch <= math.radians(50)
  assert math.radians(40) <= rig.hfov <= math.radians(90)
  assert rig.image_size == (640, 360)


def test_polygons_counter_clockwise(scene):
  for patch in scene.ground:
    x, y = patch.polygon[:, 0], patch.polygon[:, 1]
    assert 0.5 * np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y) > 0
    if patch.surface == L.Surface.CROSSWALK:
      assert np.linalg.norm(patch.stripe_direction) == pytest.approx(1.0)


def test_lanes_run_on_asphalt(scene):
  for lane in scene.lanes:
    # The body of the widest car (2.1 m) stays on the road along every lane.
    pts = _lateral_samples(lane.centreline, (-1.05, 0.0, 1.05))
    assert np.all(np.isin(presets.surface_at(scene, pts), ROAD[:2]))


def test_lane_graph_connects_end_to_start(scene):
  assert any(l.spawn for l in scene.lanes)
  assert any(not l.successors for l in scene.lanes)
  for lane in scene.lanes:
    for j in lane.successors:
      gap = np.linalg.norm(scene.lanes[j].centreline[0] - lane.centreline[-1])
      assert gap < 0.05
      # The heading carries on smoothly into the successor.
      a = np.diff(lane.centreline[-2:], axis=0)[0]
      b = np.diff(scene.lanes[j].centreline[:2], axis=0)[0]
      assert a @ b / np.linalg.norm(a) / np.linalg.norm(b) > math.cos(math.radians(15))


def test_junctions_turn_both_ways():
  for name in ("intersection", "t_junction"):
    layout = presets.PRESETS[name](0)
    turns = []
    for lane in layout.lanes:
      if len(lane.successors) > 1:
        for j in lane.successors:
          c = layout.lanes[j].centreline
          a, b = c[1] - c[0], c[-1] - c[-2]
          cross = a[0] * b[1] - a[1] * b[0]
          turns.append(float(np.sign(cross)) if abs(cross) > 1e-3 else 0.0)
    assert {-1.0, 1.0} <= set(turns), name
    assert 0.0 in turns, name  # a straight-on connector too


def test_walkways_on_sidewalks_and_crossings(scene):
  assert any(w.crossing for w in scene.walkways) and any(not w.crossing for w in scene.walkways)
  for w in scene.walkways:
    # People (radius 0.3 m) walk anywhere within the usable width.
    pts = _lateral_samples(w.polyline, (-(w.width / 2 - 0.3), 0.0, w.width / 2 - 0.3))
    surface = presets.surface_at(scene, pts)
    allowed = [int(L.Surface.SIDEWALK), int(L.Surface.CROSSWALK)]
    assert np.mean(np.isin(surface, allowed)) > 0.99
    if not w.crossing:
      assert not np.any(surface == int(L.Surface.ASPHALT))
    for j in w.connects:
      assert len(scene.walkways) > j and w is not scene.walkways[j]


def test_statics_off_roads_paths_and_each_other(scene):
  kinds = {o.kind for o in scene.statics}
  assert {L.StaticKind.BUILDING, L.StaticKind.POLE, L.StaticKind.SIGN} <= kinds
  corners = [presets.static_footprint(o) for o in scene.statics]
  for o, c in zip(scene.statics, corners):
    assert presets.static_clear_of_paths(scene, o)
    surface = presets.surface_at(scene, presets._footprint_samples(c))
    if o.kind == L.StaticKind.PARKED_CAR:
      assert np.all(surface == int(L.Surface.PARKING))
    else:
      assert not np.any(np.isin(surface, ROAD))
  for i in range(len(corners)):
    for j in range(i):
      assert not presets._rects_overlap(corners[i], corners[j], 0.0)


def test_roads_crossings_and_walkways_seen_by_the_camera(scene):
  lanes = np.concatenate([polyline_lib.resample(l.centreline, 1.0)[0] for l in scene.lanes])
  assert np.mean(_in_image(scene, _lift(lanes))) > 0.35
  for w in scene.walkways:
    if w.crossing:
      assert np.all(_in_image(scene, _lift(polyline_lib.resample(w.polyline, 0.5)[0])))
  # Some lane passes under the bottom third of the image (close-up cars).
  uv, z = _pixels(scene, _lift(lanes))
  assert np.any((z > 0) & (uv[:, 1] > 240) & (uv[:, 1] < 359) & (uv[:, 0] > 0) & (uv[:, 0] < 639))


def _ray_hits_box(origin, target, obj):
  """Whether the segment origin -> target (3,) crosses the static's bounding box."""
  c, s = math.cos(obj.yaw), math.sin(obj.yaw)
  rot = np.array([[c, s, 0], [-s, c, 0], [0, 0, 1]])
  o = rot @ (origin - [*obj.position, 0.0])
  d = rot @ (target - origin)
  lo = -np.array([obj.size[0] / 2, obj.size[1] / 2, 0.0]) - o
  hi = np.array([obj.size[0] / 2, obj.size[1] / 2, obj.size[2]]) - o
  with np.errstate(divide="ignore", invalid="ignore"):
    t0, t1 = lo / d, hi / d
  tmin = np.nanmax(np.minimum(t0, t1))
  tmax = np.nanmin(np.maximum(t0, t1))
  return tmin <= tmax and tmax > 0 and tmin < 1


def test_scenery_occludes_some_lane_points(scene):
  origin = np.array([0.0, 0.0, scene.rig.height])
  lanes = np.concatenate([polyline_lib.resample(l.centreline, 1.0)[0] for l in scene.lanes])
  targets = _lift(lanes, 0.7)[_in_image(scene, _lift(lanes, 0.7))]
  occluders = [o for o in scene.statics if o.kind != L.StaticKind.BUILDING]
  hidden = [any(_ray_hits_box(origin, t, o) for o in occluders) for t in targets]
  assert 0 < np.sum(hidden) < 0.5 * len(targets)


def test_deterministic_per_seed_and_seed_varies_scenery():
  for name in NAMES:
    a, b, c = presets.PRESETS[name](7), presets.PRESETS[name](7), presets.PRESETS[name](8)
    pa = np.concatenate([o.position for o in a.statics])
    np.testing.assert_array_equal(pa, np.concatenate([o.position for o in b.statics]))
    pc = np.concatenate([o.position for o in c.statics])
    assert pa.shape != pc.shape or not np.array_equal(pa, pc)
    assert len(a.lanes) == len(c.lanes)


def test_surface_at_takes_the_last_patch():
  layout = presets.PRESETS["crosswalk"](0)
  patch = next(p for p in layout.ground if p.surface == L.Surface.CROSSWALK)
  centre = patch.polygon.mean(axis=0)
  assert presets.surface_at(layout, centre[None])[0] == int(L.Surface.CROSSWALK)
  assert presets.surface_at(layout, np.array([[0.0, 500.0]]))[0] == int(L.Surface.GRASS)
