"""Types shared by the mining stage: one video frame and the detections in it."""

from __future__ import annotations

import dataclasses
from typing import NamedTuple, Sequence

import numpy as np

# Keypoint slots per detection: COCO-17 for people; cars use the first 12 (DESIGN.md order) and
# leave the rest zero, so every detection of every class fits one fixed-shape array.
NUM_KEYPOINTS = 17
UNTRACKED = -1


class Frame(NamedTuple):
  """One decoded frame.

  index: frame number in the source (after no sampling: the reader's own count).
  time: seconds (video position, or timestamp parsed from a file name, or index / fps).
  image: (H, W, 3) uint8 RGB.
  name: file name or "<video>#<index>" for reporting.
  """

  index: int
  time: float
  image: np.ndarray
  name: str


def _check(cond: bool, message: str) -> None:
  if not cond:
    raise ValueError(f"FrameDetections: {message}")


@dataclasses.dataclass(frozen=True)
class FrameDetections:
  """Detections in one image (numpy arrays, N objects).

  image_id: COCO image id (= frame index for the simulator).
  boxes: (N, 4) float32 [x, y, w, h] pixels (COCO: corners at pixel edges).
  scores: (N,) float32 in [0, 1].
  categories: (N,) int32, walt3d_jax.formats.coco.Category (1 car, 2 person).
  masks: N COCO RLE dicts {"size": [H, W], "counts": str} of the visible masks.
  keypoints: (N, 17, 3) float32 [u, v, score]; cars fill the first 12 slots, the rest are zero.
  track_ids: (N,) int64, -1 = untracked.
  """

  image_id: int
  boxes: np.ndarray
  scores: np.ndarray
  categories: np.ndarray
  masks: tuple[dict, ...]
  keypoints: np.ndarray
  track_ids: np.ndarray

  def __post_init__(self):
    # Coerce dtypes once here so every consumer can rely on them (frozen: use object.__setattr__).
    for name, dtype in (("boxes", np.float32), ("scores", np.float32), ("categories", np.int32),
                        ("keypoints", np.float32), ("track_ids", np.int64)):
      object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=dtype))
    object.__setattr__(self, "masks", tuple(self.masks))
    n = self.boxes.shape[0] if self.boxes.ndim == 2 else -1
    _check(self.boxes.ndim == 2 and self.boxes.shape[1] == 4, f"boxes must be (N, 4), got {self.boxes.shape}")
    _check(self.scores.shape == (n,), f"scores must be ({n},), got {self.scores.shape}")
    _check(self.categories.shape == (n,), f"categories must be ({n},), got {self.categories.shape}")
    _check(self.keypoints.shape == (n, NUM_KEYPOINTS, 3),
           f"keypoints must be ({n}, {NUM_KEYPOINTS}, 3), got {self.keypoints.shape}")
    _check(self.track_ids.shape == (n,), f"track_ids must be ({n},), got {self.track_ids.shape}")
    _check(len(self.masks) == n, f"masks must hold {n} RLE dicts, got {len(self.masks)}")
    for i, m in enumerate(self.masks):
      _check(isinstance(m, dict) and "size" in m and "counts" in m,
             f"masks[{i}] must be a COCO RLE dict with 'size' and 'counts'")
    _check(bool(np.isfinite(self.boxes).all()), "boxes contain NaN or infinity")
    _check(bool(np.isfinite(self.scores).all()), "scores contain NaN or infinity")
    _check(bool(np.isfinite(self.keypoints).all()), "keypoints contain NaN or infinity")
    _check(bool((self.boxes[:, 2:] >= 0).all()), "boxes have negative width or height")

  @property
  def num(self) -> int:
    """Number of detections N."""
    return int(self.boxes.shape[0])

  @classmethod
  def empty(cls, image_id: int) -> FrameDetections:
    """No detections in image `image_id`."""
    return cls(
        image_id=int(image_id), boxes=np.zeros((0, 4)), scores=np.zeros(0), categories=np.zeros(0),
        masks=(), keypoints=np.zeros((0, NUM_KEYPOINTS, 3)), track_ids=np.zeros(0),
    )

  @classmethod
  def concatenate(cls, parts: Sequence[FrameDetections]) -> FrameDetections:
    """The detections of `parts` (of one image) in order."""
    _check(len(parts) > 0, "nothing to concatenate")
    _check(len({p.image_id for p in parts}) == 1, f"parts of images {sorted({p.image_id for p in parts})}")
    return cls(parts[0].image_id, *(np.concatenate([getattr(p, name) for p in parts])
                                    for name in ("boxes", "scores", "categories")),
               sum((p.masks for p in parts), ()), np.concatenate([p.keypoints for p in parts]),
               np.concatenate([p.track_ids for p in parts]))

  def select(self, indices: Sequence[int] | np.ndarray) -> FrameDetections:
    """The detections at `indices` (ints, or an (N,) bool mask), in that order."""
    idx = np.asarray(indices)
    if idx.dtype == bool:
      _check(idx.shape == (self.num,), f"bool selection must be ({self.num},), got {idx.shape}")
      idx = np.flatnonzero(idx)
    idx = idx.astype(np.int64).reshape(-1)
    _check(bool(((idx >= -self.num) & (idx < self.num)).all()) if idx.size else True,
           f"selection {idx.tolist()} out of range for {self.num} detections")
    return FrameDetections(
        image_id=self.image_id, boxes=self.boxes[idx], scores=self.scores[idx],
        categories=self.categories[idx], masks=tuple(self.masks[i] for i in idx),
        keypoints=self.keypoints[idx], track_ids=self.track_ids[idx],
    )

  def with_track_ids(self, track_ids: Sequence[int] | np.ndarray) -> FrameDetections:
    """A copy with `track_ids` (N,) int64 (-1 = untracked)."""
    return dataclasses.replace(self, track_ids=np.asarray(track_ids, dtype=np.int64))
