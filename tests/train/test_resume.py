"""Interrupted and resumed training equals an uninterrupted run, loss for loss.

Run A trains 4 steps straight. Run B stops after step 2 (config.stop_after: the state on disk
is what a kill right after that step's checkpoint leaves), then a fresh Python process runs
the same config to the end: it restores model, optimizer and the grain iterator from
<workdir>/checkpoints and must reproduce A's losses from step 3 on. Both use tiny synthetic
sources (tests/train/batches.py) and share a persistent compilation cache.
"""

import json
import os
import pathlib
import subprocess
import sys

import jax
import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]

SCRIPT = """
import json, pathlib, sys
import jax
jax.config.update("jax_compilation_cache_dir", sys.argv[2])
from tests.train import test_resume
from walt3d_jax.train import amodal
result = amodal.train(test_resume.config(), pathlib.Path(sys.argv[1]), *test_resume.sources())
print(json.dumps({"start": result["start"], "steps": result["steps"]}))
"""


def config(stop_after: int = -1):
  from experiments import train_2d
  from tests.train import batches

  c = train_2d.get_config("tiny")
  c.total_steps, c.stop_after = 4, stop_after
  c.log_every, c.checkpoint_every, c.eval_every = 1, 2, 0
  c.progress = False
  c.data.max_objects, c.data.batch_size = 4, 2
  c.data.image_size = (batches.WIDTH, batches.HEIGHT)
  return c


def sources():
  from tests.train import batches

  return batches.source(5, seed=3), None


def losses(workdir: pathlib.Path) -> list[tuple[int, float]]:
  rows = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
  return [(r["step"], r["loss"]) for r in rows]


@pytest.fixture
def compilation_cache(tmp_path):
  before = jax.config.jax_compilation_cache_dir
  jax.config.update("jax_compilation_cache_dir", str(tmp_path / "jax_cache"))
  yield tmp_path / "jax_cache"
  jax.config.update("jax_compilation_cache_dir", before)


def test_killed_and_resumed_run_matches_uninterrupted(tmp_path, compilation_cache):
  from walt3d_jax.train import amodal

  straight, resumed = tmp_path / "straight", tmp_path / "resumed"
  amodal.train(config(), straight, *sources())
  first = amodal.train(config(stop_after=2), resumed, *sources())
  assert first["steps"] == 2 and [s for s, _ in losses(resumed)] == [1, 2]
  env = dict(os.environ, PYTHONPATH=str(REPO), JAX_PLATFORMS="cpu")
  proc = subprocess.run([sys.executable, "-c", SCRIPT, str(resumed), str(compilation_cache)], cwd=REPO,
                        env=env, capture_output=True, text=True, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"start": 2, "steps": 4}
  a, b = losses(straight), losses(resumed)
  assert [s for s, _ in a] == [s for s, _ in b] == [1, 2, 3, 4]
  np.testing.assert_allclose([l for _, l in b], [l for _, l in a], rtol=1e-6)
  assert a[-1][1] != a[1][1]  # the later steps trained on
