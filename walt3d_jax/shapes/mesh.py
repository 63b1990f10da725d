"""Triangle meshes shared by the shape models, the simulator and the renderer."""

from __future__ import annotations

import enum
from typing import NamedTuple

import numpy as np


class Part(enum.IntEnum):
  """What a face is made of; the simulator turns parts into albedo and emission."""

  BODY = 0  # car paint
  WINDOW = 1
  TYRE = 2
  HEADLIGHT = 3
  TAILLIGHT = 4
  TRIM = 5  # bumpers, grille, dark plastic
  SKIN = 6
  HAIR = 7
  SHIRT = 8
  TROUSERS = 9
  SHOES = 10


class Mesh(NamedTuple):
  """A closed triangle mesh in its object frame.

  vertices: (V, 3) metres, object frame (x forward, y left, z up, origin at the centre of the
    footprint on the ground).
  faces: (F, 3) int32 vertex indices, counter-clockwise seen from outside (outward normals by
    the right-hand rule).
  parts: (F,) int8 `Part` of each face.
  keypoint_vertices: (P,) int32 indices of the vertices that are the semantic keypoints
    (12 for cars, 17 for people), in the keypoint order of the shape model.
  """

  vertices: np.ndarray
  faces: np.ndarray
  parts: np.ndarray
  keypoint_vertices: np.ndarray

  @property
  def keypoints(self) -> np.ndarray:
    """(P, 3) metres, object frame."""
    return self.vertices[self.keypoint_vertices]


def face_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
  """Unit outward normals (F, 3) of `faces` over `vertices` (V, 3)."""
  a, b, c = (vertices[faces[:, i]] for i in range(3))
  n = np.cross(b - a, c - a)
  return n / np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-12)


def concatenate(meshes: list[Mesh]) -> Mesh:
  """One mesh from several; keypoint indices are kept from the first mesh that has any."""
  offsets = np.cumsum([0] + [len(m.vertices) for m in meshes[:-1]])
  keypoints = next(
      (m.keypoint_vertices + o for m, o in zip(meshes, offsets) if len(m.keypoint_vertices)),
      np.zeros((0,), np.int32),
  )
  return Mesh(
      vertices=np.concatenate([m.vertices for m in meshes]),
      faces=np.concatenate([m.faces + o for m, o in zip(meshes, offsets)]).astype(np.int32),
      parts=np.concatenate([m.parts for m in meshes]).astype(np.int8),
      keypoint_vertices=keypoints.astype(np.int32),
  )
