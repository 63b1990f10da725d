r"""Mining a long HD video in bounded memory: peak RSS and frames/s of the `mine` job.

  .venv/bin/python benchmarks/mine_video.py [--frames 1000] [--workdir /tmp/mine_video]

The video: a simulated 640×360 time-lapse (avenue preset, 100-frame bursts) upscaled to
1280×720 and written as MP4, with its camera.json scaled to match; mined with the built-in
detector (a raw video comes without detections). Baseline for memory: holding the decoded
video in RAM (frames × 1280 × 720 × 3 bytes), which a non-streaming job would need.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import resource
import sys
import time

import cv2
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from experiments import mine as mine_config
from experiments import simulate as simulate_config
from walt3d_jax.sim import simulate
from walt3d_jax.timelapse import mine

SIZE = (1280, 720)


def make_video(workdir: pathlib.Path, frames: int) -> tuple[pathlib.Path, pathlib.Path]:
  """An HD MP4 and its camera.json, made once in workdir."""
  video, camera = workdir / "avenue_1280x720.mp4", workdir / "camera_1280x720.json"
  if video.exists() and camera.exists():
    return video, camera
  config = simulate_config.get_config("avenue")
  config.frames_per_burst = 100
  config.num_bursts = -(-frames // config.frames_per_burst)
  config.num_days = 4
  summary = simulate.simulate_sequence(config, "avenue", 0, workdir / "sim")
  writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), config.fps, SIZE)
  for path in sorted((workdir / "sim" / "frames").glob("*.jpg"))[:frames]:
    writer.write(cv2.resize(cv2.imread(str(path)), SIZE, interpolation=cv2.INTER_LINEAR))
  writer.release()
  cam = json.loads((workdir / "sim" / "camera.json").read_text())
  scale = SIZE[0] / cam["image_size"][0]
  K = np.asarray(cam["K"])
  # Pixel centres at integers: x' = s·x + (s − 1)/2.
  K[:2] *= scale
  K[:2, 2] += (scale - 1) / 2
  cam["K"], cam["image_size"] = K.tolist(), list(SIZE)
  camera.write_text(json.dumps(cam))
  print(f"made {video} from {summary['frames']} simulated frames")
  return video, camera


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--frames", type=int, default=1000)
  parser.add_argument("--workdir", default="/tmp/mine_video")
  args = parser.parse_args()
  workdir = pathlib.Path(args.workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  video, camera = make_video(workdir, args.frames)

  config = mine_config.get_config("builtin")
  config.source.video, config.source.camera = str(video), str(camera)
  before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
  tic = time.perf_counter()
  summary = mine.run(config, workdir / "mined")
  seconds = time.perf_counter() - tic
  peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
  frames = summary["read"]["frames"]
  in_memory = frames * SIZE[0] * SIZE[1] * 3
  print(f"{frames} frames of {SIZE[0]}x{SIZE[1]} mined in {seconds:.0f} s ({frames / seconds:.1f} frames/s over 3 passes)")
  print(f"peak RSS {peak / 2**20:.0f} MiB (before mining {before / 2**10:.0f} MiB); "
        f"the decoded video would need {in_memory / 2**20:.0f} MiB: ratio {peak / in_memory:.3f}")
  print(f"detections {summary['detections']}, tracks {summary['tracks']}, mined {summary['mined']}, skipped frames {summary['read']['skipped']}")


if __name__ == "__main__":
  main()
