r"""Fit 3D to every mined object: vehicle shapes and ground poses per track, people on the ground.

WALT3D section 3 ("Reconstructing Unoccluded Objects"). By default the `mine` job first runs
with experiments/mine.py's config into <workdir>/mine (a simulated intersection with the
imitated detector, so keypoints are detected and the simulator's truth scores the fits); the
fit then writes the 3D columns back into that bank:

  python launch.py --config experiments/fit.py --workdir /tmp/fit
  python launch.py --config experiments/fit.py --workdir /tmp/fit_cams \
      --config.banks='/data/cam*/bank.h5'   # many cameras, one job (a glob)
  python launch.py --config experiments/fit.py --workdir /tmp/fit_cams \
      --config.banks='("/data/cam1/bank.h5", "/data/site2/*/bank.h5")'   # paths and globs
  python launch.py --config experiments/fit.py:builtin --workdir /tmp/fit_builtin

Many banks: the banks named by config.banks (sorted, each once; a glob that matches nothing is
one error line) are fitted in groups of at least config.pool_tracks tracks, the tracks of a
group pooled across its banks and bucketed by length, every batch split over all local devices
(a 'data' mesh; with config.distributed=True over every host's, after
jax.distributed.initialize()). Resumable: each bank written back gets a marker beside it
(<bank>.fit_complete.json); running the same command again skips the banks whose marker
matches (counted in summary.json as banks_skipped_complete) and fits the rest from scratch, so
a killed job loses at most the group in flight; --config.refit=True fits every bank again.

`builtin` mines with the built-in detector (no keypoints: cars are fitted from their motion,
their keypoints derived). Writes summary.json (fitted and rejected rows per class and reason,
tracks/s, accuracy vs the simulator's truth) and report.png (wireframes over crops, bird's-eye
view). On 2 CPU cores: about 20 s of mining, then about 35 s of fitting, mostly the one-off
compiles of each padded track length's batched functions. Measured on the default sequence
(402 rows mined by the shipped occlusion classifier at purity 0.965, 53 tracks, imitated
detector): cars 281 of 284 rows fitted, median position 0.10 m, median yaw 0.8°,
Acc(π/6) 1.00; people 118 of 118, median position 0.30 m, median yaw 4.0°, Acc(π/6) 0.85 (a
mid-stance skeleton and the nearer foot's box bottom). On the corrected ground rendering of
2026-12-03 with the classifier rebuilt (465 rows mined, 55 tracks): cars 307 of 317 fitted
(8 high residual, 2 short tracks), median position 0.09 m, yaw 0.75°, Acc(π/6) 1.00; people 148
of 148, median position 0.29 m, yaw 2.8°, Acc(π/6) 0.89.
"""

import ml_collections

from experiments import mine as mine_config


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.job = "fit"
  config.seed = 0
  config.progress = True

  config.bank = ""  # one object bank (bank.h5), and/or
  config.banks = ()  # several (one per camera): paths and globs; none: mine into <workdir>/mine
  config.refit = False  # True: fit banks an earlier run finished too (their markers ignored)
  config.pool_tracks = 4096  # banks are fitted in groups of at least this many tracks, pooled
  config.distributed = False  # True: jax.distributed.initialize() first (one process per host)
  config.truth = ""  # ground_truth.json to score against; "": found via the bank's summary.json
  config.mine = mine_config.get_config("builtin" if arg == "builtin" else None)

  config.num_components = 5  # PCA shape coefficients of the car model
  config.min_keypoint_score = 0.5  # detector keypoint scores below this count as missing
  config.max_track_frames = 32  # longer tracks are fitted in segments of at most this many
  config.min_bucket = 4  # shortest padded track length (fewer compiles)
  config.batch_size = 256  # tracks per jitted call
  config.people_reject_standing = False  # a person standing still faces the camera, accepted

  # Overrides of walt3d_jax.fit.config.FitConfig (vehicle residual, solver, quality gates).
  config.fit = ml_collections.ConfigDict(dict(keypoint_sigma_px=2.0, maxiter=30))
  # Overrides of walt3d_jax.fit.people.PeopleConfig.
  config.people = ml_collections.ConfigDict(dict(height_prior_m=1.70, height_sigma_m=0.09))
  config.report = ml_collections.ConfigDict(dict(tracks_per_class=4, tile_size=160, max_banks=8))
  return config
