"""Mutation pass over the rules that decide data quality: do the tests catch a wrong rule?

Copies the repository's tracked files (`git ls-files`, plus the working-tree versions of the
listed test files) into a temporary directory and, one at a time, plants each one-line bug of
MUTANTS in the copy, runs the mutant's covering tests there (`python -m pytest -x -q`, the copy
first on PYTHONPATH, a per-mutant timeout), records killed (tests fail or time out) or survived,
and restores the file. The repository itself is never modified.

  .venv/bin/python benchmarks/mutation.py            # every mutant, ~5 min on 2 cores
  .venv/bin/python benchmarks/mutation.py --only 3 7 # a few, by number
  .venv/bin/python benchmarks/mutation.py --list     # the table, without running

Prints one line per mutant and `mutation kill rate: K of N (P %)`. Not part of `make test`.
A mutant whose original snippet is missing or not unique is an error (the table went stale),
reported as such and counted as neither killed nor survived.

Equivalent mutants (a change no test can see because behaviour does not change) are kept out of
the table; the ones considered are argued in EQUIVALENT at the bottom.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
from typing import NamedTuple

REPO = pathlib.Path(__file__).resolve().parent.parent


class Mutant(NamedTuple):
  path: str  # file, relative to the repository root
  original: str  # an exact snippet, unique in the file
  mutated: str  # its replacement (one line)
  tests: tuple[str, ...]  # pytest arguments: test files, node ids, -k expressions
  what: str  # the rule it breaks, in words


_CAM = 'walt3d_jax/geometry/camera.py'
_FOOT = 'walt3d_jax/geometry/footprint.py'
_QUAL = 'walt3d_jax/fit/quality.py'
_TFIT = 'walt3d_jax/fit/track_fit.py'
_MINE = 'walt3d_jax/timelapse/mine.py'
_OCC = 'walt3d_jax/timelapse/occlusion.py'
_STATIC = 'walt3d_jax/timelapse/static_occluders.py'
_TRACK = 'walt3d_jax/timelapse/track.py'
_TRUTH = 'walt3d_jax/sim/truth.py'
_COMP = 'walt3d_jax/clipart/compose.py'
_SAMP = 'walt3d_jax/clipart/clearance.py'
_RLE = 'walt3d_jax/formats/rle.py'
_DET = 'walt3d_jax/metrics/detection.py'
_MOT = 'walt3d_jax/metrics/mot.py'
_AMO = 'walt3d_jax/metrics/amodal.py'
_KP = 'walt3d_jax/metrics/keypoints.py'

T_CAM = ('tests/geometry/test_camera.py',)
T_FOOT = ('tests/geometry/test_footprint.py',)
T_QUAL = ('tests/fit/test_quality.py',)
T_TFIT = ('tests/fit/test_track_fit.py', '-k', 'high_residual or noisy or collinear or behind')
T_MINE = ('tests/timelapse/test_mine.py', 'tests/timelapse/test_mining_rules.py')
T_OCC = ('tests/timelapse/test_occlusion.py',)
T_STATIC = ('tests/timelapse/test_static_occluders.py',)
T_TRACK = ('tests/timelapse/test_track.py',)
T_TRUTH = ('tests/sim/test_truth.py',)
T_COMP = ('tests/clipart/test_compose.py',)
T_SAMP = ('tests/clipart/test_clearance.py',)
T_RLE = ('tests/formats/test_rle.py',)
T_DET = ('tests/metrics/test_detection.py',)
T_MOT = ('tests/metrics/test_mot.py',)
T_AMO = ('tests/metrics/test_amodal.py',)
T_KP = ('tests/metrics/test_keypoints.py',)

MUTANTS: tuple[Mutant, ...] = (
    # --- camera.json validation -------------------------------------------------------------
    Mutant(_CAM, 'if not np.any(rays @ n < 0.):', 'if not np.all(rays @ n < 0.):', T_CAM,
           'plane in front: one bottom corner seeing the ground is enough'),
    Mutant(_CAM, '[[0., h - 1., 1.], [w - 1., h - 1., 1.]]', '[[0., 0., 1.], [w - 1., 0., 1.]]',
           T_CAM, 'plane in front is decided by the bottom row, not the top'),
    Mutant(_CAM, 'if k[0, 0] <= 0. or k[1, 1] <= 0.:', 'if k[0, 0] <= 0. and k[1, 1] <= 0.:',
           T_CAM, 'each focal length must be > 0'),
    Mutant(_CAM, '  if d < 0.:\n    n, d = -n, -d', '  if d > 0.:\n    n, d = -n, -d', T_CAM,
           'plane sign canonicalised to d > 0'),
    Mutant(_CAM, 'if len(coeffs) not in _DIST_LENGTHS:', 'if len(coeffs) in _DIST_LENGTHS:',
           T_CAM, 'distortion coefficient count'),
    Mutant(_CAM, 'if norm < _MIN_NORMAL:', 'if norm < 0.:', T_CAM, 'zero ground normal rejected'),
    # --- footprints ---------------------------------------------------------------------------
    Mutant(_FOOT, 'return separation(a, b) < margin', 'return separation(a, b) <= margin', T_FOOT,
           'touching footprints do not overlap'),
    Mutant(_FOOT, 'core = jnp.where(gap > 0., jnp.sqrt(', 'core = jnp.where(gap < 0., jnp.sqrt(',
           T_FOOT, 'disjoint cores measured by polygon distance, intersecting by SAT gap'),
    Mutant(_FOOT, 'return core - ra - rb', 'return core - ra', T_FOOT,
           "separation subtracts both discs' radii"),
    Mutant(_FOOT, '& valid[None, :] & ~jnp.eye(n, dtype=bool)', '& valid[None, :]', T_FOOT,
           'a footprint does not overlap itself'),
    Mutant(_FOOT, 'gaps = jnp.maximum(proj_b.min(0) - proj_a.max(0)',
           'gaps = jnp.minimum(proj_b.min(0) - proj_a.max(0)', T_FOOT,
           'SAT gap on an axis is the larger of the two one-sided gaps'),
    # --- fit quality flags ----------------------------------------------------------------------
    Mutant(_QUAL, 'jnp.where(rmse > config.max_rmse_px, HIGH_RESIDUAL, 0)',
           'jnp.where(rmse > config.max_rmse_px, 0, 0)', T_QUAL + T_TFIT[:1],
           'frame HIGH_RESIDUAL raised'),
    Mutant(_TFIT, 'jnp.where(rmse > config.max_rmse_px, quality.HIGH_RESIDUAL, 0)',
           'jnp.where(rmse > config.max_rmse_px, 0, 0)', T_TFIT, 'track HIGH_RESIDUAL raised'),
    Mutant(_QUAL, 'jnp.where(count < config.min_keypoints, FEW_KEYPOINTS, 0)',
           'jnp.where(count <= config.min_keypoints, FEW_KEYPOINTS, 0)', T_QUAL,
           'min_keypoints keypoints are enough'),
    Mutant(_QUAL, '< config.collinear_px,', '> config.collinear_px,', T_QUAL,
           'DEGENERATE when the keypoints spread less than collinear_px'),
    Mutant(_QUAL, 'jnp.any(depth <= config.min_depth_m, -1)', 'jnp.all(depth <= config.min_depth_m, -1)',
           T_QUAL, 'BEHIND_CAMERA when any keypoint is behind'),
    Mutant(_QUAL, 'inside = jnp.all((centroid >= -m)', 'inside = jnp.any((centroid >= -m)', T_QUAL,
           'OUT_OF_IMAGE unless both centroid coordinates are inside'),
    Mutant(_QUAL, '& jnp.all(jnp.abs(beta) <= config.max_shape_sigma))',
           '& jnp.all(jnp.abs(beta) <= 1e9))', T_QUAL, 'IMPLAUSIBLE_SHAPE on extreme β'),
    Mutant(_QUAL, 'return (jnp.all((dims >= lo) & (dims <= hi))',
           'return (jnp.all((dims >= lo) | (dims <= hi))', T_QUAL, 'dimensions inside the car ranges'),
    Mutant(_QUAL, 'TRACK_FROM_FRAMES = BEHIND_CAMERA | NOT_FINITE', 'TRACK_FROM_FRAMES = BEHIND_CAMERA',
           T_QUAL + T_TFIT, "a frame's NOT_FINITE reaches the track"),
    # --- mining flags and the occlusion heuristic -----------------------------------------------
    Mutant(_MINE, '(detections.scores < config.mining.min_score, MiningFlag.LOW_SCORE)',
           '(detections.scores > config.mining.min_score, MiningFlag.LOW_SCORE)', T_MINE,
           'LOW_SCORE below min_score'),
    Mutant(_MINE, '(np.minimum(detections.boxes[:, 2], detections.boxes[:, 3]) < config.mining.min_box_side',
           '(np.maximum(detections.boxes[:, 2], detections.boxes[:, 3]) < config.mining.min_box_side',
           T_MINE, 'TOO_SMALL on the smaller box side'),
    Mutant(_MINE, '< config.mining.min_track_length,', '<= config.mining.min_track_length,',
           ('tests/timelapse/test_mining_rules.py',),
           'a track of exactly min_track_length frames is long enough'),
    Mutant(_MINE, 'if config.mining.delta < 1 else', 'if config.mining.delta <= 1 else', T_MINE,
           'δ >= 1 switches the heuristic off'),
    Mutant(_OCC, 'nearer = (bottom[None, :] >= bottom[:, None])', 'nearer = (bottom[None, :] > bottom[:, None])',
           T_OCC, 'a tie of bottoms counts as nearer (both flagged)'),
    Mutant(_OCC, '((overlap_fractions(boxes) > delta) & nearer)', '((overlap_fractions(boxes) >= delta) & nearer)',
           T_OCC, 'δ compared strictly'),
    Mutant(_OCC, 'np.fill_diagonal(fraction, 0.0)', 'fraction = fraction', T_OCC,
           'a box does not occlude itself'),
    Mutant(_OCC, 'near = (x0 <= margin)', 'near = (x0 < margin)', T_OCC,
           'a box touching the margin is truncated'),
    Mutant(_OCC, '(x1 >= width - margin)', '(x1 >= width + margin)', T_OCC,
           'right border margin'),
    # --- static occluders learnt from the tracks ------------------------------------------------
    Mutant(_STATIC, 'holes[y0:y1, x0:x1] += span & ~covered', 'holes[y0:y1, x0:x1] += ~covered', T_STATIC,
           "a hole lies within its track's row spans (a gap between lanes is none)"),
    Mutant(_STATIC, 'found = (spans >= config.min_tracks)', 'found = (spans > config.min_tracks)', T_STATIC,
           'exactly min_tracks tracks are enough'),
    Mutant(_STATIC, 'tall = stats[:, cv2.CC_STAT_HEIGHT] >= config.min_height',
           'tall = stats[:, cv2.CC_STAT_WIDTH] >= config.min_height', T_STATIC,
           'speckle is judged by its height, not its width'),
    # --- SORT -----------------------------------------------------------------------------------
    Mutant(_TRACK, 'if iou[r, c] >= iou_threshold and iou[r, c] > 0]', 'if iou[r, c] > 0]', T_TRACK,
           "associate keeps only pairs at or above the IoU threshold"),
    Mutant(_TRACK, 'self.P = F @ self.P @ F.T + _Q', 'self.P = F @ self.P @ F.T', T_TRACK,
           'Kalman process noise'),
    Mutant(_TRACK, 'dead = t.missed > config.max_age', 'dead = t.missed >= config.max_age', T_TRACK,
           'a track survives max_age missed frames'),
    Mutant(_TRACK, 'born = (t.track_id < 0) & (t.streak >= config.min_hits)',
           'born = (t.track_id < 0) & (t.streak > config.min_hits)', T_TRACK,
           'a track is born after min_hits matches'),
    Mutant(_TRACK, 'K = P @ _H.T @ np.linalg.inv(S)', 'K = P @ _H.T @ np.linalg.inv(S + _R)', T_TRACK,
           'Kalman gain uses the innovation covariance once'),
    # --- keypoint states ------------------------------------------------------------------------
    Mutant(_TRUTH, 'states[depth[row, col] < limit]', 'states[depth[row, col] > limit]', T_TRUTH,
           'occluded by others where the z-buffer is nearer'),
    Mutant(_TRUTH, 'limit = keypoints_cam[:, 2] - tolerance', 'limit = keypoints_cam[:, 2] + tolerance',
           T_TRUTH, "a joint may lie a limb's radius under its surface"),
    Mutant(_TRUTH, 'states[self_depth[row, col] < limit] = KeypointState.SELF_OCCLUDED',
           'states[self_depth[row, col] < limit] = KeypointState.OCCLUDED_BY_OTHERS', T_TRUTH,
           'self-occlusion wins over occlusion by others'),
    Mutant(_TRUTH, 'states[~inside] = KeypointState.OUTSIDE_IMAGE',
           'states[~inside] = KeypointState.VISIBLE', T_TRUTH, 'outside the image'),
    # Survived run 1 (walt3d's depth check hides it); killed since by
    # test_walt2d_keypoint_states_follow_the_paste_order.
    Mutant(_COMP, '& (other >= 0)', '& (other >= -1)', T_COMP,
           'background pixels (owner -1) cover nothing'),
    Mutant(_COMP, 'if not comp.depth_of_owner[row[slot, k], col[slot, k]] < own:',
           'if not comp.depth_of_owner[row[slot, k], col[slot, k]] > own:', T_COMP,
           'walt3d: only a nearer owner occludes'),
    # Survived run 1 (equivalent with depth_test: own depth is not < own); a real bug in WALT's
    # 2-D mode, killed since by test_walt2d_keypoint_states_follow_the_paste_order.
    Mutant(_COMP, '& (other != np.arange(len(chosen))[:, None]))', '& (other != -2))', T_COMP,
           'an object does not occlude its own keypoints'),
    Mutant(_SAMP, 'far_rects = np.any(dist >= reach_c + reach_o, axis=1)',
           'far_rects = np.all(dist >= reach_c + reach_o, axis=1)', T_SAMP,
           'one separating axis is enough'),
    Mutant(_SAMP, 'half_c = candidate[3:5] + margin / 2', 'half_c = candidate[3:5]', T_SAMP,
           'rectangles grown by the margin'),
    Mutant(_SAMP, '>= radius + others[:, 3] + margin', '>= radius + others[:, 3]', T_SAMP,
           'discs kept margin apart'),
    # --- RLE --------------------------------------------------------------------------------------
    Mutant(_RLE, 'changes = (x0 + c) * height + y0 + r', 'changes = (x0 + c) * height + y0 + r + 1',
           T_RLE, 'run boundaries of a box-cropped mask'),
    Mutant(_RLE, 'bounds = [0] + changes.tolist() + [height * width]',
           'bounds = [0] + changes.tolist() + [height * width - 1]', T_RLE, 'last run length'),
    Mutant(_RLE, 'float(cols[-1] - cols[0] + 1)', 'float(cols[-1] - cols[0])', T_RLE,
           'mask_box width counts both end columns'),
    Mutant(_RLE, 'changes = np.flatnonzero(np.diff(flat)) + x0 * height',
           'changes = np.flatnonzero(np.diff(flat)) + x0', T_RLE, 'full-height box offset'),
    # --- metrics ----------------------------------------------------------------------------------
    Mutant(_DET, '+ (b[:, 2] * b[:, 3])[None] - inter', '+ (b[:, 2] * b[:, 3])[None]', T_DET,
           'IoU union subtracts the intersection'),
    Mutant(_DET, 'ok = candidates & (iou[i] >= iou_threshold)', 'ok = candidates & (iou[i] > iou_threshold)',
           T_DET, 'IoU exactly at the threshold matches'),
    Mutant(_DET, 'fn = int(np.sum(~found & ~ignore))', 'fn = int(np.sum(~found))', T_DET,
           'ignored truth is never a miss'),
    Mutant(_MOT, 'valid = np.isfinite(sim) & (sim >= iou_threshold)', 'valid = np.isfinite(sim)',
           T_MOT, 'MOT correspondences need IoU >= threshold'),
    Mutant(_AMO, 'upper = occlusion <= self.high if self.closed else occlusion < self.high',
           'upper = occlusion <= self.high', T_AMO, 'occlusion bins are half-open'),
    # Survived runs 1 and 2 (one truth box per image in the bin: any and all agree); killed since
    # by test_walt_bin_filter_keeps_a_prediction_on_any_object_of_the_bin.
    Mutant(_AMO, '(detection.box_iou([box], boxes) > WALT_BIN_MATCH_IOU).any()',
           '(detection.box_iou([box], boxes) > WALT_BIN_MATCH_IOU).all()', T_AMO,
           "WALT's per-bin prediction filter"),
    Mutant(_KP, 'return np.linalg.norm(pred - truth, axis=-1) < radius[:, None]',
           'return np.linalg.norm(pred - truth, axis=-1) <= radius[:, None]', T_KP,
           'PCK is strict, as mmpose'),
    Mutant(_KP, 'radius = alpha * np.maximum(boxes[:, 2], boxes[:, 3])',
           'radius = alpha * np.minimum(boxes[:, 2], boxes[:, 3])', T_KP, 'PCK radius from max(w, h)'),
    Mutant(_KP, 'objects[:, None] & np.isin(states, list(SCORED_STATES.values())))',
           'objects[:, None])', T_KP, "'all' never scores outside-image keypoints"),
)

# Mutants considered and left out because no behaviour changes (equivalent mutants):
EQUIVALENT = (
    # rle.encode_mask: `if y0 > 0 or y1 < height:` -> `and`. The else branch (whole columns) is
    # correct for every mask; the box-cropped branch is only a faster path. Same output.
    # detection.greedy_match: `taken[j] |= not ignore[j]` -> `taken[j] |= True`. `taken` is read
    # only in the first pass (`~ignore & ~taken`), which already excludes ignored truth; the
    # second pass (ignored truth) never reads it. Same matches (run 1: survived).
    # footprint._core_and_radius: `fp.half_size[..., 0]` -> `[..., 1]` for discs, whose
    # half_size is (r, r) by construction (`discs`).
)


def _copy_repo(dest: pathlib.Path) -> None:
  files = subprocess.run(['git', 'ls-files', '-z'], cwd=REPO, check=True, capture_output=True
                         ).stdout.decode().split('\0')
  for name in filter(None, files):
    src = REPO / name
    if src.is_file() and not src.is_symlink():
      (dest / name).parent.mkdir(parents=True, exist_ok=True)
      shutil.copy2(src, dest / name)
  for mutant in MUTANTS:  # new, not yet tracked test files
    for arg in mutant.tests:
      path = REPO / arg.split('::')[0]
      if arg.startswith('tests/') and path.is_file():
        shutil.copy2(path, dest / arg.split('::')[0])


def _run_tests(copy: pathlib.Path, tests: tuple[str, ...], timeout: float) -> tuple[str, float]:
  env = dict(os.environ, PYTHONPATH=str(copy), JAX_PLATFORMS='cpu')
  start = time.perf_counter()
  try:
    proc = subprocess.run([sys.executable, '-m', 'pytest', '-x', '-q', '-p', 'no:cacheprovider',
                           *tests], cwd=copy, env=env, capture_output=True, timeout=timeout)
  except subprocess.TimeoutExpired:
    return 'killed (timeout)', time.perf_counter() - start
  seconds = time.perf_counter() - start
  if proc.returncode == 0:
    return 'SURVIVED', seconds
  if proc.returncode == 1:
    return 'killed', seconds
  tail = proc.stdout.decode(errors='replace').strip().splitlines()[-1:] or ['']
  return f'killed (pytest rc {proc.returncode}: {tail[0][:60]})', seconds


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--only', type=int, nargs='*', help='mutant numbers (1-based) to run')
  parser.add_argument('--timeout', type=float, default=180., help='seconds per mutant')
  parser.add_argument('--list', action='store_true', help='print the table and exit')
  parser.add_argument('--no-baseline', action='store_true',
                      help='skip checking that the covering tests pass unmutated')
  args = parser.parse_args()
  chosen = [(i, m) for i, m in enumerate(MUTANTS, 1) if not args.only or i in args.only]
  if args.list:
    for i, m in chosen:
      print(f'{i:3d} {m.path}: {m.what}\n      {m.original!r} -> {m.mutated!r}  [{" ".join(m.tests)}]')
    return 0
  killed = survived = errors = 0
  with tempfile.TemporaryDirectory(prefix='walt3d_mutation_') as tmp:
    copy = pathlib.Path(tmp)
    _copy_repo(copy)
    # The copy must be what the tests import, not an installed walt3d_jax.
    probe = subprocess.run([sys.executable, '-c', 'import walt3d_jax; print(walt3d_jax.__file__)'],
                           cwd=copy, env=dict(os.environ, PYTHONPATH=str(copy)),
                           capture_output=True, text=True)
    if not probe.stdout.startswith(str(copy)):
      print(f'mutation: the copy is not what imports ({probe.stdout.strip()}{probe.stderr[-200:]})')
      return 2
    # Baseline: every covering test set passes unmutated, or a kill would mean nothing.
    if not args.no_baseline:
      for tests in dict.fromkeys(m.tests for _, m in chosen):
        outcome, seconds = _run_tests(copy, tests, args.timeout)
        if outcome != 'SURVIVED':
          print(f'mutation: the unmutated copy fails {" ".join(tests)} ({outcome}, {seconds:.0f}s)')
          return 2
      print(f'baseline: {len(set(m.tests for _, m in chosen))} covering test sets pass unmutated',
            flush=True)
    for i, m in chosen:
      target = copy / m.path
      source = target.read_text()
      if source.count(m.original) != 1:
        errors += 1
        print(f'{i:3d} ERROR   {m.path}: snippet found {source.count(m.original)} times: {m.original!r}')
        continue
      target.write_text(source.replace(m.original, m.mutated))
      try:
        outcome, seconds = _run_tests(copy, m.tests, args.timeout)
      finally:
        target.write_text(source)
      if outcome == 'SURVIVED':
        survived += 1
      else:
        killed += 1
      print(f'{i:3d} {outcome:8s} {seconds:5.1f}s  {m.path}: {m.what}  '
            f'[{m.original.strip()!r} -> {m.mutated.strip()!r}]', flush=True)
  total = killed + survived
  print(f'mutation kill rate: {killed} of {total} ({100. * killed / max(total, 1):.1f} %)'
        + (f'; {errors} stale mutants' if errors else ''))
  return 1 if errors else 0


if __name__ == '__main__':
  sys.exit(main())
