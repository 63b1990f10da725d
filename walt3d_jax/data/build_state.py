"""Which format builds of the clipart job are finished: a marker per format, written atomically.

TFDS writes a build into `<config dir>/incomplete.XXXXXX_<version>/` and renames it into place
only once whole, so a killed build never passes for a finished one; but every attempt starts a
new incomplete folder, and a finished version folder is reused whatever the bank or settings it
was built from. So, beside the TFDS data dir of each format, `<tfds>/<format>.complete.json`
holds the digest of what decides the build's bytes (builder config, version, file format, the
bank file's size and modification time). A rerun reuses a build only when its marker matches;
otherwise (other settings, another bank, a build killed before its marker) it removes the
config's version and incomplete folders and builds again from scratch, which TFDS does
deterministically: the same bytes as an uninterrupted build. One job writes one workdir at a time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pathlib
import shutil
from typing import Any

MARKER_VERSION = 1
INCOMPLETE_PREFIX = "incomplete."  # tensorflow_datasets.core.constants.INCOMPLETE_PREFIX


def marker_path(tfds_dir: pathlib.Path, file_format: str) -> pathlib.Path:
  return pathlib.Path(tfds_dir) / f"{file_format}.complete.json"


def build_digest(builder_config: Any, version: str, file_format: str, bank: pathlib.Path) -> str:
  """A short digest of everything that decides a format build's bytes (not Beam settings: the
  records are the same on any runner)."""
  stat = os.stat(bank)
  settings = {
      "config": dataclasses.asdict(builder_config) if dataclasses.is_dataclass(builder_config) else repr(builder_config),
      "version": str(version), "file_format": file_format,
      "bank": {"bytes": int(stat.st_size), "mtime_ns": int(stat.st_mtime_ns)},
  }
  text = json.dumps(settings, sort_keys=True, default=repr)
  return hashlib.sha256(text.encode()).hexdigest()[:16]


def is_complete(tfds_dir: pathlib.Path, file_format: str, digest: str, version_dir: pathlib.Path) -> bool:
  """True when this format's marker matches `digest` and TFDS's finished build is there."""
  try:
    marker = json.loads(marker_path(tfds_dir, file_format).read_text())
  except (OSError, ValueError):
    return False
  return (isinstance(marker, dict) and marker.get("version") == MARKER_VERSION
          and marker.get("digest") == digest and (pathlib.Path(version_dir) / "dataset_info.json").is_file())


def clear(tfds_dir: pathlib.Path, file_format: str, version_dir: pathlib.Path) -> None:
  """Before a build: the marker, the version folder and any incomplete folders of its config."""
  marker_path(tfds_dir, file_format).unlink(missing_ok=True)
  version_dir = pathlib.Path(version_dir)
  shutil.rmtree(version_dir, ignore_errors=True)
  for leftover in version_dir.parent.glob(f"{INCOMPLETE_PREFIX}*_{version_dir.name}"):
    shutil.rmtree(leftover, ignore_errors=True)


def mark_complete(tfds_dir: pathlib.Path, file_format: str, digest: str) -> None:
  """Writes the format's marker (to a temporary name, then renamed: whole or absent)."""
  path = marker_path(tfds_dir, file_format)
  tmp = path.with_name(f".{path.name}.tmp")
  with open(tmp, "w") as f:
    json.dump({"version": MARKER_VERSION, "digest": digest}, f, sort_keys=True)
    f.flush()
    os.fsync(f.fileno())
  os.replace(tmp, path)
