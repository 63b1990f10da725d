r"""Builds the shipped proposal network (walt3d_jax/models/data/proposal_net.npz, timelapse/propose.py).

  python -m walt3d_jax.models.build_proposal_net \
      [--config experiments/proposal_net.py] [--output PATH] [--cache_dir DIR]

Runs the `proposal_net` job (walt3d_jax/train/proposals.py) in a fresh temporary directory on the
config's simulated scenes (cached in --cache_dir; default a temporary directory) and copies the
weights it writes to --output; prints the job's summary (validation and held-out scores). Seeds
are fixed (scenes, initialisation, windows, flips) and XLA's CPU backend runs with single-threaded
Eigen, as for the other shipped networks: a second build on this machine gave the same bytes
(sha256 5ed655dc…, 2026-12-05).
"""

from __future__ import annotations

import pathlib

import ml_collections

from walt3d_jax.models import build_occlusion_weights
from walt3d_jax.models import proposal_weights
from walt3d_jax.train import proposals as proposal_training

DEFAULT_CONFIG = pathlib.Path(__file__).resolve().parents[2] / "experiments" / "proposal_net.py"


def build(config: ml_collections.ConfigDict, path: pathlib.Path, cache_dir: pathlib.Path | None = None) -> dict:
  """Trains the network of `config` (an experiments/proposal_net.py config) and writes it to
  `path`; returns the job's summary with the file's size and the seconds taken."""
  return build_occlusion_weights.build_job(proposal_training.run, proposal_training.WEIGHTS_NAME, config, path,
                                           cache_dir, "proposal_net_")


if __name__ == "__main__":
  build_occlusion_weights.run_script(build, str(DEFAULT_CONFIG), proposal_weights.SHIPPED_PATH)
