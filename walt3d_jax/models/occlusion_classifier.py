"""Occlusion classifier (the paper's "OC"): a small CNN on an object's crop + masks → P(occluded).

Input: (B, S, S, C) float32 crops (RGB, visible mask, inside-image plane, nearer objects; see
timelapse/occlusion_data.py), scaled to [0, 1]. Output: (B,) logits of "occluded or truncated".
Conv blocks (two 3×3 convs + ReLU, then 2×2 max-pool), global average and max pooling (max keeps
small evidence such as a pole crossing the mask), a linear head.
"""

from __future__ import annotations

import functools

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np

from walt3d_jax.models.padded_batches import padded_map

# variant -> channels per block. "S" trains in a couple of minutes on 2 CPU cores at 48×48.
VARIANTS = {
    "Ti": (8, 16, 32),
    "S": (16, 32, 64),
    "M": (32, 64, 128, 128),
}


class ConvBlock(nnx.Module):
  """Two 3×3 convolutions with ReLU, then 2×2 max-pooling: (B, H, W, Cin) → (B, H/2, W/2, Cout)."""

  def __init__(self, in_features: int, out_features: int, *, rngs: nnx.Rngs):
    self.conv1 = nnx.Conv(in_features, out_features, (3, 3), rngs=rngs)
    self.conv2 = nnx.Conv(out_features, out_features, (3, 3), rngs=rngs)

  def __call__(self, x: jax.Array) -> jax.Array:
    x = jax.nn.relu(self.conv1(x))
    x = jax.nn.relu(self.conv2(x))
    return nnx.max_pool(x, (2, 2), strides=(2, 2))


class OcclusionClassifier(nnx.Module):
  """OcclusionClassifier(variant="S", in_channels=6, rngs=nnx.Rngs(0))(crops) -> (B,) logits."""

  def __init__(self, variant: str = "S", in_channels: int = 6, *, rngs: nnx.Rngs):
    if variant not in VARIANTS:
      raise ValueError(f"unknown variant {variant!r}; known: {sorted(VARIANTS)}")
    self.variant, self.in_channels = variant, in_channels
    widths = VARIANTS[variant]
    self.blocks = nnx.List([ConvBlock(a, b, rngs=rngs)
                            for a, b in zip((in_channels,) + widths[:-1], widths)])
    self.head = nnx.Linear(2 * widths[-1], 1, rngs=rngs)

  def __call__(self, crops: jax.Array) -> jax.Array:
    """crops: (B, S, S, C) float in [0, 1]; returns (B,) logits of "occluded"."""
    if crops.ndim != 4 or crops.shape[-1] != self.in_channels:
      raise ValueError(f"crops must be (B, S, S, {self.in_channels}), got shape {crops.shape}")
    x = crops * 2.0 - 1.0  # centred inputs train faster without a normalisation layer
    for block in self.blocks:
      x = block(x)
    pooled = jnp.concatenate([x.mean(axis=(1, 2)), x.max(axis=(1, 2))], axis=-1)
    return self.head(pooled)[:, 0]


@functools.partial(nnx.jit, static_argnums=(1, 2))
def _build(key: jax.Array, variant: str, in_channels: int) -> OcclusionClassifier:
  return OcclusionClassifier(variant, in_channels, rngs=nnx.Rngs(params=key))


def create(variant: str = "S", in_channels: int = 6, seed: int = 0) -> OcclusionClassifier:
  """A freshly initialised classifier, built under jit: one compilation per (variant, channels)
  of all initialisers instead of one eager compilation per parameter (~20 s on 2 cores)."""
  return _build(jax.random.key(seed), variant, in_channels)


def crops_to_input(crops) -> jax.Array:
  """uint8 crops (B, S, S, C) → float32 in [0, 1]."""
  return jnp.asarray(crops, jnp.float32) / 255.0


@nnx.jit
def _logits(model: OcclusionClassifier, crops: jax.Array) -> jax.Array:
  return model(crops_to_input(crops))


def predict(model: OcclusionClassifier, crops: np.ndarray, batch_size: int = 256) -> np.ndarray:
  """(N,) float probability that each crop (N, S, S, C) uint8 shows an occluded/truncated object
  (or, for the detection verifier, no object). Batches are padded to batch_size so the jitted
  forward pass compiles once."""
  return padded_map(lambda batch: jax.nn.sigmoid(_logits(model, jnp.asarray(batch))), (crops,), batch_size,
                    np.zeros((0,), np.float32))
