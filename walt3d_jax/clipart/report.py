"""Pictures of clip-art examples: what a person checks before training on them.

`annotate`: visible masks filled, amodal outlines around them (the hidden part is what the
outline encloses beyond the fill), keypoints by state (green visible, yellow self-occluded, red
occluded by others). `depth_image`: the per-image depth map, coloured. `write_report`: WALT3D
beside WALT2D on the same objects and background, each with its depth map and labels.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Sequence

import cv2
import numpy as np

from walt3d_jax.clipart import compose
from walt3d_jax.clipart.config import ClipartConfig
from walt3d_jax.clipart.example import ClipartExample
from walt3d_jax.clipart.pool import ObjectPool
from walt3d_jax.formats import coco
from walt3d_jax.viz import overlays

SKELETONS = {c["id"]: [(a - 1, b - 1) for a, b in c["skeleton"]] for c in coco.categories()}


def annotate(example: ClipartExample, fill_alpha: float = 0.4) -> np.ndarray:
  """(H, W, 3) uint8: the image with visible fills, amodal outlines and keypoints by state."""
  out = example.image
  o = example.objects
  for i in range(o.num):
    color = overlays.instance_color(int(o.track_id[i]) * 7 + i)
    out = overlays.draw_mask(out, o.visible_mask[i], color, fill_alpha)
    out = overlays.draw_outline(out, o.amodal_mask[i], color, 1)
  for i in range(o.num):
    count = int(o.num_keypoints[i])
    out = overlays.draw_keypoints(out, o.keypoints[i, :count], o.keypoint_states[i, :count],
                                  SKELETONS[int(o.category[i])], edge_color=(235, 235, 235), radius=2)
  return out


def depth_image(example: ClipartExample) -> np.ndarray:
  """(H, W, 3) uint8: the depth map coloured near (bright) to far (dark), black where empty."""
  depth = example.depth
  shown = depth > 0
  out = np.zeros(depth.shape + (3,), np.uint8)
  if shown.any():
    lo, hi = np.percentile(depth[shown], [1, 99])
    scaled = np.clip((hi - depth) / max(hi - lo, 1e-6), 0, 1)
    colored = cv2.applyColorMap((scaled * 255).astype(np.uint8), cv2.COLORMAP_INFERNO)
    out[shown] = cv2.cvtColor(colored, cv2.COLOR_BGR2RGB)[shown]
  return out


def _tile(image: np.ndarray, width: int, text: str) -> np.ndarray:
  scale = width / image.shape[1]
  tile = cv2.resize(image, (width, int(round(image.shape[0] * scale))), interpolation=cv2.INTER_AREA)
  return overlays.label(tile, text)


def side_by_side(pool: ObjectPool, key: str, config: ClipartConfig) -> tuple[ClipartExample, ClipartExample]:
  """The WALT3D example of `key` and WALT2D's paste of the same objects on the same background."""
  rng, bucket, chosen = compose.draw(pool, key, dataclasses.replace(config, mode="walt3d"))
  walt3d = compose.compose_objects(pool, chosen, bucket, dataclasses.replace(config, mode="walt3d"),
                                   rng, key, with_plausibility=True)
  walt2d = compose.compose_objects(pool, chosen, bucket, dataclasses.replace(config, mode="walt2d"),
                                   np.random.default_rng(compose.seed_of_key(key)), key, with_plausibility=True)
  return walt3d, walt2d


def write_report(path: pathlib.Path, pool: ObjectPool, keys: Sequence[str], config: ClipartConfig,
                 tile_width: int = 480) -> list[dict]:
  """A PNG with one row per key: WALT3D image, its labels, its depth map, WALT2D's labels on the
  same objects. Returns the plausibility stats of each row's (walt3d, walt2d) pair."""
  rows, stats = [], []
  for key in keys:
    walt3d, walt2d = side_by_side(pool, key, config)
    o = walt3d.objects
    occluded = int((o.occlusion > 0.05).sum())
    rows += [
        _tile(walt3d.image, tile_width, f"{key}: WALT3D, {o.num} objects, {walt3d.time_bucket}"),
        _tile(annotate(walt3d), tile_width, f"amodal outline, visible fill; {occluded} occluded >5%"),
        _tile(depth_image(walt3d), tile_width, "depth (per-pixel z-buffer)"),
        _tile(annotate(walt2d), tile_width,
              "WALT2D same objects: " + ("IMPOSSIBLE" if walt2d.stats["impossible"] else "possible")
              + f" ({walt2d.stats['farther_on_top_pixels']} px far-on-near)"),
    ]
    stats.append({"key": key, "walt3d": walt3d.stats, "walt2d": walt2d.stats})
  sheet = overlays.grid(rows, columns=4)
  path.parent.mkdir(parents=True, exist_ok=True)
  cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
  return stats


def plausibility_counts(pool: ObjectPool, keys: Sequence[str], config: ClipartConfig) -> dict:
  """Over `keys`, per mode: images with an impossible configuration (intersecting footprints or
  a farther object on top), and for WALT3D how often whole-object order would differ."""
  out = {}
  for mode in ("walt3d", "walt2d"):
    stats = [compose.make_example(pool, k, dataclasses.replace(config, mode=mode), with_plausibility=True).stats
             for k in keys]
    out[mode] = {
        "images": len(stats),
        "impossible": sum(s["impossible"] for s in stats),
        "intersecting_footprints": sum(s["footprint_intersections"] > 0 for s in stats),
        "farther_on_top": sum(s["farther_on_top_pixels"] > 0 for s in stats),
        "images_with_overlap": sum(s["overlap_pixels"] > 0 for s in stats),
        "whole_object_order_differs": sum(s["order_differs_pixels"] > 0 for s in stats),
    }
  return out
