"""TFDS `walt3d_clipart`: WALT3D clip-art composites of an object bank, with amodal labels.

Each example is one composited image (`walt3d_jax.clipart.compose.make_example`) and its
pseudo-ground-truth: per object the class, amodal and visible masks and boxes, occlusion,
2D keypoints with 4-state visibility, 3D pose, shape and 3D keypoints; per image the camera and
a depth map. Features mirror `walt3d_jax.clipart.example.to_features` (docs/formats.md,
"Clip-art dataset").

The source is an object bank (`bank.h5`, docs/formats.md "Object bank") given through TFDS's
manual-data mechanism: `download_config=tfds.download.DownloadConfig(manual_dir=DIR)` with
`DIR/bank.h5` (the `clipart` job, `walt3d_jax/data/build.py`, does this for any bank path).

Generation is deterministic per example key (`train-0000012`): the same key, config and bank
give the same bytes, whatever the order or the machine. `generate_example` is the pure per-key
function; it runs in a Python loop (local build) or as a `beam.Map` over the keys (Beam build).

**Beam.** Given Beam settings (`DownloadConfig(beam_options=PipelineOptions([...]))` or
`beam_runner=...`; the `clipart` job's `--config.beam_pipeline_options='...'`; `tfds build
--beam_pipeline_options=...`), each split is `beam.Create(keys) | beam.Map(...)` and TFDS's
Beam writer shuffles and writes it: the same examples, byte for byte, as the local build. Each
worker loads the pool once (the bank path must be readable there: a shared or `gs://` path).
  local, 2 processes:  --runner=DirectRunner --direct_num_workers=2 --direct_running_mode=multi_processing
  Dataflow:  --runner=DataflowRunner --project=P --region=R --temp_location=gs://B/tmp
             --extra_package=dist/walt3d_jax-0.1.0-py3-none-any.whl --requirements_file=requirements.txt
             (the wheel: `pip wheel --no-deps -w dist .`; it holds walt3d_jax and tfds_builders)
  Flink / Spark:  --runner=FlinkRunner --flink_master=HOST:8081 --environment_type=LOOPBACK
             (or --runner=SparkRunner --spark_master_url=spark://HOST:7077)
with data_dir and the bank on storage every worker reaches.

One build writes one file format (PIPELINE.md): tfrecord (the default, for `tfds.load`) or
`file_format='array_record'` (for `tfds.data_source` / grain); `walt3d_jax.data.build` writes
each into its own data dir.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Iterator

import numpy as np
import tensorflow_datasets as tfds

from walt3d_jax.clipart import example as example_lib

_K = example_lib.MAX_KEYPOINTS
_S = example_lib.NUM_SHAPE_SLOTS

_DESCRIPTION = """\
WALT3D clip-art: unoccluded objects mined from a stationary-camera time-lapse and fitted in 3D,
composited back into their camera's background with non-intersecting ground footprints and a
per-pixel depth test against their 3D proxies (mode walt3d), or pasted in random order (mode
walt2d, WALT's baseline). Labels are
exact for the composite: amodal and visible masks, occlusion, keypoints with visibility
(visible / self-occluded / occluded by others / outside the image), 3D pose, shape coefficients,
3D keypoints, and a per-pixel depth map.
"""

_CITATION = """\
@inproceedings{walt3d2024,
  title={WALT3D: Generating Realistic Training Data from Time-Lapse Imagery for Reconstructing
         Dynamic Objects under Occlusion},
  author={Vuong, Khiem and Reddy, N. Dinesh and Tamburo, Robert and Narasimhan, Srinivasa G.},
  booktitle={CVPR},
  year={2024}
}
"""


@dataclasses.dataclass
class BuilderConfig(tfds.core.BuilderConfig):
  """One variant: compositing mode, output resolution and examples per split.

  mode: 'walt3d' or 'walt2d'. image_size: output (W, H) pixels. num_train, num_test: examples
  per split. clipart: other `walt3d_jax.clipart.config.ClipartConfig` fields, as (name, value)
  pairs (hashable), e.g. (('objects_per_image', (2, 6)),).
  """

  mode: str = "walt3d"
  image_size: tuple[int, int] = (640, 360)
  num_train: int = 20_000
  num_test: int = 2_000
  clipart: tuple[tuple[str, Any], ...] = ()

  def clipart_config(self):
    """The compositor's `ClipartConfig` of this variant."""
    from walt3d_jax.clipart import config as config_lib  # the compositor only when building

    return config_lib.ClipartConfig.from_dict(
        {"mode": self.mode, "image_size": tuple(self.image_size), **dict(self.clipart)})

  @property
  def splits(self) -> dict[str, int]:
    return {"train": int(self.num_train), "test": int(self.num_test)}


def _config(mode: str, size: tuple[int, int], num_train: int, num_test: int, **clipart) -> BuilderConfig:
  width, height = size
  return BuilderConfig(
      name=f"{mode}_{width}x{height}",
      description=f"{mode} compositing at {width}x{height}, {num_train} train / {num_test} test.",
      mode=mode, image_size=size, num_train=num_train, num_test=num_test,
      clipart=tuple(sorted(clipart.items())),
  )


def _tiny(mode: str) -> BuilderConfig:
  return BuilderConfig(
      name=f"tiny_{mode}", description=f"{mode} at 160x90, 3 train / 2 test: tests and smoke runs.",
      mode=mode, image_size=(160, 90), num_train=3, num_test=2,
      clipart=(("objects_per_image", (1, 3)),))


BUILDER_CONFIGS = [
    _config("walt3d", (640, 360), 20_000, 2_000),
    _config("walt2d", (640, 360), 20_000, 2_000),
    _config("walt3d", (320, 180), 20_000, 2_000),
    _config("walt2d", (320, 180), 20_000, 2_000),
    _tiny("walt3d"),
    _tiny("walt2d"),
]


def example_keys(split: str, num: int) -> list[str]:
  """The keys of a split: `train-0000000`, … (each key alone determines its example)."""
  return [f"{split}-{i:07d}" for i in range(num)]


def generate_example(pool, key: str, clipart_config) -> tuple[str, dict[str, Any]]:
  """(key, feature dict) of one example: pure in (pool, key, config), a `beam.Map` body."""
  from walt3d_jax.clipart import compose  # the compositor only when building

  return key, example_lib.to_features(compose.make_example(pool, key, clipart_config), png=True)


def _features(image_size: tuple[int, int]) -> tfds.features.FeaturesDict:
  width, height = image_size
  f = tfds.features
  vec = lambda shape, dtype, doc: f.Tensor(shape=shape, dtype=dtype, doc=doc)
  return f.FeaturesDict({
      "image": f.Image(shape=(height, width, 3), encoding_format="png", doc="composite, RGB"),
      "depth": f.Image(shape=(height, width, 1), dtype=np.uint16, encoding_format="png",
                       doc="camera z of the visible object, centimetres; 0 where none"),
      "camera": f.FeaturesDict({
          "K": vec((3, 3), np.float32, "intrinsics, pixels"),
          "plane": vec((4,), np.float32, "ground plane [n, d], n·X + d = 0, camera frame, m"),
      }),
      "time_bucket": f.Text(doc="time-of-day bucket of the background (day, dusk, night)"),
      "camera_name": f.Text(doc="the bank's camera"),
      "key": f.Text(doc="example key; it alone determines the example"),
      "seed": f.Scalar(dtype=np.int64, doc="integer seed derived from the key"),
      "mode": f.Text(doc="walt3d or walt2d"),
      "objects": f.Sequence({
          "category": f.Scalar(dtype=np.int32, doc="COCO id: 1 car, 2 person"),
          "amodal_rle": f.Text(doc="COCO compressed RLE counts of the amodal mask, size (H, W)"),
          "visible_rle": f.Text(doc="COCO compressed RLE counts of the visible mask"),
          "amodal_box": vec((4,), np.float32, "[x, y, w, h] pixels"),
          "visible_box": vec((4,), np.float32, "[x, y, w, h] pixels, zeros if fully hidden"),
          "occlusion": f.Scalar(dtype=np.float32, doc="1 − visible / amodal area"),
          "keypoints": vec((_K, 2), np.float32, "(u, v) pixels; cars use the first 12 slots"),
          "keypoint_states": vec((_K,), np.int32,
                                 "0 visible, 1 self-occluded, 2 occluded by others, 3 outside"),
          "num_keypoints": f.Scalar(dtype=np.int32, doc="12 cars, 17 people"),
          "rotation": vec((3, 3), np.float32, "object → camera rotation"),
          "translation": vec((3,), np.float32, "object → camera translation, m"),
          "ground_pose": vec((3,), np.float32, "[x, y, yaw] ground frame, m and rad"),
          "dimensions": vec((3,), np.float32, "[length, width, height] m"),
          "shape": vec((_S,), np.float32, "PCA shape coefficients (first shape_num used)"),
          "shape_num": f.Scalar(dtype=np.int32, doc="used shape coefficients (people 0)"),
          "keypoints_3d": vec((_K, 3), np.float32, "camera frame, m"),
          "depth": f.Scalar(dtype=np.float32, doc="camera z of the object origin, m"),
          "track_id": f.Scalar(dtype=np.int64, doc="the bank's track id"),
          "source_frame": f.Scalar(dtype=np.int64, doc="frame index the object was mined from"),
          "source_row": f.Scalar(dtype=np.int64, doc="the bank's row"),
          "time_bucket": f.Text(doc="time-of-day bucket of the source frame"),
      }),
  })


@functools.lru_cache(maxsize=1)
def _load_pool(bank: str, version: tuple, clipart_config):
  """The bank's pool, loaded once per process for all splits (and rebuilt if the file changed)."""
  del version  # (mtime, size): part of the cache key only
  from walt3d_jax.clipart import pool as pool_lib  # the compositor only when building

  return pool_lib.load_pool(bank, clipart_config)


def load_pool(bank, clipart_config):
  """The pool of bank (a path), cached per process while the file is unchanged."""
  from etils import epath

  bank = epath.Path(bank)
  stat = bank.stat()
  return _load_pool(str(bank), (stat.mtime, stat.length), clipart_config)


class Builder(tfds.core.GeneratorBasedBuilder):
  """DatasetBuilder for walt3d_clipart."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release: walt3d / walt2d compositing, 640x360 and 320x180."}
  BUILDER_CONFIGS = BUILDER_CONFIGS
  DEFAULT_BUILDER_CONFIG_NAME = "walt3d_640x360"
  MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Place the object bank (docs/formats.md, "Object bank": mined and 3D-fitted objects of one
camera, e.g. <workdir>/fit/mine/bank.h5 of the `fit` job) at `<manual_dir>/bank.h5`, or pass
download_config=tfds.download.DownloadConfig(manual_dir=DIR) with DIR/bank.h5. The `clipart`
job (python launch.py --config experiments/clipart.py --workdir W) does this for any bank path.
"""

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=_features(tuple(self.builder_config.image_size)),
        supervised_keys=None,
        homepage="https://www.cs.cmu.edu/~walt3d",
        citation=_CITATION,
        description=_DESCRIPTION,
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    bank = dl_manager.manual_dir / "bank.h5"
    if not bank.exists():
      raise FileNotFoundError(f"{bank} not found. {self.MANUAL_DOWNLOAD_INSTRUCTIONS}")
    # A split of 0 examples (a job override) is left out: TFDS cannot write an empty split.
    return {split: self._generate_examples(bank, split, num)
            for split, num in self.builder_config.splits.items() if num > 0}

  _use_beam = False  # set per build by _generate_splits

  def _example_writer(self) -> tfds.core.ExampleWriter:
    return CanonicalExampleWriter(file_format=self.info.file_format)

  def _generate_splits(self, dl_manager, download_config):
    # TFDS gives the Beam settings to its split writer only; the example source must know them
    # too, to hand over a Beam transform instead of a generator (covers `tfds build` as well).
    self._use_beam = uses_beam(download_config)
    return super()._generate_splits(dl_manager, download_config)

  def _generate_examples(self, bank, split: str, num: int):
    """A generator of (key, features) (local build) or a Beam PTransform of them (Beam)."""
    clipart_config = self.builder_config.clipart_config()
    keys = example_keys(split, num)
    if self._use_beam:
      return beam_examples(str(bank), keys, clipart_config)
    # TFDS's own bar over a generator has no total; this one has, so it shows the time left
    # (and, like TFDS's, it follows tfds.disable_progress_bar()).
    return tfds.core.utils.tqdm(local_examples(bank, keys, clipart_config), total=len(keys),
                                desc=f"compose {split}", unit=" examples", leave=False)


def canonical_record(serialized: bytes) -> bytes:
  """The same tf.train.Example with its feature map written in sorted key order."""
  from tensorflow_datasets.proto import tf_example_pb2

  return tf_example_pb2.Example.FromString(serialized).SerializeToString(deterministic=True)


class CanonicalExampleWriter(tfds.core.ExampleWriter):
  """TFDS's example writer, each record re-serialized with sorted feature keys.

  Why: protobuf (upb) writes a map's entries in an order that changes from process to process,
  so TFDS's records of one example differ between two runs, or a Beam worker and the main
  process; sorted, they are a function of the example alone (parse + write: ~1 % of a
  320x180 example's compositing time).
  """

  def write(self, path, examples):
    return super().write(path, ((key, canonical_record(record)) for key, record in examples))


def uses_beam(download_config) -> bool:
  """Whether a build was given Beam settings (a runner or pipeline options)."""
  return download_config is not None and bool(download_config.beam_runner or download_config.beam_options)


def local_examples(bank, keys: list[str], clipart_config) -> Iterator[tuple[str, dict[str, Any]]]:
  """(key, features) of each key in order, in this process (the pool loaded once)."""
  pool = load_pool(bank, clipart_config)
  for key in keys:
    yield generate_example(pool, key, clipart_config)


def beam_example(key: str, bank: str, clipart_config) -> tuple[str, dict[str, Any]]:
  """`generate_example` on a Beam worker: the pool is loaded once per worker process."""
  return generate_example(load_pool(bank, clipart_config), key, clipart_config)


def beam_examples(bank: str, keys: list[str], clipart_config):
  """A Beam PTransform (no input → (key, features)): the keys spread over the workers."""
  beam = tfds.core.lazy_imports.apache_beam
  # Create reshuffles its elements (reshuffle=True), so the Map is not fused onto one worker.
  return beam.Create(keys) | beam.Map(beam_example, bank=bank, clipart_config=clipart_config)
