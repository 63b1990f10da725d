"""Periodic evaluation of the amodal detector on a held-out split: loss and amodal box AP50.

`evaluate(model, source, config)` runs every example of `source` once (no shuffle, no flip),
in fixed-size batches (the last one padded and its padding ignored), and returns the weighted
held-out loss with each term's mean (per-image (total, count) terms summed over real images only),
COCO box AP at IoU 0.5 of the amodal boxes (pycocotools; `ap50_car`, `ap50_person` too) and a
picture of the first image: predictions (score ≥ 0.3, amodal masks and boxes) beside the ground
truth.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any, Mapping

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np

from walt3d_jax.evaluation import inference
from walt3d_jax.models import amodal
from walt3d_jax.models import losses
from walt3d_jax.train import step as step_lib
from walt3d_jax.viz import overlays

DRAW_SCORE = 0.3


@nnx.jit(static_argnums=(2, 3, 4))
def _forward(model: amodal.Model, batch: dict, weights: tuple, image_size: tuple[int, int],
             max_detections: int):
  """Per-image terms {name: (totals (B,), counts (B,))} and the decoded detections."""
  outputs = model(batch["image"])
  per_image = jax.vmap(lambda o, b: losses.terms(jax.tree.map(lambda x: x[None], o),
                                                 jax.tree.map(lambda x: x[None], b), dict(weights)))
  terms = per_image(outputs, batch)
  det = amodal.decode(outputs, batch["K"], batch["plane"], image_size, max_detections, with_3d=False)
  return terms, det


def coco_ap50(gt: list[dict], dt: list[dict], image_ids: list[int]) -> dict[str, float]:
  """COCO bbox AP at IoU 0.5 overall and per category (−1 where a category has no truth)."""
  from pycocotools.coco import COCO
  from pycocotools.cocoeval import COCOeval

  cats = [{"id": amodal.CAR, "name": "car"}, {"id": amodal.PERSON, "name": "person"}]
  for i, a in enumerate(gt):
    a.update(id=i + 1, iscrowd=0, area=float(a["bbox"][2] * a["bbox"][3]))
  with contextlib.redirect_stdout(io.StringIO()):
    coco_gt = COCO()
    coco_gt.dataset = {"images": [{"id": i} for i in image_ids], "annotations": gt, "categories": cats}
    coco_gt.createIndex()
    out = {}
    for name, cat_ids in (("ap50", [amodal.CAR, amodal.PERSON]), ("ap50_car", [amodal.CAR]),
                          ("ap50_person", [amodal.PERSON])):
      if not any(a["category_id"] in cat_ids for a in gt):
        out[name] = -1.0
        continue
      if not dt:
        out[name] = 0.0
        continue
      coco_dt = coco_gt.loadRes([dict(d) for d in dt])
      ev = COCOeval(coco_gt, coco_dt, "bbox")
      ev.params.catIds = cat_ids
      ev.evaluate()
      ev.accumulate()
      ev.summarize()
      out[name] = float(max(ev.stats[1], 0.0))
  return out


def picture(image: np.ndarray, det: Mapping[str, np.ndarray], batch: Mapping[str, np.ndarray]) -> np.ndarray:
  """(H, 2W + 4, 3) uint8: predictions (left) and ground truth (right) on one image."""
  pred, truth = image.copy(), image.copy()
  for j in np.flatnonzero(det["score"] >= DRAW_SCORE):
    color = overlays.instance_color(int(det["category"][j]) * 7 + j)
    pred = overlays.draw_mask(pred, det["amodal_mask"][j], color)
    pred = overlays.draw_box(pred, det["amodal_box"][j], color)
  for j in np.flatnonzero(batch["object_valid"]):
    color = overlays.instance_color(int(batch["category"][j]) * 7 + j)
    truth = overlays.draw_mask(truth, batch["amodal_mask"][j], color)
    truth = overlays.draw_box(truth, batch["amodal_box"][j], color)
  return overlays.grid([pred, truth], columns=2)


def evaluate(model: amodal.Model, source, config) -> tuple[dict[str, float], np.ndarray | None]:
  """({loss, <term>..., ap50, ap50_car, ap50_person, images}, picture) on `source`.

  config: the training config (data.image_size, data.max_objects, loss, eval.batch_size,
  eval.max_detections)."""
  weights = tuple(sorted((k, float(v)) for k, v in config.loss.items() if v))
  image_size = tuple(config.data.image_size)
  totals: dict[str, list[float]] = {}
  gt, dt, image_ids, pic = [], [], [], None
  image_id = 0
  for batch, real in inference.batches(source, config.eval.batch_size, image_size, config.data.max_objects):
    terms, det = _forward(model, step_lib.device_batch(batch), weights, image_size, config.eval.max_detections)
    terms, det = jax.device_get((terms, det))
    for name, (total, count) in terms.items():
      acc = totals.setdefault(name, [0.0, 0.0])
      acc[0] += float(np.sum(total[real]))
      acc[1] += float(np.sum(count[real]))
    for i in np.flatnonzero(real):
      image_ids.append(image_id)
      for j in np.flatnonzero(batch["object_valid"][i]):
        gt.append({"image_id": image_id, "category_id": int(batch["category"][i, j]),
                   "bbox": [float(x) for x in batch["amodal_box"][i, j]]})
      for j in range(det["score"].shape[1]):
        box = det["amodal_box"][i, j]
        if box[2] > 0 and box[3] > 0:
          dt.append({"image_id": image_id, "category_id": int(det["category"][i, j]),
                     "bbox": [float(x) for x in box], "score": float(det["score"][i, j])})
      if pic is None:
        pic = picture(batch["image"][i], {k: v[i] for k, v in det.items()}, {k: v[i] for k, v in batch.items()})
      image_id += 1
  metrics = {name: t / max(c, 1.0) for name, (t, c) in totals.items()}
  metrics["loss"] = sum(dict(weights)[name] * m for name, m in metrics.items())
  metrics.update(coco_ap50(gt, dt, image_ids))
  metrics["images"] = float(len(image_ids))
  return metrics, pic
