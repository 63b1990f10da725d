"""grain input pipeline of `walt3d_clipart`: fixed-shape numpy batches for training.

  source = tfds.data_source('walt3d_clipart/walt3d_320x180', data_dir=D)['train']
  it = pipeline.make_iterator(source, pipeline.PipelineConfig(batch_size=8, image_size=(320, 180)))
  batch = next(it)                  # dict of numpy arrays (below)
  state = it.get_state(); ...; it.set_state(state)   # or grain.checkpoint.CheckpointSave(it)

Stages (`make_dataset`): `grain.MapDataset.source(source)` → this process's shard
(`[jax.process_index()::jax.process_count()]`) → shuffle (seeded, reshuffled each epoch) →
repeat → decode (PNG image and depth, RLE masks: `decode.decode_record`) → resize to the model's
size → random horizontal flip (`transforms.hflip`, a seeded `random_map`: the same seed gives
the same flips) → pad objects to `max_objects` → `to_iter_dataset(grain.ReadOptions(...))`
(examples made in parallel read threads) → batch (drop_remainder). Every stage is deterministic given the config, so
the iterator's state (`get_state` / `set_state`) resumes exactly.

A batch (B = batch_size, M = max_objects, (W, H) = image_size) is a dict of numpy arrays:
  image (B, H, W, 3) uint8 RGB; depth (B, H, W) float32 metres (0: no object);
  K (B, 3, 3) float32; plane (B, 4) float32 [n, d] (n·X + d = 0, camera frame); seed (B,) int64;
  flipped (B,) bool; object_valid (B, M) bool; num_objects (B,) int32 (kept);
  objects_dropped (B,) int32 (past M, cut); category (B, M) int32 (1 car, 2 person, 0 pad);
  amodal_mask, visible_mask (B, M, H, W) bool; amodal_box, visible_box (B, M, 4) float32
  [x, y, w, h] pixels; occlusion (B, M) float32; keypoints (B, M, 17, 2) float32 pixels;
  keypoint_states (B, M, 17) int32 (0 visible, 1 self-occluded, 2 occluded by others,
  3 outside / unused / pad); num_keypoints (B, M) int32; rotation (B, M, 3, 3) float32 and
  translation (B, M, 3) float32 (object → camera; pad: identity, 0); ground_pose (B, M, 3)
  [x, y, yaw]; dimensions (B, M, 3) metres; shape (B, M, 10); shape_num (B, M) int32;
  keypoints_3d (B, M, 17, 3) camera frame metres; object_depth (B, M) metres; track_id (B, M)
  int64. Pixels have centres at integers; boxes are COCO's (column c spans [c, c + 1)).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

import grain
import numpy as np

from walt3d_jax.data import decode
from walt3d_jax.data import transforms


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
  """batch_size: per process. image_size: (W, H) the model's input, None: as stored.
  max_objects: objects per image after padding (more are cut and counted). flip_prob: chance of
  a horizontal flip (0 at evaluation). shuffle: shuffle (seeded) before each epoch.
  num_epochs: None repeats forever. seed: shuffling and flips. num_threads,
  prefetch_buffer_size: grain.ReadOptions. labels: 'amodal' (the dataset's), or 'modal' (visible
  boxes and masks as the targets, `transforms.modal_labels`: the off-the-shelf baseline)."""

  batch_size: int = 8
  image_size: tuple[int, int] | None = None
  max_objects: int = 24
  flip_prob: float = 0.5
  shuffle: bool = True
  num_epochs: int | None = None
  seed: int = 0
  num_threads: int = 8
  prefetch_buffer_size: int = 64
  labels: str = "amodal"

  def __post_init__(self):
    if self.batch_size < 1 or self.max_objects < 1:
      raise ValueError(f"batch_size and max_objects must be >= 1, got {self.batch_size}, {self.max_objects}")
    if not 0.0 <= self.flip_prob <= 1.0:
      raise ValueError(f"flip_prob must be in [0, 1], got {self.flip_prob}")
    if self.labels not in LABELS:
      raise ValueError(f"labels must be one of {LABELS}, got {self.labels!r}")


LABELS = ("amodal", "modal")

# String fields of the dense example that do not go into batches.
_DROP = ("key",)


def prepare(record: Mapping[str, Any], config: PipelineConfig) -> dict[str, Any]:
  """A stored record decoded and resized (the deterministic part of the per-example map)."""
  # Masks are decoded straight at the model's size: most of a record's decode is its masks.
  example = decode.decode_record(record, config.image_size)
  if config.image_size is not None:
    example = transforms.resize(example, config.image_size)
  if config.labels == "modal":
    example = transforms.modal_labels(example)
  return example


def augment(example: dict[str, Any], rng: np.random.Generator, config: PipelineConfig) -> dict[str, Any]:
  """Random horizontal flip with the given generator, then objects padded to max_objects."""
  flip = bool(rng.random() < config.flip_prob)
  if flip:
    example = transforms.hflip(example)
  out = transforms.pad_objects(example, config.max_objects)
  out["flipped"] = np.bool_(flip)
  for name in _DROP:
    out.pop(name, None)
  return out


def process_shard(dataset: grain.MapDataset) -> grain.MapDataset:
  """This JAX process's part of a dataset: every process_count-th record."""
  import jax  # only for the process layout

  return dataset[jax.process_index()::jax.process_count()]


def make_dataset(source: Sequence[Any], config: PipelineConfig) -> grain.MapDataset:
  """The per-example grain.MapDataset of a random-access source (module docstring), unbatched."""
  ds = process_shard(grain.MapDataset.source(source))
  if config.shuffle:
    ds = ds.shuffle(seed=config.seed)
  ds = ds.repeat(config.num_epochs)
  ds = ds.map(lambda record: prepare(record, config))
  return ds.random_map(lambda example, rng: augment(example, rng, config), seed=config.seed + 1)


def make_iterator(source: Sequence[Any], config: PipelineConfig) -> grain.DatasetIterator:
  """A checkpointable iterator of batches (`get_state` / `set_state`)."""
  # Batched after to_iter_dataset: the read threads prefetch single examples in parallel (a
  # MapDataset batch would be made by one thread), and the batch is stacked as they arrive.
  read = grain.ReadOptions(num_threads=config.num_threads, prefetch_buffer_size=config.prefetch_buffer_size)
  ds = make_dataset(source, config).to_iter_dataset(read)
  return iter(ds.batch(config.batch_size, drop_remainder=True))


def data_source(name: str, data_dir: str, split: str):
  """`tfds.data_source(name, data_dir=...)[split]`: a built array_record dataset, no TensorFlow."""
  import tensorflow_datasets as tfds

  return tfds.data_source(name, data_dir=data_dir)[split]
