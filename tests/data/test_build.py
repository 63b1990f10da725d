"""The `clipart` job end to end at its `tiny` setting (simulated truth bank, both formats, COCO)."""

import json
import pathlib

import pytest
import tensorflow_datasets as tfds

from experiments import clipart as clipart_config
from walt3d_jax.data import build
from walt3d_jax.data import decode


def test_tiny_job_builds_both_formats_and_the_coco_export(tmp_path):
  config = clipart_config.get_config("tiny")
  config.progress = False
  summary = build.run(config, tmp_path)
  assert summary["examples"] == {"train": 3, "test": 2}
  assert set(summary["builds"]) == {"array_record", "tfrecord"}
  assert summary["pool"]["objects"] > 0
  assert json.loads((tmp_path / "summary.json").read_text())["dataset"] == "walt3d_clipart/tiny_walt3d"
  source = tfds.data_source("walt3d_clipart/tiny_walt3d", data_dir=str(tmp_path / "tfds" / "array_record"))
  assert decode.decode_record(source["test"][1])["image"].shape == (90, 160, 3)
  coco = json.loads((tmp_path / "coco" / "test" / "annotations.json").read_text())
  assert len(coco["images"]) == 2 and coco["annotations"]
  # Run again: the builds are reused, not redone.
  again = build.run(config, tmp_path)
  assert all(b["reused_existing_build"] for b in again["builds"].values())


def test_config_errors_name_the_field(tmp_path):
  config = clipart_config.get_config("tiny")
  config.dataset = "walt3d_1x1"
  with pytest.raises(build.BuildError, match="config.dataset"):
    build.run(config, tmp_path)
  config = clipart_config.get_config("tiny")
  config.bank = str(tmp_path / "missing.h5")
  with pytest.raises(build.BuildError, match="config.bank"):
    build.run(config, tmp_path)


def test_a_notable_share_of_skipped_rows_is_said():
  class Pool:
    skipped = {"not_fitted": 30, "empty_mask": 2}

    def __len__(self):
      return 68

  line = build.warn_skipped(Pool(), pathlib.Path("cam.h5"), pathlib.Path("summary.json"))
  assert line.startswith("cam.h5: 32 of 100 rows (32 %) left out") and "not_fitted 30, empty_mask 2" in line
  Pool.skipped = {"not_fitted": 1}
  assert build.warn_skipped(Pool(), pathlib.Path("cam.h5"), pathlib.Path("summary.json")) is None
