"""Ground clearance between footprints (numpy): do two objects stand at least a margin apart?

Footprints are rows [x, y, yaw, half length, half width] in the ground frame (metres, radians):
cars are oriented rectangles, people discs of radius `half length`. The sampler asks this for
every object it places against every candidate, so it is vectorised over the others and kept
in numpy (one image is a few hundred tiny calls; `geometry.footprint` is the exact jnp version
and the reference the tests check this one against).
"""

from __future__ import annotations

import numpy as np


def _rect_axes(yaw: np.ndarray) -> np.ndarray:
  """(..., 2, 2) unit axes (length, width) of rectangles with heading `yaw`."""
  c, s = np.cos(yaw), np.sin(yaw)
  return np.stack([np.stack([c, s], -1), np.stack([-s, c], -1)], -2)


def footprints_apart(candidate: np.ndarray, candidate_disc: bool, others: np.ndarray,
                     others_disc: np.ndarray, margin: float) -> np.ndarray:
  """(N,) whether footprint `candidate` (5,) [x, y, yaw, half length, half width] stays at
  least `margin` metres from each of `others` (N, 5) (discs: radius = half length).

  Conservative: rectangles are tested by separating axes after growing both by margin / 2 per
  side (a gap ≥ margin along an axis implies a distance ≥ margin), a disc against a rectangle by
  its centre's distance to the rectangle, discs by their centres (both exact).
  """
  delta = others[:, :2] - candidate[:2]
  axes_o = _rect_axes(others[:, 2])  # (N, 2, 2)
  if candidate_disc:
    radius = candidate[3]
    far_discs = np.hypot(delta[:, 0], delta[:, 1]) >= radius + others[:, 3] + margin
    local = np.einsum("nij,nj->ni", axes_o, -delta)  # the disc's centre in each rectangle's frame
    outside = np.maximum(np.abs(local) - others[:, 3:5], 0.0)
    far_rects = np.hypot(outside[:, 0], outside[:, 1]) >= radius + margin
    return np.where(others_disc, far_discs, far_rects)
  axes_c = _rect_axes(np.asarray(candidate[2]))  # (2, 2)
  # Discs: their centre's distance to the candidate rectangle.
  local = np.einsum("ij,nj->ni", axes_c, delta)
  outside = np.maximum(np.abs(local) - candidate[3:5], 0.0)
  far_discs = np.hypot(outside[:, 0], outside[:, 1]) >= others[:, 3] + margin
  # Rectangles: separating axes among the 4 edge normals.
  half_c = candidate[3:5] + margin / 2
  half_o = others[:, 3:5] + margin / 2
  all_axes = np.concatenate([np.broadcast_to(axes_c, axes_o.shape), axes_o], axis=1)  # (N, 4, 2)
  dist = np.abs(np.einsum("nai,ni->na", all_axes, delta))
  reach_c = np.abs(np.einsum("nai,ji->naj", all_axes, axes_c)) @ half_c
  reach_o = np.einsum("naj,nj->na", np.abs(np.einsum("nai,nji->naj", all_axes, axes_o)), half_o)
  far_rects = np.any(dist >= reach_c + reach_o, axis=1)
  return np.where(others_disc, far_discs, far_rects)


def footprints_clear(candidate: np.ndarray, candidate_disc: bool, placed: np.ndarray,
                     placed_disc: np.ndarray, margin: float) -> bool:
  """Whether `candidate` stays at least `margin` metres from every `placed` footprint."""
  return bool(np.all(footprints_apart(candidate, candidate_disc, placed, placed_disc, margin)))
