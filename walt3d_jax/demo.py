"""The `demo` job (`make demo`): simulate every preset briefly, then draw a contact sheet."""

from __future__ import annotations

import pathlib
import time

import ml_collections

from walt3d_jax.sim import simulate
from walt3d_jax.viz import contact_sheet


def run(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> None:
  tic = time.perf_counter()
  summaries = simulate.run(config, workdir)
  sheet = workdir / "contact_sheet.png"
  contact_sheet.write_contact_sheet(
      [pathlib.Path(s["root"]) for s in summaries], sheet,
      frames_per_sequence=config.contact_sheet_columns, columns=config.contact_sheet_columns,
  )
  print(f"\nwalt3d_jax demo finished in {time.perf_counter() - tic:.0f} s. Everything is under {workdir}/:")
  for s in summaries:
    files = simulate.SequenceFiles(pathlib.Path(s["root"]))
    print(f"  {s['preset']:<14} {s['frames']} frames ({simulate.frames_per_second(s):.1f} frames/s), "
          f"{s['objects']} objects, {s['detections']} detections")
    for name in ("camera", "frames", "ground_truth", "detections", "video", "background"):
      path = getattr(files, name)
      if path.exists():
        print(f"      {name:<13} {path}")
  print(f"  contact sheet  {sheet}")
