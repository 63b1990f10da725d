r"""Table 5 analogue: finding UNOCCLUDED objects with WALT's δ heuristic vs the occlusion classifier.

  .venv/bin/python benchmarks/mining.py [--workdir /tmp/walt3d_mining] [--config_arg tiny]

On held-out simulated scenes (layout seeds never used in training or validation), every object
the imitated detector finds (matched to ground truth, ≥ min_area visible pixels) is classified.
Positives are the truly unoccluded objects (ground-truth occlusion < 5 %, by agents or scenery,
and not truncated), as in the paper's Table 5 (δ = 0.01/0.1/0.2/0.5: recall 0.60/0.42/0.17/0.01,
precision 0.32/0.41/0.52/0.57; OC: recall 0.81, precision 0.70). The heuristic sees every
detection of the frame (false positives and small objects included, as a miner would) plus the
border check (margin pixels). The classifier's threshold is chosen on the validation scenes.
"Purity" is the fraction of kept objects that are truly unoccluded (= precision of the kept
set); "scenery-occluded kept" is the fraction of objects hidden ≥ 5 % by static scenery that a
method wrongly keeps — the case the paper says the box heuristic cannot see.

Acceptance (issue 3): classifier recall ≥ 0.8, precision ≥ 0.7, F1 above the best δ's, purity
≥ 0.95. Simulation is cached in workdir/sim and training resumes from workdir/checkpoints.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from experiments import occlusion_classifier as oc_config
from walt3d_jax.models import occlusion_classifier as oc
from walt3d_jax.timelapse import occlusion
from walt3d_jax.timelapse import occlusion_data
from walt3d_jax.train import occlusion as train_lib


def heuristic_keep(examples: occlusion_data.OcclusionExamples, delta: float, margin: float) -> np.ndarray:
  """(N,) bool: WALT's test on each frame's full set of boxes."""
  keep = np.zeros(examples.num, bool)
  for frame in np.unique(examples.frame):
    rows = np.flatnonzero(examples.frame == frame)
    keep[rows], _ = occlusion.heuristic_unoccluded(examples.boxes[rows], examples.image_size, delta, margin)
  return keep


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workdir", default="/tmp/walt3d_mining")
  parser.add_argument("--config_arg", default=None, help="argument of experiments/occlusion_classifier.py")
  parser.add_argument("--cache_dir", default="", help="simulated scenes (default workdir/sim)")
  args = parser.parse_args()
  config = oc_config.get_config(args.config_arg)
  config.cache_dir = args.cache_dir
  workdir = pathlib.Path(args.workdir)

  tic = time.perf_counter()
  splits = train_lib.load_splits(config, workdir)
  cache = pathlib.Path(config.cache_dir or workdir / "sim")
  test_scenes = occlusion_data.scene_specs(config.splits.test.presets, config.splits.test.seeds)
  test_all = occlusion_data.build_examples(config.sim, test_scenes, config.data, cache)
  data_seconds = time.perf_counter() - tic
  result = train_lib.train(config, splits["train"], splits["val"], workdir)

  scored = occlusion_data.usable(test_all, config.data.min_area)
  test = test_all.select(scored)
  scenery = test.by_scenery >= config.data.occlusion_threshold
  print(f"data {data_seconds:.0f} s; training {result.seconds:.0f} s "
        f"({len(result.history)} epochs in this run's record); examples: "
        + ", ".join(f"{k} {v.num}" for k, v in splits.items()))
  print(f"held-out test: {test.num} objects, {int((~test.occluded).sum())} truly unoccluded, "
        f"{int(scenery.sum())} hidden by scenery; threshold {result.threshold:.3f} (from validation)")

  rows = {}
  for delta in config.heuristic.deltas:
    keep = heuristic_keep(test_all, delta, config.heuristic.margin)[scored]
    rows[f"δ = {delta:g}"] = (train_lib.unoccluded_scores(keep, test.occluded), keep)
  prob = oc.predict(result.model, test.crops)
  keep = prob < result.threshold
  rows["OC (ours)"] = (train_lib.unoccluded_scores(keep, test.occluded), keep)

  print(f"{'':22s}" + "".join(f"{name:>12s}" for name in rows))
  for metric in ("recall", "precision", "f1"):
    print(f"{metric:22s}" + "".join(f"{s[metric]:12.3f}" for s, _ in rows.values()))
  print(f"{'purity of kept':22s}" + "".join(f"{s['precision']:12.3f}" for s, _ in rows.values()))
  print(f"{'kept':22s}" + "".join(f"{s['kept']:12d}" for s, _ in rows.values()))
  print(f"{'scenery-occluded kept':22s}"
        + "".join(f"{(k & scenery).sum() / max(scenery.sum(), 1):12.3f}" for _, k in rows.values()))

  oc = rows["OC (ours)"][0]
  best_name, (best, _) = max(((n, r) for n, r in rows.items() if n.startswith("δ")), key=lambda x: x[1][0]["f1"])
  print(f"classifier F1 / best δ's F1 ({best_name}): {oc['f1']:.3f} / {best['f1']:.3f} = "
        f"{oc['f1'] / max(best['f1'], 1e-12):.2f}")
  checks = {
      "recall ≥ 0.8": oc["recall"] >= 0.8, "precision ≥ 0.7": oc["precision"] >= 0.7,
      "F1 > best δ": oc["f1"] > best["f1"], "purity ≥ 0.95": oc["precision"] >= 0.95,
  }
  print("acceptance: " + ", ".join(f"{k} {'PASS' if v else 'FAIL'}" for k, v in checks.items()))


if __name__ == "__main__":
  main()
