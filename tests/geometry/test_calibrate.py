"""Self-calibration from people: recovery on every preset's rig, refusals, the file, the picture."""

import dataclasses
import json
import math

import numpy as np
import pytest

from walt3d_jax.errors import UserError
from walt3d_jax.geometry import calibrate as C
from walt3d_jax.geometry import calibration_report
from walt3d_jax.geometry import camera as camera_lib
from walt3d_jax.sim import presets

SIZE = (640, 360)
# Acceptance goals of the "Real footage" issue.
FOCAL_GOAL, HEIGHT_GOAL, TILT_GOAL_DEG = 0.10, 0.10, 2.0
# Measured horizon error with detection noise is up to 2.4 % of the image height over the
# benchmark's seeds and 5.9 % on this test's seed (goal 1 %, not met: the spread of statures
# over 30 one-second tracks; see benchmarks/calibrate.py); the test guards against regressions
# beyond 8 %.
HORIZON_BOUND = 0.08


def _rig(name):
  return presets.PRESETS[name](0).rig


def _people(name, seed=1, tracks=30, **kwargs):
  rig = _rig(name)
  return C.synthetic_people(rig.height, rig.pitch, rig.hfov, SIZE, rig.roll, tracks,
                            np.random.default_rng(seed), **kwargs)


def test_camera_helpers_match_mounted_camera():
  f, height, pitch, roll = 500., 9., math.radians(30.), math.radians(3.)
  cam = camera_lib.mounted_camera(height, pitch, 2 * math.atan(SIZE[0] / (2 * f)), SIZE, roll)
  np.testing.assert_allclose(np.asarray(cam.normal), C.rotation(pitch, roll)[:, 2], atol=1e-6)
  np.testing.assert_allclose(np.asarray(cam.K), C.intrinsics(f, SIZE), rtol=1e-5)
  # The horizon is the image of far ground points.
  far = np.array([[1e6, 2e5, 0.], [1e6, -2e5, 0.]])
  cam_pts = (far - [0., 0., height]) @ C.rotation(pitch, roll).T
  uv = cam_pts @ C.intrinsics(f, SIZE).T
  uv = uv[:, :2] / uv[:, 2:]
  for u, v in uv:
    assert abs(C.horizon_row(f, pitch, roll, SIZE, u) - v) < 0.05


@pytest.fixture(scope='module', params=sorted(presets.PRESETS))
def calibrated(request):
  obs = _people(request.param)
  return request.param, C.calibrate(obs)


def test_recovers_every_preset_from_people_with_detection_noise(calibrated):
  name, res = calibrated
  rig = _rig(name)
  f = 0.5 * SIZE[0] / math.tan(0.5 * rig.hfov)
  horizon = C.horizon_row(f, rig.pitch, rig.roll, SIZE)
  assert abs(res.focal_px / f - 1) < FOCAL_GOAL, (res.focal_px, f)
  assert abs(res.height_m / rig.height - 1) < HEIGHT_GOAL, (res.height_m, rig.height)
  assert abs(math.degrees(res.pitch_rad - rig.pitch)) < TILT_GOAL_DEG
  assert abs(math.degrees(res.roll_rad - rig.roll)) < TILT_GOAL_DEG
  assert abs(res.horizon_row - horizon) < HORIZON_BOUND * SIZE[1]
  assert not res.flags
  assert res.num_inliers > 0.7 * res.num_observations
  # Standard errors exist, are finite and not absurd.
  for key, value in res.std.items():
    assert np.isfinite(value) and value > 0, key
  assert res.std['focal_px'] < 0.15 * res.focal_px


def test_many_tracks_keep_the_scale_of_the_stature_prior():
  # The stature priors are quadratic: under the Cauchy loss their cost was capped, and with
  # 100 tracks camera height and statures shrank together to a 0.1 m camera (refused).
  rig = _rig('intersection')
  res = C.calibrate(_people('intersection', seed=100, tracks=100))
  assert abs(res.height_m / rig.height - 1) < HEIGHT_GOAL, res.height_m


def test_boxes_alone_are_flagged_when_weak():
  res = C.calibrate(_people('avenue', keypoints=False))
  assert res.flags and any('focal length' in flag for flag in res.flags)


@pytest.mark.parametrize('log_height, cost, ok', [
    (math.log(6.), 1., True), (math.log(0.5), 1., False), (800., 1., False),  # exp() overflows
    (float('nan'), 1., False), (math.log(6.), float('inf'), False)])
def test_a_solve_that_ran_off_is_dropped_not_overflowed(log_height, cost, ok):
  x = np.array([math.log(500.), log_height, 0.3, 0.])
  res = C._Solution(x=x, fun=np.zeros(1), jac=np.zeros((1, 4)), weights=np.ones(1), cost=cost,
                    iterations=1)
  assert C._stands_high(res) is ok


def test_fragments_of_people_are_dropped_cars_and_short_tracks_kept():
  # A person walking away (boxes 60 -> 50 px over 12 frames) with its legs lost in frame 5 and
  # its head in frame 9; a car track with a short box; a 2-observation person track; untracked
  # people (track id -1) of any heights, which are no track.
  n = 12
  height = np.linspace(60., 50., n)
  height[5] *= 0.6
  height[9] *= 0.8
  person = np.stack([np.full(n, 100.), np.full(n, 50.), np.full(n, 20.), height], 1)
  car = person.copy()
  car[:, 2] = 80.
  untracked = person[:4].copy()
  untracked[:, 3] = [60., 20., 60., 60.]
  boxes = np.concatenate([person, car, person[:2], untracked])
  track = np.repeat([1, 2, 3, -1], [n, n, 2, 4])
  frames = np.concatenate([np.arange(n), np.arange(n), np.arange(2), np.arange(4)])
  obs = C.Observations(track, frames, frames / 10., np.repeat([C.PERSON, C.CAR, C.PERSON, C.PERSON],
                                                              [n, n, 2, 4]),
                       boxes, None, (640, 360))
  kept = C.drop_fragments(obs, C.CalibrationConfig())
  dropped = set(zip(obs.track_id.tolist(), obs.frame.tolist())) - set(
      zip(kept.track_id.tolist(), kept.frame.tolist()))
  assert dropped == {(1, 5), (1, 9)}
  assert len(C.drop_fragments(obs, C.CalibrationConfig(fragment_ratio=0.))) == len(obs)


def test_too_few_people_is_refused():
  obs = _people('intersection', tracks=2)
  with pytest.raises(C.CalibrationError, match='too few tracks.*2 person tracks'):
    C.calibrate(obs)
  with pytest.raises(C.CalibrationError, match='too few people'):
    C.calibrate(obs, C.CalibrationConfig(use='people'))


def test_all_feet_on_one_row_is_refused():
  obs = _people('intersection', tracks=12)
  box = obs.box.copy()
  box[:, 1] = 200. - box[:, 3]  # every bottom edge on row 199.5
  with pytest.raises(C.CalibrationError, match='no vertical spread'):
    C.calibrate(dataclasses.replace(obs, box=box))


def test_camera_looking_at_the_sky_is_refused():
  # Upside down: people grow towards the top of the image, no ground below a horizon.
  obs = _people('intersection', tracks=12)
  box = obs.box.copy()
  box[:, 1] = SIZE[1] - box[:, 1] - box[:, 3]
  kp = obs.keypoints.copy()
  kp[..., 1] = SIZE[1] - 1 - kp[..., 1]
  with pytest.raises(C.CalibrationError, match='sky'):
    C.calibrate(dataclasses.replace(obs, box=box, keypoints=kp))
  # No perspective at all: same-size boxes everywhere (nothing stands on a ground).
  box = obs.box.copy()
  box[:, 3] = 30.
  with pytest.raises(C.CalibrationError, match='sky'):
    C.calibrate(dataclasses.replace(obs, box=box))


def test_too_few_of_either_class_is_refused_with_the_counts():
  obs = _people('avenue', tracks=2)
  cars = dataclasses.replace(obs, category=np.full(len(obs), C.CAR))
  with pytest.raises(C.CalibrationError, match='2 car tracks'):
    C.calibrate(cars)
  with pytest.raises(UserError, match='too few cars'):
    C.calibrate(_people('avenue', tracks=8), C.CalibrationConfig(use='cars'))


def test_from_coco_reads_annotations():
  entries = [{'track_id': 3, 'image_id': 7, 'category_id': 2, 'bbox': [1, 2, 3, 4],
              'keypoints': [1.] * 51, 'timestamp': 0.7}]
  obs = C.Observations.from_coco(entries, SIZE)
  assert obs.track_id.tolist() == [3] and obs.time.tolist() == [0.7]
  with pytest.raises(C.CalibrationError, match="'bbox'"):
    C.Observations.from_coco([{'track_id': 1, 'image_id': 0, 'category_id': 2}], SIZE)


def test_save_calibration_round_trip(calibrated, tmp_path):
  _, res = calibrated
  path = tmp_path / 'camera.json'
  C.save_calibration(res, path)
  cam = camera_lib.load_camera(path)  # the extra field is accepted
  np.testing.assert_allclose(np.asarray(cam.K), np.asarray(res.camera.K), rtol=1e-5)
  np.testing.assert_allclose(float(cam.offset), res.height_m, rtol=1e-5)
  unc = C.load_uncertainty(path)
  assert set(unc['std']) == {'focal_px', 'height_m', 'pitch_rad', 'roll_rad', 'horizon_row'}
  assert json.loads(path.read_text())['uncertainty']['source'] == 'people'


def test_report_draws_horizon_grid_and_people(calibrated, tmp_path):
  _, res = calibrated
  image = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
  path = tmp_path / 'calibration.png'
  out = calibration_report.write_calibration_report(image, res, path)
  assert path.stat().st_size > 0
  r, g, b = (out[..., i].astype(int) for i in range(3))
  assert ((r > 200) & (g < 120) & (b < 120)).sum() > 50  # people
  assert ((g > 200) & (r < 150) & (b < 150)).sum() > 200  # grid
  if 0 <= res.horizon_row < SIZE[1]:
    assert ((r > 200) & (g > 150) & (b < 60)).sum() > 300  # horizon


def test_head_top_is_the_crown_seen_level_and_behind_it_seen_from_above():
  n = np.array([0., -1., 0.])  # ground up, camera looking level along z
  # The head's centre (crown lowered by walking, less the head's half-height) at the camera's
  # height.
  foot = np.array([[0., (1. - C.WALKING_DROP) * 1.7 - 0.115, 10.]])
  level = C._head_top(foot, n, np.array([1.7]))
  # Seen level: the crown, of a walking person (lower than the stature by WALKING_DROP).
  np.testing.assert_allclose(level[0], foot[0] + (1. - C.WALKING_DROP) * 1.7 * n, atol=1e-9)
  # Seen from 8 m above: the silhouette's top is behind the crown (farther) and below it.
  high = np.array([[0., 8., 10.]])
  top = C._head_top(high, n, np.array([1.7]))[0]
  crown = high[0] + 1.7 * n
  assert top[2] > crown[2] + 0.03 and -top[1] < -crown[1]


def test_foot_reach_is_that_of_the_walking_meshes_and_grows_with_the_view_from_above():
  # FOOT_REACH (per depression angle β) is the mean over gait phase and heading of how far the
  # lowest image point of shapes.person's feet lies in front of the body axis; recomputed on a
  # small sample. A constant reach biased the horizon (near people looked too small).
  from walt3d_jax.shapes import person
  rng = np.random.default_rng(3)
  meshes = [(p[0], person.person_mesh(p, phase).vertices)
            for p in (person.sample_person(rng) for _ in range(6))
            for phase in np.linspace(0., 1., 8, endpoint=False)]
  headings = np.linspace(-np.pi, np.pi, 12, endpoint=False)
  d = np.stack([np.cos(headings), np.sin(headings)], 1)  # towards the camera, object frame
  reach = {}
  for beta in (10., 40.):
    cot = 1. / math.tan(math.radians(beta))
    reach[beta] = np.mean([np.max(v[:, :2] @ d.T - cot * v[:, 2:3], axis=0) / h
                           for h, v in meshes])
    table = np.interp(beta, C.FOOT_REACH_DEPRESSION_DEG, C.FOOT_REACH)
    assert abs(reach[beta] - table) < 0.015, (beta, reach[beta], table)
  assert reach[40.] - reach[10.] > 0.025
  # The model places the axis by the table: a camera looking down harder sees a longer reach.
  K = C.intrinsics(500., SIZE)
  n = C.rotation(math.radians(30.), 0.)[:, 2]
  away, mean, spread = C._foot_reach(K, n, np.array([120., 340.]))
  assert mean[1] > mean[0] and np.all(spread > 0)
  np.testing.assert_allclose(np.linalg.norm(away, axis=1), 1.)
  np.testing.assert_allclose(away @ n, 0., atol=1e-12)


def test_size_cut_expects_the_truncated_mean_near_the_smallest_boxes():
  # Near a detector's least box height the kept boxes are those whose noise made them taller.
  shift = C._truncation_shift(np.array([-20., 0., 20.]), 0., 1.5)
  assert shift[0] == pytest.approx(20., rel=0.01)  # far below the cut: the cut itself
  assert shift[1] == pytest.approx(1.5 * math.sqrt(2. / math.pi))
  assert shift[2] < 1e-6
  # The cut is the smallest box that is not cut from below (occluded: under 85 % of its
  # track's median height).
  height = np.array([30., 31., 32., 12., 14., 15., 16., 7.])
  track = np.array([0, 0, 0, 0, 1, 1, 1, 1])
  cut, sigma = C._size_cut(height, track, C.CalibrationConfig())
  assert cut == 14. and 1.4 < sigma < 1.6


def test_ears_add_a_second_lean():
  obs = _people('intersection', tracks=6)
  data = C._people_data(obs, C.CalibrationConfig())
  kp = obs.keypoints.copy()
  kp[:, [3, 4], 2] = 0.1  # ears not seen
  without = C._people_data(dataclasses.replace(obs, keypoints=kp), C.CalibrationConfig())
  assert len(data.hip) == 2 * len(without.hip) > 0
  np.testing.assert_allclose(data.shoulder[len(without.hip):],
                             0.5 * (obs.keypoints[:, 3, :2] + obs.keypoints[:, 4, :2])[
                                 np.all(obs.keypoints[:, [5, 6, 11, 12], 2] >= 0.5, axis=1)])


def _true_prior(rig, sd=(0.01, 0.003, 0.003)):
  f = 0.5 * SIZE[0] / math.tan(0.5 * rig.hfov)
  return C.CameraPrior(np.array([math.log(f), rig.pitch, rig.roll]), np.diag(np.square(sd)), 'scene lines')


@pytest.mark.parametrize("name", ["intersection", "crosswalk"])
def test_people_scale_the_priors_camera(name):
  rig = _rig(name)
  result = C.scale_from_people(_people(name), _true_prior(rig))
  assert result.source == "people scale+scene lines"
  assert abs(result.height_m / rig.height - 1) < 0.05, (result.height_m, rig.height)
  assert result.pitch_rad == pytest.approx(rig.pitch) and result.roll_rad == pytest.approx(rig.roll)
  # The height's standard error holds the statures' spread and the prior's: a looser prior, a
  # larger error.
  loose = C.scale_from_people(_people(name), _true_prior(rig, (0.1, 0.03, 0.03)))
  assert 0 < result.std["height_m"] < loose.std["height_m"]
  assert result.covariance.shape == (4, 4) and np.all(np.linalg.eigvalsh(result.covariance) >= 0)


def test_people_first_falls_back_to_the_people_scale_when_their_own_fit_refuses(monkeypatch):
  rig = _rig("intersection")
  prior = _true_prior(rig)

  def refuse(*args, **kwargs):
    raise C.CalibrationError("degenerate fit from people: the best camera stands 1.86 m above the ground")

  monkeypatch.setattr(C, "calibrate_people", refuse)
  result = C.calibrate(_people("intersection"), C.CalibrationConfig(use="people_first"), prior=prior)
  assert result.source == "people scale+scene lines"
  assert any(f.startswith("the people gave the scale only (degenerate fit") for f in result.flags)
  assert abs(result.height_m / rig.height - 1) < 0.05
  # Too few people for even that: refused with the count.
  with pytest.raises(C.CalibrationError, match="too few people"):
    C.scale_from_people(_people("intersection", tracks=2), prior)
