"""The `fit` job: 3D for every object of one or many object banks, written back in place.

Per bank (docs/formats.md "Object bank"): rows are grouped by (track, class) and ordered in
time; then
  - cars with detected keypoints: `track_fit.fit_track_batch` (shared PCA shape, ground poses
    per frame), tracks padded to power-of-two lengths and batched, long tracks cut into
    segments of at most `max_track_frames`;
  - cars without keypoints (keypoint_source derived, or all keypoint scores 0: the built-in
    detector): `motion_fit.fit_track_from_motion` on the box bottoms; their 2D keypoints are
    then projected from the fit and marked derived;
  - people: `people.place_person_track` (the paper's z_b placement and a COCO-17 skeleton).
The 3D columns (`bank.FIT_COLUMNS`) are written with `ObjectBank.update`: `fitted` only for
accepted rows; rejected rows keep zeros and carry the `quality` reason bits in `fit_flags`,
counted by reason in summary.json. A report PNG shows fitted wireframes over stored crops and
a bird's-eye view of all fitted tracks. On a simulated source (ground_truth.json beside the
frames the bank was mined from) the summary scores the fits against the simulator's truth.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import pathlib
import time
from typing import Any, Iterable

from absl import logging
import jax
import jax.numpy as jnp
import cv2
import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import ml_collections  # noqa: E402
import numpy as np  # noqa: E402
import tqdm  # noqa: E402

from walt3d_jax.fit import motion_fit  # noqa: E402
from walt3d_jax.fit import people as people_lib  # noqa: E402
from walt3d_jax.fit import quality  # noqa: E402
from walt3d_jax.fit import batching  # noqa: E402
from walt3d_jax.fit import track_fit  # noqa: E402
from walt3d_jax.fit.config import FitConfig  # noqa: E402
from walt3d_jax.formats import coco  # noqa: E402
from walt3d_jax.formats.coco import Category  # noqa: E402
from walt3d_jax.geometry import camera as camera_lib  # noqa: E402
from walt3d_jax.geometry import plane  # noqa: E402
from walt3d_jax.geometry import pose as pose_lib  # noqa: E402
from walt3d_jax.metrics import detection as detection_metrics  # noqa: E402
from walt3d_jax.shapes import car_model  # noqa: E402
from walt3d_jax.shapes import person  # noqa: E402
from walt3d_jax.timelapse import bank as bank_lib  # noqa: E402
from walt3d_jax.viz import overlays  # noqa: E402

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


def _batches(items: list[Any], lengths: list[int], config: ml_collections.ConfigDict):
  """(padded length, batch size, members) per batch: items bucketed by padded length, batches
  of at most config.batch_size, the batch size padded to a power of two."""
  return batching.length_batches(lengths, config.batch_size, lambda n: pad_length(n, config))


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


# ---- fitting -----------------------------------------------------------------------------------


class _Camera:
  """One bank's camera as the fits want it (float32 numpy)."""

  def __init__(self, camera: camera_lib.Camera):
    self.camera = camera
    self.K = np.asarray(camera.K, np.float32)
    r_cg, t_cg = plane.ground_frame(camera.normal, camera.offset)
    self.R_cg = np.asarray(r_cg, np.float32)
    self.t_cg = np.asarray(t_cg, np.float32)
    self.size = np.array([camera.width, camera.height], np.float32)

  def tile(self, count: int) -> tuple[jax.Array, ...]:
    rep = lambda a: jnp.asarray(np.repeat(a[None], count, 0))
    return rep(self.K), rep(self.R_cg), rep(self.t_cg), rep(self.size)


_motion_batch = jax.jit(jax.vmap(motion_fit.fit_track_from_motion, in_axes=(0,) * 6 + (None,) * 2),
                        static_argnames=('config',))


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


def fit_cars_with_keypoints(tracks: list[Track], rows: dict[str, np.ndarray], cam: _Camera,
                            model: car_model.CarShapeModel, config: ml_collections.ConfigDict,
                            progress: tqdm.tqdm) -> list[Fitted]:
  """Keypoint fits of car tracks (segments of at most config.max_track_frames)."""
  fit_cfg = fit_config(config)
  parts = [(t, seg) for t in tracks for seg in segments(t, config.max_track_frames)]
  uvw = [keypoint_arrays(rows['keypoints'][t.rows[seg]], config.min_keypoint_score)
         for t, seg in parts]
  out = []
  reject = reject_mask(config, 'keypoints')
  for length, size, idx in _batches(parts, [len(seg) for _, seg in parts], config):
    u = np.zeros((size, length, NUM_CAR_KEYPOINTS, 2), np.float32)
    w = np.zeros((size, length, NUM_CAR_KEYPOINTS), np.float32)
    valid = np.zeros((size, length), bool)
    for b, i in enumerate(idx):
      n = len(parts[i][1])
      u[b, :n], w[b, :n], valid[b, :n] = uvw[i][0], uvw[i][1], True
    for b in range(len(idx), size):  # padding tracks copy the first: well posed, discarded
      u[b], w[b], valid[b] = u[0], w[0], valid[0]
    res = track_fit.fit_track_batch(jnp.asarray(u), jnp.asarray(w), jnp.asarray(valid),
                                    *cam.tile(size), model, fit_cfg)
    for (track, seg), one in _unbatch(res, [parts[i] for i in idx]):
      out.append(_car_result_to_fitted(one, track.rows[seg], cam, model, reject, False))
    progress.update(len(idx))
  return out


_CAR_PER_FRAME = frozenset({'x', 'y', 'yaw', 'uv_fit', 'frame_rmse_px', 'frame_reason'})


def _unbatch(res: track_fit.FitResult, parts: list):
  """Yields (part, that part's FitResult unpadded) for the leading `len(parts)` batch rows."""
  res = jax.tree.map(np.asarray, res)
  for b, (track, seg) in enumerate(parts):
    n = len(seg)
    yield (track, seg), track_fit.FitResult(*(v[b, :n] if name in _CAR_PER_FRAME else v[b]
                                              for name, v in zip(track_fit.FitResult._fields, res)))


def fit_cars_from_motion(tracks: list[Track], rows: dict[str, np.ndarray], cam: _Camera,
                         model: car_model.CarShapeModel, config: ml_collections.ConfigDict,
                         progress: tqdm.tqdm) -> list[Fitted]:
  """Keypoint-free fits (heading from motion) of car tracks; keypoints become derived."""
  fit_cfg = fit_config(config)
  reject = reject_mask(config, 'motion')
  parts = [(t, seg) for t in tracks for seg in segments(t, config.max_track_frames)]
  out = []
  for length, size, idx in _batches(parts, [len(seg) for _, seg in parts], config):
    bottom = np.zeros((size, length, 2), np.float32)
    valid = np.zeros((size, length), bool)
    for b, i in enumerate(idx):
      track, seg = parts[i]
      bottom[b, :len(seg)] = np.asarray(people_lib.box_bottom_centre(
          jnp.asarray(rows['box'][track.rows[seg]], jnp.float32)))
      valid[b, :len(seg)] = True
    for b in range(len(idx), size):
      bottom[b], valid[b] = bottom[0], valid[0]
    res = _motion_batch(jnp.asarray(bottom), jnp.asarray(valid), *cam.tile(size), model, fit_cfg)
    for (track, seg), one in _unbatch(res, [parts[i] for i in idx]):
      out.append(_car_result_to_fitted(one, track.rows[seg], cam, model, reject, True))
    progress.update(len(idx))
  return out


def place_people(tracks: list[Track], rows: dict[str, np.ndarray], cam: _Camera,
                 config: ml_collections.ConfigDict, progress: tqdm.tqdm) -> list[Fitted]:
  """People placed on the ground (`people.place_people`); keypoints of people the detector
  gave none become derived (the projected skeleton)."""
  if not tracks:
    return []
  p_cfg = people_config(config)
  reject = reject_mask(config, 'person')
  n = len(tracks)
  results = people_lib.place_people(
      [rows['box'][t.rows] for t in tracks], [rows['time'][t.rows] for t in tracks],
      np.repeat(cam.K[None], n, 0), np.repeat(cam.R_cg[None], n, 0),
      np.repeat(cam.t_cg[None], n, 0), np.repeat(cam.size[None], n, 0), p_cfg,
      config.batch_size, config.min_bucket)
  out = []
  for track, r in zip(tracks, results):
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
      derived = _derived_keypoints(np.asarray(r.uv, np.float64), cam.size)
    out.append(Fitted(track.rows, (flags & reject) == 0, columns, derived))
  progress.update(len(tracks))
  return out


# ---- one bank ----------------------------------------------------------------------------------


def write_back(bank: bank_lib.ObjectBank, fits: list[Fitted]) -> None:
  """Writes the 3D columns of every fit: accepted rows in full, rejected rows as zeros with
  their fit_flags; derived keypoints (and keypoint_source) for accepted rows only."""
  if not fits:
    return
  rows = np.concatenate([f.rows for f in fits])
  accepted = np.concatenate([f.accepted for f in fits])
  columns = {}
  for name in bank_lib.FIT_COLUMNS:
    if name == 'fitted':
      columns[name] = accepted
      continue
    values = np.concatenate([f.columns[name] for f in fits])
    spec = bank_lib.COLUMNS[name]
    values = np.asarray(values).astype(spec.dtype)
    keep = accepted.reshape((-1,) + (1,) * len(spec.shape))
    if name != 'fit_flags':
      values = np.where(keep, values, np.zeros_like(values))
    # The bank stores no NaN; a fit never produces one, and this makes sure of it.
    if values.dtype.kind == 'f' and not np.isfinite(values).all():
      raise FloatingPointError(f'{bank.path}: the fit produced non-finite {name!r}')
    columns[name] = values
  bank.update(rows, columns)
  derived = [(f.rows[f.accepted], f.derived_keypoints[f.accepted]) for f in fits
             if f.derived_keypoints is not None and f.accepted.any()]
  if derived:
    d_rows = np.concatenate([r for r, _ in derived])
    bank.update(d_rows, {
        'keypoints': np.concatenate([k for _, k in derived]).astype(np.float32),
        'keypoint_source': np.full(len(d_rows), int(bank_lib.KeypointSource.DERIVED), np.uint8)})


def fit_bank(path: pathlib.Path, config: ml_collections.ConfigDict,
             model: car_model.CarShapeModel) -> tuple[dict, list[Fitted], dict, _Camera]:
  """Fits every track of the bank at `path` and writes the 3D columns back.

  Returns (summary, fits, the bank's rows as read, its camera).
  """
  tic = time.perf_counter()
  with bank_lib.ObjectBank.open(path) as bank:
    camera_json = bank.camera
    if not camera_json:
      raise bank_lib.BankError(f'{path}: the bank has no camera (camera_json is empty); mine it '
                               f'with --config.source.camera=camera.json to fit 3D')
    cam = _Camera(camera_lib.camera_from_dict(camera_json, f'{path}:camera_json'))
    rows = bank.read(slice(None), _READ_COLUMNS) if len(bank) else None
  if rows is None:
    return {'bank': str(path), 'rows': 0, 'tracks': 0}, [], {}, cam
  tracks = group_tracks(rows)
  kinds: dict[str, list[Track]] = {'keypoints': [], 'motion': [], 'person': []}
  for t in tracks:
    if t.category == int(Category.PERSON):
      kinds['person'].append(t)
    elif has_detected_keypoints(rows['keypoints'][t.rows], rows['keypoint_source'][t.rows],
                                NUM_CAR_KEYPOINTS).any():
      kinds['keypoints'].append(t)
    else:
      kinds['motion'].append(t)
  with tqdm.tqdm(total=len(tracks), desc=f'fit {path.name}', unit='track',
                 disable=not config.progress) as progress:
    fits = (fit_cars_with_keypoints(kinds['keypoints'], rows, cam, model, config, progress)
            + fit_cars_from_motion(kinds['motion'], rows, cam, model, config, progress)
            + place_people(kinds['person'], rows, cam, config, progress))
  seconds = time.perf_counter() - tic
  with bank_lib.ObjectBank.open(path, 'a') as bank:
    write_back(bank, fits)

  by_class: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
  reasons: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
  for f in fits:
    name = Category(int(rows['category'][f.rows[0]])).name.lower()
    by_class[name]['rows'] += len(f.rows)
    by_class[name]['fitted'] += int(f.accepted.sum())
    for flags in f.columns['fit_flags'][~f.accepted]:
      reasons[name].update(quality.reason_names(int(flags)))
  summary = {
      'bank': str(path), 'rows': int(len(rows['track_id'])), 'tracks': len(tracks),
      'tracks_by_kind': {k: len(v) for k, v in kinds.items()},
      'rows_by_class': {k: dict(v) for k, v in sorted(by_class.items())},
      'rejected_by_reason': {k: dict(sorted(v.items())) for k, v in sorted(reasons.items())},
      'seconds': round(seconds, 2), 'tracks_per_second': round(len(tracks) / seconds, 1),
  }
  return summary, fits, rows, cam


# ---- accuracy vs the simulator's truth ---------------------------------------------------------


def truth_path(bank_path: pathlib.Path, config: ml_collections.ConfigDict) -> pathlib.Path | None:
  """config.truth, else ground_truth.json beside the frames named by the summary.json the mine
  job wrote next to the bank; None when there is none (real footage)."""
  if config.truth:
    return pathlib.Path(config.truth)
  summary = bank_path.parent / 'summary.json'
  if not summary.is_file():
    return None
  try:
    frames = json.loads(summary.read_text())['source']['frames']
  except (KeyError, TypeError, ValueError):
    return None
  candidate = pathlib.Path(frames) / 'ground_truth.json'
  return candidate if candidate.is_file() else None


def _rotation_error(Ra: np.ndarray, Rb: np.ndarray) -> np.ndarray:
  """Geodesic angles (N,) radians between rotations (N, 3, 3) (REFERENCE.md)."""
  cos = (np.einsum('nij,nij->n', Ra, Rb) - 1.) / 2.
  return np.arccos(np.clip(cos, -1., 1.))


def accuracy_vs_truth(path: pathlib.Path, truth: pathlib.Path) -> dict[str, dict]:
  """Per class: the bank's fitted rows against the simulator's truth of their frame (matched
  by visible-box IoU ≥ 0.5 within the class): median ground position error (m), median yaw
  error (deg), median rotation error (deg), Acc(π/6), Acc(π/18), median depth error (m)."""
  data = json.loads(truth.read_text())
  by_image = collections.defaultdict(list)
  for ann in data['annotations']:
    by_image[ann['image_id']].append(ann)
  with bank_lib.ObjectBank.open(path) as bank:
    if not len(bank):
      return {}
    rows = bank.read(slice(None), ['frame_index', 'category', 'box', 'fitted', 'rotation',
                                   'ground_pose', 'depth'])
  errors: dict[str, dict[str, list]] = collections.defaultdict(lambda: collections.defaultdict(list))
  for i in np.flatnonzero(rows['fitted']):
    cat = int(rows['category'][i])
    anns = [a for a in by_image.get(int(rows['frame_index'][i]), []) if a['category_id'] == cat]
    if not anns:
      continue
    iou = detection_metrics.box_iou(rows['box'][i][None].astype(np.float64),
                                    np.array([a['bbox'] for a in anns], np.float64))[0]
    best = int(np.argmax(iou))
    if iou[best] < 0.5:
      continue
    ann = anns[best]
    e = errors[Category(cat).name.lower()]
    gp, tp = rows['ground_pose'][i].astype(np.float64), np.asarray(ann['ground_pose'])
    e['position'].append(float(np.hypot(*(gp[:2] - tp[:2]))))
    e['yaw'].append(float(abs(np.angle(np.exp(1j * (gp[2] - tp[2]))))))
    e['rotation'].append(float(_rotation_error(rows['rotation'][i][None].astype(np.float64),
                                               np.asarray(ann['rotation'])[None])[0]))
    e['depth'].append(float(abs(rows['depth'][i] - ann['depth'])))
  out = {}
  for name, e in sorted(errors.items()):
    rot = np.array(e['rotation'])
    out[name] = {
        'matched': len(rot),
        'median_position_m': round(float(np.median(e['position'])), 3),
        'median_yaw_deg': round(float(np.degrees(np.median(e['yaw']))), 2),
        'median_rotation_deg': round(float(np.degrees(np.median(rot))), 2),
        'acc_pi_6': round(float(np.mean(rot < np.pi / 6)), 3),
        'acc_pi_18': round(float(np.mean(rot < np.pi / 18)), 3),
        'median_depth_m': round(float(np.median(e['depth'])), 3),
    }
  return out


# ---- report ------------------------------------------------------------------------------------


def _tile(path: pathlib.Path, row: int, cam: _Camera, size: int) -> np.ndarray:
  """The stored crop of `row`, scaled to fit size × size, with its fit drawn over it."""
  with bank_lib.ObjectBank.open(path) as bank:
    r = bank.read(int(row), ['crop', 'crop_box', 'category', 'rotation', 'translation',
                             'keypoints_3d', 'dimensions', 'track_id'])
  crop = bank_lib.decode_crop(r['crop'])
  x0, y0, w, h = (int(v) for v in r['crop_box'])
  scale = size / max(w, h)
  image = cv2.resize(crop, (max(1, round(w * scale)), max(1, round(h * scale))),
                     interpolation=cv2.INTER_LINEAR)
  # The crop's camera: cv2.resize maps pixel centres as u' = s (u - x0 + 0.5) - 0.5.
  to_tile = np.array([[scale, 0., scale * (0.5 - x0) - 0.5],
                      [0., scale, scale * (0.5 - y0) - 0.5], [0., 0., 1.]])
  K = to_tile @ cam.K.astype(np.float64)
  color = overlays.instance_color(int(r['track_id']))
  if int(r['category']) == int(Category.CAR):
    corners = overlays.box_corners(r['dimensions']) @ r['rotation'].T + r['translation']
    image = overlays.draw_wireframe(image, corners, overlays.BOX_EDGES, K, color)
    image = overlays.draw_wireframe(image, r['keypoints_3d'][:NUM_CAR_KEYPOINTS], CAR_EDGES, K,
                                    (255, 255, 255))
  else:
    image = overlays.draw_wireframe(image, r['keypoints_3d'], person.COCO_SKELETON, K, color, 2)
  canvas = np.full((size, size, 3), 24, np.uint8)
  ih, iw = min(size, image.shape[0]), min(size, image.shape[1])
  canvas[:ih, :iw] = image[:ih, :iw]
  return canvas


def report_headline(summary: dict) -> str:
  """Two or three lines for the report: rows fitted per class, rejections by reason, and the
  accuracy against the simulator's truth when there is one."""
  fitted = ', '.join(f'{name} {c.get("fitted", 0)} of {c.get("rows", 0)} rows fitted'
                     for name, c in summary.get('fitted', {}).items())
  rejected = '; '.join(
      f'{name}: ' + ', '.join(f'{reason} {n}' for reason, n in sorted(reasons.items()))
      for name, reasons in summary.get('rejected', {}).items() if reasons)
  lines = [f'{summary.get("tracks", 0)} tracks: {fitted}',
           f'rejected ({rejected})' if rejected else 'nothing rejected']
  accuracy = summary.get('accuracy_vs_simulator_truth') or {}
  if accuracy:
    lines.append('vs simulator truth: ' + '; '.join(
        f'{name} median position {a["median_position_m"]:.2f} m, yaw {a["median_yaw_deg"]:.1f}°, '
        f'Acc(π/6) {a["acc_pi_6"]:.2f}' for name, a in accuracy.items()
        if 'median_position_m' in a))
  return '\n'.join(lines)


def write_report(out: pathlib.Path, banks: list[tuple[pathlib.Path, list[Fitted], dict, _Camera]],
                 config: ml_collections.ConfigDict, summary: dict) -> None:
  """Fitted wireframes over the crops of a few tracks per class, and a bird's-eye view of all
  fitted tracks' ground positions (colour per track) with headings, one panel per bank."""
  rng = np.random.default_rng(config.seed)
  tiles = []
  for path, fits, rows, cam in banks:
    for cat in (int(Category.CAR), int(Category.PERSON)):
      good = [f for f in fits if f.accepted.any() and int(rows['category'][f.rows[0]]) == cat]
      for k in rng.permutation(len(good))[:config.report.tracks_per_class]:
        f = good[int(k)]
        accepted = f.rows[f.accepted]
        row = int(accepted[len(accepted) // 2])
        tile = _tile(path, row, cam, config.report.tile_size)
        tiles.append(overlays.label(tile, f'{Category(cat).name.lower()} t{int(rows["track_id"][row])}'))
  num_panels = 1 + len(banks)
  fig, axes = plt.subplots(1, num_panels, figsize=(6 * num_panels, 6), squeeze=False)
  axes = axes[0]
  if tiles:
    axes[0].imshow(overlays.grid(tiles, columns=min(4, len(tiles))))
  axes[0].set_title('fits over stored crops (cars: 3D box + keypoints; people: skeleton)')
  axes[0].axis('off')
  for ax, (path, fits, rows, cam) in zip(axes[1:], banks):
    for f in fits:
      if not f.accepted.any():
        continue
      gp = f.columns['ground_pose'][f.accepted]
      tid = int(rows['track_id'][f.rows[0]])
      color = np.array(overlays.instance_color(max(tid, 0))) / 255.
      marker = 'o' if int(rows['category'][f.rows[0]]) == int(Category.CAR) else '^'
      ax.plot(gp[:, 1], gp[:, 0], '-', color=color, lw=1)
      ax.scatter(gp[:, 1], gp[:, 0], color=color, s=8, marker=marker)
      ax.quiver(gp[-1:, 1], gp[-1:, 0], np.sin(gp[-1:, 2]), np.cos(gp[-1:, 2]), color=color,
                angles='xy', scale_units='xy', scale=0.5, width=0.004)
    ax.plot([0], [0], 'k*', ms=10)
    ax.set_xlabel('ground y (m, left of the camera axis)')
    ax.set_ylabel('ground x (m, along the camera axis)')
    ax.invert_xaxis()  # y_g points left: seen from above with the camera at the bottom
    ax.set_aspect('equal', adjustable='datalim')
    ax.set_title(f'{path.parent.name}/{path.name}: bird\'s-eye view (● car, ▲ person; '
                 f'★ camera foot)', fontsize=9)
  fig.suptitle(report_headline(summary), fontsize=8)
  fig.tight_layout()
  out.parent.mkdir(parents=True, exist_ok=True)
  fig.savefig(out, dpi=80)
  plt.close(fig)


# ---- the job -----------------------------------------------------------------------------------


def resolve_banks(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> list[pathlib.Path]:
  """config.banks, else [config.bank], else the bank of the mine job run (or resumed) in
  <workdir>/mine with config.mine."""
  paths = [pathlib.Path(p) for p in config.banks] or (
      [pathlib.Path(config.bank)] if config.bank else [])
  for p in paths:
    if not p.is_file():
      raise FileNotFoundError(f'config.bank(s): no object bank {p}')
  if paths:
    return paths
  mine_dir = workdir / 'mine'
  bank = mine_dir / 'bank.h5'
  if not bank.is_file():
    from walt3d_jax.timelapse import mine  # the source stage; loaded only when needed

    mine.run(config.mine, mine_dir)
  return [bank]


def _sum_counters(dicts: Iterable[dict]) -> dict:
  total = collections.Counter()
  for d in dicts:
    total.update(d)
  return dict(sorted(total.items()))


def run(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> dict:
  """Fits every bank of config (module docstring); writes summary.json and report.png."""
  workdir = pathlib.Path(workdir)
  paths = resolve_banks(config, workdir)
  model = car_model.load_car_model(config.num_components)
  tic = time.perf_counter()
  per_bank, fitted_banks = [], []
  for path in paths:
    summary, fits, rows, cam = fit_bank(path, config, model)
    truth = truth_path(path, config)
    if truth is not None and fits:
      summary['accuracy_vs_simulator_truth'] = accuracy_vs_truth(path, truth)
    per_bank.append(summary)
    if fits:
      fitted_banks.append((path, fits, rows, cam))
  seconds = time.perf_counter() - tic
  classes = collections.defaultdict(collections.Counter)
  for s in per_bank:
    for name, counts in s.get('rows_by_class', {}).items():
      classes[name].update(counts)
  tracks = sum(s['tracks'] for s in per_bank)
  summary = {
      'banks': per_bank,
      'rows': sum(s['rows'] for s in per_bank),
      'tracks': tracks,
      'fitted': {k: dict(v) for k, v in sorted(classes.items())},
      'rejected': {name: _sum_counters(s.get('rejected_by_reason', {}).get(name, {})
                                       for s in per_bank) for name in sorted(classes)},
      'seconds': round(seconds, 2),
      'tracks_per_second': round(tracks / seconds, 1) if seconds > 0 else None,
  }
  if len(per_bank) == 1 and 'accuracy_vs_simulator_truth' in per_bank[0]:
    summary['accuracy_vs_simulator_truth'] = per_bank[0]['accuracy_vs_simulator_truth']
  coco.write_json(summary, workdir / 'summary.json')
  write_report(workdir / 'report.png', fitted_banks, config, summary)
  logging.info('fitted %s of %d rows in %d tracks (%.1f tracks/s)', summary['fitted'],
               summary['rows'], tracks, summary['tracks_per_second'] or 0.)
  return summary
