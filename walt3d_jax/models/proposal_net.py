"""Object proposals from a frame and its background: a small centre-based detector (CenterNet)
that finds what the background difference alone leaves under the noise (far and dark objects at
night, above all).

  model = proposal_net.create("S", seed)
  out = model(images, backgrounds)              # (B, H, W, 3) uint8 each
  det = proposal_net.decode(out, threshold, k)  # fixed k candidates per image

Input: the frame and the background it is detected against, both scaled by one gain per image
that brings the background's mean level to MEAN_LEVEL (a night frame is an order of magnitude
darker than a day frame, its objects' contrast with it too), and their difference: 9 channels.
The amodal detector's backbone and neck (`models/amodal.py`) make the stride-4 map; on it:
  heatmap (B, h, w, 2) logits, one channel per class (car, person): visible-box centres
  ltrb    (B, h, w, 4) pixels >= 0: the visible box's sides from the cell centre
"""

from __future__ import annotations

import functools
import math

from flax import nnx
import jax
import jax.numpy as jnp

from walt3d_jax.models import amodal

IN_CHANNELS = 9
OUTPUT_STRIDE = amodal.OUTPUT_STRIDE
MEAN_LEVEL = 0.4  # the background's mean level, in [0, 1], after the per-image gain
MAX_GAIN = 8.0  # a frame at most this much darker than MEAN_LEVEL is brought up to it
# Stages at strides 4, 8, 16: a car 150 pixels long at 480×270 is inside the stride-16 cells' reach.
VARIANTS = {
    "tiny": amodal.Variant((8, 8, 16), (1, 1, 1), 8, 8, 0),
    "S": amodal.Variant((16, 32, 48), (1, 1, 1), 32, 32, 0),
}
_HEATMAP_PRIOR = 0.01  # initial centre probability: most cells hold no object's centre


def inputs(images: jax.Array, backgrounds: jax.Array) -> jax.Array:
  """(B, H, W, 9) float network input of uint8 frames and backgrounds (B, H, W, 3): both times
  one gain per image (MEAN_LEVEL over the background's mean, 1 to MAX_GAIN), and their difference."""
  f = jnp.asarray(images, jnp.float32) / 255.0
  b = jnp.asarray(backgrounds, jnp.float32) / 255.0
  gain = jnp.clip(MEAN_LEVEL / jnp.maximum(b.mean(axis=(1, 2, 3), keepdims=True), 1e-3), 1.0, MAX_GAIN)
  f, b = f * gain, b * gain
  return jnp.concatenate([f * 2.0 - 1.0, b * 2.0 - 1.0, (f - b) * 4.0], axis=-1)


class ProposalNet(nnx.Module):
  """ProposalNet(variant, rngs=...)(images, backgrounds) -> {"heatmap", "ltrb"} at stride 4."""

  def __init__(self, variant: str = "S", *, rngs: nnx.Rngs):
    if variant not in VARIANTS:
      raise ValueError(f"unknown variant {variant!r}; known: {sorted(VARIANTS)}")
    self.variant = variant
    v = VARIANTS[variant]
    self.backbone = amodal.Backbone(v, IN_CHANNELS, rngs=rngs)
    self.neck = amodal.Neck(v.widths, v.neck, rngs=rngs)
    prior = math.log(_HEATMAP_PRIOR / (1 - _HEATMAP_PRIOR))
    self.heatmap = amodal.Head(v.neck, v.head, amodal.NUM_CLASSES, rngs=rngs, bias=prior)
    self.box = amodal.Head(v.neck, v.head, 4, rngs=rngs)

  def __call__(self, images: jax.Array, backgrounds: jax.Array) -> dict[str, jax.Array]:
    """images, backgrounds: (B, H, W, 3) uint8 (or float in [0, 255]); maps (B, ⌈H/4⌉, ⌈W/4⌉, ·)."""
    if images.shape != backgrounds.shape or images.ndim != 4 or images.shape[-1] != 3:
      raise ValueError(f"images {images.shape} and backgrounds {backgrounds.shape} must both be (B, H, W, 3)")
    f = self.neck(self.backbone(inputs(images, backgrounds)))
    return {"heatmap": self.heatmap(f), "ltrb": jax.nn.softplus(self.box(f)) * (4.0 * OUTPUT_STRIDE)}


@functools.partial(nnx.jit, static_argnums=(1,))
def _build(key: jax.Array, variant: str) -> ProposalNet:
  return ProposalNet(variant, rngs=nnx.Rngs(params=key))


def create(variant: str = "S", seed: int = 0) -> ProposalNet:
  """A freshly initialised network, built under jit (one compilation of all initialisers)."""
  if variant not in VARIANTS:
    raise ValueError(f"unknown variant {variant!r}; known: {sorted(VARIANTS)}")
  return _build(jax.random.key(seed), variant)


def boxes_at(ltrb: jax.Array) -> jax.Array:
  """(B, h·w, 4) boxes [x0, y0, x1, y1] pixels of every cell from its ltrb (B, h, w, 4)."""
  b, h, w, _ = ltrb.shape
  centres = amodal.cell_centres(h, w)[None]  # (1, h·w, 2)
  d = ltrb.reshape(b, h * w, 4)
  return jnp.concatenate([centres - d[..., :2], centres + d[..., 2:]], axis=-1)


def decode(outputs: dict[str, jax.Array], max_detections: int) -> dict[str, jax.Array]:
  """The top `max_detections` heatmap peaks (3×3 local maxima) per image:
  boxes (B, k, 4) [x0, y0, x1, y1] pixels, scores (B, k) probabilities, categories (B, k) int
  (1 car, 2 person). Callers keep those above their threshold."""
  heat = jax.nn.sigmoid(outputs["heatmap"])
  b, h, w, c = heat.shape
  peak = heat == jax.lax.reduce_window(heat, -jnp.inf, jax.lax.max, (1, 3, 3, 1), (1, 1, 1, 1), "SAME")
  flat = jnp.where(peak, heat, 0.0).reshape(b, h * w * c)
  scores, index = jax.lax.top_k(flat, max_detections)
  cell, channel = index // c, index % c
  boxes = jnp.take_along_axis(boxes_at(outputs["ltrb"]), cell[..., None], axis=1)
  return {"boxes": boxes, "scores": scores, "categories": channel + 1}


@functools.partial(nnx.jit, static_argnums=(3,))
def detect(model: ProposalNet, images: jax.Array, backgrounds: jax.Array, max_detections: int) -> dict[str, jax.Array]:
  """`decode` of the network's maps of images and backgrounds (B, H, W, 3) uint8, jitted (one
  compilation per shape)."""
  return decode(model(images, backgrounds), max_detections)
