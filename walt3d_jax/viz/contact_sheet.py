"""Contact sheets of written sequences: frames with their ground truth drawn over them.

Reads only the on-disk contract (frames, camera.json, ground_truth.json), so a sheet shows what
a downstream user of the files would get.
"""

from __future__ import annotations

import json
import pathlib
from typing import Sequence

import cv2
import numpy as np

from walt3d_jax.formats import rle
from walt3d_jax.formats.coco import Category
from walt3d_jax.viz import overlays


def annotate_frame(image: np.ndarray, annotations: Sequence[dict], K: np.ndarray, skeletons: dict) -> np.ndarray:
  """Draws annotations (ground_truth.json entries of one frame) over `image` (H, W, 3) RGB.

  Far objects first, so near objects' drawings stay on top: visible mask tinted, amodal mask
  outlined, a 3D wireframe (cars: their 3D box; people: the 3D skeleton) and 2D keypoints
  coloured by visibility state.
  """
  out = image
  for ann in sorted(annotations, key=lambda a: -a["depth"]):
    color = overlays.instance_color(ann["track_id"])
    out = overlays.draw_mask(out, rle.decode_mask(ann["segmentation"]), color)
    out = overlays.draw_outline(out, rle.decode_mask(ann["amodal_segmentation"]), color)
    R, t = np.asarray(ann["rotation"]), np.asarray(ann["translation"])
    if ann["category_id"] == Category.CAR:
      corners = overlays.box_corners(ann["dimensions"]) @ R.T + t
      out = overlays.draw_wireframe(out, corners, overlays.BOX_EDGES, K, color)
    else:
      out = overlays.draw_wireframe(out, np.asarray(ann["keypoints_3d"]), skeletons[Category.PERSON], K, color)
    uv = np.asarray(ann["keypoints"], np.float64).reshape(-1, 3)[:, :2]
    out = overlays.draw_keypoints(out, uv, np.asarray(ann["keypoint_states"]))
  return out


def load_sequence(root: pathlib.Path) -> tuple[dict, np.ndarray]:
  """ground_truth.json and K (3, 3) of a written sequence."""
  with open(root / "ground_truth.json") as f:
    truth = json.load(f)
  with open(root / "camera.json") as f:
    K = np.asarray(json.load(f)["K"], np.float64)
  return truth, K


def pick_frames(truth: dict, count: int) -> list[int]:
  """The busiest frame of each of `count` bursts spread over the sequence."""
  per_image = {}
  for ann in truth["annotations"]:
    per_image[ann["image_id"]] = per_image.get(ann["image_id"], 0) + 1
  by_burst = {}
  for image in truth["images"]:
    by_burst.setdefault(image["burst"], []).append(image["id"])
  bursts = sorted(by_burst)
  chosen = [bursts[int(i)] for i in np.linspace(0, len(bursts) - 1, min(count, len(bursts)))]
  return [max(by_burst[b], key=lambda i: (per_image.get(i, 0), -i)) for b in dict.fromkeys(chosen)]


def sequence_tiles(root: pathlib.Path, frames_per_sequence: int) -> list[np.ndarray]:
  """Annotated frames of one sequence, each labelled with preset, frame, lighting and counts."""
  truth, K = load_sequence(root)
  skeletons = {c["id"]: [(a - 1, b - 1) for a, b in c["skeleton"]] for c in truth["categories"]}
  images = {image["id"]: image for image in truth["images"]}
  tiles = []
  for image_id in pick_frames(truth, frames_per_sequence):
    image = images[image_id]
    frame = cv2.cvtColor(cv2.imread(str(root / image["file_name"])), cv2.COLOR_BGR2RGB)
    anns = [a for a in truth["annotations"] if a["image_id"] == image_id]
    tile = annotate_frame(frame, anns, K, skeletons)
    cars = sum(a["category_id"] == Category.CAR for a in anns)
    text = f"{truth['info']['preset']} #{image_id} {image['lighting']} {image['hour_of_day']:.1f}h  {cars} cars {len(anns) - cars} people"
    tiles.append(overlays.label(tile, text))
  return tiles


def write_contact_sheet(roots: Sequence[pathlib.Path], path: pathlib.Path, frames_per_sequence: int, columns: int) -> np.ndarray:
  """A grid of annotated frames from each sequence in `roots`, written as PNG to `path`."""
  tiles = [tile for root in roots for tile in sequence_tiles(root, frames_per_sequence)]
  sheet = overlays.grid(tiles, columns)
  path.parent.mkdir(parents=True, exist_ok=True)
  cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
  return sheet
