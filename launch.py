r"""Runs one experiment: `python launch.py --config experiments/NAME.py[:arg] --workdir DIR`.

The config names its job (`config.job`); every stage of the pipeline registers one here. Any
config field can be overridden from the command line, e.g. `--config.seed=3`.

Compiled XLA programs are kept in a persistent cache (`--compilation_cache`, on by default), so
a job run again with the same shapes skips most of its compile time (the fit of a 64-track
batch: 7.0 s → 2.3 s on 2 CPU cores). JAX keys entries by program, compile options and
versions; `--compilation_cache=` turns it off.
"""

from __future__ import annotations

import importlib
import os
import pathlib

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

# job name -> "module:function"; the function takes (config, workdir: pathlib.Path).
# Imported lazily so that a job's heavy dependencies load only when it runs.
JOBS = {
    "simulate": "walt3d_jax.sim.simulate:run",
    "demo": "walt3d_jax.demo:run",
    "mine": "walt3d_jax.timelapse.mine:run",
    "occlusion_classifier": "walt3d_jax.train.occlusion:run",
    "fit": "walt3d_jax.fit.bank_fit:run",
}

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Experiment config file (experiments/NAME.py[:arg]).", lock_config=True
)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for everything the job writes.")
_CACHE = flags.DEFINE_string(
    "compilation_cache",
    os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "walt3d_jax", "jax"),
    "Directory of JAX's persistent compilation cache; empty: no cache.",
)
flags.mark_flags_as_required(["config", "workdir"])


def resolve_job(name: str):
  """The callable registered for job `name`; a clear error for an unknown one."""
  if name not in JOBS:
    raise app.UsageError(f"config.job={name!r} is not a known job; known: {sorted(JOBS)}")
  module_name, function_name = JOBS[name].split(":")
  return getattr(importlib.import_module(module_name), function_name)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  config = _CONFIG.value
  if "job" not in config:
    raise app.UsageError("The config has no `job` field naming what to run.")
  workdir = pathlib.Path(_WORKDIR.value)
  workdir.mkdir(parents=True, exist_ok=True)
  if _CACHE.value:
    import jax  # only here: jobs that never touch jax still start fast

    jax.config.update("jax_compilation_cache_dir", _CACHE.value)
  logging.info("job %s → %s\n%s", config.job, workdir, config)
  resolve_job(config.job)(config, workdir)


if __name__ == "__main__":
  app.run(main)
