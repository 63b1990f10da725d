"""Settings of the clip-art compositor (one frozen dataclass, built from the job's config)."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from walt3d_jax.clipart.example import MODES
from walt3d_jax.shapes.person import PERSON_FOOTPRINT_RADIUS


@dataclasses.dataclass(frozen=True)
class ClipartConfig:
  """How clip-art images are drawn and composited.

  mode: 'walt3d' (non-intersecting footprints, visibility by a per-pixel depth test) or
    'walt2d' (WALT's 2D paste: no footprint test, random paste order, later pastes win).
  image_size: (W, H) of the output, or None for the bank's own size.
  objects_per_image: (lo, hi): each image aims at a number drawn uniformly from [lo, hi]; a
    pool too small or too crowded for it gives fewer (never fewer than 1).
  footprint_margin_m: the least ground distance between two objects' footprints (metres).
  person_radius_m: footprint disc of a person when the bank stores no width (metres).
  prefer_overlap: chance that the next object is drawn among those whose amodal box meets an
    already placed one: 0 gives the scene's own spread, higher values more occlusion.
  bucket: 'same': objects mined in the background's time-of-day bucket (lighting consistency,
    the paper's stated limitation) when that bucket has at least `objects_per_image[0]` of
    them, else any; 'mix': objects from any bucket.
  max_draws: objects drawn per image at most (a hard bound on the sampling loop).
  feather_px: Gaussian feathering of object edges against the background (0: hard edges);
    labels are unaffected.
  min_keypoint_score: a detected keypoint scored below this was hidden in its (unoccluded)
    source frame, so it is self-occluded.
  background_start_hour: hour of day at the bank's time 0 (the mine job's
    config.background.start_hour), to give each object its time-of-day bucket.
  """

  mode: str = "walt3d"
  image_size: tuple[int, int] | None = None
  objects_per_image: tuple[int, int] = (8, 15)
  footprint_margin_m: float = 0.3
  person_radius_m: float = PERSON_FOOTPRINT_RADIUS
  prefer_overlap: float = 0.5
  bucket: str = "same"
  max_draws: int = 200
  feather_px: float = 0.0
  min_keypoint_score: float = 0.5
  background_start_hour: float = 0.0

  def __post_init__(self):
    if self.mode not in MODES:
      raise ValueError(f"ClipartConfig.mode must be one of {MODES}, got {self.mode!r}")
    lo, hi = (int(v) for v in self.objects_per_image)
    if not 1 <= lo <= hi:
      raise ValueError(f"ClipartConfig.objects_per_image must be 1 <= lo <= hi, got {self.objects_per_image}")
    if self.image_size is not None and (len(self.image_size) != 2 or min(self.image_size) < 8):
      raise ValueError(f"ClipartConfig.image_size must be None or (W, H) >= 8, got {self.image_size}")
    if not 0.0 <= self.prefer_overlap <= 1.0:
      raise ValueError(f"ClipartConfig.prefer_overlap must be in [0, 1], got {self.prefer_overlap}")
    if self.bucket not in ("same", "mix"):
      raise ValueError(f"ClipartConfig.bucket must be 'same' or 'mix', got {self.bucket!r}")
    for name in ("footprint_margin_m", "person_radius_m", "feather_px"):
      if not getattr(self, name) >= 0:
        raise ValueError(f"ClipartConfig.{name} must be >= 0, got {getattr(self, name)}")
    if self.max_draws < 1:
      raise ValueError(f"ClipartConfig.max_draws must be >= 1, got {self.max_draws}")

  @classmethod
  def from_dict(cls, values: Mapping[str, Any]) -> ClipartConfig:
    """From a plain mapping (e.g. `config.clipart.to_dict()`); unknown keys are an error."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
      raise ValueError(f"unknown clip-art settings {unknown}; known: {sorted(known)}")
    values = dict(values)
    for name in ("image_size", "objects_per_image"):
      if values.get(name) is not None:
        values[name] = tuple(int(v) for v in values[name])
    return cls(**values)
