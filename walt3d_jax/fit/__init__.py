"""Reconstruction of unoccluded objects: pose and shape fitting."""

from walt3d_jax.fit.epnp import epnp
