"""Builds the car keypoint PCA (walt3d_jax/shapes/data/car_pca.npz) from the car family.

  python -m walt3d_jax.shapes.build_car_model [--output PATH]

The population is POPULATION_SIZE cars from `vehicle.sample_car_params`, body types in turn
(equal shares), drawn from one fixed seed, so the file is the same bytes on every run on the
same numpy/LAPACK build.
"""

from __future__ import annotations

import argparse
import pathlib

import numpy as np

from walt3d_jax.shapes import vehicle

POPULATION_SIZE = 3000
POPULATION_SEED = 20240531
MAX_COMPONENTS = 10
DEFAULT_PATH = pathlib.Path(__file__).parent / "data" / "car_pca.npz"


def car_population(seed: int, size: int) -> np.ndarray:
  """(size, 12, 3) metres: keypoints of `size` sampled cars, body types in turn."""
  rng = np.random.default_rng(seed)
  types = vehicle.BODY_TYPES
  return np.stack([vehicle.car_keypoints(vehicle.sample_car_params(rng, types[i % len(types)]))
                   for i in range(size)])


def fit_pca(keypoints: np.ndarray, num_components: int) -> dict[str, np.ndarray]:
  """PCA of keypoints (N, 12, 3): mean (12, 3), components (K, 12, 3), stddev (K,) metres.

  Components are orthonormal as flattened (36,) vectors; each one's sign is fixed so that its
  largest-magnitude entry is positive, because SVD signs are otherwise arbitrary.
  """
  n = len(keypoints)
  flat = keypoints.reshape(n, -1)
  mean = flat.mean(0)
  _, singular, vt = np.linalg.svd(flat - mean, full_matrices=False)
  components = vt[:num_components]
  biggest = np.argmax(np.abs(components), axis=1)
  components = components * np.sign(components[np.arange(num_components), biggest])[:, None]
  return dict(
      mean=mean.reshape(12, 3),
      components=components.reshape(num_components, 12, 3),
      stddev=singular[:num_components] / np.sqrt(n),
  )


def build(path: pathlib.Path = DEFAULT_PATH) -> dict[str, np.ndarray]:
  """Fits the model on the fixed population and writes it to `path` (.npz)."""
  model = fit_pca(car_population(POPULATION_SEED, POPULATION_SIZE), MAX_COMPONENTS)
  path.parent.mkdir(parents=True, exist_ok=True)
  # np.savez stamps zip members with a fixed date, so equal arrays give equal bytes.
  np.savez(path, **model, keypoint_names=np.array(vehicle.CAR_KEYPOINT_NAMES))
  return model


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--output", type=pathlib.Path, default=DEFAULT_PATH)
  args = parser.parse_args()
  model = build(args.output)
  print(f"wrote {args.output}: stddev (m) {np.round(model['stddev'], 4).tolist()}")


if __name__ == "__main__":
  main()
