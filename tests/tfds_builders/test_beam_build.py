"""walt3d_clipart on Beam's DirectRunner (2 worker processes) gives the local build's examples,
byte for byte per example key (the serialized records of the array_record files)."""

import pathlib
import shutil

import pytest

beam = pytest.importorskip("apache_beam")  # a requirements.txt pin: skipped only without Beam

from array_record.python import array_record_module
import tensorflow as tf

from experiments import simulate as simulate_config
from tfds_builders.walt3d_clipart import walt3d_clipart_dataset_builder as builder_lib
from walt3d_jax.clipart import truth_bank
from walt3d_jax.data import build
from walt3d_jax.sim import simulate

TWO_WORKERS = "--runner=DirectRunner --direct_num_workers=2 --direct_running_mode=multi_processing"


@pytest.fixture(scope="module")
def manual_dir(tmp_path_factory) -> pathlib.Path:
  """A 160x90 simulated avenue's truly unoccluded objects as <dir>/bank.h5."""
  directory = tmp_path_factory.mktemp("bank")
  config = simulate_config.get_config("avenue")
  config.num_bursts, config.frames_per_burst = 2, 3
  config.image_size = (160, 90)
  config.progress = False
  simulate.simulate_sequence(config, "avenue", 0, directory / "sequence")
  truth_bank.write_truth_bank(directory / "sequence", directory / "bank.h5")
  shutil.rmtree(directory / "sequence")
  return directory


def records_by_key(version_dir: pathlib.Path, split: str) -> dict[bytes, bytes]:
  """{example key: serialized tf.train.Example} over a split's array_record shards."""
  out = {}
  for path in sorted(version_dir.glob(f"walt3d_clipart-{split}.array_record-*")):
    reader = array_record_module.ArrayRecordReader(str(path))
    for record in reader.read_all():
      key = tf.train.Example.FromString(record).features.feature["key"].bytes_list.value[0]
      assert key not in out, key
      out[key] = record
    reader.close()
  return out


def test_beam_options_of_a_flag_string():
  assert build.beam_options("") is None and build.beam_options("  ") is None
  options = build.beam_options(TWO_WORKERS).get_all_options()
  assert options["runner"] == "DirectRunner" and options["direct_num_workers"] == 2


def test_direct_runner_with_two_workers_writes_the_local_builds_examples(manual_dir, tmp_path, monkeypatch):
  config = builder_lib.BUILDER_CONFIGS[-2]  # tiny_walt3d: 3 train / 2 test at 160x90
  assert config.name == "tiny_walt3d"
  local = build.build_format(config, tmp_path / "local", manual_dir, "array_record")

  def no_local_loop(*args):
    raise AssertionError("the Beam build ran the local generator")

  monkeypatch.setattr(builder_lib, "local_examples", no_local_loop)
  on_beam = build.build_format(config, tmp_path / "beam", manual_dir, "array_record",
                               beam_pipeline_options=TWO_WORKERS)
  for split, num in config.splits.items():
    expected = records_by_key(pathlib.Path(local.data_path), split)
    got = records_by_key(pathlib.Path(on_beam.data_path), split)
    assert len(expected) == num
    assert sorted(got) == sorted(expected)
    for key, record in expected.items():
      assert got[key] == record, key
    assert on_beam.info.splits[split].num_examples == num
