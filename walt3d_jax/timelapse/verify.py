"""The detection verifier: a small CNN that turns down the built-in detector's false detections.

The built-in detector (`timelapse.detect`) finds what differs from the background, so besides
objects it finds ghosts (the background holds a car the frame does not), shadows and pools of
light its tests missed, pieces of objects and merged groups. Its hand-set tests judge each blob
by a few numbers; the verifier looks at what a person would: the frame around the detection,
the detection's mask and the background there. It is the occlusion classifier's network
(`models.occlusion_classifier`, the same blocks) with 8 input channels (`verifier_data.verifier_crops`),
trained on the built-in detector's detections in simulated scenes to give P(the detection is
no object), i.e. its box overlaps no true object by IoU 0.5 (`timelapse/verifier_data.py`). A
detection with P at or above the threshold chosen on validation scenes is dropped.

The shipped weights (models/data/detection_verifier.npz, the layout of
`models/occlusion_weights.py`) are built by

  python -m walt3d_jax.models.build_occlusion_weights \
      --config experiments/occlusion_classifier.py:verifier \
      --output walt3d_jax/models/data/detection_verifier.npz

(experiments/occlusion_classifier.py's docstring records the build and its held-out figures).
It learnt simulated footage: on real footage it is as good as the simulator is like it.
"""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np

from walt3d_jax.models import occlusion_classifier as oc
from walt3d_jax.models import occlusion_weights
from walt3d_jax.timelapse import verifier_data
from walt3d_jax.timelapse.types import FrameDetections

NUM_CHANNELS = verifier_data.NUM_CHANNELS
SHIPPED_PATH = occlusion_weights.SHIPPED_VERIFIER_PATH


@dataclasses.dataclass(frozen=True)
class Verifier:
  """A trained verifier and how to feed it; `verifier(image, background, detections)` keeps the
  detections it believes."""

  model: oc.OcclusionClassifier
  threshold: float  # P(no object) at and above which a detection is dropped
  crop_size: int  # pixels
  context: float  # fraction of the box's longer side
  batch_size: int = 16  # a frame's detections, padded: one compilation serves every frame

  @classmethod
  def load(cls, path: pathlib.Path = SHIPPED_PATH) -> "Verifier":
    """The verifier stored in `path` (default: the shipped one)."""
    weights = occlusion_weights.load(path)
    if weights.model.in_channels != NUM_CHANNELS:
      raise ValueError(f"{path}: a classifier of {weights.model.in_channels} channels, not a detection "
                       f"verifier ({NUM_CHANNELS}: frame, mask, inside, background)")
    return cls(weights.model, weights.threshold, weights.crop_size, weights.context)

  def prob_false(self, image: np.ndarray, background: np.ndarray, detections: FrameDetections) -> np.ndarray:
    """(N,) P(no object) of one frame's detections."""
    if detections.num == 0:
      return np.zeros((0,), np.float32)
    crops = verifier_data.detection_crops(image, background, detections, self.crop_size, self.context)
    return oc.predict(self.model, crops, self.batch_size)

  def __call__(self, image: np.ndarray, background: np.ndarray, detections: FrameDetections) -> FrameDetections:
    """The detections whose P(no object) is below the threshold."""
    if detections.num == 0:
      return detections
    return detections.select(self.prob_false(image, background, detections) < self.threshold)
