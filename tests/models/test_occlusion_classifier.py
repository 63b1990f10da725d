"""Occlusion classifier: shapes, training on a separable toy set, checkpoint round trip, scores."""

from flax import nnx
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from experiments import occlusion_classifier as oc_config
from walt3d_jax.models import occlusion_classifier as oc
from walt3d_jax.train import occlusion as train_lib


def toy_set(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
  """(n, 16, 16, 6) uint8 crops; 'occluded' ones have a bright bar across the mask channel."""
  rng = np.random.default_rng(seed)
  crops = rng.integers(0, 60, (n, 16, 16, 6), dtype=np.uint8)
  crops[..., 3], crops[..., 4], crops[..., 5] = 0, 255, 0
  crops[:, 4:12, 4:12, 3] = 255
  labels = rng.uniform(size=n) < 0.3  # imbalanced, like the real data
  crops[labels, :, 7:9, :3] = 250
  return crops, labels


def tiny_config() -> ml_collections.ConfigDict:
  config = oc_config.get_config("tiny")
  config.train.learning_rate, config.train.warmup_steps = 3e-3, 2
  return config


def test_logit_shape_and_bad_input():
  model = oc.create("Ti", 6, 0)
  forward = nnx.jit(lambda m, x: m(x))  # one compilation instead of one per eager op
  assert forward(model, jnp.zeros((3, 16, 16, 6))).shape == (3,)
  with pytest.raises(ValueError, match="crops must be"):
    model(jnp.zeros((2, 16, 16, 3)))
  with pytest.raises(ValueError, match="unknown variant"):
    oc.OcclusionClassifier("XXL", rngs=nnx.Rngs(0))


def test_training_steps_reduce_the_loss_and_separate_the_classes():
  config = tiny_config()
  crops, labels = toy_set(64, 0)
  model = train_lib.make_model(config, 0)
  optimizer = train_lib.make_optimizer(model, config.train, total_steps=60)
  weights = train_lib.class_weights(labels)
  x, y = jnp.asarray(crops), jnp.asarray(labels, jnp.float32)
  loss = nnx.jit(lambda m: train_lib.balanced_bce(m(oc.crops_to_input(x)), y, weights))
  before = float(loss(model))
  for step in range(60):
    train_lib.train_step(model, optimizer, x, y, jax.random.key(step), weights)
  after = float(loss(model))
  assert after < 0.5 * before
  prob = oc.predict(model, crops, batch_size=32)
  scores = train_lib.unoccluded_scores(prob < 0.5, labels)
  assert scores["f1"] > 0.9


def test_checkpoint_round_trip_gives_identical_predictions(tmp_path):
  config = tiny_config()
  crops, _ = toy_set(8, 1)
  model = train_lib.make_model(config, 3)
  optimizer = train_lib.make_optimizer(model, config.train, total_steps=10)
  train_lib.train_step(model, optimizer, jnp.asarray(crops), jnp.zeros(8), jax.random.key(0), (0.5, 0.5))
  manager = train_lib.checkpoint_manager(tmp_path)
  train_lib.save_checkpoint(manager, 1, model, optimizer, {"epoch": 0, "threshold": 0.4, "history": []})
  manager.close()
  expected = oc.predict(model, crops, batch_size=8)

  fresh = train_lib.make_model(config, 99)  # other weights until restored
  assert not np.allclose(oc.predict(fresh, crops, batch_size=8), expected)
  fresh_optimizer = train_lib.make_optimizer(fresh, config.train, total_steps=10)
  meta = train_lib.restore_checkpoint(train_lib.checkpoint_manager(tmp_path), fresh, fresh_optimizer)
  assert meta["threshold"] == 0.4 and int(fresh_optimizer.step[...]) == 1
  np.testing.assert_array_equal(oc.predict(fresh, crops, batch_size=8), expected)
  loaded, threshold = train_lib.load(ml_collections.ConfigDict({**config.to_dict(), "seed": 5}), tmp_path)
  assert threshold == 0.4
  np.testing.assert_array_equal(oc.predict(loaded, crops, batch_size=8), expected)


def test_unoccluded_scores_count_unoccluded_as_positive():
  occluded = np.array([False, False, False, True, True])
  keep = np.array([True, True, False, True, False])
  s = train_lib.unoccluded_scores(keep, occluded)
  assert (s["precision"], s["recall"]) == pytest.approx((2 / 3, 2 / 3))
  assert train_lib.unoccluded_scores(np.zeros(5, bool), occluded)["precision"] == 0.0


def test_threshold_is_the_best_f1_that_reaches_the_precision_floor():
  occluded = np.array([False] * 6 + [True] * 4)
  prob = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.9, 0.35, 0.6, 0.7, 0.8])
  t = train_lib.choose_threshold(prob, occluded, min_precision=0.95)
  keep = prob < t
  assert train_lib.unoccluded_scores(keep, occluded)["precision"] >= 0.95
  np.testing.assert_array_equal(keep, prob <= 0.3)  # the pure prefix before the first occluded
  loose = train_lib.choose_threshold(prob, occluded, min_precision=0.5)
  assert loose > t


def test_a_recall_floor_comes_before_precision_and_f1():
  occluded = np.array([False] * 6 + [True] * 4)
  prob = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.9, 0.35, 0.6, 0.7, 0.8])
  # All six clean objects kept means keeping what scores up to 0.9: three occluded ones with them.
  t = train_lib.choose_threshold(prob, occluded, min_precision=0.95, min_recall=1.0)
  np.testing.assert_array_equal(prob < t, prob <= 0.9)
  assert train_lib.choose_threshold(prob, occluded, min_precision=0.95, min_recall=0.5) == \
      train_lib.choose_threshold(prob, occluded, min_precision=0.95)  # the pure prefix keeps 3 of 6
