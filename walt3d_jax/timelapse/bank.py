"""The object bank: every mined object of one camera in a columnar, appendable HDF5 file.

One row per object observation (frame, track, box, mask, keypoints, image crop, mining verdict)
plus the 3D fields the fitting stage writes back later, and the median background image per
time-of-day bucket. One dataset per column (`/objects/<column>`), resizable along axis 0, so a
column reads without touching the others and any row reads without scanning. The schema is in
docs/formats.md ("Object bank"); files carry `schema_version` and are refused on mismatch.

The file never holds NaN or infinity: "not fitted" is `fitted = False` with zeros in the 3D
fields; "not scored" is `occlusion_score = -1`.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import pathlib
from typing import Any, Mapping, Sequence

import cv2
import h5py
import numpy as np

from walt3d_jax.errors import UserError
from walt3d_jax.formats import rle
from walt3d_jax.formats.coco import Category
from walt3d_jax.timelapse.detections import compressed_run_lengths
from walt3d_jax.timelapse.types import NUM_KEYPOINTS
from walt3d_jax.timelapse.types import Frame
from walt3d_jax.timelapse.types import FrameDetections

SCHEMA_VERSION = 1
FORMAT_NAME = "walt3d_jax object bank"
NUM_SHAPE_SLOTS = 10  # PCA shape coefficients; `shape_num` says how many are used
NOT_SCORED = -1.0  # occlusion_score of an object no classifier has seen
# Crops add this fraction of the box size on every side (context for the occlusion classifier).
DEFAULT_CROP_MARGIN = 0.15


class KeypointSource(enum.IntEnum):
  """Where an object's 2D keypoints come from."""

  DETECTED = 0  # the detector's prediction
  DERIVED = 1  # projected from the fitted 3D model


class MiningFlag(enum.IntFlag):
  """Why an object is not a clean, unoccluded training sample (0 = kept without reservation)."""

  TRUNCATED = 1  # touches the image border
  OCCLUDED_HEURISTIC = 2  # WALT's δ test: a box lower in the image overlaps it
  OCCLUDED_CLASSIFIER = 4  # the occlusion classifier says occluded
  LOW_SCORE = 8  # detection score below the mining threshold
  SHORT_TRACK = 16  # its track is too short to fit
  TOO_SMALL = 32  # box below the minimum size
  OCCLUDED_STATIC = 64  # its mask ends at a static occluder the tracks pass behind (a pole)
  BOX_MASK = 128  # its mask fills its box: no outline to paste (the proposal network's boxes)


# A mask covering at least this share of its box is the box, not an outline: a car or a person
# seen from any side leaves the box's corners empty.
BOX_FILL = 0.97


def fills_box(boxes: np.ndarray, mask_areas: np.ndarray) -> np.ndarray:
  """(N,) bool: masks of `mask_areas` (N,) pixels that fill their boxes (N, 4) xywh pixels
  (`BOX_FILL`): a box given as the mask, as the proposal network's detections are."""
  boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
  return np.asarray(mask_areas, np.float64) >= BOX_FILL * boxes[:, 2] * boxes[:, 3]


def box_masked(detections: FrameDetections) -> np.ndarray:
  """(N,) bool: the detections whose masks fill their boxes (`fills_box`)."""
  return fills_box(detections.boxes, rle.areas(detections.masks))


class BankError(UserError):
  """Bad records or a bank file this code cannot read; the message names file, column, row."""


@dataclasses.dataclass(frozen=True)
class Column:
  """One column: dtype (numpy, or 'str' / 'bytes' for variable length), per-row shape, default.

  default None: the column is required in `append`.
  """

  dtype: Any
  shape: tuple[int, ...] = ()
  default: Any = None
  chunk_rows: int = 4096


_VLEN = {"str": h5py.string_dtype("ascii"), "bytes": h5py.vlen_dtype(np.uint8)}

# Order is the documentation's order (docs/formats.md).
COLUMNS: dict[str, Column] = {
    # Observation (mining stage).
    "frame_index": Column(np.int64),
    "time": Column(np.float64),
    "track_id": Column(np.int64),
    "category": Column(np.int32),
    "score": Column(np.float32),
    "box": Column(np.float32, (4,)),
    "mask_counts": Column("str", chunk_rows=512),
    "mask_size": Column(np.int32, (2,)),
    "keypoints": Column(np.float32, (NUM_KEYPOINTS, 3), 0.0, 1024),
    "keypoint_source": Column(np.uint8, (), int(KeypointSource.DETECTED)),
    "crop": Column("bytes", chunk_rows=64),
    "crop_box": Column(np.int32, (4,)),
    "occlusion_score": Column(np.float32, (), NOT_SCORED),
    "mining_flags": Column(np.uint32, (), 0),
    # 3D (fitting stage); zeros until `fitted`.
    "fitted": Column(np.bool_, (), False),
    "rotation": Column(np.float32, (3, 3), 0.0, 1024),
    "translation": Column(np.float32, (3,), 0.0),
    "ground_pose": Column(np.float32, (3,), 0.0),
    "shape": Column(np.float32, (NUM_SHAPE_SLOTS,), 0.0),
    "shape_num": Column(np.int32, (), 0),
    "keypoints_3d": Column(np.float32, (NUM_KEYPOINTS, 3), 0.0, 1024),
    "dimensions": Column(np.float32, (3,), 0.0),
    "depth": Column(np.float32, (), 0.0),
    "fit_rmse": Column(np.float32, (), 0.0),
    "fit_flags": Column(np.uint32, (), 0),
}
REQUIRED_COLUMNS = tuple(name for name, c in COLUMNS.items() if c.default is None)
FIT_COLUMNS = ("fitted", "rotation", "translation", "ground_pose", "shape", "shape_num",
               "keypoints_3d", "dimensions", "depth", "fit_rmse", "fit_flags")


def _h5_dtype(column: Column):
  return _VLEN[column.dtype] if isinstance(column.dtype, str) else np.dtype(column.dtype)


def encode_crop(image: np.ndarray) -> np.ndarray:
  """PNG bytes (K,) uint8 of an (h, w, 3) uint8 RGB crop (lossless: masks must still align)."""
  if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or 0 in image.shape[:2]:
    raise BankError(f"crop must be a non-empty (h, w, 3) uint8 image, got {image.dtype} {image.shape}")
  ok, data = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
  if not ok:
    raise BankError(f"PNG encoding of a {image.shape} crop failed")
  return data.reshape(-1)


def decode_crop(data: np.ndarray) -> np.ndarray:
  """(h, w, 3) uint8 RGB image from PNG bytes."""
  bgr = cv2.imdecode(np.asarray(data, np.uint8), cv2.IMREAD_COLOR)
  if bgr is None:
    raise BankError("stored crop is not a decodable PNG")
  return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def crop_box_of(box: np.ndarray, image_size: tuple[int, int], margin: float = DEFAULT_CROP_MARGIN) -> np.ndarray:
  """(4,) int32 [x, y, w, h] pixels: `box` (xywh) grown by `margin` × its size per side, on
  whole pixels, clipped to the (W, H) image; at least 1 × 1."""
  x, y, w, h = (float(v) for v in box)
  width, height = image_size
  x0 = int(np.clip(np.floor(x - margin * w), 0, width - 1))
  y0 = int(np.clip(np.floor(y - margin * h), 0, height - 1))
  x1 = int(np.clip(np.ceil(x + w + margin * w), x0 + 1, width))
  y1 = int(np.clip(np.ceil(y + h + margin * h), y0 + 1, height))
  return np.array([x0, y0, x1 - x0, y1 - y0], np.int32)


def object_records(frame: Frame, detections: FrameDetections,
                   margin: float = DEFAULT_CROP_MARGIN) -> dict[str, Any]:
  """Required bank columns (plus keypoints) for every detection in `frame`, crops included.

  Callers add optional columns (occlusion_score, mining_flags, ...) before `append`.
  """
  height, width = frame.image.shape[:2]
  crop_boxes = [crop_box_of(b, (width, height), margin) for b in detections.boxes]
  crops = [encode_crop(np.ascontiguousarray(frame.image[y:y + h, x:x + w])) for x, y, w, h in crop_boxes]
  n = detections.num
  return {
      "frame_index": np.full(n, frame.index, np.int64),
      "time": np.full(n, frame.time, np.float64),
      "track_id": detections.track_ids,
      "category": detections.categories,
      "score": detections.scores,
      "box": detections.boxes,
      "mask_counts": [m["counts"] if isinstance(m["counts"], str) else m["counts"].decode("ascii")
                      for m in detections.masks],
      "mask_size": np.array([m["size"] for m in detections.masks], np.int32).reshape(n, 2),
      "keypoints": detections.keypoints,
      "crop": crops,
      "crop_box": np.array(crop_boxes, np.int32).reshape(n, 4),
  }


class ObjectBank:
  """An open object bank file. Use `create` / `open`, and as a context manager (closes the file)."""

  def __init__(self, file: h5py.File, path: pathlib.Path):
    self._file = file
    self.path = path

  # ---- opening -------------------------------------------------------------------------------

  @classmethod
  def create(cls, path: str | pathlib.Path, camera: Mapping[str, Any], image_size: tuple[int, int],
             overwrite: bool = False) -> ObjectBank:
    """A new empty bank for one camera.

    camera: the camera.json content (docs/formats.md), stored as JSON text.
    image_size: (W, H) pixels of the camera's frames.
    """
    path = pathlib.Path(path)
    if path.exists() and not overwrite:
      raise BankError(f"{path}: exists (open it to append, or pass overwrite=True)")
    width, height = (int(v) for v in image_size)
    if width <= 0 or height <= 0:
      raise BankError(f"{path}: image_size must be two positive ints (W, H), got {image_size}")
    try:
      camera_text = json.dumps(camera, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as e:
      raise BankError(f"{path}: camera must be JSON-serialisable without NaN ({e})") from e
    path.parent.mkdir(parents=True, exist_ok=True)
    f = h5py.File(path, "w")
    f.attrs.update({"format": FORMAT_NAME, "schema_version": SCHEMA_VERSION, "camera_json": camera_text,
                    "image_size": np.array([width, height], np.int64), "num_rows": 0})
    objects = f.create_group("objects")
    for name, column in COLUMNS.items():
      numeric = not isinstance(column.dtype, str)
      objects.create_dataset(
          name, shape=(0,) + column.shape, maxshape=(None,) + column.shape, dtype=_h5_dtype(column),
          chunks=(column.chunk_rows,) + column.shape,
          # Numeric columns compress well (repeated frame indices, zero 3D fields); PNG crops and
          # RLE strings are compressed already and live in the variable-length heap anyway.
          compression="gzip" if numeric else None, compression_opts=4 if numeric else None,
          shuffle=numeric,
      )
    f.create_group("backgrounds")
    f.flush()
    return cls(f, path)

  @classmethod
  def open(cls, path: str | pathlib.Path, mode: str = "r") -> ObjectBank:
    """An existing bank; mode 'r' (read) or 'a' (read, append, update)."""
    path = pathlib.Path(path)
    if mode not in ("r", "a"):
      raise BankError(f"{path}: mode must be 'r' or 'a', got {mode!r}")
    if not path.is_file():
      raise BankError(f"{path}: no such object bank")
    try:
      f = h5py.File(path, "r" if mode == "r" else "r+")
    except OSError as e:
      raise BankError(f"{path}: not an HDF5 file ({e})") from e
    try:
      _check_schema(f, path)
      num = int(f.attrs["num_rows"])
      if mode == "a":
        # An append interrupted between resizing and committing `num_rows` leaves longer columns.
        for name in COLUMNS:
          if f["objects"][name].shape[0] != num:
            f["objects"][name].resize(num, axis=0)
    except Exception:
      f.close()
      raise
    return cls(f, path)

  def close(self) -> None:
    self._file.close()

  def __enter__(self) -> ObjectBank:
    return self

  def __exit__(self, *exc) -> None:
    self.close()

  # ---- metadata ------------------------------------------------------------------------------

  def __len__(self) -> int:
    return int(self._file.attrs["num_rows"])

  @property
  def camera(self) -> dict:
    """The camera.json content given at creation."""
    return json.loads(self._file.attrs["camera_json"])

  @property
  def image_size(self) -> tuple[int, int]:
    """(W, H) pixels."""
    width, height = self._file.attrs["image_size"]
    return int(width), int(height)

  # ---- rows ----------------------------------------------------------------------------------

  def append(self, records: Mapping[str, Any]) -> range:
    """Appends N rows; returns their row numbers.

    records: column name -> N values (arrays of the column's per-row shape; `mask_counts` str,
    `crop` PNG bytes (uint8 arrays or bytes) or (h, w, 3) uint8 images, encoded here). Required:
    REQUIRED_COLUMNS; the rest default (COLUMNS). Validated before anything is written.
    """
    columns = self._validate(records, require_all=True)
    n = len(next(iter(columns.values())))
    start = len(self)
    objects = self._file["objects"]
    for name, values in columns.items():
      objects[name].resize(start + n, axis=0)
      _write_rows(objects[name], np.arange(start, start + n), values)
    # Commit last: a crash before this line leaves the bank at its old length (see `open`).
    self._file.attrs["num_rows"] = start + n
    self._file.flush()
    return range(start, start + n)

  def update(self, rows: Sequence[int] | np.ndarray | slice, columns: Mapping[str, Any]) -> None:
    """Overwrites `columns` (name -> values, one per row) at existing `rows` (e.g. 3D fits)."""
    index = self._rows(rows)
    values = self._validate(columns, require_all=False)
    for name, array in values.items():
      if len(array) != len(index):
        raise BankError(f"{self.path}: update column '{name}': {len(array)} values for {len(index)} rows")
    if not len(index):
      return
    order = np.argsort(index, kind="stable")
    if np.any(np.diff(index[order]) == 0):
      raise BankError(f"{self.path}: update rows repeat")
    objects = self._file["objects"]
    for name, array in values.items():
      _write_rows(objects[name], index[order], array[order])
    self._file.flush()

  def read(self, rows: Sequence[int] | np.ndarray | slice | int,
           columns: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Columns (default: all) at `rows`, in the order given; mask_counts as str objects, crop as
    uint8 PNG byte arrays (objects)."""
    names = list(COLUMNS) if columns is None else list(columns)
    for name in names:
      if name not in COLUMNS:
        raise BankError(f"{self.path}: no column '{name}' (columns: {', '.join(COLUMNS)})")
    single = isinstance(rows, (int, np.integer))
    index = self._rows([rows] if single else rows)
    # h5py fancy indexing needs increasing unique indices: read those, then scatter back.
    unique, inverse = np.unique(index, return_inverse=True)
    out = {}
    for name in names:
      dataset = self._file["objects"][name]
      if name == "mask_counts":
        dataset = dataset.asstr()
      if not len(unique):
        data = np.zeros((0,) + COLUMNS[name].shape, dataset.dtype)
      elif unique[-1] - unique[0] + 1 == len(unique):
        data = dataset[int(unique[0]):int(unique[-1]) + 1]  # a run of rows: one hyperslab
      else:
        data = dataset[unique]
      data = data[inverse]
      out[name] = data[0] if single else data
    return out

  def column(self, name: str) -> np.ndarray:
    """All rows of column `name`."""
    return self.read(slice(None), [name])[name]

  def crop(self, row: int) -> np.ndarray:
    """(h, w, 3) uint8 RGB crop of `row`; it covers `crop_box` of the frame."""
    return decode_crop(self.read(int(row), ["crop"])["crop"])

  def mask(self, row: int) -> dict:
    """The visible mask of `row` as a COCO RLE dict {"size": [H, W], "counts": str}."""
    values = self.read(int(row), ["mask_counts", "mask_size"])
    return {"size": [int(v) for v in values["mask_size"]], "counts": values["mask_counts"]}

  # ---- backgrounds ---------------------------------------------------------------------------

  def put_background(self, name: str, image: np.ndarray) -> None:
    """Stores (replaces) the background image (H, W, 3) uint8 RGB of bucket `name` (e.g. 'day')."""
    image = np.asarray(image)
    width, height = self.image_size
    if image.dtype != np.uint8 or image.shape != (height, width, 3):
      raise BankError(f"{self.path}: background '{name}' must be ({height}, {width}, 3) uint8, "
                      f"got {image.dtype} {image.shape}")
    if not name or "/" in name:
      raise BankError(f"{self.path}: background name must be non-empty without '/', got {name!r}")
    group = self._file["backgrounds"]
    if name in group:
      del group[name]
    group.create_dataset(name, data=image, compression="gzip", compression_opts=4, chunks=True)
    self._file.flush()

  def background(self, name: str) -> np.ndarray:
    """(H, W, 3) uint8 RGB background of bucket `name`."""
    group = self._file["backgrounds"]
    if name not in group:
      raise BankError(f"{self.path}: no background '{name}' (have: {sorted(group)})")
    return group[name][()]

  def background_names(self) -> list[str]:
    return sorted(self._file["backgrounds"])

  # ---- validation ----------------------------------------------------------------------------

  def _rows(self, rows) -> np.ndarray:
    n = len(self)
    if isinstance(rows, slice):
      return np.arange(n)[rows]
    index = np.asarray(rows)
    if index.dtype == bool:
      if index.shape != (n,):
        raise BankError(f"{self.path}: bool row selection must be ({n},), got {index.shape}")
      return np.flatnonzero(index)
    if index.size and not np.issubdtype(index.dtype, np.integer):
      raise BankError(f"{self.path}: rows must be ints, a bool mask or a slice, got {index.dtype}")
    index = index.astype(np.int64).reshape(-1)
    if index.size and (index.min() < -n or index.max() >= n):
      raise BankError(f"{self.path}: rows out of range for {n} rows: {index[(index < -n) | (index >= n)][:5].tolist()}")
    return np.where(index < 0, index + n, index)

  def _validate(self, records: Mapping[str, Any], require_all: bool) -> dict[str, Any]:
    where = f"{self.path}"
    unknown = sorted(set(records) - set(COLUMNS))
    if unknown:
      raise BankError(f"{where}: unknown columns {unknown} (columns: {', '.join(COLUMNS)})")
    if require_all:
      missing = [c for c in REQUIRED_COLUMNS if c not in records]
      if missing:
        raise BankError(f"{where}: append is missing required columns {missing}")
    if not records:
      raise BankError(f"{where}: no columns given")
    try:
      lengths = {name: len(values) for name, values in records.items()}
    except TypeError as e:
      raise BankError(f"{where}: every column needs one value per row ({e})") from e
    if len(set(lengths.values())) != 1:
      raise BankError(f"{where}: columns have different lengths {lengths}")
    n = next(iter(lengths.values()))
    out = {}
    for name, column in COLUMNS.items():
      if name in records:
        out[name] = self._column_values(name, column, records[name], n)
      elif require_all:
        out[name] = np.full((n,) + column.shape, column.default, dtype=column.dtype)
    self._check_values(out)
    return out

  def _column_values(self, name: str, column: Column, values: Any, n: int):
    where = f"{self.path}: column '{name}'"
    if column.dtype == "str":
      values = [v.decode("ascii") if isinstance(v, bytes) else v for v in values]
      bad = [i for i, v in enumerate(values) if not isinstance(v, str) or not v]
      if bad:
        raise BankError(f"{where}: row {bad[0]} must be a non-empty RLE counts string")
      return _object_array(values)
    if column.dtype == "bytes":
      encoded = []
      for i, v in enumerate(values):
        if isinstance(v, bytes):
          v = np.frombuffer(v, np.uint8)
        v = np.asarray(v)
        if v.ndim == 3:  # an image: encode it
          v = encode_crop(v)
        if v.dtype != np.uint8 or v.ndim != 1 or v.size == 0:
          raise BankError(f"{where}: row {i} must be PNG bytes or an (h, w, 3) uint8 image")
        encoded.append(v)
      return _object_array(encoded)
    array = np.asarray(values)
    if array.shape != (n,) + column.shape:
      raise BankError(f"{where}: expected shape {(n,) + column.shape}, got {array.shape}")
    target = np.dtype(column.dtype)
    if array.size and not (np.can_cast(array.dtype, target, "same_kind")
                           or (array.dtype.kind in "iub" and target.kind in "iuf")):
      raise BankError(f"{where}: expected {target} values, got {array.dtype}")
    if array.dtype.kind == "f":
      bad = ~np.isfinite(array.reshape(n, -1)).all(axis=1)
      if bad.any():
        raise BankError(f"{where}: row {int(np.flatnonzero(bad)[0])} has NaN or infinity "
                        f"(the bank stores none: 'not fitted' is fitted = False with zeros)")
    if target.kind in "iu" and array.dtype.kind == "f":
      raise BankError(f"{where}: expected {target} values, got {array.dtype}")
    if target.kind in "iu" and array.size:
      info = np.iinfo(target)
      if array.min() < info.min or array.max() > info.max:
        raise BankError(f"{where}: values outside the range of {target}")
    return array.astype(target)

  def _check_values(self, out: dict[str, Any]) -> None:
    width, height = self.image_size

    def fail(name: str, rows: np.ndarray, what: str):
      raise BankError(f"{self.path}: column '{name}': row {int(np.flatnonzero(rows)[0])}: {what}")

    if "category" in out:
      bad = ~np.isin(out["category"], [int(c) for c in Category])
      if bad.any():
        fail("category", bad, f"must be one of {[f'{int(c)} {c.name.lower()}' for c in Category]}")
    if "keypoint_source" in out:
      bad = ~np.isin(out["keypoint_source"], [int(s) for s in KeypointSource])
      if bad.any():
        fail("keypoint_source", bad, "must be 0 (detected) or 1 (derived)")
    if "box" in out:
      box = out["box"]
      bad = (box[:, 2] < 0) | (box[:, 3] < 0)
      if bad.any():
        fail("box", bad, "negative width or height")
    if "crop_box" in out:
      cb = out["crop_box"]
      bad = (cb[:, 0] < 0) | (cb[:, 1] < 0) | (cb[:, 2] < 1) | (cb[:, 3] < 1) | \
            (cb[:, 0] + cb[:, 2] > width) | (cb[:, 1] + cb[:, 3] > height)
      if bad.any():
        fail("crop_box", bad, f"must be a non-empty [x, y, w, h] inside the {width}x{height} image")
    if "mask_size" in out:
      bad = (out["mask_size"] != [height, width]).any(axis=1)
      if bad.any():
        fail("mask_size", bad, f"must be the image's [H, W] = [{height}, {width}]")
    if "mask_counts" in out:
      for i, counts in enumerate(out["mask_counts"]):
        try:
          total = compressed_run_lengths(counts.encode("ascii")).sum()
        except (ValueError, UnicodeEncodeError) as e:
          raise BankError(f"{self.path}: column 'mask_counts': row {i}: malformed RLE ({e})") from e
        if total != width * height:
          raise BankError(f"{self.path}: column 'mask_counts': row {i}: RLE covers {total} pixels, "
                          f"the image has {width * height}")
    if "shape_num" in out:
      bad = (out["shape_num"] < 0) | (out["shape_num"] > NUM_SHAPE_SLOTS)
      if bad.any():
        fail("shape_num", bad, f"must be in [0, {NUM_SHAPE_SLOTS}]")
    if "crop" in out and "crop_box" in out:
      for i, data in enumerate(out["crop"]):
        header = _png_size(data)
        if header is not None and header != (int(out["crop_box"][i, 2]), int(out["crop_box"][i, 3])):
          raise BankError(f"{self.path}: column 'crop': row {i}: a {header[0]}x{header[1]} crop does not "
                          f"match crop_box {out['crop_box'][i].tolist()}")


def _write_rows(dataset: h5py.Dataset, index: np.ndarray, values: np.ndarray) -> None:
  """dataset[index] = values for increasing unique `index` (h5py's rule for fancy writes)."""
  if not len(index):
    return
  contiguous = index[-1] - index[0] + 1 == len(index)
  if h5py.check_vlen_dtype(dataset.dtype) == np.dtype(np.uint8):
    # h5py's high-level write stacks equal-length byte arrays into 2D and fails to broadcast
    # (h5py issue #875), so write variable-length bytes through the low-level API.
    if not contiguous:
      for i, v in zip(index, values):
        _write_rows(dataset, np.array([i]), _object_array([v]))
      return
    file_space = dataset.id.get_space()
    file_space.select_hyperslab((int(index[0]),), (len(index),))
    dataset.id.write(h5py.h5s.create_simple((len(index),)), file_space, values)
  elif contiguous:
    dataset[int(index[0]):int(index[-1]) + 1] = values
  else:
    dataset[index] = values


def _object_array(values: list) -> np.ndarray:
  # Element by element: numpy would otherwise stack equal-length byte arrays into 2D.
  array = np.empty(len(values), dtype=object)
  for i, v in enumerate(values):
    array[i] = v
  return array


def _png_size(data: np.ndarray) -> tuple[int, int] | None:
  """(W, H) from a PNG's IHDR chunk, or None if `data` is not a PNG."""
  raw = bytes(data[:24])
  if len(raw) < 24 or raw[:8] != b"\x89PNG\r\n\x1a\n":
    return None
  return int.from_bytes(raw[16:20], "big"), int.from_bytes(raw[20:24], "big")


def _check_schema(f: h5py.File, path: pathlib.Path) -> None:
  if f.attrs.get("format") != FORMAT_NAME:
    raise BankError(f"{path}: not an object bank (attribute 'format' is {f.attrs.get('format')!r})")
  version = int(f.attrs.get("schema_version", -1))
  if version != SCHEMA_VERSION:
    raise BankError(f"{path}: schema version {version}, this code reads version {SCHEMA_VERSION}")
  for key in ("camera_json", "image_size", "num_rows"):
    if key not in f.attrs:
      raise BankError(f"{path}: missing attribute '{key}'")
  if "objects" not in f or "backgrounds" not in f:
    raise BankError(f"{path}: missing group 'objects' or 'backgrounds'")
  objects = f["objects"]
  names = set(objects)
  if names != set(COLUMNS):
    raise BankError(f"{path}: columns differ from schema {SCHEMA_VERSION}: missing "
                    f"{sorted(set(COLUMNS) - names)}, unexpected {sorted(names - set(COLUMNS))}")
  num = int(f.attrs["num_rows"])
  for name, column in COLUMNS.items():
    dataset = objects[name]
    if dataset.shape[1:] != column.shape:
      raise BankError(f"{path}: column '{name}' has per-row shape {dataset.shape[1:]}, schema "
                      f"{SCHEMA_VERSION} says {column.shape}")
    if not isinstance(column.dtype, str) and dataset.dtype != np.dtype(column.dtype):
      raise BankError(f"{path}: column '{name}' has dtype {dataset.dtype}, schema says {np.dtype(column.dtype)}")
    if isinstance(column.dtype, str) and h5py.check_vlen_dtype(dataset.dtype) is None and \
        h5py.check_string_dtype(dataset.dtype) is None:
      raise BankError(f"{path}: column '{name}' must be variable-length {column.dtype}")
    if dataset.shape[0] < num:
      raise BankError(f"{path}: column '{name}' has {dataset.shape[0]} rows, the bank says {num}")
