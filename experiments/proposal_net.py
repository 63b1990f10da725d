r"""The proposal network (timelapse/propose.py): walt3d_jax/models/data/proposal_net.npz.

  python -m walt3d_jax.models.build_proposal_net [--config experiments/proposal_net.py] \
      [--output walt3d_jax/models/data/proposal_net.npz] [--cache_dir DIR]
  python launch.py --config experiments/proposal_net.py --workdir /tmp/proposal_net

Trained on the detection verifier's scenes (experiments/occlusion_classifier.py:verifier: scenes
simulated as benchmarks/detector.py scores the built-in detector, seeds 10-15 of the four
presets; seed 0 validates and sets the threshold, seed 1 is held out): each frame with the
background the detector picks for it, and the visible boxes of objects with at least 30 visible
pixels (`timelapse/proposal_data.py`). Random 128-pixel windows, half of them centred on an
object. "tiny" is a seconds-long smoke run.

Built 2026-12-05 (1004 s on 2 busy cores with the scenes cached, 745 s of it training; 370 kB,
sha256 5ed655dc…, the same bytes from a second build):
1440 training frames (14822 objects); on the validation scenes (seed 0, 240 frames) F1 0.750 /
0.776 / 0.793 / 0.803 / 0.802 / 0.777 / 0.741 / 0.674 / 0.602 at thresholds 0.2, 0.25, ..., 0.6;
at 0.35: precision 0.802, recall 0.805 (by day 0.810 / 0.840, at night 0.791 / 0.756); held out
(seed 1): 0.771 / 0.813 (by day 0.786 / 0.838, at night 0.748 / 0.777), against every object with
30 visible pixels or more, occluded ones included.
"""

import ml_collections

from experiments import occlusion_classifier


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  if arg not in (None, "", "tiny"):
    raise ValueError(f"experiments/proposal_net.py: unknown argument {arg!r}; known: tiny")
  # The verifier's scenes and splits: one simulation cache serves the verifier, the refiner and this.
  verifier = occlusion_classifier.get_config("verifier_tiny" if arg == "tiny" else "verifier")
  config = ml_collections.ConfigDict()
  config.job = "proposal_net"
  config.seed = 0
  config.cache_dir = ""  # simulated scenes; default workdir/sim
  config.sim = verifier.sim
  config.splits = verifier.splits
  config.data = ml_collections.ConfigDict(dict(
      background_frames=verifier.data.background_frames,  # same-hour frames per burst
      min_area=30,  # visible pixels: the benchmark's MIN_VISIBLE_AREA
  ))
  config.model = ml_collections.ConfigDict(dict(variant="S"))
  config.train = ml_collections.ConfigDict(dict(
      steps=4000, batch_size=32, patch_size=128, max_objects=24, learning_rate=2e-3, warmup_steps=200,
      weight_decay=1e-4, box_weight=2.0, log_every=200,
  ))
  # The threshold of best F1 on the validation scenes among these.
  config.eval = ml_collections.ConfigDict(dict(
      thresholds=[0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6], max_detections=64))
  if arg == "tiny":
    config.model.variant = "tiny"
    config.train.update(dict(steps=6, batch_size=2, patch_size=64, max_objects=8, warmup_steps=2, log_every=3))
  return config
