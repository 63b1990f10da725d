"""The built-in detector's learnt stages, by name: which weights each takes and how they chain.

A stage spec is a mapping {stage: name} (`config.detector` of the `mine` job, `config.data.stages`
of the occlusion classifier's builtin data); each name is 'shipped' (the package's own weights),
a weights file, or '' / absent for none. The stages run in `STAGES`' order: the detection
verifier drops detections of nothing, the box refiner moves the boxes of the rest, the proposal
network adds objects none of them covers.
"""

from __future__ import annotations

import pathlib
from typing import Mapping

from walt3d_jax.errors import UserError
from walt3d_jax.timelapse import detect as detect_lib
from walt3d_jax.timelapse import propose
from walt3d_jax.timelapse import refine
from walt3d_jax.timelapse import verify

STAGES = {"verifier": (verify.SHIPPED_PATH, verify.Verifier.load),
          "refiner": (refine.SHIPPED_PATH, refine.Refiner.load),
          "proposer": (propose.SHIPPED_PATH, propose.Proposer.load)}


def path(spec: Mapping[str, str], stage: str) -> pathlib.Path | None:
  """The weights `spec` names for `stage` (a key of STAGES), or None for none."""
  name = spec.get(stage, "") or ""
  if not name:
    return None
  return STAGES[stage][0] if name == "shipped" else pathlib.Path(name)


def load(spec: Mapping[str, str], where: str = "config.detector") -> detect_lib.Chain | None:
  """The stages `spec` names, chained (`detect.Chain`), or None when it names none; UserError
  naming `where`.<stage> for a missing file or an unknown stage."""
  unknown = sorted(set(spec.keys()) - set(STAGES))
  if unknown:
    raise UserError(f"{where}: unknown stage(s) {', '.join(unknown)}; known: {', '.join(STAGES)}")
  chain = []
  for stage, (_, load_weights) in STAGES.items():
    weights = path(spec, stage)
    if weights is None:
      continue
    if not weights.is_file():
      raise UserError(f"{where}.{stage}: no file {weights} ('shipped', a weights .npz, or '' for none)")
    chain.append(load_weights(weights))
  return detect_lib.Chain(tuple(chain)) if chain else None


def name(spec: Mapping[str, str], stage: str) -> str | None:
  """Which weights a stage runs with: the shipped file's name, a given file's path, or None."""
  weights = path(spec, stage)
  if weights is None:
    return None
  return weights.name if weights == STAGES[stage][0] else str(weights)
