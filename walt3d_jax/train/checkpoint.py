"""Checkpoints of the amodal detector's training: model, optimizer, grain iterator, metadata.

<workdir>/checkpoints/<step>/{model, optimizer, data_iter, meta}: one orbax `CheckpointManager`
step (`train.occlusion.checkpoint_manager`) holds the model's and the optimizer's states
(`StandardSave`), the input iterator's position (`grain.checkpoint.CheckpointSave`) and a JSON
record (the step, the model's variant and input size): restoring all four resumes the run
exactly. `models.predict.load` reads only model + meta.
"""

from __future__ import annotations

from flax import nnx
import grain
import jax
import orbax.checkpoint as ocp

from walt3d_jax.train.occlusion import checkpoint_manager  # noqa: F401 (re-exported: same layout)


def save(manager: ocp.CheckpointManager, step: int, model: nnx.Module, optimizer: nnx.Optimizer,
         data_iter, meta: dict) -> None:
  """Saves everything of `step` and waits for the write to finish."""
  manager.save(step, args=ocp.args.Composite(
      model=ocp.args.StandardSave(nnx.state(model)),
      optimizer=ocp.args.StandardSave(nnx.state(optimizer)),
      data_iter=grain.checkpoint.CheckpointSave(data_iter),
      meta=ocp.args.JsonSave(meta)))
  manager.wait_until_finished()


def restore(manager: ocp.CheckpointManager, model: nnx.Module, optimizer: nnx.Optimizer,
            data_iter) -> dict | None:
  """Restores the latest step in place (model, optimizer, iterator); its meta, or None."""
  step = manager.latest_step()
  if step is None:
    return None
  abstract = lambda module: jax.tree.map(ocp.utils.to_shape_dtype_struct, nnx.state(module))
  restored = manager.restore(step, args=ocp.args.Composite(
      model=ocp.args.StandardRestore(abstract(model)),
      optimizer=ocp.args.StandardRestore(abstract(optimizer)),
      data_iter=grain.checkpoint.CheckpointRestore(data_iter),
      meta=ocp.args.JsonRestore()))
  nnx.update(model, restored["model"])
  nnx.update(optimizer, restored["optimizer"])
  return dict(restored["meta"])
