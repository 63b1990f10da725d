"""The proposal network shipped with the package: models/data/proposal_net.npz (timelapse/propose.py).

One .npz, the layout of the other shipped networks (models/occlusion_weights.py):
  params/<path>      float32 parameter arrays, named by their NNX path
  meta/variant       () str: models/proposal_net.VARIANTS
  meta/threshold     () float: the centre probability at and above which a peak is proposed
  meta/input_width   () int: the training frames' width; wider frames are shrunk to it (0: never)
  meta/config        () str: JSON of the training config, the record of how it was made
Written by `python -m walt3d_jax.models.build_proposal_net`.
"""

from __future__ import annotations

import dataclasses
import pathlib

from flax import nnx
import numpy as np

from walt3d_jax.models import occlusion_weights
from walt3d_jax.models import proposal_net

SHIPPED_PATH = pathlib.Path(__file__).parent / "data" / "proposal_net.npz"
_META = ("meta/variant", "meta/threshold", "meta/input_width")


@dataclasses.dataclass(frozen=True)
class Weights:
  """A proposal network and its operating threshold."""

  model: proposal_net.ProposalNet
  threshold: float  # centre probability in [0, 1]
  input_width: int  # pixels; 0: frames are used as they come


def to_arrays(model: proposal_net.ProposalNet, threshold: float, input_width: int,
              config_json: str = "") -> dict[str, np.ndarray]:
  """The named arrays of the file format above."""
  arrays = occlusion_weights.param_arrays(model)
  arrays.update({"meta/variant": np.asarray(model.variant), "meta/threshold": np.asarray(threshold, np.float64),
                 "meta/input_width": np.asarray(input_width, np.int64), "meta/config": np.asarray(config_json)})
  return dict(sorted(arrays.items()))


def from_arrays(arrays: dict[str, np.ndarray], name: str = "weights") -> Weights:
  """Builds the network from named arrays; errors name `name` (the file) and the entry."""
  missing = [k for k in _META if k not in arrays]
  if missing:
    raise ValueError(f"{name}: missing {missing}; expected the layout of walt3d_jax/models/proposal_weights.py")
  variant, threshold, input_width = (str(arrays["meta/variant"]), float(arrays["meta/threshold"]),
                                     int(arrays["meta/input_width"]))
  if variant not in proposal_net.VARIANTS:
    raise ValueError(f"{name}: meta/variant {variant!r} is not one of {sorted(proposal_net.VARIANTS)}")
  if not 0.0 < threshold < 1.0:
    raise ValueError(f"{name}: meta/threshold {threshold} must lie in (0, 1)")
  if input_width < 0:
    raise ValueError(f"{name}: meta/input_width {input_width} must be >= 0")
  model = nnx.eval_shape(lambda: proposal_net.ProposalNet(variant, rngs=nnx.Rngs(0)))
  occlusion_weights.restore_params(model, arrays, name, f"a {variant!r} proposal network")
  return Weights(model, threshold, input_width)


def load(path: pathlib.Path = SHIPPED_PATH) -> Weights:
  """The network stored in `path` (.npz, the layout above)."""
  return from_arrays(occlusion_weights.read_arrays(path, "proposal network", "walt3d_jax.models.build_proposal_net"),
                     str(path))
