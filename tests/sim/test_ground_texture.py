"""Ground painting: back-projection, patch polygons, markings, crosswalk stripes, sky."""

import cv2
import numpy as np
import pytest

from walt3d_jax.geometry import mounted_camera
from walt3d_jax.sim import ground_texture, render
from walt3d_jax.sim.layout import (CameraRig, GroundPatch, LaneMarking, SceneLayout,
                                   Surface)

W, H = 200, 120


@pytest.fixture(scope="module")
def scene():
  # A low pitch so that the horizon and some sky are in view.
  camera = mounted_camera(7.0, np.deg2rad(12.0), np.deg2rad(70.0), (W, H))
  road = np.array([[0.0, -4.0], [200.0, -4.0], [200.0, 4.0], [0.0, 4.0]])
  walk = np.array([[0.0, 4.0], [200.0, 4.0], [200.0, 7.0], [0.0, 7.0]])
  zebra = np.array([[20.0, -4.0], [25.0, -4.0], [25.0, 4.0], [20.0, 4.0]])
  layout = SceneLayout(
      "ground", CameraRig(7.0, np.deg2rad(12.0), np.deg2rad(70.0), (W, H)),
      (GroundPatch(Surface.ASPHALT, road), GroundPatch(Surface.SIDEWALK, walk),
       GroundPatch(Surface.CROSSWALK, zebra, np.array([0.0, 1.0]))),
      (LaneMarking(np.array([[30.0, 0.0], [200.0, 0.0]]), width=0.3, dashes=(3.0, 6.0)),),
      (), (), ())
  return camera, layout, ground_texture.ground_buffers(layout, camera, np.random.default_rng(0))


def test_depth_and_ground_coordinates_match_the_plane(scene):
  camera, _, buf = scene
  K = np.asarray(camera.K, np.float64)
  n, d = np.asarray(camera.normal, np.float64), float(camera.offset)
  v, u = np.mgrid[0:H, 0:W]
  rays = np.stack([u, v, np.ones_like(u)], -1) @ np.linalg.inv(K).T
  ground = np.isfinite(buf.depth)
  assert ground[-1].all() and not ground[0].any()  # horizon inside the image
  points = rays[ground] * buf.depth[ground][:, None]
  np.testing.assert_allclose(points @ n + d, 0.0, atol=1e-3)
  R_cg, t_cg = render.ground_frame(camera)
  xyz = np.c_[buf.xy[ground], np.zeros(ground.sum())] @ R_cg.T + t_cg
  np.testing.assert_allclose(xyz, points, rtol=1e-4, atol=1e-3)
  assert np.all(buf.sky[ground] == -1) and np.all((buf.sky[~ground] >= 0) & (buf.sky[~ground] <= 1))
  assert np.all(buf.albedo[~ground] == 0)


def test_polygon_fill_matches_back_projection(scene):
  camera, _, buf = scene
  R_cg, t_cg = render.ground_frame(camera)
  square = np.array([[15.0, -3.0], [30.0, -3.0], [30.0, 5.0], [15.0, 5.0]])
  mask = np.zeros((H, W), np.uint8)
  ground_texture.fill_ground_polygon(mask, square, np.asarray(camera.K, np.float64), R_cg,
                                     t_cg, 1)
  xy = np.nan_to_num(buf.xy, nan=-1e9)
  inside = (xy[..., 0] > 15) & (xy[..., 0] < 30) & (xy[..., 1] > -3) & (xy[..., 1] < 5)
  # A polygon reaching behind the camera is clipped, not mirrored.
  behind = np.zeros((H, W), np.uint8)
  ground_texture.fill_ground_polygon(behind, np.array([[-50.0, -3], [-1, -3], [-1, 3], [-50, 3]]),
                                     np.asarray(camera.K, np.float64), R_cg, t_cg, 1)
  assert not behind.any()
  # Agreement except on the polygon's boundary pixels.
  assert (mask.astype(bool) != inside).sum() <= 0.1 * inside.sum()
  assert inside.sum() > 200


@pytest.mark.parametrize("heading_deg", [0.0, 15.0, -20.0])
def test_polygon_reaching_behind_a_high_camera_keeps_its_edges(heading_deg):
  # A long kerb-side strip from 25 m behind a 13 m mast to 150 m ahead: its near vertices
  # project far outside the image. Every pixel must agree with back-projection (up to the
  # boundary's own pixels), i.e. the strip's edges stay on their lines.
  W, H = 640, 360  # large enough for the near vertices to project beyond 1e5 px
  camera = mounted_camera(13.0, np.deg2rad(22.0), np.deg2rad(58.0), (W, H))
  K = np.asarray(camera.K, np.float64)
  R_cg, t_cg = render.ground_frame(camera)
  a = np.deg2rad(heading_deg)
  along, across = np.array([np.cos(a), np.sin(a)]), np.array([-np.sin(a), np.cos(a)])
  offset = -6.0 * across
  strip = np.array([offset - 25 * along, offset + 150 * along,
                    offset + 150 * along + 2 * across, offset - 25 * along + 2 * across])
  mask = np.zeros((H, W), np.uint8)
  ground_texture.fill_ground_polygon(mask, strip, K, R_cg, t_cg, 1)
  v, u = np.mgrid[0:H, 0:W]
  rays = np.stack([u, v, np.ones_like(u)], -1).reshape(-1, 3) @ np.linalg.inv(K).T
  normal, d = np.asarray(camera.normal, np.float64), float(camera.offset)
  with np.errstate(divide="ignore", invalid="ignore"):
    depth = -d / (rays @ normal)
  xy = ((rays * depth[:, None] - t_cg) @ R_cg)[:, :2]
  s, t = (xy - offset) @ along, (xy - offset) @ across
  inside = ((depth > 0) & (s > -25) & (s < 150) & (t > 0) & (t < 2)).reshape(H, W)
  grown = cv2.dilate(inside.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
  shrunk = cv2.erode(inside.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
  wrong = (mask.astype(bool) != inside) & ~(grown & ~shrunk)  # off the boundary's pixels
  assert inside.sum() > 300
  assert wrong.sum() <= 5, wrong.sum()  # clamped vertices: 26848 pixels off at heading 0


def test_materials_stripes_and_dashes(scene):
  camera, layout, buf = scene
  xy = np.nan_to_num(buf.xy, nan=-1e9)
  x, y = xy[..., 0], xy[..., 1]
  lum = buf.albedo.mean(-1)
  asphalt = (x > 40) & (x < 60) & (y > -3.5) & (y < -1)
  sidewalk = (x > 10) & (x < 40) & (y > 4.3) & (y < 6.7)
  grass = (x > 10) & (x < 40) & (y < -4.5)
  assert lum[sidewalk].mean() > lum[asphalt].mean() + 0.2
  assert buf.albedo[grass][:, 1].mean() > buf.albedo[grass][:, 2].mean() + 0.08
  zebra = (x > 20.3) & (x < 24.7) & (np.abs(y) < 3.5)
  white = lum[zebra] > 0.6
  assert 0.3 < white.mean() < 0.7  # bars and gaps of equal width
  # People walk along y and step from bar to bar: brightness alternates along y and is steady
  # along x (the traffic direction) inside a bar.
  along_walk = zebra & (np.abs(x - 22.5) < 0.3)
  assert lum[along_walk].std() > 0.15
  bar = (x > 20.5) & (x < 24.5) & (np.abs(y - 0.0) < 0.1)  # the centre bar (|y| < 0.275 m)
  assert bar.sum() > 3 and lum[bar].min() > 0.5
  # Dashed centre line: paint 3 m on, 6 m off.
  # Sample it at the pixel nearest to y = 0 in each image row that sees x in (35, 60).
  rows = [r for r in range(H) if np.any((x[r] > 35) & (x[r] < 60))]
  samples = np.array([lum[r, np.argmin(np.abs(y[r]))] for r in rows])
  painted = samples > lum[asphalt].mean() + 0.15
  assert len(rows) > 10 and 0.15 < painted.mean() < 0.6


def test_marking_quads_follow_the_dash_pattern():
  marking = LaneMarking(np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 20.0]]), width=0.2,
                        dashes=(2.0, 3.0))
  quads = ground_texture._marking_quads(marking)
  lengths = [np.linalg.norm(q[1] - q[0]) for q in quads]
  assert np.isclose(sum(lengths), 2.0 * 6)  # 30 m of line, a 2 m dash every 5 m
  assert all(np.isclose(np.linalg.norm(q[3] - q[0]), 0.2) for q in quads)
  solid = ground_texture._marking_quads(LaneMarking(np.array([[0.0, 0.0], [4.0, 3.0]])))
  assert len(solid) == 1 and np.isclose(np.linalg.norm(solid[0][1] - solid[0][0]), 5.0)
