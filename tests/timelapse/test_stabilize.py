"""Camera shake undone by whole pixels (timelapse.stabilize): against known offsets."""

import dataclasses

import numpy as np
import pytest

from walt3d_jax.formats import rle
from walt3d_jax.timelapse import stabilize
from walt3d_jax.timelapse.types import Frame
from walt3d_jax.timelapse.types import FrameDetections

SIZE = (160, 96)  # width, height


def _street(rng: np.random.Generator) -> np.ndarray:
  """(H, W, 3) uint8: a textured, stationary scene (smoothed noise: edges at every scale)."""
  import cv2
  noise = rng.uniform(0, 255, (SIZE[1], SIZE[0], 3)).astype(np.float32)
  smooth = cv2.GaussianBlur(noise, (0, 0), 2.)
  return np.clip((smooth - smooth.mean()) * 4 + 128, 0, 255).astype(np.uint8)


class _Frames:
  """Frames in a list as a frame source, with positions (how many yielded) to resume from."""

  def __init__(self, frames):
    self._frames = frames
    self._done = 0
    self.report = None

  def iterate(self, start=None):
    self._done = start or 0
    for frame in self._frames[self._done:]:
      self._done += 1
      yield frame

  def position(self):
    return self._done

  def expected(self):
    return len(self._frames)


@pytest.fixture(scope="module")
def shaken():
  """20 frames of one scene, a car-sized block driving across, light dimming by half; every frame
  after the first moved by up to 4 px. Returns (frames, offsets)."""
  rng = np.random.default_rng(0)
  scene = _street(rng)
  frames, offsets = [], [(0, 0)]
  offsets += [tuple(int(v) for v in rng.integers(-4, 5, 2)) for _ in range(19)]
  for k, (dx, dy) in enumerate(offsets):
    image = (scene * (1. - k / 40.)).astype(np.uint8)
    image[50:70, 8 * k:8 * k + 30] = (200, 30, 30)
    frames.append(Frame(k, k / 10., stabilize.shift_image(image, dx, dy), f"f{k}"))
  return frames, offsets


def test_estimate_shift_finds_a_known_offset_under_other_light():
  image = _street(np.random.default_rng(1))
  reference = stabilize.texture(image)
  kept = reference.copy()
  for dx, dy in ((3, -2), (-5, 4), (0, 0)):
    moved = stabilize.shift_image((image * 0.6).astype(np.uint8), dx, dy)
    ex, ey, response = stabilize.estimate_shift(reference, moved)
    assert abs(ex - dx) < 0.25 and abs(ey - dy) < 0.25 and response > 0.3, (dx, dy, ex, ey, response)
  # cv2.phaseCorrelate windows its inputs in place: the reference must come back untouched.
  np.testing.assert_array_equal(reference, kept)
  with pytest.raises(ValueError, match="frame 80x96 != reference 160x96"):
    stabilize.estimate_shift(reference, image[:, :80])


def test_shift_image_moves_content_and_repeats_the_border():
  image = np.arange(12, dtype=np.uint8).reshape(3, 4)
  moved = stabilize.shift_image(image, 1, -1)
  np.testing.assert_array_equal(moved[:2, 1:], image[1:, :3])
  np.testing.assert_array_equal(moved[:, 0], moved[:, 1])  # the uncovered column repeats
  np.testing.assert_array_equal(moved[2], moved[1])


def test_shift_detections_moves_boxes_masks_and_keypoints():
  mask = np.zeros((SIZE[1], SIZE[0]), bool)
  mask[10:20, 150:158] = True
  keypoints = np.zeros((1, 17, 3), np.float32)
  keypoints[0, 0] = (152., 12., 1.)
  dets = FrameDetections(3, np.array([rle.mask_box(mask)], np.float32), np.ones(1, np.float32),
                         np.ones(1, np.int32), (rle.encode_mask(mask),), keypoints, np.full(1, -1, np.int64))
  moved = stabilize.shift_detections(dets, 5, -2, SIZE)
  # 3 of the 8 columns leave the image on the right: cut.
  np.testing.assert_array_equal(moved.boxes[0], [155, 8, 5, 10])
  assert rle.decode_mask(moved.masks[0]).sum() == 5 * 10
  np.testing.assert_array_equal(moved.keypoints[0, 0], [157., 10., 1.])
  assert stabilize.shift_detections(dets, 0, 0, SIZE) is dets
  # Moved out of the image whole: dropped, not an empty box.
  gone = stabilize.shift_detections(dets, 20, 0, SIZE)
  assert gone.num == 0 and gone.keypoints.shape == (0, 17, 3) and gone.scores.shape == (0,)


def test_stabilized_frames_undo_the_shake_and_resume(shaken):
  frames, offsets = shaken
  reader = stabilize.StabilizedFrames(_Frames(frames))
  steady = list(reader.iterate())
  shifts = [reader.shift(f.index) for f in frames]
  assert shifts == [(-dx, -dy) for dx, dy in offsets]
  # Away from the uncovered border every frame now shows the scene where the first does.
  inner = (slice(8, -8), slice(8, -8))
  block = np.zeros(steady[0].image.shape[:2], bool)
  for k, frame in enumerate(steady[1:], 1):
    block[:] = False
    block[50:70, max(8 * k - 8, 0):8 * k + 38] = True  # the moving block, then and now
    diff = np.abs(frame.image.astype(int) - (steady[0].image * (1. - k / 40.))).max(axis=2)
    assert np.percentile(diff[inner][~block[inner]], 95) <= 3, k
  assert reader.shake.frames == 20 and reader.shake.moved == sum(o != (0, 0) for o in offsets)
  assert reader.shake.largest_px == max(max(abs(dx), abs(dy)) for dx, dy in offsets)
  # A pass resumed from a position goes on with the same key frame and offsets.
  again = stabilize.StabilizedFrames(_Frames(frames))
  passed = again.iterate()
  for _ in range(7):
    next(passed)
  position = again.position()
  resumed = stabilize.StabilizedFrames(_Frames(frames))
  rest = list(resumed.iterate(position))
  assert [f.index for f in rest] == list(range(7, 20))
  assert [resumed.shift(k) for k in range(7, 20)] == shifts[7:]
  assert resumed.shake == reader.shake


def test_a_still_camera_is_left_alone_and_a_moved_one_is_not_shake(shaken):
  frames, offsets = shaken
  still = [f._replace(image=stabilize.shift_image(f.image, -dx, -dy)) for f, (dx, dy) in zip(frames, offsets)]
  reader = stabilize.StabilizedFrames(_Frames(still))
  list(reader.iterate())
  assert reader.shake.moved == 0
  # The camera knocked 30 px aside from the 10th frame on: not shake, not sought that far; the
  # knocked frames match the frame before them, at its offset: none is moved.
  knocked = still[:10] + [f._replace(image=stabilize.shift_image(f.image, 30, 0)) for f in still[10:]]
  reader = stabilize.StabilizedFrames(_Frames(knocked), stabilize.StabilizeConfig(max_shift_px=16))
  list(reader.iterate())
  assert reader.shake.moved == 0 and reader.shake.chained >= 10
  assert "measured through the frame before" in reader.shake.summary()


def test_a_frame_unlike_any_keeps_the_offset_before_it(shaken):
  frames, offsets = shaken
  blank = frames[5]._replace(image=np.full_like(frames[5].image, 90))  # a bus filling the view
  reader = stabilize.StabilizedFrames(_Frames(frames[:5] + [blank] + frames[6:]))
  list(reader.iterate())
  assert reader.shake.weak == 1 and reader.shift(5) == reader.shift(4)
  assert [reader.shift(k) for k in range(6, 20)] == [(-dx, -dy) for dx, dy in offsets[6:]]


@pytest.mark.parametrize("field", [dict(max_shift_px=0), dict(max_shift_px=2.5), dict(min_response=1.),
                                   dict(min_response=-0.1)])
def test_bad_config_raises(field):
  with pytest.raises(ValueError, match="StabilizeConfig"):
    stabilize.StabilizeConfig(**field)
