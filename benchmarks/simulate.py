r"""Simulator throughput: frames/s at 640×360 with about 20 agents, on one core.

  .venv/bin/python benchmarks/simulate.py [--preset avenue] [--frames 100] [--cars 16] [--people 12]

Baseline: the foundation issue's goal of 10 frames/s on one core (a real traffic camera's
burst rate is far higher, but 10 frames/s makes a day of bursts in minutes). Everything a frame
costs is counted: traffic step, posing meshes, z-buffer rendering and sensor noise, exact ground
truth with RLE encoding, the imitated detector, and JPEG writing. The background (ground
texture and scenery), rendered once per scene, is reported apart.
"""

from __future__ import annotations

import os

# One core, as the goal says; set before numpy/OpenCV/XLA start their thread pools.
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
  os.environ[var] = "1"

import argparse
import json
import pathlib
import sys
import tempfile
import time

import cv2

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from experiments import simulate as simulate_config
from walt3d_jax.sim import simulate

GOAL_FRAMES_PER_S = 10.0


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  # The avenue with 16 cars and 12 people has about 24 agents in view; the junction presets
  # queue up with more than ~12 cars (sim/traffic.py).
  parser.add_argument("--preset", default="avenue")
  parser.add_argument("--frames", type=int, default=100)
  parser.add_argument("--cars", type=int, default=16)
  parser.add_argument("--people", type=int, default=12)
  args = parser.parse_args()
  cv2.setNumThreads(1)

  config = simulate_config.get_config(args.preset)
  config.frames_per_burst = 25
  config.num_bursts = max(args.frames // config.frames_per_burst, 1)
  config.num_cars, config.num_people = args.cars, args.people
  config.progress = False
  with tempfile.TemporaryDirectory() as tmp:
    # A first short run pays one-off costs (imports, JAX dispatch caches, the shape model).
    warm = simulate_config.get_config(args.preset)
    warm.num_bursts, warm.frames_per_burst, warm.progress = 1, 2, False
    simulate.simulate_sequence(warm, args.preset, 0, pathlib.Path(tmp) / "warm")

    tic = time.perf_counter()
    summary = simulate.simulate_sequence(config, args.preset, 0, pathlib.Path(tmp) / "run")
    wall = time.perf_counter() - tic
    with open(pathlib.Path(tmp) / "run" / "ground_truth.json") as f:
      objects = len(json.load(f)["annotations"])

  t = summary["timings"]
  frames = summary["frames"]
  fps = simulate.frames_per_second(summary)
  print(f"preset {args.preset}, 640x360, {frames} frames, {objects / frames:.1f} agents in view per frame "
        f"({args.cars} cars + {args.people} people simulated), one core")
  print(f"background prerender (once per scene): {t['background']:.2f} s")
  for k in ("traffic", "render", "truth", "write"):
    print(f"  {k:<8} {1e3 * t[k] / frames:7.2f} ms/frame")
  print(f"simulator throughput: {fps:.1f} frames/s  "
        f"(ratio to the {GOAL_FRAMES_PER_S:.0f} frames/s goal: {fps / GOAL_FRAMES_PER_S:.2f}x)")
  print(f"wall time including the background and setup: {wall:.1f} s")


if __name__ == "__main__":
  main()
