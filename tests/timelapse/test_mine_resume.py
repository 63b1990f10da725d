"""The mine job killed with SIGKILL at seeded random points, rerun until done: same bytes.

Every job is a subprocess on one tiny simulated sequence (its imitated detections, the shipped
occlusion classifier), sharing a compilation cache. The child counts events: frames read by
any pass, bank appends and atomic file writes; with a kill count it SIGKILLs itself at that
event (a file write is cut after half its bytes went to the temporary file). An uninterrupted
job gives the reference; then, in the same workdir path, a chain of jobs each killed at a seeded
random event, one killed inside the bank's write, and a last one left to finish. bank.h5 and report.png must equal the reference's
byte for byte, summary.json too except its `seconds`.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

from experiments import simulate as simulate_config
from walt3d_jax.sim import simulate
from walt3d_jax.timelapse import mine_state

ROOT = pathlib.Path(__file__).resolve().parents[2]

_CHILD = r'''
import json, os, signal, sys
from experiments import mine as mine_experiment
from walt3d_jax.timelapse import bank as bank_lib, mine, mine_state

frames, workdir, kill = sys.argv[1], sys.argv[2], sys.argv[3]
# "N": kill at the N-th event; "KIND:N": at the N-th event of that kind.
kill_kind, _, kill_at = kill.rpartition(":")
kill_at = int(kill_at)
config = mine_experiment.get_config()
config.source.frames = frames
config.source.detections = frames + "/detections.json"
config.source.camera = frames + "/camera.json"
config.mining.min_box_side = 6.0
config.progress = False
config.checkpoint_frames, config.checkpoint_seconds = 3, 0.0
config.report.examples = 6
config.background.max_samples = 4  # the reservoir replaces, so its random state matters
mine.ROWS_PER_APPEND = 8  # several appends even on a tiny bank
events = 0

counts = {}

def event(kind):
  global events
  events += 1
  counts[kind] = counts.get(kind, 0) + 1
  if kill_at and (counts[kind] if kill_kind else events) == kill_at and kill_kind in ("", kind):
    print(f"killed at {kind} {events}", file=sys.stderr, flush=True)
    return True
  return False

def counted(iterable):
  for item in iterable:
    if event("frame"):
      os.kill(os.getpid(), signal.SIGKILL)
    yield item

progress = mine._progress
mine._progress = lambda iterable, *a, **k: progress(counted(iterable), *a, **k)
append = bank_lib.ObjectBank.append

def killing_append(self, records):
  if event("bank append"):
    os.kill(os.getpid(), signal.SIGKILL)
  return append(self, records)

bank_lib.ObjectBank.append = killing_append
write_atomic = mine_state.write_atomic

def killing_write(path, data):
  if event("write"):
    with open(path.with_name(f".{path.name}.tmp"), "wb") as f:
      f.write(data[: len(data) // 2])
    os.kill(os.getpid(), signal.SIGKILL)
  return write_atomic(path, data)

mine_state.write_atomic = killing_write
summary = mine.run(config, workdir)
print(json.dumps({"events": events, "mined": summary["mined"]}))
'''

_OUTPUTS = ("bank.h5", "report.png", "summary.json")


def _job(frames, workdir, cache, kill_at=0):
  env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_COMPILATION_CACHE_DIR": str(cache),
         "JAX_PLATFORMS": "cpu"}
  return subprocess.run([sys.executable, "-c", _CHILD, str(frames), str(workdir), str(kill_at)],
                        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def _killed_at(run) -> str:
  return run.stderr.strip().splitlines()[-1].removeprefix("killed at ")


def _outputs(workdir: pathlib.Path) -> dict[str, bytes]:
  out = {name: (workdir / name).read_bytes() for name in _OUTPUTS}
  summary = json.loads(out["summary.json"])
  summary.pop("seconds")  # the only timing: this run's wall time
  out["summary.json"] = json.dumps(summary, sort_keys=True).encode()
  return out


@pytest.fixture(scope="module")
def frames(tmp_path_factory) -> pathlib.Path:
  config = simulate_config.get_config("intersection")
  config.image_size = (160, 90)
  config.num_bursts, config.frames_per_burst, config.num_days = 2, 6, 1
  config.num_cars, config.num_people = 8, 6
  config.progress = False
  root = tmp_path_factory.mktemp("mine_resume") / "intersection"
  simulate.simulate_sequence(config, "intersection", 0, root)
  return root


def test_killed_mine_job_reruns_to_the_uninterrupted_outputs(frames, tmp_path):
  cache, workdir = tmp_path / "jax_cache", tmp_path / "work"
  ref = _job(frames, workdir, cache)
  assert ref.returncode == 0, ref.stderr[-3000:]
  events = json.loads(ref.stdout.strip().splitlines()[-1])["events"]
  assert json.loads(ref.stdout.strip().splitlines()[-1])["mined"] > 8  # several bank appends
  want = _outputs(workdir)
  shutil.move(workdir, tmp_path / "reference")

  # Kill points early enough that each job in the chain is killed (a resumed job has fewer
  # events), so the chain passes through several passes' checkpoints.
  rng = np.random.default_rng(0)
  kills = []
  for kill_at in rng.integers(1, events // 3, size=5):
    run = _job(frames, workdir, cache, int(kill_at))
    if run.returncode == 0:
      break  # this run had fewer events left than its kill point
    assert run.returncode == -9, run.stderr[-3000:]
    kills.append(_killed_at(run))
    assert not (workdir / mine_state.MARKER).exists()
  assert len(kills) >= 3, (events, kills)
  # And once inside the bank's write, which comes after every pass.
  run = _job(frames, workdir, cache, "bank append:2")
  assert run.returncode == -9, run.stderr[-3000:]
  kills.append(_killed_at(run))
  assert {kind.split()[0] for kind in kills} == {"frame", "write", "bank"}, kills
  last = _job(frames, workdir, cache)
  assert last.returncode == 0, last.stderr[-3000:]
  got = _outputs(workdir)
  assert [name for name in _OUTPUTS if got[name] != want[name]] == []
  assert (workdir / mine_state.MARKER).is_file() and not (workdir / mine_state.STATE_DIR).exists()

  # A rerun of a finished job rewrites nothing.
  stamps = {name: os.stat(workdir / name).st_mtime_ns for name in _OUTPUTS}
  again = _job(frames, workdir, cache)
  assert again.returncode == 0, again.stderr[-3000:]
  assert json.loads(again.stdout.strip().splitlines()[-1])["events"] == 0
  assert {name: os.stat(workdir / name).st_mtime_ns for name in _OUTPUTS} == stamps


def test_settings_digest_follows_outputs_not_checkpointing():
  from experiments import mine as mine_experiment

  config = mine_experiment.get_config()
  digest = mine_state.settings_digest(config)
  config.progress, config.checkpoint_frames, config.checkpoint_seconds = False, 3, 0.0
  config.source.simulate.progress = False
  assert mine_state.settings_digest(config) == digest
  config.mining.min_score = 0.6
  assert mine_state.settings_digest(config) != digest


def test_state_of_other_settings_is_dropped_not_continued(tmp_path):
  state = mine_state.MineState(tmp_path, "aaaa")
  state.save_chunk("detect", 0, {"done": False})
  assert mine_state.MineState(tmp_path, "aaaa").chunk_names("detect") == ["detect-000000"]
  assert mine_state.MineState(tmp_path, "bbbb").chunk_names("detect") == []
  assert mine_state.MineState(tmp_path, "bbbb").load("background") is None
  mine_state.mark_complete(tmp_path, "bbbb", {"mined": 3})
  assert not (tmp_path / mine_state.STATE_DIR).exists()
  assert mine_state.completed(tmp_path, "bbbb") == {"mined": 3}
  assert mine_state.completed(tmp_path, "aaaa") is None
