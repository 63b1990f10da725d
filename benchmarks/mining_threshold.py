r"""Yield against purity of mining with the built-in detector as the classifier's threshold moves.

  .venv/bin/python benchmarks/mining_threshold.py [--workdir /tmp/static_occluders] \
      [--scenes default:intersection:0 intersection:intersection:11 ...] [--thresholds 0.003 0.01 ...]

Each scene (name:preset:seed, as in benchmarks/static_occluders.py, whose simulated frames in the
same workdir are reused) is mined once by `mine:builtin` with the shipped classifier's threshold
raised above 1 (`mining.classifier.threshold`), so that every object the other rules keep lands
in the bank with its P(occluded) (`occlusion_score`). The rows that the classifier would keep
at each threshold t (score < t) are then scored against the simulator's truth
(`mine.truly_unoccluded`: occlusion < 5 % and not truncated). Printed per scene and over all:
rows kept and their purity at the classifier's own threshold (the baseline, chosen for
validation purity 0.95 on other scenes) and at each threshold, with the ratio of rows to the
baseline's. What it is for: on real footage the classifier, which learnt the simulator, keeps
few objects (`experiments/from_video.py`), and a user trading purity for yield there wants to
know the price on scenes where purity can be measured.

Measured (2026-12-05, 5-7 min for four scenes on 2 cores; rows kept, purity, ratio of rows):

  scene           own 0.00146       0.003             0.01              0.03              0.1               0.3
  default         106 1.000 x1.00   125 1.000 x1.18   150 0.973 x1.42   178 0.949 x1.68   226 0.912 x2.13   273 0.875 x2.58
  intersection     54 0.963 x1.00    76 0.961 x1.41   113 0.929 x2.09   164 0.915 x3.04   211 0.910 x3.91   276 0.873 x5.11
  crosswalk        23 0.957 x1.00    34 0.971 x1.48    44 0.977 x1.91    62 0.887 x2.70    76 0.868 x3.30    94 0.862 x4.09
  avenue          291 0.986 x1.00   312 0.984 x1.07   344 0.980 x1.18   355 0.977 x1.22   372 0.962 x1.28   391 0.951 x1.34
  all             474 0.985 x1.00   547 0.984 x1.15   651 0.969 x1.37   759 0.950 x1.60   885 0.929 x1.87  1034 0.902 x2.18
  held out (--workdir /tmp/static_occluders_held --scenes crosswalk14:crosswalk:14
  intersection13:intersection:13 t_junction12:t_junction:12 avenue15:avenue:15):
  crosswalk14      46 0.913 x1.00    61 0.934 x1.33    84 0.917 x1.83   103 0.932 x2.24   118 0.932 x2.57   132 0.917 x2.87
  intersection13   83 0.928 x1.00   109 0.771 x1.31   135 0.785 x1.63   162 0.802 x1.95   204 0.789 x2.46   275 0.782 x3.31
  t_junction12     19 0.842 x1.00    42 0.571 x2.21    59 0.542 x3.11    96 0.615 x5.05   149 0.584 x7.84   181 0.575 x9.53
  avenue15        220 0.986 x1.00   259 0.985 x1.18   304 0.970 x1.38   355 0.963 x1.61   406 0.951 x1.85   463 0.940 x2.10
  all             368 0.957 x1.00   471 0.892 x1.28   582 0.876 x1.58   716 0.876 x1.95   877 0.848 x2.38  1051 0.833 x2.86

On the scenes the static-occluder test was chosen on, the threshold could rise to 0.3 with
purity above the 0.9 goal; held out, the first step (0.003) already takes it under, with
intersection 13 and t_junction 12 losing most. The shipped threshold stays the default; a
raised one is a trade to make knowingly (on real footage, experiments/from_video.py).
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from experiments import mine as mine_config
from walt3d_jax.timelapse import bank as bank_lib
from walt3d_jax.timelapse import mine

CHOSEN_ON = ("default:intersection:0", "intersection:intersection:11", "crosswalk:crosswalk:12", "avenue:avenue:13")
# Above 1: the classifier rejects nothing, and its scores land in the bank.
KEEP_ALL = 1.01


def scored_rows(workdir: pathlib.Path, preset: str, seed: int | None) -> tuple[np.ndarray, np.ndarray]:
  """One scene mined with every classifier score kept: (score, clean) per bank row."""
  config = mine_config.get_config("builtin")
  config.progress = False
  config.mining.classifier.threshold = KEEP_ALL
  frames = workdir / "off" / "source" / preset  # benchmarks/static_occluders.py's frames
  if (frames / "camera.json").is_file():
    config.source.frames, config.source.camera = str(frames), str(frames / "camera.json")
  elif seed is not None:
    config.source.simulate.preset, config.source.simulate.seed = preset, seed
  summary = mine.run(config, workdir / "scores")
  with bank_lib.ObjectBank.open(summary["bank"]) as bank:
    rows = bank.read(slice(None), columns=["frame_index", "box", "occlusion_score"])
  truth = pathlib.Path(summary["source"]["frames"]) / "ground_truth.json"
  _, clean = mine.truly_unoccluded(rows, truth, config.mining.truth_occlusion, tuple(summary["read"]["image_size"]))
  return np.asarray(rows["occlusion_score"], np.float64), clean


def kept(score: np.ndarray, clean: np.ndarray, threshold: float) -> tuple[int, int]:
  """Rows the classifier keeps at `threshold` (score below it) and how many of them are clean."""
  keep = score < threshold
  return int(keep.sum()), int(clean[keep].sum())


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workdir", default="/tmp/static_occluders")
  parser.add_argument("--scenes", nargs="+", default=list(CHOSEN_ON), help="name:preset:seed (seed 0 of "
                      "`default`: mine.py:builtin's own sequence)")
  parser.add_argument("--thresholds", nargs="+", type=float, default=[0.003, 0.01, 0.03, 0.1, 0.3, 0.9])
  args = parser.parse_args()
  own = mine.Classifier.load(mine_config.get_config("builtin"), built_in=True).threshold
  results = {}
  for scene in args.scenes:
    name, preset, seed = scene.split(":")
    tic = time.perf_counter()
    score, clean = scored_rows(pathlib.Path(args.workdir) / name, preset, None if name == "default" else int(seed))
    results[name] = (score, clean)
    print(f"{name}: {len(score)} rows the other rules keep, scored in {time.perf_counter() - tic:.0f} s", flush=True)
  results["all"] = tuple(np.concatenate(parts) for parts in zip(*results.values()))
  thresholds = [own] + sorted(args.thresholds)
  print(f"\nrows kept / purity at each threshold (baseline: the classifier's own, {own:.5f}); "
        "ratio = rows / the baseline's rows")
  print(f"{'scene':14s}" + "".join(f"{t:>22.5g}" for t in thresholds))
  for name, (score, clean) in results.items():
    base = max(kept(score, clean, own)[0], 1)
    cells = []
    for t in thresholds:
      n, pure = kept(score, clean, t)
      cells.append(f"{n:6d} {pure / max(n, 1):5.3f} x{n / base:<6.2f}")
    print(f"{name:14s}" + "".join(f"{c:>22s}" for c in cells))


if __name__ == "__main__":
  main()
