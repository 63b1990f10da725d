"""Data parallelism for batched track fits: a 'data' mesh, rows placed across it, per-device maps.

A batch of B tracks (B a multiple of the device count) is placed with
`NamedSharding(mesh, P('data'))`: each device holds B / n consecutive tracks; what every track
shares (the PCA shape model) is replicated (`P()`). The jitted batched functions of
`track_fit.fit_track_batch` run their per-track map under `jax.shard_map` (`per_device`), so
each device runs exactly the single-device program on its own rows (in `batching.map_rows`
chunks on CPU) and no collective is needed: tracks are independent. With one device (no
mesh, or a mesh of one) nothing is placed or wrapped: the single-device fit is unchanged.

Several hosts: `initialize(True)` runs `jax.distributed.initialize()` (its arguments from the
cluster environment); `jax.devices()` then lists every host's devices. Every process builds
the same global batch in numpy (`put_rows` hands each device its rows with
`jax.make_array_from_callback`), and `to_host` gathers results back to every process
(`multihost_utils.process_allgather`). Only process 0 writes files (`is_writer`).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import jax
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec as P
import numpy as np

DATA = 'data'


def initialize(distributed: bool) -> None:
  """`jax.distributed.initialize()` once when `distributed` (config.distributed); else nothing."""
  if distributed and not jax.distributed.is_initialized():
    jax.distributed.initialize()


def data_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
  """A 1-D mesh with axis 'data' over `devices` (default: every device of every process)."""
  devices = jax.devices() if devices is None else list(devices)
  return Mesh(np.asarray(devices), (DATA,), axis_types=(AxisType.Auto,))


def device_count(mesh: Mesh | None) -> int:
  """Devices a batch is split over: 1 without a mesh."""
  return 1 if mesh is None else int(mesh.size)


def sharded(mesh: Mesh | None) -> bool:
  """Whether batches are split over more than one device."""
  return device_count(mesh) > 1


def round_up(count: int, multiple: int) -> int:
  """The smallest multiple of `multiple` ≥ count."""
  return -(-count // multiple) * multiple


def is_writer() -> bool:
  """Whether this process writes results (process 0; the only one on a single host)."""
  return jax.process_index() == 0


def agree(values: np.ndarray) -> np.ndarray:
  """Process 0's `values` on every process (a decision all must share); single host: as given."""
  if jax.process_count() == 1:
    return np.asarray(values)
  from jax.experimental import multihost_utils

  return np.asarray(multihost_utils.broadcast_one_to_all(np.asarray(values)))


def put_rows(tree: Any, mesh: Mesh | None) -> Any:
  """Leaves (B, ...) (numpy or jax, the same on every process) split over the mesh along
  axis 0 (P('data')); without a multi-device mesh, plain `jnp.asarray`."""
  if not sharded(mesh):
    return jax.tree.map(jax.numpy.asarray, tree)
  sharding = NamedSharding(mesh, P(DATA))

  def put(leaf):
    leaf = np.asarray(leaf)
    if leaf.shape[0] % mesh.size:
      raise ValueError(f'a batch of {leaf.shape[0]} rows does not split over {mesh.size} devices')
    return jax.make_array_from_callback(leaf.shape, sharding, lambda index: leaf[index])

  return jax.tree.map(put, tree)


def put_replicated(tree: Any, mesh: Mesh | None) -> Any:
  """Leaves copied to every device of the mesh (P()); without a multi-device mesh, unchanged."""
  if not sharded(mesh):
    return tree
  sharding = NamedSharding(mesh, P())

  def put(leaf):
    leaf = np.asarray(leaf)
    return jax.make_array_from_callback(leaf.shape, sharding, lambda index: leaf[index])

  return jax.tree.map(put, tree)


def to_host(tree: Any) -> Any:
  """numpy copies of every leaf, gathered from every process when a leaf spans several."""
  def get(leaf):
    if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable:
      from jax.experimental import multihost_utils

      return np.asarray(multihost_utils.process_allgather(leaf, tiled=True))
    return np.asarray(leaf)

  return jax.tree.map(get, tree)


def per_device(fn: Callable[..., Any], mesh: Mesh | None,
               batched: Sequence[bool]) -> Callable[..., Any]:
  """`fn` run on each device's rows: positional argument i is split along axis 0 when
  batched[i] (P('data')), else replicated (P()); every output is split along axis 0. For use
  inside jit. Without a multi-device mesh, `fn` itself."""
  if not sharded(mesh):
    return fn
  in_specs = tuple(P(DATA) if b else P() for b in batched)
  # No collectives inside (tracks are independent), so the varying-axis check has nothing to
  # guard; it would only reject while loops whose carries start replicated.
  return jax.shard_map(fn, mesh=mesh, in_specs=in_specs, out_specs=P(DATA), check_vma=False)
