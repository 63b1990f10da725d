"""TFDS `walt3d_clipart` built from a tiny simulated bank (truly unoccluded objects, exact 3D).

The bank goes into EXAMPLE_DIR, which DatasetBuilderTestCase hands to the builder as its
`manual_dir` (the builder sets MANUAL_DOWNLOAD_INSTRUCTIONS): a temporary folder made once per
class and removed after it.
"""

import pathlib
import shutil
import tempfile

import numpy as np
import tensorflow_datasets as tfds

from experiments import simulate as simulate_config
from tfds_builders.walt3d_clipart import walt3d_clipart_dataset_builder as builder_lib
from walt3d_jax.clipart import truth_bank
from walt3d_jax.data import decode
from walt3d_jax.data import pipeline
from walt3d_jax.sim import simulate

def make_tiny_bank(directory: pathlib.Path) -> pathlib.Path:
  """A 160x90 simulated avenue (2 bursts of 3 frames) → directory/bank.h5."""
  config = simulate_config.get_config("avenue")
  config.num_bursts, config.frames_per_burst = 2, 3
  config.image_size = (160, 90)
  config.progress = False
  simulate.simulate_sequence(config, "avenue", 0, directory / "sequence")
  truth_bank.write_truth_bank(directory / "sequence", directory / "bank.h5")
  shutil.rmtree(directory / "sequence")
  return directory / "bank.h5"


def build(config: str, data_dir: pathlib.Path, file_format: str, manual_dir: str) -> tfds.core.DatasetBuilder:
  builder = builder_lib.Builder(config=config, data_dir=str(data_dir), file_format=file_format)
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
      manual_dir=manual_dir, compute_stats=tfds.download.ComputeStatsMode.SKIP))
  return builder


class Walt3dClipartTest(tfds.testing.DatasetBuilderTestCase):
  DATASET_CLASS = builder_lib.Builder
  BUILDER_CONFIG_NAMES_TO_TEST = ["tiny_walt3d", "tiny_walt2d"]
  SPLITS = {"train": 3, "test": 2}
  SKIP_CHECKSUMS = True
  EXAMPLE_DIR = None  # setUpClass: a temporary folder holding the tiny bank

  @classmethod
  def setUpClass(cls):
    cls.EXAMPLE_DIR = tempfile.mkdtemp(prefix="walt3d_clipart_bank_")
    super().setUpClass()
    make_tiny_bank(pathlib.Path(cls.EXAMPLE_DIR))

  @classmethod
  def tearDownClass(cls):
    super().tearDownClass()
    shutil.rmtree(cls.EXAMPLE_DIR, ignore_errors=True)

  def test_same_keys_give_the_same_bytes_across_builds(self):
    dirs = [pathlib.Path(self.tmp_dir) / name for name in ("a", "b")]
    for d in dirs:
      build("tiny_walt3d", d, "array_record", self.EXAMPLE_DIR)
    files = [sorted((d / "walt3d_clipart" / "tiny_walt3d" / "1.0.0").glob("*.array_record*")) for d in dirs]
    self.assertLen(files[0], 2)  # train and test, one shard each
    for a, b in zip(*files):
      self.assertEqual(a.read_bytes(), b.read_bytes(), a.name)

  def test_data_source_random_access_and_grain_pipeline(self):
    data_dir = pathlib.Path(self.tmp_dir) / "array_record"
    build("tiny_walt2d", data_dir, "array_record", self.EXAMPLE_DIR)
    source = tfds.data_source("walt3d_clipart/tiny_walt2d", data_dir=str(data_dir))
    self.assertLen(source["train"], 3)
    self.assertLen(source["test"], 2)
    last, first = source["train"][2], source["train"][0]
    records = source["train"].__getitems__([0, 2])
    self.assertEqual(records[1]["key"], last["key"])
    keys = sorted(source["train"][i]["key"] for i in range(3))
    self.assertEqual(keys, [b"train-0000000", b"train-0000001", b"train-0000002"])
    example = decode.decode_record(first)
    self.assertEqual(example["image"].shape, (90, 160, 3))
    self.assertEqual(first["mode"], b"walt2d")
    n = decode.num_objects(example)
    self.assertBetween(n, 1, 3)
    self.assertEqual(example["amodal_mask"].shape, (n, 90, 160))
    self.assertTrue((example["visible_mask"] <= example["amodal_mask"]).all())
    # The pipeline on the real source: model size, padding, fixed shapes.
    config = pipeline.PipelineConfig(batch_size=2, image_size=(80, 45), max_objects=4,
                                     num_threads=1, prefetch_buffer_size=2)
    batch = next(pipeline.make_iterator(source["train"], config))
    self.assertEqual(batch["image"].shape, (2, 45, 80, 3))
    self.assertEqual(batch["amodal_mask"].shape, (2, 4, 45, 80))
    self.assertTrue(np.isfinite(batch["keypoints_3d"]).all())

  def test_tfrecord_build_loads_with_tfds_load_and_matches_array_record(self):
    tf_dir = pathlib.Path(self.tmp_dir) / "tfrecord"
    ar_dir = pathlib.Path(self.tmp_dir) / "array_record_match"
    build("tiny_walt3d", tf_dir, "tfrecord", self.EXAMPLE_DIR)
    build("tiny_walt3d", ar_dir, "array_record", self.EXAMPLE_DIR)
    ds = tfds.load("walt3d_clipart/tiny_walt3d", split="test", data_dir=str(tf_dir), download=False)
    by_key = {}
    for record in tfds.as_numpy(ds):
      by_key[record["key"]] = decode.decode_record(record)
    source = tfds.data_source("walt3d_clipart/tiny_walt3d", data_dir=str(ar_dir))["test"]
    self.assertLen(by_key, 2)
    for i in range(len(source)):
      b = decode.decode_record(source[i])
      a = by_key[b["key"].encode()]
      for name, value in a.items():
        np.testing.assert_array_equal(np.asarray(value), np.asarray(b[name]), err_msg=name)


if __name__ == "__main__":
  tfds.testing.test_main()
