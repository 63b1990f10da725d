"""Hand-made, geometrically exact `ClipartExample`s for the data tests (no bank, no compositor).

Cars and people stand on a tilted ground plane at ground poses (x, y, yaw); their 3D keypoints
come from the shape models, 2D keypoints from projecting them with K; masks are the keypoints'
boxes grown by a margin (amodal) minus earlier objects' masks (visible, draw order = index).
"""

from __future__ import annotations

import numpy as np

from walt3d_jax.clipart import example as example_lib
from walt3d_jax.formats import coco
from walt3d_jax.formats import rle
from walt3d_jax.geometry import plane as plane_lib
from walt3d_jax.geometry import pose as pose_lib
from walt3d_jax.shapes import person
from walt3d_jax.shapes import vehicle


def camera(width: int, height: int, pitch_deg: float = 12.0, cam_height: float = 4.0):
  """(K (3, 3), plane (4,)) of a camera looking down by `pitch_deg` at `cam_height` metres."""
  f = 0.9 * width
  K = np.array([[f, 0, (width - 1) / 2 + 3.0], [0, f, (height - 1) / 2 - 2.0], [0, 0, 1]], np.float32)
  p = np.deg2rad(pitch_deg)
  n = np.array([0.0, -np.cos(p), -np.sin(p)])  # up, in a camera pitched down by p
  return K, np.array([*n, cam_height], np.float32)


def project(K: np.ndarray, points: np.ndarray) -> np.ndarray:
  """(…, 2) pixels of camera-frame points (…, 3)."""
  uvw = points @ K.T
  with np.errstate(invalid="ignore", divide="ignore"):  # unused all-zero slots
    return uvw[..., :2] / uvw[..., 2:3]


def make_example(seed: int = 0, width: int = 96, height: int = 64, num: int = 3,
                 categories=None) -> example_lib.ClipartExample:
  rng = np.random.default_rng(seed)
  K, plane = camera(width, height)
  r_cg, t_cg = (np.asarray(a) for a in plane_lib.ground_frame(plane[:3].astype(np.float32),
                                                              np.float32(plane[3])))
  cats = categories or [int(coco.Category.CAR if i % 2 == 0 else coco.Category.PERSON)
                        for i in range(num)]
  K3 = example_lib.MAX_KEYPOINTS
  fields = {name: [] for name in ("rotation", "translation", "ground_pose", "dimensions", "shape",
                                  "shape_num", "keypoints_3d", "keypoints", "num_keypoints",
                                  "keypoint_states", "depth")}
  amodal = np.zeros((len(cats), height, width), bool)
  for i, cat in enumerate(cats):
    x, y, yaw = 14.0 + 4.0 * i + rng.uniform(0, 2), rng.uniform(-3, 3), rng.uniform(-np.pi, np.pi)
    R, t = (np.asarray(a, np.float32) for a in pose_lib.ground_pose_to_camera(r_cg, t_cg, x, y, yaw))
    if cat == int(coco.Category.CAR):
      params = vehicle.sample_car_params(rng)
      local = vehicle.car_keypoints(params)
      dims = vehicle.car_dimensions(params)
    else:
      params = person.sample_person(rng)
      local = person.person_joints(params, rng.uniform())
      dims = (0.3, 0.5, float(params[0]))
    p = len(local)
    kp3 = np.zeros((K3, 3), np.float32)
    kp3[:p] = local @ R.T + t
    kp2 = np.zeros((K3, 2), np.float32)
    kp2[:p] = project(K, kp3[:p])
    states = np.full(K3, int(coco.KeypointState.OUTSIDE_IMAGE), np.int32)
    states[:p] = rng.integers(0, 4, p)
    fields["rotation"].append(R)
    fields["translation"].append(t)
    fields["ground_pose"].append([x, y, yaw])
    fields["dimensions"].append(dims)
    fields["shape"].append(rng.normal(size=example_lib.NUM_SHAPE_SLOTS) * (cat == 1))
    fields["shape_num"].append(5 if cat == 1 else 0)
    fields["keypoints_3d"].append(kp3)
    fields["keypoints"].append(kp2)
    fields["num_keypoints"].append(p)
    fields["keypoint_states"].append(states)
    fields["depth"].append(t[2])
    lo = np.floor(kp2[:p].min(0) - 2).astype(int)
    hi = np.ceil(kp2[:p].max(0) + 2).astype(int)
    amodal[i, max(lo[1], 0):max(hi[1], 0), max(lo[0], 0):max(hi[0], 0)] = True
  visible = amodal.copy()
  for i in range(1, len(cats)):
    visible[i] &= ~amodal[:i].any(0)
  depth = np.zeros((height, width), np.float32)
  for i in range(len(cats)):
    depth[visible[i]] = fields["depth"][i]
  box = lambda masks: np.array([rle.mask_box(m) for m in masks], np.float32).reshape(-1, 4)
  areas = amodal.sum((1, 2))
  n = len(cats)
  objects = example_lib.ClipartObjects(
      category=np.array(cats, np.int32),
      amodal_mask=amodal, visible_mask=visible,
      amodal_box=box(amodal), visible_box=box(visible),
      occlusion=(1 - visible.sum((1, 2)) / np.maximum(areas, 1)).astype(np.float32),
      keypoints=np.array(fields["keypoints"], np.float32).reshape(n, K3, 2),
      keypoint_states=np.array(fields["keypoint_states"], np.int8).reshape(n, K3),
      num_keypoints=np.array(fields["num_keypoints"], np.int32),
      rotation=np.array(fields["rotation"], np.float32).reshape(n, 3, 3),
      translation=np.array(fields["translation"], np.float32).reshape(n, 3),
      ground_pose=np.array(fields["ground_pose"], np.float32).reshape(n, 3),
      dimensions=np.array(fields["dimensions"], np.float32).reshape(n, 3),
      shape=np.array(fields["shape"], np.float32).reshape(n, example_lib.NUM_SHAPE_SLOTS),
      shape_num=np.array(fields["shape_num"], np.int32),
      keypoints_3d=np.array(fields["keypoints_3d"], np.float32).reshape(n, K3, 3),
      depth=np.array(fields["depth"], np.float32),
      track_id=np.arange(n, dtype=np.int64) + 100,
      source_frame=np.arange(n, dtype=np.int64) + 7,
      source_row=np.arange(n, dtype=np.int64) * 3,
      time_bucket=["day"] * n,
  )
  image = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
  return example_lib.ClipartExample(
      image=image, depth=depth, K=K, plane=plane, time_bucket="day", camera="synthetic",
      key=f"train-{seed:07d}", seed=seed, mode="walt3d", objects=objects)
