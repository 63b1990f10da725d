"""Independent checks on triangle meshes shared by the shape tests."""

import numpy as np

from walt3d_jax.shapes.mesh import Mesh


def directed_edges(faces: np.ndarray) -> np.ndarray:
  """(3F, 2) the directed edges of every face."""
  return np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])


def assert_closed_and_outward(mesh: Mesh) -> None:
  """Every undirected edge in exactly two faces, once in each direction (consistent winding),
  and a positive enclosed volume (divergence theorem), so the normals point outward."""
  edges = directed_edges(mesh.faces)
  _, counts = np.unique(np.sort(edges, axis=1), axis=0, return_counts=True)
  assert np.all(counts == 2), f"{np.sum(counts != 2)} edges not shared by exactly two faces"
  _, directed_counts = np.unique(edges, axis=0, return_counts=True)
  assert np.all(directed_counts == 1), "inconsistent winding"
  a, b, c = (mesh.vertices[mesh.faces[:, i]] for i in range(3))
  assert np.einsum("ij,ij->", a, np.cross(b, c)) / 6.0 > 0.0
  area = np.linalg.norm(np.cross(b - a, c - a), axis=1) / 2
  assert area.min() > 1e-7, "degenerate triangle"


def assert_each_piece_outward(mesh: Mesh) -> None:
  """Each connected piece encloses a positive volume on its own (not only the sum)."""
  faces = mesh.faces
  parent = np.arange(len(mesh.vertices))

  def find(i):
    while parent[i] != i:
      parent[i] = parent[parent[i]]
      i = parent[i]
    return i

  for f in faces:
    for j in (1, 2):
      parent[find(f[j])] = find(f[0])
  roots = np.array([find(f[0]) for f in faces])
  a, b, c = (mesh.vertices[faces[:, i]] for i in range(3))
  six_volume = np.einsum("ij,ij->i", a, np.cross(b, c))
  for root in np.unique(roots):
    assert six_volume[roots == root].sum() > 0, "a piece is inside-out"
