"""An object bank of a simulated sequence's truly unoccluded objects with their exact 3D.

The simulator knows every object's amodal mask, keypoint states and 3D pose and shape, so its
unoccluded, untruncated objects are what a perfect miner and fitter would deliver. This bank
(same schema as the mine + fit jobs write, docs/formats.md) isolates compositing from mining and
fitting errors: the exactness check composes from it, and tests get a tiny bank in a second.
Backgrounds are the per-bucket medians of the sequence's own frames, as the mine job makes them.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np

from walt3d_jax.clipart.example import NUM_SHAPE_SLOTS
from walt3d_jax.formats.coco import KeypointState
from walt3d_jax.geometry import camera as camera_lib
from walt3d_jax.timelapse import background as background_lib
from walt3d_jax.timelapse import bank as bank_lib
from walt3d_jax.timelapse import frames as frames_lib
from walt3d_jax.timelapse.types import NUM_KEYPOINTS

# Keypoint scores that encode a source state for `clipart.pool` (threshold 0.5): an unoccluded
# object's hidden keypoints are self-occluded.
SCORE_OF_STATE = {KeypointState.VISIBLE: 1.0, KeypointState.SELF_OCCLUDED: 0.1,
                   KeypointState.OCCLUDED_BY_OTHERS: 1.0, KeypointState.OUTSIDE_IMAGE: 0.0}


def unoccluded(annotation: dict, max_occlusion: float = 0.0) -> bool:
  """Whether a ground-truth annotation is a whole, unoccluded object in the image."""
  return (annotation["occlusion"] <= max_occlusion and not annotation["truncated"]
          and annotation["amodal_area"] > 0)


def truth_records(annotation: dict, image: np.ndarray, time: float) -> dict:
  """One bank row (all columns, fitted) of a ground-truth annotation in frame `image`."""
  height, width = image.shape[:2]
  box = np.asarray(annotation["amodal_bbox"], np.float32)
  crop_box = bank_lib.crop_box_of(box, (width, height))
  x, y, w, h = (int(v) for v in crop_box)
  count = len(annotation["keypoint_states"])
  keypoints = np.zeros((NUM_KEYPOINTS, 3), np.float32)
  uvf = np.asarray(annotation["keypoints"], np.float64).reshape(-1, 3)
  keypoints[:count, :2] = uvf[:, :2]
  keypoints[:count, 2] = [SCORE_OF_STATE[KeypointState(s)] for s in annotation["keypoint_states"]]
  keypoints_3d = np.zeros((NUM_KEYPOINTS, 3), np.float32)
  keypoints_3d[:count] = annotation["keypoints_3d"]
  shape = np.zeros(NUM_SHAPE_SLOTS, np.float32)
  alpha = annotation.get("shape", [])
  shape[:len(alpha)] = alpha
  segmentation = annotation["amodal_segmentation"]
  return {
      "frame_index": [annotation["image_id"]], "time": [time], "track_id": [annotation["track_id"]],
      "category": [annotation["category_id"]], "score": [1.0], "box": box[None],
      "mask_counts": [segmentation["counts"]], "mask_size": [segmentation["size"]],
      "keypoints": keypoints[None], "crop": [bank_lib.encode_crop(np.ascontiguousarray(image[y:y + h, x:x + w]))],
      "crop_box": crop_box[None], "occlusion_score": [0.0], "fitted": [True],
      "rotation": [annotation["rotation"]], "translation": [annotation["translation"]],
      "ground_pose": [annotation["ground_pose"]], "shape": shape[None], "shape_num": [len(alpha)],
      "keypoints_3d": keypoints_3d[None], "dimensions": [annotation["dimensions"]],
      "depth": [annotation["depth"]],
  }


def write_truth_bank(sequence_root: str | pathlib.Path, bank_path: str | pathlib.Path,
                     max_occlusion: float = 0.0,
                     background: background_lib.BackgroundConfig = background_lib.BackgroundConfig()) -> int:
  """Writes the bank of `sequence_root`'s (a simulated sequence, docs/formats.md) unoccluded
  objects to `bank_path`; returns the number of rows."""
  root = pathlib.Path(sequence_root)
  camera = camera_lib.load_camera(root / "camera.json")
  with open(root / "ground_truth.json") as f:
    truth = json.load(f)
  by_image: dict[int, list[dict]] = {}
  for ann in truth["annotations"]:
    if unoccluded(ann, max_occlusion):
      by_image.setdefault(int(ann["image_id"]), []).append(ann)
  model = background_lib.BackgroundModel(background)
  with bank_lib.ObjectBank.create(bank_path, camera_lib.camera_to_dict(camera), camera.image_size,
                                  overwrite=True) as bank:
    for frame in frames_lib.open_frames(root):
      model.update(frame)
      for ann in by_image.get(frame.index, []):
        bank.append(truth_records(ann, frame.image, frame.time))
    for bucket in model.bucket_names:
      if model.seen(bucket):
        bank.put_background(bucket, model.median(bucket))
    return len(bank)
