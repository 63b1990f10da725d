"""Closed mesh pieces (lofted tubes, boxes) assembled into one `Mesh`, always outward-facing."""

from __future__ import annotations

import functools

import numpy as np

from walt3d_jax.shapes.mesh import Mesh, Part


@functools.lru_cache(maxsize=None)
def _loft_faces(s: int, m: int, first_apex: bool, last_apex: bool) -> tuple[np.ndarray, int]:
  """Faces (F, 3) of a capped tube through S rings of M vertices (see `MeshBuilder.loft`):
  the sides (two triangles per quad), then the first cap, then the last; and the number of
  first-cap triangles. Cached: the topology depends only on the sizes."""
  idx = np.arange(s * m).reshape(s, m)
  a, b = idx[:-1], np.roll(idx[:-1], -1, axis=1)
  c, d = idx[1:], np.roll(idx[1:], -1, axis=1)
  sides = np.concatenate([np.stack([a, c, b], -1).reshape(-1, 3),
                          np.stack([b, c, d], -1).reshape(-1, 3)])
  # The two caps wind opposite ways so that, with the sides, every edge is used once each way.
  ring, nxt = idx[0], np.roll(idx[0], -1)
  if first_apex:
    first = np.stack([np.full(m, s * m), ring, nxt], -1)
  else:
    first = ring[np.stack([np.zeros(m - 2, int), np.arange(1, m - 1), np.arange(2, m)], -1)]
  ring, nxt = idx[-1], np.roll(idx[-1], -1)
  if last_apex:
    last = np.stack([np.full(m, s * m + first_apex), nxt, ring], -1)
  else:
    last = ring[np.stack([np.zeros(m - 2, int), np.arange(2, m), np.arange(1, m - 1)], -1)]
  faces = np.concatenate([sides, first, last]).astype(np.int32)
  faces.setflags(write=False)
  return faces, len(first)


@functools.lru_cache(maxsize=1024)
def _loft_parts(s: int, m: int, first_apex: bool, last_apex: bool, side: bytes,
                side_shape: tuple[int, ...], first_cap: int, last_cap: int) -> np.ndarray:
  """(F,) int8 parts of the faces of `_loft_faces(s, m, first_apex, last_apex)`: side (an int8
  array's bytes and shape, broadcast to (S-1, M)) on both triangles of each quad, then the caps'.
  Cached: people re-loft the same pieces every frame."""
  faces, num_first = _loft_faces(s, m, first_apex, last_apex)
  side = np.broadcast_to(np.frombuffer(side, np.int8).reshape(side_shape), (s - 1, m)).reshape(-1)
  num_last = len(faces) - 2 * len(side) - num_first
  parts = np.concatenate([side, side, np.full(num_first, first_cap, np.int8),
                          np.full(num_last, last_cap, np.int8)])
  parts.setflags(write=False)
  return parts


class MeshBuilder:
  """Accumulates closed pieces into one mesh, each piece made outward-facing."""

  def __init__(self):
    self.vertices: list[np.ndarray] = []
    self.faces: list[np.ndarray] = []
    self.parts: list[np.ndarray] = []
    self.count = 0

  def add(self, vertices: np.ndarray, faces: np.ndarray, parts: np.ndarray) -> int:
    """Adds a piece: vertices (V, 3) metres, faces (F, 3) local indices, parts (F,).

    The piece must be closed with consistently wound faces; it is flipped if it came out
    inside-out. Returns the index of its first vertex in the final mesh.
    """
    tri = vertices[faces]
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    # Six times the enclosed volume: negative means inside-out, which is simpler to detect
    # here than to get right for every ring ordering and direction the callers use.
    volume = (a[:, 0] * (b[:, 1] * c[:, 2] - b[:, 2] * c[:, 1])
              + a[:, 1] * (b[:, 2] * c[:, 0] - b[:, 0] * c[:, 2])
              + a[:, 2] * (b[:, 0] * c[:, 1] - b[:, 1] * c[:, 0])).sum()
    if volume < 0:
      faces = faces[:, ::-1]
    start = self.count
    self.vertices.append(np.asarray(vertices, np.float64))
    self.faces.append(faces + start)
    self.parts.append(np.asarray(parts, np.int8))
    self.count += len(vertices)
    return start

  def loft(self, rings: np.ndarray, side_parts, cap_parts: tuple[Part, Part],
           apexes: tuple[np.ndarray | None, np.ndarray | None] = (None, None)) -> int:
    """Adds a tube through convex, planar-ish rings (S, M, 3), closed at both ends.

    side_parts: (S-1, M) Part of the quad between ring s and s+1 over ring edge m (or one Part).
    cap_parts: Part of the first and of the last cap.
    apexes: for each end, None (a flat fan over the ring) or a (3,) point the cap's fan
      meets; apex vertices follow the ring vertices, first end's before last end's.
    Returns the index of the piece's first vertex (ring s, vertex m is start + s * M + m).
    """
    s, m = rings.shape[:2]
    first_apex, last_apex = apexes[0] is not None, apexes[1] is not None
    faces, num_first = _loft_faces(s, m, first_apex, last_apex)
    side = np.asarray(side_parts, np.int8)
    parts = _loft_parts(s, m, first_apex, last_apex, side.tobytes(), side.shape,
                        int(cap_parts[0]), int(cap_parts[1]))
    extra = [np.asarray(p, np.float64)[None] for p in apexes if p is not None]
    vertices = np.concatenate([rings.reshape(-1, 3)] + extra)
    return self.add(vertices, faces, parts)

  def box(self, lo: np.ndarray, hi: np.ndarray, part: Part) -> int:
    """Adds an axis-aligned box from corner lo (3,) to hi (3,). Piece vertex 4 i + k has
    x = (lo, hi)[i] and (y, z) = ((lo, lo), (hi, lo), (hi, hi), (lo, hi))[k]."""
    yz = np.array([[lo[1], lo[2]], [hi[1], lo[2]], [hi[1], hi[2]], [lo[1], hi[2]]])
    rings = np.stack([np.column_stack([np.full(4, x), yz]) for x in (lo[0], hi[0])])
    return self.loft(rings, part, (part, part))

  def add_points(self, points: np.ndarray) -> int:
    """Adds vertices (N, 3) used by no face (e.g. joints inside a body); returns the first."""
    start = self.count
    self.vertices.append(np.asarray(points, np.float64).reshape(-1, 3))
    self.count += len(self.vertices[-1])
    return start

  def mesh(self, keypoint_vertices) -> Mesh:
    """The assembled mesh with the given keypoint vertex indices."""
    return Mesh(
        vertices=np.concatenate(self.vertices),
        faces=np.concatenate(self.faces).astype(np.int32),
        parts=np.concatenate(self.parts).astype(np.int8),
        keypoint_vertices=np.asarray(keypoint_vertices, np.int32),
    )
