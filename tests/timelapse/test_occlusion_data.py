"""Occlusion-classifier examples: crop geometry, labels against ground truth, determinism."""

import dataclasses
import json

import ml_collections
import numpy as np
import pytest

from experiments import occlusion_classifier as oc_config
from experiments import simulate as simulate_config
from walt3d_jax.formats import rle
from walt3d_jax.timelapse import detect
from walt3d_jax.timelapse import occlusion_data
from walt3d_jax.timelapse import propose
from walt3d_jax.timelapse.types import FrameDetections


def data_config(**overrides):
  config = ml_collections.ConfigDict(oc_config.get_config().data.to_dict())
  config.crop_size = 32
  config.update(overrides)
  return config


def _crosswalk(tmp_path_factory, bursts: int, frames: int, days: int, agents: int):
  """(sim config, cache dir, root) of crosswalk seed 3 at 320×180, simulated into a fresh cache."""
  config = simulate_config.get_config("crosswalk")
  config.image_size = (320, 180)
  config.num_bursts, config.frames_per_burst, config.num_days = bursts, frames, days
  config.num_cars = config.num_people = agents
  config.progress = False
  cache = tmp_path_factory.mktemp("occlusion_data")
  (root,) = occlusion_data.simulate_scenes(config, [occlusion_data.SceneSpec("crosswalk", 3)], cache)
  return config, cache, root


@pytest.fixture(scope="module")
def sequence(tmp_path_factory):
  return _crosswalk(tmp_path_factory, bursts=1, frames=2, days=1, agents=10)


def test_crop_at_unit_scale_is_the_image_window():
  rng = np.random.default_rng(0)
  image = rng.integers(0, 256, (100, 120, 3), dtype=np.uint8)
  mask = np.zeros((100, 120), bool)
  mask[30:50, 40:60] = True
  box = rle.mask_box(mask)  # [40, 30, 20, 20]
  # context 0.25 → a 30-pixel square window from (35, 25); crop_size 30 → scale 1.
  crop = occlusion_data.crop_object(image, mask, box, size=30, context=0.25)
  assert crop.shape == (30, 30, occlusion_data.NUM_CHANNELS) and crop.dtype == np.uint8
  np.testing.assert_array_equal(crop[..., :3], image[25:55, 35:65])
  np.testing.assert_array_equal(crop[..., 3] > 127, mask[25:55, 35:65])
  assert (crop[..., 4] == 255).all() and (crop[..., 5] == 0).all()
  nearer = np.zeros_like(mask)
  nearer[45:60, 50:70] = True
  crop = occlusion_data.crop_object(image, mask, box, size=30, context=0.25, nearer=nearer)
  np.testing.assert_array_equal(crop[..., 5] > 127, nearer[25:55, 35:65])


def test_crop_keeps_aspect_and_marks_the_outside_of_the_image():
  image = np.full((60, 80, 3), 200, np.uint8)
  mask = np.zeros((60, 80), bool)
  mask[0:40, 0:10] = True  # a tall object in the top-left corner
  crop = occlusion_data.crop_object(image, mask, rle.mask_box(mask), size=48, context=0.25)
  assert crop.shape == (48, 48, occlusion_data.NUM_CHANNELS)
  inside = crop[..., 4] > 127
  assert not inside[0, 0] and inside[-1, -1]
  assert (crop[..., :3][~inside] <= 100).all()  # zero padding (blended at the edge)
  on = np.argwhere(crop[..., 3] > 127)
  height, width = np.ptp(on, axis=0) + 1
  assert 3.0 < height / width < 5.0  # the 40×10 object stays about 4:1


def test_truth_examples_carry_ground_truth_labels(sequence):
  _, _, root = sequence
  config = data_config(source="truth")
  examples = occlusion_data.sequence_examples(root, config)
  truth = json.loads((root / "ground_truth.json").read_text())
  objects = [a for a in truth["annotations"] if a["area"] > 0]
  assert examples.num == len(objects) > 5
  assert examples.crops.shape == (examples.num, 32, 32, occlusion_data.NUM_CHANNELS)
  expected = [a["occlusion"] >= config.occlusion_threshold or a["truncated"] for a in objects]
  np.testing.assert_array_equal(examples.occluded, expected)
  np.testing.assert_allclose(examples.occlusion, [a["occlusion"] for a in objects], atol=1e-6)
  np.testing.assert_array_equal(examples.area, [a["area"] for a in objects])
  np.testing.assert_array_equal(examples.frame, [a["image_id"] for a in objects])
  assert examples.occluded.any() and not examples.occluded.all()
  assert examples.image_size == (320, 180)
  # The mask channel holds the object; the nearer-objects channel is empty for the lowest box.
  assert all(c[..., 3].max() == 255 for c in examples.crops)
  for frame in np.unique(examples.frame):
    rows = np.flatnonzero(examples.frame == frame)
    bottoms = examples.boxes[rows, 1] + examples.boxes[rows, 3]
    assert examples.crops[rows[np.argmax(bottoms)], ..., 5].max() == 0


def test_detection_examples_match_ground_truth(sequence):
  _, _, root = sequence
  examples = occlusion_data.sequence_examples(root, data_config(source="detections"))
  detections = json.loads((root / "detections.json").read_text())
  assert examples.num == len(detections)
  # Mask jitter of ±1 px drops tiny masks below IoU 0.5; larger ones match unless false positives.
  large = examples.area >= 100
  assert large.sum() >= 5 and examples.matched[large].mean() > 0.6
  assert not examples.occluded[~examples.matched].any()
  keep = occlusion_data.usable(examples, min_area=50)
  assert keep.sum() > 0 and (examples.area[keep] >= 50).all() and examples.matched[keep].all()


def test_matching_is_one_to_one_by_mask_iou():
  a, b = np.zeros((20, 20), bool), np.zeros((20, 20), bool)
  a[2:8, 2:8], b[10:18, 10:18] = True, True
  truths = [{"segmentation": rle.encode_mask(m)} for m in (a, b)]
  shifted = np.roll(b, 1, axis=1)
  dets = [{"segmentation": rle.encode_mask(m), "score": s} for m, s in ((shifted, 0.9), (b, 0.5), (a, 0.7))]
  np.testing.assert_array_equal(occlusion_data.match_detections(dets, truths, 0.5), [1, -1, 0])


def test_build_is_deterministic_and_cached(sequence):
  sim_config, cache, root = sequence
  scenes = [occlusion_data.SceneSpec("crosswalk", 3)]
  stamp = (root / "ground_truth.json").stat().st_mtime_ns
  first = occlusion_data.build_examples(sim_config, scenes, data_config(), cache)
  second = occlusion_data.build_examples(sim_config, scenes, data_config(), cache)
  assert (root / "ground_truth.json").stat().st_mtime_ns == stamp  # reused, not re-simulated
  np.testing.assert_array_equal(first.crops, second.crops)
  np.testing.assert_array_equal(first.occluded, second.occluded)
  part = first.select(np.arange(first.num) < 3)
  both = occlusion_data.OcclusionExamples.concatenate([part, part])
  assert both.num == 6 and both.image_size == first.image_size
  # Other simulator settings in the same cache are other scenes, never the cached ones.
  other = ml_collections.ConfigDict(sim_config.to_dict())
  other.frames_per_burst = sim_config.frames_per_burst + 1
  assert occlusion_data.sim_digest(other) != occlusion_data.sim_digest(sim_config)
  reseeded = ml_collections.ConfigDict(sim_config.to_dict())
  reseeded.seed, reseeded.progress = 99, True
  assert occlusion_data.sim_digest(reseeded) == occlusion_data.sim_digest(sim_config)
  (other_root,) = occlusion_data.simulate_scenes(other, scenes, cache)
  assert other_root != root and other_root.parent.parent == root.parent.parent
  frames = lambda r: len(json.loads((r / "ground_truth.json").read_text())["images"])
  assert frames(other_root) == frames(root) * (other.frames_per_burst) // sim_config.frames_per_burst


def test_scene_specs_and_bad_source(sequence):
  specs = occlusion_data.scene_specs(["a", "b"], [1, 2])
  assert [s.name for s in specs] == ["a_seed1", "a_seed2", "b_seed1", "b_seed2"]
  with pytest.raises(ValueError, match="config.source"):
    occlusion_data.sequence_examples(sequence[2], data_config(source="nope"))


@pytest.fixture(scope="module")
def bursts(tmp_path_factory):
  """A crosswalk sequence of 8 one-frame bursts over two days: each frame's background comes
  from the others, as in a time-lapse."""
  return _crosswalk(tmp_path_factory, bursts=8, frames=1, days=2, agents=8)[2]


def test_builtin_source_runs_the_detector_and_can_reject_what_matches_nothing(bursts):
  root = bursts
  entries = occlusion_data.builtin_detections(root)
  assert entries and all({"image_id", "bbox", "segmentation", "category_id", "score"} <= set(e) for e in entries)
  drop = occlusion_data.sequence_examples(root, data_config(source="builtin"))
  reject = occlusion_data.sequence_examples(root, data_config(source="builtin", unmatched="reject"))
  assert drop.num == reject.num == len(entries)
  unmatched = ~reject.matched
  assert unmatched.any() and reject.matched.any()
  # Detections that match no true object: kept as "unoccluded" by default, to be turned down
  # with unmatched="reject"; the labels of matched ones are the same.
  assert reject.occluded[unmatched].all() and not drop.occluded[unmatched].any()
  np.testing.assert_array_equal(reject.occluded[reject.matched], drop.occluded[drop.matched])
  # (The detector's masks of a few pixels may fill their boxes: no outline, never examples.)
  np.testing.assert_array_equal(occlusion_data.usable(reject, 20, unmatched=True), reject.area >= 20)
  np.testing.assert_array_equal(occlusion_data.usable(reject, 20), reject.matched & (reject.area >= 20))
  with pytest.raises(ValueError, match="unmatched"):
    occlusion_data.sequence_examples(root, data_config(source="builtin", unmatched="keep"))


@dataclasses.dataclass(frozen=True)
class _AddsABox:
  """A stage that adds one box-masked detection (as the proposal network does) where the camera
  is given, and otherwise none."""

  camera: object = None

  def __call__(self, image, background, detections):
    if self.camera is None:
      return detections
    box = np.array([[10.0, 20.0, 16.0, 30.0]])
    added = FrameDetections(detections.image_id, box, [0.9], [2], propose.box_masks(box, image.shape[1::-1]),
                            np.zeros((1, 17, 3)), [-1])
    return FrameDetections.concatenate([detections, added])


def test_builtin_detections_pass_the_stages_with_the_camera_and_box_masks_are_never_examples(bursts):
  plain = occlusion_data.builtin_detections(bursts)
  chained = occlusion_data.builtin_detections(bursts, detect.Chain((_AddsABox(),)))
  frames = {e["image_id"] for e in chained}
  added = [e for e in chained if e["bbox"] == [10.0, 20.0, 16.0, 30.0]]
  assert len(chained) == len(plain) + len(frames) and len(added) == len(frames)  # one per frame: the camera came
  examples = occlusion_data.sequence_examples(bursts, data_config(source="builtin", unmatched="reject"),
                                              stages=detect.Chain((_AddsABox(),)))
  box_rows = np.all(examples.boxes == np.array([10, 20, 16, 30], np.float32), axis=1)
  assert box_rows.sum() == len(frames)
  usable = occlusion_data.usable(examples, 20, unmatched=True)
  assert not usable[box_rows].any() and usable[~box_rows].sum() == (examples.area[~box_rows] >= 20).sum()
