"""Built-in detector for a stationary camera (no weights): background difference, shadow removal,
morphology and connected components -> visible masks, boxes, scores and classes.

Foreground: colour distance to the frame's time-of-day background above a threshold adapted to
the bucket's noise (`BackgroundModel.noise`), minus cast shadows (`cast_shadows`: pixels
darker than the background by a factor of the colour of the frame's own cast shadows, bluer
than grey under a blue sky, and not darker than them: Cucchiara et al. 2003's test in RGB with
the shadows' colour and level taken from the frame, `shadow_colour`, `cast_shadow_level`;
where no sun's shadow shows, only soft grey shadows) and minus
illumination changes (lit where the background was shaded, same chromaticity and texture:
`illumination_change`), then opening (speckle) and closing (holes), then 8-connected
components; ghosts are dropped: components whose outline is an edge of the background, not of
the frame (an object that has left, a shadow that has moved), pools of light (nearly all
brighter than the background, with no outline of their own: `is_light_pool`, a headlight's
beam), and, given the background's samples, components that most samples show too (the road
where cars often queue), and the part of a component that they show as the frame does (a car
beside the ghost of a queue). With a camera, fragments of one object are grouped
(`fragment_groups`: a person in pieces, a car cut by a pole), people walking side by side
are cut apart between their heads (`split_people`; a blob too narrow for any car, at the
valleys of its column profile), a person the shadow test cut at the waist,
or whose thin legs the opening took, is grown back down to the feet (`extend_to_feet`), a blob
too large for one object is explained by car silhouettes standing on the ground
(`silhouettes.explain_blob`), cars at night are found by their lamps (`lamps.lamp_cars`,
`with_lamp_cars`: a dark car no blob shows, a car's blob joined with the pool of its
headlights' light cut to its silhouette), and blobs whose metric size on the ground cannot be a
person or a car are dropped (`plausible_size`). Otherwise one
component is one detection, so objects that touch in the image merge into one (scored as a
false positive and misses when their union box overlaps neither by IoU 0.5).

Class: with a camera, by metric size on the ground plane: the box's bottom centre is
back-projected to the ground for its depth, the box width converts to metres at that depth and
the box height to the height of a vertical segment standing there. People are 0.4–0.8 m wide and
1.5–2.0 m tall, cars >= 3 m long and 1.4–2 m tall (REFERENCE.md), so a narrow blob is a person.
Without a camera (or when the bottom lies above the horizon), by shape: upright blobs are people.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import cv2
import numpy as np
from scipy import signal

from walt3d_jax.formats import rle
from walt3d_jax.formats.coco import Category
from walt3d_jax.geometry import camera as camera_lib
from walt3d_jax.geometry.calibrate import STATURE_M
from walt3d_jax.metrics import detection as detection_metrics
from walt3d_jax.timelapse import background as background_lib
from walt3d_jax.timelapse import ground as ground_lib
from walt3d_jax.timelapse import hog as hog_lib
from walt3d_jax.timelapse import lamps as lamps_lib
from walt3d_jax.timelapse import silhouettes
from walt3d_jax.timelapse.types import FrameDetections
from walt3d_jax.timelapse.types import NUM_KEYPOINTS


@dataclasses.dataclass(frozen=True)
class DetectorConfig:
  """Built-in detector settings (grey levels are 0..255 per channel; sizes in pixels or metres).

  threshold_sigmas: foreground where the colour distance exceeds this many noise stds: the
    pixel's noise, clipped to [1, max_noise_ratio] × the bucket's median noise.
  min_threshold: floor of that threshold (JPEG and quantisation noise the median hides).
    (18 gained 0.006 of F1 on the benchmark's seed-0 sequences but lost recall on the test's
    empty-street burst: kept at 14.)
  shadow_ratio: (low, high) range of frame / background brightness of a cast shadow.
  shadow_chroma: largest spread of the three channel ratios of a shadow pixel (same hue) where
    the frame shows no sun's shadow to take the shadows' colour from (night, overcast).
  soft_shadow_min: where the frame shows no cast shadow of the sun (no pile for
    `cast_shadow_level`: night under street lamps, an overcast sky, or too little shadow in
    view), a shadow keeps at least this share of the background's light: with no direct light
    blocked, shadows are soft, and what is darker is a dark coat or car. Measured (480×270):
    seed 0 P 0.69 → 0.70, R 0.57 → 0.60, MOTA 0.43 / 0.29 / 0.34 / 0.34 → 0.43 / 0.31 / 0.35 /
    0.38; held out (seed 1) P 0.68, R 0.57 → 0.60 (day 0.67 → 0.70), MOTA 0.36 / 0.30 / 0.32 /
    0.39 → 0.37 / 0.28 / 0.33 / 0.42. 0.6 and 0.7 higher on seed 0 (MOTA sum 1.52, 1.48 against
    1.48 at 0.5) but lower held out (0.6: 1.35 against 1.40); no soft shadows at all: P 0.67.
  shadow_colour, shadow_colour_search, shadow_colour_tol: where the frame shows a cast shadow of
    the sun, shadow pixels have its colour, not grey (`cast_shadows`): the pile of
    `cast_shadow_level` is looked for among pixels whose channel ratios spread by at most
    shadow_colour_search × their mean, its median ratio is the shadows' colour
    (`shadow_colour`), and a shadow pixel's channels' shares of its mean ratio are within
    shadow_colour_tol of the colour's. In shadow only the sky lights the ground, bluer than the
    sun: on crosswalk's seed 0 the shadows' ratio was (0.48, 0.51, 0.57), a spread of 0.09,
    just over the grey test's 0.08, so that people's shadows stayed foreground in patches, and
    joined to them, classed cars. Seed-0 sequences: P 0.66 → 0.68, R 0.55 → 0.57 (day 0.60 →
    0.63), MOTA 0.38 / 0.21 / 0.31 / 0.34 → 0.42 / 0.27 / 0.33 / 0.34 (tol 0.07 and 0.14
    lower; the grey test's shadows added to the colour's: MOTA 0.42 / 0.24 / 0.34 / 0.32).
    Held out (seed 1) about even: P 0.68 → 0.67, R 0.55 → 0.56 (day 0.64 → 0.66), MOTA 0.36 /
    0.22 / 0.38 / 0.38 → 0.33 / 0.26 / 0.31 / 0.39 (intersection, crosswalk, t_junction,
    avenue; t_junction's queue of cars in its background median cut differently).
  shadow_level_margin, shadow_level_bin, shadow_level_min_px, shadow_level_min_share: a pixel
    darker than the frame's cast shadows (their level from `cast_shadow_level`) by more than
    this margin (relative) is no shadow: grey and dark clothing passes the shadow test too, and
    took people's coats and trousers with it. None: no such bound. Measured on the benchmark's
    seed-0 sequences (four presets, people grown to their feet): P 0.603 → 0.614, R 0.436 →
    0.450, MOTA up on three presets of four.
  open_px, close_px: radii of the elliptic opening and closing kernels.
  min_area: smallest component kept, pixels.
  person_max_width_m, person_max_height_m: a blob narrower and lower than these, standing on
    the ground, is a person (REFERENCE.md: people 0.4–0.8 m wide, 1.5–2.0 m tall; a car is
    >= 1.65 m wide even seen head-on).
  person_min_aspect: without a camera, blobs with height / width above this are people.
  match_gain: scale the background by the frame's median per-channel gain first.
  shadows: remove cast shadows.
  illumination: also remove pixels lit where the background was shaded (`illumination_change`:
    the sun moves within a bucket's hours, so yesterday's shadow is today's sunlit road):
    frame / background ratio in `illumination_ratio` for all channels alike (spread <=
    `illumination_chroma` × mean) and the background's texture kept (local normalised
    cross-correlation >= `texture_ncc` over (2 texture_px + 1)² pixels, or a background flatter
    than `flat_std` grey levels). Measured: brighter-only (low 1.05) keeps grey and dark cars
    that a symmetric test (0.3–2.5) erased; a chroma bound of 0.2 (from 0.12: sunlit and shaded
    light differ in hue, not only in level) raised F1 0.490 → 0.507 and MOTA 0.16 → 0.20 on the
    benchmark's seed-0 sequences (intersection, avenue; per-frame backgrounds).
  ghost_edge_ratio: a component whose contour has weaker edges in the frame than this × in the
    background is a ghost (`is_ghost`) and dropped; 0 keeps all. 0.8 measured best of 0.6–1.2 on
    seed-0 sequences (1.0 and up drop real objects next to background edges).
  ghost_median_ratio: and whose contour's median pixel has a frame edge under this × the
    background's (0: the mean alone decides). A short stretch of strong background edge (a
    white line the object stands on, a seam where the block background changes samples, the
    lit edge of a pool of light) pulls the mean down although most of the outline is the
    object's own; a ghost's outline is the background's along most of its length. Of the
    components the mean alone dropped on the benchmark's seed-0 crosswalk and t_junction, the
    objects' medians were 0.39-1.51 (all but one >= 0.5), the rest mostly under 0.2. 0.45
    (0.35 / 0.55 measured alike, seed-0 MOTA summed 2.032 / 2.055 against 2.046).
  pool_bright_share, pool_edge_sigmas: a component nearly all brighter than the background
    with no outline of its own is a pool of light (`is_light_pool`: a headlight's beam whose
    car shows no lamp pair) and dropped; pool_edge_sigmas 0 keeps all. Of the benchmark's
    seed-0 detections (three presets at night, four by day) nearly all brighter than their
    background, the false ones' contour gradients were 3.6–25 × the noise, the true ones'
    25–81 ×. Held out (seed 1): night false positives 63 / 44 / 69 / 70 → 53 / 37 / 68 / 46
    with the true ones unchanged, MOTA 0.444 / 0.345 / 0.368 / 0.472 → 0.451 / 0.352 / 0.373 /
    0.507 (intersection, crosswalk, t_junction, avenue).
  sample_matches, sample_ghost_share: with the background's samples given (`detect`'s
    `samples`), a component that each of `sample_matches` samples matches over more than
    `sample_ghost_share` of its pixels (`sample_consensus`: colour distance under the pixel's
    threshold) is a ghost and dropped: it is what the scene looks like at other times (the
    road where cars queue in most samples, so that their median holds a car), not a new
    object. The sample consensus of ViBe (Barnich & Van Droogenbroeck 2011), per component: per
    pixel it cut recall by a third (parts of objects match some sample by chance). Measured
    with the car rule below on: seed-0 sequences (intersection, avenue) P 0.584 → 0.630,
    R 0.494 → 0.480, MOTA 0.258 → 0.288 (share 0.6 and 0.8 about the same); held-out seed-1
    sequences (four presets) P 0.566 → 0.632, R 0.455 → 0.431, MOTA 0.190 → 0.227. That test
    counted pixels matching any `sample_matches` samples, each pixel its own; at night it
    dropped whole dark cars that two samples of twelve matched in patches (other dark cars
    queued there, sensor noise). Requiring whole samples (2026-12-03), held out (seed 1, four
    presets, 480×270): P 0.69 → 0.68, R 0.53 → 0.55 (night 0.37 → 0.42), MOTA up on all four
    (0.34 / 0.22 / 0.37 / 0.35 → 0.36 / 0.22 / 0.38 / 0.38).
  ghost_part_share, ghost_part_matches: a component kept whose `ghost_part_matches` best
    samples each match at least ghost_part_share of it loses the pixels they all match
    (`SampleConsensus.seen`, opened 3×3 so that chance matches go), and what is left is
    labelled anew: the frame's car beside the ghost of a queue that the median holds, the two
    one blob. 0 keeps components whole. Seed-0 sequences, MOTA (intersection, crosswalk,
    t_junction, avenue) 0.42 / 0.27 / 0.33 / 0.34 → 0.43 / 0.29 / 0.34 / 0.34, P 0.68 → 0.69,
    R 0.57; held out (seed 1) 0.33 / 0.26 / 0.31 / 0.39 → 0.36 / 0.30 / 0.32 / 0.39, P 0.67 →
    0.68, R 0.56 → 0.57 (night 0.58 / 0.42 → 0.58 / 0.43). Two samples instead of three: MOTA
    a little higher (seed 0: 0.42 / 0.32 / 0.35 / 0.35), but at night two samples with dark cars
    took parts of dark cars (night P 0.64 → 0.62 on seed 0, 0.58 → 0.55 held out); share 0.1 and
    0.35 (two samples) no better than 0.2.
  merge_fragments: with a camera, components that are fragments of one object are one
    detection (`fragment_groups`): stacked one above the other and together standing as a
    person (<= fragment_person_width_m wide, <= fragment_person_height_m tall) with none alone
    reaching min_person_m; with merge_car_fragments also side by side, at most
    car_fragment_gap_m apart (a pole in front of a car cuts it in two), together no longer
    than car_max_length_m and between min_height_m and car_max_height_m tall, neither standing
    as a person. The car rule measured alone on the seed-0 sequences: F1 0.521 → 0.535, MOTA
    0.228 → 0.258 (night most: dark cars come out in pieces); with the sample test on, held-out
    seed-1 F1 0.505 → 0.513, MOTA 0.217 → 0.227.
  car_apparent: the car rule's height bound is what a car standing there can measure
    (`car_apparent_height`), not car_max_height_m: near a high camera a car's box reaches up to
    its far roof edge, and a van 12 m from a camera 9 m up measured 3.7 m, so a pole in front of
    it left two halves, each explained as a car of its own. Held out (seed 1, four presets):
    at 480×270 P 0.658 → 0.688, R 0.526 → 0.526, MOTA up on all four (0.33 / 0.21 / 0.34 / 0.34
    → 0.34 / 0.22 / 0.37 / 0.35); at 1280×720 P 0.64 → 0.67, R 0.58 → 0.58, MOTA 0.34 / 0.28 /
    0.42 / 0.29 → 0.38 / 0.29 / 0.44 / 0.30.
  split_people, head_gap_m, head_prominence_m: with a camera, a blob as tall as a person but
    wider than one (`fragment_person_width_m`) is split between its heads (`split_people`):
    peaks of its top outline at least head_gap_m apart, each standing head_prominence_m above
    the dip between them (people walking side by side merge into one blob). Measured on the
    benchmark's seed-0 sequences: F1 0.507 → 0.509, MOTA 0.196 → 0.204 (without the rule that
    every part must stand as one person, car roofs were cut too: F1 0.474).
  hog, hog_config: with a camera, where the heads do not split a blob as tall as a person but
    wider than one, OpenCV's HOG pedestrian detector looks for the people on it
    (`hog.split_group`: people as tall as the blob, or as a 1.70 m person at its foot where
    that is less: a blob that holds its people's shadows is taller than they are), the blob
    cut between them and a part that cannot stand as a person joined to its neighbour.
    Measured on the benchmark's held-out seed 1: at 480×270 intersection P 0.61 → 0.63,
    R 0.38 → 0.39, MOTA 0.184 → 0.196, the other presets unchanged (pooled P 0.63 → 0.64,
    R 0.43 → 0.44); crosswalk at 960×540 P 0.48 → 0.51, R 0.34 → 0.37, MOTA 0.083 → 0.108
    (by day 0.50 / 0.40 → 0.54 / 0.44): groups of people crossing together, their long
    shadows in the blob. Not without a camera: there HOG's splits (blobs wider than half their
    height cut into upright parts) moved from_video:sim's calibration from 298 px / 5.74 m to
    195 px / 4.15 m (true 343 px / 5.0 m). Trimming each part to its person's box (to drop
    the shadows) and searching blobs up to 3.2 or 4 m tall left P / R unchanged (crosswalk,
    960×540, seed 0): not kept.
  car_min_width_m, group_person_width_m: with a camera, a blob person-tall (min_height_m …
    person_max_height_m) wider than one person (person_max_width_m) but narrower than any whole car
    (car_min_width_m: current cars are 1.65 m wide or more, REFERENCE.md), which neither its heads
    nor HOG split, is cut into round(width / group_person_width_m) people (2 to 4) at the middle of
    the emptiest columns near each equal share (`split_narrow_group`). At 480×270 two people side by
    side are 10 px wide each, too small for the heads or for HOG, and their torsos join as one car
    fragment (seed 0: 134 unoccluded people in car-class detections that held only people). MOTA
    (intersection / crosswalk / t_junction / avenue) seed 0 0.466 / 0.410 / 0.448 / 0.423 → 0.495 /
    0.413 / 0.504 / 0.446, held out (seed 1) 0.481 / 0.360 / 0.459 / 0.468 → 0.518 / 0.352 / 0.484 /
    0.470; held-out pooled P 0.735 → 0.734, R 0.647 → 0.660 (by day 0.698 → 0.716). With
    car_min_width_m 1.5 the seed-0 MOTA summed 1.820, 1.6 1.865, 1.8 (cars head-on are 1.65–2.0 m
    wide) 1.840 (cut at the first emptiest column; its middle, kept: 1.858). Cutting also blobs up
    to 2.2 m wide joined from pieces each as narrow as a person: held out crosswalk +0.022,
    t_junction -0.019; not kept. Nor a cut refused where the profile does not dip below 0.8
    (0.9) of its peak, against a dark car cut in three at night: seed 0 summed 1.868 (1.852)
    against 1.871.
  pair_max_width_m, pair_dip: a blob as wide as a car seen head-on (car_min_width_m …
    pair_max_width_m) and no taller than fragment_person_height_m is two people side by side
    when its column profile dips in its middle third to at most pair_dip of the lower of its
    outer thirds' peaks; cut in two there (`split_narrow_group`). A car head-on is fullest in
    the middle. Seed 0, car-class detections 1.4–2.4 m wide: the 29 that held two or more
    people and no car filled 0.31–0.58 of their boxes, dip 0–1.1 (19 at or under 0.5); of the
    195 true cars, five are 1.6–2.2 m wide, under 2.1 m tall and dip to 0.5, all at night on
    avenue, dark between two headlamps: they are cut (also asking the pair to be min_person_m
    tall spares three and loses pairs: seed-0 MOTA sum 2.116). MOTA (intersection / crosswalk
    / t_junction / avenue) seed 0 0.541 / 0.513 / 0.546 / 0.474 → 0.557 / 0.536 / 0.561 / 0.467
    (sum 2.074 → 2.121; pair_dip 0.4 2.106, 0.65 2.123; pair_max_width_m 2.0 2.126, 2.5 2.118);
    held out seed 1 0.589 / 0.421 / 0.457 / 0.501 → 0.589 / 0.446 / 0.455 / 0.497 (1.968 →
    1.987), seed 2 1.990 → 2.032; held-out pooled P / R 0.717 / 0.701 → 0.718 / 0.705 and 0.708
    / 0.702 → 0.711 / 0.707. pair_dip 0 turns the rule off. Then the parts of every cut blob
    labelled people (a part of a pair cut off its middle measured 1.3 m, over person_max_width_m,
    and was called a car): seed 0 2.121 → 2.130 (crosswalk 0.536 → 0.545), held out 1.987 →
    1.989 and 2.032 → 2.036.
  behind_car_share: a person-class detection with at least this share of its box inside a
    car-class box and its bottom above the car's is a piece of that car and is dropped
    (`behind_cars`): a person standing there would be behind the car, hidden by it. On seed 0
    the person-class boxes half inside a car's were all false (30 on the four presets, 23 at
    night, where a car found by its lamps leaves the pixels outside its silhouette as blobs).
    MOTA (intersection / crosswalk / t_junction / avenue) seed 0 0.557 / 0.545 / 0.561 / 0.467
    → 0.566 / 0.548 / 0.561 / 0.467 (sum 2.130 → 2.142; share 0.3 2.142); held out seed 1
    1.989 → 1.996 (crosswalk 0.448 → 0.456), seeds 2 and 3 unchanged (2.036, 1.765); at
    1280×720 (seed 1) P 0.745 → 0.759 (night 0.717 → 0.751), MOTA 0.661 / 0.448 / 0.566 / 0.544
    → 0.661 / 0.425 / 0.581 / 0.544, pooled over the presets 0.565 both (crosswalk lost three
    true detections for 18 false ones, and tracks were cut). 0 turns it off.
  extend_to_feet, feet_fill: with a camera, a part as narrow as a person (<= person_max_width_m;
    until 2026-12-04 fragment_person_width_m, 0.9 m: at 480×270 a walker's box is about 10 px, 1 m,
    wide, and a torso's measures wider, its bottom row being farther than the feet, so such torsos
    stayed short and were dropped; held-out MOTA 0.518 / 0.352 / 0.484 / 0.470 → 0.527 / 0.360 /
    0.484 / 0.472, pooled R 0.660 → 0.667, P 0.734 → 0.728; seed 0 summed +0.013) but too short to
    stand as one is grown down through the foreground before the shadow tests while it fills
    feet_fill of the part's columns, up to fragment_person_height_m (`extend_to_feet`). On the
    seed-0 sequences (with the shadow level off) people's recall rose 0.26 / 0.36 / 0.28 / 0.27
    → 0.29 / 0.40 / 0.32 / 0.37 (intersection, crosswalk, t_junction, avenue; feet_fill 0.5);
    feet_fill 0.3 (and the shadow level) took pooled R to 0.463 at P 0.613 (0.5: 0.450 / 0.614).
  limb_pad: the part is also grown through its legs, the pixels of the foreground before the
    opening connected to it below, within its columns widened by limb_pad of its width on each
    side (`extend_to_feet`): at 480×270 a walking person's legs are one or two pixels wide, and
    the opening took them (at night on seed 0's intersection 10 % of people's pixels, the shadow
    and light tests 3 %). Held out (seed 1): MOTA 0.451 / 0.352 / 0.373 / 0.507 → 0.455 /
    0.347 / 0.394 / 0.507, night recall 0.56 / 0.58 → 0.59 / 0.59 (intersection and
    crosswalk / t_junction and avenue pooled); on seed 0, MOTA with limb_pad 0, 0.5 or 1 at or
    below 0.25's on every preset.
  fit_silhouettes, silhouette_config: with a camera, a blob too large for one object (wider
    than car_max_length_m or taller than car_max_height_m on the ground: cars queued nose to
    tail, a car with its shadow) is explained by car silhouettes (`silhouettes.explain_blob`),
    one detection per car, classed a car; before, such a blob was dropped as too wide or kept
    whole. Seed-0 sequences: pooled P 0.613 → 0.652, R 0.463 → 0.538, cars' recall 0.48 /
    0.39 / 0.49 / 0.56 → 0.69 / 0.53 / 0.59 / 0.59, MOTA 0.24 / 0.19 / 0.20 / 0.28 → 0.37 /
    0.24 / 0.31 / 0.31. People's silhouettes in the same fit were tried too: they explained
    leftover shadows and parts of cars (264 false people against 2 true on intersection's
    seed 0), so the fit tries cars only.
  persist, persist_iou, persist_gap_s: `detect_frames` keeps only detections that a neighbouring
    frame confirms (`persistent`). Off by default: the simulator has no flicker, and on its
    seed-0 sequences it traded 0.02 of precision for 0.02-0.05 of recall with MOTA unchanged
    (SORT's min_hits already drops one-frame blobs from tracks); for footage with flickering
    lights or moving tape, turn it on.
  lamps, lamp_config, lamp_min_fill: with a camera, cars found by pairs of their lamps
    (`lamps.lamp_cars`) take the blobs holding their lamps or lying mostly inside their
    silhouettes, cut to the silhouette, or become the whole silhouette where the blobs fill
    less than lamp_min_fill of it (`with_lamp_cars`). Held out (seed 1, four presets): P 0.72 /
    0.62 / 0.67 / 0.69 → 0.75 / 0.64 / 0.68 / 0.72, R 0.58 / 0.50 / 0.66 / 0.64 → 0.66 / 0.55 /
    0.68 / 0.68, MOTA 0.365 / 0.281 / 0.326 / 0.423 → 0.441 / 0.345 / 0.368 / 0.474
    (intersection, crosswalk, t_junction, avenue); night recall 0.44 → 0.57, days unchanged.
  min_width_m, min_height_m, max_width_m: with a camera, blobs standing on the ground outside
    these metric sizes are dropped (`plausible_size`): speckle, flicker and fragments are
    smaller than any person, merged shadows wider than any car. min_height_m 1.3 (from 1.1;
    a car is 1.4–2 m tall, a person 1.5–2 m): F1 0.509 → 0.521, MOTA 0.204 → 0.228 on the
    benchmark's seed-0 sequences (1.45 lost recall: 0.518). 1.2 since 2026-12-04 (the detector
    has since gained people grown to their feet, fragment groups, silhouettes): seed-0 MOTA
    summed over the four presets 2.046 → 2.074 (1.1: 2.052, 1.25: 2.055), held out 1.953 →
    1.968 (seed 1) and 1.959 → 1.990 (seed 2), pooled recall 0.693 / 0.693 / 0.689 → 0.704 /
    0.701 / 0.702, precision 0.739 / 0.736 / 0.723 → 0.727 / 0.717 / 0.708. The detections
    that measure 1.2–1.3 m are on balance false (seed 0: 18 true, people 1.5–2.0 m tall and
    cars measured short, against 38 false); the rest of the gain comes through what else uses
    min_height_m (the narrow-group cut, a joined car's least height) and through the tracks,
    not measured apart.
  """

  threshold_sigmas: float = 4.5
  min_threshold: float = 14.0
  shadow_ratio: tuple[float, float] = (0.25, 0.92)
  shadow_chroma: float = 0.08
  shadow_colour: bool = True
  shadow_colour_search: float = 0.3
  shadow_colour_tol: float = 0.1
  soft_shadow_min: float = 0.5
  shadow_level_margin: float | None = 0.1
  shadow_level_bin: float = 0.02
  shadow_level_min_px: int = 150
  shadow_level_min_share: float = 0.2
  open_px: int = 1
  close_px: int = 1
  min_area: int = 20
  person_max_width_m: float = 1.2
  person_max_height_m: float = 2.6
  person_min_aspect: float = 1.3
  max_noise_ratio: float = 1.5
  match_gain: bool = True
  shadows: bool = True
  illumination: bool = True
  illumination_ratio: tuple[float, float] = (1.05, 2.5)
  illumination_chroma: float = 0.2
  texture_px: int = 2
  texture_ncc: float = 0.5
  flat_std: float = 0.0
  ghost_edge_ratio: float = 0.8
  ghost_median_ratio: float = 0.45
  pool_bright_share: float = 0.85
  pool_edge_sigmas: float = 15.
  sample_matches: int = 2
  sample_ghost_share: float = 0.7
  ghost_part_share: float = 0.2
  ghost_part_matches: int = 3
  merge_fragments: bool = True
  merge_car_fragments: bool = True
  car_fragment_gap_m: float = 0.4
  car_max_length_m: float = 5.5
  car_max_height_m: float = 2.4
  split_people: bool = True
  head_gap_m: float = 0.35
  head_prominence_m: float = 0.2
  fragment_person_width_m: float = 0.9
  fragment_person_height_m: float = 2.1
  min_person_m: float = 1.4
  car_min_width_m: float = 1.6
  group_person_width_m: float = 0.6
  pair_max_width_m: float = 2.2
  pair_dip: float = 0.5
  behind_car_share: float = 0.5
  fit_silhouettes: bool = True
  silhouette_config: silhouettes.SilhouetteConfig = silhouettes.SilhouetteConfig()
  extend_to_feet: bool = True
  feet_fill: float = 0.3
  limb_pad: float = 0.25
  hog: bool = True
  hog_config: hog_lib.HogConfig = hog_lib.HogConfig()
  persist: bool = False
  persist_iou: float = 0.3
  persist_gap_s: float = 1.0
  min_width_m: float = 0.3
  min_height_m: float = 1.2
  max_width_m: float = 8.0
  car_apparent: bool = True
  lamps: bool = True
  lamp_config: lamps_lib.LampConfig = lamps_lib.LampConfig()
  lamp_min_fill: float = 0.5

  def __post_init__(self):
    for name in ("threshold_sigmas", "min_threshold", "shadow_chroma", "person_max_width_m",
                 "person_max_height_m", "person_min_aspect", "max_noise_ratio"):
      value = getattr(self, name)
      if not (np.isfinite(value) and value > 0):
        raise ValueError(f"DetectorConfig.{name} must be finite and > 0, got {value}")
    low, high = self.shadow_ratio
    if not 0 < low < high <= 1:
      raise ValueError(f"DetectorConfig.shadow_ratio must satisfy 0 < low < high <= 1, got {self.shadow_ratio}")
    if self.shadow_level_margin is not None and not 0 <= self.shadow_level_margin < 1:
      raise ValueError(f"DetectorConfig.shadow_level_margin must be None or in [0, 1), got {self.shadow_level_margin}")
    if not (self.shadow_level_bin > 0 and self.shadow_level_min_px >= 1 and 0 <= self.shadow_level_min_share <= 1):
      raise ValueError(f"DetectorConfig: need shadow_level_bin > 0, shadow_level_min_px >= 1 and "
                       f"0 <= shadow_level_min_share <= 1, got {self.shadow_level_bin}, "
                       f"{self.shadow_level_min_px}, {self.shadow_level_min_share}")
    if not 0 <= self.soft_shadow_min <= 1:
      raise ValueError(f"DetectorConfig.soft_shadow_min must be in [0, 1], got {self.soft_shadow_min}")
    if not (self.shadow_colour_search > 0 and self.shadow_colour_tol > 0):
      raise ValueError(f"DetectorConfig: need shadow_colour_search > 0 and shadow_colour_tol > 0, got "
                       f"{self.shadow_colour_search}, {self.shadow_colour_tol}")
    if not (self.person_max_width_m <= self.car_min_width_m and np.isfinite(self.car_min_width_m)
            and np.isfinite(self.group_person_width_m) and self.group_person_width_m > 0):
      raise ValueError(f"DetectorConfig: need person_max_width_m <= car_min_width_m (finite) and "
                       f"group_person_width_m > 0, got {self.person_max_width_m}, {self.car_min_width_m}, "
                       f"{self.group_person_width_m}")
    if not 0 <= self.behind_car_share <= 1:
      raise ValueError(f"DetectorConfig.behind_car_share must be in [0, 1], got {self.behind_car_share}")
    if not (0 <= self.pair_dip <= 1 and self.car_min_width_m <= self.pair_max_width_m < np.inf):
      raise ValueError(f"DetectorConfig: need 0 <= pair_dip <= 1 and car_min_width_m <= pair_max_width_m (finite), "
                       f"got {self.pair_dip}, {self.car_min_width_m}, {self.pair_max_width_m}")
    if not 0 < self.feet_fill <= 1:
      raise ValueError(f"DetectorConfig.feet_fill must be in (0, 1], got {self.feet_fill}")
    if not (np.isfinite(self.limb_pad) and self.limb_pad >= 0):
      raise ValueError(f"DetectorConfig.limb_pad must be finite and >= 0, got {self.limb_pad}")
    if not (0 <= self.pool_bright_share <= 1 and self.pool_edge_sigmas >= 0 and 0 <= self.lamp_min_fill <= 1):
      raise ValueError(f"DetectorConfig: need 0 <= pool_bright_share <= 1, pool_edge_sigmas >= 0 and 0 <= "
                       f"lamp_min_fill <= 1, got {self.pool_bright_share}, {self.pool_edge_sigmas}, {self.lamp_min_fill}")
    low, high = self.illumination_ratio
    if not 0 < low < high:
      raise ValueError(f"DetectorConfig.illumination_ratio must satisfy 0 < low < high, got {self.illumination_ratio}")
    if not (self.min_width_m >= 0 and self.min_height_m >= 0 and self.max_width_m > self.min_width_m):
      raise ValueError(f"DetectorConfig: need 0 <= min_width_m < max_width_m and min_height_m >= 0, got "
                       f"{self.min_width_m}, {self.max_width_m}, {self.min_height_m}")
    for name in ("ghost_edge_ratio", "ghost_median_ratio"):
      value = getattr(self, name)
      if not (np.isfinite(value) and value >= 0):
        raise ValueError(f"DetectorConfig.{name} must be finite and >= 0, got {value}")
    if not 0 <= self.ghost_part_share <= 1 or int(self.ghost_part_matches) != self.ghost_part_matches or self.ghost_part_matches < 1:
      raise ValueError(f"DetectorConfig: need 0 <= ghost_part_share <= 1 and an int ghost_part_matches >= 1, got "
                       f"{self.ghost_part_share}, {self.ghost_part_matches}")
    if not 0 <= self.sample_ghost_share <= 1 or int(self.sample_matches) != self.sample_matches or self.sample_matches < 1:
      raise ValueError(f"DetectorConfig: need 0 <= sample_ghost_share <= 1 and an int sample_matches >= 1, got "
                       f"{self.sample_ghost_share}, {self.sample_matches}")
    if not (self.car_fragment_gap_m >= 0 and self.car_max_length_m > 0 and self.car_max_height_m > self.min_height_m):
      raise ValueError(f"DetectorConfig: need car_fragment_gap_m >= 0, car_max_length_m > 0 and car_max_height_m > "
                       f"min_height_m, got {self.car_fragment_gap_m}, {self.car_max_length_m}, {self.car_max_height_m}")
    for name in ("open_px", "close_px", "min_area", "texture_px"):
      if int(getattr(self, name)) != getattr(self, name) or getattr(self, name) < 0:
        raise ValueError(f"DetectorConfig.{name} must be an int >= 0, got {getattr(self, name)}")


def check_camera(camera: camera_lib.Camera, image_shape: tuple[int, ...]) -> None:
  """Raises ValueError when the camera has non-finite values or another image size."""
  for name in ("K", "normal", "offset"):
    if not np.isfinite(np.asarray(getattr(camera, name))).all():
      raise ValueError(f"detect: camera.{name} contains NaN or infinity")
  if (camera.height, camera.width) != tuple(image_shape[:2]):
    raise ValueError(f"detect: camera image size {camera.width}x{camera.height} != frame "
                     f"{image_shape[1]}x{image_shape[0]}")


def metric_size(camera: camera_lib.Camera, boxes: np.ndarray) -> tuple[np.ndarray, ...]:
  """Metric size of objects standing on the ground at the bottom centre of their boxes.

  boxes: (N, 4) [x, y, w, h] pixels (edges at integers, rle.mask_box).
  Returns width (N,) metres (box width at the bottom point's depth), height (N,) metres (the
  vertical segment from the bottom point whose top projects on the box's top edge), depth (N,)
  metres (camera z of the bottom point) and valid (N,) bool (bottom below the horizon and the
  top reachable by a vertical segment; the other entries are 0 where not valid).
  """
  boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
  K = np.asarray(camera.K, np.float64)
  n = np.asarray(camera.normal, np.float64)
  v_top = boxes[:, 1] - 0.5
  ground, depth, on_ground = _foot_points(camera, boxes)
  fx, fy, cy = K[0, 0], K[1, 1], K[1, 2]
  # v(H) of ground + H n: (v - cy)(P_z + H n_z) = fy (P_y + H n_y), solved for H at the top edge.
  dv = v_top - cy
  h_denom = dv * n[2] - fy * n[1]
  safe = np.where(np.abs(h_denom) > 1e-9, h_denom, 1.)
  height = (fy * ground[1] - dv * ground[2]) / safe
  valid = on_ground & (np.abs(h_denom) > 1e-9) & (height > 0) & np.isfinite(height)
  width = boxes[:, 2] * depth / fx
  zero = np.zeros_like(width)
  return np.where(valid, width, zero), np.where(valid, height, zero), np.where(valid, depth, zero), valid


def _foot_points(camera: camera_lib.Camera, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Camera-frame ground points (3, N) metres at the bottom centres of boxes (N, 4) xywh, their
  depth (N,) (camera z, the paper's z_b) and whether the point lies on the ground ahead (N,);
  point and depth are 0 where it does not (a bottom above the horizon)."""
  # Pixel centres are at integers: the bottom edge of the last row is at y + h - 0.5.
  return ground_lib.pixels_to_ground(camera, boxes[:, 0] + boxes[:, 2] / 2 - 0.5, boxes[:, 1] + boxes[:, 3] - 0.5)


def plausible_size(boxes: np.ndarray, camera: camera_lib.Camera,
                   config: DetectorConfig = DetectorConfig()) -> np.ndarray:
  """(N,) bool: boxes (N, 4) xywh pixels whose metric size, standing on the ground, could be a
  person or a car: at least `min_width_m` wide and `min_height_m` tall (fragments, flicker and
  speckle are smaller than any person: REFERENCE.md, stature 1.70 ± 0.09 m, shoulders 0.26 ×
  stature), at most `max_width_m` wide. Boxes whose bottom lies above the horizon are kept (no
  metric size: the shape rule classes them)."""
  width, height, _, valid = metric_size(camera, boxes)
  ok = (width >= config.min_width_m) & (height >= config.min_height_m) & (width <= config.max_width_m)
  return np.where(valid, ok, True)


def _unions(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  """Union boxes (N, 4) xywh of box pairs a, b (N, 4) xywh."""
  lo = np.minimum(a[:, :2], b[:, :2])
  hi = np.maximum(a[:, :2] + a[:, 2:], b[:, :2] + b[:, 2:])
  return np.concatenate([lo, hi - lo], axis=1)


def _fragments_join(a: np.ndarray, b: np.ndarray, camera: camera_lib.Camera,
                    config: DetectorConfig) -> np.ndarray:
  """(N,) bool: whether component boxes a and b (N, 4) xywh pixels are fragments of one object.

  A person: parts stacked one above the other (columns overlapping by half the narrower, a
  vertical gap under a third of the union's height), neither alone as tall as `min_person_m`,
  the union standing as a person (<= fragment_person_width_m wide, <= fragment_person_height_m
  tall). A car (`merge_car_fragments`): parts side by side (rows overlapping by half the
  shorter, a horizontal gap of at most car_fragment_gap_m or 2 px: a pole or a sign in front
  of it, a window like the road), neither standing as a person, the union as long as a car at
  most (`car_max_length_m`) and as tall as one (`min_height_m` … `car_max_height_m`, or with
  `car_apparent` as tall as a car standing there can measure: `car_apparent_height`).
  """
  union = _unions(a, b)
  width, height, depth, valid = metric_size(camera, np.concatenate([a, b, union]))
  n = len(a)
  (wa, wb, wu), (ha, hb, hu), du = np.split(width, 3), np.split(height, 3), depth[2 * n:]
  valid = valid[:n] & valid[n:2 * n] & valid[2 * n:]
  col_overlap = np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2]) - np.maximum(a[:, 0], b[:, 0])
  row_overlap = np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3]) - np.maximum(a[:, 1], b[:, 1])
  person = (valid & (col_overlap >= 0.5 * np.minimum(a[:, 2], b[:, 2]))
            & (-row_overlap <= union[:, 3] / 3) & (np.maximum(ha, hb) < config.min_person_m)
            & (wu <= config.fragment_person_width_m) & (hu <= config.fragment_person_height_m))
  if not config.merge_car_fragments:
    return person
  px_per_m = float(camera.K[0][0]) / np.where(valid, du, 1.)
  stands_as_person = lambda w, h: (w <= config.fragment_person_width_m) & (h >= config.min_person_m)
  car = (valid & (row_overlap >= 0.5 * np.minimum(a[:, 3], b[:, 3]))
         & (-col_overlap <= np.maximum(2., config.car_fragment_gap_m * px_per_m))
         & (wu <= config.car_max_length_m) & (hu >= config.min_height_m)
         & (hu <= (car_apparent_height(camera, union, config) if config.car_apparent else config.car_max_height_m))
         & ~stands_as_person(wa, ha) & ~stands_as_person(wb, hb))
  return person | car


def car_apparent_height(camera: camera_lib.Camera, boxes: np.ndarray, config: DetectorConfig = DetectorConfig()) -> np.ndarray:
  """(N,) metres: the largest `metric_size` height a car standing at the bottom centre of boxes
  (N, 4) xywh can show. Seen from above, a car's box reaches up to its far roof edge, so the
  vertical segment at its near foot that reaches the box's top is taller than the car: with the
  camera C metres up, the foot D metres away on the ground (horizontally) and the car Δ long
  away from the camera and H tall, (C Δ + H D) / (D + Δ); here Δ = car_max_length_m and
  H = car_max_height_m (a van 12 m from a camera 9 m up: 3.7 m)."""
  ground, _, on_ground = _foot_points(camera, np.asarray(boxes, np.float64).reshape(-1, 4))
  c = float(camera.offset)
  horizontal = np.linalg.norm(ground + c * np.asarray(camera.normal, np.float64)[:, None], axis=0)
  length, height = config.car_max_length_m, config.car_max_height_m
  return np.where(on_ground, (c * length + height * horizontal) / (horizontal + length), height)


def fragment_groups(boxes: np.ndarray, camera: camera_lib.Camera,
                    config: DetectorConfig = DetectorConfig()) -> np.ndarray:
  """Group index (N,) of components with boxes (N, 4) xywh pixels: fragments of one object
  (`_fragments_join`: a person split by the foreground test, trousers or a coat like the road;
  a car cut by a pole in front of it) are one group. Pairs are joined one at a time, the first
  in index order, and the joined box is tested again with the rest."""
  gboxes = np.asarray(boxes, np.float64).reshape(-1, 4)
  groups = [[i] for i in range(len(gboxes))]
  while len(gboxes) > 1:
    i, j = np.triu_indices(len(gboxes), 1)
    joins = np.flatnonzero(_fragments_join(gboxes[i], gboxes[j], camera, config))
    if not len(joins):
      break
    a, b = int(i[joins[0]]), int(j[joins[0]])
    gboxes[a] = _unions(gboxes[a:a + 1], gboxes[b:b + 1])[0]
    gboxes = np.delete(gboxes, b, axis=0)
    groups[a] += groups.pop(b)
  out = np.zeros(len(boxes), np.int64)
  for g, members in enumerate(groups):
    out[members] = g
  return out


def _explain(blob: np.ndarray, camera: camera_lib.Camera | None,
             config: DetectorConfig) -> silhouettes.Explained | None:
  """The objects of a blob too large for one (wider than `car_max_length_m` or taller than
  `car_max_height_m` standing on the ground: touching cars, a car with its shadow), found by
  their silhouettes (`silhouettes.explain_blob`); None when the blob may be one object, there
  is no camera, config.fit_silhouettes is off, or no silhouette explains it."""
  if camera is None or not config.fit_silhouettes:
    return None
  width_m, height_m, _, valid = (v[0] for v in metric_size(camera, np.asarray(rle.mask_box(blob), np.float64)[None]))
  if not (valid and (width_m > config.car_max_length_m or height_m > config.car_max_height_m)):
    return None
  found = silhouettes.explain_blob(blob, camera, config.silhouette_config)
  return found if len(found.masks) else None


def with_lamp_cars(blobs: list[tuple[np.ndarray, int]], cars: lamps_lib.LampCars, lit: np.ndarray,
                   config: DetectorConfig = DetectorConfig()) -> list[tuple[np.ndarray, int]]:
  """Blobs (mask (H, W) bool, category or -1) with the cars their lamps show (`lamps.lamp_cars`),
  nearest first. The blobs holding a car's lamps or lying mostly inside its silhouette become
  that car: their pixels inside the silhouette (grown by a pixel), or the whole
  silhouette where they fill less than `lamp_min_fill` of it (a dark car, its lamps and a glint);
  their pixels outside it, but for the pool of its headlights' light on the road ahead (there
  and `lit`, (H, W) bool: brighter than the background; a person in front of the car is not),
  stay blobs (-1) of their own. A car no blob shows is added as its silhouette. A car whose
  silhouette overlaps a nearer lamp-found car's by IoU > 0.5 is the same car."""
  blobs = list(blobs)
  made: list[np.ndarray] = []
  grow = np.ones((3, 3), np.uint8)
  for k in np.argsort(cars.depths, kind="stable"):
    silhouette, area = cars.masks[k], int(np.count_nonzero(cars.masks[k]))
    if not area or any(np.count_nonzero(silhouette & m) > 0.5 * np.count_nonzero(silhouette | m) for m in made):
      continue
    grown = cv2.dilate(silhouette.astype(np.uint8), grow).astype(bool)
    hits = [i for i, (m, c) in enumerate(blobs)  # not the cars made so far (classed already)
            if c < 0 and ((m & cars.lamps[k]).any() or np.count_nonzero(m & silhouette) > 0.5 * np.count_nonzero(m))]
    inside = np.zeros(silhouette.shape, bool)
    rest = np.zeros(silhouette.shape, bool)
    for i in hits:
      inside |= blobs[i][0] & grown
      rest |= blobs[i][0] & ~grown & ~(cars.ahead[k] & lit)
    car = inside if np.count_nonzero(inside) >= config.lamp_min_fill * area else silhouette
    blobs = [o for i, o in enumerate(blobs) if i not in hits]
    blobs.append((car, int(Category.CAR)))
    made.append(car)
    if rest.any():
      rest_labels, _, rest_keep = _components(rest, config.min_area)
      blobs += [(rest_labels == i, -1) for i in rest_keep]
  return blobs


def split_people(mask: np.ndarray, camera: camera_lib.Camera | None,
                 config: DetectorConfig = DetectorConfig(), image: np.ndarray | None = None) -> list[np.ndarray]:
  """One blob's mask (H, W) bool cut into one mask per person when it is a group walking side by
  side: standing on the ground as tall as a person (`min_person_m` … `person_max_height_m`) but
  wider than one (> fragment_person_width_m, < person_max_width_m × 4), with two or more heads:
  peaks of the blob's top outline (its highest row per column) at least `head_gap_m` apart, each
  `head_prominence_m` above the dip to its neighbour (scipy.signal.find_peaks, sizes in pixels at
  the blob's depth). Cut at the lowest point of the outline between neighbouring heads. Where the
  heads do not tell the people apart and image (H, W, 3) uint8 is given (config.hog), the HOG
  people on the blob do (`hog.split_group`). Kept only when every part stands as one person
  (min_width_m … fragment_person_width_m wide, at least min_person_m tall; HOG's parts may be
  wider). Last, a blob too narrow for any whole car is cut into people by its column profile
  (`split_narrow_group`). Without a camera, or otherwise, the blob is returned whole: [mask].
  `detect` labels the parts of a cut blob people, whatever their measured width."""
  box = np.asarray(rle.mask_box(mask), np.float64)
  if camera is None:
    return [mask]
  width_m, height_m, depth, valid = (v[0] for v in metric_size(camera, box[None]))
  if not valid:
    return [mask]
  if (config.min_person_m <= height_m <= config.person_max_height_m
      and config.fragment_person_width_m < width_m < 4 * config.person_max_width_m):
    parts = _split_at_heads(mask, box, float(camera.K[1][1]) / depth, config)
    # Every part must stand as one person (a car's roof line has peaks too).
    if len(parts) >= 2 and _stand_as_people(parts, camera, config, config.fragment_person_width_m).all():
      return parts
    if image is not None and config.hog:
      # A blob's own height overstates its people's when it holds their shadows.
      parts = hog_lib.split_group(mask, image, min(box[3], stature_px(camera, box, STATURE_M)), config.hog_config)
      # HOG may find only some of a group's people: a part may hold more than one.
      parts = _join_short_parts(parts, camera, config)
      if len(parts) >= 2 and _stand_as_people(parts, camera, config).all():
        return parts
  return split_narrow_group(mask, camera, config)


def split_narrow_group(mask: np.ndarray, camera: camera_lib.Camera | None,
                       config: DetectorConfig = DetectorConfig()) -> list[np.ndarray]:
  """A blob's mask (H, W) bool cut into the people of a group too narrow to be a car.

  A blob standing as tall as a person (min_height_m … person_max_height_m) and wider than one
  (>= person_max_width_m) but narrower than any whole car (< car_min_width_m) holds people side
  by side (or a fragment of a car, which the cut costs). It is cut into
  round(width / group_person_width_m) parts (2 to 4), each cut at the middle of the columns
  with the fewest blob pixels within a quarter share of an equal cut (between two walkers the
  profile dips). A blob as wide as a car seen head-on (car_min_width_m … pair_max_width_m), no
  taller than fragment_person_height_m, is two people when its column profile's least in its
  middle third is at most pair_dip of the lower of its outer thirds' peaks: cut in two there.
  Kept when every part is at least min_width_m wide; else, or without a camera, [mask]. Parts
  are as short as the blob: the caller grows them to their feet (`extend_to_feet`)."""
  if camera is None:
    return [mask]
  box = np.asarray(rle.mask_box(mask), np.float64)
  width_m, height_m, _, valid = (v[0] for v in metric_size(camera, box[None]))
  narrow = config.person_max_width_m <= width_m < config.car_min_width_m
  pair = (config.pair_dip > 0 and config.car_min_width_m <= width_m < config.pair_max_width_m
          and height_m <= config.fragment_person_height_m)
  if not (valid and config.min_height_m <= height_m <= config.person_max_height_m and (narrow or pair)):
    return [mask]
  x, y, w, h = (int(v) for v in box)
  profile = mask[y:y + h, x:x + w].sum(axis=0)
  if pair:
    third = w // 3
    if third < 2:
      return [mask]
    middle = profile[third:w - third]
    # A car seen head-on is fullest in its middle; two walkers side by side are emptiest there.
    if middle.min() > config.pair_dip * min(profile[:third].max(), profile[w - third:].max()):
      return [mask]
    cuts = [x + third + _middle_of_least(middle)]
  else:
    count = int(np.clip(np.rint(width_m / config.group_person_width_m), 2, 4))
    if w < 2 * count:
      return [mask]
    reach = max(1, w // (4 * count))
    cuts = []
    for k in range(1, count):
      centre = int(round(k * w / count))
      lo, hi = max(1, centre - reach), min(w - 1, centre + reach)
      cuts.append(x + lo + _middle_of_least(profile[lo:hi + 1]))
  parts = hog_lib.cut_at_columns(mask, sorted(set(cuts)), config.min_area)
  if len(parts) < 2:
    return [mask]
  part_w, _, _, ok = metric_size(camera, np.array([rle.mask_box(m) for m in parts], np.float64))
  return parts if (ok & (part_w >= config.min_width_m)).all() else [mask]


def _stand_as_people(parts: list[np.ndarray], camera: camera_lib.Camera, config: DetectorConfig,
                     max_width_m: float = np.inf) -> np.ndarray:
  """(P,) bool: masks (H, W) whose boxes stand on the ground at least min_width_m wide (at most
  max_width_m) and min_person_m tall."""
  w, h, _, ok = metric_size(camera, np.array([rle.mask_box(m) for m in parts], np.float64))
  return ok & (w >= config.min_width_m) & (w <= max_width_m) & (h >= config.min_person_m)


def stature_px(camera: camera_lib.Camera, box: np.ndarray, stature_m: float) -> float:
  """Image height (pixels) of a person `stature_m` tall standing at the bottom centre of box (4,)
  xywh; inf when that point is not on the ground in view."""
  ground, _, on_ground = _foot_points(camera, np.asarray(box, np.float64).reshape(1, 4))
  if not on_ground[0]:
    return float("inf")
  top = np.asarray(camera.K, np.float64) @ (ground[:, 0] + stature_m * np.asarray(camera.normal, np.float64))
  return float(box[1] + box[3] - 0.5 - top[1] / top[2]) if top[2] > 0 else float("inf")


def _join_short_parts(parts: list[np.ndarray], camera: camera_lib.Camera, config: DetectorConfig) -> list[np.ndarray]:
  """Column bands of one blob (left to right) with each band that cannot stand as a person
  (under min_width_m wide or min_person_m tall: a sliver beside a person that HOG found twice)
  joined to its smaller neighbour, until all can or one is left."""
  parts = list(parts)
  while len(parts) > 1:
    short = np.flatnonzero(~_stand_as_people(parts, camera, config))
    if not len(short):
      break
    i = int(short[0])
    neighbours = [j for j in (i - 1, i + 1) if 0 <= j < len(parts)]
    j = min(neighbours, key=lambda k: int(parts[k].sum()))
    lo, hi = min(i, j), max(i, j)
    parts[lo:hi + 1] = [parts[lo] | parts[hi]]
  return parts


def _middle_of_least(values: np.ndarray) -> int:
  """Index of the middle of the entries of values (N,) within 0.5 of their least (whole-pixel
  profiles: the flat stretch at the bottom of a dip, not its first column)."""
  return int(np.rint(np.flatnonzero(values <= values.min() + 0.5).mean()))


def _split_at_heads(mask: np.ndarray, box: np.ndarray, px_per_m: float, config: DetectorConfig) -> list[np.ndarray]:
  """The blob's mask cut between the heads of its top outline (`split_people`); [mask] when it
  has fewer than two heads."""
  x, y, w, h = (int(v) for v in box)
  sub = mask[y:y + h, x:x + w]
  top = np.where(sub.any(axis=0), sub.argmax(axis=0), h).astype(np.float64)
  heads, _ = signal.find_peaks(h - top, distance=max(1.0, config.head_gap_m * px_per_m),
                               prominence=config.head_prominence_m * px_per_m)
  if len(heads) < 2:
    return [mask]
  # The middle of the lowest stretch between two heads (shoulders are flat: not its first column).
  cuts = [a + _middle_of_least(-top[a:b + 1]) for a, b in zip(heads[:-1], heads[1:])]
  return hog_lib.cut_at_columns(mask, [x + c for c in cuts], config.min_area)


def extend_to_feet(part: np.ndarray, body: np.ndarray, camera: camera_lib.Camera,
                   config: DetectorConfig = DetectorConfig(), limbs: np.ndarray | None = None) -> np.ndarray:
  """A person's mask (H, W) bool grown down to the feet through pixels the shadow tests or the
  opening took.

  Dark or grey clothing darkens the road by about what a cast shadow does, so the shadow test
  takes trousers and coats with the shadows, and what is left of a person is a head and a
  torso, too short to stand as one. When the part is no wider than a person
  (<= person_max_width_m, the class rule's bound: a torso's box measures wide, its bottom
  row being farther than the feet), it is extended row by row below its bottom while the
  foreground before the shadow tests (`body`, (H, W) bool) fills at least `feet_fill` of its
  columns, up to a box no taller than `fragment_person_height_m` standing on the ground. A
  shadow cast sideways stops at the feet; one cast towards the camera is cut at that height.

  limbs: (H, W) bool, the foreground after the shadow tests but before the opening
  (`foreground_pixels`). A walking person's legs, one or two pixels wide in a small frame, do
  not survive the opening, and they stride out of the torso's columns, filling few of them:
  the part is also grown through the limbs' pixels connected to it within its columns widened
  by `limb_pad` of its width on each side, down to the first row they leave empty or fill
  wider than the part (a pool of light or another object at the feet; same height cap).
  """
  x, y, w, h = (int(v) for v in rle.mask_box(part))
  if w == 0:
    return part
  width_m, height_m, _, valid = (v[0] for v in metric_size(camera, np.array([[x, y, w, h]], np.float64)))
  if not (valid and width_m <= config.person_max_width_m and height_m < config.fragment_person_height_m):
    return part
  below = part.shape[0] - (y + h)
  heights = metric_size(camera, np.array([[x, y, w, h + k] for k in range(1, below + 1)], np.float64))[1]
  tallest = int(np.sum(np.cumprod(heights <= config.fragment_person_height_m)))  # rows below allowed
  out = part.copy()
  fill = body[y + h:y + h + tallest, x:x + w].mean(axis=1) >= config.feet_fill
  rows = int(np.argmin(fill)) if not fill.all() else len(fill)
  out[y + h:y + h + rows, x:x + w] |= body[y + h:y + h + rows, x:x + w]
  if limbs is not None and tallest:
    pad = int(np.ceil(config.limb_pad * w))
    x0, x1 = max(0, x - pad), min(part.shape[1], x + w + pad)
    window = (slice(y, y + h + tallest), slice(x0, x1))
    _, labels = cv2.connectedComponents((limbs[window] | part[window]).astype(np.uint8), connectivity=8)
    touching = np.unique(labels[part[window]])
    grown = np.isin(labels[h:], touching[touching > 0])
    # Legs are narrower than the torso; a row wider is something else (a pool of light, a car).
    reach = grown.any(axis=1) & (grown.sum(axis=1) <= w)
    rows = int(np.argmin(reach)) if not reach.all() else len(reach)
    out[y + h:y + h + rows, x0:x1] |= grown[:rows]
  return out


def behind_cars(boxes: np.ndarray, categories: np.ndarray, share: float = 0.5) -> np.ndarray:
  """(N,) bool: person-class boxes (N, 4) xywh with at least `share` of their area inside a
  car-class box and their bottom row above that car's. A person standing there would stand
  behind the car, hidden by it, yet show whole: such a box is a piece of the car (at night,
  pixels that a lamp-found car's silhouette left out)."""
  boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
  categories = np.asarray(categories).reshape(-1)
  people, cars = np.flatnonzero(categories == Category.PERSON), np.flatnonzero(categories == Category.CAR)
  out = np.zeros(len(boxes), bool)
  if not len(people) or not len(cars):
    return out
  p, c = boxes[people], boxes[cars]
  inside = detection_metrics.box_intersection(p, c) >= share * np.maximum(p[:, 2] * p[:, 3], 1e-9)[:, None]
  above = (p[:, 1] + p[:, 3])[:, None] < (c[:, 1] + c[:, 3])[None]
  out[people] = (inside & above).any(axis=1)
  return out


def classify(boxes: np.ndarray, camera: camera_lib.Camera | None,
             config: DetectorConfig = DetectorConfig()) -> np.ndarray:
  """Category (N,) int32 of boxes (N, 4): by metric size when a camera is given, else by shape."""
  boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
  aspect = boxes[:, 3] / np.maximum(boxes[:, 2], 1.)
  person = aspect > config.person_min_aspect
  if camera is not None:
    width, height, _, valid = metric_size(camera, boxes)
    metric_person = (width < config.person_max_width_m) & (height < config.person_max_height_m)
    person = np.where(valid, metric_person, person)
  return np.where(person, int(Category.PERSON), int(Category.CAR)).astype(np.int32)


def foreground(image: np.ndarray, background: np.ndarray, noise: np.ndarray | float,
               config: DetectorConfig = DetectorConfig()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Foreground mask (H, W) bool, per-pixel threshold and colour distance (H, W) float32 grey
  levels: `foreground_pixels` cleaned by `smooth_mask`.

  image, background: (H, W, 3) uint8 RGB; noise: (H, W) or scalar per-channel std.
  """
  pixels, threshold, dist = foreground_pixels(image, background, noise, config)
  return smooth_mask(pixels, config), threshold, dist


def foreground_pixels(image: np.ndarray, background: np.ndarray, noise: np.ndarray | float,
                      config: DetectorConfig = DetectorConfig()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Pixels (H, W) bool that differ from the background by more than the threshold, minus cast
  shadows and illumination changes, before any morphology; the threshold and the colour
  distance (H, W) float32 grey levels.

  image, background: (H, W, 3) uint8 RGB; noise: (H, W) or scalar per-channel std.
  """
  if config.match_gain:
    background = match_gain(image, background)
  dist = background_lib.colour_distance(image, background)
  noise = np.broadcast_to(np.asarray(noise, np.float32), dist.shape)
  bucket_sigma = float(np.median(noise))
  # Objects that linger in the sample inflate a pixel's noise estimate, so it may raise the
  # threshold above the bucket's typical noise only up to max_noise_ratio.
  sigma = np.clip(noise, bucket_sigma, config.max_noise_ratio * bucket_sigma)
  threshold = np.maximum(config.threshold_sigmas * sigma, config.min_threshold).astype(np.float32)
  fg = dist > threshold
  if config.shadows:
    fg &= ~cast_shadows(image, background, fg, config)
  if config.illumination:
    fg &= ~illumination_change(image, background, config)
  return fg, threshold, dist


def smooth_mask(pixels: np.ndarray, config: DetectorConfig = DetectorConfig()) -> np.ndarray:
  """pixels (H, W) bool opened (speckle) and closed (holes) with elliptic kernels of radii
  config.open_px and config.close_px."""
  mask = pixels.astype(np.uint8)
  if config.open_px:
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * config.open_px + 1,) * 2)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
  if config.close_px:
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * config.close_px + 1,) * 2)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel)
  return mask.astype(bool)


def cast_shadows(image: np.ndarray, background: np.ndarray, candidates: np.ndarray,
                 config: DetectorConfig = DetectorConfig()) -> np.ndarray:
  """Pixels (H, W) bool of the frame that are the background in cast shadow.

  image, background: (H, W, 3) uint8 RGB; candidates: (H, W) bool, the foreground the shadows
  are looked for in. A shadow keeps a share of the background's light in `shadow_ratio` in
  every channel. Where the frame shows a cast shadow of the sun (`cast_shadow_level` finds its
  pile among candidates whose channel ratios spread by at most `shadow_colour_search` × their
  mean), the shadow is the sky's light alone, bluer than sunlight: a shadow pixel's ratio has
  the pile's colour (`shadow_colour`: each channel's share of the mean within
  `shadow_colour_tol`) and is no darker than the pile by more than `shadow_level_margin`.
  Without a pile (night, overcast) a shadow is soft, grey and no darker than
  `soft_shadow_min`: channel ratios spread by at most `shadow_chroma`; with no
  shadow_level_margin, grey at any level in `shadow_ratio`.
  """
  ratio = (image.astype(np.float32) + 1.) / (background.astype(np.float32) + 1.)
  mean = ratio.mean(axis=2)
  spread = ratio.max(axis=2) - ratio.min(axis=2)
  low, high = config.shadow_ratio
  in_range = (ratio.max(axis=2) <= high) & (ratio.min(axis=2) >= low)
  grey = in_range & (spread <= config.shadow_chroma)
  if config.shadow_level_margin is None:
    return grey
  search = in_range & (spread <= config.shadow_colour_search * mean) if config.shadow_colour else grey
  level = cast_shadow_level(ratio, candidates & search, config)
  if level is None:
    return grey & (mean >= config.soft_shadow_min)
  shadow = grey
  if config.shadow_colour:
    colour = shadow_colour(ratio, candidates & search, level, config)
    shadow = in_range & (np.abs(ratio / mean[..., None] - colour / colour.mean()).max(axis=2) <= config.shadow_colour_tol)
  return shadow & (mean >= (1. - config.shadow_level_margin) * level)


def shadow_colour(ratio: np.ndarray, candidates: np.ndarray, level: float,
                  config: DetectorConfig = DetectorConfig()) -> np.ndarray:
  """(3,) frame / background ratio per channel of the frame's cast shadows: the median over the
  candidates (H, W) bool whose mean ratio lies within 1.5 bins of the shadows' level (ratio:
  (H, W, 3) float32). Under a blue sky about (0.48, 0.51, 0.57) where grey would be (0.52,) × 3."""
  pile = candidates & (np.abs(ratio.mean(axis=2) - level) <= 1.5 * config.shadow_level_bin)
  return np.median(ratio[pile], axis=0)


def cast_shadow_level(ratio: np.ndarray, candidates: np.ndarray, config: DetectorConfig = DetectorConfig()) -> float | None:
  """The frame's cast-shadow level: frame / background brightness of the ground in full shadow,
  or None when the frame shows no cast shadow.

  ratio: (H, W, 3) float32 frame / background per channel; candidates: (H, W) bool, foreground
  pixels that pass the shadow test. Under one sun, a cast shadow keeps only the sky's share of
  the light, the same on all the ground, so the shadows' pixels pile up at one level, while
  dark clothing spreads from black up: the level is the mode of the candidates' mean ratio
  (bins of `shadow_level_bin`), accepted when at least `shadow_level_min_px` pixels and
  `shadow_level_min_share` of the candidates lie within one bin of it (at night, under lamps
  or an overcast sky there is no such pile; then every candidate stays a shadow).
  """
  mean = ratio.mean(axis=2)[candidates]
  low, high = config.shadow_ratio
  bins = max(int(np.ceil((high - low) / config.shadow_level_bin)), 1)
  hist, edges = np.histogram(mean, bins=bins, range=(low, high))
  if not hist.sum():
    return None
  peak = int(hist.argmax())
  near = int(hist[max(peak - 1, 0):peak + 2].sum())
  if near < config.shadow_level_min_px or near < config.shadow_level_min_share * hist.sum():
    return None
  return float(0.5 * (edges[peak] + edges[peak + 1]))


def edge_strength(image: np.ndarray) -> np.ndarray:
  """Gradient magnitude (H, W) float32 of the grey image of (H, W, 3) uint8 RGB (Sobel 3×3)."""
  grey = image.astype(np.float32).mean(axis=2)
  return np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3))


def is_ghost(labels: np.ndarray, stat: np.ndarray, label: int, edges_now: np.ndarray,
             edges_bg: np.ndarray, ratio: float, median_ratio: float = 0.) -> bool:
  """Whether component `label` (its cv2 stats row) is a ghost: along its contour the frame has
  weaker edges than the background (< ratio ×). A moving object brings its outline into the
  frame; a ghost (an object that was in the background's sample and has left, a shadow that was
  there when the background was taken) has its outline in the background only (Cucchiara,
  Grana, Piccardi & Prati 2003, "Detecting moving objects, ghosts, and shadows"). With
  median_ratio > 0, also the contour's median pixel: its frame edge under median_ratio × the
  background's (a strong background edge along a short stretch of an object's outline pulls the
  mean down, not the median).

  labels: (H, W) int component image; edges_now, edges_bg: (H, W) float32 gradient magnitudes.
  """
  window, _, contour = _contour(labels, stat, label)
  now, bg = edges_now[window][contour], edges_bg[window][contour]
  if not now.mean() < ratio * bg.mean():
    return False
  return not median_ratio or bool(np.median(now / np.maximum(bg, 1e-6)) < median_ratio)


def _contour(labels: np.ndarray, stat: np.ndarray, label: int) -> tuple[tuple[slice, slice], np.ndarray, np.ndarray]:
  """Component `label` (its cv2 stats row) in a window of labels (H, W) a pixel larger than its
  box: the window (row, column slices), its mask there and its contour (a pixel either side of
  its outline), (h, w) bool each."""
  x, y, w, h = (int(v) for v in stat[:4])
  window = (slice(max(y - 1, 0), min(y + h + 1, labels.shape[0])), slice(max(x - 1, 0), min(x + w + 1, labels.shape[1])))
  mask = (labels[window] == label).astype(np.uint8)
  kernel = np.ones((3, 3), np.uint8)
  return window, mask.astype(bool), (cv2.dilate(mask, kernel) - cv2.erode(mask, kernel)).astype(bool)


def is_light_pool(labels: np.ndarray, stat: np.ndarray, label: int, image: np.ndarray, background: np.ndarray,
                  edges_now: np.ndarray, noise_sigma: float, config: DetectorConfig = DetectorConfig()) -> bool:
  """Whether component `label` (its cv2 stats row) is a pool of light on the scene, the beam of
  a car's headlights whose lamps the frame does not show or pair: at least `pool_bright_share`
  of it brighter than the background in every channel, and no outline of its own (a pool
  fades out): the frame's gradient along its contour under `pool_edge_sigmas` × the noise.

  image, background: (H, W, 3) uint8, the background gain-matched to the frame; edges_now: (H,
  W) float32 the frame's gradient magnitude (`edge_strength`); noise_sigma: grey levels.
  """
  window, mask, contour = _contour(labels, stat, label)
  brighter = (image[window][mask].astype(np.int16) > background[window][mask]).all(axis=1).mean()
  return bool(brighter >= config.pool_bright_share
              and edges_now[window][contour].mean() < config.pool_edge_sigmas * noise_sigma)


def local_ncc(a: np.ndarray, b: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
  """Normalised cross-correlation (H, W) float32 of grey images a, b (H, W) over (2r+1)² windows,
  and b's local standard deviation (H, W) grey levels."""
  size = (2 * radius + 1,) * 2
  a = a.astype(np.float32)
  b = b.astype(np.float32)
  box = lambda x: cv2.blur(x, size, borderType=cv2.BORDER_REFLECT)
  ma, mb = box(a), box(b)
  va = np.maximum(box(a * a) - ma * ma, 0.)
  vb = np.maximum(box(b * b) - mb * mb, 0.)
  cov = box(a * b) - ma * mb
  return cov / np.sqrt(va * vb + 1e-3), np.sqrt(vb)


def illumination_change(image: np.ndarray, background: np.ndarray,
                        config: DetectorConfig = DetectorConfig()) -> np.ndarray:
  """Pixels (H, W) bool where the frame is the background under other light, not an object.

  image, background: (H, W, 3) uint8 RGB. A cast shadow or a shadow that has moved away since
  the background was taken (the sun's hours differ within a bucket) scales the three channels by
  about one factor (same chromaticity: `illumination_chroma` bounds the channel ratios' spread
  relative to their mean; the factor lies in `illumination_ratio`) and keeps the background's
  texture (local normalised cross-correlation >= `texture_ncc` over (2 texture_px + 1)² pixels).
  On flat background (local std < `flat_std`) texture cannot tell, and the ratio test decides
  (Cucchiara et al. 2003; texture as in Sanin, Sanderson & Lovell 2012's survey).
  """
  ratio = (image.astype(np.float32) + 1.) / (background.astype(np.float32) + 1.)
  mean = ratio.mean(axis=2)
  spread = ratio.max(axis=2) - ratio.min(axis=2)
  low, high = config.illumination_ratio
  photometric = (mean >= low) & (mean <= high) & (spread <= config.illumination_chroma * mean)
  ncc, flat_std = local_ncc(image.mean(axis=2), background.mean(axis=2), config.texture_px)
  return photometric & ((ncc >= config.texture_ncc) | (flat_std < config.flat_std))


@dataclasses.dataclass(frozen=True)
class SampleConsensus:
  """What the background's samples of other moments show of a frame's components.

  share: (count,) per component, the share of its pixels that its `sample_matches`-th best
    matching sample matches (0 with fewer samples than that).
  part_share: (count,) the same of its `part_matches`-th best sample.
  seen: (H, W) bool, pixels that all of their component's `part_matches` best samples match.
  """

  share: np.ndarray
  part_share: np.ndarray
  seen: np.ndarray


def sample_consensus(image: np.ndarray, samples: np.ndarray, threshold: np.ndarray, labels: np.ndarray,
                     count: int, sample_matches: int, part_matches: int | None = None) -> SampleConsensus:
  """The samples' consensus on each component (`SampleConsensus`).

  image: (H, W, 3) uint8; samples: (K, H, W, 3) uint8; threshold: (H, W) grey levels, a pixel
  matches a sample when their colour distance (the sample gain-matched to the frame) is under
  it; labels: (H, W) int components, 0..count-1. Whole samples, not pixels: a ghost is the scene
  as it was at another moment, so one stored frame matches all of it, while an object matches
  samples only in patches, a different sample here and there (at night, dark cars queued at the
  same stop line, and the sensor noise, match most of a dark car's pixels in two samples of
  twelve, each pixel in others). Where the `part_matches` (default `sample_matches`) best
  samples match only part of a component, that part (`seen`) is the scene at another moment
  too: a car in the frame beside the ghost of a queue that the background's median holds.
  """
  part_matches = sample_matches if part_matches is None else part_matches
  none, unseen = np.zeros(count), np.zeros(labels.shape, bool)
  if not len(samples):
    return SampleConsensus(none, none, unseen)
  matches = np.stack([background_lib.colour_distance(image, match_gain(image, s)) <= threshold for s in samples])
  area = np.maximum(np.bincount(labels.ravel(), minlength=count), 1)
  shares = np.stack([np.bincount(labels.ravel(), m.ravel(), minlength=count) for m in matches]) / area
  ranked = -np.sort(-shares, axis=0)
  kth = lambda k: ranked[k - 1] if len(samples) >= k else none
  if len(samples) < part_matches:
    return SampleConsensus(kth(sample_matches), none, unseen)
  best = np.argsort(-shares, axis=0, kind="stable")[:part_matches]  # (k, count) sample indices
  seen = np.take_along_axis(matches, best[:, labels], axis=0).all(axis=0)
  return SampleConsensus(kth(sample_matches), kth(part_matches), seen)


def match_gain(image: np.ndarray, background: np.ndarray) -> np.ndarray:
  """The background (H, W, 3) uint8 scaled per channel by the median frame / background ratio
  (exposure and ambient light drift within a time-of-day bucket; objects cover a minority of
  pixels, so the median ratio is the scene's)."""
  bg = background.astype(np.float32)
  ratio = (image.astype(np.float32) + 1.) / (bg + 1.)
  usable = bg.min(axis=2) > 8.  # black pixels carry no gain information
  if usable.sum() < 100:
    return background
  gain = np.median(ratio[usable], axis=0)
  return np.clip(np.rint(bg * gain), 0, 255).astype(np.uint8)


def _components(mask: np.ndarray, min_area: int) -> tuple[np.ndarray, np.ndarray, list[int]]:
  """8-connected components of mask (H, W) bool: labels (H, W) int32, cv2 stats (count, 5) and
  the labels of those of at least min_area pixels."""
  count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
  return labels, stats, [i for i in range(1, count) if stats[i, cv2.CC_STAT_AREA] >= min_area]


def detect(image: np.ndarray, background: np.ndarray, noise: np.ndarray | float, image_id: int,
           camera: camera_lib.Camera | None = None,
           config: DetectorConfig = DetectorConfig(), samples: np.ndarray | None = None) -> FrameDetections:
  """Detections in one frame against its background (see module docstring).

  image, background: (H, W, 3) uint8 RGB; noise: (H, W) float32 or scalar grey levels.
  camera: for classes by metric size; None classifies by shape.
  samples: (K, H, W, 3) uint8, the stored frames the background is the median of
    (`BackgroundModel.frame_samples`), for the sample-consensus ghost test; None skips it.
  Scores: mean over the component of min(distance / (2 threshold), 1), in (0.5, 1].
  """
  image = np.asarray(image)
  background = np.asarray(background)
  if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
    raise ValueError(f"detect: image must be (H, W, 3) uint8, got {image.shape} {image.dtype}")
  if background.shape != image.shape or background.dtype != np.uint8:
    raise ValueError(f"detect: background {background.shape} {background.dtype} must match the image "
                     f"{image.shape} uint8")
  if not np.isfinite(np.asarray(noise)).all():
    raise ValueError("detect: noise contains NaN or infinity")
  if camera is not None:
    check_camera(camera, image.shape)
  if samples is not None:
    samples = np.asarray(samples)
    if samples.dtype != np.uint8 or samples.ndim != 4 or samples.shape[1:] != image.shape:
      raise ValueError(f"detect: samples must be (K, *{image.shape}) uint8, got {samples.shape} {samples.dtype}")
  pixels, threshold, dist = foreground_pixels(image, background, noise, config)
  mask = smooth_mask(pixels, config)
  body = dist > threshold  # before the shadow tests: dark clothing passes them too
  labels, stats, keep = _components(mask, config.min_area)
  edges_now = edge_strength(image) if keep and (config.ghost_edge_ratio > 0 or config.pool_edge_sigmas > 0) else None
  if config.ghost_edge_ratio > 0 and keep:
    edges_bg = edge_strength(background)
    keep = [i for i in keep if not is_ghost(labels, stats[i], i, edges_now, edges_bg, config.ghost_edge_ratio,
                                             config.ghost_median_ratio)]
  if config.pool_edge_sigmas > 0 and keep:
    matched = match_gain(image, background) if config.match_gain else background
    sigma = float(np.median(noise))
    keep = [i for i in keep if not is_light_pool(labels, stats[i], i, image, matched, edges_now, sigma, config)]
  if samples is not None and config.sample_ghost_share and keep:
    consensus = sample_consensus(image, samples, threshold, labels, len(stats), config.sample_matches,
                                 config.ghost_part_matches)
    keep = [i for i in keep if consensus.share[i] <= config.sample_ghost_share]
    partly = [i for i in keep if config.ghost_part_share and consensus.part_share[i] >= config.ghost_part_share]
    # Opened so that pixels matching by chance stay with their object.
    ghost = cv2.morphologyEx((np.isin(labels, partly) & consensus.seen).astype(np.uint8), cv2.MORPH_OPEN,
                             np.ones((3, 3), np.uint8)).astype(bool)
    if ghost.any():
      labels, stats, keep = _components(np.isin(labels, keep) & ~ghost, config.min_area)
  strength = np.minimum(dist / (2 * threshold), 1.)
  groups = (fragment_groups(stats[keep, :4].astype(np.float64), camera, config)
            if camera is not None and config.merge_fragments and keep else np.arange(len(keep)))
  blobs = [(np.isin(labels, [keep[k] for k in np.flatnonzero(groups == g)]), -1)
           for g in range(int(groups.max(initial=-1)) + 1)]
  if camera is not None and config.lamps:
    cars = lamps_lib.lamp_cars(image, background, camera, config.lamp_config, config.silhouette_config.car_size_m)
    lit = image.sum(axis=2, dtype=np.int32) > background.sum(axis=2, dtype=np.int32)
    blobs = with_lamp_cars(blobs, cars, lit, config)
  objects = [(m, c) for m, c in blobs if c >= 0]  # (mask (H, W) bool, category or -1 for classify's)
  for full, _ in (b for b in blobs if b[1] < 0):
    found = _explain(full, camera, config)
    if found is not None:
      objects += [(m, int(c)) for m, c in zip(found.masks, found.categories)]
      continue
    parts = split_people(full, camera, config, image) if config.split_people else [full]
    if camera is not None and config.extend_to_feet:
      parts = [extend_to_feet(part, body, camera, config, limbs=pixels) for part in parts]
    # A blob cut into parts was cut into people.
    objects += [(part, int(Category.PERSON) if len(parts) > 1 else -1) for part in parts]
  objects = [(m, c) for m, c in objects if m.any()]
  boxes = [[int(v) for v in rle.mask_box(m)] for m, _ in objects]
  scores = [float(strength[m].mean()) for m, _ in objects]
  masks = [rle.encode_mask(m) for m, _ in objects]
  fitted = [c for _, c in objects]
  boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
  fitted = np.asarray(fitted, np.int32)
  keep = plausible_size(boxes, camera, config) if camera is not None else np.ones(len(boxes), bool)
  categories = np.where(fitted >= 0, fitted, classify(boxes, camera, config)).astype(np.int32)
  if config.behind_car_share:
    keep[keep] = ~behind_cars(boxes[keep], categories[keep], config.behind_car_share)
  kept = np.flatnonzero(keep)
  boxes, categories, scores, masks = boxes[kept], categories[kept], [scores[i] for i in kept], [masks[i] for i in kept]
  n = len(boxes)
  return FrameDetections(
      image_id=int(image_id), boxes=boxes, scores=np.asarray(scores, np.float32),
      categories=categories, masks=tuple(masks),
      keypoints=np.zeros((n, NUM_KEYPOINTS, 3), np.float32), track_ids=np.full(n, -1, np.int64))


def persistent(detections: Sequence[FrameDetections], times: Sequence[float],
               config: DetectorConfig = DetectorConfig()) -> list[FrameDetections]:
  """Detections (per frame, in time order) without those that neither the previous nor the next
  frame confirms: a detection is kept when a detection in a neighbouring frame at most
  `persist_gap_s` seconds away overlaps it by IoU >= `persist_iou`. Flicker, sensor noise bursts
  and compression blocks last one frame; objects last many. A frame without a neighbour that
  close (a lone frame of a time-lapse) keeps everything: there is nothing to check against.

  detections: FrameDetections per frame; times: (F,) seconds (Frame.time).
  """
  times = np.asarray(times, np.float64)
  out = []
  for k, dets in enumerate(detections):
    neighbours = [j for j in (k - 1, k + 1)
                  if 0 <= j < len(detections) and abs(times[j] - times[k]) <= config.persist_gap_s]
    if not neighbours or dets.num == 0:
      out.append(dets)
      continue
    others = np.concatenate([detections[j].boxes for j in neighbours]).reshape(-1, 4)
    iou = detection_metrics.box_iou(dets.boxes, others)
    keep = (iou >= config.persist_iou).any(axis=1) if iou.size else np.zeros(dets.num, bool)
    out.append(dets.select(keep))
  return out


def detect_frame(frame, model: background_lib.BackgroundModel, camera: camera_lib.Camera | None = None,
                 config: DetectorConfig = DetectorConfig(), verifier=None) -> FrameDetections:
  """Detections (image_id = Frame.index) of one frame against its own background
  (`BackgroundModel.frame_background`), with the background's samples of other moments for the
  ghost test when config.sample_ghost_share is on. verifier: None, or a callable
  (image, background, FrameDetections) -> FrameDetections that keeps those it believes
  (`timelapse.verify.Verifier`)."""
  if config.sample_ghost_share:
    median, noise, samples = model.frame_background_and_samples(frame.time, frame.image)
  else:
    (median, noise), samples = model.frame_background(frame.time, frame.image), None
  found = detect(frame.image, median, noise, frame.index, camera, config, samples)
  return found if verifier is None else verifier(frame.image, median, found)


def detect_frames(frames, model: background_lib.BackgroundModel, camera: camera_lib.Camera | None = None,
                  config: DetectorConfig = DetectorConfig(), verifier=None) -> list[FrameDetections]:
  """Detections (one FrameDetections per frame, `detect_frame`) of frames against each frame's
  background (its nearest stored frames in appearance, or its bucket's median), kept by
  `verifier` when one is given; with config.persist, only those a neighbouring frame confirms
  (`persistent`)."""
  out, times = [], []
  for frame in frames:
    out.append(detect_frame(frame, model, camera, config, verifier))
    times.append(frame.time)
  return persistent(out, times, config) if config.persist else out


@dataclasses.dataclass(frozen=True)
class Chain:
  """Learnt stages run in order on a frame's detections, as one `detect_frame` verifier hook:
  each a callable (image, background, FrameDetections) -> FrameDetections, e.g. the detection
  verifier (`verify.Verifier`) and then the box refiner (`refine.Refiner`)."""

  stages: tuple

  def __call__(self, image: np.ndarray, background: np.ndarray, detections: FrameDetections) -> FrameDetections:
    for stage in self.stages:
      detections = stage(image, background, detections)
    return detections

  def with_camera(self, camera: camera_lib.Camera) -> Chain:
    """The chain with `camera` (the frames' own, as `detect_frame` gets it) given to the stages
    that measure in metres (those with a `camera` field: the proposal network's)."""
    return Chain(tuple(dataclasses.replace(stage, camera=camera)
                       if dataclasses.is_dataclass(stage) and any(f.name == "camera" for f in dataclasses.fields(stage))
                       else stage
                       for stage in self.stages))


# The detector as it was before issue 11 ("real footage"), for benchmarks/detector.py --baseline.
BASELINE_CONFIG = DetectorConfig(illumination=False, ghost_edge_ratio=0., sample_ghost_share=0.,
                                 merge_fragments=False, split_people=False, hog=False,
                                 min_width_m=0., min_height_m=0., max_width_m=float("inf"),
                                 fit_silhouettes=False, extend_to_feet=False, shadow_level_margin=None,
                                 lamps=False, pool_edge_sigmas=0.)
