"""The detection verifier's examples: the built-in detector on scenes simulated as the detector
benchmark simulates them, labelled by box IoU with the truth; and a verifier built from them."""

import json
import pathlib

import numpy as np
import pytest

from experiments import occlusion_classifier as oc_config
from walt3d_jax.metrics import detection as det_metrics
from walt3d_jax.models import build_occlusion_weights
from walt3d_jax.timelapse import occlusion_data
from walt3d_jax.timelapse import verifier_data
from walt3d_jax.timelapse import verify


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
  config = oc_config.get_config("verifier_tiny")
  cache = tmp_path_factory.mktemp("verifier_sim")
  examples = verifier_data.scene_examples("intersection", 1, config.sim, config.data, cache)
  return config, cache, examples


def test_examples_are_labelled_by_box_iou_with_the_truth(tiny):
  config, cache, examples = tiny
  assert examples.num >= 10
  assert examples.crops.shape[1:] == (config.data.crop_size, config.data.crop_size, verify.NUM_CHANNELS)
  root = verifier_data.scored_root(cache, "intersection", 1, config.sim)
  truth = json.loads((root / "ground_truth.json").read_text())
  real = []
  for box, frame, target in zip(examples.boxes, examples.frame, examples.target_boxes):
    boxes = np.array([a["bbox"] for a in truth["annotations"] if a["image_id"] == frame and a["area"] > 0])
    iou = det_metrics.box_iou(box[None].astype(np.float64), boxes.reshape(-1, 4))[0]
    real.append(len(boxes) > 0 and iou.max() >= 0.5)
    if len(boxes) and iou.max() > 0:  # the refiner's target: the true box it overlaps most
      np.testing.assert_allclose(target, boxes[np.argmax(iou)])
    else:
      assert np.isnan(target).all()
  np.testing.assert_array_equal(examples.matched, real)
  assert np.isfinite(examples.target_boxes).all(axis=1).sum() > examples.matched.sum()  # near misses too
  np.testing.assert_array_equal(examples.occluded, ~examples.matched)  # the label: to reject
  assert 0 < examples.matched.sum() < examples.num  # both kinds occur
  assert (examples.occlusion[~examples.matched] == 0).all()


def test_scenes_are_cached_under_the_benchmarks_names(tiny):
  config, cache, _ = tiny
  root = verifier_data.scored_root(cache, "intersection", 1, config.sim)
  assert root.name == "intersection_seed1_seq0_2x3_320"  # benchmarks/detector.py's simulate_once
  background = cache / "intersection_seed1_samehours_2x2_320"
  assert (background / "ground_truth.json").is_file()
  stamps = [p.stat().st_mtime_ns for p in (root / "ground_truth.json", background / "ground_truth.json")]
  assert verifier_data.simulate_scored("intersection", 1, config.sim, cache) == root
  assert verifier_data.same_hours_root("intersection", 1, config.sim, cache, 2) == background
  assert stamps == [p.stat().st_mtime_ns for p in (root / "ground_truth.json", background / "ground_truth.json")]


def test_a_verifier_builds_and_loads(tmp_path):
  config = oc_config.get_config("verifier_tiny")
  path = tmp_path / "verifier.npz"
  summary = build_occlusion_weights.build(config, path, cache_dir=tmp_path / "sim")
  verifier = verify.Verifier.load(path)
  assert verifier.model.in_channels == verify.NUM_CHANNELS
  assert verifier.threshold == pytest.approx(summary["threshold"])
  assert (verifier.crop_size, verifier.context) == (config.data.crop_size, config.data.context)
  assert summary["examples"]["train"] > 0
  assert pathlib.Path(tmp_path / "sim").is_dir()
  with pytest.raises(ValueError, match="unknown argument 'verifier_huge'"):
    oc_config.get_config("verifier_huge")
  assert occlusion_data.sim_digest(config.sim) != occlusion_data.sim_digest(oc_config.get_config("verifier").sim)
