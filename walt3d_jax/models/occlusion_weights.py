"""The occlusion classifiers shipped with the package: models/data/occlusion_classifier.npz
(trained on the imitated detector's objects) and occlusion_classifier_builtin.npz (trained on the
built-in detector's own detections, those that match no true object labelled to turn down).

One small .npz file holds everything inference needs, so mining filters occluded objects without
training anything at run time:
  params/<path>      float32 parameter arrays, named by their NNX path ("params/blocks/0/conv1/kernel")
  meta/threshold     () float: keep an object as unoccluded when P(occluded) < threshold
  meta/crop_size     () int: crop side in pixels (timelapse/occlusion_data.frame_crops)
  meta/context       () float: crop margin per side, fraction of the box's longer side
  meta/variant       () str: OcclusionClassifier variant
  meta/in_channels   () int: crop channels
  meta/config        () str: JSON of the training config, the record of how it was made
Written by `python -m walt3d_jax.models.build_occlusion_weights`.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib

from flax import nnx
import jax.numpy as jnp
import numpy as np

from walt3d_jax.models import occlusion_classifier as oc

SHIPPED_PATH = pathlib.Path(__file__).parent / "data" / "occlusion_classifier.npz"
SHIPPED_BUILTIN_PATH = pathlib.Path(__file__).parent / "data" / "occlusion_classifier_builtin.npz"
# The same network turning down the built-in detector's false detections (timelapse/verify.py).
SHIPPED_VERIFIER_PATH = pathlib.Path(__file__).parent / "data" / "detection_verifier.npz"
_PARAMS = "params/"
_META = ("meta/threshold", "meta/crop_size", "meta/context", "meta/variant", "meta/in_channels")


@dataclasses.dataclass(frozen=True)
class Weights:
  """A classifier and how to feed it."""

  model: oc.OcclusionClassifier
  threshold: float  # P(occluded) at and above which an object is rejected
  crop_size: int  # pixels
  context: float  # fraction of the box's longer side


def _key(path: tuple) -> str:
  return _PARAMS + "/".join(str(p) for p in path)


def param_arrays(model: nnx.Module) -> dict[str, np.ndarray]:
  """The model's parameters as float32 arrays named params/<NNX path>."""
  return {_key(path): np.asarray(variable.get_value(), np.float32)
          for path, variable in nnx.to_flat_state(nnx.state(model, nnx.Param))}


def restore_params(model: nnx.Module, arrays: dict[str, np.ndarray], name: str, what: str) -> None:
  """Sets the parameters of `model` (built with nnx.eval_shape: shapes only) from `arrays`;
  errors name `name` (the file), `what` (the model) and the missing, mis-shaped or extra entry."""
  flat = []
  for path, variable in nnx.to_flat_state(nnx.state(model, nnx.Param)):
    key, want = _key(path), variable.get_value()
    if key not in arrays:
      raise ValueError(f"{name}: missing {key} of {what}")
    value = np.asarray(arrays[key])
    if value.shape != tuple(want.shape):
      raise ValueError(f"{name}: {key} has shape {value.shape}, expected {tuple(want.shape)}")
    flat.append((path, variable.replace(jnp.asarray(value, want.dtype))))
  extra = sorted(k for k in arrays if k.startswith(_PARAMS) and k not in {_key(p) for p, _ in flat})
  if extra:
    raise ValueError(f"{name}: unexpected parameters {extra[:3]} for {what}")
  nnx.update(model, nnx.from_flat_state(flat))


def to_arrays(model: oc.OcclusionClassifier, threshold: float, crop_size: int, context: float,
              config_json: str = "") -> dict[str, np.ndarray]:
  """The named arrays of the file format above, in sorted key order."""
  arrays = param_arrays(model)
  arrays.update({
      "meta/threshold": np.asarray(threshold, np.float64),
      "meta/crop_size": np.asarray(crop_size, np.int64),
      "meta/context": np.asarray(context, np.float64),
      "meta/variant": np.asarray(model.variant),
      "meta/in_channels": np.asarray(model.in_channels, np.int64),
      "meta/config": np.asarray(config_json),
  })
  return dict(sorted(arrays.items()))


def save(path: pathlib.Path, arrays: dict[str, np.ndarray]) -> None:
  """Writes `arrays` in sorted key order; np.savez stamps zip members with a fixed date, so equal
  arrays give equal bytes."""
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  with open(path, "wb") as f:
    np.savez(f, **dict(sorted(arrays.items())))


def from_arrays(arrays: dict[str, np.ndarray], name: str = "weights") -> Weights:
  """Builds the model from named arrays; errors name `name` (the file) and the missing or
  mis-shaped entry."""
  missing = [k for k in _META if k not in arrays]
  if missing:
    raise ValueError(f"{name}: missing {missing}; expected the layout of walt3d_jax/models/occlusion_weights.py")
  variant, in_channels = str(arrays["meta/variant"]), int(arrays["meta/in_channels"])
  if variant not in oc.VARIANTS:
    raise ValueError(f"{name}: meta/variant {variant!r} is not one of {sorted(oc.VARIANTS)}")
  # Shapes only: no initialiser runs, the file provides every value.
  model = nnx.eval_shape(lambda: oc.OcclusionClassifier(variant, in_channels, rngs=nnx.Rngs(0)))
  restore_params(model, arrays, name, f"a {variant!r} classifier")
  return Weights(model, float(arrays["meta/threshold"]), int(arrays["meta/crop_size"]),
                 float(arrays["meta/context"]))


def read_arrays(path: pathlib.Path, kind: str, builder: str) -> dict[str, np.ndarray]:
  """The named arrays of a weights .npz; FileNotFoundError naming `kind` (what the file holds)
  and `builder` (the module that builds it) when there is no such file."""
  path = pathlib.Path(path)
  if not path.is_file():
    raise FileNotFoundError(f"{path}: no {kind} weights (build them with python -m {builder})")
  with np.load(path, allow_pickle=False) as data:
    return {k: data[k] for k in data.files}


def load(path: pathlib.Path) -> Weights:
  """The classifier stored in `path` (.npz, the layout above)."""
  return from_arrays(read_arrays(path, "occlusion classifier", "walt3d_jax.models.build_occlusion_weights"),
                     str(path))


def shipped_path(built_in: bool = False) -> pathlib.Path:
  """The shipped classifier for the built-in detector's detections (SHIPPED_BUILTIN_PATH) or for
  detector-like masks (SHIPPED_PATH)."""
  return SHIPPED_BUILTIN_PATH if built_in else SHIPPED_PATH


def load_shipped(path: pathlib.Path = SHIPPED_PATH) -> tuple[oc.OcclusionClassifier, float, int, float]:
  """(model, threshold, crop_size, context) of a classifier shipped with the package (SHIPPED_PATH
  or SHIPPED_BUILTIN_PATH)."""
  weights = load(path)
  return weights.model, weights.threshold, weights.crop_size, weights.context


def training_config(path: pathlib.Path = SHIPPED_PATH) -> dict:
  """The training config recorded in a weights file (a dict; empty when none was recorded)."""
  with np.load(path, allow_pickle=False) as data:
    text = str(data["meta/config"]) if "meta/config" in data.files else ""
  return json.loads(text) if text else {}
