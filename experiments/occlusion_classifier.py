r"""Occlusion classifier (the paper's "OC", section 3 and appendix Table 5) on simulated scenes.

Trains a small NNX CNN on crops + visible masks of the imitated detector's objects, labelled
occluded when ground truth hides ≥ 5 % of the object (by other agents or by static scenery) or
it is truncated, and scores "unoccluded" precision/recall on scenes never seen in training
(other layout seeds of every preset). The operating threshold is chosen on the validation scenes.

  python launch.py --config experiments/occlusion_classifier.py --workdir /tmp/oc
  python benchmarks/mining.py            # the Table-5 analogue (δ heuristic vs this classifier)

Time on 2 (shared) CPU cores: simulating the 36 scenes at 480×270 takes about 10 min once
(cached in workdir/sim), crops ~1.5 min, training (2573 examples, 20 epochs) about 5.5 min.
Measured on the held-out scenes (378 objects, 242 truly unoccluded), threshold 0.194 from the
validation scenes: recall 0.926, precision (purity) 0.970, F1 0.947 for unoccluded objects
(the paper: 0.81 / 0.70); the best δ (0.1) reaches F1 0.876 (recall 0.963, precision 0.803).
The argument "tiny" gives a seconds-long smoke run.

The argument "shipped" is the record of walt3d_jax/models/data/occlusion_classifier.npz, the
classifier the `mine` job uses by default: the same scenes simulated at 640×360 (the demo's
frames), built by

  python -m walt3d_jax.models.build_occlusion_weights   # [--cache_dir DIR] keeps the scenes

in about 7-11 min on 2 busy cores (scenes ~3 min, crops, 20 epochs; 408 s on 2026-12-03),
the same bytes on every run on one machine (sha256 2867a9a3…; 8549a2f3…, checked twice, before
the simulator's ground polygons were clipped to the view on 2026-12-03). Examples: 2926 train,
452 val, 445 test; threshold 0.539 from the validation scenes; held-out scenes: recall 0.962,
precision (purity) 0.956, F1 0.959 for unoccluded objects (before the ground fix: threshold
0.116, 0.911 / 0.985 / 0.947).

The argument "builtin" is the record of walt3d_jax/models/data/occlusion_classifier_builtin.npz,
the classifier `mine` uses with the built-in detector and a camera: the same scenes at 640×360
with 4 frames per burst, but the examples are the built-in detector's own detections
(`occlusion_data.builtin_detections`: each frame against its background from the scene's other
bursts, with the scene's camera), and those that match no true object (ghosts, merged blobs,
fragments: 4 in 5 of that detector's boxes here) are labelled to turn down
(`data.unmatched="reject"`); two validation scenes per preset. Built by

  python -m walt3d_jax.models.build_occlusion_weights \
      --config experiments/occlusion_classifier.py:builtin \
      --output walt3d_jax/models/data/occlusion_classifier_builtin.npz [--cache_dir DIR]

Since 2026-12-05 the detections are those of the detector's learnt stages as `mine` chains them
(`data.stages`: the detection verifier, the box refiner, the proposal network; the proposals'
box masks are never examples, `occlusion_data.usable`): built in 1844 s on 2 cores shared with
a mining run, the scenes simulated included (sha256 eceda367…; a second build, 1388 s with
the scenes cached, gave the same bytes):
4486 train, 1553 val, 606 test examples (the verifier drops most of the detector's detections of
nothing); threshold 0.0126 from the validation scenes (validation purity 0.953, recall 0.49);
held out, of 257 clean objects it keeps 132 among 144 (purity 0.917, recall 0.47). With it and
the three stages, the static-occluder benchmark's eight scenes mine 1272 rows at purity 0.947
(docs/design.md), against 863 at 0.975 for the verifier alone and the classifier below. Before,
in 1465 s on 2 busy cores with the scenes cached (2026-12-03, the detector whose car-fragment
rule bounds a car's height by what it can measure seen from the camera; sha256 da3071fe…):
10415 train, 3182 val, 1227 test examples; threshold 0.00146 from the validation scenes
(validation purity 0.955, recall 0.37); held out, of 184 clean objects it keeps 47 among 53
(purity 0.89, recall 0.26); `mine.py:builtin` over four scenes mines 457 at purity 0.980
(experiments/mine.py). Before, in 1885 s on 2 cores shared with the test suite, simulating the
scenes included (2026-12-03, the detector with car silhouettes, people grown to their feet and
the frame's shadow level; sha256 e51f819b…). Examples (min_area 100): 10839 train, 3275 val, 1275 test; threshold 0.0031
from the validation scenes (the best F1 with validation purity >= 0.95: validation purity 0.954,
recall 0.33). Held-out scenes: of 182 clean objects it keeps 42 among 47 kept, purity 0.89,
recall 0.23; `mine.py:builtin` mines 114 objects at purity 0.991, and over four scenes 443 at
0.975 (experiments/mine.py). With the detector before those changes (sha256 1da31558…, 830 s):
6037 / 1739 / 690 examples, threshold 0.0072, held out 36 of 107 clean objects kept among 41
(purity 0.88, recall 0.34), `mine.py:builtin` 65 objects at purity 0.985. Before the simulator's
ground polygons were
clipped to the view (2026-12-03; sha256 bbabf0a0…, 699 s with the scenes cached): 6041 / 1754
/ 636 examples, threshold 0.0067, held out 39 of 111 clean objects kept at purity 0.90, and
`mine.py:builtin` with three more scenes never trained on 319 objects at purity 0.947 (below 0.9
on one scene, experiments/mine.py). The first round (2 frames per burst, one validation scene:
1337 training examples) kept 267 at 0.914.

The argument "verifier" is the record of walt3d_jax/models/data/detection_verifier.npz, the
detection verifier (timelapse/verify.py) that drops the built-in detector's detections of no
object: the same network with 8 input channels (the frame, the detection's mask, the inside
plane, the background it was detected against), trained on that detector's detections in scenes
simulated as benchmarks/detector.py scores it (timelapse/verifier_data.py), each labelled to
reject when its box overlaps no true object by IoU 0.5. Built by

  python -m walt3d_jax.models.build_occlusion_weights \
      --config experiments/occlusion_classifier.py:verifier \
      --output walt3d_jax/models/data/detection_verifier.npz [--cache_dir DIR]

in 1087 s on 2 busy cores with the scenes cached (2026-12-05, sha256 68af5fb3…; the parameters
the same as a build 15 min earlier): 13355 train, 2280 val (seed 0), 2227 test (seed 1)
examples; threshold 0.93 on P(no object), the one that keeps 98 % of the true objects'
detections on the validation scenes (validation precision 0.88); held out, 0.98 of them kept at
precision 0.89. Its effect on the detector benchmark is in docs/design.md ("With the detection
verifier"). "verifier_tiny" is its seconds-long smoke run.
"""

import ml_collections

from experiments import simulate as simulate_config


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.job = "occlusion_classifier"
  config.seed = 0
  config.cache_dir = ""  # simulated scenes; default workdir/sim

  # The simulator at a third of 720p: objects large enough to see occluders at 48 px crops.
  config.sim = ml_collections.ConfigDict(dict(
      job="simulate", seed=0, presets=[], image_size=(480, 270), num_bursts=6,
      frames_per_burst=2, fps=10.0, num_days=2, num_cars=14, num_people=10,
      num_shape_components=5, image_format="jpg", jpeg_quality=92, write_video=False,
      progress=False,
      detector=dict(miss_rate=0.03, occlusion_miss_rate=0.6, min_visible_area=30,
                    mask_jitter_px=1, keypoint_sigma_px=2.0, hidden_keypoint_sigma_px=6.0,
                    false_positives_per_frame=0.2),
  ))
  presets = ["avenue", "crosswalk", "intersection", "t_junction"]
  # Scenes = (preset, seed); the three splits share no scene.
  config.splits = ml_collections.ConfigDict(dict(
      train=dict(presets=presets, seeds=[1, 2, 3, 4, 5, 6, 7]),
      val=dict(presets=presets, seeds=[8]),
      test=dict(presets=presets, seeds=[10]),
  ))
  config.data = ml_collections.ConfigDict(dict(
      source="detections",  # "truth": ground-truth visible masks; "detections": imitated detector;
      # "builtin": the built-in detector (timelapse.detect) run on the frames
      unmatched="drop",  # detections matching no true object: "drop", or "reject" (learn to turn them down)
      crop_size=48,  # pixels
      context=0.25,  # window margin per side, fraction of the box's longer side
      occlusion_threshold=0.05,  # hidden fraction at and above which an object is "occluded"
      match_iou=0.5,  # detection ↔ ground truth visible-mask IoU
      min_area=100,  # visible pixels; smaller objects are neither trained on nor mined
      # With source "builtin": the learnt stages its detections pass through (timelapse/stages.py:
      # verifier, refiner, proposer; 'shipped' or a weights file each), as `mine` chains them.
      stages=dict(),
  ))
  config.model = ml_collections.ConfigDict(dict(variant="S"))
  config.train = ml_collections.ConfigDict(dict(
      batch_size=64, epochs=20, learning_rate=3e-3, warmup_steps=50, weight_decay=1e-4,
  ))
  # Operating point: the best validation F1 among thresholds whose validation purity reaches
  # min_precision (and whose share of the clean objects kept reaches min_recall).
  config.eval = ml_collections.ConfigDict(dict(min_precision=0.95, min_recall=0.0))
  # Table 5: WALT's δ heuristic on the same objects (border margin in pixels).
  config.heuristic = ml_collections.ConfigDict(dict(deltas=[0.01, 0.1, 0.2, 0.5], margin=2.0))

  if arg in ("shipped", "builtin"):
    # walt3d_jax/models/data/occlusion_classifier.npz: the demo's frame size.
    config.sim.image_size = (640, 360)
  if arg == "builtin":
    # For mining with the built-in detector: trained on its own detections, and taught to turn
    # down those that match no true object (ghosts, merged blobs, fragments) as well. Few of its
    # detections are clean, so twice the frames per scene and two validation scenes (the
    # threshold is set on validation purity).
    config.data.source, config.data.unmatched = "builtin", "reject"
    config.data.stages = dict(verifier="shipped", refiner="shipped", proposer="shipped")
    config.sim.frames_per_burst = 4
    config.splits.val.seeds = [8, 9]
  elif arg in ("verifier", "verifier_tiny"):
    # walt3d_jax/models/data/detection_verifier.npz (timelapse/verify.py): the same network,
    # taught which of the built-in detector's detections are no object. Scenes as
    # benchmarks/detector.py scores the detector (the simulator's defaults at 480×270, 12 bursts of
    # 5 frames over two days, each against its background from 8 same-hour frames of other days);
    # trained on seeds the benchmark never scores, the threshold set on seed 0 (the seed the
    # detector's settings were chosen on), seed 1 held out.
    config.sim = simulate_config.get_config()
    config.sim.update(dict(image_size=(480, 270), num_bursts=12, frames_per_burst=5, num_days=2, progress=False))
    config.splits = ml_collections.ConfigDict(dict(
        train=dict(presets=presets, seeds=[10, 11, 12, 13, 14, 15]),
        val=dict(presets=presets, seeds=[0]),
        test=dict(presets=presets, seeds=[1]),
    ))
    config.data = ml_collections.ConfigDict(dict(
        source="verifier", unmatched="reject", crop_size=32, context=0.25, match_iou=0.5,
        min_area=0, background_frames=8))
    config.train.update(dict(batch_size=128, epochs=12, learning_rate=2e-3))
    # The threshold that keeps 98 % of the true objects' detections on the validation scenes:
    # the best F1 (0.807, keeping 96 %) took the benchmark's pooled recall under 0.7 on seeds 0
    # and 1 (0.717 → 0.692, 0.705 → 0.689) for a pooled MOTA no better than from 0.85 to 0.97.
    config.eval.update(dict(min_precision=0.8, min_recall=0.98))
    if arg == "verifier_tiny":
      config.sim.update(dict(image_size=(320, 180), num_bursts=2, frames_per_burst=3))
      config.data.background_frames = 2
      config.splits = ml_collections.ConfigDict(dict(
          train=dict(presets=["intersection"], seeds=[1]),
          val=dict(presets=["intersection"], seeds=[2]),
          test=dict(presets=["intersection"], seeds=[3]),
      ))
      config.model.variant = "Ti"
      config.train.update(dict(batch_size=4, epochs=1))
  elif arg == "tiny":
    config.sim.image_size = (320, 180)
    config.sim.num_bursts, config.sim.frames_per_burst = 2, 2
    config.splits = ml_collections.ConfigDict(dict(
        train=dict(presets=["crosswalk"], seeds=[1, 2]),
        val=dict(presets=["crosswalk"], seeds=[3]),
        test=dict(presets=["crosswalk"], seeds=[4]),
    ))
    config.data.min_area = 30
    config.model.variant = "Ti"
    config.train.batch_size, config.train.epochs = 16, 2
  elif arg not in (None, "", "shipped", "builtin"):
    raise ValueError(f"unknown argument {arg!r}; use none, 'shipped', 'builtin', 'verifier', "
                     "'verifier_tiny' or 'tiny'")
  return config
