import importlib.util
import json
import os
import pathlib
import re
import subprocess
import sys

from absl import app
import pytest

from walt3d_jax import launch

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_every_registered_job_resolves_to_a_callable():
  for name in launch.JOBS:
    assert callable(launch.resolve_job(name))


def test_unknown_job_names_the_known_ones():
  with pytest.raises(app.UsageError, match="'nope' is not a known job.*simulate"):
    launch.resolve_job("nope")


@pytest.mark.parametrize("path", sorted((ROOT / "experiments").glob("[!_]*.py")))
def test_every_experiment_config_names_a_registered_job(path):
  spec = importlib.util.spec_from_file_location(path.stem, path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  assert module.get_config().job in launch.JOBS


# ---- the launcher's error surface, as a user meets it (subprocesses, run side by side) ---------

FRAMES, LOST_FROM = 40, 12  # the truncated video keeps about the first LOST_FROM frames' data


def _write_video(path: pathlib.Path) -> None:
  import cv2
  import numpy as np

  writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (160, 120))
  rng = np.random.default_rng(0)
  for i in range(FRAMES):
    image = np.full((120, 160, 3), 90, np.uint8)
    cv2.rectangle(image, (2 * i, 40), (2 * i + 30, 80), (0, 0, 255), -1)
    writer.write((image + rng.integers(0, 20, image.shape)).astype(np.uint8))
  writer.release()


def _truncate_video(src: pathlib.Path, dst: pathlib.Path) -> None:
  """A recording cut short with its index intact: the media data ('mdat') keeps its first part,
  the index ('moov', written after it by OpenCV) still lists every frame."""
  data = src.read_bytes()
  mdat, moov = data.find(b"mdat") - 4, data.find(b"moov") - 4
  assert 0 < mdat < moov
  body = data[mdat + 8:mdat + 8 + (moov - mdat - 8) * LOST_FROM // FRAMES]
  dst.write_bytes(data[:mdat] + (8 + len(body)).to_bytes(4, "big") + b"mdat" + body + data[moov:])


def _inputs(folder: pathlib.Path) -> dict[str, pathlib.Path]:
  from walt3d_jax.timelapse import bank as bank_lib

  paths = {name: folder / name for name in (
      "ok.mp4", "cut.mp4", "notes.txt", "camera.json", "detections.json", "zero.h5", "nocam.h5")}
  _write_video(paths["ok.mp4"])
  _truncate_video(paths["ok.mp4"], paths["cut.mp4"])
  paths["notes.txt"].write_text("not a video\n")
  paths["camera.json"].write_text('{"K": [[100, 0, 80], [0, 100, 60]], "image_size": [160, 120], '
                                  '"n": [0, -1, 0], "d": 5}')  # K has two rows
  paths["detections.json"].write_text('[{"image_id": 0, "category_id": 3, "score": 0.9}]')
  paths["zero.h5"].write_bytes(b"")  # an empty file: an interrupted write
  bank_lib.ObjectBank.create(paths["nocam.h5"], {}, (160, 120)).close()  # mined without camera.json
  return paths


def _cases(p: dict[str, pathlib.Path]) -> dict[str, tuple[list[str], str]]:
  """name -> (flags after --config/--workdir, what the one stderr line must name)."""
  mine, fit = str(ROOT / "experiments" / "mine.py"), str(ROOT / "experiments" / "fit.py")
  video = f"--config.source.video={p['ok.mp4']}"
  return {
      "missing video": ([mine, "--config.source.video=/nonexistent.mp4"], "/nonexistent.mp4: no such video"),
      "not a video": ([mine, f"--config.source.video={p['notes.txt']}"], f"{p['notes.txt']}: OpenCV cannot open"),
      "bad camera.json": ([mine, f"--config.source.camera={p['camera.json']}", video],
                          f"{p['camera.json']}: field 'K'"),
      "bad detections.json": ([mine, video, f"--config.source.detections={p['detections.json']}"],
                              f"{p['detections.json']}: entry 0: field 'bbox'"),
      "missing detections": ([mine, video, "--config.source.detections=/nonexistent.json"],
                             "config.source.detections: no file /nonexistent.json"),
      "bad sampling": ([mine, video, "--config.sampling.every=0"], "Sampling.every must be >= 1, got 0"),
      "unknown field": ([mine, "--config.nonexistent=1"], "--config.nonexistent: the config has no such field"),
      "bad value": ([mine, "--config.seed=abc"], "--config.seed=abc: invalid literal for int()"),
      "missing config": ([str(ROOT / "experiments" / "nope.py")], "nope.py: no such file"),
      "empty bank": ([fit, f"--config.bank={p['zero.h5']}"], f"{p['zero.h5']}: not an HDF5 file"),
      "bank without camera": ([fit, f"--config.bank={p['nocam.h5']}"], f"{p['nocam.h5']}: the bank has no camera"),
      "from_video without input": ([str(ROOT / "experiments" / "from_video.py")],
                                   "config.video or config.frames: give exactly one"),
      "evaluate without data": ([str(ROOT / "experiments" / "evaluate.py"), "--config.checkpoint=/nonexistent",
                                 "--config.data_dir=/nonexistent_dir"], "config.data_dir: no folder '/nonexistent_dir'"),
  }


@pytest.fixture(scope="module")
def launched(tmp_path_factory):
  """Every case and a mine run on the truncated video, started together: (returncode, stderr)."""
  folder = tmp_path_factory.mktemp("inputs")
  paths = _inputs(folder)
  runs = _cases(paths)
  runs["truncated video"] = ([str(ROOT / "experiments" / "mine.py"), f"--config.source.video={paths['cut.mp4']}"], "")
  common = ["--config.progress=False", "--verbosity=-1", "--compilation_cache="]  # no INFO lines
  procs = {}
  for i, (name, ((config, *rest), expected)) in enumerate(runs.items()):
    workdir = folder / f"work{i}"
    cmd = [sys.executable, str(ROOT / "launch.py"), "--config", config, "--workdir", str(workdir), *rest, *common]
    procs[name] = (subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
                   workdir, expected)
  results = {}
  for name, (proc, workdir, expected) in procs.items():
    _, stderr = proc.communicate(timeout=600)
    results[name] = (proc.returncode, stderr, workdir, expected)
  return results


def test_user_mistakes_end_in_one_line_naming_the_file_or_field_and_exit_2(launched):
  problems = []
  for name, (returncode, stderr, _, expected) in launched.items():
    if name == "truncated video":
      continue
    lines = stderr.splitlines()
    if (returncode, len(lines)) != (2, 1) or "Traceback" in stderr or not lines[0].startswith(
        "launch.py: error: ") or expected not in lines[0]:
      problems.append(f"{name}: exit {returncode}, expected {expected!r}; stderr:\n{stderr[-2000:]}")
  assert not problems, "\n\n".join(problems)


def test_a_truncated_video_is_read_quietly_and_its_loss_is_one_warning_line(launched):
  returncode, stderr, workdir, _ = launched["truncated video"]
  assert returncode == 0, stderr[-3000:]
  lines = stderr.splitlines()
  assert len(lines) == 1 and "[mpeg4" not in stderr, stderr[-3000:]  # no decoder noise
  found = re.search(r"cut\.mp4: (\d+) of (\d+) frames \((\d+) %\) lost to decoding \((\d+): ", lines[0])
  assert found and lines[0].startswith("W"), lines[0]
  lost, offered = int(found[1]), int(found[2])
  read = json.loads((workdir / "summary.json").read_text())["read"]
  assert (lost, offered) == (read["skipped"], read["skipped"] + read["frames"])
  assert offered == FRAMES and lost >= FRAMES // 2


def test_help_lists_every_job_and_what_it_reads():
  run = subprocess.run([sys.executable, str(ROOT / "launch.py"), "--help"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
  jobs = run.stdout.split("Jobs (config.job) and what each reads:")[1]
  for name in launch.JOBS:
    assert re.search(rf"^  {name}\s+\S", jobs, re.M), name
  assert "config.source.video" in jobs and "config.bank" in jobs
  assert "--workdir" in run.stdout and "--config" in run.stdout


def test_os_errors_are_the_users_only_for_paths_they_gave(tmp_path):
  import ml_collections

  config = ml_collections.ConfigDict(dict(job="mine", source=dict(video="/data/cam.mp4"), banks=("/b/x.h5",)))
  user = lambda e: launch.names_user_path(e, config, tmp_path / "work")
  assert user(FileNotFoundError(2, "No such file or directory", "/data/cam.mp4"))
  assert user(PermissionError(13, "Permission denied", str(tmp_path / "work" / "bank.h5")))
  assert user(FileNotFoundError("config.bank(s): no object bank /b/x.h5"))
  assert not user(FileNotFoundError(2, "No such file or directory", "/site/walt3d_jax/shapes/data/car_pca.npz"))
  assert not user(FileNotFoundError("something internal"))
  assert launch.one_line("a\n  b\n\nc") == "a | b | c"
  assert len(launch.one_line("x" * 5000)) == 600


def test_tensorflow_loads_quietly_under_the_launcher():
  """The launcher's environment keeps TensorFlow's C++ start-up notes (oneDNN, CPU features,
  absl's pre-init banner) off the console; a user's own setting would win."""
  env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS")}
  code = "from walt3d_jax import launch; import tensorflow as tf; tf.constant(1) + 1"
  run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)},
                       capture_output=True, text=True, timeout=120)
  assert run.returncode == 0, run.stderr[-2000:]
  assert run.stderr == ""


def test_only_our_own_info_lines_reach_the_console():
  import logging as py_logging

  keep = launch.OwnInfoOnly().filter
  record = lambda path, level, msg="message": py_logging.LogRecord("x", level, path, 1, msg, None, None)
  library = str(pathlib.Path(py_logging.__file__))  # any file outside the project's sources
  assert not keep(record(library, py_logging.INFO))
  assert keep(record(library, py_logging.WARNING))
  assert keep(record(str(ROOT / "walt3d_jax" / "timelapse" / "mine.py"), py_logging.INFO))
  assert keep(record(str(ROOT / "tfds_builders" / "walt3d_clipart" / "builder.py"), py_logging.INFO))
  assert not keep(record(library, py_logging.WARNING, "Using custom data configuration: x"))
  assert keep(record(library, py_logging.ERROR, "Using custom data configuration: x"))
