r"""Mining purity with and without the static-occluder test (timelapse/static_occluders.py).

  .venv/bin/python benchmarks/static_occluders.py [--workdir /tmp/static_occluders] \
      [--scenes default:intersection:0 intersection:intersection:11 ...]

Each scene (name:preset:seed; `default` is `mine.py:builtin`'s own sequence) is mined by the
`mine` job with the built-in detector and the shipped classifier, first with the test off (the
baseline), then on the same frames and camera with it on. Printed per scene and over all: rows
mined and their purity against the simulator's truth (the share truly unoccluded: occlusion < 5 %
and not truncated), and the test's ratios to the baseline. The default scenes are the four the
test was chosen on; `--scenes crosswalk14:crosswalk:14 intersection13:intersection:13
t_junction12:t_junction:12 avenue15:avenue:15` were held out. Measured (2026-12-04, about 10 min
for four scenes on 2 cores):

  scene           off: mined purity   on: mined purity  mined ratio impure ratio
  default               107   1.000        106   1.000        0.991            -
  intersection           54   0.963         54   0.963        1.000         1.00
  crosswalk              26   0.846         23   0.957        0.885         0.25
  avenue                291   0.986        291   0.986        1.000         1.00
  all                   478   0.979        474   0.985        0.992         0.70
  held out:
  crosswalk14            50   0.880         46   0.913        0.920         0.67
  intersection13         83   0.928         83   0.928        1.000         1.00
  t_junction12           19   0.842         19   0.842        1.000         1.00
  avenue15              224   0.987        220   0.986        0.982         1.00
  all                   376   0.952        368   0.957        0.979         0.89
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from experiments import mine as mine_config
from walt3d_jax.timelapse import mine

CHOSEN_ON = ("default:intersection:0", "intersection:intersection:11", "crosswalk:crosswalk:12", "avenue:avenue:13")


def mine_scene(workdir: pathlib.Path, preset: str, seed: int | None, enabled: bool,
               frames: pathlib.Path | None = None) -> dict:
  """The `mine:builtin` summary of one scene (simulated in workdir unless `frames` is given)."""
  config = mine_config.get_config("builtin")
  config.progress = False
  config.mining.static_occluders.use = "always" if enabled else "never"
  if frames is not None:
    config.source.frames, config.source.camera = str(frames), str(frames / "camera.json")
  elif seed is not None:
    config.source.simulate.preset, config.source.simulate.seed = preset, seed
  return mine.run(config, workdir)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workdir", default="/tmp/static_occluders")
  parser.add_argument("--scenes", nargs="+", default=list(CHOSEN_ON), help="name:preset:seed (seed 0 of "
                      "`default`: mine.py:builtin's own sequence)")
  args = parser.parse_args()
  totals = {False: [0, 0], True: [0, 0]}  # mined, pure
  print(f"{'scene':14s} {'off: mined purity':>18s} {'on: mined purity':>18s}  {'mined ratio':>11s} {'impure ratio':>12s}  s")
  for scene in args.scenes:
    name, preset, seed = scene.split(":")
    tic = time.perf_counter()
    base = pathlib.Path(args.workdir) / name
    off = mine_scene(base / "off", preset, None if name == "default" else int(seed), False)
    on = mine_scene(base / "on", preset, None, True, frames=pathlib.Path(off["source"]["frames"]))
    row = []
    for enabled, summary in ((False, off), (True, on)):
      p = summary["purity_vs_simulator_truth"]
      pure = round((p["purity"] or 0.) * p["mined"])
      totals[enabled][0] += p["mined"]
      totals[enabled][1] += pure
      row.append((p["mined"], pure))
    (m0, p0), (m1, p1) = row
    impure_ratio = f"{(m1 - p1) / (m0 - p0):.2f}" if m0 > p0 else "-"
    print(f"{name:14s} {m0:10d} {p0 / max(m0, 1):7.3f} {m1:10d} {p1 / max(m1, 1):7.3f}  {m1 / max(m0, 1):11.3f} "
          f"{impure_ratio:>12s}  {time.perf_counter() - tic:.0f}  (occluders: {on['static_occluder_share']:.4f} of the image)")
  (m0, p0), (m1, p1) = totals[False], totals[True]
  print(f"{'all':14s} {m0:10d} {p0 / max(m0, 1):7.3f} {m1:10d} {p1 / max(m1, 1):7.3f}  {m1 / max(m0, 1):11.3f} "
        f"{(m1 - p1) / (m0 - p0) if m0 > p0 else float('nan'):12.2f}")


if __name__ == "__main__":
  main()
