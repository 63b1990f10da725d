"""Sensor noise statistics, vignetting and determinism."""

import numpy as np
import pytest

from walt3d_jax.sim import sensor


def test_noise_statistics_follow_the_model():
  rng = np.random.default_rng(0)
  for value, level in ((0.2, 1.0), (0.6, 1.0), (0.6, 3.0)):
    flat = np.full((200, 300, 3), value, np.float32)
    out = sensor.add_sensor_noise(flat, rng, level).astype(np.float64) / 255.0
    centre = out[70:130, 120:180]  # vignetting is negligible here
    gain = sensor.vignetting_map(200, 300)[70:130, 120:180].mean()
    sigma = level * np.sqrt(sensor.SHOT * value * gain + sensor.READ ** 2)
    assert abs(centre.mean() - value * gain) < 0.002
    # Quantisation adds uniform noise of variance 1/12 DN^2.
    expected = np.sqrt(sigma ** 2 + (1 / 255) ** 2 / 12)
    assert abs(centre.std() / expected - 1.0) < 0.1


def test_vignetting_darkens_corners_only():
  flat = np.full((90, 160, 3), 0.5, np.float32)
  out = sensor.add_sensor_noise(flat, np.random.default_rng(0), 0.0).astype(int)
  assert abs(out[45, 80, 0] - 127.5) <= 1
  assert out[0, 0, 0] < 128 * (1 - 0.8 * sensor.VIGNETTING)


def test_blur_is_slight_and_output_deterministic():
  image = np.zeros((40, 40, 3), np.float32)
  image[:, 20:] = 1.0
  out = sensor.add_sensor_noise(image, np.random.default_rng(0), 0.0)
  assert out.dtype == np.uint8 and out.shape == image.shape
  row = out[20, :, 0].astype(int)
  assert row[17] < 5 and row[22] > 245 and 20 < row[19] < 128 < row[20] < 235
  a = sensor.add_sensor_noise(image * 0.5, np.random.default_rng(3), 2.0)
  b = sensor.add_sensor_noise(image * 0.5, np.random.default_rng(3), 2.0)
  assert a.tobytes() == b.tobytes()


def test_bad_inputs():
  with pytest.raises(ValueError, match="level"):
    sensor.add_sensor_noise(np.zeros((4, 4, 3)), np.random.default_rng(0), -1.0)
  with pytest.raises(ValueError, match="image"):
    sensor.add_sensor_noise(np.zeros((4, 4)), np.random.default_rng(0), 1.0)
