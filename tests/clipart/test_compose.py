"""Clip-art labels are consistent by construction, reproducible, and WALT3D is physically
possible where the WALT2D baseline is not."""

import dataclasses

import cv2
import numpy as np
import pytest

from walt3d_jax.clipart import compose
from walt3d_jax.clipart.example import depth_from_units, to_features
from walt3d_jax.formats import rle
from walt3d_jax.formats.coco import KeypointState

KEYS = [f"train-{i:07d}" for i in range(12)]


@pytest.fixture(scope="module")
def examples(pool, config):
  return [compose.make_example(pool, key, config, with_plausibility=True) for key in KEYS]


def test_examples_have_crowded_objects(examples):
  counts = [e.objects.num for e in examples]
  assert min(counts) >= 1 and max(counts) >= 4
  assert sum(int((e.objects.occlusion > 0).sum()) for e in examples) >= 5


def test_visible_inside_amodal_and_disjoint(examples):
  for e in examples:
    o = e.objects
    assert not (o.visible_mask & ~o.amodal_mask).any()
    assert (o.visible_mask.sum(0) <= 1).all()
    areas = o.amodal_mask.reshape(o.num, -1).sum(1)
    np.testing.assert_allclose(o.occlusion, 1 - o.visible_mask.reshape(o.num, -1).sum(1) / areas, atol=1e-6)
    for i in range(o.num):
      assert list(o.amodal_box[i]) == rle.mask_box(o.amodal_mask[i])
      assert list(o.visible_box[i]) == rle.mask_box(o.visible_mask[i])


def test_depth_map_where_objects_are_visible(examples):
  for e in examples:
    visible = e.objects.visible_mask.any(0)
    assert ((e.depth > 0) == visible).all()
    assert np.isfinite(e.depth).all()


def test_occluded_by_others_lies_where_a_nearer_object_wins(examples, pool):
  seen = 0
  for e in examples:
    o = e.objects
    owner = np.where(o.visible_mask.any(0), o.visible_mask.argmax(0), -1)
    for i in range(o.num):
      for k in np.flatnonzero(o.keypoint_states[i] == KeypointState.OCCLUDED_BY_OTHERS):
        u, v = np.rint(o.keypoints[i, k]).astype(int)
        j = owner[v, u]
        assert j >= 0 and j != i
        # j is nearer than i at that pixel: i's depth there from its proxy.
        index = int(np.flatnonzero(pool.row == o.source_row[i])[0])
        x, y, w, h = pool.window[index]
        own = pool.depth[index][np.clip(v - y, 0, h - 1), np.clip(u - x, 0, w - 1)]
        assert e.depth[v, u] < own
        seen += 1
      # A visible keypoint is on no nearer object's pixel (a farther one may show there when the
      # keypoint sits just off its own mask).
      for k in np.flatnonzero(o.keypoint_states[i] == KeypointState.VISIBLE):
        u, v = np.rint(o.keypoints[i, k]).astype(int)
        if owner[v, u] not in (-1, i):
          index = int(np.flatnonzero(pool.row == o.source_row[i])[0])
          x, y, w, h = pool.window[index]
          assert e.depth[v, u] >= pool.depth[index][np.clip(v - y, 0, h - 1), np.clip(u - x, 0, w - 1)]
  assert seen > 0


def test_walt3d_has_no_impossible_configuration_and_walt2d_does(pool, config, examples):
  assert all(not e.stats["impossible"] for e in examples)
  walt2d = dataclasses.replace(config, mode="walt2d")
  stats = [compose.make_example(pool, key, walt2d, with_plausibility=True).stats for key in KEYS]
  assert sum(s["impossible"] for s in stats) >= 1


def test_same_key_same_bytes_other_key_differs(pool, config):
  a, b = (compose.make_example(pool, KEYS[0], config) for _ in range(2))
  fa, fb = to_features(a), to_features(b)
  assert a.image.tobytes() == b.image.tobytes()
  assert fa["objects"]["amodal_rle"] == fb["objects"]["amodal_rle"]
  np.testing.assert_array_equal(fa["objects"]["keypoints"], fb["objects"]["keypoints"])
  c = compose.make_example(pool, KEYS[1], config)
  assert c.image.tobytes() != a.image.tobytes()


def test_features_round_trip(examples):
  e = examples[0]
  f = to_features(e)
  np.testing.assert_allclose(depth_from_units(f["depth"]), e.depth, atol=0.006)
  stored = to_features(e, png=True)
  image = cv2.cvtColor(cv2.imdecode(np.frombuffer(stored["image"], np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
  np.testing.assert_array_equal(image, e.image)
  depth = cv2.imdecode(np.frombuffer(stored["depth"], np.uint8), cv2.IMREAD_UNCHANGED)
  assert depth.dtype == np.uint16
  np.testing.assert_array_equal(depth, f["depth"][..., 0])
  mask = rle.decode_mask({"size": list(e.depth.shape), "counts": f["objects"]["visible_rle"][0]})
  np.testing.assert_array_equal(mask, e.objects.visible_mask[0])


def test_resize_keeps_label_invariants(pool, config):
  e = compose.make_example(pool, KEYS[2], dataclasses.replace(config, image_size=(160, 90)))
  o = e.objects
  assert e.image.shape == (90, 160, 3) and o.amodal_mask.shape[1:] == (90, 160)
  assert not (o.visible_mask & ~o.amodal_mask).any()
  assert (o.visible_mask.sum(0) <= 1).all()
  full = compose.make_example(pool, KEYS[2], config)
  np.testing.assert_allclose(o.keypoints, (full.objects.keypoints + 0.5) * 0.5 - 0.5, atol=1e-4)
  assert e.K[0, 0] == pytest.approx(full.K[0, 0] * 0.5)


def test_feathering_changes_pixels_not_labels(pool, config):
  hard = compose.make_example(pool, KEYS[3], config)
  soft = compose.make_example(pool, KEYS[3], dataclasses.replace(config, feather_px=1.5))
  assert soft.image.tobytes() != hard.image.tobytes()
  np.testing.assert_array_equal(soft.objects.visible_mask, hard.objects.visible_mask)


def test_whole_object_order_differs_somewhere(pool, config):
  """Per-pixel order is not the whole-object far-to-near order everywhere (measured, not forced)."""
  stats = [compose.make_example(pool, f"order-{i}", config, with_plausibility=True).stats for i in range(20)]
  assert sum(s["overlap_pixels"] for s in stats) > 0
  assert all(s["order_differs_pixels"] <= s["overlap_pixels"] for s in stats)


def test_prefer_overlap_raises_the_occlusion_level(pool, config):
  def occluded_share(prefer):
    c = dataclasses.replace(config, prefer_overlap=prefer)
    occlusion = np.concatenate([compose.make_example(pool, f"occ-{i}", c).objects.occlusion for i in range(20)])
    return np.mean(occlusion > 0)
  assert occluded_share(1.0) > 1.4 * occluded_share(0.0)


def test_walt2d_keypoint_states_follow_the_paste_order(pool, config):
  """In WALT2D (no depth test) a keypoint is occluded by others exactly where another object's
  visible pixel lies, never on the background or on its own object."""
  walt2d = dataclasses.replace(config, mode="walt2d")
  seen = {KeypointState.VISIBLE: 0, KeypointState.OCCLUDED_BY_OTHERS: 0}
  for key in KEYS[:8]:
    o = compose.make_example(pool, key, walt2d).objects
    owner = np.where(o.visible_mask.any(0), o.visible_mask.argmax(0), -1)
    for i in range(o.num):
      for k in range(int(o.num_keypoints[i])):
        state = o.keypoint_states[i, k]
        if state not in seen:
          continue
        u, v = np.rint(o.keypoints[i, k]).astype(int)
        other = owner[v, u] not in (-1, i)
        assert other == (state == KeypointState.OCCLUDED_BY_OTHERS), (key, i, k)
        seen[state] += 1
  assert all(count > 0 for count in seen.values())
