"""Fit quality flags, rule by rule, on hand-made frames (no solver: fast, no big compiles)."""

import jax.numpy as jnp
import numpy as np
import pytest

from walt3d_jax.fit import quality
from walt3d_jax.fit.config import FitConfig

_CONFIG = FitConfig()
_SIZE = np.array([640., 360.], np.float32)


def _grid(n=12):
  """n keypoints (12, 2) spread over a 60 x 40 px patch around (300, 200); weights (12,)."""
  uv = np.stack(np.meshgrid(np.linspace(270, 330, 4), np.linspace(180, 220, 3)), -1).reshape(12, 2)
  weight = np.zeros(12)
  weight[:n] = 1.
  return uv, weight


def _reasons(frames):
  """frame_reasons of frames given as dicts; defaults: 12 keypoints fitted exactly, 10 m deep."""
  uv, weight, proj, depth, finite, valid = [], [], [], [], [], []
  for f in frames:
    u, w = _grid(f.get('n', 12))
    u = f.get('uv', u)
    uv.append(u)
    weight.append(w)
    proj.append(u + f.get('offset', 0.))
    depth.append(f.get('depth', np.full(12, 10.)))
    finite.append(f.get('finite', True))
    valid.append(f.get('valid', True))
  as32 = lambda a: jnp.asarray(np.asarray(a), jnp.float32)
  code, rmse = quality.frame_reasons(as32(uv), as32(weight), jnp.asarray(finite), jnp.asarray(valid),
                                     as32(proj), as32(depth), as32(_SIZE), _CONFIG)
  return np.asarray(code), np.asarray(rmse)


def test_clean_frame_has_no_reason():
  code, rmse = _reasons([{}])
  assert code[0] == 0 and rmse[0] == pytest.approx(0., abs=1e-4)


def test_few_keypoints_counts_usable_keypoints():
  code, _ = _reasons([{'n': _CONFIG.min_keypoints}, {'n': _CONFIG.min_keypoints - 1}])
  assert not code[0] & quality.FEW_KEYPOINTS  # exactly min_keypoints is enough
  assert code[1] & quality.FEW_KEYPOINTS


def test_degenerate_when_keypoints_are_collinear():
  line = np.stack([np.linspace(100, 400, 12), np.linspace(100, 250, 12)], -1)
  code, _ = _reasons([{'uv': line}, {}])
  assert code[0] & quality.DEGENERATE
  assert not code[1] & quality.DEGENERATE


def test_high_residual_above_max_rmse_only():
  over, under = _CONFIG.max_rmse_px + 1., _CONFIG.max_rmse_px - 1.
  code, rmse = _reasons([{'offset': np.array([over, 0.])}, {'offset': np.array([0., under])}])
  np.testing.assert_allclose(rmse, [over, under], rtol=1e-5)
  assert code[0] == quality.HIGH_RESIDUAL
  assert code[1] == 0


def test_behind_camera_when_any_keypoint_is_behind():
  depth = np.full(12, 10.)
  depth[3] = _CONFIG.min_depth_m / 2
  code, _ = _reasons([{'depth': depth}])
  assert code[0] == quality.BEHIND_CAMERA


def test_out_of_image_when_either_centroid_coordinate_is_outside():
  uv, _ = _grid()
  below = uv + [0., 400.]  # x inside the image, y below its bottom
  right = uv + [500., 0.]  # y inside, x past the right edge
  code, _ = _reasons([{'uv': below}, {'uv': right}, {}])
  assert code[0] == quality.OUT_OF_IMAGE and code[1] == quality.OUT_OF_IMAGE
  assert code[2] == 0


def test_not_finite_and_padding_frames():
  depth = np.zeros(12)
  code, rmse = _reasons([{'finite': False}, {'valid': False, 'n': 0, 'depth': depth, 'finite': False}])
  assert code[0] == quality.NOT_FINITE
  assert code[1] == 0 and rmse[1] == 0.  # padding frames carry no reason


def test_track_fails_on_behind_camera_and_not_finite_frames():
  assert quality.TRACK_FROM_FRAMES == quality.BEHIND_CAMERA | quality.NOT_FINITE


@pytest.mark.parametrize('dims,beta,plausible', [
    ((4.5, 1.8, 1.5), 0., True),
    ((3.2, 1.3, 1.1), 0., True),  # the lower ends of the ranges are plausible
    ((6.2, 2.4, 2.3), 0., True),  # and so are the upper ones
    ((7.0, 1.8, 1.5), 0., False),  # too long
    ((4.5, 1.0, 1.5), 0., False),  # too narrow
    ((4.5, 1.8, 2.5), 0., False),  # too tall
    ((4.5, 1.8, 1.5), 4., False),  # a shape coefficient beyond max_shape_sigma
    ((4.5, 1.8, 1.5), -4., False),
])
def test_shape_plausible(dims, beta, plausible):
  beta = jnp.asarray([0., beta, 0., 0., 0.], jnp.float32)
  assert bool(quality.shape_plausible(jnp.asarray(dims, jnp.float32), beta, _CONFIG)) == plausible
