"""Tests for the car keypoint PCA."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from walt3d_jax.shapes import build_car_model, car_model, vehicle

HELD_OUT_SEED = 987654  # not the population's seed: these cars were never fitted


@pytest.fixture(scope="module")
def held_out():
  assert HELD_OUT_SEED != build_car_model.POPULATION_SEED
  return build_car_model.car_population(HELD_OUT_SEED, 500)


def _rms(a, b):
  return float(np.sqrt(np.mean(np.sum((np.asarray(a) - np.asarray(b)) ** 2, axis=-1))))


def test_held_out_reconstruction_within_2cm_at_k5(held_out):
  model = car_model.load_car_model(5)
  alpha = car_model.shape_from_keypoints(model, jnp.asarray(held_out, jnp.float32))
  rms = _rms(car_model.keypoints_from_shape(model, alpha), held_out)
  print(f"held-out PCA RMS at K=5: {rms * 100:.2f} cm")
  assert rms < 0.02
  # Fewer components must do worse: the test can tell a model from its mean.
  model2 = car_model.load_car_model(2)
  alpha2 = car_model.shape_from_keypoints(model2, jnp.asarray(held_out, jnp.float32))
  assert _rms(car_model.keypoints_from_shape(model2, alpha2), held_out) > 2 * rms


def test_components_orthonormal_and_sorted():
  model = car_model.load_car_model(10)
  basis = np.asarray(model.components, np.float64).reshape(10, -1)
  np.testing.assert_allclose(basis @ basis.T, np.eye(10), atol=1e-6)
  stddev = np.asarray(model.stddev)
  assert np.all(np.diff(stddev) <= 0) and stddev[-1] > 0


def test_model_is_left_right_symmetric():
  model = car_model.load_car_model(10)
  mirror = np.array(vehicle.CAR_KEYPOINT_MIRROR)
  flip = np.array([1.0, -1.0, 1.0])
  mean = np.asarray(model.mean)
  np.testing.assert_allclose(mean[mirror] * flip, mean, atol=1e-6)
  for q in np.asarray(model.components):
    # Symmetric cars only: every component maps onto itself under the mirror.
    np.testing.assert_allclose(q[mirror] * flip, q, atol=1e-5)
  # And the mean is a car: right keypoints at -y, roof on top.
  assert np.all(mean[0::2, 1] < 0) and np.all(mean[1::2, 1] > 0)
  assert mean[8:, 2].min() > mean[4:8, 2].max() > mean[:4, 2].max()


def test_round_trip_batched():
  model = car_model.load_car_model(5)
  alpha = jax.random.normal(jax.random.PRNGKey(0), (4, 3, 5)) * model.stddev
  x = car_model.keypoints_from_shape(model, alpha)
  assert x.shape == (4, 3, 12, 3)
  np.testing.assert_allclose(car_model.shape_from_keypoints(model, x), alpha, atol=1e-4)
  weights = jnp.ones((4, 3, 12)).at[..., 3].set(0.0)  # one keypoint unknown
  x_noisy = x.at[..., 3, :].add(5.0)  # its value must be ignored
  np.testing.assert_allclose(car_model.shape_from_keypoints(model, x_noisy, weights), alpha,
                             atol=1e-3)
  jitted = jax.jit(car_model.shape_from_keypoints)
  np.testing.assert_allclose(jitted(model, x), alpha, atol=1e-4)


def test_least_squares_matches_numpy_lstsq():
  model = car_model.load_car_model(5)
  x = np.random.default_rng(0).normal(size=(12, 3)) + np.asarray(model.mean)
  basis = np.asarray(model.components, np.float64).reshape(5, -1).T
  expected, *_ = np.linalg.lstsq(basis, (x - np.asarray(model.mean)).reshape(-1), rcond=None)
  np.testing.assert_allclose(car_model.shape_from_keypoints(model, jnp.asarray(x)), expected,
                             atol=1e-4)


def test_builder_regenerates_the_stored_file(tmp_path):
  stored = np.load(car_model.CAR_PCA_PATH)
  rebuilt = build_car_model.build(tmp_path / "car_pca.npz")
  for key in ("mean", "components", "stddev"):
    np.testing.assert_allclose(rebuilt[key], stored[key], atol=1e-9)
  with open(tmp_path / "car_pca.npz", "rb") as f, open(car_model.CAR_PCA_PATH, "rb") as g:
    same_bytes = f.read() == g.read()
  # Bytes can differ only through LAPACK rounding; on the machine that built it they match.
  assert same_bytes or not np.array_equal(rebuilt["components"], stored["components"])


def test_load_validates(tmp_path):
  with pytest.raises(ValueError, match="num_components"):
    car_model.load_car_model(11)
  path = tmp_path / "bad.npz"
  np.savez(path, mean=np.zeros((12, 2)), components=np.zeros((3, 12, 3)), stddev=np.ones(3))
  with pytest.raises(ValueError, match="mean"):
    car_model.load_car_model(2, path)
