"""The object pool: one camera's composable objects, prepared once for many clip-art images.

An object is composable when it was fitted (3D pose, dimensions, keypoints in 3D) and its
fields are finite and sane; everything else in the bank is skipped and counted by reason,
never composited. Per object the pool keeps what compositing reads: the source pixels and the
(unoccluded, hence amodal) mask over the object's crop window, the depth of its 3D proxy over
that window (`clipart.proxy`), its 2D keypoints with their source visibility state, its ground
footprint and its 3D labels. Objects stay at their original image positions (clip-art style),
so all of this is computed once, here, and an image costs only array pastes.
"""

from __future__ import annotations

import collections
import dataclasses
import pathlib
from typing import Any, Sequence

import numpy as np
import tqdm

from walt3d_jax.clipart import clearance
from walt3d_jax.clipart import proxy
from walt3d_jax.clipart.config import ClipartConfig
from walt3d_jax.clipart.example import MAX_KEYPOINTS
from walt3d_jax.clipart.example import NUM_SHAPE_SLOTS
from walt3d_jax.formats import rle
from walt3d_jax.formats.coco import Category
from walt3d_jax.formats.coco import KeypointState
from walt3d_jax.geometry import camera as camera_lib
from walt3d_jax.sim import render
from walt3d_jax.sim import truth as truth_lib
from walt3d_jax.timelapse import background as background_lib
from walt3d_jax.timelapse import bank as bank_lib

NUM_KEYPOINTS = {int(Category.CAR): 12, int(Category.PERSON): 17}
# A keypoint derived from the fit is self-occluded when its own proxy surface lies this far in
# front of it (metres): the rasteriser's depth error on a hull vertex is far below it.
SELF_OCCLUSION_TOLERANCE_M = 0.05
# Pools up to this size memoise their conflict rows (at most this² bytes per margin).
_MAX_MEMO_OBJECTS = 8192


class ClipartError(ValueError):
  """A bank (or object list) that cannot make clip-art; the message names the file and why."""


@dataclasses.dataclass
class ObjectPool:
  """Composable objects of one camera (M objects, leading axis M).

  camera_name: a name for the camera (`camera_name_of` the bank). K (3, 3) float64; plane (4,)
    [n, d]; R_cg (3, 3), t_cg (3,): the ground frame; image_size (W, H).
  backgrounds: bucket name → (H, W, 3) uint8 RGB median background.
  window: (M, 4) int [x, y, w, h] crop window of each object, inside the image.
  amodal_box: (M, 4) float [x, y, w, h] tight box of each mask, image pixels.
  pixels: M arrays (h, w, 3) uint8 RGB, the source frame over the window.
  mask: M arrays (h, w) bool, the object's mask over the window (amodal: it was unoccluded).
  depth: M arrays (h, w) float32 metres, its proxy's depth over the window (filled).
  category: (M,) int32. keypoints (M, 17, 2) pixels; source_states (M, 17) int8 KeypointState
    in the source frame (self-occluded, outside, else visible). num_keypoints (M,).
  rotation (M, 3, 3), translation (M, 3), ground_pose (M, 3), dimensions (M, 3), shape (M, 10),
    shape_num (M,), keypoints_3d (M, 17, 3): the 3D labels (docs/formats.md, object bank).
  footprint: (M, 5) [x, y, yaw, half length, half width] ground frame; is_disc (M,) bool
    (people: a disc of radius half length).
  track_id, frame_index, row: (M,) int64. bucket: M time-of-day bucket names.
  skipped: rows left out, by reason.
  """

  camera_name: str
  K: np.ndarray
  plane: np.ndarray
  R_cg: np.ndarray
  t_cg: np.ndarray
  image_size: tuple[int, int]
  backgrounds: dict[str, np.ndarray]
  window: np.ndarray
  amodal_box: np.ndarray
  pixels: list[np.ndarray]
  mask: list[np.ndarray]
  depth: list[np.ndarray]
  category: np.ndarray
  keypoints: np.ndarray
  source_states: np.ndarray
  num_keypoints: np.ndarray
  rotation: np.ndarray
  translation: np.ndarray
  ground_pose: np.ndarray
  dimensions: np.ndarray
  shape: np.ndarray
  shape_num: np.ndarray
  keypoints_3d: np.ndarray
  footprint: np.ndarray
  is_disc: np.ndarray
  track_id: np.ndarray
  frame_index: np.ndarray
  row: np.ndarray
  bucket: list[str]
  skipped: dict[str, int]
  # Memo of `conflicts` rows: (index, margin) → (M,) bool. Not an init field, so `select` and
  # `dataclasses.replace` start with an empty one.
  _conflicts: dict = dataclasses.field(default_factory=dict, init=False, repr=False, compare=False)

  def __len__(self) -> int:
    return int(len(self.category))

  def conflicts(self, index: int, margin: float) -> np.ndarray:
    """(M,) bool: the objects that cannot share an image with object `index` in WALT3D: a
    footprint closer than `margin` metres, or the same track (itself included). Memoised:
    a pool serves many images, and every image asks again for the objects it places."""
    key = (int(index), float(margin))
    row = self._conflicts.get(key)
    if row is None:
      row = ~clearance.footprints_apart(self.footprint[index], bool(self.is_disc[index]), self.footprint,
                                      self.is_disc, margin)
      if self.track_id[index] >= 0:
        row |= self.track_id == self.track_id[index]
      row[index] = True
      if len(self) <= _MAX_MEMO_OBJECTS:
        self._conflicts[key] = row
    return row

  def select(self, indices: Sequence[int] | np.ndarray) -> ObjectPool:
    """The pool of objects `indices` only (same camera and backgrounds)."""
    indices = np.asarray(indices, np.int64)
    per_object = {}
    for field in dataclasses.fields(self):
      value = getattr(self, field.name)
      if isinstance(value, np.ndarray) and field.name not in ("K", "plane", "R_cg", "t_cg"):
        per_object[field.name] = value[indices]
      elif isinstance(value, list):
        per_object[field.name] = [value[i] for i in indices]
    return dataclasses.replace(self, **per_object)


@dataclasses.dataclass
class SourceObject:
  """One object as a source delivers it, before the pool checks and prepares it.

  window [x, y, w, h]; pixels (h, w, 3) uint8; mask (h, w) bool over the window;
  keypoints (17, 2) pixels; keypoint_score (17,) in [0, 1] (below the threshold: hidden in the
  source); derived: whether the keypoints were projected from the fit (their hidden state then
  follows from the 3D proxy). The 3D fields as in `ObjectPool`.
  """

  category: int
  window: np.ndarray
  pixels: np.ndarray
  mask: np.ndarray
  keypoints: np.ndarray
  keypoint_score: np.ndarray
  derived: bool
  rotation: np.ndarray
  translation: np.ndarray
  ground_pose: np.ndarray
  dimensions: np.ndarray
  shape: np.ndarray
  shape_num: int
  keypoints_3d: np.ndarray
  track_id: int
  frame_index: int
  row: int
  bucket: str


def reject_reason(obj: SourceObject, image_size: tuple[int, int]) -> str | None:
  """Why `obj` cannot be composited, or None."""
  if obj.category not in NUM_KEYPOINTS:
    return "unknown_category"
  numbers = (obj.rotation, obj.translation, obj.ground_pose, obj.dimensions, obj.shape,
             obj.keypoints_3d, obj.keypoints)
  if not all(np.isfinite(np.asarray(a, np.float64)).all() for a in numbers):
    return "non_finite_3d"
  if np.abs(obj.rotation @ obj.rotation.T - np.eye(3)).max() > 1e-3 or np.linalg.det(obj.rotation) < 0:
    return "bad_rotation"
  if obj.translation[2] <= render.NEAR or (obj.dimensions <= 0).any():
    return "implausible_3d"
  if obj.keypoints_3d[:NUM_KEYPOINTS[obj.category], 2].min() <= render.NEAR:
    return "implausible_3d"
  x, y, w, h = (int(v) for v in obj.window)
  width, height = image_size
  if w < 1 or h < 1 or x < 0 or y < 0 or x + w > width or y + h > height:
    return "window_outside_image"
  if obj.pixels.shape != (h, w, 3) or obj.mask.shape != (h, w):
    return "crop_mismatch"
  if not obj.mask.any():
    return "empty_mask"
  return None


def _source_states(obj: SourceObject, proxy_depth: np.ndarray, min_score: float,
                   image_size: tuple[int, int]) -> np.ndarray:
  """(17,) int8 states in the (unoccluded) source frame: outside the image, self-occluded
  (hidden in the source: a low detector score, or behind its own proxy for derived keypoints),
  else visible; unused slots outside."""
  count = NUM_KEYPOINTS[obj.category]
  states = np.full(MAX_KEYPOINTS, KeypointState.OUTSIDE_IMAGE, np.int8)
  uv = obj.keypoints[:count]
  if obj.derived:
    x, y, w, h = (int(v) for v in obj.window)
    col = np.clip(np.rint(uv[:, 0]).astype(int) - x, 0, w - 1)
    row = np.clip(np.rint(uv[:, 1]).astype(int) - y, 0, h - 1)
    hidden = proxy_depth[row, col] < obj.keypoints_3d[:count, 2] - SELF_OCCLUSION_TOLERANCE_M
  else:
    hidden = obj.keypoint_score[:count] < min_score
  states[:count] = np.where(hidden, KeypointState.SELF_OCCLUDED, KeypointState.VISIBLE)
  states[:count][~truth_lib.inside_image(uv, image_size)] = KeypointState.OUTSIDE_IMAGE
  return states


def _proxy_triangles(obj: SourceObject, plane: np.ndarray) -> np.ndarray:
  if obj.category == Category.CAR:
    return proxy.car_hull(obj.keypoints_3d, plane)
  return proxy.person_capsule(obj.translation, float(obj.dimensions[2]), plane)


def _footprint(obj: SourceObject, person_radius: float) -> tuple[np.ndarray, bool]:
  x, y, yaw = (float(v) for v in obj.ground_pose)
  if obj.category == Category.PERSON:
    radius = 0.5 * float(obj.dimensions[1]) if obj.dimensions[1] > 0 else person_radius
    return np.array([x, y, yaw, radius, radius]), True
  return np.array([x, y, yaw, 0.5 * obj.dimensions[0], 0.5 * obj.dimensions[1]]), False


def build_pool(objects: Sequence[SourceObject], camera: camera_lib.Camera,
               backgrounds: dict[str, np.ndarray], config: ClipartConfig, camera_name: str,
               skipped: dict[str, int] | None = None, source: str = "<objects>") -> ObjectPool:
  """Checks and prepares objects (proxy depths, source states, footprints) into a pool.

  Raises ClipartError (naming `source`) when no object is usable or no background exists.
  """
  skipped = collections.Counter(skipped or {})
  K = np.asarray(camera.K, np.float64)
  n, d = np.asarray(camera.normal, np.float64), float(camera.offset)
  plane = np.concatenate([n, [d]])
  R_cg, t_cg = render.ground_frame(camera)
  image_size = (int(camera.width), int(camera.height))
  if not backgrounds:
    raise ClipartError(f"{source}: no background image (the mine job stores one per time-of-day bucket)")
  for name, image in backgrounds.items():
    if image.shape != (image_size[1], image_size[0], 3) or image.dtype != np.uint8:
      raise ClipartError(f"{source}: background {name!r} is {image.dtype} {image.shape}, expected "
                         f"uint8 {(image_size[1], image_size[0], 3)}")
  kept: list[tuple[SourceObject, np.ndarray, np.ndarray, bool]] = []
  depths, states = [], []
  for obj in _bar(objects, "pool: depth proxies", "object"):
    reason = reject_reason(obj, image_size)
    if reason is None:
      tris = _proxy_triangles(obj, plane)
      raw = proxy.window_depth(tris, K, obj.window, image_size)
      if not np.isfinite(raw[obj.mask]).any():
        reason = "proxy_misses_mask"  # the fit does not project onto the object's pixels
    if reason is not None:
      skipped[reason] += 1
      continue
    states.append(_source_states(obj, raw, config.min_keypoint_score, image_size))
    depths.append(proxy.fill_nearest(raw, float(obj.translation[2])))
    footprint, is_disc = _footprint(obj, config.person_radius_m)
    kept.append((obj, footprint, is_disc))
  if not kept:
    detail = ", ".join(f"{k} {v}" for k, v in sorted(skipped.items())) or "no rows"
    raise ClipartError(f"{source}: no composable object ({detail}); clip-art needs fitted objects "
                       f"(run the fit job on the bank first)")
  objs = [k[0] for k in kept]
  stack = lambda name, dtype: np.array([np.asarray(getattr(o, name)) for o in objs], dtype)
  keypoints = np.zeros((len(objs), MAX_KEYPOINTS, 2))
  keypoints_3d = np.zeros((len(objs), MAX_KEYPOINTS, 3))
  shape = np.zeros((len(objs), NUM_SHAPE_SLOTS))
  amodal_box = np.array([rle.mask_box(o.mask) for o in objs], np.float64)
  amodal_box[:, :2] += np.array([o.window[:2] for o in objs], np.float64)
  for i, o in enumerate(objs):
    count = NUM_KEYPOINTS[o.category]
    keypoints[i, :count] = o.keypoints[:count]
    keypoints_3d[i, :count] = o.keypoints_3d[:count]
    shape[i, :o.shape_num] = o.shape[:o.shape_num]
  return ObjectPool(
      camera_name=camera_name, K=K, plane=plane, R_cg=R_cg, t_cg=t_cg, image_size=image_size,
      backgrounds=dict(backgrounds), window=stack("window", np.int64), amodal_box=amodal_box,
      pixels=[o.pixels for o in objs], mask=[o.mask for o in objs], depth=depths,
      category=stack("category", np.int32), keypoints=keypoints,
      source_states=np.array(states, np.int8),
      num_keypoints=np.array([NUM_KEYPOINTS[o.category] for o in objs], np.int32),
      rotation=stack("rotation", np.float64), translation=stack("translation", np.float64),
      ground_pose=stack("ground_pose", np.float64), dimensions=stack("dimensions", np.float64),
      shape=shape, shape_num=stack("shape_num", np.int32), keypoints_3d=keypoints_3d,
      footprint=np.array([k[1] for k in kept]), is_disc=np.array([k[2] for k in kept], bool),
      track_id=stack("track_id", np.int64), frame_index=stack("frame_index", np.int64),
      row=stack("row", np.int64), bucket=[o.bucket for o in objs], skipped=dict(skipped),
  )


_BANK_COLUMNS = ["frame_index", "time", "track_id", "category", "keypoints", "keypoint_source",
                 "crop_box", "fitted", "rotation", "translation", "ground_pose", "shape",
                 "shape_num", "keypoints_3d", "dimensions"]


def camera_name_of(bank_path: str | pathlib.Path) -> str:
  """A name for a bank's camera: its file stem, or for a generic `bank.h5` (what the mine job
  writes, also behind a link) the folder it sits in."""
  path = pathlib.Path(bank_path).resolve()
  return path.parent.name if path.stem == "bank" and path.parent.name else path.stem


def _bar(items, desc: str, unit: str):
  """A progress bar with a total, drawn only once a loop has run 2 s (a big bank: ~4 ms a row);
  small pools and tests load in silence."""
  total = len(items) if hasattr(items, "__len__") else None
  return tqdm.tqdm(items, desc=desc, unit=unit, total=total, delay=2.0, leave=False)


def load_pool(bank_path: str | pathlib.Path, config: ClipartConfig) -> ObjectPool:
  """The composable objects of one object bank (docs/formats.md), prepared for compositing.

  Raises ClipartError with a one-line reason for a bank that cannot make clip-art (no camera,
  no background, no fitted object); bank_lib.BankError for a file that is not a bank.
  """
  bank_path = pathlib.Path(bank_path)
  with bank_lib.ObjectBank.open(bank_path) as bank:
    if not bank.camera:
      raise ClipartError(f"{bank_path}: the bank has no camera (mine with --config.source.camera=camera.json)")
    try:
      camera = camera_lib.camera_from_dict(bank.camera, f"{bank_path}:camera_json")
    except camera_lib.CameraError as e:
      raise ClipartError(str(e)) from e
    backgrounds = {name: bank.background(name) for name in bank.background_names()}
    if not len(bank):
      raise ClipartError(f"{bank_path}: the bank is empty (nothing was mined)")
    rows = bank.read(slice(None), columns=_BANK_COLUMNS)
    # A bank mined from footage whose clock does not tell the hour of day has one 'unknown'
    # background: every object belongs to it.
    buckets = background_lib.BackgroundModel(background_lib.BackgroundConfig(
        start_hour=config.background_start_hour,
        **({"buckets": background_lib.UNKNOWN_BUCKETS} if background_lib.UNKNOWN in backgrounds else {})))
    skipped = collections.Counter()
    objects = []
    for i in _bar(range(len(bank)), "pool: reading the bank", "row"):
      if not rows["fitted"][i]:
        skipped["not_fitted"] += 1
        continue
      window = np.asarray(rows["crop_box"][i], np.int64)
      x, y, w, h = (int(v) for v in window)
      full = rle.decode_mask(bank.mask(i))
      mask = full[y:y + h, x:x + w]
      if np.count_nonzero(mask) != np.count_nonzero(full):
        skipped["mask_outside_crop"] += 1
        continue
      kp = np.asarray(rows["keypoints"][i], np.float64)
      objects.append(SourceObject(
          category=int(rows["category"][i]), window=window, pixels=bank.crop(i), mask=mask,
          keypoints=kp[:, :2], keypoint_score=kp[:, 2],
          derived=int(rows["keypoint_source"][i]) == int(bank_lib.KeypointSource.DERIVED),
          rotation=np.asarray(rows["rotation"][i], np.float64),
          translation=np.asarray(rows["translation"][i], np.float64),
          ground_pose=np.asarray(rows["ground_pose"][i], np.float64),
          dimensions=np.asarray(rows["dimensions"][i], np.float64),
          shape=np.asarray(rows["shape"][i], np.float64), shape_num=int(rows["shape_num"][i]),
          keypoints_3d=np.asarray(rows["keypoints_3d"][i], np.float64),
          track_id=int(rows["track_id"][i]), frame_index=int(rows["frame_index"][i]), row=i,
          bucket=buckets.bucket_of(float(rows["time"][i])),
      ))
  return build_pool(objects, camera, backgrounds, config, camera_name_of(bank_path), skipped, str(bank_path))


def pool_summary(pool: ObjectPool) -> dict[str, Any]:
  """Counts for reports: objects per class and bucket, skipped by reason."""
  names = {int(Category.CAR): "car", int(Category.PERSON): "person"}
  return {
      "objects": len(pool),
      "by_category": dict(collections.Counter(names[int(c)] for c in pool.category)),
      "by_bucket": dict(collections.Counter(pool.bucket)),
      "backgrounds": sorted(pool.backgrounds),
      "skipped": dict(sorted(pool.skipped.items())),
  }
