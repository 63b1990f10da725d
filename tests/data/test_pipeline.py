"""The grain pipeline: fixed shapes, seeded flips, exact resume from the iterator's state."""

import numpy as np
import pytest

from tests.data import synthetic
from walt3d_jax.clipart import example as example_lib
from walt3d_jax.data import pipeline

W, H = 48, 32


@pytest.fixture(scope="module")
def source():
  # A list is a random-access source, like tfds.data_source's splits; object counts vary.
  return [example_lib.to_features(synthetic.make_example(seed=s, num=s % 4)) for s in range(10)]


def _config(**kw):
  return pipeline.PipelineConfig(**{**dict(batch_size=3, image_size=(W, H), max_objects=2,
                                           num_threads=2, prefetch_buffer_size=4), **kw})


def test_batch_shapes_and_dtypes(source):
  batch = next(pipeline.make_iterator(source, _config()))
  expect = {
      "image": ((3, H, W, 3), np.uint8), "depth": ((3, H, W), np.float32),
      "K": ((3, 3, 3), np.float32), "plane": ((3, 4), np.float32), "seed": ((3,), np.int64),
      "flipped": ((3,), np.bool_), "object_valid": ((3, 2), np.bool_),
      "num_objects": ((3,), np.int32), "objects_dropped": ((3,), np.int32),
      "category": ((3, 2), np.int32), "amodal_mask": ((3, 2, H, W), np.bool_),
      "visible_mask": ((3, 2, H, W), np.bool_), "amodal_box": ((3, 2, 4), np.float32),
      "keypoints": ((3, 2, 17, 2), np.float32), "keypoint_states": ((3, 2, 17), np.int32),
      "rotation": ((3, 2, 3, 3), np.float32), "keypoints_3d": ((3, 2, 17, 3), np.float32),
      "object_depth": ((3, 2), np.float32), "track_id": ((3, 2), np.int64),
  }
  for name, (shape, dtype) in expect.items():
    assert batch[name].shape == shape and batch[name].dtype == dtype, (name, batch[name].shape, batch[name].dtype)
  assert "key" not in batch
  np.testing.assert_array_equal(batch["num_objects"], batch["object_valid"].sum(1))


def test_every_example_once_per_epoch_and_cut_objects_counted(source):
  it = pipeline.make_iterator(source, _config(batch_size=2, num_epochs=1, max_objects=2))
  batches = list(it)
  assert len(batches) == 5
  seeds = np.concatenate([b["seed"] for b in batches])
  assert sorted(seeds.tolist()) == list(range(10))
  dropped = np.concatenate([b["objects_dropped"] for b in batches])
  kept = np.concatenate([b["num_objects"] for b in batches])
  np.testing.assert_array_equal(dropped + kept, [s % 4 for s in seeds])


def test_flip_probability_and_seed(source):
  never = next(pipeline.make_iterator(source, _config(flip_prob=0.0, shuffle=False)))
  always = next(pipeline.make_iterator(source, _config(flip_prob=1.0, shuffle=False)))
  assert not never["flipped"].any() and always["flipped"].all()
  np.testing.assert_array_equal(always["image"], never["image"][:, :, ::-1])
  a = [next(iter(pipeline.make_iterator(source, _config(seed=5))))["flipped"] for _ in range(2)]
  np.testing.assert_array_equal(a[0], a[1])


def test_resume_from_state_gives_the_same_next_batch(source):
  it = pipeline.make_iterator(source, _config())
  for _ in range(4):  # past the first epoch (10 examples, 3 per batch)
    next(it)
  state = it.get_state()
  expected = next(it)
  fresh = pipeline.make_iterator(source, _config())
  fresh.set_state(state)
  got = next(fresh)
  for name in expected:
    np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
