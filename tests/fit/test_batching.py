"""Chunked mapping over tracks equals one vmap."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from walt3d_jax.fit import batching


def _row_fn(row):
  x, y = row
  return {'sum': jnp.sum(x * y), 'scaled': x * jnp.max(y)}


@pytest.mark.parametrize('chunk', [0, 3, 4, 10, 64])
def test_map_rows_equals_vmap_for_any_chunk(chunk):
  rng = np.random.default_rng(0)
  rows = (jnp.asarray(rng.normal(size=(10, 5))), jnp.asarray(rng.normal(size=(10, 5))))
  want = jax.vmap(_row_fn)(rows)
  got = jax.jit(lambda r: batching.map_rows(_row_fn, r, chunk))(rows)
  for key in want:
    np.testing.assert_allclose(got[key], want[key], rtol=1e-6, err_msg=key)


def test_default_chunk_follows_the_backend():
  expected = batching.CPU_CHUNK if jax.default_backend() == 'cpu' else 0
  assert batching.default_chunk() == expected
