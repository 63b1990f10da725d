"""Cars at night found by their lamps: lamps placed at their height (property test), a pair of
headlights and of tail lights giving the car drawn with OpenCV's projection, what is not a lamp
or not a pair refused, and the detector finding a dark car by its lamps and cutting the pool
of its headlights off its blob."""

import cv2
import hypothesis
import numpy as np
import pytest
from hypothesis import strategies as st

from walt3d_jax.formats.coco import Category
from walt3d_jax.geometry import camera as camera_lib
from walt3d_jax.metrics import detection as det_metrics
from walt3d_jax.timelapse import detect
from walt3d_jax.timelapse import ground as ground_lib
from walt3d_jax.timelapse import lamps
from walt3d_jax.timelapse import silhouettes

CAMERA = camera_lib.mounted_camera(6., 0.35, 1.2, (320, 180))
SIZE = silhouettes.SilhouetteConfig().car_size_m
CONFIG = lamps.LampConfig()
UP, FORWARD, SIDE = silhouettes.ground_axes(CAMERA)


def _project(points: np.ndarray) -> np.ndarray:
  """(N, 2) pixels of camera-frame points (N, 3), with cv2.projectPoints."""
  px, _ = cv2.projectPoints(points.astype(np.float64), np.zeros(3), np.zeros(3), np.asarray(CAMERA.K, np.float64), None)
  return px[:, 0]


def _car(distance: float, lateral: float, yaw: float) -> tuple[np.ndarray, np.ndarray]:
  """A car whose end facing the camera is at distance m ahead and lateral m aside, heading yaw
  (0: straight away from the camera): its footprint centre (3,) and the ground midpoint of that
  end (3,), camera frame."""
  ground_origin = -float(CAMERA.offset) * UP  # the ground point under the camera
  front = ground_origin + distance * FORWARD + lateral * SIDE
  along = np.cos(yaw) * FORWARD + np.sin(yaw) * SIDE
  return front + 0.5 * SIZE[0] * along, front


def _lamp_pixels(front: np.ndarray, yaw: float, height: float, gap: float) -> np.ndarray:
  """(2, 2) pixels of two lamps gap m apart, height m up, on the end of a car at front (3,)."""
  along = np.cos(yaw) * FORWARD + np.sin(yaw) * SIDE
  across = np.cross(UP, along)
  centre = front + height * UP
  return _project(np.stack([centre - 0.5 * gap * across, centre + 0.5 * gap * across]))


def _night(lamp_px: np.ndarray, colour=(255, 250, 235), level: int = 25) -> tuple[np.ndarray, np.ndarray]:
  """A dark frame and its background: lamps of 3 × 2 px at lamp_px (N, 2) in the frame only."""
  background = np.full((CAMERA.height, CAMERA.width, 3), level, np.uint8)
  image = background.copy()
  for x, y in np.round(lamp_px).astype(int):
    image[y:y + 2, x - 1:x + 2] = colour
  return image, background


def _box(mask: np.ndarray) -> np.ndarray:
  ys, xs = np.nonzero(mask)
  return np.array([[xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]], np.float64)


@hypothesis.given(u=st.floats(10, 310), v=st.floats(60, 175), height=st.floats(0., 2.))
@hypothesis.settings(max_examples=40, deadline=None)
def test_points_lie_at_the_height_asked_on_the_pixel_ray(u, v, height):
  points, depth, ahead = ground_lib.pixels_to_ground(CAMERA, np.array([u]), np.array([v]), height)
  hypothesis.assume(ahead[0])
  n, d = np.asarray(CAMERA.normal, np.float64), float(CAMERA.offset)
  assert points[:, 0] @ n + d == pytest.approx(height, abs=1e-9)
  np.testing.assert_allclose(_project(points.T)[0], [u, v], atol=1e-6)
  assert depth[0] == pytest.approx(points[2, 0])


@pytest.mark.parametrize('red, height', [(False, CONFIG.headlight_height_m), (True, CONFIG.taillight_height_m)])
@pytest.mark.parametrize('yaw', [0., 0.5, -0.9])
def test_a_pair_of_lamps_gives_the_car_behind_it(red, height, yaw):
  centre, front = _car(14., 1.5, yaw)
  px = _lamp_pixels(front, yaw, height, 1.4)
  image, background = _night(px, (250, 20, 15) if red else (255, 250, 235))
  found = lamps.find_lamps(image, background)
  assert len(found.areas) == 2 and (found.red == red).all()
  np.testing.assert_allclose(np.sort(found.centres[:, 0]), np.sort(px[:, 0] + 0.), atol=1.)
  cars = lamps.lamp_cars(image, background, CAMERA)
  assert len(cars) == 1
  corners = silhouettes.cuboid_corners(centre[None], np.array([yaw]), SIZE, CAMERA)[0]
  drawn = np.zeros((CAMERA.height, CAMERA.width), np.uint8)
  cv2.fillConvexPoly(drawn, cv2.convexHull(np.round(_project(corners)).astype(np.int32)), 1)
  iou = det_metrics.box_iou(_box(cars.masks[0]), _box(drawn.astype(bool)))[0, 0]
  assert iou > 0.85, iou
  assert cars.lamps[0].sum() == 12  # the two lamps' pixels
  # Headlights light the road ahead: towards the camera (below the car in the image) from
  # headlights, beyond the car (above it) from tail lights.
  below = np.nonzero(cars.ahead[0])[0].mean() > np.nonzero(cars.masks[0])[0].mean()
  assert below != red


def test_what_is_not_a_lamp_or_not_a_pair_is_refused():
  _, front = _car(14., 0., 0.)
  px = _lamp_pixels(front, 0., CONFIG.headlight_height_m, 1.4)
  # The background holds the same lights (street lamps, lit windows).
  image, _ = _night(px)
  assert len(lamps.find_lamps(image, image).areas) == 0
  # Bright spots on a bright surface (a white car's roof in the sun) do not outshine it.
  image, background = _night(px)
  image[:, :] = np.maximum(image, 200)
  assert len(lamps.find_lamps(image, background).areas) == 0
  # Too close together, too far apart, or of two colours: no car.
  for gap in (0.5, 2.6):
    image, background = _night(_lamp_pixels(front, 0., CONFIG.headlight_height_m, gap))
    assert len(lamps.find_lamps(image, background).areas) == 2
    assert len(lamps.lamp_cars(image, background, CAMERA)) == 0, gap
  image, background = _night(px[:1])
  red, _ = _night(px[1:], (250, 20, 15))
  image = np.maximum(image, red)
  assert len(lamps.lamp_cars(image, background, CAMERA)) == 0
  # A blob too large to be a lamp where it stands.
  image, background = _night(px)
  x, y = np.round(px[0]).astype(int)
  image[y - 6:y + 6, x - 6:x + 6] = 255
  assert len(lamps.lamp_cars(image, background, CAMERA)) == 0


def test_config_is_checked():
  with pytest.raises(ValueError, match='separation_m'):
    lamps.LampConfig(separation_m=(1.8, 1.0))
  with pytest.raises(ValueError, match='min_area'):
    lamps.LampConfig(min_area=0)
  with pytest.raises(ValueError, match='red_ratio'):
    lamps.LampConfig(red_ratio=1.5)


def test_detector_finds_a_dark_car_by_its_lamps_and_cuts_off_its_headlights_pool():
  centre, front = _car(12., 0.5, 0.3)
  corners = silhouettes.cuboid_corners(centre[None], np.array([0.3]), SIZE, CAMERA)[0]
  drawn = np.zeros((CAMERA.height, CAMERA.width), np.uint8)
  cv2.fillConvexPoly(drawn, cv2.convexHull(np.round(_project(corners)).astype(np.int32)), 1)
  truth = _box(drawn.astype(bool))
  px = _lamp_pixels(front, 0.3, CONFIG.headlight_height_m, 1.4)
  image, background = _night(px)
  # The body is as dark as the road: the background difference sees the lamps only.
  found = detect.detect(image, background, 3., 0, CAMERA)
  cars = found.select(found.categories == Category.CAR)
  assert cars.num == 1 and det_metrics.box_iou(cars.boxes, truth)[0, 0] > 0.85
  assert detect.detect(image, background, 3., 0, CAMERA, detect.DetectorConfig(lamps=False)).num == 0
  # A visible body with the pool of its headlights on the road ahead: one car, the pool left out.
  image[drawn.astype(bool)] = 90
  pool = np.zeros_like(drawn)
  along = np.cos(0.3) * FORWARD + np.sin(0.3) * SIDE
  across = np.cross(UP, along)
  ahead = _project(np.stack([front - 8. * along + s * across for s in (-3., 3.)] + [front + s * across for s in (-.9, .9)]))
  cv2.fillConvexPoly(pool, cv2.convexHull(np.round(ahead).astype(np.int32)), 1)
  image[pool.astype(bool) & ~drawn.astype(bool)] = 70
  image = np.maximum(image, _night(px)[0])  # the lamps over the body
  found = detect.detect(image, background, 3., 0, CAMERA, detect.DetectorConfig(shadows=False))
  assert found.num == 1 and found.categories[0] == Category.CAR, found.boxes
  assert det_metrics.box_iou(found.boxes, truth)[0, 0] > 0.8, (found.boxes, truth)
  blob_only = detect.detect(image, background, 3., 0, CAMERA, detect.DetectorConfig(shadows=False, lamps=False))
  assert blob_only.num == 2  # without the lamps the pool is an object of its own
  # A person standing in the pool, darker than the road: not light, an object of its own.
  feet = front - 4. * along
  person = _project(np.stack([feet + dx * across + dz * UP for dx in (-.25, .25) for dz in (0., 1.75)]))
  x0, y0 = np.floor(person.min(axis=0)).astype(int)
  x1, y1 = np.ceil(person.max(axis=0)).astype(int)
  image[y0:y1, x0:x1] = 8
  found = detect.detect(image, background, 3., 0, CAMERA, detect.DetectorConfig(shadows=False))
  people = found.select(found.categories == Category.PERSON)
  assert found.num == 2 and people.num == 1, (found.boxes, found.categories)
  assert det_metrics.box_iou(people.boxes, np.array([[x0, y0, x1 - x0, y1 - y0]], np.float64))[0, 0] > 0.8
