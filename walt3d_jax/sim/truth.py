"""Exact per-object ground truth read off a rendered frame's buffers.

Everything here follows from the renderer's z-buffer, so it is consistent by construction:
the visible mask is where the object won the depth test, the amodal mask is everywhere its
triangles cover, and a keypoint is visible exactly when the z-buffer at its pixel is not
nearer than the keypoint itself.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from walt3d_jax.formats import rle
from walt3d_jax.formats.coco import KeypointState


@dataclasses.dataclass(frozen=True)
class ObjectTruth:
  """Ground truth of one rendered object in one frame.

  amodal_mask, visible_mask: (H, W) bool, in the image (the amodal mask is clipped to it).
  keypoints_uv: (P, 2) pixels, the projected 3D keypoints (also when hidden or outside).
  keypoint_states: (P,) KeypointState values.
  occlusion: 1 − visible / amodal area in the image (0 unoccluded, 1 fully hidden).
  occluded_by_objects / occluded_by_scenery: fractions of the amodal area hidden by other
    agents / by static scenery (they sum to `occlusion`).
  truncated: whether part of the object projects outside the image.
  """

  amodal_mask: np.ndarray
  visible_mask: np.ndarray
  keypoints_uv: np.ndarray
  keypoint_states: np.ndarray
  occlusion: float
  occluded_by_objects: float
  occluded_by_scenery: float
  truncated: bool

  @property
  def amodal_box(self) -> list[float]:
    return rle.mask_box(self.amodal_mask)

  @property
  def visible_box(self) -> list[float]:
    return rle.mask_box(self.visible_mask)


def project(K: np.ndarray, points: np.ndarray) -> np.ndarray:
  """Pixels (N, 2) of camera-frame points (N, 3) in front of the camera."""
  uvw = points @ K.T
  return uvw[:, :2] / uvw[:, 2:3]


def inside_image(uv: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
  """(N,) whether pixel positions (N, 2) fall on a pixel of the image (centres at integers)."""
  width, height = image_size
  return (uv[:, 0] >= -0.5) & (uv[:, 0] < width - 0.5) & (uv[:, 1] >= -0.5) & (uv[:, 1] < height - 0.5)


def keypoint_states(
    keypoints_cam: np.ndarray,
    tolerance: np.ndarray,
    K: np.ndarray,
    depth: np.ndarray,
    self_depth: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
  """Projects keypoints and classifies their visibility against the z-buffer.

  keypoints_cam: (P, 3) metres, camera frame, in front of the camera.
  tolerance: (P,) metres a keypoint may lie under the surface that shows it (0 for points on
    the surface, up to a limb's radius for a person's joints).
  depth: (H, W) the frame's z-buffer (camera z, metres; inf where nothing was drawn).
  self_depth: (H, W) the object's own nearest depth, as if alone (inf off the object).
  Returns uv (P, 2) pixels and states (P,) int8 KeypointState.
  """
  height, width = depth.shape
  uv = project(K, keypoints_cam)
  inside = inside_image(uv, (width, height))
  col = np.clip(np.rint(uv[:, 0]).astype(int), 0, width - 1)
  row = np.clip(np.rint(uv[:, 1]).astype(int), 0, height - 1)
  limit = keypoints_cam[:, 2] - tolerance
  states = np.full(len(uv), KeypointState.VISIBLE, np.int8)
  states[depth[row, col] < limit] = KeypointState.OCCLUDED_BY_OTHERS
  # Hidden by the object itself wins over hidden by others: it would be hidden if alone.
  states[self_depth[row, col] < limit] = KeypointState.SELF_OCCLUDED
  states[~inside] = KeypointState.OUTSIDE_IMAGE
  return uv, states


def object_truth(
    index: int,
    ids: np.ndarray,
    depth: np.ndarray,
    amodal_mask: np.ndarray,
    self_depth: np.ndarray,
    keypoints_cam: np.ndarray,
    keypoint_tolerance: np.ndarray,
    vertices_cam: np.ndarray,
    K: np.ndarray,
    static_id_base: int,
) -> ObjectTruth:
  """Ground truth of the object drawn with id `index`.

  ids: (H, W) int32 id buffer: -1 ground/sky, agent indices, static_id_base + j for scenery.
  amodal_mask: (H, W) bool; self_depth: (H, W) float (see `keypoint_states`).
  vertices_cam: (V, 3) the object's mesh in the camera frame (for truncation).
  """
  height, width = ids.shape
  visible = ids == index
  amodal_area = int(np.count_nonzero(amodal_mask))
  hidden = amodal_mask & ~visible
  by_scenery = int(np.count_nonzero(hidden & (ids >= static_id_base)))
  by_objects = int(np.count_nonzero(hidden)) - by_scenery
  uv, states = keypoint_states(keypoints_cam, keypoint_tolerance, K, depth, self_depth)
  in_front = vertices_cam[:, 2] > 1e-6
  truncated = bool((~inside_image(project(K, vertices_cam[in_front]), (width, height))).any())
  denom = max(amodal_area, 1)
  return ObjectTruth(
      amodal_mask=amodal_mask,
      visible_mask=visible,
      keypoints_uv=uv,
      keypoint_states=states,
      occlusion=1.0 - int(np.count_nonzero(visible)) / denom if amodal_area else 1.0,
      occluded_by_objects=by_objects / denom,
      occluded_by_scenery=by_scenery / denom,
      truncated=truncated or not in_front.all(),
  )
