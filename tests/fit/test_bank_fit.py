"""The `fit` job on a tiny mined bank: 3D written back, no NaN, near the simulator's truth."""

import json
import shutil

import numpy as np
import pytest

from experiments import fit as fit_experiment
from walt3d_jax import errors
from walt3d_jax.fit import bank_fit
from walt3d_jax.fit import fit_job
from walt3d_jax.fit import quality
from walt3d_jax.formats.coco import Category
from walt3d_jax.timelapse import bank as bank_lib
from walt3d_jax.timelapse import mine
from tests.timelapse.test_mine import tiny_config


def _fit_config(bank):
  config = fit_experiment.get_config()
  config.bank = str(bank)
  config.progress = False
  # One padded length and one batch shape: the vehicle fit compiles once (≈ 25 s on 2 cores).
  config.max_track_frames = 8
  config.min_bucket = 8
  config.batch_size = 16
  config.report.tracks_per_class = 2
  config.report.tile_size = 96
  return config


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
  root = tmp_path_factory.mktemp("fit")
  mine_config = tiny_config()
  mine_config.source.simulate.num_people = 14  # enough walkers that some are mined unoccluded
  mine.run(mine_config, root / "mine")
  summary = bank_fit.run(_fit_config(root / "mine" / "bank.h5"), root / "out")
  return root, summary


def _all_rows(path):
  with bank_lib.ObjectBank.open(path) as bank:
    return bank.read(slice(None), ["category", "keypoints", "keypoint_source", "box"]
                     + list(bank_lib.FIT_COLUMNS))


def test_fit_writes_accepted_rows_and_flags_the_rest(fitted):
  root, summary = fitted
  rows = _all_rows(root / "mine" / "bank.h5")
  n = len(rows["fitted"])
  assert summary["rows"] == n and summary["tracks"] > 0
  for name in bank_lib.FIT_COLUMNS:
    assert np.all(np.isfinite(np.asarray(rows[name], np.float64))), name
  ok = rows["fitted"]
  assert ok.sum() >= n // 2
  fitted_by_class = {k: v["fitted"] for k, v in summary["fitted"].items()}
  assert fitted_by_class["car"] == int((ok & (rows["category"] == Category.CAR)).sum())
  # Accepted: proper rotations, in front of the camera, upright on the plane.
  R = rows["rotation"][ok].astype(np.float64)
  np.testing.assert_allclose(np.linalg.det(R), 1., atol=1e-4)
  assert np.all(rows["depth"][ok] > 0.) and np.all(rows["translation"][ok][:, 2] > 0.)
  assert np.all(rows["dimensions"][ok] > 0.)
  cars = ok & (rows["category"] == Category.CAR)
  assert np.all(rows["shape_num"][cars] == 5)
  # Rejected rows: zeros and a reason; their reasons are counted in the summary.
  bad = ~ok
  assert np.all(rows["rotation"][bad] == 0.) and np.all(rows["fit_flags"][bad] != 0)
  counted = sum(sum(v.values()) for v in summary["rejected"].values())
  assert counted >= bad.sum()
  for flags in rows["fit_flags"][bad]:
    assert quality.reason_names(int(flags))
  assert json.loads((root / "out" / "summary.json").read_text())["rows"] == n
  assert (root / "out" / "report.png").stat().st_size > 10_000


def test_fits_are_near_the_simulator_truth(fitted):
  _, summary = fitted
  acc = summary["accuracy_vs_simulator_truth"]
  # 320×180 frames: a pixel is ≈ 0.1 m at 15 m; measured 0.12-0.26 m (cars), 0.13-0.23 m
  # (people).
  assert acc["car"]["matched"] >= 10
  assert acc["car"]["median_position_m"] < 0.6
  assert acc["car"]["acc_pi_6"] >= 0.8
  assert acc["person"]["matched"] >= 2
  assert acc["person"]["median_position_m"] < 0.5


def test_cars_without_keypoints_fit_from_motion_with_derived_keypoints(fitted, tmp_path):
  root, _ = fitted
  bank_path = tmp_path / "bank.h5"
  shutil.copy(root / "mine" / "bank.h5", bank_path)
  with bank_lib.ObjectBank.open(bank_path, "a") as bank:
    num = len(bank)
    bank.update(np.arange(num), {"keypoints": np.zeros((num, 17, 3), np.float32)})
  config = _fit_config(bank_path)
  # The copy has no summary.json beside it: name the truth.
  config.truth = str(root / "mine" / "source" / "intersection" / "ground_truth.json")
  summary = bank_fit.run(config, tmp_path / "out")
  assert summary["banks"][0]["tracks_by_kind"]["keypoints"] == 0
  assert summary["banks"][0]["tracks_by_kind"]["motion"] > 0
  rows = _all_rows(bank_path)
  cars = rows["category"] == Category.CAR
  ok = rows["fitted"]
  assert (ok & cars).any()
  # Accepted keypoint-free rows get projected keypoints marked derived; the rest keep zeros.
  assert np.all(rows["keypoint_source"][ok] == bank_lib.KeypointSource.DERIVED)
  assert np.all(rows["keypoints"][ok & cars][:, :12, 2].sum(-1) > 0)
  assert np.all(rows["keypoint_source"][~ok] == bank_lib.KeypointSource.DETECTED)
  assert np.all(rows["shape"][ok & cars] == 0.)
  for name in bank_lib.FIT_COLUMNS:
    assert np.all(np.isfinite(np.asarray(rows[name], np.float64))), name
  # Parked cars have no heading: rejected with NO_MOTION, never written.
  parked = cars & ((rows["fit_flags"] & quality.NO_MOTION) != 0)
  assert not (parked & ok).any()
  assert summary["accuracy_vs_simulator_truth"]["car"]["median_position_m"] < 1.5


def test_missing_bank_is_a_clear_error(tmp_path):
  config = _fit_config(tmp_path / "nope.h5")
  with pytest.raises(fit_job.NoBanksError, match="config.bank: no object bank"):
    bank_fit.run(config, tmp_path / "out")


def test_banks_glob_is_sorted_deduplicated_and_an_empty_match_is_a_user_error(tmp_path):
  for name in ("b", "a", "c"):
    (tmp_path / name).mkdir()
    (tmp_path / name / "bank.h5").write_bytes(b"")
  config = _fit_config("")
  config.banks = (str(tmp_path / "*" / "bank.h5"), str(tmp_path / "a" / "bank.h5"))
  assert fit_job.resolve_banks(config, tmp_path) == [tmp_path / n / "bank.h5" for n in "abc"]
  config.banks = (str(tmp_path / "nothing*" / "bank.h5"),)
  with pytest.raises(errors.UserError, match=r"config.banks: no object bank matches .*nothing\*"):
    fit_job.resolve_banks(config, tmp_path)


def test_report_headline_reads_counts_reasons_and_accuracy():
  summary = {'tracks': 59, 'fitted': {'car': {'rows': 504, 'fitted': 486},
                                      'person': {'rows': 143, 'fitted': 143}},
             'rejected': {'car': {'degenerate': 7, 'few_keypoints': 10}, 'person': {}},
             'accuracy_vs_simulator_truth': {
                 'car': {'median_position_m': 0.076, 'median_yaw_deg': 0.74, 'acc_pi_6': 1.0},
                 'person': {'matched': 0}}}
  lines = bank_fit.report_headline(summary).split('\n')
  assert lines[0] == '59 tracks: car 486 of 504 rows fitted, person 143 of 143 rows fitted'
  assert lines[1] == 'rejected (car: degenerate 7, few_keypoints 10)'
  assert lines[2] == ('vs simulator truth: car median position 0.08 m, yaw 0.7°, '
                      'Acc(π/6) 1.00')
  assert bank_fit.report_headline({'tracks': 0}) == '0 tracks: \nnothing rejected'
