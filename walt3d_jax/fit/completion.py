"""Which banks a fit job has finished: a completion marker beside each bank, written atomically.

After a bank's 3D columns are written back, `mark_complete` writes `<bank>.fit_complete.json`
(to a temporary name, then `os.replace`, so the marker is whole or absent): the digest of the
fit settings, the bank file's size and modification time just after the write-back, and the
bank's summary. A rerun skips a bank whose marker `completed` accepts: same digest and the bank
untouched since (a bank mined further, or fitted with other settings, is fitted again). A
bank's marker is removed (`clear`) before its write-back starts, so a job killed during a
write-back leaves a bank without a marker, and the rerun fits it again from scratch.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
from typing import Any

MARKER_SUFFIX = '.fit_complete.json'
MARKER_VERSION = 1


def marker_path(bank: pathlib.Path) -> pathlib.Path:
  """`<bank>.fit_complete.json` beside the bank file."""
  bank = pathlib.Path(bank)
  return bank.with_name(bank.name + MARKER_SUFFIX)


def settings_digest(settings: Any) -> str:
  """A short hex digest of JSON-able settings (key order does not matter)."""
  text = json.dumps(settings, sort_keys=True, default=repr)
  return hashlib.sha256(text.encode()).hexdigest()[:16]


def _bank_stamp(bank: pathlib.Path) -> dict[str, int]:
  stat = os.stat(bank)
  return {'bank_bytes': int(stat.st_size), 'bank_mtime_ns': int(stat.st_mtime_ns)}


def completed(bank: pathlib.Path, digest: str) -> dict | None:
  """The bank's summary stored by `mark_complete` if its marker matches `digest` and the bank
  file is as it was then; else None (no marker, other settings, a changed bank, a bad file)."""
  path = marker_path(bank)
  try:
    marker = json.loads(path.read_text())
    stamp = _bank_stamp(bank)
  except (OSError, ValueError):
    return None
  if not isinstance(marker, dict) or marker.get('version') != MARKER_VERSION:
    return None
  if marker.get('digest') != digest or any(marker.get(k) != v for k, v in stamp.items()):
    return None
  return marker.get('summary', {})


def clear(bank: pathlib.Path) -> None:
  """Removes the bank's marker, if any (before its columns are written again)."""
  marker_path(bank).unlink(missing_ok=True)


def mark_complete(bank: pathlib.Path, digest: str, summary: dict) -> pathlib.Path:
  """Writes the bank's marker atomically (call once its write-back is closed); returns it."""
  path = marker_path(bank)
  marker = {'version': MARKER_VERSION, 'digest': digest, **_bank_stamp(bank), 'summary': summary}
  tmp = path.with_name(f'.{path.name}.{os.getpid()}.tmp')
  with open(tmp, 'w') as f:
    json.dump(marker, f, indent=1, sort_keys=True)
    f.flush()
    os.fsync(f.fileno())
  os.replace(tmp, path)
  return path
