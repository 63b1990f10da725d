"""People and cars calibrating one camera together: recovery where boxes of people alone cannot,
the joint Jacobian against finite differences, 'auto''s choice and its fallback, concatenation."""

import dataclasses
import math

import numpy as np
import pytest

from walt3d_jax.geometry import calibrate as C
from walt3d_jax.sim import calibration_tracks
from walt3d_jax.sim import presets

SIZE = (640, 360)
RIG = presets.PRESETS['intersection'](2).rig
FOCAL = 0.5 * SIZE[0] / math.tan(0.5 * RIG.hfov)


@pytest.fixture(scope='module')
def people():
  # Boxes only, as the built-in detector gives them (it has no keypoints).
  return C.synthetic_people(RIG.height, RIG.pitch, RIG.hfov, SIZE, RIG.roll, 30,
                            np.random.default_rng(102), keypoints=False)


@pytest.fixture(scope='module')
def cars(people):
  # A time-lapse's 1 s bursts of the preset's traffic, track ids past the people's.
  obs = calibration_tracks.car_tracks('intersection', 2, SIZE, num_bursts=6, frames_per_burst=10)
  return dataclasses.replace(obs, track_id=obs.track_id + people.track_id.max() + 1)


@pytest.fixture(scope='module')
def both(people, cars):
  return C.Observations.concatenate([people, cars])


def _errors(res: C.CalibrationResult) -> tuple[float, float, float, float]:
  """f (fraction), height (fraction), tilt (°), horizon (fraction of the image height)."""
  return (res.focal_px / FOCAL - 1, res.height_m / RIG.height - 1,
          math.degrees(res.pitch_rad - RIG.pitch),
          (res.horizon_row - C.horizon_row(FOCAL, RIG.pitch, RIG.roll, SIZE)) / SIZE[1])


def test_people_boxes_and_cars_together_meet_the_goals_where_the_boxes_alone_miss(both):
  # Measured on this scene and seed: people's boxes alone f -28 %, height -19 %, tilt +5.9°,
  # horizon +7.3 %H (f -20 %, horizon +4.1 %H since person fragments are dropped); the cars
  # alone height +4.7 %, horizon -1.4 %H; together f +0.7 %, height +3.4 %, tilt +0.2°, horizon
  # -1.06 %H. The joint cost is flat enough that the solver's stopping
  # point moves the horizon by a few tenths of a %H (-0.76 %H with the cars' clock started
  # 10^4 s later), so the horizon is held to 1.5 %H here, the goal's 1 %H not.
  res = C.calibrate(both)  # 'auto': both classes have enough tracks
  assert res.source == 'people+cars'
  assert res.num_tracks > 30  # the 30 people's and the cars'
  f, h, tilt, horizon = _errors(res)
  assert abs(f) < 0.10 and abs(h) < 0.10 and abs(tilt) < 2. and abs(horizon) < 0.015, (f, h, tilt, horizon)
  # Its focal length rests on the cars (the people have no keypoints): said.
  assert any(flag.startswith('people without keypoints') for flag in res.flags), res.flags
  f, h, tilt, horizon = _errors(C.calibrate(both, C.CalibrationConfig(use='people')))
  assert abs(f) > 0.10 and abs(horizon) > 0.01, (f, horizon)  # misses the goals


def test_joint_jacobian_matches_finite_differences(people, cars):
  config = C.CalibrationConfig()
  few = lambda obs, n: obs.select(np.isin(obs.track_id, np.unique(obs.track_id)[:n]))
  p = C._people_data(few(C._usable(people, C.PERSON, config), 3), config)
  c = C._car_data(few(C._car_subsample(C._usable(cars, C.CAR, config), config,
                                       np.random.default_rng(0)), 4), config)
  assert c.moving.sum() >= 2  # the road-angle rows are there
  data = C._JointData(p, c)
  theta = np.concatenate([[math.log(FOCAL * 1.1), math.log(RIG.height * 0.9), RIG.pitch + 0.02,
                           0.01, 1.72], np.full(p.num_tracks, 1.7),
                          np.zeros(C._CAR_MOTION * c.num_pieces), np.tile(C.CAR_SIZE_M, c.num_tracks)])
  car_theta = data.split(theta)[1]
  C._place_cars(car_theta, c, SIZE)
  theta[C._NUM_CAMERA + 1 + p.num_tracks:] = car_theta[C._NUM_CAMERA:]
  r = C._joint_residuals(theta, data, SIZE)
  J = C._joint_jacobian(theta, data, SIZE)
  assert J.shape == (len(r), len(theta))
  assert len(r) == data.num_people_data + data.num_car_data + data.num_priors
  numeric = np.zeros_like(J)
  for j in range(len(theta)):
    step = 1e-6 * max(1., abs(theta[j]))
    hi, lo = theta.copy(), theta.copy()
    hi[j] += step
    lo[j] -= step
    numeric[:, j] = (C._joint_residuals(hi, data, SIZE) - C._joint_residuals(lo, data, SIZE)) / (2 * step)
  # The road-angle rows leave out their dependence on every heading through the dominant road
  # direction (as an IRLS step would; with M moving pieces their own column is off by about
  # 1/M): the cars' own approximation, left out here.
  roads = data.num_people_data + 4 * len(c.track) + np.arange(int(c.moving.sum()))
  others = np.setdiff1d(np.arange(len(r)), roads)
  np.testing.assert_allclose(J[others], numeric[others], atol=2e-3 * np.abs(numeric).max())


def test_auto_uses_the_class_that_has_enough_tracks(people, cars):
  few_cars = cars.select(np.isin(cars.track_id, np.unique(cars.track_id)[:2]))
  res = C.calibrate(C.Observations.concatenate([people, few_cars]))
  assert res.source == 'people'
  with pytest.raises(C.CalibrationError, match=r'too few cars: 2 tracks'):
    C.calibrate(C.Observations.concatenate([people, few_cars]), C.CalibrationConfig(use='both'))


def test_a_class_that_refuses_is_left_out_and_flagged(people, cars):
  # Every car's box bottom on one row: no ground is seen through the cars.
  box = cars.box.copy()
  box[:, 1] = 200. - box[:, 3]
  flat = dataclasses.replace(cars, box=box)
  res = C.calibrate(C.Observations.concatenate([people, flat]))
  assert res.source == 'people'
  assert any(f.startswith('cars left out of the calibration: no vertical spread: the feet of the cars')
             for f in res.flags), res.flags


def test_concatenate_checks_its_parts(people, cars):
  both = C.Observations.concatenate([people, cars])
  assert len(both) == len(people) + len(cars) and both.keypoints is None
  with_kp = C.synthetic_people(RIG.height, RIG.pitch, RIG.hfov, SIZE, RIG.roll, 2,
                               np.random.default_rng(0))
  with_kp = dataclasses.replace(with_kp, track_id=with_kp.track_id + 10_000)
  mixed = C.Observations.concatenate([with_kp, cars])
  assert mixed.keypoints.shape == (len(mixed), 17, 3) and np.all(mixed.keypoints[len(with_kp):] == 0)
  with pytest.raises(ValueError, match='share track ids'):
    C.Observations.concatenate([people, people])
  other = dataclasses.replace(cars, image_size=(320, 180))
  with pytest.raises(ValueError, match='one image size'):
    C.Observations.concatenate([people, other])
  with pytest.raises(ValueError, match='no observations'):
    C.Observations.concatenate([])


def test_use_must_be_known(both):
  with pytest.raises(C.CalibrationError, match=r"field 'use': expected auto, people, cars, both or people_first, got 'all'"):
    C.calibrate(both, C.CalibrationConfig(use='all'))


def test_people_first_takes_the_scale_from_people_under_a_prior(people, cars):
  """Under the lines' prior the tracks give the scale. Car boxes 30 % too large (a camera-less
  detector's queues and shadows) pull 'auto''s joint fit off; 'people_first' takes the people
  alone. With too few people it falls back to 'auto', flagged; without a prior it is 'auto'."""
  cov = np.diag([0.01, math.radians(0.2), math.radians(0.2)]) ** 2
  prior = C.CameraPrior(np.array([math.log(FOCAL), RIG.pitch, RIG.roll]), cov, 'scene lines')
  box = cars.box.copy()
  box[:, 0] -= 0.15 * box[:, 2]
  box[:, 1] -= 0.3 * box[:, 3]
  box[:, 2:] *= 1.3  # bottom centre kept
  large = C.Observations.concatenate([people, dataclasses.replace(cars, box=box)])
  first = C.calibrate(large, C.CalibrationConfig(use='people_first'), prior=prior)
  auto = C.calibrate(large, prior=prior)
  assert first.source == 'people+scene lines' and auto.source == 'people+cars+scene lines'
  h_first, h_auto = first.height_m / RIG.height - 1, auto.height_m / RIG.height - 1
  assert abs(h_first) < 0.08 and abs(h_auto) > 2 * abs(h_first), (h_first, h_auto)
  few = people.select(np.isin(people.track_id, np.unique(people.track_id)[:2]))
  fallback = C.calibrate(C.Observations.concatenate([few, cars]), C.CalibrationConfig(use='people_first'),
                         prior=prior)
  assert fallback.source == 'cars+scene lines'
  assert any(f.startswith('the scale rests on cars, not on people alone (too few people: 2 tracks')
             for f in fallback.flags), fallback.flags
  unprimed = C.calibrate(large, C.CalibrationConfig(use='people_first'))
  assert unprimed.source == 'people+cars' and unprimed.height_m == C.calibrate(large).height_m
