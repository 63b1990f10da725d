r"""Runs one experiment: `walt3d --config experiments/NAME.py[:arg] --workdir DIR`.

(`python launch.py ...` from the repository does the same.) The config names its job
(`config.job`); every stage of the pipeline registers one in `JOBS`. Any config field can be
overridden from the command line, e.g. `--config.seed=3`.

Compiled XLA programs are kept in a persistent cache (`--compilation_cache`, on by default), so
a job run again with the same shapes skips most of its compile time (the fit of a 64-track
batch: 7.0 s → 2.3 s on 2 CPU cores). JAX keys entries by program, compile options and
versions; `--compilation_cache=` turns it off.

A mistake in what was given (an unknown config field or a bad value, a missing or unreadable
file, an invalid camera.json, detections file or object bank) ends in one line on stderr,
`<prog>: error: <file or field>: <what was expected>`, and exit code 2; a traceback means a bug.
"""

from __future__ import annotations

import importlib
import os
import pathlib
import sys
import textwrap
from typing import Any, NoReturn

# TensorFlow (loaded by TFDS in the clipart, testsets, train and evaluate jobs) prints C++ notes
# at load time. Its oneDNN note ("oneDNN custom operations are on ...") is printed whatever
# TF_CPP_MIN_LOG_LEVEL says (even 3): only TF_ENABLE_ONEDNN_OPTS=0 stops it, which is why the
# log level alone did not quieten the demo. TF_CPP_MIN_LOG_LEVEL=2 drops the rest of its info
# and warning lines (cpu_feature_guard; absl's "before InitializeLog" banner appears only when
# such a line is logged). TensorFlow reads both once, when its library loads, so they are set
# here, before anything imports it; a value the user set wins. TF runs only the input pipeline
# here (datasets and summaries, no model numerics), so oneDNN has nothing to speed up.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import logging as py_logging  # noqa: E402 (the standard library's, beside absl's)

# Nothing below imports TensorFlow yet; kept after the environment all the same.
from absl import app  # noqa: E402
from absl import flags  # noqa: E402
from absl import logging  # noqa: E402
from ml_collections import config_flags  # noqa: E402

from walt3d_jax import errors  # noqa: E402

# job name -> "module:function"; the function takes (config, workdir: pathlib.Path).
# Imported lazily so that a job's heavy dependencies load only when it runs.
JOBS = {
    "simulate": "walt3d_jax.sim.simulate:run",
    "demo": "walt3d_jax.demo:run",
    "mine": "walt3d_jax.timelapse.mine:run",
    "occlusion_classifier": "walt3d_jax.train.occlusion:run",
    "box_refiner": "walt3d_jax.train.box_refiner:run",
    "proposal_net": "walt3d_jax.train.proposals:run",
    "fit": "walt3d_jax.fit.fit_job:run",
    "clipart": "walt3d_jax.data.build:run",
    "testsets": "walt3d_jax.data.testsets:run",
    "train": "walt3d_jax.train.amodal:run",
    "predict": "walt3d_jax.models.predict:run",
    "evaluate": "walt3d_jax.evaluation.job:run",
    "study": "walt3d_jax.evaluation.study:run",
    "from_video": "walt3d_jax.from_video:run",
}

# What each job reads (for --help); everything it writes goes under --workdir.
JOB_INPUTS = {
    "simulate": "nothing: scene presets (config.presets) → sequences with ground truth",
    "demo": "nothing: simulate, mine, fit and compose the clip-art dataset end to end (make demo)",
    "mine": "config.source.video (a video file) or config.source.frames (an image folder); "
            "optional config.source.camera (camera.json) and config.source.detections (COCO "
            "results JSON); none given: a simulated sequence",
    "occlusion_classifier": "nothing: trains on simulated scenes",
    "box_refiner": "nothing: trains on the built-in detector's detections in simulated scenes; see "
                   "experiments/box_refiner.py",
    "proposal_net": "nothing: trains on simulated frames, their backgrounds and visible boxes; see "
                    "experiments/proposal_net.py",
    "fit": "config.bank or config.banks (object banks mined with a camera.json, or a glob); "
           "none given: mines one first with config.mine",
    "clipart": "config.bank (an object bank with 3D fits: the fit job's output); none given: a "
               "fitted bank under --workdir, else the fit job first; see experiments/clipart.py",
    "testsets": "nothing: simulates the true-occlusion test sets (TFDS walt3d_trueocc); see "
                "experiments/testsets.py",
    "train": "config.data.data_dir (a built walt3d_clipart dataset, array_record); none given: "
             "builds a tiny one first; see experiments/train_2d.py, experiments/train_3d.py",
    "predict": "config.checkpoint (a train job's workdir) and config.source (frames, video or a "
               "simulated sequence; optional camera.json); see experiments/predict.py",
    "evaluate": "config.checkpoint (a train job's workdir) and config.dataset, config.data_dir, "
                "config.split (a built walt3d_clipart or walt3d_trueocc split); see experiments/evaluate.py",
    "study": "nothing but an object bank (config.clipart, as the clipart job finds one): trains and "
             "scores the runs of a paper experiment; see experiments/eval_occlusion.py, "
             "eval_data_efficiency.py, eval_tracking.py",
    "from_video": "config.video (or config.frames); optional config.camera and config.detections: "
                  "calibrate, mine, fit and compose into a clip-art dataset; see experiments/from_video.py",
}

# OS errors that mean a path the user gave is missing or unusable (when they name such a path).
_PATH_ERRORS = (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)
# A one-line message longer than this is cut (a reader's report can list thousands of frames).
_MAX_MESSAGE_CHARS = 600

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


def usage_doc() -> str:
  """The --help text: this module's docstring, then every job and what it reads."""
  width = max(map(len, JOBS))
  jobs = "\n".join(textwrap.fill(JOB_INPUTS.get(name, ""), 96, initial_indent=f"  {name:<{width}}  ",
                                subsequent_indent=" " * (width + 4)) for name in JOBS)
  return f"{__doc__}\nJobs (config.job) and what each reads:\n{jobs}\n".replace("%", "%%")


def _program() -> str:
  return os.path.basename(sys.argv[0]) or "walt3d"


def one_line(message: Any) -> str:
  """`message` on one line (its lines joined by ' | '), cut to _MAX_MESSAGE_CHARS."""
  line = " | ".join(part.strip() for part in str(message).splitlines() if part.strip())
  return line if len(line) <= _MAX_MESSAGE_CHARS else line[:_MAX_MESSAGE_CHARS - 1] + "…"


def fail(message: Any) -> NoReturn:
  """The user's mistake: one line on stderr and exit code 2 (as absl's UsageError)."""
  sys.stdout.flush()
  print(f"{_program()}: error: {one_line(message)}", file=sys.stderr, flush=True)
  sys.exit(2)


# ---- flags -------------------------------------------------------------------------------------


def _flag_values(argv: list[str], name: str) -> list[str]:
  """The values of --name=V / --name V in argv."""
  values = []
  for i, arg in enumerate(argv):
    if arg.startswith(f"--{name}="):
      values.append(arg.split("=", 1)[1])
    elif arg == f"--{name}" and i + 1 < len(argv):
      values.append(argv[i + 1])
  return values


def _config_error(error: flags.Error) -> str:
  """A flag error in one line: an exception inside a config file's get_config keeps only its last
  line (the exception itself), not the traceback absl quotes."""
  lines = [line.strip() for line in str(error).splitlines() if line.strip()]
  lines[0] = lines[0].removeprefix("flag ")
  if "Traceback (most recent call last):" not in lines:
    return " ".join(lines)
  return f"{lines[0].removesuffix(':')}: {lines[-1]}"


def parse_flags(argv: list[str]) -> list[str]:
  """absl's flag parsing with config errors turned into one line and exit code 2."""
  try:
    remaining = flags.FLAGS(argv)
    "job" in _CONFIG.value  # ml_collections defers a config file's load error to the first use
    return remaining
  except flags.Error as e:  # a bad flag or value (`--config.seed=abc`), a missing --workdir
    fail(_config_error(e))
  except OSError as e:  # ml_collections cannot load the config file
    path = (_flag_values(argv, "config") or ["?"])[-1].split(":", 1)[0]
    reason = "no such file" if not os.path.isfile(path) else f"cannot be loaded ({one_line(e)})"
    fail(f"--config={path}: {reason}")
  except SyntaxError as e:  # in the config file
    fail(f"--config={e.filename}: line {e.lineno}: {e.msg}")
  except (AttributeError, KeyError) as e:  # ml_collections: an override of a field the config lacks
    overrides = [a.split("=", 1)[0] for a in argv if a.startswith("--config.")]
    missing = str(e.args[0] if e.args else e)
    if isinstance(e, AttributeError) and e.args and isinstance(e.args[0], KeyError):
      missing = str(e.args[0].args[0])
    named = [o for o in overrides if missing.split("\n")[0].strip("'\"") in o.split(".")] or overrides
    fail(f"{', '.join(named)}: the config has no such field ({missing})")


def _config_import_root(argv: list[str]) -> None:
  """Lets a config file inside a package import its siblings (`from experiments import mine`)
  from wherever the launcher runs: the folder above the config's package joins sys.path (last,
  so an installed walt3d_jax stays the one that runs; `python launch.py` has the repository
  first anyway)."""
  for value in _flag_values(argv, "config"):
    folder = pathlib.Path(value.split(":", 1)[0]).resolve().parent
    if not (folder / "__init__.py").is_file():
      continue
    while (folder / "__init__.py").is_file():
      folder = folder.parent
    if str(folder) not in sys.path:
      sys.path.append(str(folder))


# ---- the job -----------------------------------------------------------------------------------


def _strings(value: Any) -> list[str]:
  """Every string in a nested config (as dicts, lists and tuples)."""
  if isinstance(value, str):
    return [value]
  if isinstance(value, dict):
    return [s for v in value.values() for s in _strings(v)]
  if isinstance(value, (list, tuple)):
    return [s for v in value for s in _strings(v)]
  return []


def names_user_path(error: OSError, config, workdir: pathlib.Path) -> bool:
  """Whether an OS error is about a path the user gave (a config field or under --workdir), not
  one of the package's own files (a bug)."""
  given = [pathlib.Path(workdir)] + [pathlib.Path(s) for s in _strings(config.to_dict())
                                     if s and (os.sep in s or pathlib.Path(s).suffix)]
  if error.filename is not None:
    path = pathlib.Path(os.fsdecode(error.filename))
    return any(path == p or p in path.parents for p in given)
  message = str(error)
  return message.startswith("config.") or any(str(p) in message for p in given)


# Source folders whose INFO lines reach the console (this package, the TFDS builders).
_OWN_SOURCES = tuple(str(p) for p in (pathlib.Path(__file__).resolve().parent,
                                      pathlib.Path(__file__).resolve().parents[1] / "tfds_builders"))


# Library warnings that say nothing to a user of ours: TFDS names every job-sized builder config
# (`data.build.builder_config`) a "custom data configuration", as it is.
_EXPECTED_WARNINGS = ("Using custom data configuration",)


class OwnInfoOnly(py_logging.Filter):
  """Keeps a log record if it is a warning or worse, or comes from our own code: libraries'
  INFO lines (JAX probing for a TPU, TFDS's "Generating dataset ...", orbax's checkpoint notes)
  stay off the console. Their warnings and errors still show, but for _EXPECTED_WARNINGS."""

  def filter(self, record: py_logging.LogRecord) -> bool:
    if record.pathname.startswith(_OWN_SOURCES):
      return True
    if record.levelno < py_logging.WARNING:
      return False
    return not (record.levelno == py_logging.WARNING and str(record.msg).startswith(_EXPECTED_WARNINGS))


def save_config(config, workdir: pathlib.Path) -> pathlib.Path:
  """The full config as run, <workdir>/config.yaml (the record; the console gets its path)."""
  path = workdir / "config.yaml"
  path.write_text(str(config))
  return path


def run_job(argv: list[str]) -> None:
  """absl's main: loads the config, runs its job, turns the user's mistakes into one line."""
  if len(argv) > 1:
    fail(f"unexpected arguments {argv[1:]}: everything is a flag (--config, --workdir, --config.FIELD=VALUE)")
  config = _CONFIG.value
  if "job" not in config:
    path = config_flags.get_config_filename(flags.FLAGS["config"])
    fail(f"--config={path}: the config has no field `job` naming what to run; known jobs: {', '.join(sorted(JOBS))}")
  if config.job not in JOBS:
    fail(f"config.job={config.job!r} is not a known job; known: {', '.join(sorted(JOBS))}")
  workdir = pathlib.Path(_WORKDIR.value)
  try:
    workdir.mkdir(parents=True, exist_ok=True)
  except OSError as e:
    fail(f"--workdir={workdir}: cannot create the folder ({e.strerror or e})")
  if _CACHE.value:
    import jax  # only here: jobs that never touch jax still start fast

    jax.config.update("jax_compilation_cache_dir", _CACHE.value)
  logging.get_absl_handler().addFilter(OwnInfoOnly())
  logging.info("job %s → %s (config: %s)", config.job, workdir, save_config(config, workdir))
  job = resolve_job(config.job)
  try:
    job(config, workdir)
  except errors.UserError as e:
    fail(e)
  except _PATH_ERRORS as e:
    if not names_user_path(e, config, workdir):
      raise
    fail(e if e.filename is None else f"{os.fsdecode(e.filename)}: {e.strerror}")


def main(argv: list[str] | None = None) -> None:
  """The `walt3d` console script and `python launch.py`."""
  argv = list(sys.argv if argv is None else argv)
  main_module = sys.modules["__main__"]
  main_module.__doc__ = usage_doc()  # absl's --help prints __main__'s docstring
  for name in ("config", "workdir", "compilation_cache"):  # ... and __main__'s key flags
    flags.FLAGS.register_key_flag_for_module(sys.argv[0], flags.FLAGS[name])
  _config_import_root(argv)
  app.run(run_job, argv=argv, flags_parser=parse_flags)


if __name__ == "__main__":
  main()
