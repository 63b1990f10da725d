"""Colours of agents per face: car paint, glass, tyres and lights; people's own colours.

Paint shares follow the world's car-colour statistics (white, black, grey and silver make up
about three quarters of cars; blue and red most of the rest).
"""

from __future__ import annotations

import numpy as np

from walt3d_jax.shapes import person
from walt3d_jax.shapes.mesh import Part

# (albedo RGB in [0, 1], probability)
CAR_PAINTS = (
    ((0.86, 0.86, 0.84), 0.27),  # white
    ((0.05, 0.05, 0.06), 0.22),  # black
    ((0.38, 0.39, 0.41), 0.15),  # grey
    ((0.64, 0.65, 0.67), 0.11),  # silver
    ((0.10, 0.20, 0.48), 0.09),  # blue
    ((0.55, 0.06, 0.06), 0.08),  # red
    ((0.32, 0.20, 0.12), 0.03),  # brown
    ((0.12, 0.30, 0.16), 0.02),  # green
    ((0.80, 0.62, 0.10), 0.03),  # yellow / gold
)
FIXED_ALBEDO = {
    Part.WINDOW: (0.06, 0.08, 0.10),
    Part.TYRE: (0.04, 0.04, 0.04),
    Part.HEADLIGHT: (0.85, 0.85, 0.80),
    Part.TAILLIGHT: (0.55, 0.05, 0.05),
    Part.TRIM: (0.10, 0.10, 0.11),
}
# Emitted radiance at night (before exposure), so lamps stand out of a dark frame.
NIGHT_EMISSION = {Part.HEADLIGHT: (3.0, 2.9, 2.5), Part.TAILLIGHT: (1.6, 0.1, 0.08)}


def palette_for(kind: str, params: np.ndarray, rng: np.random.Generator) -> dict[Part, tuple[float, float, float]]:
  """Per-part albedo of one agent, drawn once per track so it keeps its colours.

  People's skin, hair and clothes are part of their shape parameters; cars get a paint.
  """
  if kind != "car":
    return {part: tuple(float(c) for c in color) for part, color in person.person_colours(params).items()}
  paints, weights = zip(*CAR_PAINTS)
  weights = np.asarray(weights) / np.sum(weights)
  paint = np.asarray(paints[rng.choice(len(paints), p=weights)])
  # Small per-car variation so that two white cars are not the same white.
  return {Part.BODY: tuple(np.clip(paint * rng.uniform(0.92, 1.05), 0, 1))}


def face_colors(
    parts: np.ndarray, palette: dict[Part, tuple[float, float, float]], night: bool
) -> tuple[np.ndarray, np.ndarray]:
  """Albedo (F, 3) and emission (F, 3) of faces with `parts` (F,) for one agent."""
  table = np.zeros((len(Part), 3), np.float32)
  for part, color in {**FIXED_ALBEDO, **palette}.items():
    table[part] = color
  emission = np.zeros((len(Part), 3), np.float32)
  if night:
    for part, color in NIGHT_EMISSION.items():
      emission[part] = color
  return table[parts], emission[parts]
