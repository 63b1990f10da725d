"""The `train` job: the amodal detector on the clip-art dataset (experiments/train_2d.py, train_3d.py).

Read top to bottom: set-up (`jax.distributed.initialize()` on several hosts, the device mesh),
data (a built `walt3d_clipart` dataset, or a tiny one built first into <workdir>/data; grain,
this process's share of the global batch), model and AdamW (warm-up + cosine,
`train.occlusion.make_optimizer`), the step (`train.step`: pmap or shard_map by
config.parallel), resume from <workdir>/checkpoints (model, optimizer, grain iterator), then the
loop: metrics every step into <workdir>/metrics.jsonl, TensorBoard scalars and images under
<workdir>/tensorboard, a progress line with steps/s and images/s, a checkpoint every
config.checkpoint_every steps, evaluation (held-out loss, amodal box AP50) every
config.eval_every. Rerunning the same command resumes where the last checkpoint left off; the
resumed run's losses equal an uninterrupted run's step for step (tests/train/test_resume.py).
"""

from __future__ import annotations

import json
import os
import pathlib
import time
from typing import Any, Sequence

from absl import logging
from flax import nnx
import jax
import ml_collections
import numpy as np
import tqdm

from walt3d_jax.data import pipeline
from walt3d_jax.errors import UserError
from walt3d_jax.models import amodal
from walt3d_jax.train import checkpoint
from walt3d_jax.train import evaluate as evaluate_lib
from walt3d_jax.train import step as step_lib
from walt3d_jax.train import summary
from walt3d_jax.train.occlusion import make_optimizer

# Environment variables of launchers that start one process per host (jax.distributed
# auto-detects the cluster from them).
_CLUSTER_ENV = ("JAX_COORDINATOR_ADDRESS", "SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE", "MEGASCALE_NUM_SLICES")


class TrainConfigError(UserError):
  """A training config that cannot run; the message names the field."""


def maybe_initialize_distributed(mode: Any) -> None:
  """jax.distributed.initialize() when config.distributed is True, or 'auto' and a multi-host
  launcher's environment is present."""
  if mode is True or (mode == "auto" and any(
      int(os.environ.get(k, "1")) > 1 if k != "JAX_COORDINATOR_ADDRESS" else k in os.environ
      for k in _CLUSTER_ENV)):
    jax.distributed.initialize()


def resolve_data(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> tuple[str, str]:
  """(dataset name, array_record data dir): config.data's, or a dataset built with
  config.data.build (the clipart job's config) into <workdir>/data once."""
  if config.data.data_dir:
    if not pathlib.Path(config.data.data_dir).is_dir():
      raise TrainConfigError(f"config.data.data_dir: no folder {config.data.data_dir}")
    return config.data.dataset, config.data.data_dir
  data = workdir / "data"
  if not (data / "summary.json").is_file():
    if jax.process_index() == 0:
      from walt3d_jax.data import build

      logging.info("no config.data.data_dir: building %s into %s", config.data.build.dataset, data)
      build.run(config.data.build, data)
    if jax.process_count() > 1:
      from jax.experimental import multihost_utils

      multihost_utils.sync_global_devices("dataset built")
  built = json.loads((data / "summary.json").read_text())
  return built["dataset"], built["builds"]["array_record"]["data_dir"]


def sources(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> tuple[Sequence, Sequence]:
  """(train, eval) random-access sources of config.data's splits."""
  name, data_dir = resolve_data(config, workdir)
  try:
    return (pipeline.data_source(name, data_dir, config.data.train_split),
            pipeline.data_source(name, data_dir, config.data.eval_split))
  except (KeyError, ValueError, FileNotFoundError) as e:
    raise TrainConfigError(f"config.data: cannot open {name} splits {config.data.train_split!r}/"
                           f"{config.data.eval_split!r} under {data_dir} ({e})") from e


def input_config(config: ml_collections.ConfigDict) -> pipeline.PipelineConfig:
  """This process's pipeline: its share of the global batch."""
  d = config.data
  if d.batch_size % jax.process_count():
    raise TrainConfigError(f"config.data.batch_size={d.batch_size}: not a multiple of {jax.process_count()} processes")
  return pipeline.PipelineConfig(
      batch_size=d.batch_size // jax.process_count(), image_size=tuple(d.image_size),
      max_objects=d.max_objects, flip_prob=d.flip_prob, seed=config.seed,
      num_threads=d.num_threads, prefetch_buffer_size=d.prefetch_buffer_size, labels=d.get("labels", "amodal"))


def loss_weights(config: ml_collections.ConfigDict) -> dict[str, float]:
  return {k: float(v) for k, v in config.loss.items() if v}


def read_history(path: pathlib.Path, last_step: int) -> list[dict]:
  """metrics.jsonl rows up to and including `last_step` (later rows are from a killed run)."""
  if not path.is_file():
    return []
  rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
  return [r for r in rows if r["step"] <= last_step]


def train(config: ml_collections.ConfigDict, workdir: pathlib.Path, train_source: Sequence,
          eval_source: Sequence | None) -> dict:
  """Trains (resuming from workdir); returns {history, eval, seconds}."""
  tic = time.perf_counter()
  workdir = pathlib.Path(workdir)
  if config.parallel not in step_lib.PARALLEL:
    raise TrainConfigError(f"config.parallel={config.parallel!r}: expected one of {step_lib.PARALLEL}")
  mesh = step_lib.make_mesh() if config.parallel == "shard_map" else None
  replicas = step_lib.num_replicas(config.parallel, mesh)
  if config.data.batch_size % (replicas * jax.process_count()):
    raise TrainConfigError(f"config.data.batch_size={config.data.batch_size}: not a multiple of the "
                           f"{replicas * jax.process_count()} devices")
  weights = loss_weights(config)

  data_iter = pipeline.make_iterator(train_source, input_config(config))
  model = amodal.create(config.model.variant, config.seed)
  optimizer = make_optimizer(model, config.optim, config.total_steps)
  logging.info("model %s: %d parameters; %d devices (%s)", config.model.variant,
               amodal.num_parameters(model), jax.device_count(), config.parallel)

  manager = checkpoint.checkpoint_manager(workdir, config.max_to_keep)
  meta = checkpoint.restore(manager, model, optimizer, data_iter)
  start = int(meta["step"]) if meta else 0
  if meta:
    logging.info("resuming from step %d", start)
  history_path = workdir / "metrics.jsonl"
  history = read_history(history_path, start)
  if jax.process_index() == 0:
    history_path.write_text("".join(json.dumps(r) + "\n" for r in history))

  graphdef, state = nnx.split((model, optimizer))
  train_step = step_lib.make_step(graphdef, weights, config.parallel, mesh)
  state = step_lib.place_state(state, config.parallel, mesh)
  writer = summary.Writer(workdir / "tensorboard")
  rates = summary.Throughput(config.data.batch_size)
  model_meta = {"variant": config.model.variant, "image_size": list(config.data.image_size),
                "max_detections": config.eval.max_detections}
  eval_metrics: dict[str, float] = {}
  stop = config.total_steps if config.stop_after < 0 else min(config.stop_after, config.total_steps)
  bar = tqdm.tqdm(total=config.total_steps, initial=start, unit="step",
                  disable=not config.progress or jax.process_index() > 0)

  def sync_host_modules():
    nnx.update((model, optimizer), step_lib.host_state(state, config.parallel))

  for step in range(start + 1, stop + 1):
    batch = next(data_iter)
    state, metrics = train_step(state, step_lib.place_batch(batch, config.parallel, mesh))
    rates.tick()
    if step % config.log_every == 0 or step == stop:
      row = {"step": step, **step_lib.host_metrics(metrics, config.parallel)}
      row.update(rates.rates())
      history.append(row)
      if jax.process_index() == 0:
        with history_path.open("a") as f:
          f.write(json.dumps(row) + "\n")
      writer.scalars(step, {f"train/{k}": v for k, v in row.items() if k != "step"})
      bar.set_postfix(loss=f"{row['loss']:.3f}", img_s=f"{row['images_per_second']:.1f}")
    bar.update(1)
    last = step == config.total_steps
    if eval_source is not None and config.eval_every > 0 and (step % config.eval_every == 0 or last):
      sync_host_modules()
      eval_metrics, pic = evaluate_lib.evaluate(model, eval_source, config)
      writer.scalars(step, {f"eval/{k}": v for k, v in eval_metrics.items()})
      if pic is not None:
        writer.image(step, "eval/prediction_vs_truth", pic)
      logging.info("step %d eval: %s", step, {k: round(v, 4) for k, v in eval_metrics.items()})
    if step % config.checkpoint_every == 0 or step == stop:
      sync_host_modules()
      checkpoint.save(manager, step, model, optimizer, data_iter, {"step": step, "model": model_meta})
  bar.close()
  writer.close()
  manager.close()
  return {"history": history, "eval": eval_metrics, "seconds": time.perf_counter() - tic,
          "steps": stop, "start": start}


def run(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> dict:
  """The `train` job (module docstring); writes <workdir>/results.json."""
  maybe_initialize_distributed(config.distributed)
  workdir = pathlib.Path(workdir)
  train_source, eval_source = sources(config, workdir)
  result = train(config, workdir, train_source, eval_source)
  head, tail = result["history"][:10], result["history"][-10:]  # the mean of 10 logged steps
  out = {"steps": result["steps"], "resumed_from": result["start"], "seconds": result["seconds"],
         "first_loss": float(np.mean([r["loss"] for r in head])) if head else None,
         "final_loss": float(np.mean([r["loss"] for r in tail])) if tail else None,
         "eval": result["eval"], "devices": jax.device_count(), "parallel": config.parallel}
  if jax.process_index() == 0:
    (workdir / "results.json").write_text(json.dumps(out, indent=2, sort_keys=True))
  logging.info("train: %s", out)
  return out
