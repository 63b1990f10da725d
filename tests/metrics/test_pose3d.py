"""MPJPE, 3D PCK and car pose errors against cases worked out by hand."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from walt3d_jax.geometry import so3
from walt3d_jax.metrics import pose3d


def _skeleton(rng):
  return rng.normal(size=(17, 3))


def test_mpjpe_is_root_aligned_at_the_mid_hip():
  rng = np.random.default_rng(0)
  truth = _skeleton(rng)
  # A translated copy has zero error; moving one wrist by 0.17 m (and nothing else) moves no hip,
  # so MPJPE = 0.17 / 17 = 10 mm and that joint alone fails 3D PCK@150 mm.
  shifted = truth + [3.0, -1.0, 7.0]
  shifted[9] += [0.0, 0.17, 0.0]
  np.testing.assert_allclose(pose3d.mpjpe(shifted[None], truth[None]), [0.01], atol=1e-12)
  s = pose3d.people_scores(shifted[None], truth[None])
  assert s["mpjpe_mm"] == pytest.approx(10.0)
  assert s["pck3d"] == pytest.approx(16 / 17) and (s["num_objects"], s["num_joints"]) == (1, 17)
  # Moving the left hip by 0.2 m moves the root by 0.1 m: every other joint is 0.1 m off,
  # both hips 0.1 m: MPJPE 100 mm, all under 150 mm.
  hip = truth.copy()
  hip[pose3d.LEFT_HIP] += [0.2, 0.0, 0.0]
  s = pose3d.people_scores(hip[None], truth[None])
  assert s["mpjpe_mm"] == pytest.approx(100.0) and s["pck3d"] == 1.0


def test_valid_joints_and_bins():
  rng = np.random.default_rng(1)
  truth = np.stack([_skeleton(rng), _skeleton(rng)])
  pred = truth.copy()
  pred[0, 0] += [0.3, 0.4, 0.0]  # 0.5 m off, the only error
  valid = np.ones((2, 17), bool)
  s = pose3d.people_scores(pred, truth, valid, occlusion=[0.25, 0.0])
  assert s["mpjpe_mm"] == pytest.approx(0.5 / 17 / 2 * 1000)
  assert s["bins"]["L1"]["mpjpe_mm"] == pytest.approx(0.5 / 17 * 1000)
  assert s["bins"]["L0"]["mpjpe_mm"] == pytest.approx(0.0)
  assert s["bins"]["L2"] == {"mpjpe_mm": None, "pck3d": None, "num_objects": 0, "num_joints": 0}
  valid[0, 0] = False  # the wrong joint not labelled: no error left
  assert pose3d.people_scores(pred, truth, valid)["mpjpe_mm"] == pytest.approx(0.0)


def test_car_rotation_and_translation_errors():
  # Errors of 9, 20, 40 and 90 degrees about assorted axes; translation errors 1, 2, 3, 4 m.
  angles = np.radians([9.0, 20.0, 40.0, 90.0])
  axes = np.array([[0, 0, 1], [1, 0, 0], [0, 1, 1], [1, 1, 1]], float)
  axes /= np.linalg.norm(axes, axis=1, keepdims=True)
  truth_r = Rotation.random(4, random_state=2).as_matrix()
  pred_r = truth_r @ Rotation.from_rotvec(axes * angles[:, None]).as_matrix()
  truth_t = np.zeros((4, 3))
  pred_t = np.array([[1, 0, 0], [0, 2, 0], [0, 0, 3], [0, 4, 0]], float)
  np.testing.assert_allclose(pose3d.geodesic_angle(pred_r, truth_r), angles, atol=1e-9)
  np.testing.assert_allclose(pose3d.geodesic_angle(pred_r, truth_r),
                             np.asarray(so3.geodesic_angle(pred_r.astype(np.float32), truth_r.astype(np.float32))),
                             atol=1e-3)
  s = pose3d.car_scores(pred_r, truth_r, pred_t, truth_t, occlusion=[0.1, 0.1, 0.5, 0.95])
  # < 30 degrees: 9, 20 -> 1/2; < 10 degrees: 9 -> 1/4.
  assert s["acc_pi_6"] == 0.5 and s["acc_pi_18"] == 0.25
  assert s["median_rotation_error_deg"] == pytest.approx(30.0)
  assert s["median_translation_error"] == pytest.approx(2.5)
  assert s["bins"]["0.1-0.2"]["median_rotation_error_deg"] == pytest.approx(14.5)
  assert s["bins"]["0.9-1.0"]["acc_pi_6"] == 0.0 and s["bins"]["0.9-1.0"]["num_objects"] == 1
  assert s["bins"]["L3"]["median_translation_error"] is None
  # Near pi the arccos form is ill-conditioned; the atan2 form still gives the angle.
  flip = Rotation.from_rotvec([0, 0, np.pi - 1e-7]).as_matrix()
  assert pose3d.geodesic_angle(flip, np.eye(3)) == pytest.approx(np.pi - 1e-7, abs=1e-9)


def test_bad_input():
  with pytest.raises(ValueError, match=r"\(N, 17, 3\)"):
    pose3d.mpjpe(np.zeros((1, 12, 3)), np.zeros((1, 12, 3)))
  with pytest.raises(ValueError, match="occlusion ratios"):
    pose3d.car_scores(np.eye(3)[None], np.eye(3)[None], np.zeros((1, 3)), np.zeros((1, 3)), occlusion=[0.1, 0.2])
