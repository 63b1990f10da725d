"""Clip-art compositing (WALT3D section 3): mined, fitted objects pasted back onto the median
background with a per-pixel depth test, and their amodal pseudo-ground-truth."""
