"""Box refiner: a small CNN that moves a detection's box edges to the object's.

Input: the detection verifier's crops (B, S, S, 8) float in [0, 1] (frame, the detection's mask,
inside-image plane, background; `timelapse/verifier_data.verifier_crops`) and the detection's own
box edges (B, 4) [left, top, right, bottom] in units of the crop window's side, measured from its
top-left corner (`timelapse/refine.py`). Output: (B, 4) offsets to add to those edges.

The occlusion classifier's conv blocks, then the last feature map flattened rather than pooled:
where an edge lies is the answer here, and global pooling throws position away (pooled, the same
network moved no more boxes over IoU 0.5 than under it). The output layer starts at zero, so an
untrained refiner leaves boxes as they are.
"""

from __future__ import annotations

import functools

from flax import nnx
import jax
import jax.numpy as jnp

from walt3d_jax.models import occlusion_classifier as oc

HIDDEN = 128  # units of the layer between the flattened features and the offsets


class BoxRefiner(nnx.Module):
  """BoxRefiner(variant, in_channels, crop_size, rngs=...)(crops, edges) -> (B, 4) edge offsets."""

  def __init__(self, variant: str = "S", in_channels: int = 8, crop_size: int = 32, *, rngs: nnx.Rngs):
    if variant not in oc.VARIANTS:
      raise ValueError(f"unknown variant {variant!r}; known: {sorted(oc.VARIANTS)}")
    widths = oc.VARIANTS[variant]
    if crop_size % 2 ** len(widths):
      raise ValueError(f"crop_size {crop_size} must be a multiple of {2 ** len(widths)} for variant {variant!r}")
    self.variant, self.in_channels, self.crop_size = variant, in_channels, crop_size
    self.blocks = nnx.List([oc.ConvBlock(a, b, rngs=rngs)
                            for a, b in zip((in_channels,) + widths[:-1], widths)])
    side = crop_size // 2 ** len(widths)
    self.hidden = nnx.Linear(side * side * widths[-1] + 4, HIDDEN, rngs=rngs)
    self.out = nnx.Linear(HIDDEN, 4, kernel_init=nnx.initializers.zeros, rngs=rngs)

  def __call__(self, crops: jax.Array, edges: jax.Array) -> jax.Array:
    """crops: (B, S, S, C) float in [0, 1]; edges: (B, 4) window units; returns (B, 4) offsets."""
    if crops.ndim != 4 or crops.shape[1:] != (self.crop_size, self.crop_size, self.in_channels):
      raise ValueError(f"crops must be (B, {self.crop_size}, {self.crop_size}, {self.in_channels}), "
                       f"got shape {crops.shape}")
    x = crops * 2.0 - 1.0
    for block in self.blocks:
      x = block(x)
    features = jnp.concatenate([x.reshape(x.shape[0], -1), edges], axis=-1)
    return self.out(jax.nn.relu(self.hidden(features)))


@functools.partial(nnx.jit, static_argnums=(1, 2, 3))
def _build(key: jax.Array, variant: str, in_channels: int, crop_size: int) -> BoxRefiner:
  return BoxRefiner(variant, in_channels, crop_size, rngs=nnx.Rngs(params=key))


def create(variant: str = "S", in_channels: int = 8, crop_size: int = 32, seed: int = 0) -> BoxRefiner:
  """A freshly initialised refiner, built under jit (one compilation of all initialisers)."""
  return _build(jax.random.key(seed), variant, in_channels, crop_size)


def flip_edges(edges: jax.Array) -> jax.Array:
  """Edges (..., 4) of the left-right mirrored window: left' = 1 - right, right' = 1 - left."""
  return jnp.stack([1.0 - edges[..., 2], edges[..., 1], 1.0 - edges[..., 0], edges[..., 3]], axis=-1)


def flip_offsets(offsets: jax.Array) -> jax.Array:
  """Edge offsets (..., 4) in the mirrored window: the left's is minus the right's and back."""
  return jnp.stack([-offsets[..., 2], offsets[..., 1], -offsets[..., 0], offsets[..., 3]], axis=-1)
