"""Footage read at a working width: frames, camera and given detections brought to one size."""

import cv2
import hypothesis
import hypothesis.strategies as st
import numpy as np
import pytest

from walt3d_jax.errors import UserError
from walt3d_jax.formats import rle
from walt3d_jax.geometry import camera as camera_lib
from walt3d_jax.timelapse import frames as frames_lib
from walt3d_jax.timelapse import resize
from walt3d_jax.timelapse.types import FrameDetections
from walt3d_jax.timelapse.types import NUM_KEYPOINTS


@pytest.mark.parametrize("size, max_width, expected", [
    ((1920, 1080), 480, (480, 270)),
    ((768, 576), 480, (480, 360)),
    ((320, 180), 480, (320, 180)),  # never enlarged
    ((1920, 1080), 0, (1920, 1080)),  # 0: as recorded
    ((1000, 1), 10, (10, 1)),  # at least a row
])
def test_working_size(size, max_width, expected):
  assert resize.working_size(size, max_width) == expected


@hypothesis.given(st.integers(2, 4000), st.integers(2, 4000), st.integers(1, 2000))
def test_working_size_keeps_the_aspect_within_a_row(width, height, max_width):
  w, h = resize.working_size((width, height), max_width)
  assert w == min(width, max_width) and h >= 1
  assert abs(h - max(height * w / width, 1)) <= 0.5 + 1e-9


def test_negative_max_width_is_refused():
  with pytest.raises(ValueError, match="max_width must be >= 0"):
    resize.ResizedFrames(None, -1)


def test_resized_frames_shrink_by_area_and_resume_alike(tmp_path):
  rng = np.random.default_rng(0)
  images = [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(4)]
  for k, image in enumerate(images):
    cv2.imwrite(str(tmp_path / f"{k:03d}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
  reader = resize.ResizedFrames(frames_lib.open_frames(tmp_path), 32)
  assert reader.recorded_size is None
  frames = []
  for frame in reader.iterate():
    frames.append(frame)
    if len(frames) == 2:
      middle = reader.position()
  assert reader.recorded_size == (64, 48) and reader.report.yielded == 4
  for frame, image in zip(frames, images):
    assert frame.image.shape == (24, 32, 3)
    # Area averaging of 2×2 blocks: the mean of each block, rounded.
    means = image.reshape(24, 2, 32, 2, 3).astype(np.float64).mean(axis=(1, 3))
    assert np.abs(frame.image - means).max() <= 0.5 + 1e-6
  resumed = list(resize.ResizedFrames(frames_lib.open_frames(tmp_path), 32).iterate(middle))
  assert [f.index for f in resumed] == [f.index for f in frames[2:]]
  assert all(np.array_equal(a.image, b.image) for a, b in zip(resumed, frames[2:]))


@hypothesis.settings(deadline=None, max_examples=30)
@hypothesis.given(st.floats(-4., 4.), st.floats(2., 40.), st.floats(-2., 2.), st.sampled_from([(320, 180), (160, 90), (100, 57)]))
def test_a_scaled_camera_sees_ground_points_where_the_image_was_scaled(x, z, y_off, size):
  """Pixel centres at integers: u' = (u + 0.5) sx - 0.5 for any point, with sx = W' / W."""
  camera = camera_lib.mounted_camera(6.0, np.radians(20), np.radians(70), (640, 360))
  scaled = resize.scale_camera(camera, size)
  point = np.array([x, 1.0 + y_off, z])
  uv = np.asarray(camera_lib.project(camera.K, point[None]))[0]
  uv_scaled = np.asarray(camera_lib.project(scaled.K, point[None]))[0]
  s = np.array([size[0] / 640, size[1] / 360])
  np.testing.assert_allclose(uv_scaled, (uv + 0.5) * s - 0.5, rtol=1e-5, atol=1e-3)
  assert scaled.image_size == size
  np.testing.assert_array_equal(np.asarray(scaled.normal), np.asarray(camera.normal))
  assert float(scaled.offset) == float(camera.offset)


def test_camera_for_frames_takes_the_working_or_the_recorded_size_only():
  recorded = camera_lib.mounted_camera(6.0, np.radians(20), np.radians(70), (1280, 720))
  working = resize.camera_for_frames(recorded, (480, 270), 480)
  assert working.image_size == (480, 270)
  assert resize.camera_for_frames(working, (480, 270), 480) is working
  with pytest.raises(UserError, match=r"cam.json: its camera is for 1280x720 images, but the frames are read at "
                                      r"320x240 \(max_width 320\)"):
    resize.camera_for_frames(recorded, (320, 240), 320, "cam.json")  # a 4:3 footage
  with pytest.raises(UserError, match="is for 1280x720 images"):
    resize.camera_for_frames(recorded, (480, 270), 0)  # read as recorded: a 480-wide footage


def test_scale_detections_masks_boxes_and_keypoints():
  mask = np.zeros((48, 64), bool)
  mask[6:16, 8:28] = True  # 20 × 10 at (8, 6): exactly 10 × 5 at (4, 3) at half size
  speck = np.zeros((48, 64), bool)
  speck[30, 40] = True  # a quarter of a working pixel: vanishes
  keypoints = np.zeros((2, NUM_KEYPOINTS, 3), np.float32)
  keypoints[0, 0] = (9.5, 7.5, 2)  # centre of pixels 9-10, 7-8 → pixel centre 4.5, 3.5 at half size
  dets = FrameDetections(
      image_id=3, boxes=np.array([rle.mask_box(mask), rle.mask_box(speck)], np.float32),
      scores=np.array([0.9, 0.8], np.float32), categories=np.array([1, 2], np.int32),
      masks=(rle.encode_mask(mask), rle.encode_mask(speck)), keypoints=keypoints,
      track_ids=np.array([-1, -1], np.int64))
  out = resize.scale_detections(dets, (32, 24))
  assert out.num == 1 and out.image_id == 3
  np.testing.assert_array_equal(out.boxes[0], [4, 3, 10, 5])
  small = rle.decode_mask(out.masks[0])
  assert small.shape == (24, 32) and small.sum() == 50
  np.testing.assert_allclose(out.keypoints[0, 0], [4.5, 3.5, 2])
  np.testing.assert_array_equal(out.keypoints[0, 1:], 0)  # unlabelled keypoints stay (0, 0, 0)
  assert out.scores.tolist() == pytest.approx([0.9]) and out.categories.tolist() == [1]
  assert resize.scale_detections(dets, (64, 48)) is dets
  assert resize.scale_detections(FrameDetections.empty(5), (32, 24)).num == 0
