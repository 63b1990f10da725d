"""The `fit` job: 3D for every object of one or many object banks, written back in place.

  walt3d --config experiments/fit.py --workdir DIR --config.banks='/data/cam*/bank.h5'

Reads top to bottom: devices (`jax.distributed.initialize()` first when config.distributed),
the banks (`resolve_banks`: a glob or paths, sorted; none given: a bank mined with config.mine),
which of them an earlier run finished (`completion`: skipped unless config.refit), then the
fit: banks in groups of at least config.pool_tracks tracks, each group's tracks pooled across
its banks and bucketed by length (`bank_fit.fit_banks`), every batch split over a 'data' mesh of
all devices; after each group, each of its banks is written back and marked complete, so a
killed job loses at most the group in flight and its rerun redoes no finished bank. Writes
summary.json (per bank and in total; banks skipped as already complete are counted and marked
`resumed`) and report.png (`fit_report`).
"""

from __future__ import annotations

import collections
import dataclasses
import glob
import pathlib
import time
from typing import Iterable

from absl import logging
import jax
import ml_collections
import numpy as np
import tqdm

from walt3d_jax import errors
from walt3d_jax.fit import bank_fit
from walt3d_jax.fit import completion
from walt3d_jax.fit import fit_report
from walt3d_jax.fit import sharding
from walt3d_jax.formats import coco
from walt3d_jax.shapes import car_model
from walt3d_jax.timelapse import bank as bank_lib

_GLOB_CHARS = frozenset('*?[')


class NoBanksError(errors.UserError):
  """config.bank / config.banks names no existing object bank."""


# ---- banks -------------------------------------------------------------------------------------


def _patterns(config: ml_collections.ConfigDict) -> list[str]:
  banks = config.banks
  patterns = [banks] if isinstance(banks, str) else [str(b) for b in banks or ()]
  if config.bank:
    patterns.append(str(config.bank))
  return [p for p in patterns if p]


def resolve_banks(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> list[pathlib.Path]:
  """The banks to fit: config.banks (a glob, or a tuple of paths and globs) and config.bank,
  sorted and without repeats (NoBanksError naming the field when a path is missing or a glob
  matches nothing); neither given: the bank of the mine job run (or resumed) in
  <workdir>/mine with config.mine."""
  patterns = _patterns(config)
  found: set[pathlib.Path] = set()
  for pattern in patterns:
    field = 'config.bank' if pattern == str(config.bank) else 'config.banks'
    if _GLOB_CHARS & set(pattern):
      matches = [pathlib.Path(p) for p in glob.glob(pattern, recursive=True)]
      matches = [p for p in matches if p.is_file()]
      if not matches:
        raise NoBanksError(f'{field}: no object bank matches {pattern!r}')
    else:
      matches = [pathlib.Path(pattern)]
      if not matches[0].is_file():
        raise NoBanksError(f'{field}: no object bank {pattern}')
    found.update(p.resolve() for p in matches)
  if patterns:
    return sorted(found)
  mine_dir = workdir / 'mine'
  bank = mine_dir / 'bank.h5'
  if not bank.is_file():
    from walt3d_jax.timelapse import mine  # the source stage; loaded only when needed

    mine.run(config.mine, mine_dir)
  return [bank]


def settings_digest(config: ml_collections.ConfigDict) -> str:
  """The digest of every setting that changes what the fit writes into a bank (not batch
  sizes, devices or the report: those change results at most by float rounding)."""
  return completion.settings_digest({
      'vehicle': dataclasses.asdict(bank_fit.fit_config(config)),
      'people': dataclasses.asdict(bank_fit.people_config(config)),
      **{name: config[name] for name in ('num_components', 'min_keypoint_score',
                                         'max_track_frames', 'min_bucket',
                                         'people_reject_standing')}})


# ---- fitting -----------------------------------------------------------------------------------


def _fit_group(group: list[bank_fit.BankTracks], model, config, mesh, digest: str,
               progress: tqdm.tqdm) -> list[tuple[dict, list[bank_fit.Fitted]]]:
  """Fits a group of banks together, then writes back and marks each (process 0 only)."""
  fits = bank_fit.fit_banks(group, model, config, mesh, progress)
  out = []
  for bank, bank_fits in zip(group, fits):
    summary = bank_fit.bank_summary(bank, bank_fits)
    if sharding.is_writer():
      completion.clear(bank.path)
      if bank.rows is not None:
        with bank_lib.ObjectBank.open(bank.path, 'a') as b:
          bank_fit.write_back(b, bank_fits)
        truth = fit_report.truth_path(bank.path, config)
        if truth is not None and bank_fits:
          summary['accuracy_vs_simulator_truth'] = fit_report.accuracy_vs_truth(bank.path, truth)
      completion.mark_complete(bank.path, digest, summary)
    out.append((summary, bank_fits))
  return out


def _groups(paths: list[pathlib.Path], pool_tracks: int) -> Iterable[list[bank_fit.BankTracks]]:
  """Banks read in order and gathered until a group holds ≥ pool_tracks tracks."""
  group, count = [], 0
  for path in paths:
    bank = bank_fit.read_bank(path)
    group.append(bank)
    count += len(bank.tracks)
    if count >= pool_tracks:
      yield group
      group, count = [], 0
  if group:
    yield group


def _sum_counters(dicts: Iterable[dict]) -> dict:
  total = collections.Counter()
  for d in dicts:
    total.update(d)
  return dict(sorted(total.items()))


def _report_banks(paths: list[pathlib.Path], fitted: dict, limit: int) -> list[tuple]:
  """(path, fits, rows, camera) of the first `limit` banks that hold fits: this run's, or read
  back from banks an earlier run finished."""
  out = []
  for path in paths:
    if len(out) >= limit:
      break
    if path in fitted:
      bank, fits = fitted[path]
    else:
      bank = bank_fit.read_bank(path)
      fits = bank_fit.read_fits(bank)
    if fits:
      out.append((path, fits, bank.rows, bank.cam))
  return out


def run(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> dict:
  """Fits every bank of config (module docstring); writes summary.json and report.png."""
  workdir = pathlib.Path(workdir)
  sharding.initialize(config.get('distributed', False))
  mesh = sharding.data_mesh()
  paths = resolve_banks(config, workdir)
  digest = settings_digest(config)
  stored = {} if config.get('refit', False) else {p: completion.completed(p, digest)
                                                   for p in paths}
  # Every process must fit the same banks in the same batches: process 0 decides.
  skip = sharding.agree(np.array([stored.get(p) is not None for p in paths]))
  done = {p: stored.get(p) or {} for p, s in zip(paths, skip) if s}
  todo = [p for p in paths if p not in done]
  if done:
    logging.info('fit: %d of %d banks already complete (markers %s), skipped', len(done),
                 len(paths), completion.MARKER_SUFFIX)
  model = car_model.load_car_model(config.num_components)
  report_limit = config.report.get('max_banks', 8)
  keep = set(paths[:report_limit])
  tic = time.perf_counter()
  per_bank = {p: {**s, 'resumed': True} for p, s in done.items()}
  fitted = {}
  tracks_fitted = 0
  with tqdm.tqdm(desc='fit', unit='track', disable=not config.progress) as progress:
    for group in _groups(todo, config.get('pool_tracks', 0)):
      progress.total = (progress.total or 0) + sum(len(b.tracks) for b in group)
      for bank, (summary, fits) in zip(group, _fit_group(group, model, config, mesh, digest,
                                                        progress)):
        per_bank[bank.path] = summary
        tracks_fitted += len(bank.tracks)
        if bank.path in keep:
          fitted[bank.path] = (bank, fits)
  seconds = time.perf_counter() - tic
  banks = [per_bank[p] for p in paths]
  classes = collections.defaultdict(collections.Counter)
  for s in banks:
    for name, counts in s.get('rows_by_class', {}).items():
      classes[name].update(counts)
  summary = {
      'banks': banks,
      'banks_fitted': len(todo),
      'banks_skipped_complete': len(done),
      'devices': sharding.device_count(mesh),
      'processes': jax.process_count(),
      'rows': sum(s.get('rows', 0) for s in banks),
      'tracks': sum(s.get('tracks', 0) for s in banks),
      'fitted': {k: dict(v) for k, v in sorted(classes.items())},
      'rejected': {name: _sum_counters(s.get('rejected_by_reason', {}).get(name, {})
                                       for s in banks) for name in sorted(classes)},
      'tracks_fitted': tracks_fitted,
      'seconds': round(seconds, 2),
      'tracks_per_second': round(tracks_fitted / seconds, 1) if tracks_fitted and seconds > 0
                           else None,
  }
  if len(banks) == 1 and 'accuracy_vs_simulator_truth' in banks[0]:
    summary['accuracy_vs_simulator_truth'] = banks[0]['accuracy_vs_simulator_truth']
  if sharding.is_writer():
    coco.write_json(summary, workdir / 'summary.json')
    fit_report.write_report(workdir / 'report.png', _report_banks(paths, fitted, report_limit),
                            config, summary)
  logging.info('fitted %d of %d banks (%d skipped as complete) on %d devices: %s of %d rows in '
               '%d tracks (%.1f tracks/s)', len(todo), len(paths), len(done),
               summary['devices'], summary['fitted'], summary['rows'], summary['tracks'],
               summary['tracks_per_second'] or 0.)
  return summary
