r"""Simulated stationary-camera time-lapse with exact ground truth (the project's embedded input).

Writes, per scene preset, camera.json, frames/, ground_truth.json (COCO + amodal, keypoint
visibility and 3D fields) and detections.json (COCO results of an imitated detector); see
docs/formats.md.

  python launch.py --config experiments/simulate.py --workdir /tmp/sim
  python launch.py --config experiments/simulate.py:avenue --workdir /tmp/sim \
      --config.num_bursts=40 --config.image_size=1280,720

The argument picks one preset (default: all). About 10+ frames/s per core at 640×360.
"""

import ml_collections

from walt3d_jax.sim.presets import PRESETS


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.job = "simulate"
  config.seed = 0
  config.presets = [arg] if arg else sorted(PRESETS)
  config.image_size = (640, 360)  # (width, height) pixels; overrides the preset's rig
  # Capture pattern of the WALT raw data: short bursts of consecutive frames over days.
  config.num_bursts = 12
  config.frames_per_burst = 10
  config.fps = 10.0
  config.num_days = 3
  config.num_cars = 12
  config.num_people = 8
  config.num_shape_components = 5
  config.image_format = "jpg"
  config.jpeg_quality = 92
  config.write_video = False
  config.progress = True
  config.detector = ml_collections.ConfigDict(dict(
      miss_rate=0.03, occlusion_miss_rate=0.6, min_visible_area=30, mask_jitter_px=1,
      keypoint_sigma_px=2.0, hidden_keypoint_sigma_px=6.0, false_positives_per_frame=0.2,
  ))
  return config
