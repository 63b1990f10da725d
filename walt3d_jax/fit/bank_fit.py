"""Fitting the objects of object banks: tracks, batches, the vehicle and people fits, write-back.

Pure functions of the `fit` job (`fit_job.run`; its report: `fit_report`). Per bank
(docs/formats.md "Object bank"): rows are grouped by (track, class) and ordered in time
(`read_bank`); the tracks of any number of banks are then fitted together (`fit_banks`), each
with its own bank's camera:
  - cars with detected keypoints: `track_fit.fit_track_batch` (shared PCA shape, ground poses
    per frame), tracks of all banks pooled, padded to power-of-two lengths and batched, long
    tracks cut into segments of at most `max_track_frames`; with a 'data' mesh of several
    devices each batch is split over them (`sharding`);
  - cars without keypoints (keypoint_source derived, or all keypoint scores 0: the built-in
    detector): `motion_fit.fit_track_from_motion` on the box bottoms, batched and split the
    same way; their 2D keypoints are then projected from the fit and marked derived;
  - people: `people.place_people` (the paper's z_b placement and a COCO-17 skeleton).
The 3D columns (`bank.FIT_COLUMNS`) of every row are written with `ObjectBank.update`
(`write_back`): `fitted` only for accepted rows; rejected rows get zeros and carry the `quality`
reason bits in `fit_flags`, counted by reason in `bank_summary`.

`run` and `report_headline` stay importable from here (they live in `fit_job` and
`fit_report`).
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import pathlib
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import tqdm

from walt3d_jax.fit import batching
from walt3d_jax.fit import motion_fit
from walt3d_jax.fit import people as people_lib
from walt3d_jax.fit import quality
from walt3d_jax.fit import sharding
from walt3d_jax.fit import track_fit
from walt3d_jax.fit.config import FitConfig
from walt3d_jax.formats import coco
from walt3d_jax.formats.coco import Category
from walt3d_jax.geometry import camera as camera_lib
from walt3d_jax.geometry import plane
from walt3d_jax.geometry import pose as pose_lib
from walt3d_jax.shapes import car_model
from walt3d_jax.timelapse import bank as bank_lib

_READ_COLUMNS = ('frame_index', 'time', 'track_id', 'category', 'box', 'keypoints',
                 'keypoint_source')
CAR_EDGES = tuple((a - 1, b - 1) for a, b in coco.categories()[0]['skeleton'])
NUM_CAR_KEYPOINTS = 12


@dataclasses.dataclass(frozen=True)
class Track:
  """One track's rows of one bank, in time order: bank row numbers (T,), its class."""

  rows: np.ndarray
  category: int
  track_id: int


@dataclasses.dataclass
class BankTracks:
  """One bank as the fits want it: its path, its rows as read (`_READ_COLUMNS`; None when the
  bank is empty), its camera and its tracks, by kind ('keypoints', 'motion', 'person')."""

  path: pathlib.Path
  rows: dict[str, np.ndarray] | None
  cam: '_Camera'
  tracks: list[Track]
  kinds: dict[str, list[Track]]


@dataclasses.dataclass
class Fitted:
  """The 3D columns of a set of bank rows (numpy, the bank's per-row shapes) and whether each
  row's fit was accepted; `derived_keypoints` (N, 17, 3) or None where detected ones stay."""

  rows: np.ndarray
  accepted: np.ndarray
  columns: dict[str, np.ndarray]
  derived_keypoints: np.ndarray | None = None


# ---- config ------------------------------------------------------------------------------------


def fit_config(config: ml_collections.ConfigDict) -> FitConfig:
  """The vehicle FitConfig of config.fit (overrides of FitConfig's defaults)."""
  values = {k: tuple(v) if isinstance(v, (list, tuple)) else v
            for k, v in config.fit.to_dict().items()}
  return FitConfig(**values)


def people_config(config: ml_collections.ConfigDict) -> people_lib.PeopleConfig:
  values = {k: tuple(v) if isinstance(v, (list, tuple)) else v
            for k, v in config.people.to_dict().items()}
  return people_lib.PeopleConfig(**values)


def reject_mask(config: ml_collections.ConfigDict, kind: str) -> int:
  """Reason bits that exclude a row of kind 'keypoints', 'motion' or 'person' from the bank.

  Every bit rejects, except NO_MOTION for a person (people stand still; they then face the
  camera) unless config.people_reject_standing.
  """
  every = 0
  for bit in quality.REASONS.values():
    every |= bit
  if kind == 'person' and not config.people_reject_standing:
    return every & ~quality.NO_MOTION
  return every


# ---- grouping and padding ----------------------------------------------------------------------


def group_tracks(rows: dict[str, np.ndarray]) -> list[Track]:
  """Tracks of a bank's rows: grouped by (track_id, category), untracked rows (−1) alone,
  each ordered by time then frame index."""
  groups: dict[tuple, list[int]] = collections.defaultdict(list)
  for i, (tid, cat) in enumerate(zip(rows['track_id'], rows['category'])):
    key = (int(tid), int(cat)) if tid >= 0 else (-1 - i, int(cat))
    groups[key].append(i)
  tracks = []
  for (tid, cat), members in sorted(groups.items(), key=lambda kv: kv[1][0]):
    members = np.array(members)
    order = np.lexsort((rows['frame_index'][members], rows['time'][members]))
    tracks.append(Track(members[order], cat, max(tid, -1)))
  return tracks


def segments(track: Track, max_frames: int) -> list[np.ndarray]:
  """Row positions (into track.rows) of consecutive segments of at most max_frames."""
  n = len(track.rows)
  count = -(-n // max_frames)
  # Equal-sized segments: no tiny tail that would fit poorly on its own.
  bounds = np.linspace(0, n, count + 1).round().astype(int)
  return [np.arange(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


def pad_length(num_frames: int, config: ml_collections.ConfigDict) -> int:
  """Padded length: the next power of two, at least config.min_bucket (fewer compiles)."""
  return min(batching.bucket_length(num_frames, config.min_bucket),
             max(config.max_track_frames, num_frames))


def _batches(lengths: list[int], config: ml_collections.ConfigDict, devices: int = 1):
  """(padded length, batch size, members) per batch: items bucketed by padded length, batches
  of at most config.batch_size, the batch size padded to a power of two, then to a multiple
  of the device count the batch is split over."""
  for length, size, idx in batching.length_batches(lengths, config.batch_size,
                                                   lambda n: pad_length(n, config)):
    yield length, sharding.round_up(size, devices), idx


def keypoint_arrays(keypoints: np.ndarray, min_score: float) -> tuple[np.ndarray, np.ndarray]:
  """Car keypoints (T, 17, 3) [u, v, score] → uv (T, 12, 2) pixels and weight (T, 12):
  the detector's score where it is ≥ min_score, else 0 (missing)."""
  kp = np.asarray(keypoints, np.float64)[:, :NUM_CAR_KEYPOINTS]
  score = kp[..., 2]
  weight = np.where(np.isfinite(score) & (score >= min_score), score, 0.)
  return kp[..., :2], weight


def has_detected_keypoints(keypoints: np.ndarray, source: np.ndarray, count: int) -> np.ndarray:
  """(T,) bool: rows whose first `count` keypoints came from a detector with a score > 0."""
  return ((source == int(bank_lib.KeypointSource.DETECTED))
          & np.any(keypoints[:, :count, 2] > 0., -1))


# ---- reading -----------------------------------------------------------------------------------


class _Camera:
  """One bank's camera as the fits want it (float32 numpy)."""

  def __init__(self, camera: camera_lib.Camera):
    self.camera = camera
    self.K = np.asarray(camera.K, np.float32)
    r_cg, t_cg = plane.ground_frame(camera.normal, camera.offset)
    self.R_cg = np.asarray(r_cg, np.float32)
    self.t_cg = np.asarray(t_cg, np.float32)
    self.size = np.array([camera.width, camera.height], np.float32)


def track_kinds(tracks: list[Track], rows: dict[str, np.ndarray]) -> dict[str, list[Track]]:
  """Tracks by how they are fitted: 'person', 'keypoints' (cars with some detected keypoint),
  'motion' (cars without)."""
  kinds: dict[str, list[Track]] = {'keypoints': [], 'motion': [], 'person': []}
  for t in tracks:
    if t.category == int(Category.PERSON):
      kinds['person'].append(t)
    elif has_detected_keypoints(rows['keypoints'][t.rows], rows['keypoint_source'][t.rows],
                                NUM_CAR_KEYPOINTS).any():
      kinds['keypoints'].append(t)
    else:
      kinds['motion'].append(t)
  return kinds


def read_bank(path: pathlib.Path) -> BankTracks:
  """The bank at `path`, its camera and tracks; a BankError when it has no camera."""
  with bank_lib.ObjectBank.open(path) as bank:
    camera_json = bank.camera
    if not camera_json:
      raise bank_lib.BankError(f'{path}: the bank has no camera (camera_json is empty); mine it '
                               f'with --config.source.camera=camera.json to fit 3D')
    cam = _Camera(camera_lib.camera_from_dict(camera_json, f'{path}:camera_json'))
    rows = bank.read(slice(None), _READ_COLUMNS) if len(bank) else None
  if rows is None:
    return BankTracks(path, None, cam, [], {'keypoints': [], 'motion': [], 'person': []})
  tracks = group_tracks(rows)
  return BankTracks(path, rows, cam, tracks, track_kinds(tracks, rows))


# ---- fitting -----------------------------------------------------------------------------------

# A segment of one bank's track: (bank index, track, row positions into track.rows).
_Part = tuple[int, Track, np.ndarray]


@functools.partial(jax.jit, static_argnames=('config', 'mesh'))
def _motion_batch(bottom, valid, K, R_cg, t_cg, size, model, config, mesh=None):
  fit = jax.vmap(functools.partial(motion_fit.fit_track_from_motion, config=config),
                 in_axes=(0,) * 6 + (None,))
  return sharding.per_device(fit, mesh, (True,) * 6 + (False,))(
      bottom, valid, K, R_cg, t_cg, size, model)


def _pose_columns(x, y, yaw, cam: _Camera, points_obj: np.ndarray) -> dict[str, np.ndarray]:
  """rotation (T, 3, 3), translation (T, 3), ground_pose (T, 3), keypoints_3d (T, 17, 3) and
  depth (T,) of ground poses x, y, yaw (T,) with object-frame keypoints (P ≤ 17, 3)."""
  R, t = (np.asarray(a, np.float64) for a in pose_lib.ground_pose_to_camera(
      jnp.asarray(cam.R_cg), jnp.asarray(cam.t_cg), x, y, yaw))
  kp = np.zeros((len(x), 17, 3))
  kp[:, :points_obj.shape[0]] = np.einsum('tij,pj->tpi', R, points_obj) + t[:, None]
  return {'rotation': R, 'translation': t, 'ground_pose': np.stack([x, y, yaw], -1),
          'keypoints_3d': kp, 'depth': t[:, 2]}


def _derived_keypoints(uv: np.ndarray, size: np.ndarray) -> np.ndarray:
  """(T, 17, 3) [u, v, score] of projected keypoints uv (T, P, 2): score 1 inside the image."""
  out = np.zeros((uv.shape[0], 17, 3))
  inside = np.all((uv >= 0.) & (uv <= size - 1.), -1)
  out[:, :uv.shape[1], :2] = np.where(inside[..., None], uv, np.clip(uv, 0., size - 1.))
  out[:, :uv.shape[1], 2] = inside
  return out


def _car_result_to_fitted(result: track_fit.FitResult, rows: np.ndarray, cam: _Camera,
                          model: car_model.CarShapeModel, reject: int,
                          derived: bool) -> Fitted:
  x, y, yaw = (np.asarray(v, np.float64) for v in (result.x, result.y, result.yaw))
  alpha = np.asarray(result.alpha, np.float64)
  shape_kp = np.asarray(car_model.keypoints_from_shape(model, jnp.asarray(alpha, jnp.float32)),
                        np.float64)
  columns = _pose_columns(x, y, yaw, cam, shape_kp)
  n, k = len(rows), alpha.shape[0]
  shape = np.zeros((n, bank_lib.NUM_SHAPE_SLOTS))
  shape[:, :k] = alpha
  flags = (int(result.reason) | np.asarray(result.frame_reason, np.int64))
  columns.update(shape=shape, shape_num=np.full(n, k, np.int32),
                 dimensions=np.repeat(np.asarray(result.dimensions, np.float64)[None], n, 0),
                 fit_rmse=np.asarray(result.frame_rmse_px, np.float64),
                 fit_flags=flags.astype(np.uint32))
  accepted = (flags & reject) == 0
  kps = _derived_keypoints(np.asarray(result.uv_fit, np.float64), cam.size) if derived else None
  return Fitted(rows, accepted, columns, kps)


def _parts(tracks: list[tuple[int, Track]], config: ml_collections.ConfigDict) -> list[_Part]:
  return [(b, t, seg) for b, t in tracks for seg in segments(t, config.max_track_frames)]


def _cameras(parts: list[_Part], idx: list[int], size: int,
             banks: list[BankTracks]) -> tuple[np.ndarray, ...]:
  """K (size, 3, 3), R_cg, t_cg, image size of a batch's tracks, each its bank's camera;
  padding rows copy the first member's."""
  take = batching.padded_rows(idx, size)
  cams = [banks[parts[i][0]].cam for i in take]
  return tuple(np.stack([getattr(c, name) for c in cams]) for name in ('K', 'R_cg', 't_cg', 'size'))


def fit_cars_with_keypoints(tracks: list[tuple[int, Track]], banks: list[BankTracks],
                            model: car_model.CarShapeModel, config: ml_collections.ConfigDict,
                            progress: tqdm.tqdm, mesh=None) -> list[tuple[int, Fitted]]:
  """Keypoint fits of car tracks (bank index, track) of any banks, pooled: segments of at most
  config.max_track_frames, bucketed by padded length, each batch split over `mesh`."""
  fit_cfg = fit_config(config)
  parts = _parts(tracks, config)
  uvw = [keypoint_arrays(banks[b].rows['keypoints'][t.rows[seg]], config.min_keypoint_score)
         for b, t, seg in parts]
  out = []
  reject = reject_mask(config, 'keypoints')
  devices = sharding.device_count(mesh)
  for length, size, idx in _batches([len(seg) for _, _, seg in parts], config, devices):
    u = np.zeros((size, length, NUM_CAR_KEYPOINTS, 2), np.float32)
    w = np.zeros((size, length, NUM_CAR_KEYPOINTS), np.float32)
    valid = np.zeros((size, length), bool)
    for r, i in enumerate(idx):
      n = len(parts[i][2])
      u[r, :n], w[r, :n], valid[r, :n] = uvw[i][0], uvw[i][1], True
    for r in range(len(idx), size):  # padding tracks copy the first: well posed, discarded
      u[r], w[r], valid[r] = u[0], w[0], valid[0]
    res = track_fit.fit_track_batch(u, w, valid, *_cameras(parts, idx, size, banks), model,
                                    fit_cfg, mesh=mesh)
    for (b, track, seg), one in _unbatch(res, [parts[i] for i in idx]):
      out.append((b, _car_result_to_fitted(one, track.rows[seg], banks[b].cam, model, reject,
                                           False)))
    progress.update(len(idx))
  return out


_CAR_PER_FRAME = frozenset({'x', 'y', 'yaw', 'uv_fit', 'frame_rmse_px', 'frame_reason'})


def _unbatch(res: track_fit.FitResult, parts: list[_Part]):
  """Yields (part, that part's FitResult unpadded) for the leading `len(parts)` batch rows."""
  res = sharding.to_host(res)
  for r, part in enumerate(parts):
    n = len(part[2])
    yield part, track_fit.FitResult(*(v[r, :n] if name in _CAR_PER_FRAME else v[r]
                                      for name, v in zip(track_fit.FitResult._fields, res)))


def fit_cars_from_motion(tracks: list[tuple[int, Track]], banks: list[BankTracks],
                         model: car_model.CarShapeModel, config: ml_collections.ConfigDict,
                         progress: tqdm.tqdm, mesh=None) -> list[tuple[int, Fitted]]:
  """Keypoint-free fits (heading from motion) of car tracks (bank index, track) of any banks,
  pooled and split over `mesh` as `fit_cars_with_keypoints`; keypoints become derived."""
  fit_cfg = fit_config(config)
  reject = reject_mask(config, 'motion')
  parts = _parts(tracks, config)
  out = []
  devices = sharding.device_count(mesh)
  for length, size, idx in _batches([len(seg) for _, _, seg in parts], config, devices):
    bottom = np.zeros((size, length, 2), np.float32)
    valid = np.zeros((size, length), bool)
    for r, i in enumerate(idx):
      b, track, seg = parts[i]
      bottom[r, :len(seg)] = np.asarray(people_lib.box_bottom_centre(
          jnp.asarray(banks[b].rows['box'][track.rows[seg]], jnp.float32)))
      valid[r, :len(seg)] = True
    for r in range(len(idx), size):
      bottom[r], valid[r] = bottom[0], valid[0]
    batch = sharding.put_rows((bottom, valid) + _cameras(parts, idx, size, banks), mesh)
    res = _motion_batch(*batch, sharding.put_replicated(model, mesh), fit_cfg,
                        mesh if sharding.sharded(mesh) else None)
    for (b, track, seg), one in _unbatch(res, [parts[i] for i in idx]):
      out.append((b, _car_result_to_fitted(one, track.rows[seg], banks[b].cam, model, reject,
                                           True)))
    progress.update(len(idx))
  return out


def place_people(tracks: list[tuple[int, Track]], banks: list[BankTracks],
                 config: ml_collections.ConfigDict,
                 progress: tqdm.tqdm) -> list[tuple[int, Fitted]]:
  """People (bank index, track) of any banks placed on the ground (`people.place_people`,
  pooled, on the default device); keypoints of people the detector gave none become derived
  (the projected skeleton)."""
  if not tracks:
    return []
  p_cfg = people_config(config)
  reject = reject_mask(config, 'person')
  rows_of = lambda b: banks[b].rows
  cams = [banks[b].cam for b, _ in tracks]
  results = people_lib.place_people(
      [rows_of(b)['box'][t.rows] for b, t in tracks],
      [rows_of(b)['time'][t.rows] for b, t in tracks],
      np.stack([c.K for c in cams]), np.stack([c.R_cg for c in cams]),
      np.stack([c.t_cg for c in cams]), np.stack([c.size for c in cams]), p_cfg,
      config.batch_size, config.min_bucket)
  out = []
  for (b, track), r in zip(tracks, results):
    rows = rows_of(b)
    m = len(track.rows)
    kp = rows['keypoints'][track.rows].astype(np.float64)
    detected = has_detected_keypoints(kp, rows['keypoint_source'][track.rows], 17)
    # Information only: how far the mid-stance skeleton lands from the detected keypoints.
    use = detected[:, None] & (kp[..., 2] >= config.min_keypoint_score)
    sq = np.sum((np.asarray(r.uv, np.float64) - kp[..., :2]) ** 2, -1)
    rmse = np.sqrt(np.sum(np.where(use, sq, 0.), -1) / np.maximum(use.sum(-1), 1))
    flags = int(r.reason) | np.asarray(r.frame_reason, np.int64)
    columns = {
        'rotation': np.asarray(r.rotation, np.float64),
        'translation': np.asarray(r.translation, np.float64),
        'ground_pose': np.stack([r.x, r.y, r.yaw], -1).astype(np.float64),
        'keypoints_3d': np.asarray(r.keypoints_3d, np.float64),
        'depth': np.asarray(r.depth, np.float64),
        'shape': np.zeros((m, bank_lib.NUM_SHAPE_SLOTS)), 'shape_num': np.zeros(m, np.int32),
        'dimensions': np.repeat(np.asarray(r.dimensions, np.float64)[None], m, 0),
        'fit_rmse': rmse, 'fit_flags': flags.astype(np.uint32),
    }
    derived = None
    if not detected.any():
      derived = _derived_keypoints(np.asarray(r.uv, np.float64), banks[b].cam.size)
    out.append((b, Fitted(track.rows, (flags & reject) == 0, columns, derived)))
  progress.update(len(tracks))
  return out


def fit_banks(banks: list[BankTracks], model: car_model.CarShapeModel,
              config: ml_collections.ConfigDict, mesh=None,
              progress: tqdm.tqdm | None = None) -> list[list[Fitted]]:
  """Fits every track of `banks` together (each kind pooled across banks, each track with its
  own bank's camera, car batches split over `mesh`); returns each bank's fits, in bank order."""
  pooled = {kind: [(b, t) for b, bank in enumerate(banks) for t in bank.kinds[kind]]
            for kind in ('keypoints', 'motion', 'person')}
  if progress is None:
    progress = tqdm.tqdm(disable=True)
  fits = (fit_cars_with_keypoints(pooled['keypoints'], banks, model, config, progress, mesh)
          + fit_cars_from_motion(pooled['motion'], banks, model, config, progress, mesh)
          + place_people(pooled['person'], banks, config, progress))
  per_bank: list[list[Fitted]] = [[] for _ in banks]
  for b, f in fits:
    per_bank[b].append(f)
  return per_bank


# ---- writing back ------------------------------------------------------------------------------


def write_back(bank: bank_lib.ObjectBank, fits: list[Fitted]) -> None:
  """Writes the 3D columns of every row of the bank: each row of a fit as fitted (accepted
  rows in full, rejected rows as zeros with their fit_flags), every other row reset (zeros,
  not fitted), so nothing of an earlier, interrupted write-back survives; derived keypoints
  (and keypoint_source) for accepted rows only."""
  num = len(bank)
  if not num:
    return
  columns = {}
  for name in bank_lib.FIT_COLUMNS:
    spec = bank_lib.COLUMNS[name]
    columns[name] = np.zeros((num,) + tuple(spec.shape), spec.dtype)
  for f in fits:
    columns['fitted'][f.rows] = f.accepted
    keep = f.accepted
    for name in bank_lib.FIT_COLUMNS:
      if name == 'fitted':
        continue
      spec = bank_lib.COLUMNS[name]
      values = np.asarray(f.columns[name]).astype(spec.dtype)
      if name != 'fit_flags':
        values = np.where(keep.reshape((-1,) + (1,) * len(spec.shape)), values,
                          np.zeros_like(values))
      columns[name][f.rows] = values
  for name, values in columns.items():
    # The bank stores no NaN; a fit never produces one, and this makes sure of it.
    if values.dtype.kind == 'f' and not np.isfinite(values).all():
      raise FloatingPointError(f'{bank.path}: the fit produced non-finite {name!r}')
  bank.update(np.arange(num), columns)
  derived = [(f.rows[f.accepted], f.derived_keypoints[f.accepted]) for f in fits
             if f.derived_keypoints is not None and f.accepted.any()]
  if derived:
    d_rows = np.concatenate([r for r, _ in derived])
    bank.update(d_rows, {
        'keypoints': np.concatenate([k for _, k in derived]).astype(np.float32),
        'keypoint_source': np.full(len(d_rows), int(bank_lib.KeypointSource.DERIVED), np.uint8)})


def bank_summary(bank: BankTracks, fits: list[Fitted]) -> dict[str, Any]:
  """One bank's counts: rows, tracks (by kind), rows fitted per class, rejections by reason."""
  if bank.rows is None:
    return {'bank': str(bank.path), 'rows': 0, 'tracks': 0}
  by_class: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
  reasons: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
  for f in fits:
    name = Category(int(bank.rows['category'][f.rows[0]])).name.lower()
    by_class[name]['rows'] += len(f.rows)
    by_class[name]['fitted'] += int(f.accepted.sum())
    for flags in f.columns['fit_flags'][~f.accepted]:
      reasons[name].update(quality.reason_names(int(flags)))
  return {
      'bank': str(bank.path), 'rows': int(len(bank.rows['track_id'])), 'tracks': len(bank.tracks),
      'tracks_by_kind': {k: len(v) for k, v in bank.kinds.items()},
      'rows_by_class': {k: dict(v) for k, v in sorted(by_class.items())},
      'rejected_by_reason': {k: dict(sorted(v.items())) for k, v in sorted(reasons.items())},
  }


def read_fits(bank: BankTracks) -> list[Fitted]:
  """The fits a bank holds (its FIT_COLUMNS, as written by `write_back`), one per track; for
  the report of a bank fitted by an earlier run."""
  if bank.rows is None:
    return []
  with bank_lib.ObjectBank.open(bank.path) as b:
    stored = b.read(slice(None), bank_lib.FIT_COLUMNS)
  return [Fitted(t.rows, stored['fitted'][t.rows].astype(bool),
                 {name: stored[name][t.rows] for name in bank_lib.FIT_COLUMNS if name != 'fitted'})
          for t in bank.tracks]


def __getattr__(name: str):
  """`run` (the job) and the report's functions, importable from here as before the split."""
  if name in ('run', 'resolve_banks'):
    from walt3d_jax.fit import fit_job

    return getattr(fit_job, name)
  if name in ('report_headline', 'write_report', 'accuracy_vs_truth', 'truth_path'):
    from walt3d_jax.fit import fit_report

    return getattr(fit_report, name)
  raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
