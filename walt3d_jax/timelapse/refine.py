"""The box refiner: moves the built-in detector's boxes to the objects' edges.

The detector's box is the bounding box of the pixels that differ from the background, so where
its tests take part of an object (a car's dark underside called shadow, a walker's thin legs lost
to the opening) or keep part of something else (a shadow's fringe, a neighbour's arm), the box is
off by a part: after the detection verifier (`verify.py`) has turned down detections of nothing,
boxes 0.3-0.5 IoU from their object are the commonest error left after plain misses (each a false
positive and a miss). The refiner (`models/box_refiner.py`) looks at the verifier's crop of the
detection (frame, mask, background) and moves each edge of the box. Its offsets are in units of
the crop window's side (the window of `occlusion_data.crop_window`), so one network serves every
object size. The mask is left as found: it is what differs from the background.

Trained on the built-in detector's detections in the verifier's simulated scenes, each moved to
the visible box of the true object it overlaps most (`train/box_refiner.py`); weights in
models/data/box_refiner.npz (`models/refiner_weights.py`). It learnt simulated footage.
benchmarks/detector.py and `mine` run it after the verifier (`stages.py`); the builtin
occlusion classifier learnt its boxes (with the classifier that learnt the detector's own boxes,
mining was less pure; docs/design.md).
"""

from __future__ import annotations

import dataclasses
import pathlib

from flax import nnx
import jax.numpy as jnp
import numpy as np

from walt3d_jax.models import box_refiner
from walt3d_jax.models import refiner_weights
from walt3d_jax.models.padded_batches import padded_map
from walt3d_jax.timelapse import occlusion_data
from walt3d_jax.timelapse import verifier_data
from walt3d_jax.timelapse.types import FrameDetections


SHIPPED_PATH = refiner_weights.SHIPPED_PATH


def windows(boxes: np.ndarray, context: float) -> np.ndarray:
  """(N, 3) [x0, y0, side] pixels: each box's crop window (`occlusion_data.crop_window`)."""
  return np.array([occlusion_data.crop_window(b, context) for b in np.asarray(boxes, np.float64).reshape(-1, 4)],
                  np.float64).reshape(-1, 3)


def box_edges(boxes: np.ndarray, window: np.ndarray) -> np.ndarray:
  """(N, 4) [left, top, right, bottom] of boxes (N, 4) xywh pixels in units of their windows'
  side (N, 3), from the window's top-left corner."""
  boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
  x0, y0, side = window.T
  return np.stack([(boxes[:, 0] - x0) / side, (boxes[:, 1] - y0) / side,
                   (boxes[:, 0] + boxes[:, 2] - x0) / side, (boxes[:, 1] + boxes[:, 3] - y0) / side], axis=1)


def edges_to_boxes(edges: np.ndarray, window: np.ndarray) -> np.ndarray:
  """Inverse of `box_edges`: (N, 4) xywh pixels (sides may come out negative; see `clip_boxes`)."""
  x0, y0, side = window.T
  left, top, right, bottom = (np.asarray(edges, np.float64) * side[:, None]).T
  return np.stack([left + x0, top + y0, right - left, bottom - top], axis=1)


def clip_boxes(boxes: np.ndarray, image_size: tuple[int, int], min_side: float = 1.0) -> np.ndarray:
  """Boxes (N, 4) xywh cut to the image (width, height), each side at least `min_side` pixels."""
  width, height = image_size
  x0 = np.clip(boxes[:, 0], 0.0, width - min_side)
  y0 = np.clip(boxes[:, 1], 0.0, height - min_side)
  x1 = np.clip(boxes[:, 0] + boxes[:, 2], x0 + min_side, width)
  y1 = np.clip(boxes[:, 1] + boxes[:, 3], y0 + min_side, height)
  return np.stack([x0, y0, x1 - x0, y1 - y0], axis=1)


@nnx.jit
def _offsets(model: box_refiner.BoxRefiner, crops: jnp.ndarray, edges: jnp.ndarray) -> jnp.ndarray:
  return model(jnp.asarray(crops, jnp.float32) / 255.0, edges)


def predict_offsets(model: box_refiner.BoxRefiner, crops: np.ndarray, edges: np.ndarray,
                    batch_size: int = 256) -> np.ndarray:
  """(N, 4) edge offsets of crops (N, S, S, C) uint8 with their boxes' edges (N, 4); batches
  padded to batch_size so the forward pass compiles once."""
  offsets = padded_map(
      lambda batch, batch_edges: _offsets(model, batch, jnp.asarray(batch_edges, jnp.float32)),
      (crops, np.asarray(edges)), batch_size, np.zeros((0, 4)))
  return offsets.astype(np.float64)


def refined_boxes(model: box_refiner.BoxRefiner, crops: np.ndarray, boxes: np.ndarray, context: float,
                  batch_size: int = 256) -> np.ndarray:
  """(N, 4) xywh pixels: boxes (N, 4) moved by the refiner, given their crops (N, S, S, C) uint8
  (not clipped to the image)."""
  window = windows(boxes, context)
  edges = box_edges(boxes, window)
  return edges_to_boxes(edges + predict_offsets(model, crops, edges, batch_size), window)


@dataclasses.dataclass(frozen=True)
class Refiner:
  """A trained refiner and how to feed it; `refiner(image, background, detections)` returns the
  detections with their boxes moved (detect_frame's verifier hook)."""

  model: box_refiner.BoxRefiner
  crop_size: int  # pixels
  context: float  # fraction of the box's longer side
  batch_size: int = 16  # a frame's detections, padded: one compilation serves every frame

  @classmethod
  def load(cls, path: pathlib.Path = SHIPPED_PATH) -> "Refiner":
    """The refiner stored in `path` (default: the shipped one)."""
    weights = refiner_weights.load(path)
    if weights.model.in_channels != verifier_data.NUM_CHANNELS:
      raise ValueError(f"{path}: a refiner of {weights.model.in_channels} channels; the detector's crops have "
                       f"{verifier_data.NUM_CHANNELS} (frame, mask, inside, background)")
    return cls(weights.model, weights.crop_size, weights.context)

  def __call__(self, image: np.ndarray, background: np.ndarray, detections: FrameDetections) -> FrameDetections:
    """The detections with refined boxes, cut to the image (a box the network gives no finite
    edges for keeps its own)."""
    if detections.num == 0:
      return detections
    crops = verifier_data.detection_crops(image, background, detections, self.crop_size, self.context)
    boxes = refined_boxes(self.model, crops, detections.boxes, self.context, self.batch_size)
    boxes = np.where(np.isfinite(boxes).all(axis=1, keepdims=True), boxes, detections.boxes)  # never NaN out
    height, width = np.shape(image)[:2]
    return dataclasses.replace(detections, boxes=clip_boxes(boxes, (width, height)).astype(np.float32))
