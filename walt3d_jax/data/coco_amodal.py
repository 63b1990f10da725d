"""COCO JSON with amodal fields (KINS / COCO-Amodal style) of clip-art examples, for PyTorch users.

  export(examples, out_dir) → out_dir/images/000001.png …, out_dir/annotations.json

`examples`: `ClipartExample`s, or stored `walt3d_clipart` records (e.g. `tfds.data_source(...)
['test']`, or `tfds.as_numpy(tfds.load(...))`). Standard COCO fields are the **visible** (modal)
labels, so COCO tools score a modal detector unchanged: `segmentation` (compressed RLE), `bbox`,
`area`. The amodal labels come twice: under this project's names (`amodal_segmentation`,
`amodal_bbox`, `amodal_area`, as in ground_truth.json) and under KINS's (`a_segm`, `a_bbox`,
`a_area`; visible: `i_segm`, `i_bbox`, `i_area`; RLE rather than KINS's polygons). Field list:
docs/formats.md, "COCO-amodal export".
"""

from __future__ import annotations

import pathlib
from typing import Any, Iterable, Mapping

import cv2
import numpy as np

from walt3d_jax.clipart import example as example_lib
from walt3d_jax.data import decode
from walt3d_jax.formats import coco
from walt3d_jax.formats import rle

FORMAT = "walt3d_jax clip-art COCO-amodal"


def _dense(example: Any) -> dict[str, Any]:
  if isinstance(example, example_lib.ClipartExample):
    out = decode.decode_record(example_lib.to_features(example))
    out["extra"] = {"mode": example.mode, "time_bucket": example.time_bucket, "camera": example.camera}
    return out
  out = decode.decode_record(example)
  out["extra"] = {name: decode._text(example[stored]) for name, stored in
                  (("mode", "mode"), ("time_bucket", "time_bucket"), ("camera", "camera_name"))}
  return out


def _floats(a: np.ndarray, digits: int = 4) -> list:
  return np.round(np.asarray(a, np.float64), digits).tolist()


def annotation(ex: Mapping[str, Any], i: int, ann_id: int, image_id: int) -> dict[str, Any]:
  """The COCO-amodal annotation of object i of a dense example (`decode.decode_record`)."""
  amodal, visible = ex["amodal_mask"][i], ex["visible_mask"][i]
  a_rle, i_rle = rle.encode_mask(amodal), rle.encode_mask(visible)
  a_box, i_box = _floats(ex["amodal_box"][i], 2), _floats(ex["visible_box"][i], 2)
  a_area, i_area = int(amodal.sum()), int(visible.sum())
  p = int(ex["num_keypoints"][i])
  states = ex["keypoint_states"][i, :p]
  flags = [coco.coco_visibility_flag(int(s)) for s in states]
  triplets = []
  for (u, v), flag in zip(ex["keypoints"][i, :p], flags):
    triplets += [round(float(u), 2), round(float(v), 2), flag] if flag else [0, 0, 0]
  num_shape = int(ex["shape_num"][i])
  return {
      "id": ann_id, "image_id": image_id, "category_id": int(ex["category"][i]), "iscrowd": 0,
      "segmentation": i_rle, "bbox": i_box, "area": i_area,
      "amodal_segmentation": a_rle, "amodal_bbox": a_box, "amodal_area": a_area,
      "a_segm": a_rle, "a_bbox": a_box, "a_area": a_area,
      "i_segm": i_rle, "i_bbox": i_box, "i_area": i_area,
      "occlusion": round(float(ex["occlusion"][i]), 4),
      "occlude_rate": round(float(ex["occlusion"][i]), 4),
      "draw_order": i,
      "keypoints": triplets, "num_keypoints": int(sum(f > 0 for f in flags)),
      "keypoint_states": [int(s) for s in states],
      "keypoints_3d": _floats(ex["keypoints_3d"][i, :p]),
      "rotation": _floats(ex["rotation"][i], 6), "translation": _floats(ex["translation"][i]),
      "ground_pose": _floats(ex["ground_pose"][i]), "dimensions": _floats(ex["dimensions"][i]),
      "depth": round(float(ex["object_depth"][i]), 4),
      "shape": _floats(ex["shape"][i, :num_shape]),
      "track_id": int(ex["track_id"][i]),
  }


def export(examples: Iterable[Any], out_dir: str | pathlib.Path) -> pathlib.Path:
  """Writes out_dir/images/NNNNNN.png and out_dir/annotations.json; returns the json's path."""
  out_dir = pathlib.Path(out_dir)
  (out_dir / "images").mkdir(parents=True, exist_ok=True)
  images, annotations = [], []
  for index, example in enumerate(examples):
    ex = _dense(example)
    image_id = index + 1
    file_name = f"images/{image_id:06d}.png"
    if not cv2.imwrite(str(out_dir / file_name), cv2.cvtColor(ex["image"], cv2.COLOR_RGB2BGR)):
      raise OSError(f"could not write {out_dir / file_name}")
    height, width = ex["image"].shape[:2]
    images.append({
        "id": image_id, "file_name": file_name, "width": int(width), "height": int(height),
        "key": ex["key"], "seed": int(ex["seed"]), "K": _floats(ex["K"], 6),
        "plane": _floats(ex["plane"], 6), **ex["extra"],
    })
    for i in range(decode.num_objects(ex)):
      annotations.append(annotation(ex, i, len(annotations) + 1, image_id))
  path = out_dir / "annotations.json"
  coco.write_json({
      "info": {"format": FORMAT, "format_version": coco.FORMAT_VERSION,
               "description": "WALT3D clip-art (TFDS walt3d_clipart); docs/formats.md"},
      "images": images, "annotations": annotations, "categories": coco.categories(),
  }, path)
  return path
