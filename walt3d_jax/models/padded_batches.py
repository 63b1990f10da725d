"""Host-side batching for jitted inference: fixed-size batches, so one compilation serves any count."""

from __future__ import annotations

import numpy as np


def padded_map(fn, arrays: tuple[np.ndarray, ...], batch_size: int, empty: np.ndarray) -> np.ndarray:
  """fn(*batch) over `arrays` (sharing their first axis) in batches zero-padded to batch_size, so
  that a jitted fn compiles once; the rows concatenated, or `empty` when there are none."""
  out = []
  num = len(arrays[0])
  for start in range(0, num, batch_size):
    batch = [a[start:start + batch_size] for a in arrays]
    pad = batch_size - len(batch[0])
    if pad:
      batch = [np.concatenate([b, np.zeros((pad,) + b.shape[1:], b.dtype)]) for b in batch]
    out.append(np.asarray(fn(*batch))[:batch_size - pad])
  return np.concatenate(out) if out else empty
