"""Small camera shake: every frame moved by whole pixels onto the footage's first frame.

A stationary camera on a pole or a window sill shakes by a pixel or a few (wind, traffic,
vibration). Background subtraction then sees every edge of the scene as foreground, and a median
over shaken frames is blurred. The remedy a practitioner reaches for first, before any
detection: register each frame to a reference by phase correlation (Kuglin & Hines 1975: the
peak of the normalised cross-power spectrum, so a change of light, which scales the spectrum,
does not move it) of high-passed grey images under a Hann window, and move it back.

The peak is sought within ±max_shift_px only (`_correlate`, scipy's FFT): cv2.phaseCorrelate
takes the highest peak anywhere, which a big bright car driving by can be, and it multiplies its
inputs by the window in place. Each frame is measured against the first frame; under other light
(the first frame's peak under `min_response`: night, a burst hours later) against the frame
before it, whose offset is known, and added to that offset; a frame like neither (a bus filling
the view) keeps the previous frame's offset. Measuring against the first frame wherever it
matches keeps the errors from adding up frame by frame (a chain of 48 key frames drifted by a
pixel in 200 frames of still video; this moves none).

Whole pixels only: the frame is copied, not resampled (no blur), and detections given in the
frame's own pixels move by the same integers (`shift_detections`). Afterwards everything
(background, detections, mined crops, the camera) is in the first frame's pixels.

Cost: a few milliseconds a frame at 480x270, about 30 at 1280x720 and 65 at 1920x1080 (one
core), in each pass that reads the frames; the built-in detector takes about a second a frame at
960x540.

Not corrected: rotation and zoom (pan-tilt-zoom cameras move; this is for fixed ones), and a
camera knocked aside by more than `max_shift_px` (not sought that far: its frames go on at the
offset before, counted as measured through the frame before).
"""

from __future__ import annotations

import collections
import dataclasses
import functools
from typing import Any, Iterator

import cv2
import numpy as np
from scipy import fft as sp_fft

from walt3d_jax.formats import rle
from walt3d_jax.timelapse.types import Frame
from walt3d_jax.timelapse.types import FrameDetections

# High-pass: the grey image minus its blur at this sigma (pixels): edges and texture, not shading.
_HIGH_PASS_SIGMA = 3.0
# Frames whose shift `StabilizedFrames.shift` remembers.
_REMEMBERED = 256


@dataclasses.dataclass(frozen=True)
class StabilizeConfig:
  """max_shift_px: a larger offset from the first frame is not shake (the camera was moved).
  min_response: phase correlation peaks below this (0..1) are not trusted (a scene that changed
  too much, or no texture)."""

  max_shift_px: int = 16
  min_response: float = 0.05

  def __post_init__(self):
    if int(self.max_shift_px) != self.max_shift_px or self.max_shift_px < 1:
      raise ValueError(f"StabilizeConfig.max_shift_px must be an int >= 1, got {self.max_shift_px}")
    if not 0 <= self.min_response < 1:
      raise ValueError(f"StabilizeConfig.min_response must be in [0, 1), got {self.min_response}")


def texture(image: np.ndarray) -> np.ndarray:
  """(H, W) float32 high-passed grey of an (H, W, 3) uint8 RGB image: what is registered."""
  grey = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY).astype(np.float32)
  return grey - cv2.GaussianBlur(grey, (0, 0), _HIGH_PASS_SIGMA)


def estimate_shift(reference: np.ndarray, image: np.ndarray, max_shift: int = 16) -> tuple[float, float, float]:
  """How far (dx, dy) pixels (within ±max_shift) the scene moved in `image` (H, W, 3) uint8 RGB
  relative to `reference` ((H, W) float32 `texture` of the reference frame), and the correlation
  peak's height (1 for a pure shift, about 0 for no match)."""
  if image.shape[:2] != reference.shape:
    raise ValueError(f"stabilize: frame {image.shape[1]}x{image.shape[0]} != reference "
                     f"{reference.shape[1]}x{reference.shape[0]}")
  return _correlate(reference, texture(image), max_shift)


def shift_image(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
  """image (H, W, ...) with its content moved by (dx, dy) whole pixels; the strip uncovered
  repeats the nearest row or column."""
  h, w = image.shape[:2]
  rows = np.clip(np.arange(h) - dy, 0, h - 1)
  cols = np.clip(np.arange(w) - dx, 0, w - 1)
  return image[rows][:, cols]


def shift_detections(detections: FrameDetections, dx: int, dy: int,
                     image_size: tuple[int, int]) -> FrameDetections:
  """detections moved by (dx, dy) whole pixels in an image of image_size (width, height): boxes,
  keypoints and masks (what leaves the image is cut, a box is its mask's box; a detection whose
  mask leaves the image whole is dropped)."""
  if detections.num == 0 or (dx == 0 and dy == 0):
    return detections
  w, h = image_size
  masks, boxes, kept = [], [], []
  for i, m in enumerate(detections.masks):
    moved = np.zeros((h, w), bool)
    mask = rle.decode_mask(m).astype(bool)
    moved[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = mask[max(-dy, 0):h + min(-dy, 0),
                                                                       max(-dx, 0):w + min(-dx, 0)]
    if moved.any():
      masks.append(rle.encode_mask(moved))
      boxes.append(rle.mask_box(moved))
      kept.append(i)
  out = detections.select(np.asarray(kept, np.int64))
  keypoints = out.keypoints.copy()
  keypoints[..., 0] += dx
  keypoints[..., 1] += dy
  return dataclasses.replace(out, boxes=np.asarray(boxes, detections.boxes.dtype).reshape(-1, 4),
                             masks=tuple(masks), keypoints=keypoints)


@dataclasses.dataclass
class ShakeReport:
  """Frames read in a pass: moved (by at least a pixel); chained: too unlike the first, so
  measured through the previous frame; weak: of those, too unlike that one too (they keep its
  offset); too_large: measured beyond max_shift_px (not moved); the largest shift applied
  (pixels)."""

  frames: int = 0
  moved: int = 0
  chained: int = 0
  weak: int = 0
  too_large: int = 0
  largest_px: int = 0

  def summary(self) -> str:
    return (f"camera shake: {self.moved} of {self.frames} frames moved back by up to {self.largest_px} px"
            + (f"; {self.chained} measured through the frame before (unlike the first)" if self.chained else "")
            + (f"; {self.weak} too unlike both to measure" if self.weak else "")
            + (f"; {self.too_large} moved by more than a shake (left as they are)" if self.too_large else ""))


@dataclasses.dataclass
class _Key:
  """The previous frame's texture and its offset (dx, dy) from the first frame, pixels."""

  texture: np.ndarray
  offset: tuple[float, float]


@dataclasses.dataclass
class StabilizedPosition:
  """The wrapped reader's position, the first frame's texture and the last frame's (with its
  offset) after the last frame yielded: where a resumed pass goes on."""

  inner: Any
  anchor: np.ndarray | None
  key: _Key | None
  shake: ShakeReport

  @property
  def report(self):
    return self.inner.report


class StabilizedFrames:
  """A frame source (`frames.open_frames`'s readers: iterate, position, expected, report) whose
  frames come moved onto its first frame. `shift(index)`: the (dx, dy) applied to a recent frame,
  for detections given in the frame's own pixels; `shake`: this pass's ShakeReport; `position()`
  carries the first frame's and the last frame's textures, so a resumed pass goes on alike."""

  def __init__(self, reader, config: StabilizeConfig = StabilizeConfig()):
    self._reader = reader
    self._config = config
    self._anchor: np.ndarray | None = None
    self._key: _Key | None = None
    self._shifts: collections.OrderedDict[int, tuple[int, int]] = collections.OrderedDict()
    self.shake = ShakeReport()

  @property
  def inner(self):
    """The reader whose frames this one moves."""
    return self._reader

  @property
  def report(self):
    return self._reader.report

  def position(self) -> StabilizedPosition:
    return StabilizedPosition(self._reader.position(), self._anchor, self._key,
                              dataclasses.replace(self.shake))

  def expected(self):
    return self._reader.expected()

  def __iter__(self) -> Iterator[Frame]:
    return self.iterate()

  def shift(self, index: int) -> tuple[int, int]:
    """The (dx, dy) a frame was moved by, for one of the last _REMEMBERED frames yielded (memory
    stays bounded on long videos); (0, 0) for others."""
    return self._shifts.get(index, (0, 0))

  def _offset(self, current: np.ndarray) -> tuple[float, float]:
    """The frame's offset (dx, dy) from the first frame: measured against the first frame when
    they match well enough, else against the previous frame (whose offset is known), else the
    previous frame's (counted as weak)."""
    reach = self._config.max_shift_px + 1  # one past a shake: such a frame counts as too_large
    dx, dy, response = _correlate(self._anchor, current, reach)
    if response >= self._config.min_response:
      return dx, dy
    self.shake.chained += 1
    dx, dy, response = _correlate(self._key.texture, current, reach)
    if response >= self._config.min_response:
      return self._key.offset[0] + dx, self._key.offset[1] + dy
    self.shake.weak += 1
    return self._key.offset

  def iterate(self, start: StabilizedPosition | None = None) -> Iterator[Frame]:
    self._shifts = collections.OrderedDict()
    if start is not None:
      self._anchor, self._key, self.shake = start.anchor, start.key, dataclasses.replace(start.shake)
    else:
      self._anchor, self._key, self.shake = None, None, ShakeReport()
    for frame in self._reader.iterate(None if start is None else start.inner):
      current = texture(frame.image)
      if self._anchor is None:
        self._anchor = current
        self._key = _Key(current, (0., 0.))
      offset = self._offset(current)
      self._key = _Key(current, offset)
      back = (-int(round(offset[0])), -int(round(offset[1])))
      self.shake.frames += 1
      if max(abs(back[0]), abs(back[1])) > self._config.max_shift_px:
        self.shake.too_large += 1
        back = (0, 0)
      self._shifts[frame.index] = back
      if len(self._shifts) > _REMEMBERED:
        self._shifts.popitem(last=False)
      if back != (0, 0):
        self.shake.moved += 1
        self.shake.largest_px = max(self.shake.largest_px, abs(back[0]), abs(back[1]))
        frame = frame._replace(image=shift_image(frame.image, *back))
      yield frame


@functools.lru_cache(maxsize=4)
def _window(shape: tuple[int, int]) -> np.ndarray:
  return cv2.createHanningWindow(shape[::-1], cv2.CV_32F)


def _correlate(reference: np.ndarray, image: np.ndarray, max_shift: int) -> tuple[float, float, float]:
  """Phase correlation of two (H, W) textures under a Hann window: how far (dx, dy) pixels the
  content of `image` moved relative to `reference`, sought within ±max_shift (cv2.phaseCorrelate
  takes the highest peak anywhere: a big bright car driving by outweighs the street), to a tenth
  of a pixel by the peak's 3×3 centroid; and the peak's height (1 for a pure shift of the whole
  image, about 0 for no match)."""
  window = _window(reference.shape)
  # scipy's FFT keeps float32 (numpy's goes to float64): 3x faster at 1280x720.
  cross = sp_fft.rfft2(image * window) * np.conj(sp_fft.rfft2(reference * window))
  surface = sp_fft.irfft2(cross / np.maximum(np.abs(cross), 1e-12), s=reference.shape)
  h, w = reference.shape
  reach = min(max_shift, h // 2 - 2, w // 2 - 2)
  near = np.roll(surface, (reach, reach), axis=(0, 1))[:2 * reach + 1, :2 * reach + 1]
  py, px = np.unravel_index(int(np.argmax(near)), near.shape)
  py, px = min(max(py, 1), 2 * reach - 1), min(max(px, 1), 2 * reach - 1)
  patch = np.maximum(near[py - 1:py + 2, px - 1:px + 2], 0.)
  total = max(float(patch.sum()), 1e-12)
  dy = py - reach + float((patch.sum(axis=1) * [-1., 0., 1.]).sum()) / total
  dx = px - reach + float((patch.sum(axis=0) * [-1., 0., 1.]).sum()) / total
  return float(dx), float(dy), float(near[py, px])
