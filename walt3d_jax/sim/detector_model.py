"""Imitates an off-the-shelf instance detector on simulated frames.

Real footage enters the mining stage as the COCO *results* file that detectron2 or mmdetection
write. The simulator writes the same file from its ground truth, degraded the way such detectors
degrade: visible (modal) masks only, ragged mask borders, misses that grow with occlusion and
smallness, keypoint noise that grows for hidden keypoints, and a few false positives.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import cv2
import numpy as np

from walt3d_jax.formats import rle
from walt3d_jax.formats.coco import Category
from walt3d_jax.formats.coco import KeypointState


@dataclasses.dataclass(frozen=True)
class DetectorNoise:
  """How the imitated detector errs.

  miss_rate: probability of missing a fully visible object; occlusion_miss_rate is added in
    proportion to the object's occlusion ratio.
  min_visible_area: pixels; smaller visible masks are never detected.
  mask_jitter_px: the visible mask is eroded or dilated by up to this many pixels.
  keypoint_sigma_px: std of the noise on visible keypoints; hidden ones get
    hidden_keypoint_sigma_px.
  false_positives_per_frame: Poisson mean of spurious detections.
  """

  miss_rate: float = 0.03
  occlusion_miss_rate: float = 0.6
  min_visible_area: int = 30
  mask_jitter_px: int = 1
  keypoint_sigma_px: float = 2.0
  hidden_keypoint_sigma_px: float = 6.0
  false_positives_per_frame: float = 0.2


@dataclasses.dataclass(frozen=True)
class TrueObject:
  """What the imitated detector sees of one object: category, visible mask (H, W) bool,
  occlusion ratio, keypoints (P, 2) pixels and their KeypointState (P,)."""

  category: Category
  visible_mask: np.ndarray
  occlusion: float
  keypoints_uv: np.ndarray
  keypoint_states: np.ndarray


def _jitter_mask(mask: np.ndarray, rng: np.random.Generator, max_px: int) -> np.ndarray:
  radius = int(rng.integers(-max_px, max_px + 1)) if max_px else 0
  if radius == 0:
    return mask
  kernel = np.ones((2 * abs(radius) + 1,) * 2, np.uint8)
  op = cv2.dilate if radius > 0 else cv2.erode
  jittered = op(mask.astype(np.uint8), kernel).astype(bool)
  return jittered if jittered.any() else mask


def _keypoint_triplets(
    obj: TrueObject, rng: np.random.Generator, noise: DetectorNoise, box: list[float]
) -> list[float]:
  """COCO results keypoints [x, y, score] * P: every keypoint predicted, hidden ones worse."""
  visible = obj.keypoint_states == KeypointState.VISIBLE
  sigma = np.where(visible, noise.keypoint_sigma_px, noise.hidden_keypoint_sigma_px)
  uv = obj.keypoints_uv + rng.normal(size=obj.keypoints_uv.shape) * sigma[:, None]
  # Detectors predict keypoints inside their box.
  x, y, w, h = box
  uv[:, 0] = np.clip(uv[:, 0], x, x + w)
  uv[:, 1] = np.clip(uv[:, 1], y, y + h)
  score = np.where(visible, rng.uniform(0.6, 1.0, len(uv)), rng.uniform(0.05, 0.45, len(uv)))
  score[obj.keypoint_states == KeypointState.OUTSIDE_IMAGE] = 0.02
  return [round(float(v), 2) for v in np.column_stack([uv, score]).reshape(-1)]


def _false_positive(
    rng: np.random.Generator, image_size: tuple[int, int], image_id: int, num_keypoints: dict
) -> dict:
  width, height = image_size
  category = Category(int(rng.integers(1, 3)))
  w, h = (rng.uniform(8, 40), rng.uniform(16, 60)) if category == Category.PERSON else (
      rng.uniform(20, 90), rng.uniform(14, 50))
  w, h = min(w, width - 1.0), min(h, height / 2)
  cx, cy = rng.uniform(w / 2, width - w / 2), rng.uniform(height / 3, height - h / 2)
  mask = np.zeros((height, width), np.uint8)
  cv2.ellipse(mask, (int(cx), int(cy)), (max(int(w / 2), 1), max(int(h / 2), 1)), 0, 0, 360, 1, -1)
  mask = mask.astype(bool)
  box = rle.mask_box(mask)
  n = num_keypoints[category]
  uv = np.column_stack([rng.uniform(box[0], box[0] + box[2], n), rng.uniform(box[1], box[1] + box[3], n)])
  kps = np.column_stack([uv, rng.uniform(0.05, 0.4, n)]).reshape(-1)
  return {
      "image_id": image_id, "category_id": int(category), "bbox": box,
      "score": round(float(rng.uniform(0.3, 0.6)), 3), "segmentation": rle.encode_mask(mask),
      "keypoints": [round(float(v), 2) for v in kps],
  }


def imitate_detections(
    objects: Sequence[TrueObject],
    image_id: int,
    image_size: tuple[int, int],
    rng: np.random.Generator,
    noise: DetectorNoise,
) -> list[dict]:
  """COCO results entries for one frame (image_id = frame index), as a detector would give."""
  results = []
  for obj in objects:
    area = int(np.count_nonzero(obj.visible_mask))
    p_miss = noise.miss_rate + noise.occlusion_miss_rate * obj.occlusion
    if area < noise.min_visible_area or rng.uniform() < p_miss:
      continue
    mask = _jitter_mask(obj.visible_mask, rng, noise.mask_jitter_px)
    box = rle.mask_box(mask)
    score = float(np.clip(0.55 + 0.45 * (1.0 - obj.occlusion) - rng.uniform(0.0, 0.15), 0.05, 0.999))
    results.append({
        "image_id": image_id, "category_id": int(obj.category), "bbox": box,
        "score": round(score, 3), "segmentation": rle.encode_mask(mask),
        "keypoints": _keypoint_triplets(obj, rng, noise, box),
    })
  num_keypoints = {Category.CAR: 12, Category.PERSON: 17}
  for _ in range(rng.poisson(noise.false_positives_per_frame)):
    results.append(_false_positive(rng, image_size, image_id, num_keypoints))
  return results
