"""Unrolled small matrix products and Cholesky solves against numpy."""

import hypothesis
from hypothesis import strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from walt3d_jax.geometry import small_linalg


@hypothesis.settings(max_examples=25, deadline=None)
@hypothesis.given(n=st.integers(1, 7), k=st.integers(1, 7), m=st.integers(1, 7),
                  seed=st.integers(0, 2 ** 16))
def test_matmul_equals_numpy(n, k, m, seed):
  rng = np.random.default_rng(seed)
  a, b = rng.normal(size=(3, n, k)), rng.normal(size=(3, k, m))
  with jax.enable_x64(True):
    got = small_linalg.matmul(jnp.asarray(a), jnp.asarray(b))
  np.testing.assert_allclose(got, a @ b, rtol=1e-12, atol=1e-12)


@hypothesis.settings(max_examples=25, deadline=None)
@hypothesis.given(n=st.integers(1, 7), m=st.integers(1, 13), seed=st.integers(0, 2 ** 16),
                  conditioning=st.floats(1e-3, 10.))
def test_cholesky_solve_equals_numpy(n, m, seed, conditioning):
  rng = np.random.default_rng(seed)
  root = rng.normal(size=(4, n, n))
  a = root @ np.swapaxes(root, -1, -2) + conditioning * np.eye(n)
  b = rng.normal(size=(4, n, m))
  with jax.enable_x64(True):
    got = small_linalg.cholesky_solve(jnp.asarray(a), jnp.asarray(b))
  np.testing.assert_allclose(got, np.linalg.solve(a, b), rtol=1e-8,
                             atol=1e-8 * np.abs(np.linalg.solve(a, b)).max())


@hypothesis.settings(max_examples=25, deadline=None)
@hypothesis.given(seed=st.integers(0, 2 ** 16))
def test_inverse_3x3_equals_numpy(seed):
  m = np.random.default_rng(seed).normal(size=(5, 3, 3)) + 2 * np.eye(3)
  with jax.enable_x64(True):
    got = small_linalg.inverse_3x3(jnp.asarray(m))
  np.testing.assert_allclose(got, np.linalg.inv(m), rtol=1e-9, atol=1e-9)


def test_inverse_3x3_of_a_singular_matrix_is_not_finite():
  got = small_linalg.inverse_3x3(jnp.asarray([[1., 2., 3.], [2., 4., 6.], [0., 1., 1.]]))
  assert not np.all(np.isfinite(got))


def test_cholesky_solve_reads_the_lower_triangle_and_vmaps():
  rng = np.random.default_rng(0)
  root = rng.normal(size=(6, 6))
  a = root @ root.T + np.eye(6)
  junk_upper = np.tril(a) + np.triu(rng.normal(size=(6, 6)), 1)
  b = rng.normal(size=(6, 2))
  with jax.enable_x64(True):
    got = jax.vmap(small_linalg.cholesky_solve)(jnp.asarray(np.stack([junk_upper] * 3)),
                                                jnp.asarray(np.stack([b] * 3)))
  np.testing.assert_allclose(got, np.stack([np.linalg.solve(a, b)] * 3), rtol=1e-9)


def test_cholesky_solve_is_nan_not_an_error_when_not_positive_definite():
  a = jnp.asarray([[1., 2.], [2., 1.]])  # eigenvalues 3 and -1
  got = small_linalg.cholesky_solve(a, jnp.ones((2, 1)))
  assert np.all(np.isnan(got))


def test_shape_mismatches_are_errors():
  with pytest.raises(ValueError, match='matmul'):
    small_linalg.matmul(jnp.ones((2, 3)), jnp.ones((2, 3)))
  with pytest.raises(ValueError, match='cholesky_solve'):
    small_linalg.cholesky_solve(jnp.ones((3, 3)), jnp.ones((2, 1)))
