"""Flip, resize and padding of dense clip-art examples keep every label consistent."""

import numpy as np
import pytest

from tests.data import synthetic
from walt3d_jax.clipart import example as example_lib
from walt3d_jax.data import decode
from walt3d_jax.data import transforms
from walt3d_jax.formats import coco
from walt3d_jax.geometry import plane as plane_lib
from walt3d_jax.geometry import pose as pose_lib
from walt3d_jax.shapes import vehicle


@pytest.fixture(scope="module")
def dense():
  return decode.decode_record(example_lib.to_features(synthetic.make_example(seed=1, num=4)))


def _used(ex):
  return np.arange(17) < ex["num_keypoints"][:, None]


def test_decode_of_to_features_roundtrips_masks_and_depth(dense):
  ex = synthetic.make_example(seed=1, num=4)
  np.testing.assert_array_equal(dense["amodal_mask"], ex.objects.amodal_mask)
  np.testing.assert_array_equal(dense["visible_mask"], ex.objects.visible_mask)
  np.testing.assert_allclose(dense["depth"], ex.depth, atol=0.005)
  assert dense["key"] == ex.key and dense["keypoints"].shape == (4, 17, 2)


@pytest.mark.parametrize("size", [(48, 32), (61, 23), (150, 100)])
def test_masks_decoded_at_a_size_equal_decode_then_resize(size):
  features = example_lib.to_features(synthetic.make_example(seed=2, num=3))
  direct = transforms.resize(decode.decode_record(features, size), size)
  resized = transforms.resize(decode.decode_record(features), size)
  for name in ("amodal_mask", "visible_mask", "depth", "image", "keypoints", "K"):
    np.testing.assert_array_equal(direct[name], resized[name])


def test_synthetic_keypoints_project(dense):
  used = _used(dense)
  proj = synthetic.project(dense["K"], dense["keypoints_3d"])
  np.testing.assert_allclose(proj[used], dense["keypoints"][used], atol=1e-3)


def test_flip_is_an_involution(dense):
  twice = transforms.hflip(transforms.hflip(dense))
  for name, value in dense.items():
    if isinstance(value, np.ndarray):
      np.testing.assert_allclose(twice[name], value, atol=1e-4, err_msg=name)


def test_flipped_3d_keypoints_project_onto_flipped_2d(dense):
  flipped = transforms.hflip(dense)
  used = _used(flipped)
  proj = synthetic.project(flipped["K"], flipped["keypoints_3d"])
  np.testing.assert_allclose(proj[used], flipped["keypoints"][used], atol=1e-3)
  width = dense["image"].shape[1]
  # The pixel flip itself: keypoint j of the flip is mirror(j) of the original at W - 1 - u.
  perm = transforms.keypoint_mirror(dense["category"])
  i, j = 0, 0  # a car's right front wheel is the original's left front wheel
  assert dense["category"][i] == coco.Category.CAR
  np.testing.assert_allclose(flipped["keypoints"][i, j, 0], width - 1 - dense["keypoints"][i, perm[i, j], 0])
  assert perm[i, j] == vehicle.CAR_KEYPOINT_MIRROR[j]
  np.testing.assert_array_equal(flipped["keypoint_states"][i, j], dense["keypoint_states"][i, perm[i, j]])


def test_flipped_pose_is_a_rotation_and_explains_the_keypoints(dense):
  flipped = transforms.hflip(dense)
  R = flipped["rotation"].astype(np.float64)
  np.testing.assert_allclose(R @ np.swapaxes(R, 1, 2), np.broadcast_to(np.eye(3), R.shape), atol=1e-5)
  np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=1e-5)
  # A car is left-right symmetric: the flipped pose maps the same template onto the flipped 3D
  # keypoints (object frame still x forward, y left, z up).
  for i in np.flatnonzero(dense["category"] == coco.Category.CAR):
    local = (dense["keypoints_3d"][i, :12] - dense["translation"][i]) @ dense["rotation"][i]
    mirrored = local[list(vehicle.CAR_KEYPOINT_MIRROR)] * np.array([1, -1, 1])
    np.testing.assert_allclose(local, mirrored, atol=1e-4)  # symmetric template
    np.testing.assert_allclose(local @ R[i].T + flipped["translation"][i],
                               flipped["keypoints_3d"][i, :12], atol=1e-4)


def test_flipped_ground_pose_agrees_with_the_flipped_plane(dense):
  flipped = transforms.hflip(dense)
  n, d = flipped["plane"][:3], flipped["plane"][3]
  r_cg, t_cg = plane_lib.ground_frame(n, d)
  gp = flipped["ground_pose"]
  R, t = pose_lib.ground_pose_to_camera(r_cg, t_cg, gp[:, 0], gp[:, 1], gp[:, 2])
  np.testing.assert_allclose(np.asarray(R), flipped["rotation"], atol=1e-5)
  np.testing.assert_allclose(np.asarray(t), flipped["translation"], atol=1e-4)
  # Points of the flipped plane satisfy it: the flipped translation's foot is on the ground.
  np.testing.assert_allclose(flipped["translation"] @ n + d, 0.0, atol=1e-4)


def test_flip_mirrors_masks_and_boxes(dense):
  flipped = transforms.hflip(dense)
  from walt3d_jax.formats import rle
  for i in range(len(dense["category"])):
    np.testing.assert_allclose(flipped["amodal_box"][i], rle.mask_box(flipped["amodal_mask"][i]))
    np.testing.assert_allclose(flipped["visible_box"][i], rle.mask_box(flipped["visible_mask"][i]))
  np.testing.assert_array_equal(flipped["image"], dense["image"][:, ::-1])


def test_resize_scales_keypoints_boxes_and_K(dense):
  small = transforms.resize(dense, (48, 32))
  assert small["image"].shape == (32, 48, 3) and small["amodal_mask"].shape[1:] == (32, 48)
  used = _used(small)
  proj = synthetic.project(small["K"], small["keypoints_3d"])
  np.testing.assert_allclose(proj[used], small["keypoints"][used], atol=1e-3)
  np.testing.assert_allclose(small["amodal_box"], dense["amodal_box"] / 2)
  # Nearest-pixel masks of a 2x downscale: every other pixel (the second of each pair).
  np.testing.assert_array_equal(small["visible_mask"], dense["visible_mask"][:, 1::2, 1::2])


def test_pad_objects_pads_and_cuts(dense):
  padded = transforms.pad_objects(dense, 6)
  assert padded["object_valid"].tolist() == [True] * 4 + [False] * 2
  assert padded["num_objects"] == 4 and padded["objects_dropped"] == 0
  assert (padded["keypoint_states"][4:] == 3).all()
  np.testing.assert_array_equal(padded["rotation"][5], np.eye(3))
  cut = transforms.pad_objects(dense, 3)
  assert cut["num_objects"] == 3 and cut["objects_dropped"] == 1
  np.testing.assert_array_equal(cut["amodal_mask"], dense["amodal_mask"][:3])
  for name in (*decode.OBJECT_FIELDS, *decode.MASK_FIELDS):
    assert cut[name].shape[0] == 3 and padded[name].shape[0] == 6, name


def test_no_objects():
  ex = decode.decode_record(example_lib.to_features(synthetic.make_example(seed=2, num=0, categories=[])))
  assert ex["category"].shape == (0,) and ex["amodal_mask"].shape == (0, 64, 96)
  out = transforms.pad_objects(transforms.resize(transforms.hflip(ex), (48, 32)), 2)
  assert out["num_objects"] == 0 and not out["object_valid"].any()


def test_modal_labels_are_what_a_visible_only_annotator_gives(dense):
  ex = dict(dense)
  hidden = np.zeros(len(ex["category"]), bool)
  hidden[0] = True  # make the first object wholly hidden: a modal annotator never sees it
  ex["visible_mask"] = np.where(hidden[:, None, None], False, ex["visible_mask"])
  ex["keypoint_states"] = ex["keypoint_states"].copy()
  ex["keypoint_states"][-1, 0] = int(coco.KeypointState.OCCLUDED_BY_OTHERS)
  out = transforms.modal_labels(ex)
  seen = ex["visible_mask"].reshape(len(hidden), -1).any(1)
  assert decode.num_objects(out) == seen.sum() < len(hidden)
  np.testing.assert_array_equal(out["amodal_box"], ex["visible_box"][seen])
  np.testing.assert_array_equal(out["amodal_mask"], ex["visible_mask"][seen])
  assert not (out["keypoint_states"] == int(coco.KeypointState.OCCLUDED_BY_OTHERS)).any()
  np.testing.assert_array_equal(out["category"], ex["category"][seen])
  assert (out["occlusion"] == 0).all() and out["image"] is ex["image"]
