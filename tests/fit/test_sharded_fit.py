"""The batched track fit split over 4 forced host devices equals the single-device fit.

Runs in a subprocess (XLA_FLAGS=--xla_force_host_platform_device_count=4 must be set before jax
starts). Not bit for bit: each device runs the single-device program on B / 4 tracks, compiled
apart, and XLA's CPU code then rounds differently in the last float32 bit (the unsharded fit of
the same tracks in batches of B / 4 instead of one batch of B differs by the same order), which
the LM's stopping tests can turn into a step or two more or fewer. Measured on 8 synthetic
tracks × 4 frames: poses within 1.7e-4 m and 2.1e-5 rad, shapes within 4.8e-4 m,
reprojections within 0.008 px, iterations within 2; every quality flag, start and convergence
equal. The tolerances below are about 10× those (iterations: 3). The motion fit (one jitted
vmap, no steps) came out bit for bit equal, and is held to that.
"""

import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]

_CHILD = r'''
import json
import jax
import numpy as np
from walt3d_jax.fit import bank_fit, sharding, synthetic, track_fit
from walt3d_jax.fit.config import FitConfig
from walt3d_jax.shapes import car_model

model = car_model.load_car_model(5)
tracks = synthetic.synthetic_tracks(np.random.default_rng(0), 8, 4, model)
f32 = lambda a: np.asarray(a, np.float32)
args = (f32(tracks.uv), f32(tracks.weight), tracks.frame_valid, f32(tracks.K), f32(tracks.R_cg),
        f32(tracks.t_cg), f32(tracks.image_size))
config = FitConfig()
mesh = sharding.data_mesh()
one = sharding.to_host(track_fit.fit_track_batch(*args, model, config, min_batch=4))
split = track_fit.fit_track_batch(*args, model, config, min_batch=4, mesh=mesh)
out = {'devices': len(jax.devices()),
       'split_on_data': split.x.sharding.spec == jax.sharding.PartitionSpec('data'),
       'shards': sorted(s.data.shape[0] for s in split.x.addressable_shards)}
split = sharding.to_host(split)
out['diff'] = {name: float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())
               for name, a, b in zip(track_fit.FitResult._fields, one, split)}
# The motion fit (no keypoints) split the same way.
bottom = f32(tracks.uv[:, :, 0])
cams = (f32(tracks.K), f32(tracks.R_cg), f32(tracks.t_cg), f32(tracks.image_size))
m_one = sharding.to_host(bank_fit._motion_batch(bottom, tracks.frame_valid, *cams, model, config))
m_split = sharding.to_host(bank_fit._motion_batch(
    *sharding.put_rows((bottom, tracks.frame_valid) + cams, mesh),
    sharding.put_replicated(model, mesh), config, mesh))
out['motion_diff'] = {name: float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())
                      for name, a, b in zip(track_fit.FitResult._fields, m_one, m_split)}
print(json.dumps(out))
'''

# Largest allowed |single-device − 4 devices| per FitResult field.
_TOLERANCE = {'x': 2e-3, 'y': 2e-3, 'yaw': 1e-3, 'alpha': 5e-3, 'dimensions': 5e-3,
              'uv_fit': 0.1, 'cost': 1e-2, 'rmse_px': 1e-2, 'frame_rmse_px': 1e-2,
              'iterations': 3, 'converged': 0, 'hypothesis': 0, 'reason': 0,
              'frame_reason': 0, 'derived': 0}


def test_fit_split_over_four_devices_equals_the_single_device_fit():
  env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu",
         "XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
  run = subprocess.run([sys.executable, "-c", _CHILD], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=600)
  assert run.returncode == 0, run.stderr[-3000:]
  out = json.loads(run.stdout.strip().splitlines()[-1])
  assert out["devices"] == 4 and out["split_on_data"]
  assert out["shards"] == [2, 2, 2, 2], out  # 8 tracks, 2 on each device
  for name, limit in _TOLERANCE.items():
    assert out["diff"][name] <= limit, (name, out["diff"])
  assert not any(out["motion_diff"].values()), out["motion_diff"]
