"""Background model: median under moving blobs, memory bound, time-of-day buckets, noise."""

import numpy as np
import pytest

from walt3d_jax.timelapse import background
from walt3d_jax.timelapse.types import Frame

NOON, MIDNIGHT = 12 * 3600.0, 86400.0


def _scene(rng, height=36, width=48):
  return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def _with_blobs(bg, rng, t):
  """bg with two solid blobs sweeping across it (each covers a pixel in few frames)."""
  image = bg.copy()
  height, width = bg.shape[:2]
  for k, colour in enumerate(([255, 0, 0], [0, 0, 255])):
    x = (5 * t + 17 * k) % width
    y = (3 * t + 11 * k) % height
    image[y:y + 8, x:x + 8] = colour
  return image


def test_median_recovers_the_static_scene_under_moving_blobs():
  rng = np.random.default_rng(0)
  bg = _scene(rng)
  model = background.BackgroundModel(background.BackgroundConfig(max_samples=15))
  for t in range(15):
    model.update(Frame(t, NOON + t, _with_blobs(bg, rng, t), f"{t}"))
  np.testing.assert_array_equal(model.median("day"), bg)
  # The blobs are large outliers in a few samples: the median, not the mean, removes them.
  frames = np.stack([_with_blobs(bg, rng, t) for t in range(15)]).astype(float)
  assert np.abs(frames.mean(0) - bg).max() > 20


def test_noise_estimate_matches_gaussian_sensor_noise():
  rng = np.random.default_rng(1)
  bg = np.full((40, 50, 3), 120, np.uint8)
  model = background.BackgroundModel(background.BackgroundConfig(max_samples=30))
  for t in range(30):
    noisy = np.clip(bg + rng.normal(0, 5.0, bg.shape), 0, 255).round().astype(np.uint8)
    model.update(Frame(t, NOON + t, noisy, f"{t}"))
  assert np.median(model.noise("day")) == pytest.approx(5.0, rel=0.15)
  # Median of 30 samples: std ≈ 1.25 σ / √30 ≈ 1.1 grey levels.
  error = model.median("day").astype(float) - 120
  assert error.std() < 1.6 and np.abs(error).max() <= 7


def test_memory_bound_and_uniform_reservoir():
  config = background.BackgroundConfig(max_samples=8, seed=3)
  model = background.BackgroundModel(config)
  height, width = 12, 16
  bound = background.BackgroundModel.max_nbytes(config, width, height)
  for t in range(300):
    # The frame's value is its index mod 256, so the median tells which frames were kept.
    model.update(Frame(t, NOON + t, np.full((height, width, 3), t % 250, np.uint8), f"{t}"))
    assert model.nbytes <= bound
  assert model.seen("day") == 300 and model.stored("day") == 8
  model.median("day"), model.noise("day")
  assert model.nbytes <= bound
  # One bucket used: exactly its reservoir plus caches.
  assert model.nbytes == (8 + 1) * height * width * 3 + height * width * 4
  # Algorithm R keeps a uniform sample of the whole stream, not the first 8 frames.
  kept = np.unique(model._samples["day"][:, 0, 0, 0])
  assert kept.max() > 50 and len(kept) >= 6


def test_buckets_are_kept_apart_and_wrap_past_midnight():
  config = background.BackgroundConfig(start_hour=6.0)
  model = background.BackgroundModel(config)
  assert model.bucket_of(0.0) == "dawn"  # 06:00
  assert model.bucket_of(6 * 3600.0) == "day"  # 12:00
  assert model.bucket_of(15 * 3600.0) == "night"  # 21:00
  assert model.bucket_of(20 * 3600.0 + MIDNIGHT) == "night"  # 02:00 next day
  bright, dark = np.full((6, 8, 3), 200, np.uint8), np.full((6, 8, 3), 20, np.uint8)
  for t in range(5):
    assert model.update(Frame(t, 6 * 3600.0 + t, bright, "d")) == "day"
    assert model.update(Frame(t, 15 * 3600.0 + t, dark, "n")) == "night"
  assert (model.median("day") == 200).all() and (model.median("night") == 20).all()
  with pytest.raises(ValueError, match="'dusk' has no frames"):
    model.median("dusk")
  with pytest.raises(ValueError, match="unknown bucket"):
    model.median("noon")


def test_bad_inputs_raise_clear_errors():
  with pytest.raises(ValueError, match="each hour once"):
    background.BackgroundConfig(buckets=(("a", 0, 12), ("b", 11, 24)))
  with pytest.raises(ValueError, match="each hour once"):
    background.BackgroundConfig(buckets=(("a", 0, 12), ("b", 13, 24)))
  with pytest.raises(ValueError, match="max_samples"):
    background.BackgroundConfig(max_samples=0)
  custom = background.BackgroundConfig(buckets=(("light", 7, 19), ("dark", 19, 7)))
  assert background.BackgroundModel(custom).bucket_of(3 * 3600.0) == "dark"
  model = background.BackgroundModel()
  model.update(Frame(0, NOON, np.zeros((6, 8, 3), np.uint8), "a"))
  with pytest.raises(ValueError, match="'b' is \\(7, 8\\)"):
    model.update(Frame(1, NOON, np.zeros((7, 8, 3), np.uint8), "b"))
  with pytest.raises(ValueError, match="uint8"):
    model.update(Frame(1, NOON, np.zeros((6, 8, 3), np.float32), "c"))
  with pytest.raises(ValueError, match="finite"):
    model.bucket_of(np.nan)


def test_state_restores_the_model_exactly():
  """A model rebuilt from `state()` (pickled, as the mine job keeps it) and fed the rest of the
  frames equals one fed them all: reservoir slots and random replacements alike."""
  import pickle

  rng = np.random.default_rng(3)
  bg = _scene(rng)
  config = background.BackgroundConfig(max_samples=3)
  frames = [Frame(t, NOON + 60 * t, _with_blobs(bg, rng, t), str(t)) for t in range(12)]
  whole = background.fit_background(frames, config)
  head = background.fit_background(frames[:5], config)
  resumed = background.BackgroundModel.from_state(config, pickle.loads(pickle.dumps(head.state())))
  for frame in frames[5:]:
    resumed.update(frame)
  np.testing.assert_array_equal(resumed.median("day"), whole.median("day"))
  np.testing.assert_array_equal(resumed.state()["samples"]["day"], whole.state()["samples"]["day"])
  assert resumed.seen("day") == 12


def _lit(bg: np.ndarray, gain: float) -> np.ndarray:
  return np.clip(bg.astype(float) * gain, 0, 255).round().astype(np.uint8)


def test_frame_background_takes_samples_under_the_frames_light_from_other_moments():
  """Two kinds of light through one bucket (the sun moves within it): the bucket median mixes
  them, the frame's own background is the median of the samples under its light, and samples
  taken within exclude_s of the frame (its burst, with the same parked object) are left out."""
  rng = np.random.default_rng(4)
  bg = _scene(rng)
  config = background.BackgroundConfig(max_samples=40, neighbours=7, exclude_s=60.0)
  model = background.BackgroundModel(config)
  for t in range(24):
    gain = 0.5 if t % 3 == 0 else 1.0  # a third of the bursts in shade
    model.update(Frame(t, NOON + 600.0 * t, _with_blobs(_lit(bg, gain), rng, t), f"{t}"))
  # The burst of the frame: its own frames are the nearest in light (the sun a little brighter
  # than on other days), and a parked car at the top-left in each.
  frame = _lit(bg, 0.53)
  frame[:10, :12] = [10, 200, 10]
  for k in range(5):
    model.update(Frame(100 + k, NOON + 600.0 * 30 + k, frame, f"burst{k}"))
  median, noise = model.frame_background(NOON + 600.0 * 30 + 1, frame)
  np.testing.assert_array_equal(median, _lit(bg, 0.5))  # the car is not in it; the sunlit samples neither
  assert median.shape == bg.shape and noise.shape == bg.shape[:2] and noise.dtype == np.float32
  assert np.abs(model.median("day").astype(float) - _lit(bg, 0.5)).mean() > 10  # the bucket median is sunlit
  sunlit, _ = model.frame_background(NOON + 600.0 * 30 + 1, _lit(bg, 1.0))
  assert np.all(sunlit == _lit(bg, 1.0), axis=2).mean() > 0.99  # blobs may meet in a few pixels
  # Without an image, the nearest in hour of day; with neighbours=0, the bucket's median.
  assert model.frame_background(NOON)[0].shape == bg.shape
  zero = background.BackgroundModel.from_state(
      background.BackgroundConfig(max_samples=40, neighbours=0), model.state())
  np.testing.assert_array_equal(zero.frame_background(NOON, frame)[0], zero.median("day"))
  # A restored model picks the same neighbours (sample times are part of the state).
  again = background.BackgroundModel.from_state(config, model.state())
  np.testing.assert_array_equal(again.frame_background(NOON + 600.0 * 30 + 1, frame)[0], median)
  # The samples the median is taken of: shaded ones, none of the frame's burst (no parked car).
  samples = model.frame_samples(NOON + 600.0 * 30 + 1, frame)
  assert samples.dtype == np.uint8 and samples.shape[1:] == bg.shape and 3 <= len(samples) <= 7
  np.testing.assert_array_equal(np.rint(np.median(samples, axis=0)).astype(np.uint8), median)
  assert not np.all(samples[:, :10, :12] == [10, 200, 10], axis=-1).all(axis=(1, 2)).any()
  both = model.frame_background_and_samples(NOON + 600.0 * 30 + 1, frame)
  np.testing.assert_array_equal(both[0], median)
  np.testing.assert_array_equal(both[2], samples)
  assert len(zero.frame_samples(NOON - 3600.0, frame)) == zero.stored("day")
  # Footage that is one moment (a short video): no sample of another moment.
  short = background.BackgroundModel(config)
  for k in range(8):
    short.update(Frame(k, NOON + k, _with_blobs(bg, rng, k), f"v{k}"))
  assert short.frame_samples(NOON + 3, bg).shape == (0, *bg.shape)
  assert len(short.frame_samples(NOON + 600.0, bg)) >= 3
  with pytest.raises(ValueError, match="no frames fed yet"):
    background.BackgroundModel(config).frame_background(NOON, frame)
  with pytest.raises(ValueError, match="not a frame of the model's size"):
    model.frame_background(NOON, frame[:10])
  with pytest.raises(ValueError, match="neighbours"):
    background.BackgroundConfig(neighbours=-1)


def test_mode_keeps_the_road_where_most_samples_hold_different_cars():
  rng = np.random.default_rng(5)
  road = np.full((6, 8, 3), 90, np.uint8)
  sample = np.stack([np.clip(road + rng.normal(0, 2, road.shape), 0, 255).astype(np.uint8) for _ in range(12)])
  sample[:7, :3, :4] = rng.integers(140, 256, (7, 1, 1, 3))  # 7 of 12 samples: a car, each its own colour
  noise = np.full(road.shape[:2], 2.0, np.float32)
  mode = background._mode_of(sample, noise, [slice(0, 6)])
  assert np.abs(mode.astype(int) - 90).max() <= 3
  assert np.abs(np.median(sample, axis=0)[:3, :4] - 90).min() > 30  # the median takes a car


def test_block_mode_keeps_the_road_of_a_busy_lane_where_the_median_blends_its_cars():
  """A lane busy at every hour: each of 6 samples holds a car (its own colour) somewhere in it,
  every pixel of the lane has a car in half of them, so the per-pixel median is a blend of cars
  (a ghost); in each block the samples showing the road agree, and the block mode is the road."""
  rng = np.random.default_rng(6)
  height, width = 24, 320  # blocks of 8 px (1/40 of the width)
  road = rng.integers(60, 120, (height, width, 3)).astype(np.uint8)
  samples = np.stack([np.clip(road + rng.normal(0, 2, road.shape), 0, 255).astype(np.uint8) for _ in range(6)])
  lane = slice(8, 16)
  for k in range(6):  # cars 40 px long: the even samples' and the odd ones' stretches alternate
    for x in range(40 * (k % 2), width, 80):
      samples[k, lane, x:x + 40] = rng.integers(150, 256, 3)
  noise = np.full((height, width), 2.0, np.float32)
  blocks = background._block_mode_of(samples, noise)
  assert np.abs(blocks.astype(int) - road).mean(axis=2).max() <= 4  # the road everywhere
  median = np.rint(np.median(samples, axis=0))
  assert np.abs(median[lane] - road[lane]).mean(axis=2).min() > 15  # the median blends two cars in
  # Through the model: a frame's own background with each estimator.
  ghost = {}
  for name in ("blocks", "median"):
    config = background.BackgroundConfig(max_samples=6, neighbours=6, exclude_s=0., estimator=name)
    frames = [Frame(t, NOON + 600. * t, image, f"{t}") for t, image in enumerate(samples)]
    model = background.fit_background(frames, config)
    ghost[name] = np.abs(model.frame_background(NOON + 9000., road)[0][lane].astype(int) - road[lane]).mean()
  assert ghost["blocks"] < 3 and ghost["median"] > 15
  assert background.BackgroundConfig().estimator == "blocks"


def test_neighbours_come_from_several_moments():
  times = np.array([0., 1., 2., 3., 4., 5., 1000., 2000., 3000.])
  order = np.arange(9)  # the burst at t = 0..5 s looks most like the frame
  chosen = background._diverse(order, times, 8, 120.0)
  assert list(chosen) == [0, 1, 6, 7, 8]  # at most ceil(8 / 4) = 2 from the burst
  assert list(background._diverse(order[:6], times, 8, 120.0)) == [0, 1, 2]  # one moment: 3 at least
  with pytest.raises(ValueError, match="estimator"):
    background.BackgroundConfig(estimator="mean")
