"""The clipart job killed with SIGKILL at seeded random points, rerun until done: same bytes.

Every job is a subprocess building `tiny_walt3d` (both formats and the COCO export) from one
simulated truth bank. The child counts events: examples composed (inside a TFDS build),
format builds started and COCO images exported; with a kill count it SIGKILLs itself at that
event. An uninterrupted job gives the reference; then, in the same workdir path, a job killed
inside its first build, a chain killed at seeded random events, and a last one left to finish.
Every file under tfds/ and coco/ must equal the reference's byte for byte (no half-written
build may be left behind), summary.json too except its timings and reuse flags.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

from experiments import clipart as clipart_config
from walt3d_jax.data import build

ROOT = pathlib.Path(__file__).resolve().parents[2]

_CHILD = r'''
import json, os, signal, sys
from experiments import clipart as clipart_experiment
from tfds_builders.walt3d_clipart import walt3d_clipart_dataset_builder as builder_lib
from walt3d_jax.data import build, coco_amodal

bank, workdir, kill = sys.argv[1], sys.argv[2], sys.argv[3]
# "N": kill at the N-th event; "KIND:N": at the N-th event of that kind.
kill_kind, _, kill_at = kill.rpartition(":")
kill_at = int(kill_at)
config = clipart_experiment.get_config("tiny")
config.bank = bank
config.progress = False
events, counts = 0, {}

def event(kind):
  global events
  events += 1
  counts[kind] = counts.get(kind, 0) + 1
  if kill_at and (counts[kind] if kill_kind else events) == kill_at and kill_kind in ("", kind):
    print(f"killed at {kind} {events}", file=sys.stderr, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)

def counting(kind, function):
  def wrapped(*args, **kwargs):
    event(kind)
    return function(*args, **kwargs)
  return wrapped

builder_lib.generate_example = counting("example", builder_lib.generate_example)
build.build_format = counting("format", build.build_format)
coco_amodal._dense = counting("coco", coco_amodal._dense)
summary = build.run(config, workdir)
print(json.dumps({"events": events, "counts": counts, "examples": summary["examples"]}))
'''

# Timings, and whether this run built or reused a format: the rest of summary.json is compared.
_RUN_FIELDS = ("seconds", "pool_seconds", "examples_per_second", "reused_existing_build")


def _job(bank, workdir, kill="0"):
  env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
  return subprocess.run([sys.executable, "-c", _CHILD, str(bank), str(workdir), kill],
                        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def _drop(value, keys):
  if isinstance(value, dict):
    return {k: _drop(v, keys) for k, v in value.items() if k not in keys}
  return value


def _outputs(workdir: pathlib.Path) -> dict[str, bytes]:
  """Every file under tfds/ and coco/ by relative path, and summary.json without run fields."""
  out = {str(p.relative_to(workdir)): p.read_bytes() for top in ("tfds", "coco")
         for p in sorted((workdir / top).rglob("*")) if p.is_file()}
  summary = json.loads((workdir / "summary.json").read_text())
  out["summary.json"] = json.dumps(_drop(summary, _RUN_FIELDS), sort_keys=True).encode()
  return out


def _killed_at(run) -> str:
  return run.stderr.strip().splitlines()[-1].removeprefix("killed at ")


@pytest.fixture(scope="module")
def bank(tmp_path_factory) -> pathlib.Path:
  config = clipart_config.get_config("tiny")
  return build.truth_bank(config.simulate, tmp_path_factory.mktemp("build_resume") / "truth")


def test_killed_clipart_job_reruns_to_the_uninterrupted_outputs(bank, tmp_path):
  workdir = tmp_path / "work"
  ref = _job(bank, workdir)
  assert ref.returncode == 0, ref.stderr[-3000:]
  events = json.loads(ref.stdout.strip().splitlines()[-1])["events"]
  want = _outputs(workdir)
  shutil.move(workdir, tmp_path / "reference")

  # Once inside the first build, then at seeded random events of what is left.
  rng = np.random.default_rng(0)
  kills = []
  for kill in ["example:3"] + [str(k) for k in rng.integers(1, events, size=2)]:
    run = _job(bank, workdir, kill)
    if run.returncode == 0:
      break  # this run had fewer events left than its kill point
    assert run.returncode == -9, run.stderr[-3000:]
    kills.append(_killed_at(run))
  assert len(kills) >= 2, (events, kills)
  last = _job(bank, workdir)
  assert last.returncode == 0, last.stderr[-3000:]
  got = _outputs(workdir)
  assert sorted(got) == sorted(want)
  assert [name for name in want if got[name] != want[name]] == []

  # Finished: a rerun composes nothing; the same bank rewritten (a new mtime) is built again.
  again = _job(bank, workdir)
  assert again.returncode == 0, again.stderr[-3000:]
  assert "example" not in json.loads(again.stdout.strip().splitlines()[-1])["counts"]
  stat = os.stat(bank)
  os.utime(bank, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
  rebuilt = _job(bank, workdir)
  assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
  assert json.loads(rebuilt.stdout.strip().splitlines()[-1])["counts"]["example"] == 10
  got = _outputs(workdir)
  assert [name for name in want if got[name] != want[name] and not name.endswith(".complete.json")] == []


def test_a_format_marker_vouches_only_for_the_same_build(tmp_path):
  import dataclasses

  from walt3d_jax.data import build_state

  @dataclasses.dataclass
  class Config:
    name: str = "tiny"
    num_train: int = 3

  bank, tfds_dir = tmp_path / "bank.h5", tmp_path / "tfds"
  bank.write_bytes(b"rows")
  version_dir = tfds_dir / "array_record" / "walt3d_clipart" / "tiny" / "1.0.0"
  leftover = version_dir.parent / "incomplete.AB12CD_1.0.0"
  for folder in (version_dir, leftover):
    folder.mkdir(parents=True)
  (version_dir / "dataset_info.json").write_text("{}")
  digest = build_state.build_digest(Config(), "1.0.0", "array_record", bank)
  assert not build_state.is_complete(tfds_dir, "array_record", digest, version_dir)  # no marker yet
  build_state.mark_complete(tfds_dir, "array_record", digest)
  assert build_state.is_complete(tfds_dir, "array_record", digest, version_dir)
  assert build_state.build_digest(Config(num_train=4), "1.0.0", "array_record", bank) != digest
  assert build_state.build_digest(Config(), "1.0.0", "tfrecord", bank) != digest
  bank.write_bytes(b"other rows")  # another bank under the same name
  assert build_state.build_digest(Config(), "1.0.0", "array_record", bank) != digest
  build_state.clear(tfds_dir, "array_record", version_dir)
  assert not version_dir.exists() and not leftover.exists()
  assert not build_state.is_complete(tfds_dir, "array_record", digest, version_dir)
