"""SORT (Bewley et al. 2016): constant-velocity Kalman filters on boxes, Hungarian IoU matching.

State per track (7,): [cx, cy, s, r, vcx, vcy, vs] with (cx, cy) the box centre in pixels,
s = w * h its area (pixels²), r = w / h its aspect (constant, no velocity); velocities per frame
step. Observations (4,): [cx, cy, s, r]. Noise settings are SORT's.

Offline use on a whole sequence: a track is born (gets an id) once it has been matched in
`min_hits` consecutive frames, and then every detection it took, including the first
`min_hits - 1`, carries its id (online SORT would leave those out). Tracks never confirmed leave
their detections untracked (-1). With min_hits = 1 a lone detection becomes a one-frame track.
A track dies after more than `max_age` frames without a match. A gap of more than
`max_gap_seconds` between consecutive frames (a new burst of a time-lapse) ends every track.
Categories are tracked apart (a car track never takes a person detection); ids are unique over
the sequence.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
from scipy import optimize

from walt3d_jax.metrics import detection as detection_metrics
from walt3d_jax.timelapse.types import FrameDetections
from walt3d_jax.timelapse.types import UNTRACKED

# SORT's Kalman settings (sort.py, KalmanBoxTracker): observation noise R, initial covariance
# P0 (unobserved velocities very uncertain) and process noise Q (slow velocity changes, nearly
# constant area rate).
_R = np.diag([1., 1., 10., 10.])
_P0 = np.diag([10., 10., 10., 10., 1e4, 1e4, 1e4])
_Q = np.diag([1., 1., 1., 1., 1e-2, 1e-2, 1e-4])
_H = np.eye(4, 7)
# Smallest box side used in the state (pixels): keeps s > 0 and r finite for degenerate boxes.
_MIN_SIDE = 1.


@dataclasses.dataclass(frozen=True)
class SortConfig:
  """SORT parameters.

  iou_threshold: least IoU between a detection and a track's predicted box to match them.
  min_hits: consecutive matched frames before a track is born (>= 1; 1 keeps one-frame tracks).
  max_age: frames a track may go unmatched before it dies (>= 0).
  max_gap_seconds: a longer gap between consecutive frames ends all tracks (bursts).
  per_class: track categories separately.
  """

  iou_threshold: float = 0.3
  min_hits: int = 3
  max_age: int = 2
  max_gap_seconds: float = 2.0
  per_class: bool = True

  def __post_init__(self):
    if not 0. <= self.iou_threshold <= 1.:
      raise ValueError(f"SortConfig.iou_threshold must be in [0, 1], got {self.iou_threshold}")
    if int(self.min_hits) != self.min_hits or self.min_hits < 1:
      raise ValueError(f"SortConfig.min_hits must be an int >= 1, got {self.min_hits}")
    if int(self.max_age) != self.max_age or self.max_age < 0:
      raise ValueError(f"SortConfig.max_age must be an int >= 0, got {self.max_age}")
    if not self.max_gap_seconds > 0:
      raise ValueError(f"SortConfig.max_gap_seconds must be > 0, got {self.max_gap_seconds}")


def box_to_observation(boxes: np.ndarray) -> np.ndarray:
  """[cx, cy, s, r] (N, 4) of boxes (N, 4) [x, y, w, h] pixels; sides clamped to >= 1 px."""
  boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
  w = np.maximum(boxes[:, 2], _MIN_SIDE)
  h = np.maximum(boxes[:, 3], _MIN_SIDE)
  return np.stack([boxes[:, 0] + boxes[:, 2] / 2, boxes[:, 1] + boxes[:, 3] / 2, w * h, w / h], axis=1)


def state_to_box(states: np.ndarray) -> np.ndarray:
  """Boxes (N, 4) [x, y, w, h] of Kalman states (N, 7) (or observations (N, 4))."""
  states = np.asarray(states, np.float64)
  s = np.maximum(states[:, 2], _MIN_SIDE**2)
  r = np.maximum(states[:, 3], 1e-6)
  w = np.sqrt(s * r)
  h = s / w
  return np.stack([states[:, 0] - w / 2, states[:, 1] - h / 2, w, h], axis=1)


def _transition(steps: float) -> np.ndarray:
  F = np.eye(7)
  F[0, 4] = F[1, 5] = F[2, 6] = steps
  return F


@dataclasses.dataclass
class _Tracks:
  """The live tracks of one category, batched: x (T, 7), P (T, 7, 7) and bookkeeping (T,)."""

  x: np.ndarray
  P: np.ndarray
  streak: np.ndarray  # consecutive matched frames
  missed: np.ndarray  # frames since the last match
  track_id: np.ndarray  # -1 until born
  members: list  # per track: [(frame position, detection index), ...]

  @classmethod
  def empty(cls) -> _Tracks:
    return cls(np.zeros((0, 7)), np.zeros((0, 7, 7)), np.zeros(0, np.int64), np.zeros(0, np.int64),
               np.zeros(0, np.int64), [])

  def keep(self, alive: np.ndarray) -> None:
    self.x, self.P = self.x[alive], self.P[alive]
    self.streak, self.missed, self.track_id = self.streak[alive], self.missed[alive], self.track_id[alive]
    self.members = [m for m, a in zip(self.members, alive) if a]

  def predict(self) -> None:
    # A shrinking area must not go through zero (SORT zeroes the area rate there).
    bad = self.x[:, 2] + self.x[:, 6] <= 0
    self.x[bad, 6] = 0.
    F = _transition(1.)
    self.x = self.x @ F.T
    self.P = F @ self.P @ F.T + _Q

  def update(self, rows: np.ndarray, z: np.ndarray) -> None:
    """Kalman update of tracks `rows` with observations z (len(rows), 4)."""
    x, P = self.x[rows], self.P[rows]
    S = _H @ P @ _H.T + _R
    K = P @ _H.T @ np.linalg.inv(S)
    innovation = z - x @ _H.T
    self.x[rows] = x + np.einsum("tij,tj->ti", K, innovation)
    self.P[rows] = (np.eye(7) - K @ _H) @ P

  def add(self, z: np.ndarray, members: list) -> None:
    n = len(z)
    x = np.concatenate([z, np.zeros((n, 3))], axis=1)
    self.x = np.concatenate([self.x, x])
    self.P = np.concatenate([self.P, np.broadcast_to(_P0, (n, 7, 7))])
    self.streak = np.concatenate([self.streak, np.ones(n, np.int64)])
    self.missed = np.concatenate([self.missed, np.zeros(n, np.int64)])
    self.track_id = np.concatenate([self.track_id, np.full(n, UNTRACKED, np.int64)])
    self.members += members


def associate(det_boxes: np.ndarray, track_boxes: np.ndarray,
              iou_threshold: float) -> list[tuple[int, int]]:
  """(detection, track) pairs of the max-IoU assignment (Hungarian) with IoU >= iou_threshold."""
  if len(det_boxes) == 0 or len(track_boxes) == 0:
    return []
  iou = detection_metrics.box_iou(det_boxes, track_boxes)
  rows, cols = optimize.linear_sum_assignment(iou, maximize=True)
  return [(int(r), int(c)) for r, c in zip(rows, cols) if iou[r, c] >= iou_threshold and iou[r, c] > 0]


def track(detections: Sequence[FrameDetections], times: Sequence[float] | None = None,
          config: SortConfig = SortConfig()) -> list[FrameDetections]:
  """The detections of consecutive frames with `track_ids` set by SORT (see module docstring).

  detections: per frame, in time order. times: (F,) seconds per frame (None: one continuous
  sequence); a gap > config.max_gap_seconds or a step back in time starts new tracks.
  Returns the same FrameDetections with track ids (>= 1; -1 for detections of unborn tracks).
  """
  if times is not None:
    times = np.asarray(times, np.float64).reshape(-1)
    if times.shape != (len(detections),):
      raise ValueError(f"track: {len(times)} times for {len(detections)} frames")
    if not np.isfinite(times).all():
      raise ValueError("track: times must be finite")
  ids = [np.full(d.num, UNTRACKED, np.int64) for d in detections]
  next_id = 1
  tracks: dict[int, _Tracks] = {}

  def finish(t: _Tracks, rows: np.ndarray) -> None:
    for r in rows:
      if t.track_id[r] >= 0:
        for f, i in t.members[r]:
          ids[f][i] = t.track_id[r]

  for f, dets in enumerate(detections):
    new_burst = times is not None and f > 0 and not 0 <= times[f] - times[f - 1] <= config.max_gap_seconds
    if new_burst:
      for t in tracks.values():
        finish(t, np.arange(len(t.x)))
      tracks = {}
    cats = dets.categories if config.per_class else np.zeros(dets.num, np.int32)
    for cat in sorted(set(cats.tolist()) | set(tracks)):
      t = tracks.setdefault(cat, _Tracks.empty())
      det_idx = np.flatnonzero(cats == cat)
      boxes = dets.boxes[det_idx].astype(np.float64)
      t.predict()
      pairs = associate(boxes, state_to_box(t.x), config.iou_threshold)
      matched_det = np.zeros(len(det_idx), bool)
      matched_trk = np.zeros(len(t.x), bool)
      if pairs:
        d_rows, t_rows = (np.array(a) for a in zip(*pairs))
        t.update(t_rows, box_to_observation(boxes[d_rows]))
        matched_det[d_rows] = matched_trk[t_rows] = True
        for d, r in pairs:
          t.members[r].append((f, int(det_idx[d])))
      t.streak = np.where(matched_trk, t.streak + 1, 0)
      t.missed = np.where(matched_trk, 0, t.missed + 1)
      new = ~matched_det
      t.add(box_to_observation(boxes[new]), [[(f, int(i))] for i in det_idx[new]])
      born = (t.track_id < 0) & (t.streak >= config.min_hits)
      for r in np.flatnonzero(born):
        t.track_id[r] = next_id
        next_id += 1
      dead = t.missed > config.max_age
      finish(t, np.flatnonzero(dead))
      t.keep(~dead)
  for t in tracks.values():
    finish(t, np.arange(len(t.x)))
  return [d.with_track_ids(i) for d, i in zip(detections, ids)]
