"""Categories and JSON writing shared by every COCO-style file the project writes.

The ground truth and detections formats are described in docs/formats.md.
"""

from __future__ import annotations

import enum
import json
import pathlib
from typing import Any

from walt3d_jax.shapes import person
from walt3d_jax.shapes import vehicle

FORMAT_VERSION = "1.0"


class Category(enum.IntEnum):
  """COCO category ids used in every file of the project."""

  CAR = 1
  PERSON = 2


class KeypointState(enum.IntEnum):
  """Visibility of one keypoint (the paper's annotation categories plus truncation)."""

  VISIBLE = 0
  SELF_OCCLUDED = 1
  OCCLUDED_BY_OTHERS = 2
  OUTSIDE_IMAGE = 3


def coco_visibility_flag(state: KeypointState) -> int:
  """COCO's `v` for a keypoint: 2 labelled and visible, 1 labelled not visible, 0 not labelled."""
  return {KeypointState.VISIBLE: 2, KeypointState.OUTSIDE_IMAGE: 0}.get(KeypointState(state), 1)


def categories() -> list[dict[str, Any]]:
  """COCO `categories` with keypoint names and skeletons."""
  car_skeleton = [
      # wheels, lights and roof as boxes (1-based indices as COCO wants).
      [1, 2], [3, 4], [1, 3], [2, 4], [5, 6], [7, 8], [5, 7], [6, 8],
      [9, 10], [11, 12], [9, 11], [10, 12], [5, 9], [6, 10], [7, 11], [8, 12],
  ]
  return [
      {
          "id": int(Category.CAR), "name": "car", "supercategory": "vehicle",
          "keypoints": list(vehicle.CAR_KEYPOINT_NAMES), "skeleton": car_skeleton,
      },
      {
          "id": int(Category.PERSON), "name": "person", "supercategory": "person",
          "keypoints": list(person.COCO_KEYPOINT_NAMES),
          "skeleton": [[a + 1, b + 1] for a, b in person.COCO_SKELETON],
      },
  ]


def write_json(data: Any, path: pathlib.Path) -> None:
  """Writes `data` as compact JSON, byte-identical for identical data (sorted keys)."""
  path.parent.mkdir(parents=True, exist_ok=True)
  with open(path, "w") as f:
    json.dump(data, f, sort_keys=True, separators=(",", ":"), allow_nan=False)
