r"""The box refiner (timelapse/refine.py): walt3d_jax/models/data/box_refiner.npz.

  python -m walt3d_jax.models.build_box_refiner [--config experiments/box_refiner.py] \
      [--output walt3d_jax/models/data/box_refiner.npz] [--cache_dir DIR]
  python launch.py --config experiments/box_refiner.py --workdir /tmp/box_refiner

Trained on the detection verifier's examples (experiments/occlusion_classifier.py:verifier: the
built-in detector's detections in scenes simulated as benchmarks/detector.py scores it, seeds
10-15 of the four presets; seed 0 validates, seed 1 is held out), each detection's box moved to
the visible box of the true object it overlaps most, where that IoU is at least
`refiner.min_iou`. "tiny" is a seconds-long smoke run.

Built 2026-12-05 (1073 s on 2 busy cores with the scenes cached, 175 s of it training; 831 kB):
on the validation scenes 176 of 272 near misses (IoU 0.3-0.5 with their true box) moved to 0.5 or
more and 31 of 1816 good boxes under it, mean IoU 0.709 → 0.756; held out (seed 1) 177 of 254 and
46 of 1728, 0.707 → 0.759. benchmarks/detector.py with it after the verifier: pooled MOTA 0.664 /
0.653 / 0.652 / 0.635 / 0.695 on seeds 0-4, against 0.591 / 0.595 / 0.610 / 0.541 / 0.606 with
the verifier alone (docs/design.md).
"""

import ml_collections

from experiments import occlusion_classifier


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  if arg not in (None, "", "tiny"):
    raise ValueError(f"experiments/box_refiner.py: unknown argument {arg!r}; known: tiny")
  # The verifier's scenes, crops and training schedule: one simulation cache serves both.
  config = occlusion_classifier.get_config("verifier_tiny" if arg == "tiny" else "verifier")
  config.job = "box_refiner"
  del config.eval, config.heuristic  # the classifier's threshold and WALT's δ: not a refiner's
  config.refiner = ml_collections.ConfigDict(dict(
      min_iou=0.2,  # least IoU of a detection with its true box to learn from (below: often another object)
      near_iou=0.6,  # detections under this IoU with their true box ...
      near_weight=3.0,  # ... weigh this much: the boxes to move are few among those already right
      huber_delta=0.05,  # window units (a 32 px crop's pixel is 0.03)
  ))
  return config
