"""Detections in and out: COCO *results* JSON (detectron2 / mmdetection) <-> `FrameDetections`.

A results file is a list of entries `{image_id, category_id, bbox [x, y, w, h], score,
segmentation, keypoints?}` (docs/formats.md). `segmentation` is a COCO RLE (`counts` as str,
bytes or an uncompressed list of run lengths) or a list of polygons `[[x0, y0, x1, y1, ...], ...]`
(rasterised with pycocotools at the image size); all masks come out as compressed RLE with str
counts. `keypoints` are `[u, v, score] * P` with P = 12 (cars) or 17 (people), stored in 17 slots.
An optional `track_id` (written by `save_detections` for tracked detections) is read back.

Every entry is validated on load; a bad one raises `DetectionsError` naming the file, the entry
index and the field. An empty list is valid (no detections anywhere).

Categories: by default the file uses the project's ids (1 car, 2 person). `COCO_CATEGORY_MAP`
maps the ids of detectors trained on COCO (person = 1, car = 3); `categories` (a COCO
`categories` list) maps by name ('car', 'person') instead. With `drop_unknown`, entries of other
categories (a COCO detector's buses, dogs) are dropped; otherwise they are an error.
"""

from __future__ import annotations

import json
import math
import pathlib
from typing import Any, Iterable, Mapping

import numpy as np
from pycocotools import mask as mask_utils

from walt3d_jax.errors import UserError
from walt3d_jax.formats import coco
from walt3d_jax.formats.coco import Category
from walt3d_jax.timelapse.types import NUM_KEYPOINTS
from walt3d_jax.timelapse.types import UNTRACKED
from walt3d_jax.timelapse.types import FrameDetections

# Detectors trained on COCO: person = 1, car = 3 (COCO's own category ids).
COCO_CATEGORY_MAP: dict[int, int] = {1: int(Category.PERSON), 3: int(Category.CAR)}
PROJECT_CATEGORY_MAP: dict[int, int] = {int(c): int(c) for c in Category}
KEYPOINT_COUNTS = {int(Category.CAR): 12, int(Category.PERSON): 17}
# Detectors may round a box a little past the border; more than this is a wrong image size.
BOX_TOLERANCE_PX = 1.0
_REQUIRED = ("image_id", "category_id", "bbox", "score", "segmentation")


class DetectionsError(UserError):
  """A malformed detections file; the message names the file, the entry and the field."""


def _is_number(x: Any) -> bool:
  return isinstance(x, (int, float)) and not isinstance(x, bool)


def _is_int(x: Any) -> bool:
  return isinstance(x, int) and not isinstance(x, bool)


class _Entry:
  """Error context of one results entry."""

  def __init__(self, path: str, index: int):
    self.path, self.index = path, index

  def error(self, field: str, message: str) -> DetectionsError:
    return DetectionsError(f"{self.path}: entry {self.index}: field '{field}': {message}")


def _numbers(ctx: _Entry, field: str, value: Any, length: int | None = None) -> np.ndarray:
  if not isinstance(value, (list, tuple)) or not all(_is_number(v) for v in value):
    raise ctx.error(field, f"expected a list of numbers, got {type(value).__name__} {_short(value)}")
  if length is not None and len(value) != length:
    raise ctx.error(field, f"expected {length} numbers, got {len(value)}")
  array = np.asarray(value, dtype=np.float64)
  if not np.isfinite(array).all():
    raise ctx.error(field, "contains NaN or infinity")
  return array


def _short(value: Any) -> str:
  text = repr(value)
  return text if len(text) <= 60 else text[:57] + "..."


def _rle(ctx: _Entry, segmentation: Any, image_size: tuple[int, int] | None) -> dict:
  """Compressed RLE {"size": [H, W], "counts": str} of a results `segmentation`."""
  if isinstance(segmentation, dict):
    size, counts = segmentation.get("size"), segmentation.get("counts")
    if size is None or counts is None:
      raise ctx.error("segmentation", "an RLE needs 'size' [H, W] and 'counts'")
    if not (isinstance(size, (list, tuple)) and len(size) == 2 and all(_is_int(s) and s > 0 for s in size)):
      raise ctx.error("segmentation.size", f"expected [H, W] positive ints, got {_short(size)}")
    if image_size is not None and tuple(size) != (image_size[1], image_size[0]):
      raise ctx.error("segmentation.size", f"RLE size [H, W] = {list(size)} does not match the image "
                      f"[{image_size[1]}, {image_size[0]}]")
    height, width = int(size[0]), int(size[1])
    if isinstance(counts, list):
      if not all(_is_int(c) and c >= 0 for c in counts) or sum(counts) != height * width:
        raise ctx.error("segmentation.counts", f"uncompressed RLE run lengths must be ints >= 0 "
                        f"summing to H * W = {height * width}")
      rle = mask_utils.frPyObjects({"size": [height, width], "counts": counts}, height, width)
    elif isinstance(counts, (str, bytes)):
      try:
        raw = counts.encode("ascii") if isinstance(counts, str) else counts
        runs = compressed_run_lengths(raw)
      except (ValueError, UnicodeEncodeError) as e:
        raise ctx.error("segmentation.counts", f"malformed compressed RLE ({e})") from e
      if runs.sum() != height * width:
        raise ctx.error("segmentation.counts", f"run lengths sum to {runs.sum()}, not H * W = "
                        f"{height * width}: the RLE belongs to another image size or is truncated")
      rle = {"size": [height, width], "counts": raw}
    else:
      raise ctx.error("segmentation.counts", f"expected str, bytes or a list of ints, got {type(counts).__name__}")
  elif isinstance(segmentation, list):
    if image_size is None:
      raise ctx.error("segmentation", "polygons need the image size to be rasterised (pass image_size)")
    if not segmentation or not all(isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0 for p in segmentation):
      raise ctx.error("segmentation", "expected polygons [[x0, y0, x1, y1, x2, y2, ...], ...] "
                      "with at least 3 points each")
    for p in segmentation:
      _numbers(ctx, "segmentation", p)
    width, height = image_size
    rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
  else:
    raise ctx.error("segmentation", f"expected an RLE dict or a list of polygons, got {type(segmentation).__name__}")
  counts = rle["counts"]
  return {"size": [int(rle["size"][0]), int(rle["size"][1])],
          "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts}


def compressed_run_lengths(counts: bytes) -> np.ndarray:
  """Run lengths (R,) int64 of a COCO compressed RLE string (pycocotools' rleFrString, in numpy).

  pycocotools decodes a truncated or foreign string into garbage without complaint, so masks
  from files are checked here first. Raises ValueError on characters outside the alphabet, a
  string that ends inside a number, or a negative run.
  """
  c = np.frombuffer(counts, np.uint8).astype(np.int64) - 48
  if c.size == 0:
    raise ValueError("empty string")
  if ((c < 0) | (c > 63)).any():
    raise ValueError("characters outside the RLE alphabet '0'..'o'")
  more = (c & 0x20) != 0
  if more[-1]:
    raise ValueError("string ends inside a number")
  ends = np.flatnonzero(~more)
  starts = np.concatenate([[0], ends[:-1] + 1])
  k = np.arange(c.size) - np.repeat(starts, ends - starts + 1)  # 5-bit digit position
  if k.max() > 11:
    raise ValueError("number too long")
  x = np.add.reduceat((c & 0x1F) << (5 * k), starts)
  negative = (c[ends] & 0x10) != 0  # sign bit of each number's last digit
  x = x - np.where(negative, np.left_shift(1, 5 * (k[ends] + 1)), 0)
  # From the 4th on, each run is stored as a difference to the run two before it.
  runs = x.copy()
  runs[1::2] = np.cumsum(x[1::2])
  runs[2::2] = np.cumsum(x[2::2])
  if (runs < 0).any():
    raise ValueError("negative run length")
  return runs


def _category(ctx: _Entry, value: Any, category_map: Mapping[int, int]) -> int | None:
  if not _is_int(value):
    raise ctx.error("category_id", f"expected an int, got {type(value).__name__} {_short(value)}")
  return category_map.get(value)


def _keypoints(ctx: _Entry, value: Any, category: int) -> np.ndarray:
  """(17, 3) float32 from a flat [u, v, score] * P list with P = 12 or 17."""
  flat = _numbers(ctx, "keypoints", value)
  if flat.size not in (36, 51):
    raise ctx.error("keypoints", f"expected [u, v, score] * P with P = 12 or 17 ({36} or {51} "
                    f"numbers), got {flat.size}")
  num = flat.size // 3
  if num > NUM_KEYPOINTS or (category == int(Category.PERSON) and num != 17):
    raise ctx.error("keypoints", f"a person needs 17 keypoints, got {num}")
  out = np.zeros((NUM_KEYPOINTS, 3), np.float32)
  out[:num] = flat.reshape(num, 3)
  return out


def _image_size_of(image_size: Any, image_id: int) -> tuple[int, int] | None:
  if image_size is None or isinstance(image_size, tuple):
    return image_size
  size = image_size.get(image_id)
  return None if size is None else (int(size[0]), int(size[1]))


def parse_results(
    results: Any, source: str = "<results>", *,
    image_size: tuple[int, int] | Mapping[int, tuple[int, int]] | None = None,
    category_map: Mapping[int, int] | None = None,
    categories: list[dict] | None = None,
    drop_unknown: bool = False,
) -> dict[int, FrameDetections]:
  """Validated detections per image id from a parsed results list (see `load_detections`)."""
  if not isinstance(results, list):
    raise DetectionsError(f"{source}: expected a list of result entries (COCO results format), "
                          f"got {type(results).__name__}")
  if image_size is not None and not isinstance(image_size, Mapping):
    image_size = (int(image_size[0]), int(image_size[1]))
  mapping = _category_mapping(source, category_map, categories)
  per_image: dict[int, list[tuple]] = {}
  for index, entry in enumerate(results):
    ctx = _Entry(source, index)
    if not isinstance(entry, dict):
      raise DetectionsError(f"{source}: entry {index}: expected an object, got {type(entry).__name__}")
    for key in _REQUIRED:
      if key not in entry:
        raise ctx.error(key, "missing")
    image_id = entry["image_id"]
    if not _is_int(image_id) or image_id < 0:
      raise ctx.error("image_id", f"expected an int >= 0, got {_short(image_id)}")
    category = _category(ctx, entry["category_id"], mapping)
    if category is None:
      if drop_unknown:
        continue
      raise ctx.error("category_id", f"unknown category {entry['category_id']} (known: {sorted(mapping)})")
    size = _image_size_of(image_size, image_id)
    box = _numbers(ctx, "bbox", entry["bbox"], 4)
    if box[2] <= 0 or box[3] <= 0:
      raise ctx.error("bbox", f"width and height must be > 0, got {box.tolist()}")
    if box[0] < -BOX_TOLERANCE_PX or box[1] < -BOX_TOLERANCE_PX:
      raise ctx.error("bbox", f"negative corner {box[:2].tolist()}")
    if size is not None and (box[0] + box[2] > size[0] + BOX_TOLERANCE_PX or box[1] + box[3] > size[1] + BOX_TOLERANCE_PX):
      raise ctx.error("bbox", f"{box.tolist()} extends outside the {size[0]}x{size[1]} image")
    score = entry["score"]
    if not _is_number(score) or not math.isfinite(score) or not 0.0 <= score <= 1.0:
      raise ctx.error("score", f"expected a number in [0, 1], got {_short(score)}")
    mask = _rle(ctx, entry["segmentation"], size)
    keypoints = np.zeros((NUM_KEYPOINTS, 3), np.float32)
    if entry.get("keypoints") is not None:
      keypoints = _keypoints(ctx, entry["keypoints"], category)
    track_id = entry.get("track_id", UNTRACKED)
    if not _is_int(track_id) or track_id < UNTRACKED:
      raise ctx.error("track_id", f"expected an int >= -1, got {_short(track_id)}")
    per_image.setdefault(image_id, []).append((box, float(score), category, mask, keypoints, track_id))
  return {image_id: _frame_detections(image_id, rows) for image_id, rows in sorted(per_image.items())}


def _category_mapping(source: str, category_map: Mapping[int, int] | None,
                      categories: list[dict] | None) -> dict[int, int]:
  if category_map is not None and categories is not None:
    raise DetectionsError(f"{source}: give category_map or categories, not both")
  if categories is None:
    return dict(PROJECT_CATEGORY_MAP if category_map is None else category_map)
  by_name = {"car": int(Category.CAR), "person": int(Category.PERSON)}
  try:
    return {int(c["id"]): by_name[c["name"]] for c in categories if c["name"] in by_name}
  except (KeyError, TypeError, ValueError) as e:
    raise DetectionsError(f"{source}: categories must be a list of {{'id', 'name'}} objects ({e})") from e


def _frame_detections(image_id: int, rows: list[tuple]) -> FrameDetections:
  boxes, scores, cats, masks, kps, tracks = zip(*rows)
  return FrameDetections(
      image_id=image_id, boxes=np.stack(boxes), scores=np.asarray(scores), categories=np.asarray(cats),
      masks=tuple(masks), keypoints=np.stack(kps), track_ids=np.asarray(tracks),
  )


def load_detections(
    path: str | pathlib.Path, *,
    image_size: tuple[int, int] | Mapping[int, tuple[int, int]] | None = None,
    category_map: Mapping[int, int] | None = None,
    categories: list[dict] | None = None,
    drop_unknown: bool = False,
) -> dict[int, FrameDetections]:
  """Detections per image id from a COCO results JSON file.

  image_size: (W, H) pixels of every image (one stationary camera) or {image_id: (W, H)}; it
    checks boxes and RLE sizes and rasterises polygons. Without it, only polygons fail.
  category_map: source category id -> project id (e.g. COCO_CATEGORY_MAP); default identity
    on 1 car, 2 person. categories: a COCO categories list to map by name instead.
  Images with no detections are absent: use `.get(i, FrameDetections.empty(i))`.
  """
  path = pathlib.Path(path)
  try:
    with open(path) as f:
      results = json.load(f)
  except OSError as e:
    raise DetectionsError(f"{path}: cannot read ({e.strerror or e})") from e
  except json.JSONDecodeError as e:
    raise DetectionsError(f"{path}: not valid JSON ({e})") from e
  return parse_results(results, str(path), image_size=image_size, category_map=category_map,
                       categories=categories, drop_unknown=drop_unknown)


def _floats(array: np.ndarray) -> list[float]:
  # Shortest decimal that reads back to the same float32: exact round trips, compact files.
  return [float(s) for s in np.asarray(array, np.float32).reshape(-1).astype(str)]


def to_results(detections: Iterable[FrameDetections],
               category_map: Mapping[int, int] | None = None) -> list[dict]:
  """COCO results entries of `detections` (inverse of `parse_results`).

  Keypoints are written as [u, v, score] * P with P = 12 for cars and 17 for people, and left out
  when all zero; `track_id` is written for tracked detections only. `category_map` is the map the
  file was loaded with (its inverse maps back to the file's ids).
  """
  inverse = {v: k for k, v in (PROJECT_CATEGORY_MAP if category_map is None else category_map).items()}
  results = []
  for frame in detections:
    for i in range(frame.num):
      category = int(frame.categories[i])
      if category not in inverse:
        raise DetectionsError(f"image {frame.image_id}: detection {i}: category {category} has no id in the map")
      entry = {
          "image_id": int(frame.image_id), "category_id": int(inverse[category]),
          "bbox": _floats(frame.boxes[i]), "score": _floats(frame.scores[i])[0],
          "segmentation": {"size": [int(s) for s in frame.masks[i]["size"]],
                           "counts": _counts_str(frame.masks[i]["counts"])},
      }
      if frame.keypoints[i].any():
        entry["keypoints"] = _floats(frame.keypoints[i, :KEYPOINT_COUNTS.get(category, NUM_KEYPOINTS)])
      if frame.track_ids[i] != UNTRACKED:
        entry["track_id"] = int(frame.track_ids[i])
      results.append(entry)
  return results


def _counts_str(counts: str | bytes) -> str:
  return counts.decode("ascii") if isinstance(counts, bytes) else counts


def save_detections(path: str | pathlib.Path, detections: Iterable[FrameDetections],
                    category_map: Mapping[int, int] | None = None) -> None:
  """Writes `detections` as a COCO results JSON file (sorted keys, no NaN)."""
  coco.write_json(to_results(detections, category_map), pathlib.Path(path))
