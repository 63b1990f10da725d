"""A many-bank fit job killed after its first bank, then rerun: nothing lost, nothing redone.

Three tiny banks (one simulated sequence's truth bank at three occlusion limits; the third
without keypoints, so its cars take the motion fit). Every job runs in a subprocess sharing one
compilation cache: an uninterrupted job on copies gives the reference; a second job is killed
with SIGKILL inside the second bank's write-back, after it wrote garbage over half that bank's
fit columns; its rerun must skip the first bank (marker and file untouched) and leave every
bank as the uninterrupted job did.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tests.clipart.conftest import tiny_sim_config
from walt3d_jax.clipart import truth_bank
from walt3d_jax.fit import completion
from walt3d_jax.sim import simulate
from walt3d_jax.timelapse import bank as bank_lib

ROOT = pathlib.Path(__file__).resolve().parents[2]

# The child: the fit job over a glob; with a kill count, SIGKILL inside that write-back call.
_CHILD = r'''
import json, os, signal, sys
import numpy as np
from experiments import fit as fit_experiment
from walt3d_jax.fit import bank_fit, fit_job
from walt3d_jax.timelapse import bank as bank_lib

pattern, workdir, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
config = fit_experiment.get_config()
config.banks = (pattern,)
config.progress = False
config.max_track_frames, config.min_bucket, config.batch_size = 4, 4, 16
config.pool_tracks = 1  # every bank is its own group: written back and marked one by one
config.report.tracks_per_class, config.report.tile_size = 1, 64
calls = []
write_back = bank_fit.write_back

def killing_write_back(bank, fits):
  calls.append(bank.path)
  if not kill_at or len(calls) < kill_at:
    return write_back(bank, fits)
  half = np.arange(len(bank) // 2)  # a write-back cut short, with garbage in it
  bank.update(half, {'fitted': np.ones(len(half), bool),
                     'depth': np.full(len(half), 99., np.float32)})
  os.kill(os.getpid(), signal.SIGKILL)

bank_fit.write_back = killing_write_back
print(json.dumps(fit_job.run(config, workdir)))
'''

_COMPARED = tuple(bank_lib.FIT_COLUMNS) + ("keypoints", "keypoint_source")


def _job(pattern, workdir, cache, kill_at=0):
  env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_COMPILATION_CACHE_DIR": str(cache),
         "JAX_PLATFORMS": "cpu"}
  return subprocess.run([sys.executable, "-c", _CHILD, str(pattern), str(workdir), str(kill_at)],
                        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def _columns(path):
  with bank_lib.ObjectBank.open(path) as bank:
    return bank.read(slice(None), _COMPARED)


@pytest.fixture(scope="module")
def banks(tmp_path_factory):
  """originals/cam{0,1,2}/bank.h5, fit columns cleared."""
  root = tmp_path_factory.mktemp("resume")
  sim = tiny_sim_config()
  sim.num_bursts, sim.num_cars, sim.num_people = 2, 6, 4
  simulate.simulate_sequence(sim, "intersection", 0, root / "sequence")
  for i, max_occlusion in enumerate((0.0, 0.3, 0.6)):
    path = root / "originals" / f"cam{i}" / "bank.h5"
    path.parent.mkdir(parents=True)
    truth_bank.write_truth_bank(root / "sequence", path, max_occlusion=max_occlusion)
    with bank_lib.ObjectBank.open(path, "a") as bank:
      n = len(bank)
      bank.update(np.arange(n), {"fitted": np.zeros(n, bool)})
      if i == 2:  # no keypoints: cars fitted from motion, keypoints derived
        bank.update(np.arange(n), {"keypoints": np.zeros((n, 17, 3), np.float32)})
  return root


def test_killed_job_reruns_only_unfinished_banks_and_matches_an_uninterrupted_run(banks, tmp_path):
  cache = tmp_path / "jax_cache"
  for name in ("reference", "killed"):
    shutil.copytree(banks / "originals", tmp_path / name)
  ref = _job(tmp_path / "reference" / "cam*" / "bank.h5", tmp_path / "out_ref", cache)
  assert ref.returncode == 0, ref.stderr[-3000:]
  ref_summary = json.loads(ref.stdout.strip().splitlines()[-1])
  assert ref_summary["banks_fitted"] == 3 and ref_summary["banks_skipped_complete"] == 0
  assert ref_summary["banks"][2]["tracks_by_kind"]["motion"] > 0

  killed = tmp_path / "killed"
  paths = [killed / f"cam{i}" / "bank.h5" for i in range(3)]
  first = _job(killed / "cam*" / "bank.h5", tmp_path / "out_killed", cache, kill_at=2)
  assert first.returncode == -9, first.stderr[-3000:]
  assert completion.marker_path(paths[0]).is_file()
  assert not any(completion.marker_path(p).exists() for p in paths[1:])
  assert _columns(paths[1])["depth"].max() == 99.  # the garbage is there
  stamps = [os.stat(p).st_mtime_ns for p in (paths[0], completion.marker_path(paths[0]))]

  rerun = _job(killed / "cam*" / "bank.h5", tmp_path / "out_rerun", cache)
  assert rerun.returncode == 0, rerun.stderr[-3000:]
  summary = json.loads(rerun.stdout.strip().splitlines()[-1])
  assert summary["banks_skipped_complete"] == 1 and summary["banks_fitted"] == 2
  assert summary["banks"][0]["resumed"] and "resumed" not in summary["banks"][1]
  assert summary["tracks_fitted"] == sum(b["tracks"] for b in summary["banks"][1:])
  # The finished bank was not refitted: neither it nor its marker was written again.
  assert [os.stat(p).st_mtime_ns for p in (paths[0], completion.marker_path(paths[0]))] == stamps
  for key in ("rows", "tracks", "fitted", "rejected"):
    assert summary[key] == ref_summary[key], key
  for i, path in enumerate(paths):
    got, want = _columns(path), _columns(tmp_path / "reference" / f"cam{i}" / "bank.h5")
    for name in _COMPARED:
      np.testing.assert_array_equal(got[name], want[name], err_msg=f"cam{i} {name}")
  assert all(completion.marker_path(p).is_file() for p in paths)


def test_marker_matches_only_the_same_settings_and_an_untouched_bank(tmp_path):
  bank = tmp_path / "bank.h5"
  bank.write_bytes(b"rows")
  assert completion.completed(bank, "abc") is None
  completion.mark_complete(bank, "abc", {"rows": 4})
  assert completion.completed(bank, "abc") == {"rows": 4}
  assert completion.completed(bank, "abd") is None  # other fit settings
  assert sorted(p.name for p in tmp_path.iterdir()) == ["bank.h5", "bank.h5.fit_complete.json"]
  bank.write_bytes(b"rows and more")  # mined further since
  assert completion.completed(bank, "abc") is None
  completion.mark_complete(bank, "abc", {})
  completion.clear(bank)
  assert completion.completed(bank, "abc") is None and not completion.marker_path(bank).exists()


def test_settings_digest_follows_fit_settings_not_batching():
  from experiments import fit as fit_experiment
  from walt3d_jax.fit import fit_job

  config = fit_experiment.get_config()
  digest = fit_job.settings_digest(config)
  config.batch_size, config.pool_tracks, config.progress = 8, 1, False
  assert fit_job.settings_digest(config) == digest
  config.fit.maxiter = 5
  assert fit_job.settings_digest(config) != digest
