"""Blobs explained by silhouettes of objects on the ground: cuboid geometry (property test),
touching cars drawn with OpenCV's projection found one by one, flat ground stains refused, the
head of a queue from the detector benchmark found by its outline."""

import json
import pathlib

import cv2
import hypothesis
import numpy as np
import pytest
from hypothesis import strategies as st

from walt3d_jax.formats import rle
from walt3d_jax.formats.coco import Category
from walt3d_jax.geometry import camera as camera_lib
from walt3d_jax.metrics import detection as det_metrics
from walt3d_jax.timelapse import silhouettes

CAMERA = camera_lib.mounted_camera(6., 0.35, 1.2, (320, 180))


def _ground_point(u: float, v: float) -> np.ndarray:
  """Camera-frame ground point (3,) seen at pixel (u, v)."""
  ray = np.linalg.solve(np.asarray(CAMERA.K, np.float64), [u, v, 1.])
  n = np.asarray(CAMERA.normal, np.float64)
  return -float(CAMERA.offset) / float(n @ ray) * ray


def _draw(corners: np.ndarray) -> np.ndarray:
  """(H, W) bool: the filled hull of corners (8, 3) projected with cv2.projectPoints."""
  px, _ = cv2.projectPoints(corners.astype(np.float64), np.zeros(3), np.zeros(3),
                            np.asarray(CAMERA.K, np.float64), None)
  mask = np.zeros((CAMERA.height, CAMERA.width), np.uint8)
  cv2.fillConvexPoly(mask, cv2.convexHull(np.round(px[:, 0]).astype(np.int32)), 1)
  return mask.astype(bool)


@hypothesis.given(u=st.floats(40, 280), v=st.floats(90, 175), yaw=st.floats(-3.2, 3.2),
                  length=st.floats(0.3, 6.), width=st.floats(0.3, 2.5), height=st.floats(0.5, 2.5))
@hypothesis.settings(max_examples=40, deadline=None)
def test_cuboid_stands_on_the_ground_with_its_size(u, v, yaw, length, width, height):
  centre = _ground_point(u, v)
  corners = silhouettes.cuboid_corners(centre[None], np.array([yaw]), (length, width, height), CAMERA)[0]
  n, d = np.asarray(CAMERA.normal, np.float64), float(CAMERA.offset)
  above = corners @ n + d  # height above the ground, metres
  np.testing.assert_allclose(np.sort(above), [0.] * 4 + [height] * 4, atol=1e-6)
  bottom = corners[above < height / 2]
  edges = np.sort(np.linalg.norm(bottom[:, None] - bottom[None], axis=-1).ravel())
  # 4 zero self-distances, then the two widths, lengths and diagonals twice each.
  np.testing.assert_allclose(edges[4:], np.repeat(np.sort([width, width, length, length, np.hypot(length, width),
                                                           np.hypot(length, width)]), 2), atol=1e-6)
  np.testing.assert_allclose(bottom.mean(axis=0), centre, atol=1e-6)


def _two_cars():
  """Two cars crossing the view side by side with a 0.3 m gap, touching in the image: the blob,
  each car's visible mask (the far one behind the near one) and their categories."""
  size = (4.2, 1.75, 1.45)
  near_centre = _ground_point(150., 140.)
  _, forward, _ = silhouettes.ground_axes(CAMERA)
  far_centre = near_centre + 2.05 * forward  # one car width and a 0.3 m gap further away
  near = _draw(silhouettes.cuboid_corners(near_centre[None], np.array([np.pi / 2]), size, CAMERA)[0])
  far = _draw(silhouettes.cuboid_corners(far_centre[None], np.array([np.pi / 2]), size, CAMERA)[0]) & ~near
  return near | far, [near, far]


def test_touching_cars_are_found_one_by_one():
  blob, truth = _two_cars()
  count, _ = cv2.connectedComponents(blob.astype(np.uint8))
  assert count == 2  # one blob (and the background)
  found = silhouettes.explain_blob(blob, CAMERA)
  assert len(found.masks) == 2
  assert (found.categories == Category.CAR).all()
  assert found.depths[0] < found.depths[1]  # nearest first
  iou = det_metrics.box_iou(np.array([rle.mask_box(m) for m in found.masks], np.float32),
                            np.array([rle.mask_box(m) for m in truth], np.float32))
  # The far car is half hidden and the candidates lie on a 0.4 m lattice.
  assert iou[0, 0] >= 0.9 and iou[1, 1] >= 0.7, iou
  # Masks are disjoint parts of the blob.
  assert not (found.masks[0] & found.masks[1]).any() and not (found.masks.any(axis=0) & ~blob).any()


def test_a_stain_on_the_ground_is_no_car():
  # A 6 × 3 m patch lying flat on the road (a wet patch, a shadow the shadow test missed).
  centre = _ground_point(160., 130.)
  flat = _draw(silhouettes.cuboid_corners(centre[None], np.array([np.pi / 2]), (6., 3., 1e-3), CAMERA)[0])
  assert flat.sum() > 300
  found = silhouettes.explain_blob(flat, CAMERA)
  assert len(found.masks) == 0


def test_empty_blob_and_bad_config():
  found = silhouettes.explain_blob(np.zeros((CAMERA.height, CAMERA.width), bool), CAMERA)
  assert found.masks.shape == (0, CAMERA.height, CAMERA.width) and len(found.categories) == 0
  with pytest.raises(ValueError, match="min_fill"):
    silhouettes.SilhouetteConfig(min_fill=0.)
  with pytest.raises(ValueError, match="car_size_m"):
    silhouettes.SilhouetteConfig(car_size_m=(4., 1.8))
  with pytest.raises(ValueError, match="ring_m"):
    silhouettes.SilhouetteConfig(ring_m=-0.1)
  with pytest.raises(ValueError, match="ring_weight"):
    silhouettes.SilhouetteConfig(ring_weight=float("nan"))


def _queue_blob():
  """A blob from the detector benchmark (fixtures/make_queue_blob.py): a car at the head of a
  queue joined to the lower half of the car behind; the blob (H, W) bool, the camera and the
  simulator's box of the front car (4,)."""
  data = np.load(pathlib.Path(__file__).with_name("fixtures") / "queue_blob.npz")
  camera = camera_lib.camera_from_dict(json.loads(str(data["camera"])))
  x, y, w, h = (int(v) for v in data["box"])
  blob = np.zeros((camera.height, camera.width), bool)
  blob[y:y + h, x:x + w] = np.unpackbits(data["bits"], count=h * w).reshape(h, w).astype(bool)
  return blob, camera, data["front_car"].astype(np.float32)


@pytest.mark.parametrize("ring_weight", [2., 0.])
def test_the_car_at_the_head_of_a_queue_is_found_by_its_outline(ring_weight):
  blob, camera, front = _queue_blob()
  found = silhouettes.explain_blob(blob, camera, silhouettes.SilhouetteConfig(ring_weight=ring_weight))
  boxes = np.array([rle.mask_box(m) for m in found.masks], np.float32).reshape(-1, 4)
  best = float(det_metrics.box_iou(boxes, front[None]).max(initial=0.))
  if ring_weight:
    assert best >= 0.7, (boxes, front)
  else:
    # Without the ring, a silhouette straddling both cars covers more of the blob (646 px against 611).
    assert best <= 0.55, (boxes, front)
