"""Which objects go into one clip-art image: drawn from the pool at their original positions.

WALT3D draws "non-intersecting 3D objects" (section 3): here two footprints on the ground (cars
as oriented rectangles of their fitted length and width, people as discs) must stay at least a
margin apart, and a track appears at most once per image (one car cannot stand in two places).
The test is cheap geometry on footprints before any pixel moves (OpenPCDet's database sampler
does the same for LiDAR boxes). The WALT2D baseline draws the same way without either test.

Every image is bounded (`max_draws` objects at most), so a small or crowded pool gives fewer
objects, never a hang. `prefer_overlap` steers the occlusion level: with that probability the
next object comes from those whose image box meets one already placed. The footprint test
itself is `clipart.clearance`, memoised per object by `ObjectPool.conflicts`.
"""

from __future__ import annotations

import numpy as np

from walt3d_jax.clipart.config import ClipartConfig
from walt3d_jax.clipart.pool import ObjectPool


def _boxes_meet(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
  """(N,) whether box (4,) xywh and boxes (N, 4) overlap with positive area."""
  x0 = np.maximum(box[0], boxes[:, 0])
  y0 = np.maximum(box[1], boxes[:, 1])
  x1 = np.minimum(box[0] + box[2], boxes[:, 0] + boxes[:, 2])
  y1 = np.minimum(box[1] + box[3], boxes[:, 1] + boxes[:, 3])
  return (x1 > x0) & (y1 > y0)


def candidates_for(pool: ObjectPool, bucket: str, config: ClipartConfig) -> np.ndarray:
  """Indices of the objects an image with background `bucket` may draw from."""
  everything = np.arange(len(pool))
  if config.bucket == "mix":
    return everything
  same = np.flatnonzero(np.array(pool.bucket) == bucket)
  return same if len(same) >= config.objects_per_image[0] else everything


def sample_objects(pool: ObjectPool, candidates: np.ndarray, boxes: np.ndarray,
                   rng: np.random.Generator, config: ClipartConfig) -> np.ndarray:
  """Indices into the pool of one image's objects, in draw order.

  candidates: the pool indices to draw from. boxes: (M, 4) the pool's amodal boxes (xywh).
  The number aimed at is uniform in config.objects_per_image. Each draw is uniform among the
  candidates still allowed, or (probability config.prefer_overlap, when there are any) among
  those whose box meets a placed one. 'walt3d' allows no second object of a placed track and no
  footprint closer than the margin to a placed one: every placed object removes those from the
  candidates at once (the same distribution as drawing and rejecting, without the rejections).
  """
  lo, hi = config.objects_per_image
  target = int(rng.integers(lo, hi + 1))
  check_3d = config.mode == "walt3d"
  cand_boxes = boxes[candidates]
  available = np.ones(len(candidates), bool)
  meets = np.zeros(len(candidates), bool)
  chosen: list[int] = []
  for _ in range(min(target, config.max_draws)):
    pick_from = np.flatnonzero(available)
    if not len(pick_from):
      break
    if chosen and rng.uniform() < config.prefer_overlap and meets[pick_from].any():
      pick_from = pick_from[meets[pick_from]]
    slot = int(pick_from[rng.integers(len(pick_from))])
    index = int(candidates[slot])
    chosen.append(index)
    available[slot] = False
    meets |= _boxes_meet(boxes[index], cand_boxes)
    if check_3d:
      available &= ~pool.conflicts(index, config.footprint_margin_m)[candidates]
  return np.array(chosen, np.int64)
