"""Records with known answers for the evaluation tests: synthetic truth through the real batching."""

import numpy as np
import pytest

from tests.train import batches
from walt3d_jax.evaluation import inference


@pytest.fixture(scope="session")
def truth_records() -> list[inference.ImageRecord]:
  """Synthetic examples (cars and people with exact 3D) through the real batching, no model."""
  out = []
  size = (batches.WIDTH, batches.HEIGHT)
  for batch, real in inference.batches(batches.source(6, seed=11), 4, size, batches.MAX_OBJECTS):
    for i in np.flatnonzero(real):
      valid = batch["object_valid"][i]
      truth = {k: batch[k][i][valid] for k in inference.TRUTH_FIELDS}
      truth["amodal_rle"] = inference.mask_rles(batch["amodal_mask"][i][valid])
      out.append(inference.ImageRecord(truth, {}, *size, None))
  assert sum(len(r.truth["category"]) for r in out) >= 6, "the fixture needs objects"
  return out
