"""Tests for walt3d_jax.sim.capture."""

import numpy as np
import pytest

from walt3d_jax.sim import capture


def test_bursts_are_consecutive_frames_in_time_order_and_apart():
  bursts = capture.capture_schedule(np.random.default_rng(0), 12, 30, 15.0, num_days=3)
  assert [b.index for b in bursts] == list(range(12))
  starts = np.array([b.start_seconds for b in bursts])
  assert np.all(np.diff(starts) > 30 / 15.0 + 60.0)
  for b in bursts:
    assert b.frame_times.shape == (30,)
    np.testing.assert_allclose(np.diff(b.frame_times), 1 / 15.0)
    assert b.frame_times[0] == b.start_seconds
    assert b.hour_of_day == pytest.approx((b.start_seconds % 86400) / 3600)


def test_hours_cover_day_dusk_and_night_over_several_days():
  bursts = capture.capture_schedule(np.random.default_rng(1), 20, 10, 30.0, num_days=4)
  hours = np.array([b.hour_of_day for b in bursts])
  assert np.sum((hours >= 8) & (hours < 17.5)) >= 10
  assert np.sum((hours >= 17.5) & (hours < 19.5)) >= 3
  assert np.sum(hours >= 19.5) >= 3
  days = {int(b.start_seconds // 86400) for b in bursts}
  assert len(days) >= 2 and days <= set(range(4))


def test_every_regime_present_with_three_bursts():
  hours = [b.hour_of_day for b in capture.capture_schedule(np.random.default_rng(2), 3, 5, 10.0)]
  assert sorted(np.digitize(hours, [17.5, 19.5])) == [0, 1, 2]


def test_deterministic_per_rng():
  a = capture.capture_schedule(np.random.default_rng(5), 6, 8, 10.0, 2)
  b = capture.capture_schedule(np.random.default_rng(5), 6, 8, 10.0, 2)
  assert [x.start_seconds for x in a] == [x.start_seconds for x in b]


@pytest.mark.parametrize("args", [(0, 5, 10.0, 1), (3, 0, 10.0, 1), (3, 5, 0.0, 1), (3, 5, 10.0, 0)])
def test_bad_arguments_raise(args):
  with pytest.raises(ValueError, match="capture_schedule"):
    capture.capture_schedule(np.random.default_rng(0), *args)


def test_too_many_bursts_raise():
  with pytest.raises(ValueError, match="do not fit"):
    capture.capture_schedule(np.random.default_rng(0), 200, 6000, 10.0, 1)


def test_same_hours_schedule_takes_each_bursts_hour_on_other_days():
  scored = capture.capture_schedule(np.random.default_rng(3), 6, 5, 10.0, num_days=2)
  frames = capture.same_hours_schedule(np.random.default_rng(4), scored, per_burst=4, num_days=8, spread_s=600.0)
  assert len(frames) == 24 and all(len(b.frame_times) == 1 for b in frames)
  starts = np.array([b.start_seconds for b in frames])
  assert np.all(np.diff(starts) >= 0)
  scored_days = {int(b.start_seconds // capture.SECONDS_PER_DAY) for b in scored}
  days = (starts // capture.SECONDS_PER_DAY).astype(int)
  assert not scored_days & set(days.tolist())
  for burst in scored:
    # Each scored burst has 4 frames on 4 distinct days within 10 minutes of its hour.
    near = np.abs(np.array([b.hour_of_day for b in frames]) - burst.hour_of_day) <= 600.0 / 3600.0 + 1e-9
    assert near.sum() >= 4 and len(set(days[near].tolist())) >= 4
  with pytest.raises(ValueError, match="same_hours_schedule"):
    capture.same_hours_schedule(np.random.default_rng(0), scored, per_burst=9, num_days=8)
