r"""Mine tracked, unoccluded cars and people from a time-lapse into an object bank.

By default on a simulated sequence (made in <workdir>/source) with the simulator's imitated
detector; on real footage:

  python launch.py --config experiments/mine.py --workdir /tmp/mine
  python launch.py --config experiments/mine.py --workdir /tmp/cam7 \
      --config.source.video=cam7.mp4 --config.source.camera=cam7/camera.json \
      [--config.source.detections=cam7/detections.json]   # built-in detector when absent
  python launch.py --config experiments/mine.py:builtin --workdir /tmp/mine_builtin

The argument `builtin` uses the built-in background-subtraction detector on the simulated
sequence. Writes bank.h5 (docs/formats.md), summary.json and report.png. About a minute on
2 cores for the default sequence.
"""

import ml_collections

from experiments import simulate as simulate_config


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.job = "mine"
  config.seed = 0
  config.progress = True

  config.source = ml_collections.ConfigDict()
  config.source.video = ""  # a video file, or
  config.source.frames = ""  # an image folder or a simulated sequence folder
  # COCO results file; "builtin": the built-in detector; "": the simulator's imitated detector
  # for a simulated source, the built-in detector for footage.
  config.source.detections = "builtin" if arg == "builtin" else ""
  config.source.camera = ""  # camera.json (classes by metric size; 3D later)
  config.source.order = "name"  # image folders: "name" or "timestamp" (parsed from file names)
  config.source.fps = 1.0  # image folders without timestamps: seconds between frames = 1 / fps
  sim = simulate_config.get_config("intersection")
  sim.num_bursts, sim.frames_per_burst, sim.num_days = 6, 20, 2
  sim.progress = True
  config.source.simulate = sim
  config.source.simulate.preset = "intersection"

  config.sampling = ml_collections.ConfigDict(dict(every=1, windows=(), burst_gap=None, burst_period=None, burst_length=None))
  config.background = ml_collections.ConfigDict(dict(max_samples=24, start_hour=0.0))
  config.tracker = ml_collections.ConfigDict(dict(iou_threshold=0.3, min_hits=3, max_age=2, max_gap_seconds=2.0, per_class=True))
  config.mining = ml_collections.ConfigDict(dict(
      delta=0.1,  # WALT's overlap threshold (issue 3, Table 5); >= 1 switches it off
      border_margin=2.0,  # pixels: boxes this close to the border are truncated
      min_score=0.5,
      min_box_side=12.0,  # pixels
      min_track_length=3,  # frames
      truth_occlusion=0.05,  # simulator only: "truly unoccluded" below this occlusion ratio
      # The occlusion classifier trained by experiments/occlusion_classifier.py; with it the δ
      # heuristic is usually switched off (--config.mining.delta=1, Table 5).
      classifier=dict(workdir="", config_arg=""),
  ))
  config.report = ml_collections.ConfigDict(dict(examples=16))
  return config
