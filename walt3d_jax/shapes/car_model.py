"""Linear shape model of the 12 car keypoints: X = Q̄ + Σ_k α_k Q_k (metres, object frame).

The basis is a PCA of the parametric car family (`walt3d_jax.shapes.vehicle`), built by
`python -m walt3d_jax.shapes.build_car_model` into data/car_pca.npz with 10 components stored;
`load_car_model(num_components)` keeps the first K. On cars held out from the fitting
population the K = 5 model reconstructs keypoints to a few millimetres RMS
(tests/shapes/test_car_model.py measures it).
"""

from __future__ import annotations

import pathlib
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from walt3d_jax.shapes import vehicle

CAR_PCA_PATH = pathlib.Path(__file__).parent / "data" / "car_pca.npz"


class CarShapeModel(NamedTuple):
  """mean: (12, 3) metres; components: (K, 12, 3), orthonormal as flattened (36,) vectors;
  stddev: (K,) metres, the population's standard deviation of each coefficient α_k."""

  mean: jnp.ndarray
  components: jnp.ndarray
  stddev: jnp.ndarray

  @property
  def num_components(self) -> int:
    return self.components.shape[0]


def load_car_model(num_components: int = 5, path: str | pathlib.Path = CAR_PCA_PATH,
                   dtype=jnp.float32) -> CarShapeModel:
  """Reads the PCA file and keeps its first `num_components` components (1 ≤ K ≤ stored)."""
  path = pathlib.Path(path)
  with np.load(path, allow_pickle=False) as data:
    for field, shape in (("mean", (12, 3)), ("components", (None, 12, 3)), ("stddev", (None,))):
      if field not in data:
        raise ValueError(f"{path}: missing field {field!r}")
      arr = data[field]
      if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape)):
        raise ValueError(f"{path}: field {field!r} has shape {arr.shape}, expected {shape}")
      if not np.all(np.isfinite(arr)):
        raise ValueError(f"{path}: field {field!r} is not finite")
    mean, components, stddev = data["mean"], data["components"], data["stddev"]
    if "keypoint_names" in data and tuple(data["keypoint_names"]) != vehicle.CAR_KEYPOINT_NAMES:
      raise ValueError(f"{path}: keypoint_names differ from vehicle.CAR_KEYPOINT_NAMES")
  stored = components.shape[0]
  if stddev.shape != (stored,):
    raise ValueError(f"{path}: stddev has shape {stddev.shape}, expected ({stored},)")
  if not 1 <= num_components <= stored:
    raise ValueError(f"num_components must be in [1, {stored}], got {num_components}")
  return CarShapeModel(
      mean=jnp.asarray(mean, dtype),
      components=jnp.asarray(components[:num_components], dtype),
      stddev=jnp.asarray(stddev[:num_components], dtype),
  )


def keypoints_from_shape(model: CarShapeModel, alpha: jnp.ndarray) -> jnp.ndarray:
  """Keypoints (..., 12, 3) metres, object frame, of shape coefficients alpha (..., K)."""
  return model.mean + jnp.einsum("...k,kpc->...pc", alpha, model.components)


def shape_from_keypoints(model: CarShapeModel, keypoints: jnp.ndarray,
                         weights: jnp.ndarray | None = None) -> jnp.ndarray:
  """Least-squares coefficients alpha (..., K) of keypoints (..., 12, 3) metres.

  weights: optional (..., 12) non-negative per-keypoint weights (0 = unknown keypoint). With
  none the components' orthonormality makes the fit a projection; with weights it solves the
  K × K normal equations, which needs the weighted keypoints to pin down every component.
  """
  basis = model.components.reshape(model.components.shape[0], -1)  # (K, 36)
  residual = (keypoints - model.mean).reshape(*keypoints.shape[:-2], -1)
  if weights is None:
    return residual @ basis.T
  w = jnp.repeat(weights, 3, axis=-1)  # one weight per coordinate, (..., 36)
  normal = jnp.einsum("kd,...d,jd->...kj", basis, w, basis)
  rhs = jnp.einsum("kd,...d,...d->...k", basis, w, residual)
  return jnp.linalg.solve(normal, rhs[..., None])[..., 0]
