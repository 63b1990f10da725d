"""The compacting batched driver: same rows as a vmapped while loop, in shrinking batches."""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from walt3d_jax.fit import compaction

# A toy iterative solve: Newton's method for √c, stopping at a relative tolerance, so rows
# need different numbers of steps (more for c far from the start 1).
_TOL = 1e-6
_MAXITER = 40


def _init(c):
  return {'x': jnp.ones_like(c), 'it': jnp.zeros((), jnp.int32), 'done': jnp.zeros((), bool)}


def _advance(carry, c, max_steps=None):
  limit = _MAXITER if max_steps is None else jnp.minimum(_MAXITER, carry['it'] + max_steps)

  def body(s):
    x = 0.5 * (s['x'] + c / s['x'])
    return {'x': x, 'it': s['it'] + 1, 'done': jnp.abs(x * x - c) <= _TOL * c}

  return jax.lax.while_loop(lambda s: (s['it'] < limit) & ~s['done'], body, carry)


def _active(carry):
  return ~carry['done'] & (carry['it'] < _MAXITER)


def test_compacted_equals_vmapped_while_loop_and_batches_shrink():
  # Like track fits: most rows finish in a few steps, a few take many more.
  c = jnp.asarray(np.concatenate([np.linspace(0.5, 2., 90), np.geomspace(1e6, 1e12, 10)]))
  want = jax.jit(jax.vmap(lambda c: _advance(_init(c), c)))(c)
  sizes = []
  step_jit = jax.jit(jax.vmap(functools.partial(_advance, max_steps=1)))

  def step(carry, args):
    sizes.append(int(carry['x'].shape[0]))
    return step_jit(carry, args)

  got = compaction.solve_compacted(step, jax.jit(jax.vmap(_active)), jax.vmap(_init)(c), c,
                                   min_batch=4)
  for key in want:
    np.testing.assert_array_equal(np.asarray(got[key]), np.asarray(want[key]), err_msg=key)
  iters = np.asarray(want['it'])
  assert iters.min() < iters.max()  # rows finish at different steps
  assert sizes[0] == 100 and sizes[-1] < 100
  assert all(s in (100,) or (s & (s - 1)) == 0 and s >= 4 for s in sizes)  # powers of two
  # Well under what the vmapped loop pays (every row, every step).
  assert sum(sizes) < 0.5 * 100 * iters.max()


def test_nothing_active_returns_the_carry_unchanged():
  c = jnp.asarray([4., 9.])
  carry = jax.vmap(_init)(c)
  carry = {**carry, 'done': jnp.ones(2, bool)}
  calls = []
  got = compaction.solve_compacted(lambda *a: calls.append(1), jax.vmap(_active), carry, c)
  assert not calls
  np.testing.assert_array_equal(got['x'], carry['x'])


def test_regrouped_batches_stay_multiples_of_the_device_count():
  c = jnp.asarray(np.concatenate([np.linspace(0.5, 2., 90), np.geomspace(1e6, 1e12, 10)]))
  want = jax.jit(jax.vmap(lambda c: _advance(_init(c), c)))(c)
  sizes = []
  step_jit = jax.jit(jax.vmap(functools.partial(_advance, max_steps=1)))

  def step(carry, args):
    sizes.append(int(carry['x'].shape[0]))
    return step_jit(carry, args)

  got = compaction.solve_compacted(step, jax.jit(jax.vmap(_active)), jax.vmap(_init)(c), c,
                                   min_batch=4, multiple=3)
  for key in want:
    np.testing.assert_array_equal(np.asarray(got[key]), np.asarray(want[key]), err_msg=key)
  assert sizes[-1] < 100 and all(s == 100 or s % 3 == 0 for s in sizes)
  assert all(s == 100 or (s // 3) & (s // 3 - 1) == 0 for s in sizes)  # 3 × a power of two
