"""Batched iterative solves that stop paying for the problems already finished.

Under `jax.vmap`, a `lax.while_loop` runs until its slowest problem stops: every step costs
the whole batch, finished rows included (frozen by a select). Track fits converge in 4-9 LM
steps, so a batch of 4096 pays for ~8 steps × 4096 where the tracks need ~5 on average.
`solve_compacted` instead drives the batched step from the host: after each step it counts
the rows still active and, once they fit in a power-of-two batch at most half the current
one, gathers them (carry and arguments) into that smaller batch. Results are scattered back
in place. The per-row arithmetic is unchanged; only the batch a row is computed in changes.

The step function compiles once per batch size it meets: powers of two from min_batch up to
the full batch, at most log2(B / min_batch) + 1 of them, cached by jit across calls.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import numpy as np

from walt3d_jax.fit import batching

Carry = Any  # a pytree of arrays, leading axis = batch
Args = Any


@jax.jit
def _take(tree: Any, rows: jax.Array) -> Any:
  return jax.tree.map(lambda a: a[rows], tree)


@jax.jit
def _put(tree: Any, rows: jax.Array, values: Any) -> Any:
  # Duplicate rows only ever carry identical values (copies of one stopped row).
  return jax.tree.map(lambda a, v: a.at[rows].set(v), tree, values)


def solve_compacted(step: Callable[[Carry, Args], Carry], active: Callable[[Carry], jax.Array],
                    carry: Carry, args: Args, *, min_batch: int = 8, multiple: int = 1) -> Carry:
  """Steps every row of a batch until none is active; regroups the active rows as they thin.

  step(carry, args) -> carry: one (or a few) iterations of every row, batched (jit of vmap);
    rows that are not active must come back unchanged. args: the rows' fixed inputs.
  active(carry) -> (B,) bool: rows that would still change; every row must become inactive
    after finitely many steps (an iteration cap), or this never returns.
  carry, args: pytrees with a leading batch axis B. Returns the final carry (B, ...), each row
  as `step` would have left it in the full batch.
  multiple: regrouped batches are `multiple` × a power of two (≥ min_batch / multiple), so a
  batch split over `multiple` devices stays evenly split; 1: powers of two ≥ min_batch.
  """
  full = carry
  rows: np.ndarray | None = None  # rows of `full` held by `current`; None: all, in order
  current, current_args = carry, args
  while True:
    is_active = np.asarray(active(current))
    count = int(is_active.sum())
    if count == 0:
      break
    size = multiple * batching.bucket_length(-(-count // multiple),
                                             max(1, -(-min_batch // multiple)))
    if 2 * size <= is_active.size:
      held = np.arange(is_active.size) if rows is None else rows
      full = current if rows is None else _put(full, rows, current)
      # Padding repeats one stopped row: `step` leaves it as it is.
      idle = held[~is_active][0]
      rows = np.concatenate([held[is_active], np.full(size - count, idle, held.dtype)])
      current, current_args = _take(full, rows), _take(args, rows)
    current = step(current, current_args)
  return current if rows is None else _put(full, rows, current)
