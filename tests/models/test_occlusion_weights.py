"""The shipped occlusion classifier: the file loads and predicts; the build writes the same bytes twice."""

import hashlib

import numpy as np
import pytest

from experiments import occlusion_classifier as oc_config
from walt3d_jax.models import build_occlusion_weights
from walt3d_jax.models import occlusion_classifier as oc
from walt3d_jax.models import occlusion_weights
from walt3d_jax.timelapse import occlusion_data
from walt3d_jax.train import occlusion as train_lib


@pytest.mark.parametrize("path", [occlusion_weights.SHIPPED_PATH, occlusion_weights.SHIPPED_BUILTIN_PATH])
def test_shipped_file_loads_and_predicts_finite_probabilities(path):
  assert path.stat().st_size < 500_000
  model, threshold, crop_size, context = occlusion_weights.load_shipped(path)
  assert 0.0 < threshold < 1.0 and crop_size > 0 and 0.0 <= context < 1.0
  assert model.in_channels == occlusion_data.NUM_CHANNELS
  crops = np.random.default_rng(0).integers(0, 256, (5, crop_size, crop_size, model.in_channels), np.uint8)
  prob = oc.predict(model, crops, batch_size=8)
  assert prob.shape == (5,) and np.isfinite(prob).all() and ((prob >= 0) & (prob <= 1)).all()
  recorded = occlusion_weights.training_config(path)
  assert recorded["data"]["crop_size"] == crop_size and recorded["data"]["context"] == context
  # The record says what each was trained on.
  builtin = path == occlusion_weights.SHIPPED_BUILTIN_PATH
  assert recorded["data"]["source"] == ("builtin" if builtin else "detections")
  assert recorded["data"].get("unmatched", "drop") == ("reject" if builtin else "drop")
  # The builtin one learnt the detections of the detector's learnt stages, as mine chains them.
  assert recorded["data"].get("stages", {}) == (dict(verifier="shipped", refiner="shipped", proposer="shipped")
                                                if builtin else {})


def test_arrays_round_trip_and_bad_files_name_the_entry(tmp_path):
  model = oc.create("Ti", occlusion_data.NUM_CHANNELS, seed=3)
  arrays = occlusion_weights.to_arrays(model, 0.25, 32, 0.2)
  assert list(arrays) == sorted(arrays)
  path = tmp_path / "w.npz"
  occlusion_weights.save(path, arrays)
  loaded = occlusion_weights.load(path)
  assert (loaded.threshold, loaded.crop_size, loaded.context) == (0.25, 32, 0.2)
  crops = np.random.default_rng(1).integers(0, 256, (3, 32, 32, 6), np.uint8)
  np.testing.assert_array_equal(oc.predict(loaded.model, crops, 4), oc.predict(model, crops, 4))

  del arrays["params/head/kernel"]
  occlusion_weights.save(tmp_path / "bad.npz", arrays)
  with pytest.raises(ValueError, match="bad.npz: missing params/head/kernel"):
    occlusion_weights.load(tmp_path / "bad.npz")
  with pytest.raises(FileNotFoundError, match="nope.npz"):
    occlusion_weights.load(tmp_path / "nope.npz")


def test_build_writes_the_same_bytes_twice(tmp_path):
  config = oc_config.get_config("tiny")  # then smaller still: two scenes of two frames, one epoch
  config.sim.num_bursts, config.sim.frames_per_burst, config.sim.num_days = 1, 2, 1
  config.splits.train.seeds, config.splits.val.seeds, config.splits.test.seeds = [1], [2], [2]
  config.train.batch_size, config.train.epochs = 8, 1
  digests = []
  for run in range(2):
    path = tmp_path / f"run{run}.npz"
    summary = build_occlusion_weights.build(config, path, cache_dir=tmp_path / "sim")
    digests.append(hashlib.sha256(path.read_bytes()).hexdigest())
  assert digests[0] == digests[1]
  assert occlusion_weights.load(path).threshold == pytest.approx(summary["threshold"])
