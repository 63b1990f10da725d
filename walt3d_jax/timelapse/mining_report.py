"""The mining job's report picture: backgrounds, a track strip, mined objects, rejections."""

from __future__ import annotations

import pathlib

import cv2
import numpy as np

from walt3d_jax.timelapse import bank as bank_lib
from walt3d_jax.timelapse.bank import MiningFlag
from walt3d_jax.timelapse.types import Frame
from walt3d_jax.timelapse.types import FrameDetections
from walt3d_jax.viz import overlays

TILE = 112  # pixels, side of an object tile
WIDTH = 8 * (TILE + 4) + 4  # report width: eight tiles a row


def _fit(image: np.ndarray, side: int) -> np.ndarray:
  """`image` scaled into a side × side tile, aspect kept, on dark grey."""
  h, w = image.shape[:2]
  scale = side / max(h, w)
  resized = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
  tile = np.full((side, side, 3), 40, np.uint8)
  y, x = (side - resized.shape[0]) // 2, (side - resized.shape[1]) // 2
  tile[y:y + resized.shape[0], x:x + resized.shape[1]] = resized
  return tile


class Examples:
  """A uniform sample (reservoir) of rejected objects, each a tile labelled with its reasons."""

  def __init__(self, capacity: int, seed: int):
    self.capacity = capacity
    self.tiles: list[np.ndarray] = []
    self._seen = 0
    self._rng = np.random.default_rng(seed)

  def offer(self, frame: Frame, detections: FrameDetections, flags: np.ndarray) -> None:
    """Considers the rejected detections (flags != 0) of one frame."""
    height, width = frame.image.shape[:2]
    for i in np.flatnonzero(flags):
      self._seen += 1
      slot = self._seen - 1 if len(self.tiles) < self.capacity else int(self._rng.integers(self._seen))
      if slot >= self.capacity:
        continue
      x0, y0, w, h = bank_lib.crop_box_of(detections.boxes[i], (width, height))
      crop = overlays.draw_box(frame.image[y0:y0 + h, x0:x0 + w], detections.boxes[i] - [x0, y0, 0, 0], (255, 60, 60))
      names = [f.name.lower().replace("occluded_", "occ.") for f in MiningFlag if int(flags[i]) & f]
      tile = overlays.label(_fit(crop, TILE), " ".join(names)[:18], origin=(3, TILE - 6), scale=0.33)
      if slot < len(self.tiles):
        self.tiles[slot] = tile
      else:
        self.tiles.append(tile)


def _section(title: str, tiles: list[np.ndarray]) -> np.ndarray:
  """A titled band of tiles, WIDTH wide."""
  band = overlays.grid(tiles, columns=8) if tiles else np.full((TILE // 2, WIDTH, 3), 24, np.uint8)
  canvas = np.full((band.shape[0] + 22, WIDTH, 3), 24, np.uint8)
  canvas[22:, : band.shape[1]] = band[:, :WIDTH]
  return overlays.label(canvas, title, origin=(6, 16))


def _longest_track_strip(bank: bank_lib.ObjectBank, count: int) -> tuple[int, list[np.ndarray]]:
  if not len(bank):
    return -1, []
  ids = bank.column("track_id")
  values, lengths = np.unique(ids, return_counts=True)
  track = int(values[np.argmax(lengths)])
  rows = np.flatnonzero(ids == track)
  rows = rows[np.linspace(0, len(rows) - 1, min(count, len(rows))).astype(int)]
  frames = bank.column("frame_index")
  return track, [overlays.label(_fit(bank.crop(int(r)), TILE), f"#{int(frames[r])}", scale=0.35) for r in rows]


HEADER_SCALE = 0.42  # font scale of the report's header lines
HEADER_OUTCOME_LINES = 4  # at most this many lines of outcomes; the rarest give way


def header_lines(summary: dict) -> list[str]:
  """The report's header: counts, the learnt stages the detections passed (detection verifier,
  box refiner, proposal network), the classifier and the threshold it ran with, the outcomes (most common first,
  wrapped to the report's width) and, on simulated footage, the purity."""
  lines = [f"frames {summary['read']['frames']} (skipped {summary['read']['skipped']}), detections "
           f"{summary['detections']}, tracks {summary['tracks']}, mined {summary['mined']}"]
  stages = [f"{name} {summary[key]}" for key, name in (("verifier", "detection verifier"), ("refiner", "box refiner"),
                                                       ("proposer", "proposal network")) if summary.get(key)]
  if stages:
    lines.append("detections passed: " + ", ".join(stages))
  if summary.get("classifier"):
    threshold = summary.get("classifier_threshold")
    lines.append(f"occlusion classifier {summary['classifier']}"
                 + (f", rejecting P(occluded) >= {threshold:.3g}" if threshold is not None else ""))
  outcomes = sorted(summary["outcomes"].items(), key=lambda kv: (-kv[1], kv[0]))
  lines += overlays.wrap("outcomes: " + ", ".join(f"{k} {v}" for k, v in outcomes), WIDTH - 8, HEADER_SCALE,
                         HEADER_OUTCOME_LINES)
  purity = summary.get("purity_vs_simulator_truth", {}).get("purity")
  if purity is not None:
    lines.append(f"purity vs simulator truth (fraction truly unoccluded): {purity:.3f}")
  return lines


def write_report(path: pathlib.Path, bank_path: pathlib.Path, examples: Examples, summary: dict,
                 occluders: np.ndarray | None = None) -> np.ndarray:
  """Writes the report PNG to `path` and returns it (uint8 RGB).

  occluders: (H, W) bool static-occluder map, drawn over the first background when given.
  """
  with bank_lib.ObjectBank.open(bank_path) as bank:
    backgrounds = [overlays.label(_fit(bank.background(n), 2 * TILE + 4), n) for n in bank.background_names()]
    if occluders is not None and bank.background_names():
      first = bank.background(bank.background_names()[0])
      backgrounds.append(overlays.label(_fit(overlays.draw_mask(first, occluders, (255, 0, 255), alpha=1.), 2 * TILE + 4),
                                        f"static occluders ({int(occluders.sum())} px)"))
    track, strip = _longest_track_strip(bank, 8)
    rows = np.linspace(0, len(bank) - 1, min(16, len(bank))).astype(int) if len(bank) else []
    mined = [_fit(bank.crop(int(r)), TILE) for r in rows]
  lines = header_lines(summary)
  text = np.full((20 * len(lines) + 8, WIDTH, 3), 24, np.uint8)
  for i, line in enumerate(lines):
    text = overlays.label(text, line, origin=(6, 18 + 20 * i), scale=HEADER_SCALE)
  sections = [
      text,
      _section("median backgrounds per time-of-day bucket", [overlays.grid(backgrounds, 4, pad=0)] if backgrounds else []),
      _section(f"one track over time (track {track})", strip),
      _section("mined unoccluded objects", mined),
      _section("rejected, with the reason", examples.tiles),
  ]
  report = np.concatenate([s[:, :WIDTH] if s.shape[1] >= WIDTH else np.pad(s, ((0, 0), (0, WIDTH - s.shape[1]), (0, 0))) for s in sections])
  path.parent.mkdir(parents=True, exist_ok=True)
  cv2.imwrite(str(path), cv2.cvtColor(report, cv2.COLOR_RGB2BGR))
  return report
