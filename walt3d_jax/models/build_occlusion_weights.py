r"""Builds the shipped occlusion classifier (walt3d_jax/models/data/occlusion_classifier.npz).

  python -m walt3d_jax.models.build_occlusion_weights \
      [--config experiments/occlusion_classifier.py:shipped] [--output PATH] [--cache_dir DIR]

Trains with the `occlusion_classifier` job's own code (walt3d_jax/train/occlusion.py) on the
config's simulated scenes (its docstring is the record: scenes, time, held-out figures), picks
the operating threshold on the validation scenes and writes parameters, threshold and the
crop settings to one .npz (walt3d_jax/models/occlusion_weights.py). Checkpoints go to a fresh
temporary directory, so a build never resumes an older one; simulated scenes are cached in
--cache_dir (default: a temporary directory too), which changes no byte of the output.

Every seed is fixed (scenes, initialisation, batch order, flips), training and checkpoints start
fresh, and arrays are written in sorted key order, so two builds on the same machine and
jax/jaxlib build give the same bytes: checked twice in full (sha256 8549a2f3…) and, with 3
epochs, also without the Eigen flag below. The script still runs XLA's CPU backend with
single-threaded Eigen (--xla_cpu_multi_thread_eigen=false, set before JAX starts its backend) so
that no thread-pool split of a reduction can change the rounding. Other CPUs (instruction sets)
or library versions may round differently.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import tempfile
import time
from typing import Callable

from absl import app
from absl import flags
from absl import logging
import ml_collections
from ml_collections import config_flags

from walt3d_jax.models import occlusion_classifier as oc
from walt3d_jax.models import occlusion_weights
from walt3d_jax.train import occlusion as occlusion_training

DETERMINISTIC_XLA_FLAG = "--xla_cpu_multi_thread_eigen=false"

DEFAULT_CONFIG = pathlib.Path(__file__).resolve().parents[2] / "experiments" / "occlusion_classifier.py"


def build(config: ml_collections.ConfigDict, path: pathlib.Path, cache_dir: pathlib.Path | None = None) -> dict:
  """Trains the classifier of `config` (an experiments/occlusion_classifier.py config) and writes
  it to `path`; returns a summary (threshold, validation and held-out test scores, seconds)."""
  tic = time.perf_counter()
  config = ml_collections.ConfigDict(config.to_dict())
  with tempfile.TemporaryDirectory(prefix="occlusion_weights_") as tmp:
    workdir = pathlib.Path(tmp)
    config.cache_dir = str(cache_dir) if cache_dir else str(workdir / "sim")
    splits = occlusion_training.load_splits(config, workdir)
    result = occlusion_training.train(config, splits["train"], splits["val"], workdir / "train")
  test_prob = oc.predict(result.model, splits["test"].crops)
  config_json = json.dumps(config.to_dict() | {"cache_dir": ""}, sort_keys=True)
  arrays = occlusion_weights.to_arrays(result.model, result.threshold, config.data.crop_size,
                                       config.data.context, config_json)
  occlusion_weights.save(path, arrays)
  return {
      "threshold": result.threshold,
      "val": result.history[-1],
      "test": occlusion_training.unoccluded_scores(test_prob < result.threshold, splits["test"].occluded),
      "examples": {name: int(examples.num) for name, examples in splits.items()},
      "bytes": pathlib.Path(path).stat().st_size,
      "seconds": round(time.perf_counter() - tic, 1),
  }


def build_job(run: Callable[[ml_collections.ConfigDict, pathlib.Path], dict], weights_name: str,
              config: ml_collections.ConfigDict, path: pathlib.Path, cache_dir: pathlib.Path | None,
              prefix: str) -> dict:
  """Runs a training job `run(config, workdir)` in a fresh temporary directory (scenes cached in
  `cache_dir`, default in there too), copies the weights it writes (workdir/`weights_name`) to
  `path` and returns its summary with the file's size and the seconds taken."""
  tic = time.perf_counter()
  config = ml_collections.ConfigDict(config.to_dict())
  with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
    workdir = pathlib.Path(tmp)
    config.cache_dir = str(cache_dir) if cache_dir else str(workdir / "sim")
    summary = run(config, workdir / "job")
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(workdir / "job" / weights_name, path)
  return summary | {"bytes": path.stat().st_size, "seconds": round(time.perf_counter() - tic, 1)}


def use_deterministic_xla() -> None:
  """Adds DETERMINISTIC_XLA_FLAG to XLA_FLAGS. XLA reads the variable when JAX starts its CPU
  backend (the first computation, not `import jax`), so call it before anything runs."""
  current = os.environ.get("XLA_FLAGS", "")
  if DETERMINISTIC_XLA_FLAG not in current:
    os.environ["XLA_FLAGS"] = f"{current} {DETERMINISTIC_XLA_FLAG}".strip()


def main_of(build_fn: Callable[..., dict]) -> Callable[[list[str]], None]:
  """The absl main of a weights builder: build_fn(--config, --output, --cache_dir or None), then
  its summary printed as JSON."""

  def main(argv) -> None:
    if len(argv) > 1:
      raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    output = pathlib.Path(flags.FLAGS.output)
    cache_dir = pathlib.Path(flags.FLAGS.cache_dir) if flags.FLAGS.cache_dir else None
    summary = build_fn(flags.FLAGS.config, output, cache_dir)
    logging.info("wrote %s", output)
    print(json.dumps(summary, indent=2, sort_keys=True))

  return main


def run_script(build_fn: Callable[..., dict], default_config: str, default_output: pathlib.Path) -> None:
  """A weights builder run as a script: deterministic XLA, the flags --config (default
  `default_config`, "experiments/NAME.py[:arg]"), --output and --cache_dir, then `main_of(build_fn)`.
  Flags are defined only here, so importing a builder's build() defines none."""
  use_deterministic_xla()
  config_flags.DEFINE_config_file("config", default_config, "Training config (experiments/NAME.py[:arg]).")
  flags.DEFINE_string("output", str(default_output), "The .npz to write.")
  flags.DEFINE_string("cache_dir", "", "Simulated scenes, kept for rebuilds (default: temporary).")
  app.run(main_of(build_fn))


if __name__ == "__main__":
  run_script(build, f"{DEFAULT_CONFIG}:shipped", occlusion_weights.SHIPPED_PATH)
