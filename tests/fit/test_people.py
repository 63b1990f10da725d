"""People on the ground: the paper's z_b placement, stature, heading, bad inputs flagged."""

import jax
import jax.numpy as jnp
import numpy as np

from walt3d_jax.fit import people
from walt3d_jax.fit import quality
from walt3d_jax.geometry import camera as camera_lib
from walt3d_jax.geometry import plane
from walt3d_jax.geometry import pose as pose_lib
from walt3d_jax.shapes import person

_CAM = camera_lib.mounted_camera(8., np.deg2rad(25.), np.deg2rad(60.), (1280, 720))
_R_CG, _T_CG = (np.asarray(a, np.float64) for a in plane.ground_frame(_CAM.normal, _CAM.offset))
_K = np.asarray(_CAM.K, np.float64)
_SIZE = np.array([1280., 720.])


def _walker(rng, num_frames, speed=1.3, dt=0.1):
  """A sampled person walking in a straight line 12-30 m out: exact boxes (T, 4) from the
  projected mesh, times (T,), truth x, y, yaw (T,) and stature."""
  params = person.sample_person(rng)
  dist, bearing, yaw = rng.uniform(12., 30.), rng.uniform(-0.4, 0.4), rng.uniform(-np.pi, np.pi)
  t = dt * np.arange(num_frames)
  x = dist * np.cos(bearing) + speed * t * np.cos(yaw)
  y = dist * np.sin(bearing) + speed * t * np.sin(yaw)
  phase_rate = speed / (2. * person.person_step_length(params))
  boxes = []
  for i in range(num_frames):
    mesh = person.person_mesh(params, phase_rate * t[i])
    R, tr = (np.asarray(a, np.float64) for a in pose_lib.ground_pose_to_camera(
        jnp.asarray(_R_CG), jnp.asarray(_T_CG), x[i], y[i], yaw))
    uvw = (mesh.vertices @ R.T + tr) @ _K.T
    uv = uvw[:, :2] / uvw[:, 2:]
    lo, hi = uv.min(0), uv.max(0)
    # people.box_bottom_centre's convention: bottom edge at y + h - 0.5.
    boxes.append([lo[0] + 0.5, lo[1] + 0.5, hi[0] - lo[0], hi[1] - lo[1]])
  return np.array(boxes), t, x, y, np.full(num_frames, yaw), params[0]


def _place(boxes, times, config=people.PeopleConfig()):
  n = len(boxes)
  return people.place_people(boxes, times, np.repeat(_K[None], n, 0),
                             np.repeat(_R_CG[None], n, 0), np.repeat(_T_CG[None], n, 0),
                             np.repeat(_SIZE[None], n, 0), config)


def test_exact_boxes_place_walkers_on_the_ground():
  rng = np.random.default_rng(0)
  walkers = [_walker(rng, 8) for _ in range(6)]
  fits = _place([w[0] for w in walkers], [w[1] for w in walkers])
  pos, yaw, height = [], [], []
  for (_, _, x, y, yw, h), f in zip(walkers, fits):
    assert f.reason == 0 and np.all(f.frame_reason == 0) and f.moved
    pos.append(np.hypot(f.x - x, f.y - y))
    yaw.append(np.abs(np.angle(np.exp(1j * (f.yaw - yw)))))
    height.append(abs(f.height - h))
    assert f.keypoints_3d.shape == (8, 17, 3) and f.rotation.shape == (8, 3, 3)
    # Upright on the plane: the object's z axis is the plane's normal.
    np.testing.assert_allclose(f.rotation[:, :, 2], np.repeat(_R_CG[None, :, 2], 8, 0), atol=1e-5)
    # The paper's z_b is the camera depth of the box bottom's ground point.
    assert np.all(f.bottom_depth > 5.) and np.allclose(f.depth, f.translation[:, 2])
  # The box bottom sees the nearer foot, up to a step (0.41 H) from the pelvis mid-stride.
  assert np.median(np.concatenate(pos)) < 0.25
  assert np.max(np.concatenate(pos)) < 0.6
  # Heading from 0.7 s of motion whose box bottoms swap feet every step.
  assert np.median(np.concatenate(yaw)) < np.deg2rad(10.)
  assert np.median(height) < 0.06


def test_plane_behind_camera_and_nan_boxes_are_flagged_and_finite():
  # Rows above the horizon see the plane behind the camera (z_b < 0).
  horizon = _K[1, 2] - _K[1, 1] * np.tan(np.deg2rad(25.))
  above = np.array([[600., horizon - 80., 10., 30.]] * 3)
  good, times = _walker(np.random.default_rng(1), 3)[:2]
  mixed = good.copy()
  mixed[1] = np.nan
  fits = _place([above, mixed], [times, times])
  for f in fits:
    for value in f:
      assert np.all(np.isfinite(np.asarray(value, np.float64)))
  assert fits[0].reason & quality.PLANE_INVALID
  assert np.all(fits[0].frame_reason & quality.PLANE_INVALID)
  assert fits[1].frame_reason[1] & quality.NOT_FINITE
  assert fits[1].frame_reason[0] == 0 and fits[1].frame_reason[2] == 0
  assert not fits[1].reason & quality.PLANE_INVALID


def test_one_frame_track_faces_the_camera():
  boxes, times, x, y, _, _ = _walker(np.random.default_rng(2), 1)
  (f,) = _place([boxes], [times])
  assert f.x.shape == (1,) and f.reason == quality.NO_MOTION and f.frame_reason[0] == 0
  assert np.hypot(f.x - x, f.y - y)[0] < 0.3
  # Facing the camera's foot (the ground frame's origin).
  facing = np.array([np.cos(f.yaw[0]), np.sin(f.yaw[0])])
  assert facing @ -np.array([f.x[0], f.y[0]]) / np.hypot(f.x[0], f.y[0]) > 0.999


_place_one = jax.jit(people.place_person_track, static_argnames=('config',))


def test_batched_lengths_match_single_tracks():
  rng = np.random.default_rng(3)
  walkers = [_walker(rng, 5) for _ in range(3)]  # padded to 8 in the batch
  fits = _place([w[0] for w in walkers], [w[1] for w in walkers])
  template = jnp.asarray(people.skeleton_template(), jnp.float32)
  f32 = lambda a: jnp.asarray(a, jnp.float32)
  for w, f in zip(walkers, fits):
    one = jax.tree.map(np.asarray, _place_one(
        f32(w[0]), f32(w[1] - w[1][0]), jnp.ones(len(w[0]), bool), f32(_K), f32(_R_CG),
        f32(_T_CG), f32(_SIZE), template, people.PeopleConfig()))
    np.testing.assert_allclose(f.x, one.x, atol=1e-4)
    np.testing.assert_allclose(f.yaw, one.yaw, atol=1e-4)
    np.testing.assert_allclose(f.keypoints_3d, one.keypoints_3d, atol=1e-3)
    assert f.reason == one.reason
