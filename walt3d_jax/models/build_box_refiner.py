r"""Builds the shipped box refiner (walt3d_jax/models/data/box_refiner.npz, timelapse/refine.py).

  python -m walt3d_jax.models.build_box_refiner \
      [--config experiments/box_refiner.py] [--output PATH] [--cache_dir DIR]

Runs the `box_refiner` job (walt3d_jax/train/box_refiner.py) in a fresh temporary directory on
the config's simulated scenes (cached in --cache_dir; default a temporary directory) and copies
the weights it writes to --output; prints the job's summary (validation and held-out scores).
Seeds are fixed (scenes, initialisation, batch order, flips) and XLA's CPU backend runs with
single-threaded Eigen, as for the occlusion classifier, whose builds this makes byte-identical
(build_occlusion_weights.py); two refiner builds have not been compared.
"""

from __future__ import annotations

import pathlib

import ml_collections

from walt3d_jax.models import build_occlusion_weights
from walt3d_jax.models import refiner_weights
from walt3d_jax.train import box_refiner as box_refiner_training

DEFAULT_CONFIG = pathlib.Path(__file__).resolve().parents[2] / "experiments" / "box_refiner.py"


def build(config: ml_collections.ConfigDict, path: pathlib.Path, cache_dir: pathlib.Path | None = None) -> dict:
  """Trains the refiner of `config` (an experiments/box_refiner.py config) and writes it to
  `path`; returns the job's summary with the file's size and the seconds taken."""
  return build_occlusion_weights.build_job(box_refiner_training.run, box_refiner_training.WEIGHTS_NAME, config, path,
                                           cache_dir, "box_refiner_")


if __name__ == "__main__":
  build_occlusion_weights.run_script(build, str(DEFAULT_CONFIG), refiner_weights.SHIPPED_PATH)
