"""Day, dusk and night lighting."""

import numpy as np
import pytest

from walt3d_jax.sim.lighting import lighting_at, sun_direction_at


def test_sun_path():
  for hour in np.linspace(0.0, 23.9, 40):
    np.testing.assert_allclose(np.linalg.norm(sun_direction_at(hour, 0.4)), 1.0)
  assert sun_direction_at(12.0)[2] > np.sin(np.deg2rad(55.0))
  assert sun_direction_at(7.0)[2] > 0 > sun_direction_at(5.0)[2]
  # Morning and evening suns are on opposite sides of the noon direction.
  noon = sun_direction_at(12.0)
  morning, evening = np.cross(noon, sun_direction_at(8.0)), np.cross(noon, sun_direction_at(16.0))
  assert morning[2] * evening[2] < 0


def test_day_dusk_night_regimes():
  day, dusk, night = lighting_at(12.0), lighting_at(17.8), lighting_at(23.0)
  assert not day.night and not dusk.night and night.night
  assert sum(day.sun_color) > sum(dusk.sun_color) > sum(night.sun_color) == 0.0
  assert sum(day.ambient_color) > sum(dusk.ambient_color) > sum(night.ambient_color)
  assert day.lamp_intensity == 0.0 < dusk.lamp_intensity <= night.lamp_intensity == 1.0
  assert day.exposure < dusk.exposure < night.exposure
  assert day.noise_level < night.noise_level
  # Low sun is warm: relatively more red than blue.
  assert dusk.sun_color[0] / dusk.sun_color[2] > day.sun_color[0] / day.sun_color[2]
  hash(day)  # the renderer caches lit backgrounds per lighting


def test_bad_hours():
  for bad in (-1.0, 24.0, np.nan):
    with pytest.raises(ValueError, match="hour_of_day"):
      lighting_at(bad)


def test_period_labels_follow_the_sun():
  assert lighting_at(12.0).period == "day"
  assert lighting_at(18.2).period == "dusk"
  assert lighting_at(23.0).period == "night"
