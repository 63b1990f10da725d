"""The `evaluate` job: any trained checkpoint on any dataset split (experiments/evaluate.py).

  config.checkpoint (a `train` workdir) + config.dataset / config.data_dir / config.split
  (a built walt3d_clipart or walt3d_trueocc split, array_record)
    → <workdir>/scores.json   amodal box and mask AP overall and per occlusion bin, recall,
                              PCK by keypoint state, cars' and people's 3D (evaluation.scores)
    → <workdir>/report.md     the same as tables, with ap_by_occlusion.png and predictions.png

The model runs at its training input size (the checkpoint's metadata); the truth is resized
to it by the input pipeline, so AP is measured at that size.
"""

from __future__ import annotations

import pathlib
import time
from typing import Any

from absl import logging
import ml_collections

from walt3d_jax.errors import UserError
from walt3d_jax.evaluation import inference
from walt3d_jax.evaluation import report
from walt3d_jax.evaluation import scores as scores_lib
from walt3d_jax.formats import coco
from walt3d_jax.models import predict


class EvaluateError(UserError):
  """An evaluate config that cannot run; the message names the field."""


def open_split(dataset: str, data_dir: str, split: str):
  """The random-access source of a built split, or an EvaluateError naming the field."""
  from walt3d_jax.data import pipeline

  if not data_dir or not pathlib.Path(data_dir).is_dir():
    raise EvaluateError(f"config.data_dir: no folder {data_dir!r} (an array_record data dir of a built dataset)")
  try:
    source = pipeline.data_source(dataset, data_dir, split)
  except Exception as e:  # TFDS raises several types for a missing dataset, config or split
    raise EvaluateError(f"config.dataset/config.split: cannot open {dataset!r} split {split!r} under "
                        f"{data_dir} ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from e
  if len(source) == 0:
    raise EvaluateError(f"config.split: {dataset!r} split {split!r} under {data_dir} is empty")
  return source


def evaluate(model, meta: dict, source, config: ml_collections.ConfigDict) -> tuple[dict[str, Any], list]:
  """(scores, records) of a loaded model on a source."""
  limit = len(source) if config.max_images < 0 else min(config.max_images, len(source))
  if limit < len(source):
    source = [source[i] for i in range(limit)]
  max_det = config.max_detections or int(meta["model"].get("max_detections", 32))
  records = inference.collect(model, source, tuple(meta["model"]["image_size"]), batch_size=config.batch_size,
                              max_objects=config.max_objects, max_detections=max_det, with_3d=config.with_3d,
                              keep_images=config.picture_images, progress=config.progress)
  return scores_lib.score(records, config.match_score), records


def run(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> dict[str, Any]:
  """The `evaluate` job (module docstring); returns the scores."""
  tic = time.perf_counter()
  workdir = pathlib.Path(workdir)
  if not config.checkpoint:
    raise EvaluateError("config.checkpoint: required (a train workdir or its checkpoints/ folder)")
  source = open_split(config.dataset, config.data_dir, config.split)
  model, meta = predict.load(config.checkpoint)
  scores, records = evaluate(model, meta, source, config)
  scores["seconds"] = round(time.perf_counter() - tic, 2)
  coco.write_json(scores, workdir / "scores.json")
  info = {"checkpoint": str(config.checkpoint), "model": meta["model"]["variant"], "input size": meta["model"]["image_size"],
          "dataset": f"{config.dataset} [{config.split}]", "data dir": config.data_dir}
  path = report.write_report(workdir, scores, records, config.title or f"Evaluation on {config.dataset} [{config.split}]", info)
  box = scores["detection"]["bbox"]["all"]
  logging.info("evaluate: box AP %s, AP50 %s on %d images; report %s", box["AP"], box["AP50"], scores["images"], path)
  return scores
