"""Bird's-eye-view footprints on the ground plane: oriented rectangles and discs.

All coordinates are in the canonical ground frame (`walt3d_jax.geometry.plane.ground_frame`):
metres, x forward, y left. A footprint is the set of ground points an object covers; cars are
oriented rectangles (length along their heading), people and poles are discs.

Every footprint is treated as a "rounded rectangle": a core rectangle (half sizes >= 0) grown by
a radius. A rectangle has radius 0; a disc has a zero-size core and radius = its half_size[0].
One exact distance routine then serves every pair of kinds, with fixed shapes under jit.
"""

from __future__ import annotations

from typing import Sequence

import flax.struct
import jax
import jax.numpy as jnp


@flax.struct.dataclass
class Footprints:
  """A fixed-shape batch of footprints (leading dims `...`, usually (N,)).

  centre: (..., 2) metres, ground frame.
  yaw: (...,) radians, heading of the rectangle's length axis from +x towards +y (ignored for
    discs).
  half_size: (..., 2) metres: (half length, half width) for rectangles; (radius, radius) for
    discs (only half_size[..., 0] is read).
  is_disc: (...,) bool.
  """

  centre: jax.Array
  yaw: jax.Array
  half_size: jax.Array
  is_disc: jax.Array

  def __getitem__(self, index) -> Footprints:
    """Indexes every field along the leading dims, like an array."""
    return jax.tree.map(lambda x: x[index], self)

  def __len__(self) -> int:
    return self.yaw.shape[0]


def rectangles(centre, yaw, length, width) -> Footprints:
  """Oriented rectangles: centre (..., 2), yaw (...) radians, length and width (...) metres."""
  centre = jnp.asarray(centre)
  dtype = jnp.result_type(centre, float)
  half_size = 0.5 * jnp.stack(jnp.broadcast_arrays(
      jnp.asarray(length, dtype), jnp.asarray(width, dtype)), axis=-1)
  batch = centre.shape[:-1]
  return Footprints(
      centre=centre.astype(dtype),
      yaw=jnp.broadcast_to(jnp.asarray(yaw, dtype), batch),
      half_size=jnp.broadcast_to(half_size, batch + (2,)),
      is_disc=jnp.zeros(batch, bool))


def discs(centre, radius) -> Footprints:
  """Discs: centre (..., 2), radius (...) metres."""
  centre = jnp.asarray(centre)
  dtype = jnp.result_type(centre, float)
  batch = centre.shape[:-1]
  radius = jnp.broadcast_to(jnp.asarray(radius, dtype), batch)
  return Footprints(
      centre=centre.astype(dtype),
      yaw=jnp.zeros(batch, dtype),
      half_size=jnp.stack([radius, radius], axis=-1),
      is_disc=jnp.ones(batch, bool))


def concatenate(footprints: Sequence[Footprints]) -> Footprints:
  """Joins (N_i,) batches into one (sum N_i,) batch, e.g. cars then people then statics."""
  return jax.tree.map(lambda *xs: jnp.concatenate(xs, axis=0), *footprints)


def rectangle_corners(centre: jax.Array, yaw: jax.Array, half_size: jax.Array) -> jax.Array:
  """Corners (..., 4, 2) metres of oriented rectangles, counter-clockwise.

  Order: front-right, front-left, back-left, back-right ("front" = +heading, "left" = +y side).
  centre: (..., 2); yaw: (...) radians; half_size: (..., 2) (half length, half width).
  """
  signs = jnp.array([[1., -1.], [1., 1.], [-1., 1.], [-1., -1.]], half_size.dtype)
  local = signs * half_size[..., None, :]  # (..., 4, 2)
  c, s = jnp.cos(yaw)[..., None], jnp.sin(yaw)[..., None]
  x = c * local[..., 0] - s * local[..., 1]
  y = s * local[..., 0] + c * local[..., 1]
  return centre[..., None, :] + jnp.stack([x, y], axis=-1)


def _core_and_radius(fp: Footprints) -> tuple[jax.Array, jax.Array]:
  """(core corners (..., 4, 2), rounding radius (...)) of the rounded-rectangle form."""
  core_half = jnp.where(fp.is_disc[..., None], 0., fp.half_size)
  radius = jnp.where(fp.is_disc, fp.half_size[..., 0], 0.)
  return rectangle_corners(fp.centre, fp.yaw, core_half), radius


def _point_segment_sq_distance(p: jax.Array, a: jax.Array, b: jax.Array) -> jax.Array:
  """Squared distance from points p (..., 2) to segments [a, b] (..., 2); a == b allowed."""
  ab = b - a
  den = jnp.sum(ab * ab, axis=-1)
  # A zero-length segment (a disc's core) has num == 0 too; the floor keeps 0/0 out.
  t = jnp.clip(jnp.sum((p - a) * ab, axis=-1) / jnp.maximum(den, jnp.finfo(den.dtype).tiny),
               0., 1.)
  diff = p - (a + t[..., None] * ab)
  return jnp.sum(diff * diff, axis=-1)


def _polygon_sq_distance(pa: jax.Array, pb: jax.Array) -> jax.Array:
  """Squared distance between two disjoint convex quads (4, 2): min vertex-edge distance."""
  def one_way(p, q):
    edges_a, edges_b = q, jnp.roll(q, -1, axis=0)
    d = _point_segment_sq_distance(p[:, None, :], edges_a[None], edges_b[None])  # (4, 4)
    return jnp.min(d)
  return jnp.minimum(one_way(pa, pb), one_way(pb, pa))


def _sat_gap(pa: jax.Array, pb: jax.Array, yaw_a: jax.Array, yaw_b: jax.Array) -> jax.Array:
  """Largest gap (metres) between projections of two rectangles on their 4 edge normals.

  <= 0 iff the closed rectangles intersect (separating axis theorem); when > 0 it is a lower
  bound of their Euclidean distance, which is then computed exactly elsewhere.
  """
  angles = jnp.stack([yaw_a, yaw_a + jnp.pi / 2, yaw_b, yaw_b + jnp.pi / 2])
  axes = jnp.stack([jnp.cos(angles), jnp.sin(angles)], axis=-1)  # (4, 2)
  proj_a = pa @ axes.T  # (4 corners, 4 axes)
  proj_b = pb @ axes.T
  gaps = jnp.maximum(proj_b.min(0) - proj_a.max(0), proj_a.min(0) - proj_b.max(0))
  return jnp.max(gaps)


def separation(a: Footprints, b: Footprints) -> jax.Array:
  """Signed clearance () metres between two single footprints of any kinds.

  Positive: the exact Euclidean distance between the two shapes. Zero: touching. Negative:
  they overlap (the magnitude is a penetration depth estimate, exact for disc/disc).
  """
  pa, ra = _core_and_radius(a)
  pb, rb = _core_and_radius(b)
  gap = _sat_gap(pa, pb, a.yaw, b.yaw)
  # Euclidean core distance when the cores are apart; else the (non-positive) SAT gap.
  core = jnp.where(gap > 0., jnp.sqrt(_polygon_sq_distance(pa, pb)), gap)
  return core - ra - rb


def overlap(a: Footprints, b: Footprints, margin: float | jax.Array = 0.) -> jax.Array:
  """Whether two single footprints come closer than `margin` metres: () bool.

  margin = 0 tests interior overlap (touching is not overlap); margin > 0 also flags shapes
  closer than margin, i.e. it is overlap of `a` grown by a disc of radius margin with `b`.
  """
  return separation(a, b) < margin


def pairwise_overlap(fp: Footprints, valid: jax.Array,
                     margin: float | jax.Array = 0.) -> jax.Array:
  """(N, N) bool: footprint i overlaps footprint j (closer than margin), both valid, i != j.

  fp: an (N,) batch; valid: (N,) bool, False for padding slots.
  """
  sep = jax.vmap(lambda a: jax.vmap(lambda b: separation(a, b))(fp))(fp)
  n = valid.shape[0]
  return (sep < margin) & valid[:, None] & valid[None, :] & ~jnp.eye(n, dtype=bool)
