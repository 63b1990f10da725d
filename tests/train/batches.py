"""Small exact batches for the training tests: `tests.data.synthetic` examples (cars and people
on a ground plane with true 3D) through the real input pipeline, no dataset build."""

from __future__ import annotations

import numpy as np

from tests.data import synthetic
from walt3d_jax.clipart import example as example_lib
from walt3d_jax.data import pipeline

WIDTH, HEIGHT = 64, 48
MAX_OBJECTS = 4


def source(count: int, seed: int = 0) -> list[dict]:
  """`count` stored records (TFDS features) of 0–3 objects each at WIDTH×HEIGHT."""
  return [example_lib.to_features(synthetic.make_example(seed=seed + i, width=WIDTH, height=HEIGHT,
                                                         num=(seed + i) % 4))
          for i in range(count)]


def pipeline_config(batch_size: int, seed: int = 0, **overrides) -> pipeline.PipelineConfig:
  return pipeline.PipelineConfig(batch_size=batch_size, image_size=(WIDTH, HEIGHT), max_objects=MAX_OBJECTS,
                                 seed=seed, num_threads=1, prefetch_buffer_size=2, **overrides)


def batch(batch_size: int, seed: int = 0) -> dict[str, np.ndarray]:
  """One batch (the pipeline's dict) of `batch_size` examples."""
  return next(pipeline.make_iterator(source(batch_size, seed), pipeline_config(batch_size, seed, shuffle=False)))
