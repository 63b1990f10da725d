"""The proposal network's training frames: simulated frames, the background the built-in detector
picks for each, and the simulator's visible boxes.

Scenes are the detection verifier's (`verifier_data`: a scored sequence of bursts over days, and
single frames at the same hours on other days for the background), so one simulation cache
serves the verifier, the box refiner and the proposal network. Each scored frame gets the
background `BackgroundModel.frame_background` picks for it by appearance, as the detector sees it.
Targets are the visible boxes of objects with at least `min_area` visible pixels, occluded or not:
a proposal of an occluded object's visible part is no false positive where the benchmark scores
(it ignores those objects), and the detector should see them.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from typing import Sequence

import ml_collections
import numpy as np
import tqdm

from walt3d_jax.timelapse import frames as frames_lib
from walt3d_jax.timelapse import occlusion_data
from walt3d_jax.timelapse import verifier_data


@dataclasses.dataclass(frozen=True)
class Frames:
  """Frames to train or score on: images and backgrounds (F, H, W, 3) uint8; per frame its
  objects' visible boxes (M_f, 4) xywh pixels and categories (M_f,) int (1 car, 2 person), and
  its lighting ('day', 'dusk', 'night')."""

  images: np.ndarray
  backgrounds: np.ndarray
  boxes: list[np.ndarray]
  categories: list[np.ndarray]
  lighting: list[str]

  def __post_init__(self):
    if self.images.shape != self.backgrounds.shape or self.images.ndim != 4 or self.images.shape[-1] != 3:
      raise ValueError(f"images {self.images.shape} and backgrounds {self.backgrounds.shape} must both be (F, H, W, 3)")
    if not len(self.boxes) == len(self.categories) == len(self.lighting) == len(self.images):
      raise ValueError(f"{len(self.images)} frames but {len(self.boxes)} box lists, {len(self.categories)} "
                       f"category lists and {len(self.lighting)} lighting labels")

  @property
  def num(self) -> int:
    return len(self.images)

  @property
  def num_objects(self) -> int:
    return int(sum(len(b) for b in self.boxes))

  @staticmethod
  def concatenate(parts: Sequence[Frames]) -> Frames:
    if not parts:
      raise ValueError("no frames to concatenate")
    return Frames(np.concatenate([p.images for p in parts]), np.concatenate([p.backgrounds for p in parts]),
                  [b for p in parts for b in p.boxes], [c for p in parts for c in p.categories],
                  [l for p in parts for l in p.lighting])


def scene_frames(preset: str, seed: int, sim_config: ml_collections.ConfigDict, data_config: ml_collections.ConfigDict,
                 cache_dir: pathlib.Path) -> Frames:
  """A scene's scored frames with their backgrounds and targets (module docstring).
  data_config: background_frames (per burst), min_area (visible pixels)."""
  root = verifier_data.simulate_scored(preset, seed, sim_config, cache_dir)
  background_root = verifier_data.same_hours_root(preset, seed, sim_config, cache_dir,
                                                  int(data_config.background_frames))
  model = verifier_data.same_hours_background(list(frames_lib.open_frames(background_root).iterate()))
  truth = json.loads((root / "ground_truth.json").read_text())
  lighting = {im["id"]: im["lighting"] for im in truth["images"]}
  by_image: dict[int, list[dict]] = {}
  for ann in truth["annotations"]:
    if ann["area"] >= data_config.min_area:
      by_image.setdefault(ann["image_id"], []).append(ann)
  images, backgrounds, boxes, categories, light = [], [], [], [], []
  for frame in frames_lib.open_frames(root).iterate():
    background, _ = model.frame_background(frame.time, frame.image)
    objects = by_image.get(frame.index, [])
    images.append(frame.image)
    backgrounds.append(np.asarray(background, np.uint8))  # the median, uint8 already
    boxes.append(np.array([a["bbox"] for a in objects], np.float32).reshape(-1, 4))
    categories.append(np.array([a["category_id"] for a in objects], np.int32))
    light.append(lighting[frame.index])
  return Frames(np.stack(images), np.stack(backgrounds), boxes, categories, light)


def build_frames(sim_config: ml_collections.ConfigDict, scenes: Sequence[occlusion_data.SceneSpec],
                 data_config: ml_collections.ConfigDict, cache_dir: pathlib.Path) -> Frames:
  """Frames of `scenes`, simulated into cache_dir/verifier-<digest of sim_config> (the verifier's
  folder) unless there, concatenated."""
  cache = pathlib.Path(cache_dir) / f"verifier-{occlusion_data.sim_digest(sim_config)}"
  return Frames.concatenate([scene_frames(spec.preset, spec.seed, sim_config, data_config, cache)
                             for spec in tqdm.tqdm(scenes, desc="proposal frames", unit="scene", delay=2.0)])
