"""pmap and shard_map steps equal a single-device step on the global batch (4 forced CPU devices)."""

import json
import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]


def test_pmap_and_shard_map_equal_single_device_after_3_steps(tmp_path):
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", PYTHONPATH=str(REPO),
             JAX_PLATFORMS="cpu", JAX_COMPILATION_CACHE_DIR=str(tmp_path / "jax_cache"))
  proc = subprocess.run([sys.executable, "-m", "tests.train.parallel_check"], cwd=REPO, env=env,
                        capture_output=True, text=True, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  out = json.loads(proc.stdout.strip().splitlines()[-1])
  assert out["devices"] == 4 and out["objects"] > 0
  assert out["moved"] > 1e-3  # the steps did change the parameters
  for parallel in ("pmap", "shard_map"):
    assert out[parallel] < 1e-5, out
    assert abs(out["losses"][parallel][-1] - out["losses"]["none"][-1]) < 1e-4 * abs(out["losses"]["none"][-1])
