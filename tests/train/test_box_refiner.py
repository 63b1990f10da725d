"""The box refiner's training: a tiny build trains, scores itself and loads as a refiner."""

import json

import pytest

from experiments import box_refiner as refiner_config
from walt3d_jax import launch
from walt3d_jax.models import build_box_refiner
from walt3d_jax.models import occlusion_weights
from walt3d_jax.timelapse import refine
from walt3d_jax.timelapse import verifier_data


def test_a_tiny_refiner_builds_and_loads(tmp_path):
  config = refiner_config.get_config("tiny")
  assert config.job in launch.JOBS
  path = tmp_path / "refiner.npz"
  summary = build_box_refiner.build(config, path, cache_dir=tmp_path / "sim")
  refiner = refine.Refiner.load(path)
  assert refiner.model.in_channels == verifier_data.NUM_CHANNELS
  assert (refiner.crop_size, refiner.context) == (config.data.crop_size, config.data.context)
  recorded = occlusion_weights.training_config(path)
  assert recorded["refiner"] == config.refiner.to_dict() and recorded["cache_dir"] == ""
  test = summary["test"]
  assert test["num"] > 0 and 0.0 < test["iou_before"] <= 1.0 and 0.0 < test["iou_after"] <= 1.0
  assert 0 <= test["near_fixed"] <= test["near_misses"] and 0 <= test["good_lost"] <= test["good"]
  assert summary["examples"]["train"] > 0 and summary["val"]["epoch"] == config.train.epochs - 1
  json.dumps(summary)  # the job's results.json


def test_unknown_config_argument_is_refused():
  with pytest.raises(ValueError, match="unknown argument 'huge'; known: tiny"):
    refiner_config.get_config("huge")
