import numpy as np
import pytest

from walt3d_jax.formats import rle
from walt3d_jax.formats.coco import Category
from walt3d_jax.formats.coco import KeypointState
from walt3d_jax.sim import detector_model as dm

SIZE = (64, 48)


def _object(occlusion=0.0, area_side=12, states=None):
  mask = np.zeros((SIZE[1], SIZE[0]), bool)
  mask[10 : 10 + area_side, 20 : 20 + area_side] = True
  uv = np.tile([26.0, 16.0], (12, 1))
  states = np.zeros(12, np.int8) if states is None else states
  return dm.TrueObject(Category.CAR, mask, occlusion, uv, states)


def test_clean_detector_returns_the_visible_mask_and_box():
  noise = dm.DetectorNoise(miss_rate=0, occlusion_miss_rate=0, mask_jitter_px=0,
                           keypoint_sigma_px=0, false_positives_per_frame=0)
  (det,) = dm.imitate_detections([_object()], 7, SIZE, np.random.default_rng(0), noise)
  assert det["image_id"] == 7 and det["category_id"] == Category.CAR
  np.testing.assert_array_equal(rle.decode_mask(det["segmentation"]), _object().visible_mask)
  assert det["bbox"] == [20.0, 10.0, 12.0, 12.0]
  kps = np.asarray(det["keypoints"]).reshape(-1, 3)
  np.testing.assert_allclose(kps[:, :2], np.tile([26.0, 16.0], (12, 1)))
  assert (kps[:, 2] >= 0.6).all()


def test_misses_grow_with_occlusion_and_small_objects_are_never_found():
  noise = dm.DetectorNoise(false_positives_per_frame=0)
  rng = np.random.default_rng(1)
  found = lambda occ: sum(len(dm.imitate_detections([_object(occ)], 0, SIZE, rng, noise)) for _ in range(300))
  assert found(0.0) > found(0.8) + 60
  assert not dm.imitate_detections([_object(area_side=3)], 0, SIZE, rng, noise)


def test_hidden_keypoints_are_noisier_and_less_confident():
  states = np.full(12, KeypointState.OCCLUDED_BY_OTHERS, np.int8)
  states[:6] = KeypointState.VISIBLE
  noise = dm.DetectorNoise(miss_rate=0, occlusion_miss_rate=0, false_positives_per_frame=0, mask_jitter_px=0)
  rng = np.random.default_rng(2)
  errors, scores = [], []
  for _ in range(200):
    (det,) = dm.imitate_detections([_object(states=states)], 0, SIZE, rng, noise)
    kps = np.asarray(det["keypoints"]).reshape(-1, 3)
    errors.append(np.linalg.norm(kps[:, :2] - [26.0, 16.0], axis=1))
    scores.append(kps[:, 2])
  errors, scores = np.array(errors), np.array(scores)
  assert errors[:, 6:].mean() > 1.5 * errors[:, :6].mean()
  assert scores[:, 6:].max() < scores[:, :6].min()


def test_false_positive_rate_and_determinism():
  noise = dm.DetectorNoise(false_positives_per_frame=0.5)
  runs = [dm.imitate_detections([], 0, SIZE, np.random.default_rng(3), noise) for _ in range(2)]
  assert runs[0] == runs[1]
  rng = np.random.default_rng(4)
  counts = [len(dm.imitate_detections([], 0, SIZE, rng, noise)) for _ in range(400)]
  assert np.mean(counts) == pytest.approx(0.5, abs=0.12)
  det = next(d for d in (dm.imitate_detections([], 0, SIZE, rng, noise) for _ in range(50)) if d)[0]
  assert rle.decode_mask(det["segmentation"]).shape == (SIZE[1], SIZE[0])
