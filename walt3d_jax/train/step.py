"""The training step of the amodal detector: one per-device function, three ways to run it.

`per_device_step(graphdef, weights, axis_name)(state, batch) -> (state, metrics)` is the step
one device runs on its share of the batch: forward, the losses' (total, count) terms reduced so
that the devices' losses average to the global batch's loss (`losses.reduce`), gradients,
`lax.pmean` of the gradients over `axis_name`, and the optimizer update. `state` is
`nnx.state((model, optimizer))`; `graphdef` their `nnx.graphdef`.

`make_step(graphdef, weights, parallel, mesh)` wraps it (`config.parallel`):
  "none"       jax.jit on one device (the reference: the global batch on one device)
  "pmap"       jax.pmap over the local devices, axis 'data'; state carries a leading device axis
  "shard_map"  jax.jit(jax.shard_map(...)) over a 1-D mesh ('data',), batch sharded P('data'),
               state replicated P(); check_vma=False so the gradient of the replicated
               parameters is the local one and pmean is right (PIPELINE.md's N× trap)
`place_state` / `place_batch` put a host state and a host batch where each wrapper wants them,
`host_state` brings the state back (one copy) for checkpoints and evaluation.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from walt3d_jax.models import losses

AXIS = "data"
PARALLEL = ("none", "pmap", "shard_map")
# Batch fields the step does not read (strings of ids, seeds): kept off the devices.
_HOST_ONLY = ("seed", "track_id", "flipped", "num_objects", "objects_dropped")


def device_batch(batch: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
  """The fields of an input-pipeline batch the step reads."""
  return {k: v for k, v in batch.items() if k not in _HOST_ONLY}


def per_device_step(graphdef: nnx.GraphDef, weights: Mapping[str, float],
                    axis_name: str | None) -> Callable:
  """(state, batch) -> (state, metrics): one AdamW step on this device's share of the batch.
  metrics: loss and each weighted term's mean, all global-batch values."""
  weights = dict(weights)

  def step(state, batch):
    model, optimizer = nnx.merge(graphdef, state)

    def loss_fn(model):
      outputs = model(batch["image"])
      return losses.reduce(losses.terms(outputs, batch, weights), weights, axis_name)

    (loss, means), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model)
    if axis_name is not None:
      grads = jax.lax.pmean(grads, axis_name)
      loss, means = jax.lax.pmean((loss, means), axis_name)
    optimizer.update(model, grads)
    grad_norm = jnp.sqrt(sum(jnp.sum(g ** 2) for g in jax.tree.leaves(grads)))
    return nnx.state((model, optimizer)), {"loss": loss, "grad_norm": grad_norm, **means}

  return step


def make_mesh(devices=None) -> jax.sharding.Mesh:
  """A 1-D ('data',) mesh of all devices JAX sees (every process's)."""
  devices = jax.devices() if devices is None else devices
  return jax.sharding.Mesh(np.asarray(devices), (AXIS,))


def make_step(graphdef: nnx.GraphDef, weights: Mapping[str, float], parallel: str,
              mesh: jax.sharding.Mesh | None = None) -> Callable:
  """The step of `per_device_step` run as `parallel` (module docstring); state is donated."""
  if parallel == "none":
    return jax.jit(per_device_step(graphdef, weights, None), donate_argnums=0)
  if parallel == "pmap":
    return jax.pmap(per_device_step(graphdef, weights, AXIS), axis_name=AXIS, donate_argnums=0,
                    devices=None if mesh is None else list(mesh.devices.flat))
  if parallel == "shard_map":
    mesh = make_mesh() if mesh is None else mesh
    f = jax.shard_map(per_device_step(graphdef, weights, AXIS), mesh=mesh,
                      in_specs=(P(), P(AXIS)), out_specs=(P(), P()), check_vma=False)
    return jax.jit(f, donate_argnums=0)
  raise ValueError(f"config.parallel={parallel!r}: expected one of {PARALLEL}")


def num_replicas(parallel: str, mesh: jax.sharding.Mesh | None = None) -> int:
  """Devices one process feeds: its local devices (pmap, shard_map) or 1."""
  if parallel == "none":
    return 1
  if mesh is not None:
    return len([d for d in mesh.devices.flat if d.process_index == jax.process_index()])
  return jax.local_device_count()


def place_state(state: Any, parallel: str, mesh: jax.sharding.Mesh | None = None) -> Any:
  """A host (or single-device) state placed for the wrapper: replicated on every device."""
  if parallel == "none":
    return jax.device_put(state)
  if parallel == "pmap":
    n = jax.local_device_count() if mesh is None else mesh.devices.size
    return jax.tree.map(lambda x: jnp.broadcast_to(jnp.asarray(x), (n,) + jnp.shape(x)), state)
  mesh = make_mesh() if mesh is None else mesh
  return jax.device_put(state, NamedSharding(mesh, P()))


def place_batch(batch: Mapping[str, np.ndarray], parallel: str, mesh: jax.sharding.Mesh | None = None):
  """This process's batch (B, ...) placed for the wrapper: (devices, B/devices, ...) for pmap,
  a global array sharded along the mesh's 'data' axis for shard_map."""
  batch = device_batch(batch)
  if parallel == "none":
    return jax.device_put(batch)
  n = num_replicas(parallel, mesh)
  for name, x in batch.items():
    if x.shape[0] % n:
      raise ValueError(f"batch size {x.shape[0]} is not a multiple of the {n} local devices")
  if parallel == "pmap":
    return jax.tree.map(lambda x: x.reshape((n, x.shape[0] // n) + x.shape[1:]), batch)
  mesh = make_mesh() if mesh is None else mesh
  sharding = NamedSharding(mesh, P(AXIS))
  return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, x), batch)


def host_state(state: Any, parallel: str) -> Any:
  """One numpy copy of a placed state (pmap: the first replica)."""
  if parallel == "pmap":
    return jax.tree.map(lambda x: np.asarray(x[0]), state)
  return jax.tree.map(np.asarray, state)


def host_metrics(metrics: Mapping[str, jax.Array], parallel: str) -> dict[str, float]:
  return {k: float(np.asarray(v).reshape(-1)[0]) for k, v in metrics.items()}
