r"""Camera shake and the built-in detector: as shaken, and moved back by timelapse.stabilize.

  .venv/bin/python benchmarks/stabilize.py [--preset intersection] [--seed 1] [--shake 2]
      [--bursts 12] [--frames 5] [--size 480 270] [--workdir /tmp/detector_bench]

benchmarks/detector.py's held-out sequence (12 bursts of 5 frames over two days) and its
background frames (the same hours on 8 other days), every frame but the scored sequence's first
moved by a random whole-pixel offset in [-shake, shake] (a camera on a pole in the wind). The
built-in detector (timelapse.detect, the preset's camera, the background fitted on the
background frames) runs on (a) the frames unshaken, (b) the shaken frames as they are (the
baseline), (c) the shaken frames moved back by `stabilize.StabilizedFrames` (all of them, the
background frames too, onto the scored sequence's first frame). Scores: precision / recall at IoU
0.5 of objects with occlusion < 0.1 (as benchmarks/detector.py; objects under 30 visible pixels
ignored, since 2026-12-05: the figures below dropped them), against the truth in each run's
pixels (the shaken frames': moved by the shake; the stabilized ones': the first frame's). Also
the share of scored frames whose shake was undone exactly, and the registration time.

Measured (seed 1, 480x270, 2 shared cores), P / R:
  intersection, shake ±2 px: unshaken 0.627 / 0.389; shaken 0.536 / 0.368; stabilized 0.628 /
    0.389 (1.17x / 1.06x the baseline); shake undone exactly in 100 % of the scored frames.
  intersection, ±4 px: shaken 0.389 / 0.335; stabilized 0.630 / 0.389 (1.62x / 1.16x); 100 %.
  crosswalk, ±4 px: unshaken 0.606 / 0.345; shaken 0.198 / 0.236; stabilized 0.601 / 0.345
    (3.04x / 1.46x); 100 %.
  Registration 4-7 ms a frame. On the still frames (these sequences and a 200-frame simulated
  video) no frame is moved.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # run as a script
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import detector as detector_bench  # the benchmark's simulation, reader and scores
from walt3d_jax.geometry import camera as camera_lib
from walt3d_jax.timelapse import background
from walt3d_jax.timelapse import detect
from walt3d_jax.timelapse import stabilize


class _ListFrames:
  """Frames in a list as a frame source (iterate, position, expected, report)."""

  def __init__(self, frames):
    self._frames = frames
    self.report = None

  def iterate(self, start=None):
    return iter(self._frames)

  def position(self):
    return None

  def expected(self):
    return len(self._frames)


def _score(dets, truth, hidden) -> tuple[float, float]:
  aware, _ = detector_bench.detection_scores(dets, truth, hidden, [True] * len(truth))
  return aware.precision, aware.recall


def _detect(frames, background_frames, camera) -> tuple[list, float]:
  tic = time.perf_counter()
  model = background.fit_background(background_frames, background.BackgroundConfig(
      buckets=background.UNKNOWN_BUCKETS, max_samples=len(background_frames)))
  dets = detect.detect_frames(frames, model, camera)
  return dets, time.perf_counter() - tic


def _shake(frames, rng: np.random.Generator, amplitude: int, first_still: bool = False):
  """The frames moved by random whole-pixel offsets in [-amplitude, amplitude], and the offsets."""
  offsets = [tuple(int(v) for v in rng.integers(-amplitude, amplitude + 1, 2)) for _ in frames]
  if first_still:
    offsets[0] = (0, 0)
  return [f._replace(image=stabilize.shift_image(f.image, dx, dy)) for f, (dx, dy) in zip(frames, offsets)], offsets


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--preset", default="intersection")
  parser.add_argument("--seed", type=int, default=1)
  parser.add_argument("--shake", type=int, default=2, help="pixels, the largest offset")
  parser.add_argument("--bursts", type=int, default=12)
  parser.add_argument("--frames", type=int, default=5)
  parser.add_argument("--size", type=int, nargs=2, default=(480, 270))
  parser.add_argument("--background_frames", type=int, default=8)
  parser.add_argument("--workdir", default="/tmp/detector_bench")
  args = parser.parse_args()
  args.same_sequence_background, args.estimator = False, background.BackgroundConfig().estimator
  root = detector_bench.simulate_once(args.preset, args)
  frames, truth, _, hidden, _ = detector_bench.load_scored(root)
  detector_bench.fit_scene_background(args.preset, args)  # simulates the same-hours frames once
  samples_root = pathlib.Path(args.workdir) / (f"{args.preset}_seed{args.seed}_samehours_{args.bursts}x"
                                               f"{args.background_frames}_{args.size[0]}")
  # Indices after the scored frames': `StabilizedFrames.shift` is by index.
  samples = [f._replace(index=f.index + len(frames)) for f in detector_bench.load_sequence(samples_root)[0]]
  camera = camera_lib.load_camera(root / "camera.json")
  size = tuple(args.size)
  rng = np.random.default_rng(args.seed)
  shaken, offsets = _shake(frames, rng, args.shake, first_still=True)
  shaken_samples, _ = _shake(samples, rng, args.shake)
  shaken_truth = [stabilize.shift_detections(t, dx, dy, size) for t, (dx, dy) in zip(truth, offsets)]
  # An object the shake moved out of the frame is gone from the shaken truth (true ids are unique).
  shaken_hidden = [h[np.isin(t.track_ids, s.track_ids)] for t, s, h in zip(truth, shaken_truth, hidden)]

  # One anchor for all: the scored sequence's first frame (unshaken), then the samples.
  reader = stabilize.StabilizedFrames(_ListFrames(shaken + shaken_samples))
  tic = time.perf_counter()
  steadied, shifts = [], []
  for frame in reader.iterate():
    steadied.append(frame)
    shifts.append(reader.shift(frame.index))
  register_ms = 1e3 * (time.perf_counter() - tic) / len(steadied)
  undone = np.mean([s == (-dx, -dy) for s, (dx, dy) in zip(shifts, offsets)])
  steady_frames, steady_samples = steadied[:len(frames)], steadied[len(frames):]

  rows = {}
  for name, run_frames, run_samples, run_truth, run_hidden in (
      ("unshaken", frames, samples, truth, hidden),
      ("shaken (baseline)", shaken, shaken_samples, shaken_truth, shaken_hidden),
      ("shaken, stabilized", steady_frames, steady_samples, truth, hidden)):
    dets, seconds = _detect(run_frames, run_samples, camera)
    rows[name] = _score(dets, run_truth, run_hidden)
    print(f"{name:20s} P {rows[name][0]:.3f} R {rows[name][1]:.3f}  ({seconds:.0f} s)", flush=True)
  base, fixed = rows["shaken (baseline)"], rows["shaken, stabilized"]
  print(f"\n{args.preset} seed {args.seed}, {len(frames)} frames + {len(samples)} background frames "
        f"{size[0]}x{size[1]}, shake ±{args.shake} px: {reader.shake.summary()}; the scored frames' shake "
        f"undone exactly in {undone:.0%}; registration {register_ms:.1f} ms/frame")
  print(f"stabilized vs baseline: P {fixed[0]:.3f} / {base[0]:.3f} = {fixed[0] / max(base[0], 1e-9):.2f}x, "
        f"R {fixed[1]:.3f} / {base[1]:.3f} = {fixed[1] / max(base[1], 1e-9):.2f}x")


if __name__ == "__main__":
  main()
