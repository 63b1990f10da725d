"""Track fitting: Jacobian, recovery of synthetic truth, failure flags, batching."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from walt3d_jax.fit import init as init_lib
from walt3d_jax.fit import quality
from walt3d_jax.fit import residuals
from walt3d_jax.fit import synthetic
from walt3d_jax.fit import track_fit
from walt3d_jax.fit.config import FitConfig
from walt3d_jax.shapes import car_model

# Few iterations and small batches keep every test on one compiled shape (B=4, T=8).
_CONFIG = FitConfig(maxiter=20)
_B, _T = 4, 8


@pytest.fixture(scope='module')
def model():
  return car_model.load_car_model(5)


def _tracks(model, seed, noise_px=2., drop=0.2):
  return synthetic.synthetic_tracks(np.random.default_rng(seed), _B, _T, model, noise_px, drop)


def _fit(tr, model, uv=None, weight=None, valid=None, r_cg=None, t_cg=None, **kwargs):
  f32 = lambda a: jnp.asarray(a, jnp.float32)
  return jax.tree.map(np.asarray, track_fit.fit_track_batch(
      f32(tr.uv if uv is None else uv), f32(tr.weight if weight is None else weight),
      jnp.asarray(tr.frame_valid if valid is None else valid), f32(tr.K),
      f32(tr.R_cg if r_cg is None else r_cg), f32(tr.t_cg if t_cg is None else t_cg),
      f32(tr.image_size), model, _CONFIG, **kwargs))


def _yaw_error(a, b):
  return np.abs(np.angle(np.exp(1j * (a - b))))


def _assert_finite(result):
  for name, value in zip(track_fit.FitResult._fields, result):
    assert np.all(np.isfinite(np.asarray(value, np.float64))), name


def test_residual_jacobian_matches_central_differences():
  with jax.enable_x64(True):
    model = car_model.load_car_model(5, dtype=jnp.float64)
    tr = synthetic.synthetic_tracks(np.random.default_rng(3), 1, 4, model)
    cfg = FitConfig(loss='cauchy')  # the most curved loss: non-trivial robust scaling
    uv, w = residuals.usable_keypoints(jnp.asarray(tr.uv[0]), jnp.asarray(tr.weight[0]),
                                       jnp.asarray(tr.frame_valid[0]))
    rng = np.random.default_rng(4)
    anchor = jnp.stack([jnp.asarray(tr.x[0]), jnp.asarray(tr.y[0]), jnp.asarray(tr.yaw[0])], -1)
    # Off the optimum by ~0.5 m and ~10°, so keypoint errors straddle the loss's knee.
    params = residuals.pack(anchor[:, 0] + rng.normal(0, .5, 4), anchor[:, 1] + rng.normal(
        0, .5, 4), anchor[:, 2] + rng.normal(0, .2, 4), jnp.asarray(rng.normal(0, 1, 5)))
    args = (uv, w, jnp.asarray(tr.frame_valid[0]), anchor, jnp.asarray(tr.K[0]),
            jnp.asarray(tr.R_cg[0]), jnp.asarray(tr.t_cg[0]), model)
    fun = lambda p: residuals.track_residuals(p, *args, config=cfg)
    jac = np.asarray(jax.jacfwd(fun)(params))
    eps = 1e-6
    numeric = np.stack([(np.asarray(fun(params.at[i].add(eps)))
                         - np.asarray(fun(params.at[i].add(-eps)))) / (2 * eps)
                        for i in range(params.size)], -1)
    assert jac.shape == (4 * 27 + 5 + 3 * 4 + 2 * 2, 17)
    np.testing.assert_allclose(jac, numeric, rtol=1e-5, atol=1e-5 * np.abs(jac).max())


def test_recovers_noise_free_tracks(model):
  tr = _tracks(model, 0, noise_px=0., drop=0.)
  r = _fit(tr, model)
  np.testing.assert_array_less(np.hypot(r.x - tr.x, r.y - tr.y), 0.05)
  np.testing.assert_array_less(_yaw_error(r.yaw, tr.yaw), np.deg2rad(1.))
  # The residual is the PCA's own model error (mm) plus float32: well under a pixel.
  np.testing.assert_array_less(r.rmse_px, 0.5)
  np.testing.assert_array_less(np.abs(r.dimensions[:, 0] - np.ptp(tr.keypoints_3d[..., 0], -1)),
                               0.1)
  assert np.all(r.reason & ~quality.NOT_CONVERGED == 0)


def test_recovers_noisy_tracks_with_missing_keypoints(model):
  tr = _tracks(model, 1)
  r = _fit(tr, model)
  assert np.median(np.hypot(r.x - tr.x, r.y - tr.y)) < 0.3
  assert np.median(_yaw_error(r.yaw, tr.yaw)) < np.deg2rad(5.)
  assert np.all(np.abs(r.rmse_px - 2. * np.sqrt(2.)) < 1.5)  # σ = 2 px per coordinate
  assert np.all(r.reason & (quality.HIGH_RESIDUAL | quality.IMPLAUSIBLE_SHAPE) == 0)


def test_few_collinear_and_nan_keypoints_are_flagged_without_nan(model):
  tr = _tracks(model, 2)
  weight, uv = tr.weight.copy(), tr.uv.copy()
  weight[0, :, 3:] = 0.  # track 0: three keypoints per frame
  uv[1, :, :, 1] = uv[1, :, :, 0] * 0.5 + 10.  # track 1: every frame's keypoints on one line
  uv[2, 3, 5] = np.nan  # track 2: a NaN pixel and a NaN weight
  weight[2, 4, 7] = np.nan
  weight[3] = 0.  # track 3: no keypoints at all
  r = _fit(tr, model, uv=uv, weight=weight)
  _assert_finite(r)
  assert np.all(r.frame_reason[0] & quality.FEW_KEYPOINTS)
  assert r.reason[0] & quality.NO_OBSERVED_FRAMES
  assert np.all(r.frame_reason[1] & quality.DEGENERATE)
  assert r.reason[1] & quality.NO_OBSERVED_FRAMES
  assert r.reason[2] & quality.NOT_FINITE
  assert r.frame_reason[2, 3] & quality.NOT_FINITE and r.frame_reason[2, 4] & quality.NOT_FINITE
  assert r.frame_reason[2, 0] == 0
  assert r.reason[3] & quality.NO_OBSERVED_FRAMES and r.reason[3] & quality.PLANE_INVALID


def test_plane_behind_the_camera_is_flagged_without_nan(model):
  tr = _tracks(model, 5)
  # Flip the ground frame's z: the plane n·X + d = 0 with n pointing away from the camera
  # (d < 0) is behind it, and no keypoint ray meets it in front.
  r_cg = tr.R_cg * np.array([1., -1., -1.])
  r = _fit(tr, model, r_cg=r_cg, t_cg=-tr.t_cg)
  _assert_finite(r)
  assert np.all(r.reason & quality.PLANE_INVALID)


def test_one_frame_and_padded_tracks(model):
  tr = _tracks(model, 6)
  valid = np.zeros((_B, _T), bool)
  valid[:, 0] = True  # one-frame tracks padded to the bucket
  r = _fit(tr, model, valid=valid)
  _assert_finite(r)
  assert np.all(r.reason & quality.SHORT_TRACK)
  assert np.all(r.frame_reason[:, 1:] == 0)
  # The single frame still pins the pose down (the flag says the shape saw one view).
  assert np.median(np.hypot(r.x[:, 0] - tr.x[:, 0], r.y[:, 0] - tr.y[:, 0])) < 0.5


def test_vmap_equals_loop_and_buckets(model):
  tr = _tracks(model, 7)
  # min_batch=1: the LM steps regroup the unfinished tracks into smaller batches; chunk=2:
  # the batch of 4 goes as two chunks of 2 (`batching.map_rows`).
  batched = _fit(tr, model, min_batch=1, chunk=2)
  lengths = [8, 5, 8, 3]  # buckets 8 and 4
  out = track_fit.fit_tracks([tr.uv[i, :n] for i, n in enumerate(lengths)],
                             [tr.weight[i, :n] for i, n in enumerate(lengths)], tr.K, tr.R_cg,
                             tr.t_cg, tr.image_size, model, _CONFIG, batch_size=4)
  single = jax.jit(track_fit.fit_track, static_argnames=('config',))
  for i, n in enumerate(lengths):
    assert out[i].x.shape == (n,) and out[i].uv_fit.shape == (n, 12, 2)
    if n == _T:
      one = single(*(jnp.asarray(a[i], jnp.float32) for a in (tr.uv, tr.weight)),
                   jnp.asarray(tr.frame_valid[i]),
                   *(jnp.asarray(a[i], jnp.float32) for a in (tr.K, tr.R_cg, tr.t_cg,
                                                               tr.image_size)),
                   model, _CONFIG)
      for name, a, b in zip(track_fit.FitResult._fields, one, out[i]):
        # float32 rounds differently per batch layout: a track that ends on its step or
        # cost tolerance may take one step more or less, to the same optimum.
        atol = 1 if name == 'iterations' else 1e-3
        np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64),
                                   rtol=1e-4, atol=atol, err_msg=name)
        np.testing.assert_allclose(np.asarray(getattr(batched, name)[i], np.float64),
                                   np.asarray(b, np.float64), rtol=1e-4, atol=atol,
                                   err_msg=name)


def test_initial_procrustes_yaw_is_exact_on_clean_mean_car(model):
  tr = _tracks(model, 8, noise_px=0., drop=0.)
  mean = np.asarray(model.mean, np.float64)
  uv = np.stack([synthetic.project_ground_poses(mean, tr.x[i], tr.y[i], tr.yaw[i], tr.K[i],
                                                tr.R_cg[i], tr.t_cg[i])[0] for i in range(_B)])
  for i in range(_B):
    starts, moved = init_lib.initial_poses(
        jnp.asarray(uv[i], jnp.float32), jnp.ones((_T, 12)), *(
            jnp.asarray(a[i], jnp.float32) for a in (tr.K, tr.R_cg, tr.t_cg)), model, _CONFIG)
    starts = np.asarray(starts)
    np.testing.assert_allclose(starts[0, :, 0], tr.x[i], atol=2e-3)
    np.testing.assert_allclose(starts[0, :, 1], tr.y[i], atol=2e-3)
    np.testing.assert_array_less(_yaw_error(starts[0, :, 2], tr.yaw[i]), 1e-3)
    np.testing.assert_array_less(np.pi - 1e-3, _yaw_error(starts[1, :, 2], tr.yaw[i]))
    assert bool(moved) and _yaw_error(starts[2, 0, 2], tr.yaw[i, 0]) < 0.1


def test_high_residual_is_raised_on_gross_outliers_only(model):
  tr = _tracks(model, 1)
  uv = tr.uv.copy()
  rng = np.random.default_rng(7)
  # Track 0: frame 4's keypoints scattered 60 px at random (a gross outlier frame).
  uv[0, 4] += rng.normal(0., 60., uv[0, 4].shape)
  # Track 1: every frame's keypoints wrong (shuffled across keypoints and scattered 40 px).
  uv[1] = uv[1][:, rng.permutation(uv.shape[2])] + rng.normal(0., 40., uv[1].shape)
  r = _fit(tr, model, uv=uv)
  _assert_finite(r)
  high = lambda code: (code & quality.HIGH_RESIDUAL) != 0
  assert high(r.frame_reason[0, 4]) and r.frame_rmse_px[0, 4] > _CONFIG.max_rmse_px
  assert not np.any(high(np.delete(r.frame_reason[0], 4)))  # the outlier stays in its frame
  assert high(r.reason[0])  # and its 60 px lift the track's RMSE over the limit too
  assert high(r.reason[1]) and r.rmse_px[1] > _CONFIG.max_rmse_px
  assert np.all(high(r.frame_reason[1][tr.frame_valid[1]]))
  # The clean tracks (2 px noise) raise it nowhere.
  assert not np.any(high(r.reason[2:])) and not np.any(high(r.frame_reason[2:]))
