"""People inside one foreground blob, found by OpenCV's HOG pedestrian detector, to cut a blob that
holds people walking together into one mask per person.

The detector is Dalal & Triggs' (2005) histogram-of-gradients SVM as OpenCV ships it
(`HOGDescriptor_getDefaultPeopleDetector`, opencv-contrib; no download): a 64×128 window in which
a person stands about 96 px tall. A blob already says how tall its people are (its own height for
a group walking side by side), so the image around the blob is rescaled once to make them
window-sized and scanned near that scale; windows of another height, or off the blob, are
ignored. OpenCV's own grouping of the windows is off: it averages two people standing side by
side into one window between them (greedy `nms` instead).

Measured on the simulator's low-polygon people (benchmarks/hog.py: crosswalk, 960×540, held-out
seed 1; an unoccluded person counts as found at IoU 0.5, searched at its own height): by day 45 %
of those 20–40 px tall, 32 % at 40–60 px, 52 % at 60 px or more (OpenCV called with its defaults
at the footage's scale: 0 %, 0 %, 26 %); at night 0 %, 12 %, 29 %. A car's box sets it off in
2–12 % of the searches by day, none at night. The SVM was trained on photographs of people, so
real footage is where it should do better.
"""

from __future__ import annotations

import dataclasses
import functools

import cv2
import numpy as np

from walt3d_jax.formats import rle
from walt3d_jax.metrics import detection as detection_metrics

# INRIA training crops: 64×128 windows, the person about 96 px tall and 32–40 px wide, centred.
WINDOW_PERSON_PX = 96.
PERSON_IN_WINDOW = (0.25, 0.125, 0.5, 0.75)  # x, y, w, h of the person as fractions of the window
_SCAN_MARGIN = 1.15


@dataclasses.dataclass(frozen=True)
class HogConfig:
  """Knobs of `people_in` and `split_group`.

  min_person_px: expected person height in pixels below which no search is made.
  max_upscale: the crop is enlarged at most this much (min_person_px · max_upscale should reach
    WINDOW_PERSON_PX). People 20–40 px tall, enlarged up to 5.5×, are found as often as taller
    ones (above); searching from 20 px rather than 40 px raised the benchmark's crosswalk
    (480×270, seed 0) from P 0.59 / R 0.36 / MOTA 0.186 to 0.60 / 0.37 / 0.198.
  hit_threshold: the SVM margin a window needs (OpenCV's hitThreshold; -0.5 split 8 blobs
    where 0 split 6, with the same scores: crosswalk, 960×540, seed 0).
  height_tolerance: a found person's height must lie within this fraction of the expected one.
  min_on_blob: least share of a found person's box covered by the blob's mask.
  nms_iou: overlapping finds above this IoU keep the higher score.
  min_separation: neighbouring people on one blob stand at least this × their height apart
    (centre to centre; a shoulder width is about 0.26 × stature), else they are one person.
  """

  min_person_px: float = 20.
  max_upscale: float = 6.
  hit_threshold: float = 0.
  height_tolerance: float = 0.3
  min_on_blob: float = 0.25
  nms_iou: float = 0.3
  min_separation: float = 0.2

  def __post_init__(self):
    for name in ("min_person_px", "max_upscale", "height_tolerance", "nms_iou", "min_separation"):
      value = getattr(self, name)
      if not (np.isfinite(value) and value > 0):
        raise ValueError(f"HogConfig.{name} must be finite and > 0, got {value}")
    if not np.isfinite(self.hit_threshold):
      raise ValueError(f"HogConfig.hit_threshold must be finite, got {self.hit_threshold}")
    if not 0 <= self.min_on_blob <= 1:
      raise ValueError(f"HogConfig.min_on_blob must be in [0, 1], got {self.min_on_blob}")


@functools.cache
def _descriptor() -> "cv2.HOGDescriptor":
  if not hasattr(cv2, "HOGDescriptor"):
    raise RuntimeError("the HOG people detector needs opencv-contrib-python-headless (OpenCV 5's main "
                       "package has no HOGDescriptor); install requirements.txt")
  hog = cv2.HOGDescriptor()
  hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
  return hog


def search_window(box: np.ndarray, person_px: float, image_shape: tuple[int, ...]) -> tuple[int, int, int, int]:
  """(x0, y0, x1, y1) pixels, clipped to the image: box (4,) xywh with room for the window's
  margins around people `person_px` tall at its edges."""
  x, y, w, h = (float(v) for v in box)
  mx, my = 0.4 * person_px, 0.2 * person_px
  return (int(max(0, np.floor(x - mx))), int(max(0, np.floor(y - my))),
          int(min(image_shape[1], np.ceil(x + w + mx))), int(min(image_shape[0], np.ceil(y + h + my))))


def people_in(image: np.ndarray, box: np.ndarray, person_px: float,
              config: HogConfig = HogConfig()) -> tuple[np.ndarray, np.ndarray]:
  """People about `person_px` tall around box (4,) xywh pixels of image (H, W, 3) uint8 RGB.

  Returns person boxes (M, 4) xywh float64 image pixels and their SVM scores (M,), after
  non-maximum suppression; none when person_px is under config.min_person_px."""
  empty = np.zeros((0, 4)), np.zeros(0)
  if not (np.isfinite(person_px) and person_px >= config.min_person_px):
    return empty
  # The scan's windows grow from the crop's scale up (1.05 a level): people are made a little
  # taller than a window's so that those somewhat shorter than the blob are in range too.
  scale = _SCAN_MARGIN * WINDOW_PERSON_PX / person_px
  if scale > config.max_upscale:
    return empty
  x0, y0, x1, y1 = search_window(box, person_px, image.shape)
  if x1 <= x0 or y1 <= y0:
    return empty
  crop = cv2.resize(np.ascontiguousarray(image[y0:y1, x0:x1]), None, fx=scale, fy=scale,
                    interpolation=cv2.INTER_LINEAR if scale > 1 else cv2.INTER_AREA)
  pad_y, pad_x = max(0, 128 - crop.shape[0]), max(0, 64 - crop.shape[1])
  if pad_y or pad_x:
    crop = cv2.copyMakeBorder(crop, 0, pad_y, 0, pad_x, cv2.BORDER_REPLICATE)
  # No grouping of the windows (groupThreshold=0): OpenCV's grouping averages the windows of two
  # people standing side by side into one between them; `nms` keeps them apart.
  rects, weights = _descriptor().detectMultiScale(crop, hitThreshold=config.hit_threshold, winStride=(4, 4),
                                                  padding=(8, 8), scale=1.05, groupThreshold=0)
  if len(rects) == 0:
    return empty
  rects = np.asarray(rects, np.float64).reshape(-1, 4)
  fx, fy, fw, fh = PERSON_IN_WINDOW
  people = np.stack([rects[:, 0] + fx * rects[:, 2], rects[:, 1] + fy * rects[:, 3],
                     fw * rects[:, 2], fh * rects[:, 3]], 1) / scale
  people[:, 0] += x0
  people[:, 1] += y0
  scores = np.asarray(weights, np.float64).reshape(-1)
  right_size = np.abs(people[:, 3] / person_px - 1.) <= config.height_tolerance
  people, scores = people[right_size], scores[right_size]
  keep = detection_metrics.nms(people, scores, config.nms_iou)
  return people[keep], scores[keep]


def split_group(mask: np.ndarray, image: np.ndarray, person_px: float,
                config: HogConfig = HogConfig()) -> list[np.ndarray]:
  """One blob's mask (H, W) bool cut into one mask per person that HOG finds on it, in columns
  midway between neighbouring people; [mask] when fewer than two are found."""
  box = np.asarray(rle.mask_box(mask), np.float64)
  people, _ = people_in(image, box, person_px, config)
  on_blob = []
  for px, py, pw, ph in people:
    x0, y0 = max(0, int(round(px))), max(0, int(round(py)))
    x1, y1 = int(round(px + pw)), int(round(py + ph))
    window = mask[y0:y1, x0:x1]
    if window.size and window.mean() >= config.min_on_blob:
      on_blob.append(px + 0.5 * pw)
  centres: list[float] = []
  for c in sorted(on_blob):
    if not centres or c - centres[-1] >= config.min_separation * person_px:
      centres.append(c)
  if len(centres) < 2:
    return [mask]
  centres = np.asarray(centres)
  return cut_at_columns(mask, np.rint(0.5 * (centres[:-1] + centres[1:])).astype(int).tolist())


def cut_at_columns(mask: np.ndarray, cuts: list[int], min_area: int = 1) -> list[np.ndarray]:
  """A blob's mask (H, W) bool cut into bands between image columns `cuts` (ascending), bands of
  fewer than min_area pixels left out; [mask] when fewer than two bands are left."""
  edges = [0, *cuts, mask.shape[1]]
  parts = []
  for lo, hi in zip(edges[:-1], edges[1:]):
    part = np.zeros_like(mask)
    part[:, lo:hi] = mask[:, lo:hi]
    if part.sum() >= min_area:
      parts.append(part)
  return parts if len(parts) >= 2 else [mask]
