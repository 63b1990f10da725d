"""Robust losses as residual scalings, so a least-squares solver minimises a robust cost.

For a residual block r (..., D) with squared norm s = |r|², a robust loss ρ(s) (ρ(s) ≈ s for
small s) is minimised by any least-squares solver fed the scaled block r · sqrt(ρ(s) / s): its
squared norm is exactly ρ(s). This is the IRLS-style square-root weighting; unlike reweighting
outside the solver it keeps one pure residual function that LM differentiates end to end.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

LOSSES = ('l2', 'huber', 'cauchy')

# Below this s the scale is 1 to first order for every loss; evaluating ρ(s)/s there would
# divide by (almost) zero.
_TINY = 1e-12


def robust_rho(s: jax.Array, loss: str, scale: float) -> jax.Array:
  """ρ(s) (...) of squared residual norms s (...) ≥ 0, in the units of s.

  loss: 'l2' (ρ = s), 'huber' (s up to scale², then 2·scale·√s − scale²) or 'cauchy'
  (scale²·log(1 + s/scale²)); scale: the residual norm where the loss stops being quadratic.
  """
  if loss == 'l2':
    return s
  c2 = scale * scale
  if loss == 'huber':
    root = jnp.sqrt(jnp.maximum(s, c2))
    return jnp.where(s <= c2, s, 2. * scale * root - c2)
  if loss == 'cauchy':
    return c2 * jnp.log1p(s / c2)
  raise ValueError(f'loss must be one of {LOSSES}, got {loss!r}')


def robust_scale(s: jax.Array, loss: str, scale: float) -> jax.Array:
  """sqrt(ρ(s) / s) (...) for squared norms s (...): multiply a residual block by it."""
  if loss == 'l2':
    return jnp.ones_like(s)
  safe = jnp.maximum(s, _TINY)
  # Both branches are finite everywhere, so the gradient of the unused one is too.
  return jnp.where(s > _TINY, jnp.sqrt(robust_rho(safe, loss, scale) / safe), 1.)


def robustify(residual: jax.Array, loss: str, scale: float) -> jax.Array:
  """Residual blocks (..., D) scaled so that each block's squared norm is ρ(|r|²)."""
  s = jnp.sum(residual * residual, axis=-1)
  return residual * robust_scale(s, loss, scale)[..., None]
