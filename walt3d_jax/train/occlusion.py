"""Trains the occlusion classifier on simulated scenes: optax AdamW + cosine, orbax checkpoints.

Read top to bottom: data (simulated scenes → crops, split by scene), model, optimizer, the
jitted step (class-balanced BCE, random horizontal flips), the epoch loop with a checkpoint per
epoch and resume from the workdir, then the operating threshold chosen on the validation scenes
and the held-out test figures. "Positive" in every precision/recall here means UNOCCLUDED, as in
the paper's Table 5.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import time

from absl import logging
from flax import nnx
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import orbax.checkpoint as ocp
import tqdm

from walt3d_jax.models import occlusion_classifier as oc
from walt3d_jax.timelapse import occlusion_data
from walt3d_jax.timelapse import stages as stages_lib
from walt3d_jax.timelapse import verifier_data


# ---------------------------------------------------------------------------------------------
# Data.

def load_splits(config: ml_collections.ConfigDict, workdir: pathlib.Path
                ) -> dict[str, occlusion_data.OcclusionExamples]:
  """{"train", "val", "test"} examples (only usable rows) of the scenes named in config.splits.

  Scenes are simulated once into config.cache_dir (default workdir/sim), one folder per
  simulator settings, and reused.
  """
  cache = pathlib.Path(config.get("cache_dir") or pathlib.Path(workdir) / "sim")
  # The built-in detector's learnt stages its detections pass through, as `mine` chains them.
  chain = stages_lib.load(config.data.get("stages", {}), "config.data.stages") if config.data.source == "builtin" else None
  splits = {}
  for name in ("train", "val", "test"):
    spec = config.splits[name]
    scenes = occlusion_data.scene_specs(spec.presets, spec.seeds)
    if config.data.source == "verifier":
      examples = verifier_data.build_examples(config.sim, scenes, config.data, cache)
    else:
      examples = occlusion_data.build_examples(config.sim, scenes, config.data, cache, chain)
    splits[name] = examples.select(occlusion_data.usable(
        examples, config.data.min_area, config.data.get("unmatched", "drop") == "reject"))
  seen = {(p, s) for p in config.splits.train.presets for s in config.splits.train.seeds}
  for name in ("val", "test"):
    spec = config.splits[name]
    if seen & {(p, s) for p in spec.presets for s in spec.seeds}:
      raise ValueError(f"config.splits.{name} shares scenes with config.splits.train")
  return splits


# ---------------------------------------------------------------------------------------------
# Model, optimizer, loss, step.

def make_model(config: ml_collections.ConfigDict, seed: int) -> oc.OcclusionClassifier:
  """The classifier config.model names; 8 input channels for the detection verifier (data.source
  'verifier', `timelapse.verify`), else 6."""
  verifier = config.get("data", {}).get("source") == "verifier"
  channels = verifier_data.NUM_CHANNELS if verifier else occlusion_data.NUM_CHANNELS
  return oc.create(config.model.variant, channels, seed)


def make_optimizer(model: nnx.Module, config: ml_collections.ConfigDict, total_steps: int) -> nnx.Optimizer:
  """AdamW with linear warm-up then cosine decay to zero over `total_steps`."""
  schedule = optax.warmup_cosine_decay_schedule(
      0.0, config.learning_rate, min(config.warmup_steps, max(total_steps // 2, 1)), max(total_steps, 2))
  tx = optax.adamw(schedule, weight_decay=config.weight_decay)
  return nnx.Optimizer(model, tx, wrt=nnx.Param)


def class_weights(labels: np.ndarray) -> tuple[float, float]:
  """(w_negative, w_positive) so that each class carries half the loss whatever its frequency."""
  p = float(np.clip(np.mean(labels), 1e-3, 1 - 1e-3))
  return 0.5 / (1.0 - p), 0.5 / p


def balanced_bce(logits: jax.Array, labels: jax.Array, weights: tuple[float, float]) -> jax.Array:
  """Mean class-weighted binary cross-entropy; labels (B,) in {0, 1} (1 = occluded)."""
  per_example = optax.sigmoid_binary_cross_entropy(logits, labels)
  w = jnp.where(labels > 0.5, weights[1], weights[0])
  return jnp.sum(w * per_example) / jnp.maximum(jnp.sum(w), 1e-6)


@nnx.jit(static_argnums=(5,))
def train_step(model: oc.OcclusionClassifier, optimizer: nnx.Optimizer, crops: jax.Array,
               labels: jax.Array, key: jax.Array, weights: tuple[float, float]) -> jax.Array:
  """One AdamW step on a batch: crops (B, S, S, C) uint8, labels (B,) float {0, 1}; returns loss.

  Left-right flips are free augmentation: occlusion does not care about handedness.
  """
  x = oc.crops_to_input(crops)
  flip = jax.random.bernoulli(key, 0.5, (x.shape[0], 1, 1, 1))
  x = jnp.where(flip, x[:, :, ::-1], x)

  def loss_fn(model):
    return balanced_bce(model(x), labels, weights)

  loss, grads = nnx.value_and_grad(loss_fn)(model)
  optimizer.update(model, grads)
  return loss


# ---------------------------------------------------------------------------------------------
# Evaluation: positives are UNOCCLUDED objects.

def unoccluded_scores(keep: np.ndarray, occluded: np.ndarray) -> dict[str, float]:
  """Precision, recall and F1 of keeping truly unoccluded objects.

  keep: (N,) bool, predicted unoccluded; occluded: (N,) bool ground-truth label.
  Precision is the purity of what is kept; 0 when nothing is kept.
  """
  keep, truth = np.asarray(keep, bool), ~np.asarray(occluded, bool)
  tp = float(np.sum(keep & truth))
  precision = tp / max(float(keep.sum()), 1.0)
  recall = tp / max(float(truth.sum()), 1.0)
  f1 = 2 * precision * recall / max(precision + recall, 1e-12)
  return {"precision": precision, "recall": recall, "f1": f1, "kept": int(keep.sum()),
          "positives": int(truth.sum()), "num": int(len(keep))}


def choose_threshold(prob_occluded: np.ndarray, occluded: np.ndarray, min_precision: float,
                     min_recall: float = 0.0) -> float:
  """Operating threshold on P(occluded) (keep when prob < threshold), picked on a VALIDATION split.

  Among thresholds whose precision of "unoccluded" reaches min_precision and whose recall
  reaches min_recall, the one with the best F1; if none reaches both, the best F1 among those
  that reach the most of them (the recall floor first: a verifier must not lose objects).
  """
  candidates = np.unique(np.concatenate([np.quantile(prob_occluded, np.linspace(0, 1, 201)), [1.0 + 1e-6]]))
  best, best_key = 0.5, (-1.0, -1.0, -1.0)
  for t in candidates:
    s = unoccluded_scores(prob_occluded < t, occluded)
    key = (float(s["recall"] >= min_recall), float(s["precision"] >= min_precision), s["f1"])
    if key > best_key:
      best, best_key = float(t), key
  return best


# ---------------------------------------------------------------------------------------------
# Checkpoints.

def checkpoint_manager(workdir: pathlib.Path, max_to_keep: int = 2) -> ocp.CheckpointManager:
  return ocp.CheckpointManager(
      pathlib.Path(workdir).resolve() / "checkpoints",
      options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True),
  )


def save_checkpoint(manager: ocp.CheckpointManager, step: int, model: nnx.Module,
                    optimizer: nnx.Optimizer | None, meta: dict) -> None:
  items = {"model": ocp.args.StandardSave(nnx.state(model)), "meta": ocp.args.JsonSave(meta)}
  if optimizer is not None:
    items["optimizer"] = ocp.args.StandardSave(nnx.state(optimizer))
  manager.save(step, args=ocp.args.Composite(**items))
  manager.wait_until_finished()


def restore_checkpoint(manager: ocp.CheckpointManager, model: nnx.Module,
                       optimizer: nnx.Optimizer | None, step: int | None = None) -> dict | None:
  """Restores model (and optimizer) in place from `step` (default latest); returns its metadata
  or None when the directory holds no checkpoint."""
  step = manager.latest_step() if step is None else step
  if step is None:
    return None
  items = {"model": ocp.args.StandardRestore(nnx.state(model)), "meta": ocp.args.JsonRestore()}
  if optimizer is not None:
    items["optimizer"] = ocp.args.StandardRestore(nnx.state(optimizer))
  restored = manager.restore(step, args=ocp.args.Composite(**items))
  nnx.update(model, restored["model"])
  if optimizer is not None:
    nnx.update(optimizer, restored["optimizer"])
  return dict(restored["meta"])


def load(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> tuple[oc.OcclusionClassifier, float]:
  """The trained classifier and its operating threshold from `workdir` (the big_vision `load()`)."""
  model = make_model(config, config.seed)
  meta = restore_checkpoint(checkpoint_manager(workdir), model, None)
  if meta is None or "threshold" not in meta:
    raise FileNotFoundError(f"{workdir}/checkpoints: no finished occlusion-classifier checkpoint")
  return model, float(meta["threshold"])


# ---------------------------------------------------------------------------------------------
# Training loop.

@dataclasses.dataclass
class TrainResult:
  model: oc.OcclusionClassifier
  threshold: float  # keep an object as unoccluded when P(occluded) < threshold
  history: list[dict]
  seconds: float


def train(config: ml_collections.ConfigDict, train_set: occlusion_data.OcclusionExamples,
          val_set: occlusion_data.OcclusionExamples, workdir: pathlib.Path) -> TrainResult:
  """Trains (resuming from workdir/checkpoints) and picks the threshold on `val_set`."""
  tic = time.perf_counter()
  tc = config.train
  if train_set.num < tc.batch_size:
    raise ValueError(f"{train_set.num} training examples, fewer than one batch of {tc.batch_size}")
  steps_per_epoch = train_set.num // tc.batch_size
  total_steps = steps_per_epoch * tc.epochs
  model = make_model(config, config.seed)
  optimizer = make_optimizer(model, tc, total_steps)
  manager = checkpoint_manager(workdir)
  meta = restore_checkpoint(manager, model, optimizer)
  first_epoch = int(meta["epoch"]) + 1 if meta else 0
  history = list(meta.get("history", [])) if meta else []
  if meta:
    logging.info("resuming the occlusion classifier after epoch %d", first_epoch - 1)

  labels = train_set.occluded.astype(np.float32)
  weights = class_weights(labels)
  key = jax.random.key(config.seed)
  bar = tqdm.tqdm(total=total_steps, initial=first_epoch * steps_per_epoch, unit="step",
                  desc="occlusion classifier", disable=not config.get("progress", True))
  for epoch in range(first_epoch, tc.epochs):
    # The epoch's order and flips follow from (seed, epoch) alone, so a resumed run is the same run.
    order_key, flip_key = jax.random.split(jax.random.fold_in(key, epoch))
    order = np.asarray(jax.random.permutation(order_key, train_set.num))
    losses = []
    for step in range(steps_per_epoch):
      idx = np.sort(order[step * tc.batch_size:(step + 1) * tc.batch_size])
      loss = train_step(model, optimizer, jnp.asarray(train_set.crops[idx]), jnp.asarray(labels[idx]),
                        jax.random.fold_in(flip_key, step), weights)
      losses.append(float(loss))
      bar.update(1)
    val_prob = oc.predict(model, val_set.crops)
    threshold = choose_threshold(val_prob, val_set.occluded, config.eval.min_precision,
                                 config.eval.get("min_recall", 0.0))
    scores = unoccluded_scores(val_prob < threshold, val_set.occluded)
    history.append({"epoch": epoch, "loss": float(np.mean(losses)), "val_f1": scores["f1"],
                    "val_precision": scores["precision"], "val_recall": scores["recall"]})
    logging.info("epoch %d: loss %.4f, val F1 %.3f (P %.3f R %.3f)", epoch, history[-1]["loss"],
                 scores["f1"], scores["precision"], scores["recall"])
    save_checkpoint(manager, (epoch + 1) * steps_per_epoch, model, optimizer,
                    {"epoch": epoch, "history": history, "threshold": threshold})
  bar.close()
  meta = restore_checkpoint(manager, model, optimizer)  # the final state, also after a no-op resume
  manager.close()
  return TrainResult(model, float(meta["threshold"]), list(meta["history"]), time.perf_counter() - tic)


def run(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> dict:
  """The `occlusion_classifier` job: data, training (resumable), held-out evaluation → results.json."""
  workdir = pathlib.Path(workdir)
  tic = time.perf_counter()
  splits = load_splits(config, workdir)
  data_seconds = time.perf_counter() - tic
  for name, examples in splits.items():
    logging.info("%s: %d examples, %.0f%% occluded", name, examples.num, 100 * examples.occluded.mean())
  result = train(config, splits["train"], splits["val"], workdir)
  test_prob = oc.predict(result.model, splits["test"].crops)
  summary = {
      "threshold": result.threshold,
      "test": unoccluded_scores(test_prob < result.threshold, splits["test"].occluded),
      "val": result.history[-1],
      "examples": {name: int(examples.num) for name, examples in splits.items()},
      "data_seconds": data_seconds, "train_seconds": result.seconds,
  }
  (workdir / "results.json").write_text(json.dumps(summary, indent=2, sort_keys=True))
  logging.info("occlusion classifier on held-out scenes: %s", summary["test"])
  return summary
