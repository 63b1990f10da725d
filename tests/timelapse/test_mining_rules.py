"""Mining flags at their thresholds (the boundaries a one-character bug would move)."""

import numpy as np

from experiments import mine as mine_config
from walt3d_jax.timelapse import mine
from walt3d_jax.timelapse.bank import MiningFlag
from walt3d_jax.timelapse.types import FrameDetections


def test_a_track_of_exactly_min_track_length_frames_is_long_enough():
  config = mine_config.get_config()
  need = int(config.mining.min_track_length)
  boxes = np.array([[100, 50, 40, 30], [200, 50, 40, 30]], np.float32)
  detections = FrameDetections(0, boxes, np.array([0.9, 0.9]), np.ones(2),
                               [{"size": [180, 320], "counts": "0"}] * 2, np.zeros((2, 17, 3)),
                               np.array([1, 2]))
  flags = mine.mining_flags(detections, (320, 180), {1: need, 2: need - 1}, config)
  assert not flags[0] & MiningFlag.SHORT_TRACK
  assert flags[1] & MiningFlag.SHORT_TRACK
