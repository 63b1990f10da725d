"""COCO run-length encoding of binary masks (pycocotools), as JSON-ready dicts."""

from __future__ import annotations

import numpy as np
from pycocotools import mask as mask_utils


def encode_mask(mask: np.ndarray) -> dict:
  """RLE of a bool mask (H, W) as {"size": [H, W], "counts": str}: COCO's compressed form."""
  if mask.ndim != 2:
    raise ValueError(f"mask must be (H, W), got shape {mask.shape}")
  rle = mask_utils.encode(np.asfortranarray(mask, dtype=np.uint8))
  return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": rle["counts"].decode("ascii")}


def decode_mask(rle: dict) -> np.ndarray:
  """Bool mask (H, W) from a compressed RLE dict as written by `encode_mask`."""
  counts = rle["counts"]
  return mask_utils.decode(
      {"size": list(rle["size"]), "counts": counts.encode("ascii") if isinstance(counts, str) else counts}
  ).astype(bool)


def mask_box(mask: np.ndarray) -> list[float]:
  """Tight COCO box [x, y, w, h] in pixels of a bool mask (H, W); [0, 0, 0, 0] when empty.

  Pixel centres are at integers, so a mask covering columns 3..5 spans x ∈ [2.5, 5.5]; COCO
  tools treat box corners as pixel edges at integer column indices, so we return x = 3, w = 3.
  """
  rows = np.flatnonzero(mask.any(axis=1))
  cols = np.flatnonzero(mask.any(axis=0))
  if rows.size == 0:
    return [0.0, 0.0, 0.0, 0.0]
  return [float(cols[0]), float(rows[0]), float(cols[-1] - cols[0] + 1), float(rows[-1] - rows[0] + 1)]
