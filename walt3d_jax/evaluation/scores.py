"""Scores of an evaluated split (`inference.collect`'s records), every one from `walt3d_jax.metrics`.

  detection   amodal AP of boxes and masks (pycocotools), overall, per 10 % occlusion bin, per
              coarse level and over all objects hidden 40 % or more (HEAVY), the `ignore`
              protocol (`metrics.amodal`)
  matching    detections with score >= match_score matched one-to-one to the truth of their
              class by amodal box IoU >= 0.5 (greedy by score, `metrics.detection`): recall
  keypoints   PCK@0.1 of matched objects by visibility state and class (`metrics.keypoints`)
  cars_3d     Acc(π/6), Acc(π/18), median rotation and translation errors of matched cars with
              3D truth and a valid PnP pose (`metrics.pose3d.car_scores`)
  people_3d   MPJPE (root-aligned) and 3D PCK of matched people (`metrics.pose3d.people_scores`)
Everything per occlusion bin too; undefined values are None.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from walt3d_jax.evaluation import inference
from walt3d_jax.metrics import amodal as amodal_metrics
from walt3d_jax.metrics import detection
from walt3d_jax.metrics import keypoints as keypoint_metrics
from walt3d_jax.metrics import pose3d
from walt3d_jax.models import amodal

MATCH_IOU = 0.5
# Objects hidden 40 % or more, pooled: the paper's heavily occluded levels in one bin, so a
# comparison on them does not rest on the few objects of any single level.
HEAVY = amodal_metrics.OcclusionBin("0.4-1.0", 0.4, 1.0, closed=True)
BINS = amodal_metrics.all_bins() + (HEAVY,)
CLASS_NAMES = {amodal.CAR: "car", amodal.PERSON: "person"}
OUTSIDE = amodal.OUTSIDE


def detection_scores(records: Sequence[inference.ImageRecord],
                     iou_types: Sequence[str] = amodal_metrics.IOU_TYPES) -> dict[str, Any]:
  """metrics.amodal.evaluate of the records: {iou_type: {'all', 'bins'}}."""
  truths = [amodal_metrics.ImageTruth(r.truth["amodal_box"], r.truth["category"], r.truth["occlusion"],
                                      r.width, r.height, r.truth["amodal_rle"]) for r in records]
  preds = [amodal_metrics.ImagePredictions(r.detections["amodal_box"], r.detections["score"],
                                           r.detections["category"], r.detections["amodal_rle"]) for r in records]
  return amodal_metrics.evaluate(truths, preds, iou_types, bins=BINS)


def match(record: inference.ImageRecord, match_score: float) -> np.ndarray:
  """(M,) index of the detection matched to each true object of `record`, -1 if none."""
  t, d = record.truth, record.detections
  out = np.full(len(t["category"]), -1, np.int64)
  keep = np.flatnonzero(d["score"] >= match_score)
  for category in np.unique(t["category"]):
    dets = keep[d["category"][keep] == category]
    objs = np.flatnonzero(t["category"] == category)
    if not len(dets) or not len(objs):
      continue
    iou = detection.box_iou(d["amodal_box"][dets], t["amodal_box"][objs])
    matched = detection.greedy_match(iou, d["score"][dets], MATCH_IOU)
    for i, j in enumerate(matched):
      if j >= 0:
        out[objs[j]] = dets[i]
  return out


def matched_pairs(records: Sequence[inference.ImageRecord], match_score: float) -> dict[str, np.ndarray]:
  """Every matched (truth, detection) pair's fields, stacked: truth_<field> and det_<field>."""
  rows: dict[str, list] = {}
  for r in records:
    m = match(r, match_score)
    for j in np.flatnonzero(m >= 0):
      for k, v in r.truth.items():
        if k != "amodal_rle":
          rows.setdefault("truth_" + k, []).append(v[j])
      for k, v in r.detections.items():
        if k != "amodal_rle":
          rows.setdefault("det_" + k, []).append(v[m[j]])
  return {k: np.stack(v) for k, v in rows.items()}


def recall(records: Sequence[inference.ImageRecord], match_score: float) -> dict[str, Any]:
  """Matched fraction of the true objects, overall and per occlusion bin."""
  matched = np.concatenate([match(r, match_score) >= 0 for r in records] or [np.zeros(0, bool)])
  occlusion = np.concatenate([r.truth["occlusion"] for r in records] or [np.zeros(0)])
  cell = lambda rows: {"recall": float(matched[rows].mean()) if rows.any() else None, "objects": int(rows.sum())}
  return {**cell(np.ones(len(matched), bool)),
          "bins": {b.name: cell(b.contains(occlusion)) for b in BINS}}


def keypoint_scores(pairs: dict[str, np.ndarray], alpha: float = 0.1) -> dict[str, Any] | None:
  """PCK@alpha of the matched objects' keypoints (the slots their class uses)."""
  if "truth_keypoints" not in pairs:
    return None
  table = keypoint_metrics.pck(pairs["det_keypoints"], pairs["truth_keypoints"], pairs["truth_keypoint_states"],
                               pairs["truth_amodal_box"], pairs["truth_category"], alpha,
                               occlusion=pairs["truth_occlusion"])
  named = lambda t: {CLASS_NAMES.get(k, k): v for k, v in t.items()}  # JSON keys: all strings
  out = named({k: v for k, v in table.items() if k != "bins"})
  out["bins"] = {b: named(t) for b, t in table["bins"].items()}
  return out


def car_3d_scores(pairs: dict[str, np.ndarray]) -> dict[str, Any] | None:
  """pose3d.car_scores of matched cars with 3D truth (shape_num > 0) and a valid PnP pose."""
  if "det_rotation" not in pairs:
    return None
  rows = (pairs["truth_category"] == amodal.CAR) & (pairs["truth_shape_num"] > 0) & pairs["det_pose_valid"]
  return pose3d.car_scores(pairs["det_rotation"][rows], pairs["truth_rotation"][rows],
                           pairs["det_translation"][rows], pairs["truth_translation"][rows],
                           occlusion=pairs["truth_occlusion"][rows])


def people_3d_scores(pairs: dict[str, np.ndarray]) -> dict[str, Any] | None:
  """pose3d.people_scores of matched people with 3D truth (in front of the camera)."""
  if "det_keypoints_3d" not in pairs:
    return None
  rows = (pairs["truth_category"] == amodal.PERSON) & (pairs["truth_translation"][:, 2] > 0)
  valid = pairs["truth_keypoint_states"][rows] != OUTSIDE
  return pose3d.people_scores(pairs["det_keypoints_3d"][rows], pairs["truth_keypoints_3d"][rows], valid,
                              occlusion=pairs["truth_occlusion"][rows])


def score(records: Sequence[inference.ImageRecord], match_score: float = 0.3) -> dict[str, Any]:
  """Every score of the module docstring, JSON-ready (None where undefined)."""
  pairs = matched_pairs(records, match_score)
  return {
      "images": len(records), "objects": int(sum(len(r.truth["category"]) for r in records)),
      "match_score": match_score, "detection": detection_scores(records),
      "matching": recall(records, match_score), "keypoints": keypoint_scores(pairs),
      "cars_3d": car_3d_scores(pairs), "people_3d": people_3d_scores(pairs),
  }
