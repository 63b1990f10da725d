"""Variable-length tracks into fixed-shape batches: length buckets, padding and masks.

Jitted fits compile once per (batch size, padded length); rounding both up to powers of two
keeps that to a handful of shapes while padding wastes at most half.
"""

from __future__ import annotations

from typing import Callable, Iterator, Sequence

import numpy as np


def bucket_length(num_frames: int, min_bucket: int = 1) -> int:
  """The padded length of a track of num_frames ≥ 1 frames: the next power of two."""
  if num_frames < 1:
    raise ValueError(f'a track needs at least one frame, got {num_frames}')
  return max(min_bucket, 1 << (num_frames - 1).bit_length())


def length_batches(
    lengths: Sequence[int], batch_size: int, pad_length: Callable[[int], int] = bucket_length,
) -> Iterator[tuple[int, int, list[int]]]:
  """(padded length, batch size, member indices) per batch: tracks bucketed by
  `pad_length(len)`, batches of at most batch_size members, the batch size padded to a power
  of two (at most batch_size)."""
  buckets: dict[int, list[int]] = {}
  for i, n in enumerate(lengths):
    buckets.setdefault(pad_length(n), []).append(i)
  for length, members in sorted(buckets.items()):
    for start in range(0, len(members), batch_size):
      idx = members[start:start + batch_size]
      yield length, min(batch_size, bucket_length(len(idx))), idx


def pad_tracks(arrays: Sequence[np.ndarray], idx: Sequence[int], size: int, length: int) -> np.ndarray:
  """(size, length, ...) float64: arrays[i] (T_i, ...) for i in idx in rows 0.., zeros elsewhere."""
  out = np.zeros((size, length, *np.shape(arrays[idx[0]])[1:]))
  for row, i in enumerate(idx):
    out[row, :len(arrays[i])] = arrays[i]
  return out


def frame_mask(lengths: Sequence[int], idx: Sequence[int], size: int, length: int) -> np.ndarray:
  """(size, length) bool: which padded slots hold a real frame."""
  valid = np.zeros((size, length), bool)
  for row, i in enumerate(idx):
    valid[row, :lengths[i]] = True
  return valid


def padded_rows(idx: Sequence[int], size: int) -> np.ndarray:
  """(size,) indices of per-track inputs (cameras) for a batch: padding rows copy the first
  member's, so they stay well posed."""
  return np.array(list(idx) + [idx[0]] * (size - len(idx)))
