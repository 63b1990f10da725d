"""The `demo` job (`make demo`): the pipeline end to end on simulated time-lapses.

1. Every scene preset simulated briefly (day, dusk and night bursts) and a contact sheet of
   their exact labels. 2. The `fit` job (`fit.bank_fit`) on a longer simulated intersection:
   mine tracked, unoccluded cars and people into an object bank (`timelapse.mine`), then fit
   car shapes and ground poses per track and place people on the ground, scored against the
   simulator's truth. Each stage writes its report PNG; the paths are printed at the end.
"""

from __future__ import annotations

import pathlib
import time

import ml_collections

from walt3d_jax.fit import bank_fit
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
  fit_dir = workdir / "fit"
  fit_summary = bank_fit.run(config.fit, fit_dir)
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
  print(f"  mine + fit     {bank_fit.report_headline(fit_summary).replace(chr(10), chr(10) + ' ' * 17)}")
  for name, path in (("mining report", fit_dir / "mine" / "report.png"),
                     ("fit report", fit_dir / "report.png"), ("object bank", fit_dir / "mine" / "bank.h5"),
                     ("fit summary", fit_dir / "summary.json")):
    print(f"      {name:<13} {path}")
