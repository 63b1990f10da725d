"""walt3d_jax: time-lapse → clip-art training data for amodal 2D/3D reconstruction (WALT3D)."""

__version__ = "0.1.0"
