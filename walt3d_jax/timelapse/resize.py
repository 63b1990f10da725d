"""Footage read at a working resolution: frames wider than `max_width` pixels are shrunk (area
averaging, aspect kept) as they are read, and a camera or detections given in the recorded
pixels are brought to the same size, so everything after the reader (background, detections,
bank, fits, clip-art) lives at one size.

A trade of recall for time. The built-in detector's cost grows with the pixel count, and its
pixel settings (morphology radii, smallest component, HOG's window) are fixed. On simulated
1280×720 sequences (seed 0, 6 bursts of 3 frames per preset; `benchmarks/detector.py --size
1280 720 --work_width W`), read at 480×270 it ran 6–7× faster (1.6–1.8 s → 0.24–0.28 s a frame)
and lost recall on three presets of four (crosswalk 0.66 → 0.56, t_junction 0.74 → 0.66, avenue
0.61 → 0.45); on intersection it gained (P 0.52 → 0.62, R 0.46 → 0.49). Read at 960 wide it kept
about the recorded recall (0.48 / 0.64 / 0.73 / 0.59) at half the time. On 1920×1080 sequences
(t_junction, crosswalk; the same design) reading at 1280×720 was better than the recorded size
as well as 2.2× faster (R 0.71 → 0.80 and 0.66 → 0.68, P 0.71 → 0.75 and 0.72 → 0.72, 4.2 →
1.9 s a frame): `from_video` reads at most 1280 wide.
"""

from __future__ import annotations

import dataclasses
from typing import Iterator

import cv2
import numpy as np

from walt3d_jax.errors import UserError
from walt3d_jax.formats import rle
from walt3d_jax.geometry import camera as camera_lib
from walt3d_jax.timelapse.types import Frame
from walt3d_jax.timelapse.types import FrameDetections


def working_size(size: tuple[int, int], max_width: int) -> tuple[int, int]:
  """(W, H) frames of `size` (W, H) are read at: as they are when max_width is 0 or they are no
  wider; else max_width wide, the height rounded to keep the aspect (at least 1)."""
  width, height = (int(v) for v in size)
  if max_width < 0:
    raise ValueError(f"max_width must be >= 0 (0: as recorded), got {max_width}")
  if not max_width or width <= max_width:
    return width, height
  return int(max_width), max(1, int(round(height * max_width / width)))


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
  """image (H, W, 3) uint8 at size (W, H) by area averaging; the same array when already so."""
  if (image.shape[1], image.shape[0]) == tuple(size):
    return image
  return cv2.resize(image, tuple(int(v) for v in size), interpolation=cv2.INTER_AREA)


class ResizedFrames:
  """A frame source (`frames.open_frames`'s readers: iterate, position, expected, report) whose
  frames come at most `max_width` pixels wide (`working_size`). Positions are the inner
  reader's, so a resumed pass goes on alike. `recorded_size`: (W, H) of the frames as stored,
  known once a frame has been read (every frame of a source has one size)."""

  def __init__(self, reader, max_width: int):
    working_size((1, 1), max_width)  # checks max_width
    self._reader = reader
    self.max_width = int(max_width)
    self.recorded_size: tuple[int, int] | None = None

  @property
  def report(self):
    return self._reader.report

  def position(self):
    return self._reader.position()

  def expected(self):
    return self._reader.expected()

  def __iter__(self) -> Iterator[Frame]:
    return self.iterate()

  def iterate(self, start=None) -> Iterator[Frame]:
    for frame in self._reader.iterate(start):
      self.recorded_size = (frame.image.shape[1], frame.image.shape[0])
      yield frame._replace(image=resize_image(frame.image, working_size(self.recorded_size, self.max_width)))


def scale_camera(camera: camera_lib.Camera, size: tuple[int, int]) -> camera_lib.Camera:
  """The camera of images resized to size (W, H): K scaled (`camera.scale_intrinsics`); the
  ground plane and the distortion (in normalised coordinates) are unchanged."""
  width, height = (int(v) for v in size)
  if (camera.width, camera.height) == (width, height):
    return camera
  K = camera_lib.scale_intrinsics(np.asarray(camera.K), width / camera.width, height / camera.height)
  return dataclasses.replace(camera, K=K.astype(np.asarray(camera.K).dtype), width=width, height=height)


def camera_for_frames(camera: camera_lib.Camera, image_size: tuple[int, int], max_width: int,
                      source: str = "camera.json") -> camera_lib.Camera:
  """A given camera brought to the frames' working size image_size (W, H): as it is when it is of
  that size, scaled when it is of the size the frames were recorded at (one that `working_size`
  brings to image_size); otherwise a UserError naming both sizes."""
  if camera.image_size == tuple(image_size):
    return camera
  if working_size(camera.image_size, max_width) == tuple(image_size):
    return scale_camera(camera, image_size)
  raise UserError(f"{source}: its camera is for {camera.width}x{camera.height} images, but the frames are read at "
                  f"{image_size[0]}x{image_size[1]} (max_width {max_width}); give the camera of this footage")


def scale_detections(detections: FrameDetections, size: tuple[int, int]) -> FrameDetections:
  """detections of one frame (masks of the recorded size) at size (W, H): masks by area
  (a pixel is in where the object covers at least half of it), boxes their masks' boxes,
  labelled keypoints scaled with pixel centres at integers; a detection whose mask vanishes (under about
  a working pixel) is dropped."""
  if detections.num == 0:
    return detections
  width, height = (int(v) for v in size)
  h0, w0 = (int(v) for v in detections.masks[0]["size"])  # every mask of a frame has its size
  if (w0, h0) == (width, height):
    return detections
  masks, kept = [], []
  for i, m in enumerate(detections.masks):
    area = cv2.resize(rle.decode_mask(m).astype(np.float32), (width, height), interpolation=cv2.INTER_AREA)
    if (mask := area >= 0.5).any():
      masks.append(mask)
      kept.append(i)
  out = detections.select(np.asarray(kept, np.int64))
  scale = np.array([width / w0, height / h0], np.float32)
  keypoints = out.keypoints.copy()
  labelled = keypoints[..., 2:] > 0  # COCO's unlabelled keypoints stay at (0, 0, 0)
  keypoints[..., :2] = np.where(labelled, (keypoints[..., :2] + 0.5) * scale - 0.5, keypoints[..., :2])
  return dataclasses.replace(
      out, boxes=np.asarray([rle.mask_box(m) for m in masks], detections.boxes.dtype).reshape(-1, 4),
      masks=tuple(rle.encode_mask(m) for m in masks), keypoints=keypoints)
