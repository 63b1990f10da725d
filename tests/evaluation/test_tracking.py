"""evaluation.tracking on a tiny simulated sequence: the truth's sequence is consistent, the truth
tracked by SORT scores 1, known damage to it costs exactly what CLEAR MOT and IDF1 say, and an
untrained model runs through detection, tracking and scoring."""

import dataclasses
import json

import numpy as np
import pytest

from walt3d_jax.evaluation import tracking
from walt3d_jax.timelapse import track as sort

SIZE = (160, 90)
# Objects this small or smaller at 160x90 (a 2x6 px person in a group of three) are swapped
# by SORT even with perfect boxes; above it the truth tracks perfectly (oracle_scores shows
# what SORT loses in general).
MIN_VISIBLE = 10
SORT = sort.SortConfig(min_hits=1)


@pytest.fixture(scope="module")
def frames() -> list[tracking.SequenceFrame]:
  return tracking.sequence("intersection", 1000, SIZE, num_bursts=1, frames_per_burst=6)


def untracked(detections):
  return [d.with_track_ids(np.full(d.num, -1)) for d in detections]


def test_sequence_is_consecutive_frames_with_consistent_truth(frames):
  assert len(frames) == 6
  np.testing.assert_allclose(np.diff(tracking.frame_times(frames)), 0.1, atol=1e-6)  # 10 fps
  assert [f.index for f in frames] == list(range(6)) and {f.burst for f in frames} == {0}
  for f in frames:
    assert f.image.shape == (90, 160, 3) and f.image.dtype == np.uint8
    assert f.K.shape == (3, 3) and f.plane.shape == (4,)
    assert len(set(f.track_ids.tolist())) == len(f.track_ids) > 0
    assert set(f.categories.tolist()) <= {1, 2}
    seen = f.visible_area > 0
    a, v = f.amodal_boxes[seen], f.visible_boxes[seen]
    assert (a[:, :2] <= v[:, :2]).all() and (v[:, :2] + v[:, 2:] <= a[:, :2] + a[:, 2:]).all()
    assert (a[:, 0] >= 0).all() and (a[:, 0] + a[:, 2] <= 160).all() and (a[:, 1] + a[:, 3] <= 90).all()
    np.testing.assert_allclose(f.occlusion[~seen], 1.0)
  persisting = 0
  for f, g in zip(frames, frames[1:]):  # an agent keeps its id and moves little in 0.1 s
    for i, tid in enumerate(f.track_ids):
      j = np.flatnonzero(g.track_ids == tid)
      if j.size:
        persisting += 1
        assert g.categories[j[0]] == f.categories[i]
        centre = lambda b: b[:2] + b[2:] / 2
        assert np.abs(centre(g.amodal_boxes[j[0]]) - centre(f.amodal_boxes[i])).max() < 8
  assert persisting >= 5 * 8


def test_truth_with_its_own_ids_scores_one(frames):
  truth = tracking.truth_detections(frames)
  result = tracking.score_tracks(truth, truth)
  for group in ("overall", "car", "person"):
    assert result[group]["mota"] == 1.0 and result[group]["idf1"] == 1.0 and result[group]["motp"] == 1.0
  assert result["overall"]["num_gt"] == sum(int((f.visible_area > 0).sum()) for f in frames)
  assert result["overall"]["num_gt"] == result["car"]["num_gt"] + result["person"]["num_gt"]


def test_truth_tracked_by_sort_scores_one(frames):
  result = tracking.oracle_scores(frames, SORT, min_visible_pixels=MIN_VISIBLE)
  overall = result["overall"]
  assert overall["mota"] == 1.0 and overall["idf1"] == 1.0
  assert overall["fp"] == overall["fn"] == overall["id_switches"] == 0
  assert overall["num_hyp_tracks"] == overall["num_gt_tracks"] > 5
  json.dumps(result, allow_nan=False)
  # SORT's default warm-up (min_hits 3, offline: ids given back to the first hits) loses
  # nothing on tracks of 3+ frames and makes no false positive.
  assert tracking.oracle_scores(frames, sort.SortConfig(), min_visible_pixels=MIN_VISIBLE)["overall"]["fp"] == 0


def test_dropped_and_shifted_detections_cost_the_expected_amounts(frames):
  truth = tracking.truth_detections(frames, min_visible_pixels=MIN_VISIBLE)
  num_gt = sum(d.num for d in truth)
  car_ids = [t for t in truth[0].track_ids[truth[0].categories == 1] if all(t in d.track_ids for d in truth)]
  dropped, shifted = int(car_ids[0]), int(car_ids[1])

  # One detection missing mid-track: one FN; SORT coasts over the gap (max_age 2), no switch.
  hyp = untracked(truth)
  hyp[2] = hyp[2].select(truth[2].track_ids != dropped)
  r = tracking.evaluate_detections(frames, hyp, SORT, min_visible_pixels=MIN_VISIBLE)["overall"]
  assert (r["fn"], r["fp"], r["id_switches"]) == (1, 0, 0)
  assert r["mota"] == pytest.approx(1 - 1 / num_gt)
  assert r["idf1"] == pytest.approx(2 * (num_gt - 1) / (2 * num_gt - 1))

  # One whole track moved off its object: L misses and L false positives (one hypothesis track).
  def shift(d):
    boxes = d.boxes.copy()
    boxes[d.track_ids == shifted, 0] += 500
    return dataclasses.replace(d, boxes=boxes)

  length = len(frames)
  r = tracking.evaluate_detections(frames, untracked([shift(d) for d in truth]), SORT,
                                   min_visible_pixels=MIN_VISIBLE)["overall"]
  assert (r["fn"], r["fp"], r["id_switches"]) == (length, length, 0)
  assert r["mota"] == pytest.approx(1 - 2 * length / num_gt)
  assert r["idf1"] == pytest.approx(2 * (num_gt - length) / (2 * num_gt))


def test_bursts_and_scenes_are_never_linked(frames):
  # The last three frames an hour later: a new burst, so SORT must restart every track.
  later = [dataclasses.replace(f, time=f.time + 3600., burst=1) if f.index >= 3 else f for f in frames]
  truth = tracking.truth_detections(later, min_visible_pixels=MIN_VISIBLE)
  tracked = tracking.track_detections(later, untracked(truth), SORT)
  before = set(np.concatenate([d.track_ids for d in tracked[:3]]).tolist())
  after = set(np.concatenate([d.track_ids for d in tracked[3:]]).tolist())
  assert before and after and not before & after and -1 not in before | after
  crossing = len(set(truth[2].track_ids.tolist()) & set(truth[3].track_ids.tolist()))
  r = tracking.evaluate_detections(later, untracked(truth), SORT, min_visible_pixels=MIN_VISIBLE)
  assert r["overall"]["id_switches"] == crossing > 0 and r["num_bursts"] == 2

  # Two scenes with the same agent ids: each tracked alone, ids kept apart.
  other = [dataclasses.replace(f, scene="copy") for f in frames]
  both = list(frames) + other
  r = tracking.oracle_scores(both, SORT, min_visible_pixels=MIN_VISIBLE)
  one = tracking.oracle_scores(frames, SORT, min_visible_pixels=MIN_VISIBLE)
  assert r["num_scenes"] == 2 and r["overall"]["mota"] == 1.0 and r["overall"]["idf1"] == 1.0
  assert r["overall"]["num_gt_tracks"] == 2 * one["overall"]["num_gt_tracks"]
  assert r["overall"]["num_hyp_tracks"] == 2 * one["overall"]["num_hyp_tracks"]


def test_decoded_boxes_are_mapped_to_frame_pixels():
  k = 3
  det = {"score": np.array([0.9, 0.2, 0.5], np.float32), "category": np.array([1, 2, 2]),
         "amodal_box": np.array([[4, 8, 16, 8], [0, 0, 1, 1], [10, 10, 2, 2]], np.float32),
         "visible_box": np.array([[4, 8, 8, 8], [0, 0, 1, 1], [10, 10, -1, 2]], np.float32),
         "visible_mask": np.zeros((k, 48, 64), bool), "keypoints": np.zeros((k, 17, 2), np.float32),
         "keypoint_score": np.ones((k, 17), np.float32)}
  det["visible_mask"][0, 8:16, 4:12] = True
  out = tracking.to_frame_detections(det, 7, (160, 96), (64, 48), 0.3, "amodal")
  np.testing.assert_allclose(out.boxes, [[10, 16, 40, 16], [25, 20, 5, 4]])
  assert out.image_id == 7 and out.categories.tolist() == [1, 2] and (out.track_ids == -1).all()
  assert out.masks[0]["size"] == [96, 160]
  np.testing.assert_allclose(out.keypoints[0, 0], [0.75, 0.5, 1.0])  # pixel centres at integers
  visible = tracking.to_frame_detections(det, 7, (160, 96), (64, 48), 0.3, "visible")
  np.testing.assert_allclose(visible.boxes, [[10, 16, 20, 16], [25, 20, 0, 4]])  # crossed sides: w 0


def test_untrained_model_runs_end_to_end(frames):
  from walt3d_jax.models import amodal

  model = amodal.create("tiny", 0)
  meta = {"model": {"image_size": [64, 48], "max_detections": 8, "variant": "tiny"}}  # resized input
  detections = tracking.detect_sequence(model, meta, frames, score_threshold=0.0, max_detections=8, batch_size=4)
  assert len(detections) == len(frames)
  for d, f in zip(detections, frames):
    assert d.num == 8 and d.image_id == f.index and (d.track_ids == -1).all()
    assert (d.boxes[:, 0] >= 0).all() and (d.boxes[:, 0] + d.boxes[:, 2] <= 160 + 1e-3).all()
    assert (d.boxes[:, 1] + d.boxes[:, 3] <= 90 + 1e-3).all()
  result = tracking.track_scores(model, meta, frames, score_threshold=0.0, max_detections=8, batch_size=4)
  json.dumps(result, allow_nan=False)
  assert set(result) >= {"overall", "car", "person", "num_frames", "sort", "score_threshold"}
  assert set(result["overall"]) == set(tracking.SCORE_KEYS)
  assert result["overall"]["num_gt"] == sum(int((f.visible_area > 0).sum()) for f in frames)
  assert result["num_detections"] == 8 * len(frames)
