"""Run as a script with XLA_FLAGS=--xla_force_host_platform_device_count=4 (set before jax is
imported): 3 AdamW steps of the amodal detector on one global batch of 4 images, run as one
single-device step, as jax.pmap and as jax.shard_map over 4 devices; prints JSON with the
largest state differences to the single-device run, how far the steps moved the state, and
the losses."""

import json
import sys

import jax
import ml_collections
import numpy as np
from flax import nnx

from tests.train import batches
from walt3d_jax.models import amodal
from walt3d_jax.train import step as step_lib
from walt3d_jax.train.occlusion import make_optimizer

# Every 2D term and the 3D terms that need no PnP solve (the PnP terms are left out for compile
# time; they go through the same reduction).
WEIGHTS = dict(cls=1.0, box=1.0, visible_box=0.5, mask=1.0, visible_mask=1.0, kp=1.0, kp_vis=0.5,
               kp_conf=0.5, shape=1.0, joints3d=1.0, joints2d=0.2)
STEPS = 3
# The schedule's warm-up starts at 0, so the first step does not move the parameters. Adam
# divides by the gradient's running RMS, which turns float32 summation-order noise in elements
# with near-zero gradients into update differences proportional to the learning rate: 1e-3
# keeps them under 1e-5 (3e-3 gives 1.2e-5 in one prototype kernel, everything else < 4e-7).
LEARNING_RATE = 1e-3


def run(parallel: str, batch):
  """(initial state leaves, final state leaves, losses) of STEPS steps."""
  model = amodal.create("tiny", 0)
  optim = ml_collections.ConfigDict(dict(learning_rate=LEARNING_RATE, warmup_steps=1, weight_decay=1e-4))
  optimizer = make_optimizer(model, optim, 10)
  graphdef, state = nnx.split((model, optimizer))
  initial = [np.array(x) for x in jax.tree.leaves(state)]
  mesh = step_lib.make_mesh() if parallel == "shard_map" else None
  train_step = step_lib.make_step(graphdef, WEIGHTS, parallel, mesh)
  state = step_lib.place_state(state, parallel, mesh)
  losses = []
  for _ in range(STEPS):
    state, metrics = train_step(state, step_lib.place_batch(batch, parallel, mesh))
    losses.append(step_lib.host_metrics(metrics, parallel)["loss"])
  return initial, jax.tree.leaves(step_lib.host_state(state, parallel)), losses


NUM_PARAMS = len(jax.tree.leaves(nnx.state(amodal.create("tiny", 0), nnx.Param)))


def max_diff(a, b) -> float:
  return max(float(np.max(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64)))) for x, y in zip(a, b))


def main():
  assert jax.device_count() == 4, jax.devices()
  batch = batches.batch(4, seed=1)
  initial, ref, ref_losses = run("none", batch)
  out = {"devices": jax.device_count(), "objects": int(batch["object_valid"].sum()),
         "moved": max_diff(initial[:NUM_PARAMS], ref[:NUM_PARAMS]), "losses": {"none": ref_losses}}
  for parallel in sys.argv[1:] or ("pmap", "shard_map"):
    _, leaves, losses = run(parallel, batch)
    out["losses"][parallel] = losses
    out[parallel] = max_diff(ref, leaves)
  print(json.dumps(out))


if __name__ == "__main__":
  main()
