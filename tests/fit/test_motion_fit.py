"""Keypoint-free track fit: heading from motion, position from the bottom pixel."""

import jax
import jax.numpy as jnp
import numpy as np

from walt3d_jax.fit import motion_fit
from walt3d_jax.fit import quality
from walt3d_jax.fit import synthetic
from walt3d_jax.fit.config import FitConfig
from walt3d_jax.shapes import car_model

_fit = jax.jit(jax.vmap(motion_fit.fit_track_from_motion, in_axes=(0,) * 6 + (None, None)),
               static_argnames=('config',))


def _bottom_pixels(tr):
  """Bottom-centre of each frame's box around the car's keypoints dropped to the ground."""
  out = []
  for i in range(len(tr.x)):
    ground = tr.keypoints_3d[i] * np.array([1., 1., 0.])
    uv, _ = synthetic.project_ground_poses(ground, tr.x[i], tr.y[i], tr.yaw[i], tr.K[i],
                                           tr.R_cg[i], tr.t_cg[i])
    out.append(np.stack([uv[..., 0].mean(-1), uv[..., 1].max(-1)], -1))
  return np.stack(out)


def test_moving_cars_get_heading_position_and_derived_keypoints():
  model = car_model.load_car_model(5)
  tr = synthetic.synthetic_tracks(np.random.default_rng(0), 4, 8, model, 0., 0.)
  f32 = lambda a: jnp.asarray(a, jnp.float32)
  r = jax.tree.map(np.asarray, _fit(f32(_bottom_pixels(tr)), jnp.asarray(tr.frame_valid),
                                    f32(tr.K), f32(tr.R_cg), f32(tr.t_cg), f32(tr.image_size),
                                    model, FitConfig()))
  assert np.all(r.derived) and np.all(r.reason == 0)
  yaw_err = np.abs(np.angle(np.exp(1j * (r.yaw - tr.yaw))))
  assert np.median(yaw_err) < np.deg2rad(5.)
  # Boxes and a mean car: the bottom pixel is only near the footprint's nearest point.
  assert np.median(np.hypot(r.x - tr.x, r.y - tr.y)) < 0.7
  assert r.uv_fit.shape == (4, 8, 12, 2) and np.all(np.isfinite(r.uv_fit))


def test_parked_car_and_nan_pixels_are_flagged():
  model = car_model.load_car_model(5)
  tr = synthetic.synthetic_tracks(np.random.default_rng(1), 4, 8, model, 0., 0.)
  bottom = _bottom_pixels(tr)
  bottom[0] = bottom[0, :1]  # parked: the same pixel every frame
  bottom[1, 2] = np.nan
  f32 = lambda a: jnp.asarray(a, jnp.float32)
  r = jax.tree.map(np.asarray, _fit(f32(bottom), jnp.asarray(tr.frame_valid), f32(tr.K),
                                    f32(tr.R_cg), f32(tr.t_cg), f32(tr.image_size), model,
                                    FitConfig()))
  for value in r:
    assert np.all(np.isfinite(np.asarray(value, np.float64)))
  assert r.reason[0] & quality.NO_MOTION
  assert r.reason[1] & quality.NOT_FINITE and r.frame_reason[1, 2] & quality.NOT_FINITE
