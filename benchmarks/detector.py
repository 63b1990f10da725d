r"""Built-in detector (timelapse.detect) and SORT on it, on held-out simulated sequences.

  .venv/bin/python benchmarks/detector.py [--presets intersection crosswalk t_junction avenue]
      [--seed 1] [--bursts 12] [--frames 5] [--size 480 270] [--workdir /tmp/detector_bench]
      [--baseline]

Per preset: one sequence (seed 1 by default: the detector's settings were chosen on seed 0)
of `bursts` bursts of `frames` frames over two days, day / dusk / night in the capture pattern's
shares (12 bursts: 7 day, 3 dusk, 2 night), written as JPEG like any simulated sequence. The
background model holds what weeks of the same camera's time-lapse hold for those hours: single
frames at each scored burst's hour (±10 min) on 8 other days, other traffic
(`capture.same_hours_schedule`, `--background_frames` per burst, 96 frames for 12 bursts); the
detector picks each frame's background from them by appearance (`frame_background`), never
told the hour. `--same_sequence_background`: the scored frames themselves, default buckets.
Scores against ground_truth.json (objects with >= 30 visible pixels; smaller ones are ignored
everywhere):
- detection precision / recall at IoU 0.5 of visible boxes for objects with occlusion < 0.1,
  class-aware (a person called a car is a false positive and a miss) and class-agnostic; a
  detection matched to a more occluded object is ignored (neither TP nor FP). Per lighting
  period and overall.
- SORT (timelapse.track) MOTA and IDF1: on every object >= 30 px, and on objects with
  occlusion < 0.1 (hypotheses matched to a more occluded object dropped first, the same rule).
`--baseline` runs the detector as it was before the "real footage" issue (no temporal
persistence, no group splitting, the old thresholds: `detect.BASELINE_CONFIG`).
`--verifier` (default `shipped`, models/data/detection_verifier.npz; '' for none), `--refiner`
(default `shipped`, models/data/box_refiner.npz; '' for none) and `--proposer` (default `shipped`,
models/data/proposal_net.npz; '' for none): the detector's detections are scored without the
learnt stages, the baseline, and with them (the detection verifier, timelapse/verify.py, then the
box refiner, timelapse/refine.py, then the proposal network's objects that no detection covers,
timelapse/propose.py), from one detector pass, with the ratios printed. `--min_hits` (default
2): SORT's min_hits on the verified detections; the unverified ones keep SORT's 3
(VERIFIED_MIN_HITS).
Measured 2026-12-05, pooled P / R / MOTA without → with the verifier, the refiner and the proposal
network (SORT min_hits 3 → 2): seed 0 (the verifier's and the proposal network's thresholds were
chosen there, and it validates the refiner) 0.752 / 0.717 / 0.541 → 0.866 / 0.865 / 0.765, seed 1
0.737 / 0.705 / 0.523 → 0.857 / 0.854 / 0.730, seed 2 0.735 / 0.709 / 0.522 → 0.838 / 0.869 /
0.731, seed 3 0.686 / 0.672 / 0.448 → 0.838 / 0.856 / 0.735, seed 4 0.742 / 0.735 / 0.536 → 0.840
/ 0.891 / 0.768 (per preset, and the verifier and the refiner without the proposals, in
docs/design.md).
About 1 minute per preset on one core at 480×270 once simulated (simulating the background
frames takes about a minute per preset the first time; cached in --workdir).
The simulator labels frames by sun elevation: on seeds 0 and 1 its 17:30–19:30 "dusk" bursts
come out as night, so 12 bursts give 35 day and 25 night frames and no dusk row (seeds 2-4 have
one).

Measured (seed 1, defaults, 2 shared cores), class-aware, occlusion < 0.1; MOTA on objects with
occlusion < 0.1. Four stages: the detector before issue 11 (`--baseline`, bucket medians of an
earlier 120-frame background capture), after its first round (same capture, hour-wide
buckets), with per-frame backgrounds from the same-hours frames (illumination chroma 0.2,
people split between heads, blobs under 1.3 m dropped), and now (blobs that most background
samples show too dropped as ghosts, cars cut by a pole joined):
  intersection P 0.11 → 0.33 → 0.52 → 0.61  R 0.29 → 0.32 → 0.39 → 0.38  MOTA -1.16 → -0.14 → 0.10 → 0.18
  crosswalk    P 0.10 → 0.37 → 0.53 → 0.61  R 0.27 → 0.32 → 0.36 → 0.34  MOTA -0.82 → -0.04 → 0.17 → 0.20
  t_junction   P 0.10 → 0.28 → 0.49 → 0.61  R 0.40 → 0.44 → 0.48 → 0.47  MOTA -1.58 → -0.30 → 0.07 → 0.19
  avenue       P 0.13 → 0.37 → 0.65 → 0.69  R 0.36 → 0.45 → 0.56 → 0.54  MOTA -1.08 → -0.06 → 0.34 → 0.34
  pooled       P 0.11 → 0.33 → 0.55 → 0.63  R 0.33 → 0.38 → 0.45 → 0.43  (now: day 0.66 / 0.48, night 0.58 / 0.36)
(The per-frame backgrounds alone, before the third stage's detector changes: pooled P 0.49, R 0.45.)
With HOG's people splitting groups the heads do not (timelapse/hog.py): intersection P 0.63 R
0.39 MOTA 0.196, the other presets unchanged, pooled P 0.64 R 0.44 (day 0.67 / 0.49); crosswalk
at 960×540 (`--presets crosswalk --size 960 540`) P 0.48 → 0.51, R 0.34 → 0.37, MOTA 0.083 →
0.108 (by day 0.50 / 0.40 → 0.54 / 0.44).
Re-measured after the simulator's ground polygons were clipped to the view (2026-12-03: before,
ground polygons reaching behind the camera were drawn bent near it; avenue's road, parking strip
and kerbs changed most), same detector: intersection P 0.67 R 0.40 MOTA 0.240, crosswalk 0.59 /
0.33 / 0.158, t_junction 0.62 / 0.47 / 0.192, avenue 0.66 / 0.46 / 0.205 (by day 0.80 / 0.56);
pooled P 0.64 R 0.42 (day 0.68 / 0.48, night 0.56 / 0.33). The figures above are of the old
rendering. Then (same day; chosen on seed 0) blobs too large for one object explained by car
silhouettes (timelapse/silhouettes.py), people cut at the waist by the shadow test grown back to
their feet, and shadows no darker than the frame's own cast shadows: intersection P 0.68 R 0.51
MOTA 0.332, crosswalk 0.59 / 0.44 / 0.207, t_junction 0.68 / 0.60 / 0.339, avenue 0.66 / 0.55 /
0.343; pooled P 0.66 R 0.53 (day 0.70 / 0.63, night 0.57 / 0.37), 360–400 ms a frame (was
about 240). `--baseline` on the same sequences and per-frame backgrounds (its config since
then also leaves out the silhouettes, the feet and the shadow level, which it had been running
with): intersection P 0.18 R 0.38 MOTA -0.619, crosswalk 0.12 / 0.31 / -0.421, t_junction 0.22 /
0.56 / -0.558, avenue 0.28 / 0.49 / -0.156; pooled P 0.20 R 0.43.
At the simulator's default 640×360 (`--size 640 360`), third stage: intersection P 0.51 R 0.39
MOTA 0.06, crosswalk 0.52 / 0.37 / 0.13, t_junction 0.48 / 0.47 / 0.04, avenue 0.59 / 0.52 /
0.25; pooled P 0.53, R 0.44 (day 0.61 / 0.50, night 0.41 / 0.36): resolution is not what limits it.
Still far from the goals. With the true empty street under each frame's light as background
(intersection) the third stage reached P 0.56 / R 0.46 (day 0.68 / 0.53); the rest is the
segmentation's: objects 15–30 px tall at 480×270 (recall 0.1–0.4), touching objects merged into
one blob (a third of the day's misses; queues of cars more than 8 m wide are dropped whole), and
at night headlight beams joined to their cars and dark objects under the noise.

At 1280×720 (`--size 1280 720`, 2026-12-03, the detector of the figures above, held-out seed
1, 12 bursts of 5 frames; about 2 s a frame): intersection P 0.63 R 0.60 MOTA 0.337, crosswalk
0.54 / 0.53 / 0.280, t_junction 0.70 / 0.68 / 0.417, avenue 0.67 / 0.50 / 0.287; pooled P 0.64
R 0.58, by day 0.69 / 0.69, at night 0.54 / 0.42 (at 480×270: 0.66 / 0.53, day 0.70 / 0.63,
night 0.57 / 0.37). Larger objects gain by day; the night's noise costs precision.
`--work_width W` runs the same sequences also shrunk to W wide (the mine job's
`source.max_width`, `timelapse/resize.py`) and prints the ratios: seed 0, 6 bursts of 3 frames
at 1280×720, read at 480×270: intersection P 0.52 → 0.62, R 0.46 → 0.49, MOTA 0.124 → 0.249;
crosswalk P 0.72 → 0.71, R 0.66 → 0.56, MOTA 0.362 → 0.262; 6–7× faster. At 1920×1080 read at
1280×720: t_junction R 0.71 → 0.80, crosswalk 0.66 → 0.68, 2.2× faster.
Then the car-fragment rule's height bound became what a car at that spot can measure
(`detect.car_apparent_height`; same day), held out: at 480×270 intersection P 0.72 R 0.51 MOTA
0.34, crosswalk 0.61 / 0.43 / 0.22, t_junction 0.71 / 0.61 / 0.37, avenue 0.69 / 0.55 / 0.35,
pooled P 0.69 R 0.53 (day 0.73 / 0.63, night 0.59 / 0.37); at 1280×720 intersection 0.69 / 0.59
/ 0.38, crosswalk 0.56 / 0.53 / 0.29, t_junction 0.72 / 0.69 / 0.44, avenue 0.69 / 0.51 / 0.30,
pooled P 0.67 R 0.58 (day 0.73 / 0.69, night 0.57 / 0.42).
Then the sample-consensus ghost test asked for whole samples, not pixels (`detect.sample_consensus`:
at night two samples of twelve with dark cars queued at the same spot matched a dark car in
patches, and it was dropped), held out at 480×270: intersection P 0.71 R 0.53 MOTA 0.36,
crosswalk 0.60 / 0.46 / 0.22, t_junction 0.68 / 0.64 / 0.38, avenue 0.68 / 0.57 / 0.38, pooled
P 0.68 R 0.55 (day 0.73 / 0.64, night 0.57 / 0.42).
Then shadows took the colour of the frame's own cast shadows (`detect.cast_shadows`: under a
blue sky a shadow keeps more blue than red, and a grey test left people's shadows in patches),
held out at 480×270: intersection P 0.70 R 0.55 MOTA 0.33, crosswalk 0.61 / 0.46 / 0.26,
t_junction 0.65 / 0.64 / 0.31, avenue 0.69 / 0.59 / 0.39, pooled P 0.67 R 0.56 (day 0.72 /
0.66, night 0.58 / 0.42); on seed 0 P 0.66 → 0.68, R 0.55 → 0.57, MOTA up on three presets.
Then a blob's part that three samples show as the frame does went (`DetectorConfig.ghost_part_share`:
a car beside the ghost of a queue the median holds), held out: intersection P 0.72 R 0.56 MOTA
0.36, crosswalk 0.62 / 0.48 / 0.30, t_junction 0.65 / 0.64 / 0.32, avenue 0.69 / 0.59 / 0.39,
pooled P 0.68 R 0.57 (day 0.73 / 0.67, night 0.58 / 0.43).
Then, where the frame shows no sun's shadow, only soft shadows (`DetectorConfig.soft_shadow_min`
0.5: darker is a dark coat or car), held out: intersection P 0.72 R 0.58 MOTA 0.37, crosswalk
0.62 / 0.50 / 0.28, t_junction 0.67 / 0.66 / 0.33, avenue 0.69 / 0.64 / 0.42, pooled P 0.68
R 0.60, by day P 0.73 R 0.70, at night 0.59 / 0.44.
Then cars at night found by pairs of their lamps (`timelapse/lamps.py`, `detect.with_lamp_cars`:
a dark car no blob shows added as its silhouette, a car's blob cut to it and its headlights'
pool dropped), held out: intersection P 0.75 R 0.66 MOTA 0.44, crosswalk 0.64 / 0.55 / 0.35,
t_junction 0.68 / 0.68 / 0.37, avenue 0.72 / 0.68 / 0.47, pooled P 0.71 R 0.65, by day P 0.73
R 0.70, at night 0.67 / 0.57; about 340 ms a frame.
Then pools of light dropped (`detect.is_light_pool`: nearly all brighter than the background,
no outline of their own), held out: intersection P 0.75 R 0.66 MOTA 0.45, crosswalk 0.65 /
0.55 / 0.35, t_junction 0.68 / 0.68 / 0.37, avenue 0.76 / 0.68 / 0.51, pooled P 0.72 R 0.65
(day 0.73 / 0.70, night 0.70 / 0.57).
The same detector at 1280×720 (`--size 1280 720`, held out; 1.7–3.1 s a frame): intersection
P 0.79 R 0.76 MOTA 0.62, crosswalk 0.67 / 0.61 / 0.39, t_junction 0.72 / 0.74 / 0.49, avenue
0.78 / 0.62 / 0.49; pooled P 0.75 R 0.69, by day 0.75 / 0.73, at night 0.75 / 0.62 (before the
lamps, the sample consensus by whole samples and the shadows' colour: pooled P 0.67 R 0.58).
Then walking people's thin legs, lost to the opening at 480×270, grown back (`detect.extend_to_feet`'s
limbs), held out at 480×270: intersection P 0.75 R 0.68 MOTA 0.455, crosswalk 0.65 / 0.56 /
0.347, t_junction 0.68 / 0.69 / 0.394, avenue 0.76 / 0.68 / 0.507, pooled P 0.72 R 0.66 (day
0.73 / 0.71, night 0.70 / 0.59); at 1280×720 intersection 0.79 / 0.76 / 0.616, crosswalk 0.67 /
0.62 / 0.391, t_junction 0.72 / 0.74 / 0.489, avenue 0.78 / 0.64 / 0.508, pooled P 0.75 R 0.69
(day 0.75 / 0.73, night 0.75 / 0.63). On seed 0 (the tuning seed) at 1280×720 intersection
0.75 / 0.76 / 0.548, crosswalk 0.69 / 0.69 / 0.422, t_junction 0.77 / 0.76 / 0.564, avenue
0.87 / 0.81 / 0.722.
Then each frame's background became its neighbours' block mode (`background._block_mode_of`, the
default estimator; `--estimator median` for the figures above), held out at 480×270:
intersection P 0.78 R 0.67 MOTA 0.481, crosswalk 0.67 / 0.53 / 0.360, t_junction 0.72 / 0.68 /
0.459, avenue 0.74 / 0.67 / 0.468, pooled P 0.74 R 0.65 (day 0.76 / 0.70, night 0.70 / 0.57).
At 1280×720 (held out): intersection 0.79 / 0.73 / 0.586, crosswalk 0.65 / 0.62 / 0.393,
t_junction 0.77 / 0.74 / 0.551, avenue 0.80 / 0.64 / 0.514, pooled P 0.76 R 0.68 (day 0.78 /
0.73, night 0.74 / 0.62), about 3.4 s a frame: intersection and t_junction meet the goals.
Then (2026-12-04) groups too narrow for a car cut into their people (`detect.split_narrow_group`)
and torsos up to 1.2 m wide grown to their feet, held out at 480×270: intersection P 0.77 R 0.70
MOTA 0.527, crosswalk 0.67 / 0.56 / 0.360, t_junction 0.71 / 0.71 / 0.484, avenue 0.73 / 0.67 /
0.472, pooled P 0.73 R 0.67 (day 0.75 / 0.72, night 0.70 / 0.59): intersection meets the three
goals. At 1280×720: intersection 0.79 / 0.75 / 0.609, crosswalk 0.64 / 0.62 / 0.384, t_junction
0.75 / 0.75 / 0.557, avenue 0.77 / 0.66 / 0.518, pooled P 0.75 R 0.70 (day 0.76 / 0.75, night
0.73 / 0.63), about 2.1 s a frame.
Then car silhouettes ranked by their outline (`silhouettes.SilhouetteConfig.ring_m`, `ring_weight`:
the head of a queue no longer straddled with the car behind), held out at 480×270: intersection
P 0.79 R 0.72 MOTA 0.545, crosswalk 0.70 / 0.59 / 0.406, t_junction 0.70 / 0.70 / 0.448, avenue
0.74 / 0.69 / 0.511, pooled P 0.735 R 0.679 (day 0.758 / 0.735, night 0.697 / 0.596). At
1280×720: intersection 0.81 / 0.77 / 0.643, crosswalk 0.65 / 0.65 / 0.421, t_junction 0.75 /
0.74 / 0.553, avenue 0.77 / 0.67 / 0.516, pooled P 0.754 R 0.710 (day 0.767 / 0.760, night
0.733 / 0.637). A third sequence (`--seed 2`, 480×270): intersection 0.72 / 0.72 / 0.488,
crosswalk 0.76 / 0.58 / 0.438, t_junction 0.68 / 0.68 / 0.450, avenue 0.82 / 0.69 / 0.557,
pooled P 0.739 R 0.669 (without the ring MOTA 0.497 / 0.400 / 0.432 / 0.538).
Then (2026-12-04) a ghost needs its contour's median pixel, not only the mean, to have weaker
frame edges than the background (`detect.DetectorConfig.ghost_median_ratio`), and after that
`min_height_m` went back to 1.2 (from 1.3). Pooled P / R, then MOTA intersection / crosswalk /
t_junction / avenue:
  sequence          with the ghost median                  and min_height_m 1.2
  seed 1, 480×270   0.736 / 0.693  0.570 0.419 0.451 0.513   0.717 / 0.701  0.589 0.421 0.457 0.501
  seed 2, 480×270   0.723 / 0.689  0.523 0.432 0.430 0.574   0.708 / 0.702  0.532 0.456 0.424 0.578
  seed 1, 1280×720  0.755 / 0.719  0.664 0.414 0.562 0.518   0.741 / 0.730  0.661 0.418 0.566 0.541
Then seed 1 at 480×270 by day P 0.745 R 0.759, at night 0.671 / 0.616; at 1280×720 by day 0.758 /
0.779, at night 0.713 / 0.661.
Then (2026-12-04, chosen on seed 0) a blob as wide as a car head-on whose column profile dips
in its middle cut into two people (`DetectorConfig.pair_dip`), the parts of every cut blob
labelled people, and a person-class box half inside a car's and above its bottom dropped
(`DetectorConfig.behind_car_share`). The summary now also prints MOTA pooled over the presets
(`metrics.mot.pooled`: all errors over all truth boxes, as MOTChallenge reports a benchmark).
Pooled P / R and pooled MOTA, then MOTA per preset (occlusion < 0.1), before → after:
  seed 1, 480×270   P / R 0.717 / 0.701 → 0.723 / 0.705, pooled MOTA 0.504 → 0.509
                    MOTA 0.589 0.421 0.457 0.501 → 0.588 0.456 0.455 0.497
  seed 2, 480×270   P / R 0.708 / 0.702 → 0.719 / 0.709, pooled MOTA 0.500 → 0.512
                    MOTA 0.532 0.456 0.424 0.578 → 0.552 0.456 0.450 0.578
  seed 3, 480×270   P / R 0.671 / 0.662 → 0.682 / 0.672, pooled MOTA 0.427 → 0.445
                    MOTA 0.508 0.366 0.437 0.375 → 0.518 0.418 0.454 0.375
  seed 1, 1280×720  P / R 0.741 / 0.730 → 0.759 / 0.736, pooled MOTA 0.559 → 0.565
                    MOTA 0.661 0.418 0.566 0.541 → 0.661 0.425 0.581 0.544
At 1280×720 the pair cut took crosswalk 0.418 → 0.448 and the behind-a-car test back to 0.425
(three true detections dropped for 18 false ones, and tracks cut), while that test took t_junction
0.566 → 0.581 and the night's P 0.717 → 0.751.
Seed 3 is a sequence no setting was chosen or looked at on before these changes: there the
goals are not met (by day P 0.675 R 0.708, crosswalk's day P 0.63; avenue at night P 0.51 R
0.41, 48 of its 59 night cars missed with no detection under 20 px tall). On seed 4, also never
looked at, they are met: P 0.728 R 0.735, MOTA 0.605 / 0.407 / 0.532 / 0.521, pooled 0.523. The
held-out seeds differ by more than any one change: judge a change on several.
Until 2026-12-05 objects under 30 visible pixels were dropped from the truth rather than ignored,
although this docstring said ignored: a detection of a far car 24 of whose pixels show (38 %
hidden) counted as a false positive, and in MOTA too. Scored as ignored since (the same
detector), pooled P / R and pooled MOTA, then MOTA per preset, before → after:
  seed 0, 480×270   P / R 0.742 / 0.717 → 0.752 / 0.717, pooled MOTA 0.534 → 0.541
                    MOTA 0.566 0.548 0.561 0.467 → 0.572 0.548 0.561 0.485
  seed 1, 480×270   P / R 0.723 / 0.705 → 0.737 / 0.705, pooled MOTA 0.509 → 0.523
                    MOTA 0.588 0.456 0.455 0.497 → 0.596 0.456 0.474 0.524
  seed 2, 480×270   P / R 0.719 / 0.709 → 0.735 / 0.709, pooled MOTA 0.512 → 0.522
                    MOTA 0.552 0.456 0.450 0.578 → 0.559 0.456 0.472 0.590
  seed 3, 480×270   P / R 0.682 / 0.672 → 0.686 / 0.672, pooled MOTA 0.445 → 0.448
                    MOTA 0.518 0.418 0.454 0.375 → 0.518 0.418 0.458 0.382
  seed 4, 480×270   P / R 0.728 / 0.735 → 0.742 / 0.735, pooled MOTA 0.523 → 0.536
                    MOTA 0.605 0.407 0.532 0.521 → 0.605 0.414 0.545 0.554

Goals (issue 11): precision >= 0.7, recall >= 0.7 (occlusion < 0.1), MOTA >= 0.5.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import ml_collections
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # run as a script

from experiments import simulate as simulate_config
from walt3d_jax.geometry import camera as camera_lib
from walt3d_jax.metrics import detection as det_metrics
from walt3d_jax.metrics import mot
from walt3d_jax.timelapse import background
from walt3d_jax.timelapse import detect
from walt3d_jax.timelapse import mine
from walt3d_jax.timelapse import resize
from walt3d_jax.timelapse import track
from walt3d_jax.timelapse import verifier_data

import detect_track  # the sequence reader, shared with detect_track.py

UNOCCLUDED = detect_track.UNOCCLUDED  # objects with less occlusion are scored
GOALS = {"precision": 0.7, "recall": 0.7, "mota": 0.5}
# SORT confirms a track after min_hits matches in a row; its own 3 guards against a detector's
# stray false positives, which the verifier turns down first. On the verified detections 2 raised
# pooled MOTA on each of seeds 0-4 (+0.014 to +0.020); on the unverified ones it lowered it.
VERIFIED_MIN_HITS = 2
WITHOUT, WITH = "without the learnt stages", "with the learnt stages"


def sim_config(preset: str, args, bursts: int | None = None, frames: int | None = None, days: int = 2):
  """The simulate config of the benchmark's sequences (the simulator's defaults for `preset`)."""
  config = simulate_config.get_config(preset)
  config.seed, config.image_size = args.seed, tuple(args.size)
  config.num_bursts = args.bursts if bursts is None else bursts
  config.frames_per_burst = args.frames if frames is None else frames
  config.num_days, config.progress = days, False
  return config


def simulate_once(preset: str, args, sequence: int = 0, bursts: int | None = None,
                  frames: int | None = None, days: int = 2) -> pathlib.Path:
  """The sequence's directory, simulated unless it is there already (`verifier_data`, which
  trains the detection verifier on scenes simulated alike, names the folders the same)."""
  return verifier_data.simulate_scored(preset, args.seed, sim_config(preset, args, bursts, frames, days),
                                       pathlib.Path(args.workdir), sequence)


def fit_scene_background(preset: str, args, size: tuple[int, int] | None = None) -> background.BackgroundModel:
  """The background model the detector runs against.

  Default: frames of the same camera at the scored bursts' hours on other days
  (`capture.same_hours_schedule`: `background_frames` per burst, ±10 min, 8 other days, other
  traffic): what a `mine` run over weeks of time-lapse holds for each hour. The model keeps all
  of them in one reservoir; the detector picks each frame's neighbours by appearance
  (`BackgroundModel.frame_background`), never by the true hour.
  `--same_sequence_background`: the scored frames themselves (a short capture's `mine` run),
  the default time-of-day buckets. size: (W, H) the frames are shrunk to first (`--work_width`),
  None or their own size for none.
  """
  shrink = lambda frames: [f._replace(image=resize.resize_image(f.image, size)) for f in frames] if size else frames
  scored = simulate_once(preset, args)
  if args.same_sequence_background:
    return background.fit_background(shrink(load_sequence(scored)[0]), background.BackgroundConfig(estimator=args.estimator))
  root = verifier_data.same_hours_root(preset, args.seed, sim_config(preset, args), pathlib.Path(args.workdir),
                                       args.background_frames)
  return verifier_data.same_hours_background(shrink(load_sequence(root)[0]), args.estimator)


def load_sequence(root: pathlib.Path):
  """Frames, truth (FrameDetections with true track ids), occlusion (M,) per frame, lighting:
  detect_track.py's reader without its imitated-detector baseline."""
  return detect_track.load_sequence(root)[:4]


def load_scored(root: pathlib.Path):
  """Frames, truth (every annotated object), per frame (M,) bool `small` and `hidden` (ignored
  where scored), lighting: detect_track.load_scored without its imitated detections."""
  return detect_track.load_scored(root)[:5]


def detection_scores(predictions, truth, ignore, keep) -> tuple[det_metrics.DetectionCounts, ...]:
  """(class-aware, class-agnostic) counts on the frames `keep` (bool per frame); the truth
  objects `ignore` (per frame, (M,) bool) are ignored: detections matched to them count neither
  way."""
  pairs = [(p, t) for p, t, k in zip(predictions, truth, keep) if k]
  ignore = [i for i, k in zip(ignore, keep) if k]
  return (det_metrics.evaluate_detections(pairs, gt_ignore=ignore)[det_metrics.ALL],
          det_metrics.evaluate_detections(pairs, gt_ignore=ignore, class_agnostic=True)[det_metrics.ALL])


class _Both:
  """The learnt stages (`detect.Chain`: verifier, box refiner) keeping what they were handed, so
  that one detector pass scores the detector without them (the baseline) and with them."""

  def __init__(self, stages: detect.Chain):
    self.stages, self.unverified = stages, []

  def __call__(self, image, background_image, found):
    self.unverified.append(found)
    return self.stages(image, background_image, found)


def score(label: str, dets, frames, truth, small, hidden, lighting, detect_ms: float,
          sort: track.SortConfig = track.SortConfig()) -> dict:
  """Prints and returns the detection scores of `dets` (per frame, recorded pixels) and the
  scores of SORT (settings `sort`) on them."""
  tracked = track.track(dets, [f.time for f in frames], sort)
  periods = {"all": np.ones(len(frames), bool)}
  periods.update({p: np.array([l == p for l in lighting]) for p in ("day", "dusk", "night")})
  rows = {p: detection_scores(dets, truth, hidden, k) for p, k in periods.items() if k.any()}
  mot_all = mot.evaluate_tracking(*detect_track.scored_tracking(truth, tracked, small))
  mot_unocc = mot.evaluate_tracking(*detect_track.scored_tracking(truth, tracked, hidden))
  print(f"  {label} (SORT min_hits {sort.min_hits})")
  print(f"  {'period':6s} {'P':>5s} {'R':>5s} | agnostic {'P':>5s} {'R':>5s}   (occlusion < 0.1)")
  for p, (aware, agnostic) in rows.items():
    print(f"  {p:6s} {aware.precision:5.2f} {aware.recall:5.2f} |          {agnostic.precision:5.2f} {agnostic.recall:5.2f}"
          f"   tp {aware.tp} fp {aware.fp} fn {aware.fn}")
  for name, s in (("all >= 30 px", mot_all), ("occlusion < 0.1", mot_unocc)):
    print(f"  SORT {name:16s} MOTA {s.mota:6.3f} IDF1 {s.idf1:5.3f} (FN {s.fn}, FP {s.fp}, IDSW {s.id_switches}, "
          f"{s.num_hyp_tracks} tracks for {s.num_gt_tracks} true)")
  return {"rows": rows, "mota_all": mot_all, "mota_unocc": mot_unocc, "detect_ms": detect_ms}


def run_preset(preset: str, args, config: detect.DetectorConfig, work_width: int = 0,
               stages: detect.Chain | None = None, verified_sort: track.SortConfig = track.SortConfig()
               ) -> tuple[dict, dict | None]:
  """Scores of the detector on the preset's sequence without the learnt stages (SORT's own
  settings) and, given them, with them (None without), tracked by SORT with `verified_sort`.
  work_width: frames (and the background's) shrunk to this width first (`resize.working_size`),
  the camera alike, the detections brought back to the recorded size to be scored (the mine
  job's `source.max_width`); 0: as recorded."""
  root = simulate_once(preset, args)
  frames, truth, small, hidden, lighting = load_scored(root)
  camera = camera_lib.load_camera(root / "camera.json")
  size = resize.working_size(camera.image_size, work_width)
  model = fit_scene_background(preset, args, size)
  working_camera = resize.scale_camera(camera, size)
  both = _Both(stages.with_camera(working_camera)) if stages is not None else None
  tic = time.perf_counter()
  dets = detect.detect_frames([f._replace(image=resize.resize_image(f.image, size)) for f in frames], model,
                              working_camera, config, both)
  detect_ms = 1e3 * (time.perf_counter() - tic) / len(frames)
  unverified = both.unverified if both else dets
  if config.persist and both:
    unverified = detect.persistent(unverified, [f.time for f in frames], config)
  runs = [(WITHOUT, unverified, track.SortConfig())] + ([(WITH, dets, verified_sort)] if both else [])
  print(f"\n{preset}: {len(frames)} frames {args.size[0]}x{args.size[1]}"
        f"{f' read at {size[0]}x{size[1]}' if size != camera.image_size else ''} "
        f"({', '.join(f'{p} {int(sum(l == p for l in lighting))}' for p in ('day', 'dusk', 'night') if p in lighting)}), "
        f"{sum(int((~h).sum()) for h in hidden)} unoccluded objects, detect {detect_ms:.0f} ms/frame")
  scores = [score(label, [resize.scale_detections(d, camera.image_size) for d in found], frames, truth, small,
                  hidden, lighting, detect_ms, sort) for label, found, sort in runs]
  return scores[0], (scores[1] if len(scores) > 1 else None)


def summary(title: str, results: dict) -> tuple[dict, mot.MotScores]:
  """Per preset and pooled P, R and MOTA of `results` (preset -> `score`'s dict)."""
  total = {p: det_metrics.DetectionCounts() for p in ("all", "day", "dusk", "night")}
  for r in results.values():
    for p, (aware, _) in r["rows"].items():
      total[p] = total[p] + aware
  print(f"\nsummary ({title}; goals P >= 0.7, R >= 0.7, MOTA >= 0.5)")
  for preset, r in results.items():
    aware = r["rows"]["all"][0]
    print(f"  {preset:12s} P {aware.precision:.2f} R {aware.recall:.2f} | MOTA all {r['mota_all'].mota:6.3f} "
          f"occ<0.1 {r['mota_unocc'].mota:6.3f}")
  print("  pooled       " + "  ".join(f"{p} P {c.precision:.2f} R {c.recall:.2f}" for p, c in total.items()
                                       if c.tp + c.fp + c.fn))
  # As MOTChallenge reports a benchmark: all errors over all truth boxes.
  pooled_all, pooled_unocc = (mot.pooled([r[k] for r in results.values()]) for k in ("mota_all", "mota_unocc"))
  print(f"  pooled       MOTA all {pooled_all.mota:6.3f} occ<0.1 {pooled_unocc.mota:6.3f} "
        f"(FN {pooled_unocc.fn}, FP {pooled_unocc.fp}, IDSW {pooled_unocc.id_switches} of {pooled_unocc.num_gt})")
  return total, pooled_unocc


def _versus(label: str, a: det_metrics.DetectionCounts, b: det_metrics.DetectionCounts, mota_a: mot.MotScores,
            mota_b: mot.MotScores, digits: int = 3) -> str:
  """One line of P, R (with their ratios) and MOTA of run b against the baseline a."""
  return (f"  {label:12s} P {a.precision:.{digits}f} → {b.precision:.{digits}f} "
          f"({b.precision / max(a.precision, 1e-9):.2f}×)  R {a.recall:.{digits}f} → {b.recall:.{digits}f} "
          f"({b.recall / max(a.recall, 1e-9):.2f}×)  MOTA occ<0.1 {mota_a.mota:.3f} → {mota_b.mota:.3f}")


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--presets", nargs="+", default=["intersection", "crosswalk", "t_junction", "avenue"])
  parser.add_argument("--seed", type=int, default=1)
  parser.add_argument("--bursts", type=int, default=12)
  parser.add_argument("--frames", type=int, default=5)
  parser.add_argument("--size", type=int, nargs=2, default=(480, 270))
  parser.add_argument("--workdir", default="/tmp/detector_bench")
  parser.add_argument("--baseline", action="store_true", help="the detector before issue 11")
  parser.add_argument("--background_frames", type=int, default=8,
                      help="background frames per scored burst (same hour, other days)")
  parser.add_argument("--estimator", default=background.BackgroundConfig().estimator, choices=background.ESTIMATORS,
                      help="each frame's background from its neighbours (BackgroundConfig.estimator)")
  parser.add_argument("--same_sequence_background", action="store_true",
                      help="fit the background on the scored frames, default time-of-day buckets")
  parser.add_argument("--work_width", type=int, default=0,
                      help="also run with the frames shrunk to this width (mine's source.max_width) and "
                           "print both, with the ratios to the recorded size")
  parser.add_argument("--verifier", default="shipped",
                      help="detection verifier (timelapse/verify.py): 'shipped', a weights file, or '' for none; "
                           "the detector is scored without it (the baseline) and with it")
  parser.add_argument("--refiner", default="shipped",
                      help="box refiner (timelapse/refine.py) after the verifier: 'shipped', a weights file, or '' "
                           "for none")
  parser.add_argument("--proposer", default="shipped",
                      help="proposal network (timelapse/propose.py) after the refiner, adding objects no detection "
                           "covers: 'shipped', a weights file, or '' for none")
  parser.add_argument("--min_hits", type=int, default=VERIFIED_MIN_HITS,
                      help="SORT's min_hits on the verified detections (SORT's own 3 on the unverified ones)")
  args = parser.parse_args()
  config = detect.BASELINE_CONFIG if args.baseline else detect.DetectorConfig()
  named = {"verifier": args.verifier, "refiner": args.refiner, "proposer": args.proposer} if not args.baseline else {}
  stages = mine.load_stages(ml_collections.ConfigDict({"detector": named}))  # as the mine job loads them
  stages_name = ", ".join(f"the {name} {arg}" for name, arg in (
      ("verifier", args.verifier), ("box refiner", args.refiner), ("proposal network", args.proposer)) if arg)
  both = {p: run_preset(p, args, config, stages=stages, verified_sort=track.SortConfig(min_hits=args.min_hits))
          for p in args.presets}
  results = {p: b[0] for p, b in both.items()}
  if args.work_width:
    working = {p: run_preset(p, args, config, args.work_width)[0] for p in args.presets}
    print(f"\nread at {args.work_width} wide against the recorded {args.size[0]}x{args.size[1]} (baseline):")
    for preset in args.presets:
      a, b = results[preset], working[preset]
      print(_versus(preset, a["rows"]["all"][0], b["rows"]["all"][0], a["mota_unocc"], b["mota_unocc"], 2)
            + f"  detect {a['detect_ms']:.0f} → {b['detect_ms']:.0f} ms/frame ({a['detect_ms'] / b['detect_ms']:.1f}× faster)")
  name = "baseline detector" if args.baseline else "current detector" + (f", without {stages_name}" if stages else "")
  total, pooled = summary(name, results)
  if stages is not None:
    verified = {p: b[1] for p, b in both.items()}
    total_v, pooled_v = summary(f"current detector with {stages_name}, SORT min_hits {args.min_hits}", verified)
    print(f"\nwith {stages_name} against without (baseline):")
    for preset in args.presets:
      a, b = results[preset], verified[preset]
      print(_versus(preset, a["rows"]["all"][0], b["rows"]["all"][0], a["mota_unocc"], b["mota_unocc"]))
    print(_versus("pooled", total["all"], total_v["all"], pooled, pooled_v))


if __name__ == "__main__":
  main()
