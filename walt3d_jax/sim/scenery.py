"""Meshes of the static scenery: buildings with window grids, trees, street lamps, signs, bus
shelters and parked cars, each with per-face albedo, night emission and its lamps.

Sizes follow the layout's `StaticObject.size` (its bounding box); procedural detail (window
pattern, lit windows, foliage shape, a parked car's model) comes from `StaticObject.seed`.
Typical street furniture: lamp posts 6–10 m with a 1–2 m arm, sign plates 0.6 m at about
2.2 m, bus shelters 2.5 m high, storeys about 3–3.5 m.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from walt3d_jax.shapes import vehicle
from walt3d_jax.shapes.mesh import Mesh, Part, concatenate
from walt3d_jax.sim.layout import StaticKind, StaticObject

_WINDOW = (0.10, 0.13, 0.16)
_LIT_WINDOW = (0.85, 0.68, 0.40)
_METAL = (0.35, 0.36, 0.37)
_LAMP_GLOW = (4.0, 3.3, 2.2)
_FOLIAGE = np.array([0.16, 0.27, 0.10])
_BARK = (0.22, 0.17, 0.12)
_STOREY = 3.2  # metres
# Albedo of car parts other than paint.
_CAR_PARTS = {Part.WINDOW: (0.07, 0.09, 0.11), Part.TYRE: (0.04, 0.04, 0.04),
              Part.HEADLIGHT: (0.80, 0.80, 0.76), Part.TAILLIGHT: (0.50, 0.05, 0.05),
              Part.TRIM: (0.10, 0.10, 0.11)}


class SceneryMesh(NamedTuple):
  """A static object in its object frame (x forward, y left, z up, origin on the ground).

  mesh: the triangles; albedo: (F, 3) reflectance; night_emission: (F, 3) radiance when the
  lamps are on (lamp heads, lit windows); lamps: (L, 3) metres, positions of light sources.
  """

  mesh: Mesh
  albedo: np.ndarray
  night_emission: np.ndarray
  lamps: np.ndarray


def _mesh(vertices, faces, part=Part.BODY) -> Mesh:
  faces = np.asarray(faces, np.int32)
  return Mesh(np.asarray(vertices, np.float64), faces, np.full(len(faces), part, np.int8),
              np.zeros(0, np.int32))


def box(lo, hi, part=Part.BODY) -> Mesh:
  """Closed axis-aligned box between corners lo (3,) and hi (3,), outward CCW faces."""
  lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
  corners = np.array([[(hi if (i >> k) & 1 else lo)[k] for k in range(3)] for i in range(8)])
  # Vertex i has x from bit 0, y from bit 1, z from bit 2.
  quads = [(0, 2, 3, 1), (4, 5, 7, 6), (0, 1, 5, 4), (2, 6, 7, 3), (0, 4, 6, 2), (1, 3, 7, 5)]
  faces = [f for a, b, c, d in quads for f in ((a, b, c), (a, c, d))]
  return _mesh(corners, faces, part)


def prism(radius: float, z0: float, z1: float, sides: int = 8, centre=(0.0, 0.0),
          part=Part.BODY) -> Mesh:
  """Closed vertical n-gon prism (a cylinder for poles and trunks)."""
  a = 2 * np.pi * np.arange(sides) / sides
  ring = np.stack([centre[0] + radius * np.cos(a), centre[1] + radius * np.sin(a)], axis=1)
  verts = np.concatenate([np.c_[ring, np.full(sides, z0)], np.c_[ring, np.full(sides, z1)],
                          [[centre[0], centre[1], z0], [centre[0], centre[1], z1]]])
  faces = []
  for i in range(sides):
    j = (i + 1) % sides
    faces += [(i, j, sides + j), (i, sides + j, sides + i),
              (2 * sides, j, i), (2 * sides + 1, sides + i, sides + j)]
  return _mesh(verts, faces, part)


def icosphere(subdivisions: int = 1) -> tuple[np.ndarray, np.ndarray]:
  """Unit sphere: vertices (V, 3), outward CCW faces (F, 3)."""
  t = (1 + 5 ** 0.5) / 2
  v = [(-1, t, 0), (1, t, 0), (-1, -t, 0), (1, -t, 0), (0, -1, t), (0, 1, t), (0, -1, -t),
       (0, 1, -t), (t, 0, -1), (t, 0, 1), (-t, 0, -1), (-t, 0, 1)]
  f = [(0, 11, 5), (0, 5, 1), (0, 1, 7), (0, 7, 10), (0, 10, 11), (1, 5, 9), (5, 11, 4),
       (11, 10, 2), (10, 7, 6), (7, 1, 8), (3, 9, 4), (3, 4, 2), (3, 2, 6), (3, 6, 8),
       (3, 8, 9), (4, 9, 5), (2, 4, 11), (6, 2, 10), (8, 6, 7), (9, 8, 1)]
  verts = [np.asarray(p, np.float64) / np.linalg.norm(p) for p in v]
  for _ in range(subdivisions):
    cache, new = {}, []

    def mid(i, j):
      key = (min(i, j), max(i, j))
      if key not in cache:
        m = verts[i] + verts[j]
        verts.append(m / np.linalg.norm(m))
        cache[key] = len(verts) - 1
      return cache[key]

    for a, b, c in f:
      ab, bc, ca = mid(a, b), mid(b, c), mid(c, a)
      new += [(a, ab, ca), (b, bc, ab), (c, ca, bc), (ab, bc, ca)]
    f = new
  return np.asarray(verts), np.asarray(f, np.int32)


def _quad(p0, p1, p2, p3, part=Part.WINDOW) -> Mesh:
  """A single CCW quad p0..p3 (seen from the side it faces)."""
  return _mesh([p0, p1, p2, p3], [(0, 1, 2), (0, 2, 3)], part)


def _colored(meshes_and_colors, emissions=None) -> tuple[Mesh, np.ndarray, np.ndarray]:
  meshes = [m for m, _ in meshes_and_colors]
  albedo = np.concatenate([np.tile(np.asarray(c, np.float64), (len(m.faces), 1))
                           for m, c in meshes_and_colors])
  emissions = emissions or [(0.0, 0.0, 0.0)] * len(meshes)
  emission = np.concatenate([np.tile(np.asarray(e, np.float64), (len(m.faces), 1))
                             for m, e in zip(meshes, emissions)])
  return concatenate(meshes), albedo, emission


def building(obj: StaticObject, rng: np.random.Generator) -> SceneryMesh:
  """A box with a darker roof and a grid of windows on each facade (some lit at night)."""
  length, width, height = obj.size
  color = np.clip(np.asarray(obj.color) * rng.uniform(0.9, 1.1, 3), 0, 1)
  body = box((-length / 2, -width / 2, 0), (length / 2, width / 2, height))
  parts = [(body, color)]
  emissions = [(0.0, 0.0, 0.0)]
  storeys = max(int(height // _STOREY), 1)
  spacing = rng.uniform(2.6, 3.6)
  win_w, win_h = rng.uniform(1.0, 1.6), rng.uniform(1.2, 1.8)
  lit_share = rng.uniform(0.15, 0.4)
  off = 0.04  # metres in front of the wall so the glass wins the depth test
  # Facades: (centre offset along the normal, normal axis, sign, facade length).
  for axis, sign, span, half_depth in ((0, 1, width, length / 2), (0, -1, width, length / 2),
                                       (1, 1, length, width / 2), (1, -1, length, width / 2)):
    count = int((span - 1.0) // spacing)
    if count < 1:
      continue
    along = (np.arange(count) - (count - 1) / 2) * spacing
    for s in range(storeys):
      z0 = s * _STOREY + (0.4 if s == 0 else 0.9)
      z1 = z0 + (2.2 if s == 0 else win_h)
      if z1 > height - 0.3:
        break
      w = min(spacing - 0.3, 2.4) if s == 0 else win_w
      for c in along:
        a, b = c - w / 2, c + w / 2
        if axis == 0:  # facade facing +/- x: window spans y
          x = sign * (half_depth + off)
          ys = (a, b) if sign > 0 else (b, a)
          quad = _quad((x, ys[0], z0), (x, ys[1], z0), (x, ys[1], z1), (x, ys[0], z1))
        else:  # facade facing +/- y: window spans x
          y = sign * (half_depth + off)
          xs = (b, a) if sign > 0 else (a, b)
          quad = _quad((xs[0], y, z0), (xs[1], y, z0), (xs[1], y, z1), (xs[0], y, z1))
        parts.append((quad, np.asarray(_WINDOW) * rng.uniform(0.8, 1.3)))
        lit = rng.random() < lit_share
        emissions.append(tuple(np.asarray(_LIT_WINDOW) * rng.uniform(0.4, 1.0)) if lit
                         else (0.0, 0.0, 0.0))
  mesh, albedo, emission = _colored(parts, emissions)
  albedo[2:4] *= 0.6  # the body box's top quad: a darker roof
  return SceneryMesh(mesh, albedo, emission, np.zeros((0, 3)))


def tree(obj: StaticObject, rng: np.random.Generator) -> SceneryMesh:
  """A trunk and two or three lumpy foliage blobs filling the bounding box."""
  length, width, height = obj.size
  crown_base = height * rng.uniform(0.3, 0.45)
  trunk = prism(max(0.08, 0.04 * min(length, width)), 0.0, crown_base + 0.5, sides=6,
                part=Part.TRIM)
  parts = [(trunk, _BARK)]
  unit_v, unit_f = icosphere(1)
  leaves = _FOLIAGE * rng.uniform(0.8, 1.25, 3)
  for k in range(int(rng.integers(2, 4))):
    rx, ry = length / 2 * rng.uniform(0.65, 0.85), width / 2 * rng.uniform(0.65, 0.85)
    rz = (height - crown_base) / 2 * rng.uniform(0.75, 0.95)
    centre = np.array([rng.uniform(-0.15, 0.15) * length, rng.uniform(-0.15, 0.15) * width,
                       height - rz])
    lumps = 1.0 + 0.12 * rng.standard_normal(len(unit_v))
    verts = unit_v * lumps[:, None] * (rx, ry, rz) + centre
    verts[:, 2] = np.minimum(verts[:, 2], height)
    blob = _mesh(verts, unit_f, Part.BODY)
    parts.append((blob, leaves))
  mesh, albedo, emission = _colored(parts)
  leaf_faces = np.arange(len(trunk.faces), len(mesh.faces))
  albedo[leaf_faces] *= rng.uniform(0.75, 1.2, (len(leaf_faces), 1))
  return SceneryMesh(mesh, np.clip(albedo, 0, 1), emission, np.zeros((0, 3)))


def pole(obj: StaticObject, rng: np.random.Generator) -> SceneryMesh:
  """A street lamp: a mast at the origin (the footprint), an arm overhanging +x by
  size[0] - 0.2 m (clipped to 0.8–2.5 m) and a lamp head that lights the street."""
  _, _, height = obj.size
  reach = float(np.clip(obj.size[0] - 0.2, 0.8, 2.5))
  mast = prism(0.09, 0.0, height, sides=8)
  arm = box((0.0, -0.04, height - 0.12), (reach, 0.04, height - 0.04))
  head = box((reach - 0.5, -0.16, height - 0.25), (reach + 0.1, 0.16, height - 0.08),
             Part.HEADLIGHT)
  color = np.asarray(obj.color)
  mesh, albedo, emission = _colored([(mast, color), (arm, color), (head, (0.8, 0.8, 0.75))],
                                    [(0, 0, 0), (0, 0, 0), _LAMP_GLOW])
  lamps = np.array([[reach - 0.2, 0.0, height - 0.3]])
  return SceneryMesh(mesh, albedo, emission, lamps)


def sign(obj: StaticObject, rng: np.random.Generator) -> SceneryMesh:
  """A post with a square plate facing +x at the top."""
  _, width, height = obj.size
  plate = float(np.clip(width, 0.4, 1.0))
  post = prism(0.035, 0.0, height - 0.1, sides=6)
  board = box((0.04, -plate / 2, height - plate), (0.08, plate / 2, height))
  mesh, albedo, emission = _colored([(post, _METAL), (board, obj.color)])
  return SceneryMesh(mesh, albedo, emission, np.zeros((0, 3)))


def bus_shelter(obj: StaticObject, rng: np.random.Generator) -> SceneryMesh:
  """Four posts, a roof, a back glass wall (at -y) and two side walls, and a bench."""
  length, width, height = obj.size
  hx, hy = length / 2, width / 2
  posts = [prism(0.05, 0.0, height, 6, (sx * (hx - 0.05), sy * (hy - 0.05)))
           for sx in (-1, 1) for sy in (-1, 1)]
  roof = box((-hx, -hy, height), (hx, hy, height + 0.12))
  back = box((-hx, -hy, 0.15), (hx, -hy + 0.03, height - 0.1), Part.WINDOW)
  sides = [box((sx * hx - 0.015, -hy, 0.15), (sx * hx + 0.015, hy * 0.2, height - 0.1),
               Part.WINDOW) for sx in (-1, 1)]
  bench = box((-hx * 0.7, -hy + 0.05, 0.42), (hx * 0.7, -hy + 0.45, 0.48))
  glass = (0.45, 0.52, 0.55)
  items = ([(p, _METAL) for p in posts] + [(roof, obj.color), (back, glass)]
           + [(s, glass) for s in sides] + [(bench, _METAL)])
  mesh, albedo, emission = _colored(items)
  roof_faces = slice(sum(len(p.faces) for p in posts), sum(len(p.faces) for p in posts) + 12)
  emission[roof_faces] = (0.12, 0.12, 0.1)  # the shelter's own light at night
  return SceneryMesh(mesh, albedo, emission, np.zeros((0, 3)))


def parked_car(obj: StaticObject, rng: np.random.Generator) -> SceneryMesh:
  """A car from the shape model (`shapes.vehicle`), painted `obj.color`, stretched to fill
  `obj.size` exactly so that its footprint is the one the traffic keeps clear of."""
  params = vehicle.sample_car_params(np.random.default_rng(obj.seed))
  mesh = vehicle.car_mesh(params)
  scale = np.asarray(obj.size) / np.asarray(vehicle.car_dimensions(params))
  mesh = mesh._replace(vertices=mesh.vertices * scale)
  table = np.tile(np.asarray(obj.color, np.float64), (len(Part), 1))
  for part, color in _CAR_PARTS.items():
    table[part] = color
  albedo = table[mesh.parts.astype(np.int64)]
  return SceneryMesh(mesh, albedo, np.zeros_like(albedo), np.zeros((0, 3)))


_BUILDERS = {
    StaticKind.BUILDING: building,
    StaticKind.TREE: tree,
    StaticKind.POLE: pole,
    StaticKind.SIGN: sign,
    StaticKind.BUS_SHELTER: bus_shelter,
    StaticKind.PARKED_CAR: parked_car,
}


def static_mesh(obj: StaticObject) -> SceneryMesh:
  """The mesh of one static object in its own frame; deterministic in `obj.seed`."""
  if len(obj.size) != 3 or not all(np.isfinite(s) and s > 0 for s in obj.size):
    raise ValueError(f"StaticObject.size must be three positive lengths, got {obj.size}")
  return _BUILDERS[StaticKind(obj.kind)](obj, np.random.default_rng(obj.seed))


def placement(obj: StaticObject) -> tuple[np.ndarray, np.ndarray]:
  """(R (3,3), t (3,)): object frame -> ground frame, X_g = R @ X_obj + t."""
  c, s = np.cos(obj.yaw), np.sin(obj.yaw)
  R = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
  return R, np.array([obj.position[0], obj.position[1], 0.0])
