"""Banks that cannot make clip-art give one clear error; bad objects are skipped and counted."""

import dataclasses
import json

import cv2
import numpy as np
import pytest

from walt3d_jax.clipart import compose
from walt3d_jax.clipart import pool as pool_lib
from walt3d_jax.clipart import truth_bank
from walt3d_jax.geometry import camera as camera_lib
from walt3d_jax.timelapse import bank as bank_lib


def _annotations(sequence, count):
  truth = json.loads((sequence / "ground_truth.json").read_text())
  anns = [a for a in truth["annotations"] if truth_bank.unoccluded(a)][:count]
  return anns, {im["id"]: im for im in truth["images"]}


def _bank(tmp_path, sequence, count, fitted=True, camera=True, background="day", name="b.h5"):
  anns, images = _annotations(sequence, count)
  cam = camera_lib.load_camera(sequence / "camera.json")
  path = tmp_path / name
  with bank_lib.ObjectBank.create(path, camera_lib.camera_to_dict(cam) if camera else {}, cam.image_size) as bank:
    for ann in anns:
      image = cv2.cvtColor(cv2.imread(str(sequence / images[ann["image_id"]]["file_name"])), cv2.COLOR_BGR2RGB)
      records = truth_bank.truth_records(ann, image, images[ann["image_id"]]["timestamp"])
      records["fitted"] = [fitted]
      bank.append(records)
    if background:
      bank.put_background(background, np.zeros((cam.height, cam.width, 3), np.uint8))
  return path


def test_empty_bank(tmp_path, sequence, config):
  with pytest.raises(pool_lib.ClipartError, match="empty"):
    pool_lib.load_pool(_bank(tmp_path, sequence, 0), config)


def test_bank_without_camera(tmp_path, sequence, config):
  with pytest.raises(pool_lib.ClipartError, match="no camera"):
    pool_lib.load_pool(_bank(tmp_path, sequence, 3, camera=False), config)


def test_bank_without_background(tmp_path, sequence, config):
  with pytest.raises(pool_lib.ClipartError, match="no background"):
    pool_lib.load_pool(_bank(tmp_path, sequence, 3, background=""), config)


def test_a_bank_of_unknown_time_of_day_puts_every_object_in_its_one_bucket(tmp_path, sequence, config):
  pool = pool_lib.load_pool(_bank(tmp_path, sequence, 3, background="unknown"), config)
  assert set(pool.bucket) == {"unknown"} and set(pool.backgrounds) == {"unknown"}


def test_unfitted_bank_names_the_reason(tmp_path, sequence, config):
  with pytest.raises(pool_lib.ClipartError, match="not_fitted 3"):
    pool_lib.load_pool(_bank(tmp_path, sequence, 3, fitted=False), config)


def test_one_object_and_a_bucket_without_background(tmp_path, sequence, config):
  """One fitted object makes a one-object image; its bucket has no background of its own."""
  pool = pool_lib.load_pool(_bank(tmp_path, sequence, 1), config)
  assert len(pool) == 1
  example = compose.make_example(pool, "k", config)
  assert example.objects.num == 1 and example.time_bucket == "day"
  assert example.objects.occlusion[0] == 0


def test_bad_objects_are_skipped_and_counted(pool, config, sequence):
  camera = camera_lib.load_camera(sequence / "camera.json")
  good = [_source(pool, i) for i in range(3)]
  nan = dataclasses.replace(_source(pool, 3), translation=np.array([np.nan, 0.0, 10.0]))
  behind = dataclasses.replace(_source(pool, 4), translation=np.array([0.0, 0.0, -2.0]))
  empty = dataclasses.replace(_source(pool, 5), mask=np.zeros_like(pool.mask[5]))
  outside = dataclasses.replace(_source(pool, 6), window=np.array([-5, 0, 10, 10]))
  built = pool_lib.build_pool(good + [nan, behind, empty, outside], camera, pool.backgrounds, config, "t")
  assert len(built) == 3
  assert built.skipped == {"non_finite_3d": 1, "implausible_3d": 1, "empty_mask": 1, "window_outside_image": 1}
  with pytest.raises(pool_lib.ClipartError, match="no composable object"):
    pool_lib.build_pool([nan], camera, pool.backgrounds, config, "t")


def test_object_larger_than_the_image(pool, config, sequence):
  camera = camera_lib.load_camera(sequence / "camera.json")
  """An object filling the whole image (window = image) composes and stays labelled."""
  width, height = pool.image_size
  big = dataclasses.replace(_source(pool, 0), window=np.array([0, 0, width, height]),
                            pixels=np.full((height, width, 3), 200, np.uint8),
                            mask=np.ones((height, width), bool))
  built = pool_lib.build_pool([big, _source(pool, 1)], camera, pool.backgrounds, config, "t")
  example = compose.make_example(built, "big", dataclasses.replace(config, objects_per_image=(2, 2)))
  assert example.objects.num >= 1
  assert (example.objects.amodal_mask.any(0)).any()
  assert not (example.objects.visible_mask & ~example.objects.amodal_mask).any()


def _source(pool, i):
  return pool_lib.SourceObject(
      category=int(pool.category[i]), window=pool.window[i], pixels=pool.pixels[i], mask=pool.mask[i],
      keypoints=pool.keypoints[i], keypoint_score=np.where(pool.source_states[i] == 1, 0.1, 1.0),
      derived=False, rotation=pool.rotation[i], translation=pool.translation[i],
      ground_pose=pool.ground_pose[i], dimensions=pool.dimensions[i], shape=pool.shape[i],
      shape_num=int(pool.shape_num[i]), keypoints_3d=pool.keypoints_3d[i], track_id=int(pool.track_id[i]),
      frame_index=int(pool.frame_index[i]), row=i, bucket=pool.bucket[i])
