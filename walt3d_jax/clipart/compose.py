"""Clip-art compositing with a per-pixel depth test, and the labels that follow from it.

WALT3D (section 3) pastes non-intersecting unoccluded objects back onto the median background
at their original positions "from the farthest to the closest". One order per object is wrong
wherever two objects interleave in depth (a long bus beside a car: its front is nearer than
the car, its back farther). Here every object carries a depth map from its 3D proxy
(`clipart.proxy`) and each pixel goes to the nearest object that covers it, a z-buffer over
the objects' masks. Labels are read off that z-buffer, so they are consistent by construction:
visible ⊆ amodal, visible masks disjoint, and a keypoint is occluded by others exactly where
another, nearer object wins its pixel.

The WALT2D baseline pastes the same kind of draw in a random order, later pastes on top, with
no footprint test: what WALT's public compositor does, for comparison.
"""

from __future__ import annotations

import dataclasses
import hashlib

import cv2
import numpy as np

from walt3d_jax.clipart import clearance
from walt3d_jax.clipart import sampler
from walt3d_jax.clipart.config import ClipartConfig
from walt3d_jax.clipart.example import ClipartExample
from walt3d_jax.clipart.example import ClipartObjects
from walt3d_jax.clipart.pool import ObjectPool
from walt3d_jax.formats.coco import KeypointState
from walt3d_jax.geometry import camera as camera_lib
from walt3d_jax.sim import truth as truth_lib

# A farther object on top of a nearer one counts as impossible beyond this depth gap (metres):
# proxies of objects in contact may meet within rasterisation error.
IMPOSSIBLE_DEPTH_GAP_M = 0.05


def seed_of_key(key: str) -> int:
  """A 63-bit seed from an example key: the same key always draws the same image."""
  return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "little") >> 1


@dataclasses.dataclass
class Composite:
  """The z-buffer of one image: owner (H, W) int32 draw slot winning each pixel (−1: background),
  zbuf (H, W) float32 depth of the nearest covering object (inf: none), depth_of_owner (H, W)
  float32 the winning object's depth (inf: background)."""

  owner: np.ndarray
  zbuf: np.ndarray
  depth_of_owner: np.ndarray


def _window_slices(window: np.ndarray) -> tuple[slice, slice]:
  x, y, w, h = (int(v) for v in window)
  return slice(y, y + h), slice(x, x + w)


def composite(pool: ObjectPool, chosen: np.ndarray, order: np.ndarray, depth_test: bool) -> Composite:
  """Owner per pixel of objects `chosen` (pool indices, slot = position in `chosen`).

  depth_test: each pixel goes to the nearest object whose mask covers it (ties: the earlier
  slot). Otherwise objects are pasted in `order` (slots), each over the ones before it.
  """
  width, height = pool.image_size
  owner = np.full((height, width), -1, np.int32)
  zbuf = np.full((height, width), np.inf, np.float32)
  # With the depth test the owner is the nearest object: its depth is the z-buffer's.
  depth_of_owner = zbuf if depth_test else np.full((height, width), np.inf, np.float32)
  for slot in order if not depth_test else range(len(chosen)):
    index = chosen[slot]
    win = _window_slices(pool.window[index])
    mask, depth = pool.mask[index], pool.depth[index]
    covering = mask & (depth < zbuf[win])
    zbuf[win][covering] = depth[covering]
    paint = covering if depth_test else mask
    owner[win][paint] = slot
    if not depth_test:
      depth_of_owner[win][paint] = depth[paint]
  return Composite(owner, zbuf, depth_of_owner)


def whole_object_order_owner(pool: ObjectPool, chosen: np.ndarray) -> np.ndarray:
  """Owner (H, W) when whole objects are pasted far to near by the camera depth of their
  origin (the paper's and OpenPCDet's order), for measuring what per-pixel order changes."""
  far_to_near = np.argsort(-pool.translation[chosen, 2], kind="stable")
  return composite(pool, chosen, far_to_near, depth_test=False).owner


def _paint(pool: ObjectPool, chosen: np.ndarray, owner: np.ndarray, background: np.ndarray,
           feather_px: float) -> np.ndarray:
  """The composited image: background, and each object's source pixels where it owns them."""
  image = background.copy()
  for slot, index in enumerate(chosen):
    win = _window_slices(pool.window[index])
    mine = owner[win] == slot
    image[win][mine] = pool.pixels[index][mine]
  if feather_px > 0:
    fg = (owner >= 0).astype(np.float32)
    alpha = cv2.GaussianBlur(fg, (0, 0), feather_px) * fg
    alpha = np.where(fg > 0, np.clip(2 * alpha - 1, 0, 1), 0)[..., None]  # 1 inside, fades at edges
    image = np.rint(alpha * image + (1 - alpha) * background).astype(np.uint8)
  return image


def _keypoint_states(pool: ObjectPool, chosen: np.ndarray, comp: Composite, depth_test: bool) -> np.ndarray:
  """(N, 17) int8 states: the source's self-occlusion and outside-image kept; a visible one
  becomes occluded-by-others where another object owns its pixel and (walt3d) is nearer there."""
  height, width = comp.owner.shape
  states = pool.source_states[chosen].copy()
  uv = pool.keypoints[chosen]  # (N, 17, 2)
  col = np.clip(np.rint(uv[..., 0]).astype(np.int64), 0, width - 1)
  row = np.clip(np.rint(uv[..., 1]).astype(np.int64), 0, height - 1)
  other = comp.owner[row, col]
  covered = ((states == KeypointState.VISIBLE) & (other >= 0)
             & (other != np.arange(len(chosen))[:, None]))
  for slot, k in np.argwhere(covered):
    if depth_test:  # nearer there than this object's own surface?
      index = chosen[slot]
      x, y, w, h = pool.window[index]
      own = pool.depth[index][min(max(row[slot, k] - y, 0), h - 1), min(max(col[slot, k] - x, 0), w - 1)]
      if not comp.depth_of_owner[row[slot, k], col[slot, k]] < own:
        continue
    states[slot, k] = KeypointState.OCCLUDED_BY_OTHERS
  return states


def _box_in_window(mask: np.ndarray, window: np.ndarray) -> np.ndarray:
  """[x, y, w, h] of a window-sized mask, in image pixels; zeros when empty."""
  rows = np.flatnonzero(mask.any(axis=1))
  if not rows.size:
    return np.zeros(4)
  cols = np.flatnonzero(mask.any(axis=0))
  return np.array([cols[0] + window[0], rows[0] + window[1], cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1],
                  np.float64)


def _labels(pool: ObjectPool, chosen: np.ndarray, comp: Composite, depth_test: bool) -> ClipartObjects:
  width, height = pool.image_size
  n = len(chosen)
  amodal = np.zeros((n, height, width), bool)
  visible = np.zeros((n, height, width), bool)
  amodal_box, visible_box = np.zeros((n, 4)), np.zeros((n, 4))
  occlusion = np.zeros(n)
  for slot, index in enumerate(chosen):
    window = pool.window[index]
    win = _window_slices(window)
    mask = pool.mask[index]
    mine = comp.owner[win] == slot  # only ever inside the object's own mask
    amodal[slot][win] = mask
    visible[slot][win] = mine
    amodal_box[slot] = _box_in_window(mask, window)
    visible_box[slot] = _box_in_window(mine, window)
    occlusion[slot] = 1.0 - np.count_nonzero(mine) / np.count_nonzero(mask)
  pick = lambda a: np.asarray(a)[chosen].copy()
  return ClipartObjects(
      category=pick(pool.category), amodal_mask=amodal, visible_mask=visible,
      amodal_box=amodal_box.astype(np.float32), visible_box=visible_box.astype(np.float32),
      occlusion=occlusion.astype(np.float32), keypoints=pick(pool.keypoints).astype(np.float32),
      keypoint_states=_keypoint_states(pool, chosen, comp, depth_test),
      num_keypoints=pick(pool.num_keypoints), rotation=pick(pool.rotation),
      translation=pick(pool.translation), ground_pose=pick(pool.ground_pose),
      dimensions=pick(pool.dimensions), shape=pick(pool.shape), shape_num=pick(pool.shape_num),
      keypoints_3d=pick(pool.keypoints_3d), depth=pick(pool.translation)[:, 2].copy(),
      track_id=pick(pool.track_id), source_frame=pick(pool.frame_index), source_row=pick(pool.row),
      time_bucket=[pool.bucket[i] for i in chosen],
  )


def _footprint_intersections(pool: ObjectPool, chosen: np.ndarray) -> int:
  """Pairs of chosen objects whose footprints intersect (margin 0)."""
  count = 0
  for a in range(1, len(chosen)):
    placed = chosen[:a]
    i = chosen[a]
    for j in placed:
      if not clearance.footprints_clear(pool.footprint[i], bool(pool.is_disc[i]), pool.footprint[j][None],
                                      pool.is_disc[j][None], 0.0):
        count += 1
  return count


def plausibility(pool: ObjectPool, chosen: np.ndarray, comp: Composite) -> dict:
  """Physical consistency of one composite.

  footprint_intersections: pairs whose footprints intersect. farther_on_top_pixels: pixels
  whose owner is farther (by more than IMPOSSIBLE_DEPTH_GAP_M) than another object covering
  them. impossible: either is non-zero. order_differs_pixels / overlap_pixels: pixels covered
  by two or more objects, and among them those where whole-object far-to-near order gives
  another owner than the per-pixel depth test.
  """
  covered_by = np.zeros(comp.owner.shape, np.int32)
  for index in chosen:
    covered_by[_window_slices(pool.window[index])] += pool.mask[index]
  overlap = covered_by >= 2
  farther_on_top = int(np.count_nonzero((comp.owner >= 0)
                                        & (comp.depth_of_owner > comp.zbuf + IMPOSSIBLE_DEPTH_GAP_M)))
  whole = whole_object_order_owner(pool, chosen)
  per_pixel = composite(pool, chosen, np.arange(len(chosen)), depth_test=True).owner
  intersections = _footprint_intersections(pool, chosen)
  return {
      "footprint_intersections": intersections,
      "farther_on_top_pixels": farther_on_top,
      "impossible": bool(intersections or farther_on_top),
      "overlap_pixels": int(np.count_nonzero(overlap)),
      "order_differs_pixels": int(np.count_nonzero(overlap & (whole != per_pixel))),
  }


def choose_bucket(pool: ObjectPool, rng: np.random.Generator) -> str:
  """A background bucket, uniformly among those with a background and mined objects (any with
  a background when no bucket has both)."""
  with_objects = sorted(set(pool.bucket) & set(pool.backgrounds))
  names = with_objects or sorted(pool.backgrounds)
  return names[int(rng.integers(len(names)))]


def draw(pool: ObjectPool, key: str, config: ClipartConfig) -> tuple[np.random.Generator, str, np.ndarray]:
  """The random draw of example `key`: (its generator, after the draw), the background bucket
  and the chosen pool indices in draw order."""
  rng = np.random.default_rng(np.random.SeedSequence(seed_of_key(key)))
  bucket = choose_bucket(pool, rng)
  candidates = sampler.candidates_for(pool, bucket, config)
  return rng, bucket, sampler.sample_objects(pool, candidates, pool.amodal_box, rng, config)


def compose_objects(pool: ObjectPool, chosen: np.ndarray, bucket: str, config: ClipartConfig,
                    rng: np.random.Generator, key: str = "", with_plausibility: bool = False) -> ClipartExample:
  """Composites pool objects `chosen` over the background of `bucket` in config.mode ('walt2d':
  paste order drawn from `rng`) and labels them; config.image_size resizes the result."""
  depth_test = config.mode == "walt3d"
  order = np.arange(len(chosen)) if depth_test else rng.permutation(len(chosen))
  comp = composite(pool, chosen, order, depth_test)
  background = pool.backgrounds[bucket]
  image = _paint(pool, chosen, comp.owner, background, config.feather_px)
  depth = np.where(comp.owner >= 0, comp.depth_of_owner, 0.0).astype(np.float32)
  example = ClipartExample(
      image=image, depth=depth, K=pool.K.astype(np.float32), plane=pool.plane.astype(np.float32),
      time_bucket=bucket, camera=pool.camera_name, key=key, seed=seed_of_key(key), mode=config.mode,
      objects=_labels(pool, chosen, comp, depth_test),
  )
  if with_plausibility:
    example.stats = plausibility(pool, chosen, comp)
  if config.image_size is not None and tuple(config.image_size) != pool.image_size:
    example = resize_example(example, tuple(config.image_size))
  return example


def make_example(pool: ObjectPool, key: str, config: ClipartConfig,
                 with_plausibility: bool = False) -> ClipartExample:
  """The clip-art example of `key`: deterministic in (pool, key, config).

  with_plausibility: also measure the composite's physical consistency (`plausibility`) into
  `example.stats` (a few ms; the dataset does not store it).
  """
  rng, bucket, chosen = draw(pool, key, config)
  return compose_objects(pool, chosen, bucket, config, rng, key, with_plausibility)


def resize_example(example: ClipartExample, size: tuple[int, int]) -> ClipartExample:
  """The example at another resolution (W, H): image by area averaging; masks and depth by
  nearest neighbour (so visible ⊆ amodal and disjointness survive); boxes and occlusion from
  the resized masks; keypoints and K scaled (pixel centres at integers); states kept, except
  keypoints that now fall outside."""
  width, height = size
  sx, sy = width / example.image.shape[1], height / example.image.shape[0]
  nearest = lambda a: cv2.resize(a, (width, height), interpolation=cv2.INTER_NEAREST)
  o = example.objects
  amodal = np.array([nearest(m.astype(np.uint8)).astype(bool) for m in o.amodal_mask]).reshape(-1, height, width)
  visible = np.array([nearest(m.astype(np.uint8)).astype(bool) for m in o.visible_mask]).reshape(-1, height, width)
  full = np.array([0, 0, width, height])
  box = lambda masks: np.array([_box_in_window(m, full) for m in masks]).reshape(-1, 4).astype(np.float32)
  scale = np.array([sx, sy])
  keypoints = ((o.keypoints + 0.5) * scale - 0.5).astype(np.float32)
  states = o.keypoint_states.copy()
  for i in range(o.num):
    outside = ~truth_lib.inside_image(keypoints[i], (width, height))
    states[i][outside] = KeypointState.OUTSIDE_IMAGE
  amodal_area = np.maximum(amodal.reshape(len(amodal), -1).sum(1), 1)
  occlusion = 1.0 - visible.reshape(len(visible), -1).sum(1) / amodal_area
  K = camera_lib.scale_intrinsics(example.K, sx, sy)
  objects = dataclasses.replace(o, amodal_mask=amodal, visible_mask=visible, amodal_box=box(amodal),
                                visible_box=box(visible), occlusion=occlusion.astype(np.float32),
                                keypoints=keypoints, keypoint_states=states)
  return dataclasses.replace(
      example, image=cv2.resize(example.image, (width, height), interpolation=cv2.INTER_AREA),
      depth=nearest(example.depth), K=K.astype(np.float32), objects=objects)
