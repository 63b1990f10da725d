"""Fixtures shared by the timelapse tests (the learnt stages', the detector's)."""

import jax.numpy as jnp
import numpy as np
import pytest

from experiments import simulate as simulate_config
from walt3d_jax.formats import rle
from walt3d_jax.geometry import plane
from walt3d_jax.sim import render
from walt3d_jax.sim import simulate
from walt3d_jax.timelapse.types import FrameDetections


@pytest.fixture(scope="session")
def street():
  """Frames of the crosswalk scene at 480×270 (the learnt stages' training size) from six bursts,
  each with the empty street under its light and the visible masks of its unoccluded objects
  of 100 px or more."""
  config = simulate_config.get_config("crosswalk")
  config.image_size = (480, 270)
  config.num_bursts, config.frames_per_burst, config.num_days = 6, 1, 1
  config.num_cars, config.num_people, config.progress = 10, 10, False
  scene = simulate.prepare_scene(config, "crosswalk")
  rng = np.random.default_rng(0)
  return [(f.rendered.image, render.render_frame(scene.background, [], scene.camera, f.lighting, rng).image,
           [t.visible_mask for t in f.truths if t.visible_mask.sum() >= 100 and t.occlusion < 0.1], f.lighting.period)
          for f in simulate.simulate_frames(config, scene, 0)]


@pytest.fixture(scope="session")
def as_detections():
  """masks (list of (H, W) bool) -> FrameDetections of them, boxes their bounding boxes."""

  def make(masks: list[np.ndarray], image_id: int = 0) -> FrameDetections:
    n = len(masks)
    boxes = np.array([rle.mask_box(m) for m in masks], np.float32).reshape(-1, 4)
    return FrameDetections(image_id, boxes, np.full(n, 0.9, np.float32), np.ones(n, np.int32),
                           tuple(rle.encode_mask(m) for m in masks), np.zeros((n, 17, 3), np.float32),
                           np.full(n, -1, np.int64))

  return make


@pytest.fixture(scope="session")
def board_box():
  """(camera, distance, width_m, height_m) -> COCO box (1, 4) of an upright board of that size
  standing on the ground `distance` metres ahead of the camera."""

  def box(camera, distance, width_m, height_m):
    corners = np.array([[distance, -width_m / 2, 0.], [distance, width_m / 2, 0.], [distance, 0., height_m]])
    uv = np.asarray(plane.ground_to_pixel(camera, jnp.asarray(corners))[0])
    x0, x1 = sorted([uv[0, 0], uv[1, 0]])
    return np.array([[x0 + 0.5, uv[2, 1] + 0.5, x1 - x0, uv[0, 1] - uv[2, 1]]])

  return box
