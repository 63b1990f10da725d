"""A trained amodal detector run once over a dataset split: per image, its truth and detections.

`collect(model, source, ...)` decodes every example of a random-access source (a
`walt3d_clipart` or `walt3d_trueocc` split) at the model's input size, runs the model in
fixed-size batches (the last one padded by repetition, its padding dropped) and keeps, per
image, the ground truth of its valid objects and the model's top-k detections, masks as
compressed RLE so a split of any length fits in memory. The first `keep_images` images also
keep their pixels and dense masks for pictures.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterator, Sequence

import jax
import numpy as np
import tqdm

from walt3d_jax.data import pipeline
from walt3d_jax.formats import rle
from walt3d_jax.models import amodal
from walt3d_jax.models import predict

# Per-object ground-truth fields of a pipeline batch kept for scoring (valid objects only).
TRUTH_FIELDS = ("category", "amodal_box", "visible_box", "occlusion", "keypoints", "keypoint_states",
                "num_keypoints", "rotation", "translation", "keypoints_3d", "shape_num")
# Per-detection fields of `amodal.decode` kept for scoring.
DETECTION_FIELDS = ("score", "category", "amodal_box", "visible_box", "keypoints", "keypoint_states",
                    "keypoint_score", "rotation", "translation", "keypoints_3d", "pose_valid")


@dataclasses.dataclass
class ImageRecord:
  """One evaluated image.

  truth: per-object arrays (M, ...) of TRUTH_FIELDS (boxes [x, y, w, h] pixels at the model's
    input size, keypoints pixels, 3D in camera metres), `amodal_rle` (M RLE dicts).
  detections: per-detection arrays (k, ...) of DETECTION_FIELDS (3D ones only with_3d),
    `amodal_rle` (k RLE dicts).
  width, height: the model's input size. picture: None, or {image (H, W, 3) uint8,
    truth_amodal_mask (M, H, W), amodal_mask (k, H, W)} for the first images.
  """

  truth: dict[str, Any]
  detections: dict[str, Any]
  width: int
  height: int
  picture: dict[str, np.ndarray] | None = None


def batches(source: Sequence[Any], batch_size: int, image_size: tuple[int, int] | None,
            max_objects: int) -> Iterator[tuple[dict[str, np.ndarray], np.ndarray]]:
  """(batch, real (B,) bool) over every example of `source` once, in order, unflipped; the
  last batch is padded by repeating its last example."""
  config = pipeline.PipelineConfig(batch_size=batch_size, image_size=None if image_size is None else tuple(image_size),
                                   max_objects=max_objects, flip_prob=0.0, shuffle=False, num_epochs=1)
  ds = pipeline.make_dataset(source, config)
  for start in range(0, len(ds), batch_size):
    chunk = [ds[i] for i in range(start, min(start + batch_size, len(ds)))]
    real = np.arange(batch_size) < len(chunk)
    chunk = chunk + [chunk[-1]] * (batch_size - len(chunk))
    yield {k: np.stack([e[k] for e in chunk]) for k in chunk[0]}, real


def mask_rles(masks: np.ndarray) -> list[dict]:
  return [rle.encode_mask(m) for m in masks]


def collect(model: amodal.Model, source: Sequence[Any], image_size: tuple[int, int], *, batch_size: int = 8,
            max_objects: int = 32, max_detections: int = 32, with_3d: bool = True,
            min_score: float = 0.01, keep_images: int = 6, progress: bool = False) -> list[ImageRecord]:
  """ImageRecords of every example of `source` (module docstring); detections below `min_score`
  are dropped (they cannot change AP at 100 detections per image and cost RLE time)."""
  width, height = image_size
  records: list[ImageRecord] = []
  total = -(-len(source) // batch_size)
  for batch, real in tqdm.tqdm(batches(source, batch_size, image_size, max_objects), total=total,
                               unit="batch", disable=not progress, desc="evaluate"):
    det = jax.device_get(predict.detect(model, batch["image"], batch["K"], batch["plane"], (width, height),
                                 max_detections, with_3d))
    for i in np.flatnonzero(real):
      valid = batch["object_valid"][i]
      truth = {k: batch[k][i][valid] for k in TRUTH_FIELDS}
      truth["amodal_rle"] = mask_rles(batch["amodal_mask"][i][valid])
      keep = det["score"][i] >= min_score
      detections = {k: det[k][i][keep] for k in DETECTION_FIELDS if k in det}
      detections["amodal_rle"] = mask_rles(det["amodal_mask"][i][keep])
      picture = None
      if len(records) < keep_images:
        picture = {"image": batch["image"][i], "truth_amodal_mask": batch["amodal_mask"][i][valid],
                   "amodal_mask": det["amodal_mask"][i][keep]}
      records.append(ImageRecord(truth, detections, width, height, picture))
  return records
