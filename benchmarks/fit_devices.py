r"""Track-fit throughput vs device count: the batch split over 1, 2, 4 forced host devices.

  .venv/bin/python benchmarks/fit_devices.py [--tracks 1024] [--frames 32] [--devices 1,2,4]
      [--repeats 3]

Each device count runs in its own subprocess with
XLA_FLAGS=--xla_force_host_platform_device_count=N (jax reads it once, at start), on the same
synthetic tracks (`fit.synthetic`, seed 0): `track_fit.fit_track_batch` with a 'data' mesh over
the N devices (`fit.sharding`: the batch placed with NamedSharding(mesh, P('data')), the
batched starts, LM steps and results run per device under shard_map). Printed per count: the
compile (first call), the median of --repeats timed calls, tracks/s, µs per frame, the ratio
to 1 device, and the largest difference of the fitted poses from the 1-device fit.

On CPU the forced devices are slices of the same cores (2 on the machine these notes come
from): more devices cannot be faster, so the ratio measures what the split costs (smaller
per-device batches, the host-driven regrouping waiting on every device), and the pose
difference checks correctness. On a machine with several accelerators the same script, with
--platform gpu and no forced devices, would measure the scaling itself.

Measured (--tracks 256 --frames 16 --repeats 3, 2 shared CPU cores under a load average of
about 8, so ±10 %): 1 device 0.184 s per call, 1394 tracks/s, 44.8 µs/frame (compile 39.5 s);
2 devices 1231 tracks/s, 50.8 µs/frame, ×0.88; 4 devices 1375 tracks/s, 45.5 µs/frame,
×0.99. Poses within 5.3e-4 m and 2.4e-4 rad of the 1-device fit, quality flags equal. No GPU
figure: none was available.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]


def measure(num_tracks: int, num_frames: int, repeats: int, out: pathlib.Path) -> None:
  """In the child: fit on every device of the process, write timings and poses to `out`."""
  sys.path.insert(0, str(ROOT))
  import jax
  import numpy as np

  from walt3d_jax.fit import sharding
  from walt3d_jax.fit import synthetic
  from walt3d_jax.fit import track_fit
  from walt3d_jax.fit.config import FitConfig
  from walt3d_jax.shapes import car_model

  model = car_model.load_car_model(5)
  tracks = synthetic.synthetic_tracks(np.random.default_rng(0), num_tracks, num_frames, model)
  f32 = lambda a: np.asarray(a, np.float32)
  args = (f32(tracks.uv), f32(tracks.weight), tracks.frame_valid, f32(tracks.K),
          f32(tracks.R_cg), f32(tracks.t_cg), f32(tracks.image_size))
  mesh = sharding.data_mesh()

  def fit():
    result = track_fit.fit_track_batch(*args, model, FitConfig(), mesh=mesh)
    return sharding.to_host(result)

  tic = time.perf_counter()
  result = fit()
  first = time.perf_counter() - tic
  times = []
  for _ in range(repeats):
    tic = time.perf_counter()
    result = fit()
    times.append(time.perf_counter() - tic)
  np.savez(out, x=result.x, y=result.y, yaw=result.yaw, reason=result.reason,
           times=np.array(times), first=first, devices=len(jax.devices()),
           backend=jax.default_backend())


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--tracks', type=int, default=1024)
  parser.add_argument('--frames', type=int, default=32)
  parser.add_argument('--devices', default='1,2,4')
  parser.add_argument('--repeats', type=int, default=3)
  parser.add_argument('--platform', default='cpu', help="'cpu' forces host devices; else as is")
  parser.add_argument('--child', help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.child:
    measure(args.tracks, args.frames, args.repeats, pathlib.Path(args.child))
    return
  counts = [int(n) for n in args.devices.split(',')]
  print(f'fit_track_batch: {args.tracks} synthetic tracks × {args.frames} frames, default '
        f'FitConfig, float32; platform {args.platform}; {os.cpu_count()} CPU cores')
  if args.platform == 'cpu':
    print(f'  forced host devices share the {os.cpu_count()} cores: this measures the overhead '
          f'of splitting the batch and its correctness, not a speed-up')
  rows, base = [], None
  import numpy as np
  import tempfile

  with tempfile.TemporaryDirectory() as tmp:
    for n in counts:
      out = pathlib.Path(tmp) / f'fit_{n}.npz'
      env = {**os.environ, 'JAX_PLATFORMS': args.platform}
      if args.platform == 'cpu':
        env['XLA_FLAGS'] = (env.get('XLA_FLAGS', '') +
                            f' --xla_force_host_platform_device_count={n}').strip()
      cmd = [sys.executable, __file__, '--child', str(out), '--tracks', str(args.tracks),
             '--frames', str(args.frames), '--repeats', str(args.repeats)]
      subprocess.run(cmd, check=True, env=env)
      r = np.load(out)
      seconds = float(np.median(r['times']))
      if base is None:
        base = r
      d_pos = float(np.max(np.hypot(r['x'] - base['x'], r['y'] - base['y'])))
      d_yaw = float(np.max(np.abs(np.angle(np.exp(1j * (r['yaw'] - base['yaw']))))))
      same_flags = bool(np.array_equal(r['reason'], base['reason']))
      row = {'devices': int(r['devices']), 'first_s': round(float(r['first']), 2),
             'seconds': round(seconds, 3), 'tracks_per_s': round(args.tracks / seconds, 1),
             'us_per_frame': round(1e6 * seconds / (args.tracks * args.frames), 2),
             'max_position_diff_m': d_pos, 'max_yaw_diff_rad': d_yaw,
             'same_quality_flags': same_flags}
      rows.append(row)
      ratio = rows[0]['seconds'] / seconds
      print(f"  {row['devices']} device(s): first call {row['first_s']:.1f} s (compile), "
            f"{row['seconds']:.3f} s per call: {row['tracks_per_s']:.0f} tracks/s, "
            f"{row['us_per_frame']:.2f} µs/frame; throughput ×{ratio:.2f} of 1 device; "
            f"vs 1 device: poses within {d_pos:.1e} m, {d_yaw:.1e} rad, "
            f"quality flags {'equal' if same_flags else 'DIFFER'}", flush=True)
  print(json.dumps(rows))


if __name__ == '__main__':
  main()
