"""The rasteriser against analytic projection and brute force; frame buffers' invariants."""

import cv2
import numpy as np
import pytest

from walt3d_jax.geometry import mounted_camera
from walt3d_jax.sim import render
from walt3d_jax.sim.layout import (CameraRig, GroundPatch, SceneLayout, StaticKind,
                                   StaticObject, Surface)
from walt3d_jax.sim.lighting import lighting_at
from walt3d_jax.sim.scenery import box

W, H = 160, 96
K = np.array([[120.0, 0.0, (W - 1) / 2], [0.0, 118.0, (H - 1) / 2], [0.0, 0.0, 1.0]])


def _brute_force(tris, K, width, height):
  """Per-pixel reference: point-in-triangle by cv2 and depth by solving ray/plane per pixel.

  Returns (inside (T, H, W) bool, depth (T, H, W), ambiguous (H, W) bool near an edge).
  """
  v, u = np.mgrid[0:height, 0:width].astype(np.float64)
  inside = np.zeros((len(tris), height, width), bool)
  depth = np.full((len(tris), height, width), np.inf)
  ambiguous = np.zeros((height, width), bool)
  rays = np.stack([u, v, np.ones_like(u)], -1) @ np.linalg.inv(K).T
  for t, tri in enumerate(tris):
    hom = tri @ K.T
    uv = (hom[:, :2] / hom[:, 2:]).astype(np.float32)
    dist = np.array([[cv2.pointPolygonTest(uv, (float(x), float(y)), True)
                      for x in range(width)] for y in range(height)])
    inside[t] = dist > 0
    ambiguous |= np.abs(dist) < 1e-3
    # Solve a + s (b - a) + r (c - a) = z * ray for each pixel.
    a, b, c = tri
    for y, x in zip(*np.nonzero(inside[t])):
      m = np.stack([rays[y, x], a - b, a - c], axis=1)
      depth[t, y, x] = np.linalg.solve(m, a)[0]
  return inside, depth, ambiguous


def _random_triangle(rng, z_range=(2.0, 12.0)):
  z = rng.uniform(*z_range, 3)
  uv = rng.uniform([-20, -20], [W + 20, H + 20], (3, 2))
  return np.c_[uv, np.ones(3)] @ np.linalg.inv(K).T * z[:, None]


@pytest.mark.parametrize("seed", range(4))
def test_triangle_coverage_and_depth_match_analytic(seed):
  rng = np.random.default_rng(seed)
  tri = _random_triangle(rng)
  frags, source = render.rasterize(tri[None], K, W, H)
  inside, depth, ambiguous = _brute_force(tri[None], K, W, H)
  covered = np.zeros((H, W), bool)
  covered[frags.y, frags.x] = True
  assert np.array_equal(covered & ~ambiguous, inside[0] & ~ambiguous)
  assert np.all(source == 0)
  got = np.full((H, W), np.inf)
  got[frags.y, frags.x] = 1.0 / frags.inv_z
  ok = inside[0]
  np.testing.assert_allclose(got[ok], depth[0][ok], rtol=1e-9)


def test_near_plane_clips_and_drops():
  behind = np.array([[-1.0, -1.0, -2.0], [1.0, -1.0, -2.0], [0.0, 1.0, -1.0]])
  frags, _ = render.rasterize(behind[None], K, W, H)
  assert len(frags.x) == 0
  # A big triangle reaching behind the camera: what is drawn is the part in front of the
  # near plane, so every fragment's depth is >= NEAR and the covered set is the brute-force
  # coverage of the clipped polygon.
  straddle = np.array([[-3.0, 0.3, 4.0], [3.0, 0.3, 4.0], [0.0, 0.3, -4.0]])
  frags, source = render.rasterize(straddle[None], K, W, H)
  assert len(frags.x) > 0 and np.all(source == 0)
  assert np.all(1.0 / frags.inv_z >= render.NEAR - 1e-9)
  # The plane y = 0.3 seen by the camera: every pixel below the horizon row between the two
  # edges; depth there must be the ray/plane depth 0.3 / ray_y.
  rays = np.c_[frags.x, frags.y, np.ones(len(frags.x))] @ np.linalg.inv(K).T
  np.testing.assert_allclose(1.0 / frags.inv_z, 0.3 / rays[:, 1], rtol=1e-9)


def test_random_scene_matches_brute_force_zbuffer():
  rng = np.random.default_rng(7)
  tris = np.stack([_random_triangle(rng) for _ in range(6)])
  depth, tri = render.rasterize_depth_ids(tris, K, W, H)
  inside, ref_depth, ambiguous = _brute_force(tris, K, W, H)
  ref = np.where(inside.any(0), np.argmin(np.where(inside, ref_depth, np.inf), axis=0), -1)
  first, second = np.sort(ref_depth, axis=0)[:2]
  with np.errstate(invalid="ignore"):  # inf - inf where no triangle covers the pixel
    tie = np.isfinite(second) & (second - first < 1e-6)
  ok = ~ambiguous & ~tie
  assert np.array_equal(tri[ok], ref[ok])
  np.testing.assert_allclose(depth[ok & (ref >= 0)], ref_depth.min(0)[ok & (ref >= 0)],
                             rtol=1e-9)


def _camera():
  return mounted_camera(6.0, np.deg2rad(30.0), np.deg2rad(60.0), (W, H))


def _layout(statics=()):
  road = np.array([[-5.0, -30.0], [80.0, -30.0], [80.0, 30.0], [-5.0, 30.0]])
  return SceneLayout("test", CameraRig(6.0, np.deg2rad(30.0), np.deg2rad(60.0), (W, H)),
                     (GroundPatch(Surface.ASPHALT, road),), (), (), (), tuple(statics))


def _box_item(x, y, size, index, camera, color=(0.5, 0.2, 0.2), yaw=0.0):
  R_cg, t_cg = render.ground_frame(camera)
  m = box((-size[0] / 2, -size[1] / 2, 0.0), (size[0] / 2, size[1] / 2, size[2]))
  c, s = np.cos(yaw), np.sin(yaw)
  R = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
  verts = (m.vertices @ R.T + [x, y, 0.0]) @ R_cg.T + t_cg
  albedo = np.tile(color, (len(m.faces), 1))
  return render.RenderItem(verts, m.faces, albedo, np.zeros_like(albedo), index)


def _full(amodal):
  x0, y0, crop = amodal
  out = np.zeros((H, W), bool)
  out[y0:y0 + crop.shape[0], x0:x0 + crop.shape[1]] = crop
  return out


@pytest.fixture(scope="module")
def scene():
  camera = _camera()
  building = StaticObject(StaticKind.BUILDING, np.array([22.0, 3.0]), 0.0, (4.0, 4.0, 8.0))
  background = render.render_background(_layout([building]), camera, seed=3)
  return camera, background


def test_nearest_wins_and_amodal_stays_full(scene):
  camera, background = scene
  near = _box_item(12.0, 0.0, (2.0, 2.0, 1.5), 5, camera)
  far = _box_item(16.0, 0.5, (2.0, 2.0, 3.0), 9, camera)
  alone = render.render_frame(background, [far], camera, lighting_at(12.0),
                              np.random.default_rng(0))
  both = render.render_frame(background, [far, near], camera, lighting_at(12.0),
                             np.random.default_rng(0))
  far_alone = _full(alone.amodal[0])
  assert np.array_equal(_full(both.amodal[0]), far_alone)
  near_mask = _full(both.amodal[1])
  assert np.array_equal(both.ids == 5, near_mask)  # nothing covers the near box
  overlap = near_mask & far_alone
  assert overlap.sum() > 20
  assert np.array_equal(both.ids == 9, far_alone & ~near_mask)
  assert np.all(both.depth[overlap] < _self_depth(both, 0)[overlap])


def _self_depth(frame, k):
  x0, y0, crop = frame.amodal[k]
  out = np.full((H, W), np.inf, np.float32)
  out[y0:y0 + crop.shape[0], x0:x0 + crop.shape[1]] = frame.self_depth[k]
  return out


def test_static_scenery_occludes_agents_behind_it(scene):
  camera, background = scene
  hidden = _box_item(28.0, 3.0, (2.0, 2.0, 1.5), 1, camera)  # right behind the building
  frame = render.render_frame(background, [hidden], camera, lighting_at(12.0),
                              np.random.default_rng(0))
  amodal = _full(frame.amodal[0])
  assert amodal.sum() > 10
  assert not np.any(frame.ids == 1)
  assert np.all(frame.ids[amodal] >= render.STATIC_ID_BASE)


@pytest.mark.parametrize("seed", range(3))
def test_visible_subset_of_amodal_and_depths_consistent(scene, seed):
  camera, background = scene
  rng = np.random.default_rng(seed)
  items = [_box_item(rng.uniform(8, 30), rng.uniform(-6, 6), rng.uniform(0.5, 4.0, 3), 10 + k,
                     camera, yaw=rng.uniform(0, np.pi)) for k in range(8)]
  frame = render.render_frame(background, items, camera, lighting_at(9.0), rng)
  for k, item in enumerate(items):
    visible = frame.ids == item.object_index
    amodal = _full(frame.amodal[k])
    assert not np.any(visible & ~amodal)
    sd = _self_depth(frame, k)
    assert np.array_equal(np.isfinite(sd), amodal)
    np.testing.assert_array_equal(frame.depth[visible], sd[visible])
    # Wherever the item is hidden, something strictly nearer (or a tie) is in front.
    assert np.all(frame.depth[amodal] <= sd[amodal])


def test_shadows_change_pixels_only(scene):
  camera, background = scene
  items = [_box_item(14.0, -2.0, (4.5, 1.8, 1.5), 3, camera)]
  light = lighting_at(10.0)
  a = render.render_frame(background, items, camera, light, np.random.default_rng(1))
  b = render.render_frame(background, items, camera, light, np.random.default_rng(1),
                          shadows=False)
  assert np.array_equal(a.ids, b.ids) and np.array_equal(a.depth, b.depth)
  assert np.array_equal(a.amodal[0][2], b.amodal[0][2])
  darker = a.image.astype(int).sum(-1) < b.image.astype(int).sum(-1) - 30
  assert darker.sum() > 10
  # Only ground is shaded; the sensor's slight blur may spill it one or two pixels further.
  ground = (a.ids == render.BACKGROUND_ID).astype(np.uint8)
  assert not np.any(darker & ~cv2.dilate(ground, np.ones((5, 5), np.uint8)).astype(bool))


def test_background_and_frames_are_deterministic(scene):
  camera, background = scene
  again = render.render_background(_layout([StaticObject(
      StaticKind.BUILDING, np.array([22.0, 3.0]), 0.0, (4.0, 4.0, 8.0))]), camera, seed=3)
  assert np.array_equal(background.albedo, again.albedo)
  assert np.array_equal(background.ids, again.ids)
  items = [_box_item(12.0, 0.0, (2.0, 2.0, 1.5), 0, camera)]
  f1, f2, f3 = (render.render_frame(background, items, camera, lighting_at(12.0),
                                    np.random.default_rng(s)) for s in (4, 4, 5))
  assert f1.image.tobytes() == f2.image.tobytes()
  assert f1.image.tobytes() != f3.image.tobytes()


def test_night_is_darker_than_day_but_lights_glow(scene):
  camera, background = scene
  item = _box_item(12.0, 0.0, (2.0, 2.0, 1.5), 0, camera)
  lit = item._replace(emission=np.tile([3.0, 2.9, 2.5], (len(item.faces), 1)))
  day = render.render_frame(background, [item], camera, lighting_at(12.0),
                            np.random.default_rng(0))
  night = render.render_frame(background, [lit], camera, lighting_at(23.0),
                              np.random.default_rng(0))
  assert night.image.mean() < 0.5 * day.image.mean()
  assert night.image[night.ids == 0].mean() > 200  # the glowing object


def test_bad_items_are_rejected_by_field(scene):
  camera, background = scene
  item = _box_item(12.0, 0.0, (2.0, 2.0, 1.5), 0, camera)
  with pytest.raises(ValueError, match="albedo"):
    render.render_frame(background, [item._replace(albedo=np.zeros((3, 3)))], camera,
                        lighting_at(12.0), np.random.default_rng(0))
  with pytest.raises(ValueError, match="object_index"):
    render.render_frame(background, [item._replace(object_index=render.STATIC_ID_BASE)],
                        camera, lighting_at(12.0), np.random.default_rng(0))
  with pytest.raises(ValueError, match="vertices"):
    bad = item.vertices.copy()
    bad[0, 0] = np.nan
    render.render_frame(background, [item._replace(vertices=bad)], camera,
                        lighting_at(12.0), np.random.default_rng(0))


def test_headlights_light_the_road_ahead_only(scene):
  camera, background = scene
  car = _box_item(12.0, -3.0, (4.5, 1.8, 1.5), 0, camera)
  emission = np.zeros((12, 3))
  emission[10:12] = (3.0, 2.9, 2.5)  # the +x (front) face
  emission[8:10] = (1.6, 0.1, 0.08)  # the -x (back) face
  night = lighting_at(23.0)
  dark = render.render_frame(background, [car], camera, night, np.random.default_rng(0))
  lit = render.render_frame(background, [car._replace(emission=emission)], camera, night,
                            np.random.default_rng(0))
  assert np.array_equal(dark.ids, lit.ids) and np.array_equal(dark.depth, lit.depth)
  R_cg, t_cg = render.ground_frame(camera)
  K = np.asarray(camera.K, np.float64)

  def pixel(x, y):
    p = K @ (R_cg @ [x, y, 0.0] + t_cg)
    return int(round(p[1] / p[2])), int(round(p[0] / p[2]))

  ahead, behind = pixel(20.0, -3.0), pixel(6.0, -3.0)
  gain = lit.image.astype(int) - dark.image.astype(int)
  assert gain[ahead].sum() > 30
  assert abs(gain[behind].sum()) < 10


def test_empty_and_out_of_view_items(scene):
  camera, background = scene
  behind = _box_item(-4.0, 0.0, (4.0, 2.0, 1.5), 0, camera)  # under and behind the camera
  empty = render.RenderItem(np.zeros((0, 3)), np.zeros((0, 3), int), np.zeros((0, 3)),
                            np.zeros((0, 3)), 1)
  seen = _box_item(12.0, 0.0, (4.0, 2.0, 1.5), 2, camera)
  frame = render.render_frame(background, [behind, empty, seen], camera, lighting_at(12.0),
                              np.random.default_rng(0))
  for k in (0, 1):
    assert frame.amodal[k][2].shape == (0, 0) and frame.self_depth[k].shape == (0, 0)
  assert frame.amodal[2][2].sum() > 50 and np.any(frame.ids == 2)


def test_rasterize_depth_ids_of_triangles_out_of_view():
  K = np.array([[100.0, 0, 31.5], [0, 100.0, 23.5], [0, 0, 1]])
  behind = np.array([[[0.0, 0, -2], [1, 0, -2], [0, 1, -2]]])
  depth, triangle = render.rasterize_depth_ids(behind, K, 64, 48)
  assert np.isinf(depth).all() and (triangle == -1).all()
