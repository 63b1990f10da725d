"""Multi-object tracking scores: CLEAR MOT (Bernardin & Stiefelhagen 2008) and IDF1 (Ristani et
al. 2016), with the matching rules of py-motmetrics.

Per frame, a ground-truth object and a hypothesis may correspond when their similarity (box IoU)
is >= iou_threshold. CLEAR MOT keeps last frame's correspondences while they stay valid, then
completes the matching with the Hungarian algorithm (maximum similarity); a ground-truth object
matched to a different hypothesis id than at its previous match is an identity switch.
MOTA = 1 - (FN + FP + IDSW) / number of ground-truth boxes (can be negative).

IDF1 matches whole trajectories once: a ground-truth trajectory g and a hypothesis trajectory h
agree on the frames where both exist and correspond; the one-to-one assignment of trajectories
that maximises the agreeing frames (IDTP) is exactly Ristani's minimum-cost bipartite matching
(cost IDFN + IDFP with unmatched trajectories paid in full). IDF1 = 2 IDTP / (#gt + #hyp boxes).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np
from scipy import optimize

from walt3d_jax.metrics import detection

# Cost of an invalid pair in the Hungarian step: above any 1 - similarity of a valid one, so the
# solver never trades a valid match for it; such pairs are dropped after solving.
_INVALID_COST = 1e6


@dataclasses.dataclass(frozen=True)
class MotFrame:
  """One frame for scoring: truth ids (M,), hypothesis ids (N,), similarity (M, N) (IoU;
  NaN = may not correspond)."""

  gt_ids: np.ndarray
  hyp_ids: np.ndarray
  similarity: np.ndarray


@dataclasses.dataclass(frozen=True)
class MotScores:
  """Totals over a sequence. num_gt, num_hyp: boxes; matches include switched ones;
  motp: mean similarity (IoU) of matches; id_*: Ristani's identity counts."""

  num_frames: int
  num_gt: int
  num_hyp: int
  matches: int
  fn: int
  fp: int
  id_switches: int
  motp: float
  idtp: int
  idfp: int
  idfn: int
  num_gt_tracks: int
  num_hyp_tracks: int

  @property
  def mota(self) -> float:
    """1 - (FN + FP + IDSW) / num_gt; for an empty truth, the limit: 1 without false positives,
    -inf with some."""
    if self.num_gt == 0:
      return 1. if self.fp == 0 else float("-inf")
    return 1. - (self.fn + self.fp + self.id_switches) / self.num_gt

  @property
  def idf1(self) -> float:
    """2 IDTP / (2 IDTP + IDFP + IDFN); 1 when both truth and hypotheses are empty."""
    denom = 2 * self.idtp + self.idfp + self.idfn
    return 2 * self.idtp / denom if denom else 1.

  @property
  def idp(self) -> float:
    """Identity precision IDTP / (IDTP + IDFP)."""
    return self.idtp / (self.idtp + self.idfp) if self.idtp + self.idfp else 1.

  @property
  def idr(self) -> float:
    """Identity recall IDTP / (IDTP + IDFN)."""
    return self.idtp / (self.idtp + self.idfn) if self.idtp + self.idfn else 1.


def pooled(scores: Sequence[MotScores]) -> MotScores:
  """The scores of several sequences taken together, as MOTChallenge reports a benchmark: counts
  summed (so MOTA is all errors over all truth boxes, not a mean of the sequences' MOTAs), MOTP
  weighted by matches. The same as scoring the sequences one after another with ids kept apart."""
  scores = list(scores)
  if not scores:
    raise ValueError("pooled: no scores to pool")
  total = {f.name: sum(getattr(s, f.name) for s in scores) for f in dataclasses.fields(MotScores) if f.name != "motp"}
  matched = sum(s.matches * s.motp for s in scores if s.matches)
  return MotScores(motp=matched / total["matches"] if total["matches"] else float("nan"), **total)


def _check(frame: MotFrame, index: int, iou_threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  gt = np.asarray(frame.gt_ids).reshape(-1)
  hyp = np.asarray(frame.hyp_ids).reshape(-1)
  sim = np.asarray(frame.similarity, np.float64).reshape(len(gt), len(hyp))
  if len(set(gt.tolist())) != len(gt) or len(set(hyp.tolist())) != len(hyp):
    raise ValueError(f"frame {index}: ids must be unique within a frame (gt {gt}, hyp {hyp})")
  valid = np.isfinite(sim) & (sim >= iou_threshold)
  return gt, hyp, np.where(valid, sim, np.nan)


def clear_mot(frames: Sequence[MotFrame], iou_threshold: float = 0.5) -> MotScores:
  """CLEAR MOT and identity scores of a sequence of frames (see module docstring)."""
  last_match: dict[Any, Any] = {}  # gt id -> hypothesis id at its most recent match
  active: dict[Any, Any] = {}  # gt id -> hypothesis id matched in the previous frame
  num_gt = num_hyp = matches = switches = 0
  sim_sum = 0.
  pair_tp: dict[tuple[Any, Any], int] = {}
  gt_len: dict[Any, int] = {}
  hyp_len: dict[Any, int] = {}
  for index, frame in enumerate(frames):
    gt, hyp, sim = _check(frame, index, iou_threshold)
    num_gt += len(gt)
    num_hyp += len(hyp)
    for g in gt.tolist():
      gt_len[g] = gt_len.get(g, 0) + 1
    for h in hyp.tolist():
      hyp_len[h] = hyp_len.get(h, 0) + 1
    # IDF1's agreement counts every valid pair, independently of the per-frame matching.
    for i, j in zip(*np.nonzero(np.isfinite(sim))):
      key = (gt[i].item(), hyp[j].item())
      pair_tp[key] = pair_tp.get(key, 0) + 1

    free_gt = np.ones(len(gt), bool)
    free_hyp = np.ones(len(hyp), bool)
    pairs: list[tuple[int, int]] = []
    hyp_index = {h: j for j, h in enumerate(hyp.tolist())}
    for i, g in enumerate(gt.tolist()):  # keep last frame's correspondences that stay valid
      j = hyp_index.get(active[g]) if g in active else None
      if j is not None and np.isfinite(sim[i, j]):
        pairs.append((i, j))
        free_gt[i] = free_hyp[j] = False
    rows, cols = np.flatnonzero(free_gt), np.flatnonzero(free_hyp)
    if rows.size and cols.size:
      sub = sim[np.ix_(rows, cols)]
      cost = np.where(np.isfinite(sub), 1. - np.nan_to_num(sub), _INVALID_COST)
      for r, c in zip(*optimize.linear_sum_assignment(cost)):
        if np.isfinite(sub[r, c]):
          pairs.append((int(rows[r]), int(cols[c])))
    active = {}
    for i, j in pairs:
      g, h = gt[i].item(), hyp[j].item()
      if g in last_match and last_match[g] != h:
        switches += 1
      last_match[g] = active[g] = h
      sim_sum += sim[i, j]
    matches += len(pairs)

  gt_tracks, hyp_tracks = sorted(gt_len, key=str), sorted(hyp_len, key=str)
  idtp = 0
  if pair_tp:
    gi = {g: k for k, g in enumerate(gt_tracks)}
    hi = {h: k for k, h in enumerate(hyp_tracks)}
    agree = np.zeros((len(gt_tracks), len(hyp_tracks)))
    for (g, h), count in pair_tp.items():
      agree[gi[g], hi[h]] = count
    rows, cols = optimize.linear_sum_assignment(agree, maximize=True)
    idtp = int(agree[rows, cols].sum())
  return MotScores(
      num_frames=len(frames), num_gt=num_gt, num_hyp=num_hyp, matches=matches,
      fn=num_gt - matches, fp=num_hyp - matches, id_switches=switches,
      motp=sim_sum / matches if matches else float("nan"), idtp=idtp, idfp=num_hyp - idtp,
      idfn=num_gt - idtp, num_gt_tracks=len(gt_tracks), num_hyp_tracks=len(hyp_tracks))


def evaluate_tracking(truth: Sequence[Any], hypotheses: Sequence[Any], iou_threshold: float = 0.5,
                      category: int | None = None) -> MotScores:
  """MOT scores of tracked detections against tracked truth, frame by frame (same order).

  truth, hypotheses: per frame, objects with `boxes` (N, 4) xywh, `track_ids` (N,),
    `categories` (N,) (e.g. `timelapse.types.FrameDetections`); hypotheses with track id -1
    (untracked) are left out, as trackers report only confirmed tracks.
  category: score one category only (both sides filtered); None matches across categories.
  """
  if len(truth) != len(hypotheses):
    raise ValueError(f"evaluate_tracking: {len(truth)} truth frames vs {len(hypotheses)} hypothesis frames")
  frames = []
  for index, (t, h) in enumerate(zip(truth, hypotheses)):
    t_keep = np.ones(len(t.track_ids), bool) if category is None else np.asarray(t.categories) == category
    h_keep = np.asarray(h.track_ids) >= 0
    if category is not None:
      h_keep &= np.asarray(h.categories) == category
    t_ids = np.asarray(t.track_ids)[t_keep]
    if (t_ids < 0).any():
      raise ValueError(f"evaluate_tracking: truth frame {index} has untracked objects (track id -1)")
    sim = detection.box_iou(np.asarray(t.boxes).reshape(-1, 4)[t_keep], np.asarray(h.boxes).reshape(-1, 4)[h_keep])
    frames.append(MotFrame(t_ids, np.asarray(h.track_ids)[h_keep], sim))
  return clear_mot(frames, iou_threshold)
