"""The `predict` job: a trained amodal detector on footage → COCO results the mining stage reads.

  python launch.py --config experiments/predict.py --workdir /tmp/pred \
      --config.checkpoint=/tmp/train3d --config.source.frames=/data/cam7/frames \
      --config.source.camera=/data/cam7/camera.json

`load(checkpoint)` (big_vision's `load()`) restores the model alone from a `train` workdir (or
its checkpoints/ folder): the checkpoint's metadata names the variant and input size. Frames
come from a video, an image folder or a simulated sequence (`timelapse.frames.open_frames`);
each is resized to the model's input, decoded (`amodal.decode`, top-k peaks above
config.score_threshold) and mapped back to the frame's pixels. <workdir>/detections.json is a
list of COCO results entries (docs/formats.md, "detections.json"):
  image_id (= frame index), category_id (1 car, 2 person), bbox and segmentation (the VISIBLE box
  and mask, RLE: what the mining stage and COCO tools read), score, keypoints [u, v, score] × P
  (P = 12 cars, 17 people);
and this project's amodal and 3D fields: amodal_bbox, amodal_segmentation, keypoint_states,
and with a camera (camera.json: K and the ground plane) rotation, translation (object → camera),
ground_pose [x, y, yaw] (cars), depth, keypoints_3d (P × 3 camera frame), shape (cars' α) and
pose_valid. `--config.source.detections=<workdir>/detections.json` of the `mine` job then uses
this model instead of the built-in detector.
"""

from __future__ import annotations

import json
import pathlib
import time
from typing import Any

from absl import logging
import cv2
from flax import nnx
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
import tqdm

from walt3d_jax.errors import UserError
from walt3d_jax.formats import coco
from walt3d_jax.formats import rle
from walt3d_jax.geometry import camera as camera_lib
from walt3d_jax.models import amodal
from walt3d_jax.timelapse import frames as frames_lib


class PredictError(UserError):
  """A predict config that cannot run; the message names the field."""


def checkpoint_dir(path: str | pathlib.Path) -> pathlib.Path:
  """The checkpoints/ folder of a train workdir (or the folder itself)."""
  path = pathlib.Path(path).resolve()
  return path / "checkpoints" if (path / "checkpoints").is_dir() else path


def load(checkpoint: str | pathlib.Path, step: int | None = None) -> tuple[amodal.Model, dict]:
  """(model, meta) of a training run's latest (or given) checkpoint; meta["model"] holds
  variant, image_size (W, H) and max_detections."""
  directory = checkpoint_dir(checkpoint)
  if not directory.is_dir():
    raise PredictError(f"config.checkpoint: no folder {checkpoint}")
  manager = ocp.CheckpointManager(directory)
  step = manager.latest_step() if step is None else step
  if step is None:
    raise PredictError(f"config.checkpoint: no checkpoint under {directory}")
  meta = dict(manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"])
  model = amodal.create(meta["model"]["variant"])
  abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, nnx.state(model))
  restored = manager.restore(step, args=ocp.args.Composite(model=ocp.args.StandardRestore(abstract)))
  nnx.update(model, restored["model"])
  manager.close()
  return model, meta


@nnx.jit(static_argnums=(4, 5, 6))
def detect(model: amodal.Model, images: jax.Array, K: jax.Array, plane: jax.Array, image_size: tuple[int, int],
           max_detections: int, with_3d: bool) -> dict[str, jax.Array]:
  """`amodal.decode` of the model on images (B, H, W, 3) uint8 with K (B, 3, 3), plane (B, 4):
  the jitted forward every consumer of a trained model runs (predict, evaluation, tracking)."""
  return amodal.decode(model(images), K, plane, image_size, max_detections, with_3d)


def _camera(config: ml_collections.ConfigDict, frames_root: pathlib.Path):
  path = config.source.camera or (frames_root / "camera.json" if (frames_root / "camera.json").is_file() else "")
  return camera_lib.load_camera(path) if path else None


def scale_intrinsics(K: np.ndarray, sx: float, sy: float) -> np.ndarray:
  """K for an image resized by (sx, sy), pixel centres at integers."""
  S = np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1]], np.float64)
  return (S @ np.asarray(K, np.float64)).astype(np.float32)


def _floats(a, digits: int = 4) -> list:
  return np.round(np.asarray(a, np.float64), digits).tolist()


def entries(det: dict[str, np.ndarray], frame_index: int, frame_size: tuple[int, int],
            input_size: tuple[int, int], score_threshold: float, with_3d: bool) -> list[dict]:
  """COCO results entries of one frame's decoded detections (module docstring)."""
  (fw, fh), (iw, ih) = frame_size, input_size
  sx, sy = fw / iw, fh / ih
  out = []
  for j in np.flatnonzero(det["score"] >= score_threshold):
    category = int(det["category"][j])
    num = amodal.NUM_CAR_KEYPOINTS if category == amodal.CAR else amodal.NUM_KEYPOINTS
    masks = {}
    for name in ("visible_mask", "amodal_mask"):
      masks[name] = cv2.resize(det[name][j].astype(np.uint8), (fw, fh), interpolation=cv2.INTER_NEAREST) > 0
    if not masks["visible_mask"].any():
      continue  # wholly hidden: nothing a results file's visible mask can hold
    kp = (det["keypoints"][j, :num] + 0.5) * [sx, sy] - 0.5
    entry = {
        "image_id": int(frame_index), "category_id": category, "score": round(float(det["score"][j]), 5),
        "bbox": rle.mask_box(masks["visible_mask"]), "segmentation": rle.encode_mask(masks["visible_mask"]),
        "amodal_bbox": _floats(np.asarray(det["amodal_box"][j]) * [sx, sy, sx, sy], 2),
        "amodal_segmentation": rle.encode_mask(masks["amodal_mask"]),
        "keypoints": _floats(np.concatenate([kp, det["keypoint_score"][j, :num, None]], -1).reshape(-1), 3),
        "keypoint_states": [int(s) for s in det["keypoint_states"][j, :num]],
    }
    if with_3d:
      entry.update(
          rotation=_floats(det["rotation"][j]), translation=_floats(det["translation"][j]),
          depth=round(float(det["translation"][j, 2]), 4), keypoints_3d=_floats(det["keypoints_3d"][j, :num]),
          pose_valid=bool(det["pose_valid"][j]))
      if category == amodal.CAR:
        entry.update(ground_pose=_floats(det["ground_pose"][j]), shape=_floats(det["shape"][j]))
    out.append(entry)
  return out


def run(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> dict[str, Any]:
  """The job (module docstring); returns and writes <workdir>/summary.json."""
  workdir = pathlib.Path(workdir)
  if not config.checkpoint:
    raise PredictError("config.checkpoint: give a train workdir (or its checkpoints folder)")
  given = config.source.video or config.source.frames
  if not given:
    raise PredictError("config.source: give config.source.video or config.source.frames")
  if config.source.video and config.source.frames:
    raise PredictError("config.source: give either video or frames, not both")
  model, meta = load(config.checkpoint)
  input_size = tuple(int(v) for v in meta["model"]["image_size"])
  max_detections = int(config.max_detections or meta["model"]["max_detections"])
  camera = _camera(config, pathlib.Path(given))
  with_3d = camera is not None
  reader = frames_lib.open_frames(given, frames_lib.Sampling(**config.sampling.to_dict()),
                                  order=config.source.order, fps=config.source.fps)
  results, count, tic = [], 0, time.perf_counter()
  for frame in tqdm.tqdm(reader, desc="predict", unit="frame", total=reader.expected(),
                         disable=not config.progress):
    fh, fw = frame.image.shape[:2]
    image = cv2.resize(frame.image, input_size, interpolation=cv2.INTER_AREA)
    if with_3d:
      K = scale_intrinsics(camera.K, input_size[0] / fw, input_size[1] / fh)
      plane = np.concatenate([np.asarray(camera.normal), [float(camera.offset)]]).astype(np.float32)
    else:
      K, plane = np.eye(3, dtype=np.float32), np.array([0, -1, 0, 1], np.float32)
    det = jax.device_get(detect(model, jnp.asarray(image)[None], jnp.asarray(K)[None], jnp.asarray(plane)[None],
                                input_size, max_detections, with_3d))
    det = {k: v[0] for k, v in det.items()}
    results.extend(entries(det, frame.index, (fw, fh), input_size, config.score_threshold, with_3d))
    count += 1
  workdir.mkdir(parents=True, exist_ok=True)
  coco.write_json(results, workdir / "detections.json")
  summary = {"frames": count, "detections": len(results), "with_3d": with_3d,
             "frames_per_second": count / max(time.perf_counter() - tic, 1e-9),
             "checkpoint_step": int(meta["step"]), "model": meta["model"],
             "detections_json": str(workdir / "detections.json")}
  (workdir / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True))
  logging.info("predict: %s", summary)
  return summary
