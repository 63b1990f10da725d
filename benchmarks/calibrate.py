r"""Self-calibration from people (walt3d_jax.geometry.calibrate) on every preset's rig, vs goals.

Per preset and seed: people walking on the preset's ground (shapes.person meshes and joints,
`calibrate.synthetic_people`), 640×360, with detection noise like the imitated detector (mask
jitter ±1 px on every box edge, keypoints ±2 px, 10 % of observations cut from below as if
occluded); calibrated from boxes + torso keypoints, and from boxes alone. Prints the errors of
focal length (%), camera height (%), tilt (°), roll (°) and horizon row (% of the image height)
against the "Real footage" issue's goals, and |error| / standard error (calibration of the
uncertainty). Then car-only: each preset's own traffic (`sim.calibration_tracks.car_tracks`: cars
following the lanes, the simulator's meshes, the same box jitter and occlusion from below), as a
time-lapse gives it (6 bursts of 10 frames at 10 fps: 1 s tracks) and as a video does (2 bursts
of 100 frames: cars cross the view, turn and queue within a track), calibrated with
`CalibrationConfig(use='cars')`. Last, people and cars together (`use='both'`): the people-only
run's people with the car-only run's cars of the same preset and seed, as one camera's tracks.

  .venv/bin/python benchmarks/calibrate.py [--seeds 3] [--tracks 30]
      [--sections people cars joint lines]

`lines`: the background's straight lines (geometry/vanishing.py) on each preset's empty street
at noon (`calibration_tracks.empty_street`, rendered at 640×360) alone, then as the prior of the
people's, the cars' and both classes' fits (about 5 minutes).

About 1-2 s per people calibration, 5-20 s per car calibration (a video's: 13-50 s) and 10-80 s
per joint one on a shared core; the whole run about 35 minutes.

Measured (3 seeds, worst |error|; goals f 10 %, height 10 %, tilt 2°, horizon 1 %H):
  scene lines alone (f % / tilt ° / roll ° / horizon %H; no scale): avenue 0.51 / 0.15 / 0.10 /
    0.17; crosswalk 0.52 / 0.05 / 0.14 / 0.24; intersection 0.64 / 0.16 / 0.05 / 0.41;
    t_junction 0.33 / 0.04 / 0.06 / 0.11 (|error| / standard error up to 1.5: the prior's
    covariance is scaled by 1.5²). As the prior (f % / height % / tilt ° / horizon %H):
    people's boxes only: avenue 0.49 / 2.5 / 0.14 / 0.17; crosswalk 0.63 / 1.3 / 0.05 / 0.19;
      intersection 0.63 / 1.3 / 0.18 / 0.40; t_junction 0.31 / 1.1 / 0.04 / 0.12;
    people's boxes + keypoints: avenue 0.68 / 2.5 / 0.17 / 0.15; crosswalk 0.75 / 1.2 / 0.08 /
      0.16; intersection 0.53 / 1.3 / 0.18 / 0.39; t_junction 0.21 / 1.1 / 0.03 / 0.13;
    cars only, time-lapse: avenue 0.32 / 0.7 / 0.12 / 0.32; crosswalk 0.52 / 3.0 / 0.05 / 0.29;
      intersection 0.99 / 2.0 / 0.20 / 0.92; t_junction 0.35 / 2.3 / 0.04 / 0.14;
    people's boxes and a time-lapse's cars: avenue 0.41 / 0.9 / 0.12 / 0.30; crosswalk 0.57 /
      1.3 / 0.03 / 0.29; intersection 0.93 / 1.3 / 0.18 / 0.77; t_junction 0.35 / 2.0 / 0.04 / 0.17.
    Every goal is met on every row (people with their fragments dropped; before that filter the
    people's heights were up to 4.3 % off with the lines). Before the simulator's ground polygons were clipped to the
    view (2026-12-03; they had bent kerbs near the camera) the lines alone were 0.7-1.5 %H off,
    and with a prior scaled by 3² the horizon met the goal on 5 of these 16 rows.
  people without lines, person fragments dropped (`CalibrationConfig.fragment_ratio`, since
    2026-12-03), 30 tracks: boxes + keypoints avenue f 7.3 / h 5.5 / tilt 0.9 / horizon 1.8;
    crosswalk 3.4 / 3.5 / 0.5 / 0.9; intersection 2.2 / 2.6 / 1.1 / 1.5; t_junction 5.2 / 2.1 /
    1.2 / 1.3. Boxes only: avenue 16.9 / 7.2 / 3.5 / 1.8; crosswalk 3.1 / 3.5 / 0.6 / 1.05;
    intersection 20.0 / 13.6 / 4.2 / 4.1; t_junction 14.7 / 8.8 / 2.9 / 4.6. Before that filter:
  people, boxes + keypoints, 30 tracks: avenue f 9.7 / h 5.6 / tilt 1.9 / horizon 1.8;
    crosswalk 2.7 / 3.7 / 0.6 / 1.2; intersection 1.7 / 4.7 / 1.2 / 2.4; t_junction 5.0 / 2.1 /
    1.3 / 2.3. Before issue 11's second round: avenue 17.6 / 9.4 / 2.8 / 2.7; crosswalk 4.4 /
    3.8 / 1.0 / 0.7; intersection 3.7 / 3.4 / 1.7 / 3.8; t_junction 7.9 / 3.6 / 2.4 / 4.3. That
    round removed three biases (foot reach by the view's depression angle, the walking crown,
    the detector's size cut), not the spread: mean ± sd of the horizon error over 10 seeds is
    now +0.1 ± 2.0 %H on intersection (was +2.1 ± 2.1), +0.4 ± 2.0 on avenue (was -2.8 ±
    1.6), +0.4 ± 0.9 on crosswalk, +0.9 ± 3.1 on t_junction; noise-free on intersection -0.3 ±
    1.8 (was +1.1 ± 1.5), 0.6 when every stature is equal. Avenue's focal length: -0.9 ± 7.5 %
    (was +6 ± 8). More people do not reach the 1 %H goal either: `--tracks 100` gives horizon
    mean / worst -1.01 / 2.26 %H on avenue, +0.12 / 0.84 crosswalk, +0.08 / 1.20 intersection,
    +0.81 / 1.74 t_junction (f within 6.5 %, tilt within 1.3°), and 4 s tracks instead of 1 s
    (30 of them) 1.82 / 0.69 / 4.82 / 2.25. Noise-free with every stature 1.70 m and 100
    tracks, avenue comes out +0.9 to +1.3 %H, but that is mostly the size cut's model, which
    expects the truncated mean near the smallest boxes where noise-free boxes have none: with
    `size_cut=False` -0.25 to -0.74 %H (intersection -0.48 to +0.08, t_junction -0.29 to
    +0.32). What is left: at the true camera the model's boxes are 0.7-1.6 % too tall for the
    nearest people (depression 30-50°) relative to the farthest (measured on the meshes without
    quantisation), half from the head's silhouette and half from the foot reach. Shrinking the
    model's near people by that much (size cut off) moved avenue to -0.37 to +0.16 %H but
    t_junction to +0.36 to +0.97: not kept. (Noise-free, equal statures, 30 tracks of 4 s:
    with the size cut's model 1.72 %H off on intersection and 0.91 on crosswalk at 5-7
    standard errors, without it 0.91 and 0.23.) So noise-free runs judge the model only with
    `size_cut=False`. With detection noise the cut is real (off, avenue's horizon at 100 tracks
    is -2.2 to -4.2 %H; on, -2.3 to +0.4), and the horizon's own standard error at 100 tracks
    is 0.8-1.0 %H (avenue, t_junction): its errors of 1-2 %H are 1.4-2.7 standard errors, so
    1 %H per run needs several hundred tracks (the error falls as 1/sqrt(tracks)) or less
    noisy keypoints, besides the small bias left.
  people, boxes only (flagged as weak; what the built-in detector gives, it has no keypoints):
    avenue f 22 / h 6.7 / tilt 4.0 / horizon 4.0; crosswalk 15 / 5.5 / 2.9 / 1.8; intersection
    28 / 19 / 5.9 / 7.3; t_junction 25 / 14 / 5.1 / 6.4, the focal length low on every preset
    (before the round: avenue 2 of 3 refused, 36 / 13 / 5.0 / 1.6; crosswalk 77 / 15 / 9.3 /
    1.6; intersection 15 / 11 / 3.1 / 5.7; t_junction 12 / 8.0 / 1.3 / 5.8). Boxes hardly
    constrain the focal length (noise-free, 10 seeds on intersection: ±25-38 % spread before and
    after); the field-of-view prior holds it, the noise drags it low.
  cars only, video (10 s tracks, each cut into 1 s pieces that share the car's size): avenue
    f 14.8 / h 2.8 / tilt 3.4 / horizon 0.2; crosswalk 10.0 / 12.7 / 1.2 / 4.5; intersection
    8.6 / 11.0 / 1.3 / 3.1; t_junction 6.2 / 4.4 / 2.1 / 1.6 (every run flagged weak; |error| /
    standard error up to 6-11). Before the pieces (one straight line per whole track, with the
    earlier size prior and search) on the same tracks: avenue 13.9 / 1.7 / 3.3 / 1.0; crosswalk 7.6 / 27.9 /
    4.9 / 10.7; intersection 26.8 / 11.8 / 6.1 / 6.3; t_junction 24.2 / 37.2 / 2.8 / 18.8.
  cars only, time-lapse (1 s bursts: one piece per track): avenue 18.3 / 4.6 / 3.5 / 2.3;
    crosswalk 22.2 / 8.1 / 5.7 / 4.0; intersection 2.7 / 9.6 / 1.5 / 3.9; t_junction 9.2 / 5.8 /
    2.8 / 2.0. Before (a size prior on the cars' own heights, short solves from the 8 starts of
    lowest cost only): avenue 40 / 16 / 6.6 / 2.9; crosswalk 35 / 9 / 6.3 / 2.0; intersection 16
    / 13 / 4.6 / 4.0; t_junction 35 / 15 / 9.0 / 5.8. The cost is nearly flat along focal length
    vs tilt: on the intersection the best camera came from the 10th start of 16 by its own cost.
    With every car the template's sedan and no noise the fit is exact at the true camera (0.3
    px rms, the boxes' rounding) yet drifts to crosswalk's roll -1.9° and horizon +3 %H: what
    the boxes leave free, the car-size prior decides.
  people (30) and cars together (each class's latents and priors, one camera; 0 of 3 runs
    flagged by their standard errors, which understate the errors up to 10 times; a joint fit
    from boxes alone carries a flag since): boxes + keypoints with a time-lapse's cars: avenue
    2.3 / 1.6 / 0.2 / 1.2; crosswalk 2.6 / 1.5 / 0.7 / 0.9 (every goal met); intersection 2.5 /
    4.1 / 0.6 / 2.2; t_junction 8.0 / 0.6 / 1.9 / 1.6. With a video's cars: avenue 10.2 / 1.6 /
    2.2 / 0.2; crosswalk 4.2 / 6.1 / 0.9 / 2.0; intersection 5.4 / 5.3 / 0.5 / 2.3; t_junction
    4.0 / 2.9 / 0.7 / 1.0. Boxes only with a time-lapse's cars: avenue 14.9 / 2.8 / 2.7 / 1.9;
    crosswalk 9.1 / 2.8 / 1.7 / 1.1; intersection 8.0 / 5.6 / 1.1 / 2.7; t_junction 8.8 / 4.6 /
    2.1 / 3.2 (boxes alone: focal 15-28 % off, horizon 1.8-7.3 %H). With a video's cars: avenue
    13.6 / 1.9 / 3.0 / 0.3; crosswalk 11.5 / 6.8 / 2.2 / 1.9; intersection 10.0 / 7.3 / 1.8 /
    2.7; t_junction 6.2 / 3.1 / 2.0 / 1.4. The cars' noise scaled by 3 in the joint fit (so the
    video's thousands of car edges outvote the people less) was tried: with keypoints better on
    intersection (horizon 1.15 %H) and worse on avenue and crosswalk, from boxes alone worse
    everywhere (focal up to 18 %): not kept.
"""

import argparse
import dataclasses
import math
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # run as a script

from walt3d_jax.geometry import calibrate as C
from walt3d_jax.geometry import vanishing
from walt3d_jax.sim import calibration_tracks
from walt3d_jax.sim import presets

# Car footage: a time-lapse's 1 s bursts, and a video's continuous tracks (cars cross the view
# in 10 s, turn, queue).
CAR_FOOTAGE = (('time-lapse', 6, 10), ('video', 2, 100))
GOALS = {'f %': 10., 'height %': 10., 'tilt °': 2., 'roll °': 2., 'horizon %H': 1.}
SIZE = (640, 360)


def errors(res: C.CalibrationResult, rig) -> dict[str, float]:
  f = 0.5 * SIZE[0] / math.tan(0.5 * rig.hfov)
  horizon = C.horizon_row(f, rig.pitch, rig.roll, SIZE)
  return {
      'f %': 100 * (res.focal_px / f - 1), 'height %': 100 * (res.height_m / rig.height - 1),
      'tilt °': math.degrees(res.pitch_rad - rig.pitch),
      'roll °': math.degrees(res.roll_rad - rig.roll),
      'horizon %H': 100 * (res.horizon_row - horizon) / SIZE[1],
  }, {
      'f %': 100 * res.std['focal_px'] / f, 'height %': 100 * res.std['height_m'] / rig.height,
      'tilt °': math.degrees(res.std['pitch_rad']), 'roll °': math.degrees(res.std['roll_rad']),
      'horizon %H': 100 * res.std['horizon_row'] / SIZE[1],
  }


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--seeds', type=int, default=3)
  parser.add_argument('--tracks', type=int, default=30)
  parser.add_argument('--sections', nargs='+', default=['people', 'cars', 'joint', 'lines'],
                      choices=['people', 'cars', 'joint', 'lines'])
  args = parser.parse_args()
  print(f'goals: ' + ', '.join(f'|{k}| < {v:g}' for k, v in GOALS.items()))
  if 'lines' in args.sections:
    _lines_sections(args)
  for mode in ('boxes+keypoints', 'boxes only') if 'people' in args.sections else ():
    print(f'\n== people only, {mode}, {args.tracks} tracks, {args.seeds} seeds ==')
    print(f'{"preset":13s} ' + ' '.join(f'{k:>16s}' for k in GOALS) + '  z(max) flags  s/run')
    for name in sorted(presets.PRESETS):
      runs = [(_people(name, seed, args.tracks, mode == 'boxes+keypoints'),
               presets.PRESETS[name](seed).rig) for seed in range(args.seeds)]
      _print_row(name, runs, C.CalibrationConfig())
  for what, bursts, frames in CAR_FOOTAGE if 'cars' in args.sections else ():
    print(f'\n== cars only, {what}: {bursts} bursts x {frames} frames at 10 fps of each preset\'s '
          f'traffic, {args.seeds} seeds ==')
    print(f'{"preset":13s} ' + ' '.join(f'{k:>16s}' for k in GOALS) + '  z(max) flags  s/run')
    for name in sorted(presets.PRESETS):
      runs = [(calibration_tracks.car_tracks(name, seed, SIZE, num_bursts=bursts,
                                             frames_per_burst=frames),
               presets.PRESETS[name](seed).rig) for seed in range(args.seeds)]
      _print_row(name, runs, C.CalibrationConfig(use='cars'))
  for mode in ('boxes+keypoints', 'boxes only') if 'joint' in args.sections else ():
    for what, bursts, frames in CAR_FOOTAGE:
      print(f'\n== people ({mode}, {args.tracks} tracks) and cars ({what}) together, '
            f'{args.seeds} seeds ==')
      print(f'{"preset":13s} ' + ' '.join(f'{k:>16s}' for k in GOALS) + '  z(max) flags  s/run')
      for name in sorted(presets.PRESETS):
        runs = [(_together(name, seed, args.tracks, mode == 'boxes+keypoints', bursts, frames),
                 presets.PRESETS[name](seed).rig) for seed in range(args.seeds)]
        _print_row(name, runs, C.CalibrationConfig(use='both'))
  print('\ncells: mean signed error / worst |error| over seeds, ok when the worst meets the goal;'
        ' z(max): largest |error| / standard error; flags: runs flagged as weak.')


def _lines_sections(args) -> None:
  """The background's lines alone (the preset's empty street at noon, rendered at SIZE), then
  as the prior of the people's, the cars' and both classes' fits."""
  lines = {}
  print(f'\n== scene lines alone: each preset\'s empty street at noon, {SIZE[0]}x{SIZE[1]}, '
        f'{args.seeds} seeds (no scale: height not measured) ==')
  print(f'{"preset":13s} ' + ' '.join(f'{k:>16s}' for k in GOALS) + '  z(max) segments  s/run')
  for name in sorted(presets.PRESETS):
    errs, zs, secs, counts = [], [], 0., []
    for seed in range(args.seeds):
      image = calibration_tracks.empty_street(name, seed, SIZE)
      tic = time.perf_counter()
      try:
        found = vanishing.scene_lines(image)
      except C.CalibrationError as e:
        print(f'{name:13s} seed {seed}: refused: {e}')
        continue
      secs += time.perf_counter() - tic
      lines[name, seed] = found
      rig = presets.PRESETS[name](seed).rig
      f = 0.5 * SIZE[0] / math.tan(0.5 * rig.hfov)
      e = {'f %': 100 * (found.focal_px / f - 1),
           'tilt °': math.degrees(found.pitch_rad - rig.pitch),
           'roll °': math.degrees(found.roll_rad - rig.roll),
           'horizon %H': 100 * (found.horizon_row - C.horizon_row(f, rig.pitch, rig.roll, SIZE)) / SIZE[1]}
      sd = {'f %': 100 * found.std['focal_px'] / f, 'tilt °': math.degrees(found.std['pitch_rad']),
            'roll °': math.degrees(found.std['roll_rad']),
            'horizon %H': 100 * found.std['horizon_row'] / SIZE[1]}
      errs.append(e)
      zs.append(max(abs(e[k]) / max(sd[k], 1e-9) for k in e))
      counts.append(len(found.segments))
    if not errs:
      continue
    cells = []
    for k, goal in GOALS.items():
      if k not in errs[0]:
        cells.append('-')
        continue
      worst = max(abs(e[k]) for e in errs)
      cells.append(f'{np.mean([e[k] for e in errs]):+7.2f}/{worst:5.2f}{"ok" if worst < goal else "✗":>3s}')
    print(f'{name:13s} ' + ' '.join(f'{c:>16s}' for c in cells)
          + f'  {max(zs):5.1f}  {int(np.mean(counts)):8d}  {secs / len(errs):.1f}')
  prior = lambda name, seed: lines[name, seed].prior() if (name, seed) in lines else None
  for mode in ('boxes only', 'boxes+keypoints'):
    print(f'\n== people ({mode}, {args.tracks} tracks) with the scene lines\' prior, {args.seeds} seeds ==')
    print(f'{"preset":13s} ' + ' '.join(f'{k:>16s}' for k in GOALS) + '  z(max) flags  s/run')
    for name in sorted(presets.PRESETS):
      runs = [(_people(name, seed, args.tracks, mode == 'boxes+keypoints'),
               presets.PRESETS[name](seed).rig, prior(name, seed)) for seed in range(args.seeds)]
      _print_row(name, runs, C.CalibrationConfig())
  bursts, frames = CAR_FOOTAGE[0][1:]
  print(f'\n== cars only (time-lapse) with the scene lines\' prior, {args.seeds} seeds ==')
  print(f'{"preset":13s} ' + ' '.join(f'{k:>16s}' for k in GOALS) + '  z(max) flags  s/run')
  for name in sorted(presets.PRESETS):
    runs = [(calibration_tracks.car_tracks(name, seed, SIZE, num_bursts=bursts, frames_per_burst=frames),
             presets.PRESETS[name](seed).rig, prior(name, seed)) for seed in range(args.seeds)]
    _print_row(name, runs, C.CalibrationConfig(use='cars'))
  print(f'\n== people (boxes only) and cars (time-lapse) with the scene lines\' prior, '
        f'{args.seeds} seeds ==')
  print(f'{"preset":13s} ' + ' '.join(f'{k:>16s}' for k in GOALS) + '  z(max) flags  s/run')
  for name in sorted(presets.PRESETS):
    runs = [(_together(name, seed, args.tracks, False, bursts, frames),
             presets.PRESETS[name](seed).rig, prior(name, seed)) for seed in range(args.seeds)]
    _print_row(name, runs, C.CalibrationConfig(use='both'))


def _people(name: str, seed: int, tracks: int, keypoints: bool) -> C.Observations:
  rig = presets.PRESETS[name](seed).rig
  return C.synthetic_people(rig.height, rig.pitch, rig.hfov, SIZE, rig.roll, tracks,
                            np.random.default_rng(100 + seed), keypoints=keypoints)


def _together(name: str, seed: int, tracks: int, keypoints: bool, bursts: int, frames: int
              ) -> C.Observations:
  """The people-only run's people and the car-only run's cars of one preset and seed, as one
  camera's observations (car track ids moved past the people's)."""
  people = _people(name, seed, tracks, keypoints)
  cars = calibration_tracks.car_tracks(name, seed, SIZE, num_bursts=bursts, frames_per_burst=frames)
  cars = dataclasses.replace(cars, track_id=cars.track_id + people.track_id.max() + 1)
  return C.Observations.concatenate([people, cars])


def _print_row(name: str, runs, config: C.CalibrationConfig) -> None:
  """One preset's row: runs are (observations, rig) or (observations, rig, prior)."""
  errs, zs, flagged, secs = [], [], 0, 0.
  for seed, (obs, rig, *prior) in enumerate(runs):
    tic = time.perf_counter()
    try:
      res = C.calibrate(obs, config, prior=prior[0] if prior else None)
    except C.CalibrationError as e:
      print(f'{name:13s} seed {seed}: refused: {e}')
      continue
    secs += time.perf_counter() - tic
    e, s = errors(res, rig)
    errs.append(e)
    zs.append(max(abs(e[k]) / max(s[k], 1e-9) for k in e))
    flagged += bool(res.flags)
  if not errs:
    return
  cells = []
  for k, goal in GOALS.items():
    worst = max(abs(e[k]) for e in errs)
    mean = np.mean([e[k] for e in errs])
    cells.append(f'{mean:+7.2f}/{worst:5.2f}{"ok" if worst < goal else "✗":>3s}')
  print(f'{name:13s} ' + ' '.join(f'{c:>16s}' for c in cells)
        + f'  {max(zs):5.1f}  {flagged}/{len(errs)}  {secs / len(errs):.1f}')


if __name__ == '__main__':
  main()
