"""The mine job's resumable state: checkpoints under <workdir>/mine_state/, a completion marker.

Every file here is written whole or not at all (a temporary name, fsync, `os.replace`), so a
job killed at any instant leaves only complete checkpoints behind. `settings.json` holds the
digest of the settings that decide the outputs; a state made with other settings is removed
rather than continued. Once the job has written its outputs it writes
`<workdir>/mine_complete.json` (digest and summary) and removes the state folder; a rerun with
the same settings then does nothing.

Checkpoints are pickles of numpy arrays, dataclasses and dicts that this package wrote itself
into the job's own workdir (they are never read from elsewhere).
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import pickle
import shutil
import time
from typing import Any

import ml_collections

STATE_DIR = "mine_state"
MARKER = "mine_complete.json"
MARKER_VERSION = 1
# Settings that change how often state is saved or what the console shows, never the outputs.
_NOT_OUTPUT_SETTINGS = ("progress", "checkpoint_frames", "checkpoint_seconds")


def write_atomic(path: pathlib.Path, data: bytes) -> None:
  """Writes `data` to `path` so that `path` is either its old self or all of `data`."""
  tmp = path.with_name(f".{path.name}.tmp")  # one writer per workdir: a rerun reuses the name
  with open(tmp, "wb") as f:
    f.write(data)
    f.flush()
    os.fsync(f.fileno())
  os.replace(tmp, path)


def _without(settings: Any, keys: tuple[str, ...]) -> Any:
  if isinstance(settings, dict):
    return {k: _without(v, keys) for k, v in settings.items() if k not in keys}
  return settings


def settings_digest(config: ml_collections.ConfigDict) -> str:
  """A short digest of every setting of the job that changes its outputs."""
  text = json.dumps(_without(config.to_dict(), _NOT_OUTPUT_SETTINGS), sort_keys=True, default=repr)
  return hashlib.sha256(text.encode()).hexdigest()[:16]


def completed(workdir: pathlib.Path, digest: str) -> dict | None:
  """The summary of a finished job with these settings in `workdir`, else None."""
  try:
    marker = json.loads((workdir / MARKER).read_text())
  except (OSError, ValueError):
    return None
  if not isinstance(marker, dict) or marker.get("version") != MARKER_VERSION or marker.get("digest") != digest:
    return None
  return marker.get("summary")


def mark_complete(workdir: pathlib.Path, digest: str, summary: dict) -> None:
  """Writes the completion marker, then removes the checkpoints (no longer needed)."""
  marker = {"version": MARKER_VERSION, "digest": digest, "summary": summary}
  write_atomic(workdir / MARKER, json.dumps(marker, sort_keys=True, indent=1).encode())
  shutil.rmtree(workdir / STATE_DIR, ignore_errors=True)


def clear_marker(workdir: pathlib.Path) -> None:
  """Removes the marker before outputs are (re)written, so it never vouches for old outputs."""
  (workdir / MARKER).unlink(missing_ok=True)


class MineState:
  """The checkpoint folder of one job: named checkpoints and numbered chunks per pass."""

  def __init__(self, workdir: pathlib.Path, digest: str):
    self.dir = workdir / STATE_DIR
    settings = self.dir / "settings.json"
    try:
      same = json.loads(settings.read_text()).get("digest") == digest
    except (OSError, ValueError, AttributeError):
      same = False
    if not same:
      shutil.rmtree(self.dir, ignore_errors=True)
      self.dir.mkdir(parents=True)
      write_atomic(settings, json.dumps({"digest": digest}).encode())

  def save(self, name: str, value: Any) -> None:
    write_atomic(self.dir / f"{name}.pkl", pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))

  def load(self, name: str) -> Any | None:
    """A checkpoint saved under `name`, or None when there is none."""
    try:
      return pickle.loads((self.dir / f"{name}.pkl").read_bytes())
    except FileNotFoundError:
      return None

  def chunk_names(self, phase: str) -> list[str]:
    """Names of the saved chunks of `phase`, in order."""
    return sorted(p.stem for p in self.dir.glob(f"{phase}-*.pkl"))

  def save_chunk(self, phase: str, number: int, value: Any) -> None:
    self.save(f"{phase}-{number:06d}", value)


class Throttle:
  """When a pass saves a checkpoint: after `frames` frames and `seconds` seconds since the last
  one. Where checkpoints fall never changes the outputs, only how much a kill loses."""

  def __init__(self, frames: int, seconds: float):
    self.frames, self.seconds = max(1, int(frames)), float(seconds)
    self._count, self._since = 0, time.monotonic()

  def tick(self) -> bool:
    """Counts one frame; True when a checkpoint is due (and restarts the count)."""
    self._count += 1
    if self._count < self.frames or time.monotonic() - self._since < self.seconds:
      return False
    self._count, self._since = 0, time.monotonic()
    return True
