"""Reconstruction of unoccluded objects: pose and shape fitting."""
