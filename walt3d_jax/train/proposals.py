"""Trains the proposal network (models/proposal_net.py) on simulated frames, their backgrounds
and the simulator's visible boxes (`timelapse/proposal_data.py`).

Read top to bottom: patches (random windows of frames, half of them centred on an object, with
their objects' boxes clipped to the window), the loss (CenterNet's focal loss on the centre
heatmap and GIoU of the box at each object's centre cell), the jitted step (random left-right
flips), whole-frame prediction, the scores that choose the threshold (precision and recall at
IoU 0.5, class-aware, against every target object), the loop, and the job.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import time
import types

from absl import logging
from flax import nnx
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import tqdm

from walt3d_jax.metrics import detection as detection_metrics
from walt3d_jax.models import amodal
from walt3d_jax.models import losses
from walt3d_jax.models import occlusion_weights
from walt3d_jax.models import proposal_net
from walt3d_jax.models import proposal_weights
from walt3d_jax.timelapse import occlusion_data
from walt3d_jax.timelapse import proposal_data
from walt3d_jax.models.padded_batches import padded_map
from walt3d_jax.train import occlusion as occlusion_training

WEIGHTS_NAME = "proposal_net.npz"  # in the job's workdir

MIN_KEPT_SHARE = 0.5  # an object cut by a patch's edge stays a target while this much shows


def patches(frames: proposal_data.Frames, rng: np.random.Generator, batch_size: int, size: int, max_objects: int
            ) -> dict[str, np.ndarray]:
  """A batch of `size`-pixel windows: images, backgrounds (B, S, S, 3) uint8; boxes (B, M, 4)
  xywh in the window, categories (B, M), valid (B, M) bool. Half the windows are centred on a
  random object (objects are sparse), the rest anywhere; an object is kept while MIN_KEPT_SHARE
  of its box shows in the window."""
  f, height, width, _ = frames.images.shape
  if size > min(height, width):
    raise ValueError(f"patch size {size} exceeds the frames' {width}×{height}")
  out = {"images": np.zeros((batch_size, size, size, 3), np.uint8),
         "backgrounds": np.zeros((batch_size, size, size, 3), np.uint8),
         "boxes": np.zeros((batch_size, max_objects, 4), np.float32),
         "categories": np.ones((batch_size, max_objects), np.int32),
         "valid": np.zeros((batch_size, max_objects), bool)}
  for b in range(batch_size):
    i = int(rng.integers(f))
    boxes = np.asarray(frames.boxes[i], np.float64).reshape(-1, 4)
    if len(boxes) and rng.random() < 0.5:
      x, y, w, h = boxes[rng.integers(len(boxes))]
      x0, y0 = x + w / 2 - size / 2 + rng.normal(0, size / 8), y + h / 2 - size / 2 + rng.normal(0, size / 8)
    else:
      x0, y0 = rng.uniform(0, width - size), rng.uniform(0, height - size)
    x0, y0 = int(np.clip(round(x0), 0, width - size)), int(np.clip(round(y0), 0, height - size))
    out["images"][b] = frames.images[i, y0:y0 + size, x0:x0 + size]
    out["backgrounds"][b] = frames.backgrounds[i, y0:y0 + size, x0:x0 + size]
    lo = np.clip(boxes[:, :2] - (x0, y0), 0, size)
    hi = np.clip(boxes[:, :2] + boxes[:, 2:] - (x0, y0), 0, size)
    shown = np.prod(hi - lo, axis=1) >= MIN_KEPT_SHARE * np.prod(boxes[:, 2:], axis=1)
    keep = np.flatnonzero(shown & (np.prod(boxes[:, 2:], axis=1) > 0))[:max_objects]
    n = len(keep)
    out["boxes"][b, :n] = np.concatenate([lo[keep], hi[keep] - lo[keep]], axis=1)
    out["categories"][b, :n] = np.asarray(frames.categories[i])[keep]
    out["valid"][b, :n] = True
  return out


def flip(batch: dict[str, jax.Array], flipped: jax.Array) -> dict[str, jax.Array]:
  """The batch with the windows where `flipped` (B,) bool mirrored left-right, boxes with them."""
  size = batch["images"].shape[2]
  mirror = lambda x: jnp.where(flipped[:, None, None, None], x[:, :, ::-1], x)
  boxes = batch["boxes"]
  boxes = jnp.where(flipped[:, None, None], boxes.at[..., 0].set(size - boxes[..., 0] - boxes[..., 2]), boxes)
  return {**batch, "images": mirror(batch["images"]), "backgrounds": mirror(batch["backgrounds"]), "boxes": boxes}


def loss_terms(outputs: dict[str, jax.Array], batch: dict[str, jax.Array]) -> dict[str, jax.Array]:
  """{"heatmap": focal loss per centre cell, "box": mean 1 - GIoU of the boxes at the objects'
  centre cells}; batch as `patches` gives it."""
  _, h, w, _ = outputs["heatmap"].shape
  valid = batch["valid"].astype(jnp.float32)
  target = losses.heatmap_target({"amodal_box": batch["boxes"], "object_valid": valid,
                                  "category": batch["categories"]}, h, w)
  focal, count = losses.focal_heatmap(outputs["heatmap"], target)
  cells = amodal.centre_cells(batch["boxes"], h, w)  # (B, M)
  predicted = jnp.take_along_axis(proposal_net.boxes_at(outputs["ltrb"]), cells[..., None], axis=1)
  true = jnp.concatenate([batch["boxes"][..., :2], batch["boxes"][..., :2] + batch["boxes"][..., 2:]], -1)
  box = jnp.sum((1.0 - losses.giou(predicted, true)) * valid) / jnp.maximum(valid.sum(), 1.0)
  return {"heatmap": focal / jnp.maximum(count, 1.0), "box": box}


@nnx.jit(static_argnums=(4,))
def train_step(model: proposal_net.ProposalNet, optimizer: nnx.Optimizer, batch: dict[str, jax.Array],
               key: jax.Array, box_weight: float) -> dict[str, jax.Array]:
  """One optimizer step on a `patches` batch, each window flipped with probability 1/2;
  returns the loss terms."""
  batch = flip(batch, jax.random.bernoulli(key, 0.5, (batch["images"].shape[0],)))

  def loss_fn(model):
    terms = loss_terms(model(batch["images"], batch["backgrounds"]), batch)
    return terms["heatmap"] + box_weight * terms["box"], terms

  (_, terms), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model)
  optimizer.update(model, grads)
  return terms


# ---------------------------------------------------------------------------------------------
# Whole frames: prediction and scores.

def predict(model: proposal_net.ProposalNet, images: np.ndarray, backgrounds: np.ndarray, max_detections: int,
            batch_size: int = 8) -> dict[str, np.ndarray]:
  """`proposal_net.decode` of frames (F, H, W, 3) uint8 and their backgrounds, in batches padded
  to batch_size (one compilation): boxes (F, k, 4) [x0, y0, x1, y1], scores (F, k), categories (F, k)."""
  keys = ("boxes", "scores", "categories")
  flat = padded_map(
      lambda a, b: np.concatenate([np.asarray(v, np.float32).reshape(len(a), max_detections, -1)
                                   for v in (proposal_net.detect(model, a, b, max_detections)[k] for k in keys)],
                                  axis=-1),
      (images, backgrounds), batch_size, np.zeros((0, max_detections, 6), np.float32))
  return {"boxes": flat[..., :4], "scores": flat[..., 4], "categories": flat[..., 5].astype(np.int32)}


def xyxy_to_xywh(boxes: np.ndarray) -> np.ndarray:
  """(…, 4) [x0, y0, x1, y1] → [x, y, w, h]."""
  boxes = np.asarray(boxes, np.float64)
  return np.concatenate([boxes[..., :2], boxes[..., 2:] - boxes[..., :2]], axis=-1)


def counts(predicted: dict[str, np.ndarray], frames: proposal_data.Frames, threshold: float,
           keep: np.ndarray | None = None) -> detection_metrics.DetectionCounts:
  """Class-aware counts at IoU 0.5 of the predictions scoring >= threshold against every target
  object, over the frames `keep` (F,) bool (default all)."""
  keep = np.ones(frames.num, bool) if keep is None else keep
  pairs = []
  for i in np.flatnonzero(keep):
    k = predicted["scores"][i] >= threshold
    pairs.append((types.SimpleNamespace(boxes=xyxy_to_xywh(predicted["boxes"][i][k]), scores=predicted["scores"][i][k],
                                        categories=predicted["categories"][i][k]),
                  types.SimpleNamespace(boxes=frames.boxes[i], categories=frames.categories[i])))
  return detection_metrics.evaluate_detections(pairs)[detection_metrics.ALL]


def scores(predicted: dict[str, np.ndarray], frames: proposal_data.Frames, threshold: float) -> dict[str, dict]:
  """{period: {precision, recall, f1}} for 'all' and each lighting period present."""
  periods = {"all": np.ones(frames.num, bool)}
  periods.update({p: np.array([l == p for l in frames.lighting]) for p in sorted(set(frames.lighting))})
  out = {}
  for name, keep in periods.items():
    c = counts(predicted, frames, threshold, keep)
    out[name] = {"precision": round(c.precision, 4), "recall": round(c.recall, 4), "f1": round(c.f1, 4),
                 "tp": c.tp, "fp": c.fp, "fn": c.fn}
  return out


def choose_threshold(predicted: dict[str, np.ndarray], frames: proposal_data.Frames,
                     thresholds: list[float]) -> tuple[float, dict[float, float]]:
  """The threshold of best F1 on `frames` (ties: the higher) and the F1 of each."""
  f1 = {float(t): counts(predicted, frames, t).f1 for t in thresholds}
  return max(f1, key=lambda t: (f1[t], t)), f1


# ---------------------------------------------------------------------------------------------
# The loop and the job.

@dataclasses.dataclass(frozen=True)
class TrainResult:
  model: proposal_net.ProposalNet
  history: list[dict]  # per logged interval: step, mean loss terms
  seconds: float


def train(config: ml_collections.ConfigDict, frames: proposal_data.Frames) -> TrainResult:
  """config.train.steps AdamW steps on random patches of `frames` (seeded: config.seed)."""
  tic = time.perf_counter()
  tc = config.train
  if frames.num_objects == 0:
    raise ValueError("no target objects in the training frames")
  model = proposal_net.create(config.model.variant, config.seed)
  optimizer = occlusion_training.make_optimizer(model, tc, tc.steps)
  rng, key = np.random.default_rng(config.seed), jax.random.key(config.seed)
  history, window = [], []
  bar = tqdm.tqdm(total=tc.steps, unit="step", desc="proposal network", disable=not config.get("progress", True))
  for step in range(tc.steps):
    batch = patches(frames, rng, tc.batch_size, tc.patch_size, tc.max_objects)
    terms = train_step(model, optimizer, batch, jax.random.fold_in(key, step), float(tc.box_weight))
    window.append([float(terms["heatmap"]), float(terms["box"])])
    bar.update(1)
    if (step + 1) % tc.log_every == 0 or step + 1 == tc.steps:
      heat, box = np.mean(window, axis=0)
      history.append({"step": step + 1, "heatmap": round(float(heat), 4), "box": round(float(box), 4)})
      logging.info("proposal network step %d: heatmap %.3f, box %.3f (%.2f steps/s)", step + 1, heat, box,
                   (step + 1) / (time.perf_counter() - tic))
      window = []
  bar.close()
  return TrainResult(model, history, time.perf_counter() - tic)


def load_splits(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> dict[str, proposal_data.Frames]:
  """{"train", "val", "test"} frames of the scenes config.splits names (simulated once into
  config.cache_dir, default workdir/sim); val and test may share no scene with train."""
  cache = pathlib.Path(config.get("cache_dir") or pathlib.Path(workdir) / "sim")
  seen = {(p, s) for p in config.splits.train.presets for s in config.splits.train.seeds}
  out = {}
  for name in ("train", "val", "test"):
    spec = config.splits[name]
    if name != "train" and seen & {(p, s) for p in spec.presets for s in spec.seeds}:
      raise ValueError(f"config.splits.{name} shares scenes with config.splits.train")
    out[name] = proposal_data.build_frames(config.sim, occlusion_data.scene_specs(spec.presets, spec.seeds),
                                           config.data, cache)
  return out


def run(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> dict:
  """The `proposal_net` job: frames, training, the threshold of best F1 on the validation scenes,
  held-out scores → workdir/proposal_net.npz (models/proposal_weights.py) and results.json."""
  workdir = pathlib.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  tic = time.perf_counter()
  splits = load_splits(config, workdir)
  data_seconds = time.perf_counter() - tic
  for name, frames in splits.items():
    logging.info("%s: %d frames, %d objects", name, frames.num, frames.num_objects)
  result = train(config, splits["train"])
  ec = config.eval
  predicted = {name: predict(result.model, splits[name].images, splits[name].backgrounds, ec.max_detections)
               for name in ("val", "test")}
  threshold, val_f1 = choose_threshold(predicted["val"], splits["val"], list(ec.thresholds))
  config_json = json.dumps(config.to_dict() | {"cache_dir": ""}, sort_keys=True)
  input_width = int(splits["train"].images.shape[2])
  occlusion_weights.save(workdir / WEIGHTS_NAME, proposal_weights.to_arrays(result.model, threshold, input_width,
                                                                            config_json))
  summary = {
      "threshold": threshold,
      "val_f1": {f"{t:g}": round(f, 4) for t, f in val_f1.items()},
      "val": scores(predicted["val"], splits["val"], threshold),
      "test": scores(predicted["test"], splits["test"], threshold),
      "train": result.history[-1],
      "frames": {name: frames.num for name, frames in splits.items()},
      "data_seconds": round(data_seconds, 1), "train_seconds": round(result.seconds, 1),
  }
  (workdir / "results.json").write_text(json.dumps(summary, indent=2, sort_keys=True))
  logging.info("proposal network on held-out scenes (threshold %.2f): %s", threshold, summary["test"])
  return summary
