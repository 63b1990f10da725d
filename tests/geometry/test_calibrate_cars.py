"""Car-only self-calibration: recovery on a simulated preset's traffic, the car pieces, the size
prior against the simulator's meshes, refusals, the flag."""

import dataclasses
import math

import numpy as np
import pytest

from walt3d_jax.geometry import calibrate as C
from walt3d_jax.sim import calibration_tracks
from walt3d_jax.sim import presets

SIZE = (640, 360)


@pytest.fixture(scope='module')
def intersection_cars():
  return calibration_tracks.car_tracks('intersection', 0, SIZE, num_bursts=6, frames_per_burst=8)


@pytest.fixture(scope='module')
def intersection_video_cars():
  # Continuous tracks, as from a video: cars cross the view in about 6 s, turn and queue.
  return calibration_tracks.car_tracks('intersection', 0, SIZE, num_bursts=2, frames_per_burst=60)


def test_cars_alone_calibrate_the_intersection(intersection_video_cars):
  obs = intersection_video_cars
  assert set(np.unique(obs.category)) == {C.CAR} and len(np.unique(obs.track_id)) >= 15
  res = C.calibrate(obs)  # 'auto' falls back to cars: there are no people
  rig = presets.PRESETS['intersection'](0).rig
  f = 0.5 * SIZE[0] / math.tan(0.5 * rig.hfov)
  assert res.source == 'cars'
  # Issue 11's goals: focal and height within 10 %, tilt within 2°; the horizon within 2 % of the
  # image height (measured 1.2 %; the goal of 1 % is not met from cars alone). One straight
  # line per whole track (car_piece_s=1000) misses the focal length by 15 % and the horizon by 4 %.
  assert abs(res.focal_px / f - 1) < 0.10, res.focal_px / f
  assert abs(res.height_m / rig.height - 1) < 0.10, res.height_m
  assert abs(math.degrees(res.pitch_rad - rig.pitch)) < 2.
  assert abs(res.horizon_row - C.horizon_row(f, rig.pitch, rig.roll, SIZE)) < 0.02 * SIZE[1]
  # Two road directions cross here: no one-direction flag; car-only is always flagged as weak.
  assert not any('one road direction' in flag for flag in res.flags), res.flags
  assert any('car-only' in flag for flag in res.flags)


def test_car_tracks_are_cut_into_equal_pieces():
  # Track 7: 10 s at 10 fps; track 3: 1.4 s (one piece); track 5: 1.6 s (two of 0.8 s).
  time = np.concatenate([np.arange(101) / 10., np.arange(15) / 10., 50. + np.arange(17) / 10.])
  track = np.repeat([7, 3, 5], [101, 15, 17])
  obs = C.Observations(track, np.arange(len(time)), time, np.full(len(time), C.CAR),
                       np.ones((len(time), 4)), None, SIZE)
  piece = C._car_pieces(obs, 1.)
  assert [len(np.unique(piece[track == t])) for t in (7, 3, 5)] == [10, 1, 2]
  assert np.bincount(piece[track == 7]).max() <= 11 and np.all(np.diff(piece[track == 7]) >= 0)
  assert sorted(np.bincount(piece[track == 5])[-2:]) == [8, 9]
  # Pieces are numbered by track, then time: track 3's one piece comes first.
  assert np.all(piece[track == 3] == 0)
  kept = C._car_subsample(obs, C.CalibrationConfig(max_car_pieces=4, max_observations_per_track=3),
                          np.random.default_rng(0))
  kept_piece = C._car_pieces(kept, 1.)
  assert len(np.unique(kept_piece[kept.track_id == 7])) == 4  # of 10, the first and last kept
  assert kept.time[kept.track_id == 7].min() == 0. and kept.time[kept.track_id == 7].max() == 10.
  assert np.bincount(kept_piece).max() <= 3


def test_car_size_prior_is_the_templates_size_of_the_simulated_cars():
  # Refits car_template's length, width and height to box like each of shapes.vehicle's cars
  # (the support function over view directions looking down 5-60°); the prior's mean must be
  # their average over the five body types. A van boxes like a taller sedan.
  from scipy import optimize, spatial
  from walt3d_jax.shapes import vehicle
  template = C.car_template()
  dirs = []
  for down in np.radians([5., 20., 35., 50., 60.]):
    for around in np.radians(np.arange(0., 360., 30.)):
      ahead = np.array([math.cos(down) * math.cos(around), math.cos(down) * math.sin(around),
                        -math.sin(down)])
      right = np.array([math.sin(around), -math.cos(around), 0.])
      for u in (right, np.cross(ahead, right)):
        dirs += [u, -u]
  dirs = np.array(dirs)
  rng = np.random.default_rng(0)
  fitted, own = [], []
  for body in vehicle.BODY_TYPES:
    for _ in range(6):
      params = vehicle.sample_car_params(rng, body)
      verts = vehicle.car_mesh(params).vertices
      support = (dirs @ verts[spatial.ConvexHull(verts).vertices].T).max(1)
      dims = np.array(vehicle.car_dimensions(params))
      fit = optimize.least_squares(lambda d: ((dirs * d) @ template.T).max(1) - support, dims)
      fitted.append(fit.x)
      own.append(dims)
  fitted, own = np.mean(fitted, 0), np.mean(own, 0)
  np.testing.assert_allclose(fitted, C.CAR_SIZE_M, rtol=0.025)
  assert fitted[2] > own[2] + 0.07  # the cars' own heights would be the wrong prior


def test_no_moving_objects_is_refused():
  empty = C.Observations(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0),
                         np.zeros(0, np.int64), np.zeros((0, 4)), None, SIZE)
  with pytest.raises(C.CalibrationError, match='too few tracks'):
    C.calibrate(empty)


def test_one_object_is_refused(intersection_cars):
  obs = intersection_cars
  one = obs.select(obs.track_id == obs.track_id[0])
  with pytest.raises(C.CalibrationError, match='1 car tracks'):
    C.calibrate(one)
  with pytest.raises(C.CalibrationError, match='too few cars'):
    C.calibrate(one, C.CalibrationConfig(use='cars'))


def test_cars_seen_upside_down_have_no_ground(intersection_cars):
  # A camera looking at the sky (here: the image flipped): boxes grow towards the top.
  obs = intersection_cars
  box = obs.box.copy()
  box[:, 1] = SIZE[1] - box[:, 1] - box[:, 3]
  with pytest.raises(C.CalibrationError, match='sky'):
    C.calibrate(dataclasses.replace(obs, box=box))


def test_direction_spread():
  tracks = np.zeros((4, 7))
  tracks[:, 3] = 10.
  tracks[:, 2] = [0., math.pi, 0.05, -0.05]  # one road, both ways
  assert C._direction_spread(tracks) < math.radians(5.)
  tracks[2:, 2] = math.pi / 2  # a crossing road
  assert C._direction_spread(tracks) > math.radians(30.)
  tracks[:, 3] = 0.  # nothing moves: no direction at all
  assert C._direction_spread(tracks) == 0.


@pytest.mark.parametrize('field', [dict(car_piece_s=0.), dict(car_piece_s=-1.), dict(max_car_pieces=0)])
def test_bad_piece_settings_are_refused(intersection_cars, field):
  with pytest.raises(C.CalibrationError, match='car_piece_s > 0 and max_car_pieces >= 1'):
    C.calibrate(intersection_cars, C.CalibrationConfig(use='cars', **field))
