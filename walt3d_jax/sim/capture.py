"""When the camera records: short bursts of consecutive frames spread over hours and days.

The WALT raw data is captured this way (REFERENCE.md: 60 fps bursts from 20 stationary
cameras over months): a burst of a few seconds, then nothing for a long while. Bursts here are
spread over `num_days` days and over day, dusk and night so lighting varies like in the paper.
"""

from __future__ import annotations

import dataclasses

import numpy as np

# Hours of day of the three lighting regimes (sim.lighting reads hour_of_day).
DAY_HOURS = (8.0, 17.5)
DUSK_HOURS = (17.5, 19.5)
NIGHT_HOURS = (19.5, 23.5)
REGIME_SHARES = (0.6, 0.2, 0.2)  # day, dusk, night
SECONDS_PER_DAY = 86400.0


@dataclasses.dataclass(frozen=True)
class Burst:
  """One burst: index in the schedule, start_seconds (since the start of day 0), hour_of_day
  in [0, 24) at its start, frame_times (F,) seconds since the start of day 0."""

  index: int
  start_seconds: float
  hour_of_day: float
  frame_times: np.ndarray


def capture_schedule(rng: np.random.Generator, num_bursts: int, frames_per_burst: int,
                     fps: float, num_days: int = 1) -> list[Burst]:
  """Bursts of frames_per_burst frames at fps, in time order, none overlapping another.

  Bursts are assigned to day / dusk / night in REGIME_SHARES proportions (every regime gets at
  least one burst when num_bursts >= 3) and to days uniformly; start times are drawn within the
  regime's hours.
  """
  if num_bursts < 1 or frames_per_burst < 1 or not fps > 0 or num_days < 1:
    raise ValueError(f"capture_schedule: need num_bursts >= 1, frames_per_burst >= 1, fps > 0, "
                     f"num_days >= 1; got {num_bursts}, {frames_per_burst}, {fps}, {num_days}")
  counts = np.floor(np.array(REGIME_SHARES) * num_bursts).astype(int)
  if num_bursts >= 3:
    counts = np.maximum(counts, 1)
  while counts.sum() < num_bursts:
    counts[int(np.argmax(np.array(REGIME_SHARES) * num_bursts - counts))] += 1
  while counts.sum() > num_bursts:
    counts[int(np.argmax(counts))] -= 1
  duration = frames_per_burst / fps
  starts = []
  for regime, count in zip((DAY_HOURS, DUSK_HOURS, NIGHT_HOURS), counts):
    for _ in range(count):
      for _attempt in range(100):
        day = int(rng.integers(num_days))
        hour = float(rng.uniform(regime[0], regime[1] - duration / 3600.0))
        start = day * SECONDS_PER_DAY + hour * 3600.0
        # Keep bursts apart: at least a minute between one's end and the next's start.
        if all(abs(start - other) > duration + 60.0 for other in starts):
          break
      else:
        raise ValueError(f"capture_schedule: {num_bursts} bursts of {duration:.0f} s do not fit "
                         f"apart into {num_days} day(s); use more days or fewer bursts")
      starts.append(start)
  starts.sort()
  bursts = []
  for index, start in enumerate(starts):
    times = start + np.arange(frames_per_burst) / fps
    bursts.append(Burst(index, float(start), float((start % SECONDS_PER_DAY) / 3600.0), times))
  return bursts


def same_hours_schedule(rng: np.random.Generator, bursts: list[Burst], per_burst: int, num_days: int,
                        spread_s: float = 600.0, first_day: int = 1000) -> list[Burst]:
  """Single frames of the same camera at the hours of `bursts` on other days: for each burst,
  `per_burst` one-frame bursts on distinct days of [first_day, first_day + num_days) (days no
  scored burst uses), each within ±spread_s seconds of the burst's hour of day. What weeks of a
  time-lapse give a background model for the hour of each scored burst; in time order.
  """
  if per_burst < 1 or num_days < per_burst or not spread_s >= 0:
    raise ValueError(f"same_hours_schedule: need 1 <= per_burst <= num_days and spread_s >= 0; got "
                     f"{per_burst}, {num_days}, {spread_s}")
  starts = []
  for burst in bursts:
    for day in rng.choice(num_days, per_burst, replace=False):
      hour_s = float(np.clip(burst.hour_of_day * 3600.0 + rng.uniform(-spread_s, spread_s), 0.0, SECONDS_PER_DAY - 1.0))
      starts.append((first_day + int(day)) * SECONDS_PER_DAY + hour_s)
  starts.sort()
  return [Burst(i, s, float((s % SECONDS_PER_DAY) / 3600.0), np.array([s])) for i, s in enumerate(starts)]
