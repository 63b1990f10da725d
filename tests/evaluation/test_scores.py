"""evaluation.scores and report on records whose answers are known: detections copied from the
truth score 1, detections moved off it score 0, and nothing crashes on an empty image."""

import copy

import numpy as np
import pytest

from tests.evaluation.records import oracle
from tests.train import batches
from walt3d_jax.evaluation import inference
from walt3d_jax.evaluation import report
from walt3d_jax.evaluation import scores
from walt3d_jax.models import amodal


def test_detections_equal_to_the_truth_score_one(truth_records):
  s = scores.score(oracle(truth_records))
  assert s["detection"]["bbox"]["all"]["AP"] == pytest.approx(1.0)
  assert s["detection"]["segm"]["all"]["AP"] == pytest.approx(1.0)
  assert s["matching"]["recall"] == 1.0
  assert s["keypoints"]["all"]["all"]["pck"] == 1.0
  if s["cars_3d"]["num_objects"]:
    assert s["cars_3d"]["acc_pi_18"] == 1.0 and s["cars_3d"]["median_translation_error"] == pytest.approx(0, abs=1e-6)
  if s["people_3d"]["num_objects"]:
    assert s["people_3d"]["mpjpe_mm"] == pytest.approx(0, abs=1e-3)


def test_keypoints_moved_beyond_the_radius_score_zero(truth_records):
  # Boxes stay (shift only the keypoints): every object still matches, no keypoint is correct.
  records = oracle(truth_records)
  for r in records:
    r.detections["keypoints"] = r.detections["keypoints"] + 0.2 * max(batches.WIDTH, batches.HEIGHT)
  s = scores.score(records)
  assert s["matching"]["recall"] == 1.0
  assert s["keypoints"]["all"]["all"]["pck"] == 0.0


def test_low_scores_and_wrong_classes_do_not_match(truth_records):
  low = scores.score(oracle(truth_records, score=0.1), match_score=0.3)
  assert low["matching"]["recall"] == 0.0 and low["keypoints"] is None
  assert low["detection"]["bbox"]["all"]["AP"] == pytest.approx(1.0)  # AP ranks, it has no threshold
  swapped = oracle(truth_records)
  for r in swapped:
    r.detections["category"] = np.where(r.truth["category"] == amodal.CAR, amodal.PERSON, amodal.CAR)
  assert scores.score(swapped)["matching"]["recall"] == 0.0


def test_no_detections_give_zero_and_a_report(truth_records, tmp_path):
  empty = copy.deepcopy(oracle(truth_records))
  for r in empty:
    r.detections = {k: v[:0] for k, v in r.detections.items()}
  s = scores.score(empty)
  assert s["detection"]["bbox"]["all"]["AP"] == 0.0 and s["matching"]["recall"] == 0.0
  assert s["keypoints"] is s["cars_3d"] is s["people_3d"] is None
  path = report.write_report(tmp_path, s, empty, "empty", {"model": "none"})
  assert "| all |" in path.read_text() and (tmp_path / "ap_by_occlusion.png").stat().st_size > 0


def test_collect_runs_a_model_over_a_source():
  model = amodal.create("tiny", 0)
  records = inference.collect(model, batches.source(3, seed=5), (batches.WIDTH, batches.HEIGHT), batch_size=2,
                              max_objects=batches.MAX_OBJECTS, max_detections=4, with_3d=False, min_score=0.0,
                              keep_images=1)
  assert len(records) == 3 and records[0].picture is not None and records[1].picture is None
  assert all(len(r.detections["score"]) == 4 == len(r.detections["amodal_rle"]) for r in records)
  assert "rotation" not in records[0].detections
  tile = report.prediction_tile(records[0])
  assert tile.shape[0] == batches.HEIGHT + 4 and tile.dtype == np.uint8  # grid padding 2 each side
