"""The from_video job's own pieces (its stages are the mine, fit and clipart jobs, tested on
their own; a whole run is a few minutes, `experiments/from_video.py:sim`)."""

import numpy as np
import pytest

from walt3d_jax import from_video
from walt3d_jax.formats import rle
from walt3d_jax.geometry import calibrate as calibrate_lib
from walt3d_jax.geometry import camera as camera_lib
from walt3d_jax.timelapse import bank as bank_lib
from walt3d_jax.timelapse.types import Frame
from walt3d_jax.timelapse.types import FrameDetections

W, H = 96, 64


def _bank(path, rows: int):
  with bank_lib.ObjectBank.create(path, {}, (W, H)) as bank:
    for index in range(rows):
      mask = np.zeros((H, W), bool)
      mask[10 + index:30 + index, 20:28] = True
      dets = FrameDetections(index, [rle.mask_box(mask)], [0.9], [2], (rle.encode_mask(mask),),
                             np.zeros((1, 17, 3), np.float32), [7])
      bank.append(bank_lib.object_records(Frame(index, 0.1 * index, np.zeros((H, W, 3), np.uint8), f"{index}"), dets))


def test_observations_are_the_banks_mined_rows(tmp_path):
  _bank(tmp_path / "bank.h5", 3)
  obs = from_video.observations(tmp_path / "bank.h5")
  assert len(obs) == 3 and obs.image_size == (W, H) and obs.keypoints is None  # no detected keypoints
  np.testing.assert_array_equal(obs.track_id, [7, 7, 7])
  np.testing.assert_array_equal(obs.category, [2, 2, 2])
  np.testing.assert_allclose(obs.box[1], [20, 11, 8, 20])
  np.testing.assert_allclose(obs.time, [0.0, 0.1, 0.2])


def test_an_empty_bank_is_a_calibration_refusal(tmp_path):
  _bank(tmp_path / "bank.h5", 0)
  with pytest.raises(calibrate_lib.CalibrationError, match="nothing moves"):
    from_video.observations(tmp_path / "bank.h5")


def test_the_ground_grid_lies_below_the_horizon():
  cam = camera_lib.mounted_camera(6.0, np.radians(20), np.radians(70), (160, 90))
  plane = np.concatenate([np.asarray(cam.normal), [float(cam.offset)]])
  image = np.zeros((90, 160, 3), np.uint8)
  out = from_video.draw_ground_grid(image, np.asarray(cam.K), plane)
  horizon = float(calibrate_lib.horizon_row(float(cam.K[0, 0]), np.radians(20), 0.0, (160, 90)))
  drawn = np.argwhere(out.any(-1))
  assert len(drawn) > 200 and drawn[:, 0].min() >= horizon - 1
