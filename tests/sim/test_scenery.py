"""Scenery meshes: closed where they should be, inside their bounding boxes, reproducible."""

from collections import Counter

import numpy as np
import pytest

from walt3d_jax.shapes.mesh import face_normals
from walt3d_jax.sim import scenery
from walt3d_jax.sim.layout import StaticKind, StaticObject


def _signed_volume(vertices, faces):
  a, b, c = (vertices[faces[:, i]] for i in range(3))
  return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


def _is_closed_and_consistent(faces):
  """Every directed edge appears once and its reverse once: closed, consistently oriented."""
  edges = Counter((int(f[i]), int(f[(i + 1) % 3])) for f in faces for i in range(3))
  return all(n == 1 and edges.get((b, a)) == 1 for (a, b), n in edges.items())


@pytest.mark.parametrize("make", [
    lambda: scenery.box((-1.0, -2.0, 0.0), (3.0, 1.0, 2.5)),
    lambda: scenery.prism(0.5, 0.0, 4.0, sides=7, centre=(1.0, -1.0)),
])
def test_primitives_are_closed_with_outward_faces(make):
  mesh = make()
  assert _is_closed_and_consistent(mesh.faces)
  assert _signed_volume(mesh.vertices, mesh.faces) > 0
  centre = mesh.vertices.mean(axis=0)
  a = mesh.vertices[mesh.faces].mean(axis=1)
  assert np.all(np.einsum("ij,ij->i", face_normals(mesh.vertices, mesh.faces), a - centre) > 0)


def test_box_volume_and_icosphere():
  mesh = scenery.box((0.0, 0.0, 0.0), (2.0, 3.0, 4.0))
  assert np.isclose(_signed_volume(mesh.vertices, mesh.faces), 24.0)
  verts, faces = scenery.icosphere(2)
  assert len(faces) == 320 and _is_closed_and_consistent(faces)
  np.testing.assert_allclose(np.linalg.norm(verts, axis=1), 1.0)
  # Volume of the inscribed polyhedron approaches the sphere's 4/3 pi from below.
  assert 0.9 * 4 / 3 * np.pi < _signed_volume(verts, faces) < 4 / 3 * np.pi


KINDS = [
    StaticObject(StaticKind.BUILDING, np.array([0.0, 0.0]), 0.0, (20.0, 10.0, 15.0), seed=1),
    StaticObject(StaticKind.TREE, np.array([0.0, 0.0]), 0.0, (4.0, 5.0, 7.0), seed=2),
    StaticObject(StaticKind.POLE, np.array([0.0, 0.0]), 0.0, (1.8, 0.3, 8.0), seed=3),
    StaticObject(StaticKind.SIGN, np.array([0.0, 0.0]), 0.0, (0.1, 0.6, 2.5), seed=4),
    StaticObject(StaticKind.BUS_SHELTER, np.array([0.0, 0.0]), 0.0, (4.0, 1.6, 2.5), seed=5),
    StaticObject(StaticKind.PARKED_CAR, np.array([0.0, 0.0]), 0.0, (4.6, 1.8, 1.5), seed=6),
]


@pytest.mark.parametrize("obj", KINDS, ids=lambda o: StaticKind(o.kind).name)
def test_static_meshes_fit_their_box_and_are_reproducible(obj):
  sm = scenery.static_mesh(obj)
  faces = sm.mesh.faces
  assert faces.min() >= 0 and faces.max() < len(sm.mesh.vertices)
  assert sm.albedo.shape == sm.night_emission.shape == (len(faces), 3)
  assert np.all((sm.albedo >= 0) & (sm.albedo <= 1))
  length, width, height = obj.size
  lo, hi = sm.mesh.vertices.min(axis=0), sm.mesh.vertices.max(axis=0)
  assert lo[2] >= -1e-6 and hi[2] <= height + 0.15
  half = np.array([length, width]) / 2
  if obj.kind == StaticKind.POLE:  # the mast stands at the origin, the arm overhangs +x
    assert np.all(np.abs(lo[:2]) <= 0.2) and hi[0] <= length and abs(hi[1]) <= half[1] + 0.05
  else:
    assert np.all(np.abs(lo[:2]) <= half + 0.15) and np.all(np.abs(hi[:2]) <= half + 0.15)
  again = scenery.static_mesh(obj)
  assert np.array_equal(sm.mesh.vertices, again.mesh.vertices)
  assert np.array_equal(sm.albedo, again.albedo)


def test_procedural_detail_depends_on_seed():
  a = scenery.static_mesh(KINDS[1])
  b = scenery.static_mesh(StaticObject(**{**KINDS[1].__dict__, "seed": 99}))
  assert a.mesh.vertices.shape != b.mesh.vertices.shape or not np.allclose(
      a.mesh.vertices, b.mesh.vertices)


def test_building_has_windows_some_lit_and_lamps_hang_high():
  building = scenery.static_mesh(KINDS[0])
  assert len(building.mesh.faces) > 12 + 2 * 20  # the body plus a grid of window quads
  assert 0 < np.count_nonzero(building.night_emission.any(axis=1)) < len(building.mesh.faces)
  lamp = scenery.static_mesh(KINDS[2])
  assert lamp.lamps.shape == (1, 3) and lamp.lamps[0, 2] > 7.0
  assert np.any(lamp.night_emission > 1.0)


def test_placement_and_bad_size():
  obj = StaticObject(StaticKind.SIGN, np.array([3.0, -2.0]), np.pi / 2, (0.1, 0.6, 2.5))
  R, t = scenery.placement(obj)
  np.testing.assert_allclose(R @ [1.0, 0.0, 0.0] + t, [3.0, -1.0, 0.0], atol=1e-12)
  with pytest.raises(ValueError, match="size"):
    scenery.static_mesh(StaticObject(StaticKind.TREE, np.zeros(2), 0.0, (1.0, 0.0, 3.0)))
