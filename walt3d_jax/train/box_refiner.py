"""Trains the box refiner (timelapse/refine.py) on the detection verifier's examples.

Read top to bottom: the targets (each detection's box edges and the offsets to the visible box
of the true object it overlaps most, in its crop window's units), the jitted step (Huber loss on
the offsets, near misses weighted up, random left-right flips with the edges mirrored), the epoch
loop, and the figures that say whether boxes got better: mean IoU with the true box, and how many
near misses (IoU 0.3-0.5) cross 0.5 against how many good boxes fall under it.

The examples are the detection verifier's (`timelapse/verifier_data.py`, data.source 'verifier'),
loaded by the occlusion classifier's `load_splits`, so the two share their simulated scenes.
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
import tqdm

from walt3d_jax.metrics import detection as detection_metrics
from walt3d_jax.models import box_refiner
from walt3d_jax.models import occlusion_classifier as oc
from walt3d_jax.models import occlusion_weights
from walt3d_jax.models import refiner_weights
from walt3d_jax.timelapse import occlusion_data
from walt3d_jax.timelapse import refine
from walt3d_jax.train import occlusion as occlusion_training

NEAR_MISS = (0.3, 0.5)  # IoU band of boxes on the right object but not counted as found
WEIGHTS_NAME = "box_refiner.npz"  # in the job's workdir


@dataclasses.dataclass(frozen=True)
class Targets:
  """Per example: edges (N, 4) of its box and offsets (N, 4) to its target's, window units;
  weight (N,) of its loss (0: no target to learn); iou (N,) of box and target (0 without one)."""

  edges: np.ndarray
  offsets: np.ndarray
  weight: np.ndarray
  iou: np.ndarray


def targets(examples: occlusion_data.OcclusionExamples, context: float, config: ml_collections.ConfigDict) -> Targets:
  """The regression targets of `examples`; config: min_iou (least IoU with the target to learn
  from: below it the overlap is often another object), near_iou and near_weight (examples under
  near_iou weigh near_weight: the boxes to move are few among those already right)."""
  window = refine.windows(examples.boxes, context)
  edges = refine.box_edges(examples.boxes, window)
  has = np.isfinite(examples.target_boxes).all(axis=1)
  target = np.where(has[:, None], examples.target_boxes, examples.boxes)
  iou = np.where(has, detection_metrics.paired_box_iou(examples.boxes, target), 0.0)
  weight = np.where(has & (iou >= config.min_iou), np.where(iou < config.near_iou, config.near_weight, 1.0), 0.0)
  return Targets(edges.astype(np.float32), (refine.box_edges(target, window) - edges).astype(np.float32),
                 weight.astype(np.float32), iou)


@nnx.jit(static_argnums=(7,))
def train_step(model: box_refiner.BoxRefiner, optimizer: nnx.Optimizer, crops: jax.Array, edges: jax.Array,
               offsets: jax.Array, weight: jax.Array, key: jax.Array, delta: float) -> jax.Array:
  """One AdamW step on a batch: crops (B, S, S, C) uint8, edges and offsets (B, 4), weight (B,);
  returns the loss (weighted Huber, in units of `delta` where linear)."""
  x = oc.crops_to_input(crops)
  flip = jax.random.bernoulli(key, 0.5, (x.shape[0],))
  x = jnp.where(flip[:, None, None, None], x[:, :, ::-1], x)
  edges = jnp.where(flip[:, None], box_refiner.flip_edges(edges), edges)
  offsets = jnp.where(flip[:, None], box_refiner.flip_offsets(offsets), offsets)

  def loss_fn(model):
    per_example = optax.huber_loss(model(x, edges), offsets, delta=delta).sum(axis=-1) / delta
    return jnp.sum(weight * per_example) / jnp.maximum(jnp.sum(weight), 1.0)

  loss, grads = nnx.value_and_grad(loss_fn)(model)
  optimizer.update(model, grads)
  return loss


def box_scores(model: box_refiner.BoxRefiner, examples: occlusion_data.OcclusionExamples, context: float,
               min_iou: float) -> dict[str, float]:
  """Of the examples whose box overlaps its target by at least min_iou: mean IoU before and
  after refinement, near misses (IoU in NEAR_MISS) and how many end at or over 0.5, good boxes
  (at or over 0.5) and how many end under it."""
  has = np.isfinite(examples.target_boxes).all(axis=1)
  rows = examples.select(has)
  before = detection_metrics.paired_box_iou(rows.boxes, rows.target_boxes)
  keep = before >= min_iou
  rows, before = rows.select(keep), before[keep]
  moved = refine.clip_boxes(refine.refined_boxes(model, rows.crops, rows.boxes, context), rows.image_size)
  after = detection_metrics.paired_box_iou(moved, rows.target_boxes)
  near = (before >= NEAR_MISS[0]) & (before < NEAR_MISS[1])
  good = before >= NEAR_MISS[1]
  return {"num": int(keep.sum()), "iou_before": float(before.mean()) if len(before) else 0.0,
          "iou_after": float(after.mean()) if len(after) else 0.0, "near_misses": int(near.sum()),
          "near_fixed": int((after[near] >= NEAR_MISS[1]).sum()), "good": int(good.sum()),
          "good_lost": int((after[good] < NEAR_MISS[1]).sum())}


@dataclasses.dataclass
class TrainResult:
  model: box_refiner.BoxRefiner
  history: list[dict]
  seconds: float


def train(config: ml_collections.ConfigDict, train_set: occlusion_data.OcclusionExamples,
          val_set: occlusion_data.OcclusionExamples) -> TrainResult:
  """Trains a refiner from scratch on `train_set`, scored on `val_set` after each epoch."""
  tic = time.perf_counter()
  tc, rc = config.train, config.refiner
  target = targets(train_set, config.data.context, rc)
  rows = np.flatnonzero(target.weight > 0)
  if len(rows) < tc.batch_size:
    raise ValueError(f"{len(rows)} examples with a target box, fewer than one batch of {tc.batch_size}")
  steps_per_epoch = len(rows) // tc.batch_size
  total_steps = steps_per_epoch * tc.epochs
  model = box_refiner.create(config.model.variant, train_set.crops.shape[-1], config.data.crop_size, config.seed)
  optimizer = occlusion_training.make_optimizer(model, tc, total_steps)
  key = jax.random.key(config.seed)
  history = []
  bar = tqdm.tqdm(total=total_steps, unit="step", desc="box refiner", disable=not config.get("progress", True))
  for epoch in range(tc.epochs):
    order_key, flip_key = jax.random.split(jax.random.fold_in(key, epoch))
    order = rows[np.asarray(jax.random.permutation(order_key, len(rows)))]
    losses = []
    for step in range(steps_per_epoch):
      idx = np.sort(order[step * tc.batch_size:(step + 1) * tc.batch_size])
      loss = train_step(model, optimizer, jnp.asarray(train_set.crops[idx]), jnp.asarray(target.edges[idx]),
                        jnp.asarray(target.offsets[idx]), jnp.asarray(target.weight[idx]),
                        jax.random.fold_in(flip_key, step), float(rc.huber_delta))
      losses.append(float(loss))
      bar.update(1)
    scores = box_scores(model, val_set, config.data.context, rc.min_iou)
    history.append({"epoch": epoch, "loss": float(np.mean(losses)), **{f"val_{k}": v for k, v in scores.items()}})
    logging.info("epoch %d: loss %.4f, val IoU %.3f → %.3f, near misses fixed %d of %d, good lost %d of %d",
                 epoch, history[-1]["loss"], scores["iou_before"], scores["iou_after"], scores["near_fixed"],
                 scores["near_misses"], scores["good_lost"], scores["good"])
  bar.close()
  return TrainResult(model, history, time.perf_counter() - tic)


def run(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> dict:
  """The `box_refiner` job: examples, training, held-out scores → workdir/box_refiner.npz (the
  layout of models/refiner_weights.py) and results.json."""
  workdir = pathlib.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  tic = time.perf_counter()
  splits = occlusion_training.load_splits(config, workdir)
  data_seconds = time.perf_counter() - tic
  result = train(config, splits["train"], splits["val"])
  config_json = json.dumps(config.to_dict() | {"cache_dir": ""}, sort_keys=True)
  occlusion_weights.save(workdir / WEIGHTS_NAME, refiner_weights.to_arrays(result.model, config.data.context,
                                                                              config_json))
  summary = {
      "test": box_scores(result.model, splits["test"], config.data.context, config.refiner.min_iou),
      "val": result.history[-1],
      "examples": {name: int(examples.num) for name, examples in splits.items()},
      "data_seconds": round(data_seconds, 1), "train_seconds": round(result.seconds, 1),
  }
  (workdir / "results.json").write_text(json.dumps(summary, indent=2, sort_keys=True))
  logging.info("box refiner on held-out scenes: %s", summary["test"])
  return summary
