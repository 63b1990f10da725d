"""The box refiner shipped with the package: models/data/box_refiner.npz (timelapse/refine.py).

One .npz, the occlusion classifier's layout (models/occlusion_weights.py) less the threshold:
  params/<path>      float32 parameter arrays, named by their NNX path
  meta/crop_size     () int: crop side in pixels (timelapse/verifier_data.verifier_crops)
  meta/context       () float: crop margin per side, fraction of the box's longer side
  meta/variant       () str: the conv blocks' variant (models/occlusion_classifier.VARIANTS)
  meta/in_channels   () int: crop channels
  meta/config        () str: JSON of the training config, the record of how it was made
Written by `python -m walt3d_jax.models.build_box_refiner`.
"""

from __future__ import annotations

import dataclasses
import pathlib

from flax import nnx
import numpy as np

from walt3d_jax.models import box_refiner
from walt3d_jax.models import occlusion_classifier as oc
from walt3d_jax.models import occlusion_weights

SHIPPED_PATH = pathlib.Path(__file__).parent / "data" / "box_refiner.npz"
_META = ("meta/crop_size", "meta/context", "meta/variant", "meta/in_channels")


@dataclasses.dataclass(frozen=True)
class Weights:
  """A refiner and how to feed it."""

  model: box_refiner.BoxRefiner
  crop_size: int  # pixels
  context: float  # fraction of the box's longer side


def to_arrays(model: box_refiner.BoxRefiner, context: float, config_json: str = "") -> dict[str, np.ndarray]:
  """The named arrays of the file format above."""
  arrays = occlusion_weights.param_arrays(model)
  arrays.update({
      "meta/crop_size": np.asarray(model.crop_size, np.int64),
      "meta/context": np.asarray(context, np.float64),
      "meta/variant": np.asarray(model.variant),
      "meta/in_channels": np.asarray(model.in_channels, np.int64),
      "meta/config": np.asarray(config_json),
  })
  return dict(sorted(arrays.items()))


def from_arrays(arrays: dict[str, np.ndarray], name: str = "weights") -> Weights:
  """Builds the refiner from named arrays; errors name `name` (the file) and the entry."""
  missing = [k for k in _META if k not in arrays]
  if missing:
    raise ValueError(f"{name}: missing {missing}; expected the layout of walt3d_jax/models/refiner_weights.py")
  variant, in_channels, crop_size = (str(arrays["meta/variant"]), int(arrays["meta/in_channels"]),
                                     int(arrays["meta/crop_size"]))
  if variant not in oc.VARIANTS:
    raise ValueError(f"{name}: meta/variant {variant!r} is not one of {sorted(oc.VARIANTS)}")
  model = nnx.eval_shape(lambda: box_refiner.BoxRefiner(variant, in_channels, crop_size, rngs=nnx.Rngs(0)))
  occlusion_weights.restore_params(model, arrays, name, f"a {variant!r} box refiner")
  return Weights(model, crop_size, float(arrays["meta/context"]))


def load(path: pathlib.Path = SHIPPED_PATH) -> Weights:
  """The refiner stored in `path` (.npz, the layout above)."""
  return from_arrays(occlusion_weights.read_arrays(path, "box refiner", "walt3d_jax.models.build_box_refiner"),
                     str(path))
