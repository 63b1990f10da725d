"""Daylight, dusk and night: the sun, the sky and the camera's exposure at an hour of the day.

The sun follows a simple symmetric day: it rises at 06:00, culminates at `max_elevation` at
12:00 and sets at 18:00, its azimuth sweeping 180 degrees meanwhile. That is enough to give
traffic-camera footage its three regimes: hard shadows by day, long warm light at dusk, and
lamp-lit dark frames with a high sensor gain at night.
"""

from __future__ import annotations

import dataclasses

import numpy as np

Color = tuple[float, float, float]

# Civil twilight ends when the sun is 6 degrees below the horizon; below that it is night.
_CIVIL_TWILIGHT = np.deg2rad(-6.0)
# Above about 10 degrees the light is plain daylight.
_FULL_DAY = np.deg2rad(10.0)


@dataclasses.dataclass(frozen=True)
class Lighting:
  """Everything the renderer needs to light one frame.

  sun_direction: unit (3,), ground frame (z up), pointing towards the sun.
  sun_color: irradiance of the direct sun on a surface facing it, RGB (0 when below horizon).
  ambient_color: irradiance from the whole sky on an upward surface, RGB.
  sky_zenith, sky_horizon: radiance of the sky straight up and at the horizon, RGB.
  lamp_intensity: street lamps' output, 0 (off) to 1 (fully on).
  exposure: the camera's gain on scene radiance (auto exposure raises it in the dark).
  noise_level: sensor noise level for `sensor.add_sensor_noise` (grows with the gain).
  night: True once the sun is below civil twilight.
  """

  sun_direction: tuple[float, float, float]
  sun_color: Color
  ambient_color: Color
  sky_zenith: Color
  sky_horizon: Color
  lamp_intensity: float
  exposure: float
  noise_level: float
  night: bool

  @property
  def sun_elevation(self) -> float:
    """Radians above the horizon."""
    return float(np.arcsin(np.clip(self.sun_direction[2], -1.0, 1.0)))

  @property
  def period(self) -> str:
    """'day', 'dusk' (twilight and low sun) or 'night': the label written with each frame."""
    if self.night:
      return "night"
    return "dusk" if self.sun_elevation < _FULL_DAY else "day"


def _mix(a: Color, b: Color, t: float) -> Color:
  return tuple(float((1.0 - t) * x + t * y) for x, y in zip(a, b))


def sun_direction_at(hour_of_day: float, azimuth_offset: float = 0.0,
                     max_elevation: float = np.deg2rad(60.0)) -> np.ndarray:
  """Unit (3,) direction to the sun in the ground frame at a local hour (0–24)."""
  phase = np.pi * (hour_of_day - 6.0) / 12.0  # 0 at sunrise, pi at sunset
  elevation = max_elevation * np.sin(phase)
  azimuth = phase + azimuth_offset
  return np.array([np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth),
                   np.sin(elevation)])


def lighting_at(hour_of_day: float, azimuth_offset: float = 0.0) -> Lighting:
  """Lighting at a local hour of day in [0, 24).

  azimuth_offset: radians, rotates the sun's path about z, i.e. how the street is oriented
    with respect to the compass (vary it per scene).
  """
  if not np.isfinite(hour_of_day) or not 0.0 <= hour_of_day < 24.0:
    raise ValueError(f"hour_of_day must be in [0, 24), got {hour_of_day}")
  if not np.isfinite(azimuth_offset):
    raise ValueError(f"azimuth_offset must be finite, got {azimuth_offset}")
  direction = sun_direction_at(hour_of_day, azimuth_offset)
  elevation = float(np.arcsin(direction[2]))
  # day = 1 in full daylight, 0 at the end of civil twilight and below.
  day = float(np.clip((elevation - _CIVIL_TWILIGHT) / (_FULL_DAY - _CIVIL_TWILIGHT), 0.0, 1.0))
  # Direct sun: reddened and weakened near the horizon (longer path through the air).
  sun_strength = float(np.clip(np.sin(max(elevation, 0.0)) * 2.5, 0.0, 1.0))
  warm = float(np.clip(1.0 - elevation / np.deg2rad(25.0), 0.0, 1.0))
  sun_color = tuple(float(c) * 0.95 * sun_strength
                    for c in _mix((1.0, 0.97, 0.90), (1.0, 0.62, 0.35), warm))
  night_ambient = (0.015, 0.018, 0.03)
  ambient = _mix(night_ambient, _mix((0.42, 0.46, 0.55), (0.36, 0.32, 0.36), warm), day)
  zenith = _mix((0.01, 0.015, 0.04), _mix((0.33, 0.50, 0.80), (0.30, 0.32, 0.55), warm), day)
  horizon = _mix((0.05, 0.045, 0.05), _mix((0.75, 0.82, 0.90), (0.95, 0.60, 0.38), warm), day)
  # Lamps switch on around sunset and are at full output in the dark.
  lamps = float(np.clip(1.2 - day * 1.5, 0.0, 1.0))
  # Auto exposure keeps the frame usable in the dark, at the price of noise.
  exposure = float(1.0 + 1.2 * (1.0 - day) ** 1.5)
  return Lighting(
      sun_direction=tuple(float(x) for x in direction),
      sun_color=sun_color,
      ambient_color=ambient,
      sky_zenith=zenith,
      sky_horizon=horizon,
      lamp_intensity=lamps,
      exposure=exposure,
      noise_level=exposure ** 1.5,
      night=elevation < _CIVIL_TWILIGHT,
  )
