"""The `clipart` job: builds TFDS `walt3d_clipart` from an object bank (experiments/clipart.py).

  bank (config.bank, or the fit job's, run first when missing)
    → <workdir>/tfds/array_record/walt3d_clipart/<config>/1.0.0/   (tfds.data_source, grain)
    → <workdir>/tfds/tfrecord/walt3d_clipart/<config>/1.0.0/       (tfds.load; config.formats)
    → <workdir>/coco/<split>/{images/, annotations.json}            (config.coco_export)
    → <workdir>/summary.json

One TFDS build writes one file format (PIPELINE.md), so each format is its own build into its
own data dir; generation is deterministic per key, so the two hold the same examples. With
config.beam_pipeline_options (Beam flags) each build runs on that Beam runner, same examples. The bank
reaches the builder through TFDS's manual dir (`<manual_dir>/bank.h5`): a bank under another
name is linked as <workdir>/tfds/manual/bank.h5.

Resumable: rerunning the same command after a kill (even `kill -9`) ends with the same bytes
under tfds/ and coco/ and in summary.json (but its timings and reuse flags) as an uninterrupted
run. A format whose build finished is reused only while its marker `tfds/<format>.complete.json`
matches the builder config, version and bank (`build_state.py`); a build cut short is started
again from scratch (TFDS cannot continue a split), after removing what TFDS left of it. The COCO
export is written again (same bytes); summary.json is written aside and renamed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import pathlib
import shlex
import time
from typing import Any

from absl import logging
import ml_collections

from walt3d_jax.data import build_state
from walt3d_jax.errors import UserError
from walt3d_jax.formats import coco

FORMATS = ("array_record", "tfrecord")


class BuildError(UserError):
  """A config of the clipart job that cannot be built; the message names the field."""


def resolve_bank(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> pathlib.Path:
  """config.bank; else, with config.bank_source 'fit': a finished fit's bank under <workdir>
  (demo/fit or fit), or the fit job run now into <workdir>/fit (it mines its own bank first);
  with 'truth': a simulated sequence's truly unoccluded objects with exact 3D
  (`clipart.truth_bank`), made in <workdir>/truth with config.simulate."""
  if config.bank:
    bank = pathlib.Path(config.bank)
    if not bank.is_file():
      raise BuildError(f"config.bank: no object bank {bank}")
    return bank
  if config.bank_source == "truth":
    return truth_bank(config.simulate, workdir / "truth")
  if config.bank_source != "fit":
    raise BuildError(f"config.bank_source={config.bank_source!r}: expected 'fit' or 'truth'")
  for fit_dir in (workdir / "demo" / "fit", workdir / "fit"):
    if (fit_dir / "summary.json").is_file() and (fit_dir / "mine" / "bank.h5").is_file():
      return fit_dir / "mine" / "bank.h5"
  from walt3d_jax.fit import bank_fit  # the source stage; loaded only when needed

  logging.info("no fitted bank under %s: running the fit job into %s", workdir, workdir / "fit")
  bank_fit.run(config.fit, workdir / "fit")
  return workdir / "fit" / "mine" / "bank.h5"


def truth_bank(simulate_config: ml_collections.ConfigDict, directory: pathlib.Path) -> pathlib.Path:
  """directory/bank.h5 of one simulated sequence's unoccluded objects (made once)."""
  bank = directory / "bank.h5"
  if bank.is_file():
    return bank
  from walt3d_jax.clipart import truth_bank as truth_bank_lib
  from walt3d_jax.sim import simulate

  preset = simulate_config.presets[0]
  simulate.simulate_sequence(simulate_config, preset, 0, directory / preset)
  truth_bank_lib.write_truth_bank(directory / preset, directory / "bank.tmp.h5")
  (directory / "bank.tmp.h5").rename(bank)
  return bank


def manual_dir_of(bank: pathlib.Path, tfds_dir: pathlib.Path) -> pathlib.Path:
  """A directory holding the bank as `bank.h5` (the builder's manual dir)."""
  if bank.name == "bank.h5":
    return bank.parent
  manual = tfds_dir / "manual"
  manual.mkdir(parents=True, exist_ok=True)
  link = manual / "bank.h5"
  if link.is_symlink() or link.exists():
    link.unlink()
  os.symlink(bank.resolve(), link)
  return manual


def builder_config(config: ml_collections.ConfigDict):
  """The named BuilderConfig, or a copy with config.num_train / num_test (>= 0) and
  config.clipart overrides under a derived name (`<name>_custom_<train>_<test>`)."""
  from tfds_builders.walt3d_clipart import walt3d_clipart_dataset_builder as builder_lib

  named = {c.name: c for c in builder_lib.BUILDER_CONFIGS}
  if config.dataset not in named:
    raise BuildError(f"config.dataset={config.dataset!r}: not a walt3d_clipart config; known: {sorted(named)}")
  base = named[config.dataset]
  overrides = dict(config.clipart.to_dict()) if config.get("clipart") else {}
  num_train = base.num_train if config.num_train < 0 else int(config.num_train)
  num_test = base.num_test if config.num_test < 0 else int(config.num_test)
  if (num_train, num_test) == (base.num_train, base.num_test) and not overrides:
    return base
  clipart = {**dict(base.clipart), **{k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}}
  return dataclasses.replace(
      base, name=f"{base.name}_custom_{num_train}_{num_test}", num_train=num_train,
      num_test=num_test, clipart=tuple(sorted(clipart.items())),
      description=f"{base.description} Job overrides: {num_train} train / {num_test} test, {overrides}.")


def beam_options(flags: str):
  """Beam `PipelineOptions` of a command-line string ("--runner=DirectRunner ..."); None for ""."""
  if not flags.strip():
    return None
  from apache_beam.options import pipeline_options  # only for Beam builds

  return pipeline_options.PipelineOptions(shlex.split(flags))


def build_format(builder_cfg, data_dir: pathlib.Path, manual_dir: pathlib.Path | None, file_format: str,
                 builder_class=None, beam_pipeline_options: str = ""):
  """Builds one file format into data_dir; returns the builder (already built: just opened).

  builder_class: a TFDS builder class (default walt3d_clipart's); manual_dir: what it reads
  through TFDS's manual-data mechanism (None for a builder that reads nothing);
  beam_pipeline_options: Beam flags (walt3d_clipart then builds on that Beam runner), "" local.
  """
  import tensorflow_datasets as tfds

  if builder_class is None:
    from tfds_builders.walt3d_clipart import walt3d_clipart_dataset_builder as builder_lib

    builder_class = builder_lib.Builder
  builder = builder_class(config=builder_cfg, data_dir=str(data_dir), file_format=file_format)
  options = dict(compute_stats=tfds.download.ComputeStatsMode.SKIP)
  if manual_dir is not None:
    options["manual_dir"] = str(manual_dir)
  beam = beam_options(beam_pipeline_options)
  if beam is not None:  # TFDS then runs the build as a Beam pipeline on the runner it names
    options["beam_options"] = beam
  # TFDS prints "Downloading and preparing dataset Unknown size ..." and "... prepared to ..." on
  # stdout; the job prints one line per build of its own (examples, rate, path).
  with contextlib.redirect_stdout(io.StringIO()):
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(**options))
  return builder


def run(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> dict[str, Any]:
  """Builds the dataset (module docstring); returns and writes summary.json."""
  import tensorflow_datasets as tfds

  from tfds_builders.walt3d_clipart import walt3d_clipart_dataset_builder as builder_lib
  from walt3d_jax.clipart import pool as pool_lib

  workdir = pathlib.Path(workdir)
  formats = tuple(config.formats)
  unknown = sorted(set(formats) - set(FORMATS))
  if unknown or not formats:
    raise BuildError(f"config.formats={formats}: expected one or more of {FORMATS}")
  if not config.progress:
    tfds.disable_progress_bar()
  builder_cfg = builder_config(config)
  bank = resolve_bank(config, workdir)
  tfds_dir = workdir / "tfds"
  manual = manual_dir_of(bank, tfds_dir)
  # Loaded here first: a bad bank fails early in one line, and the builds reuse this pool
  # (cached per process), so their examples/s count compositing and writing only.
  tic = time.perf_counter()
  pool = builder_lib.load_pool(manual / "bank.h5", builder_cfg.clipart_config())
  pool_seconds = time.perf_counter() - tic
  summary: dict[str, Any] = {
      "bank": str(bank), "dataset": f"walt3d_clipart/{builder_cfg.name}",
      "beam_pipeline_options": config.get("beam_pipeline_options", ""),
      "pool": pool_lib.pool_summary(pool), "pool_seconds": round(pool_seconds, 2), "skipped_objects": dict(sorted(pool.skipped.items())),
      "builds": {},
  }
  builders = {}
  for file_format in formats:
    data_dir = tfds_dir / file_format
    version_dir = data_dir / "walt3d_clipart" / builder_cfg.name / str(builder_lib.Builder.VERSION)
    digest = build_state.build_digest(builder_cfg, builder_lib.Builder.VERSION, file_format, manual / "bank.h5")
    reused = build_state.is_complete(tfds_dir, file_format, digest, version_dir)
    if not reused:  # other settings, another bank, or a build killed before its marker
      build_state.clear(tfds_dir, file_format, version_dir)
    tic = time.perf_counter()
    builder = builders[file_format] = build_format(
        builder_cfg, data_dir, manual, file_format, beam_pipeline_options=config.get("beam_pipeline_options", ""))
    seconds = time.perf_counter() - tic
    if not reused:
      build_state.mark_complete(tfds_dir, file_format, digest)
    splits = {name: int(s.num_examples) for name, s in builder.info.splits.items()}
    total = sum(splits.values())
    summary["builds"][file_format] = {
        "data_dir": str(data_dir), "version_dir": str(builder.data_path),
        "examples": splits, "seconds": round(seconds, 2),
        "examples_per_second": None if reused else round(total / seconds, 1),
        "reused_existing_build": reused,
    }
    rate = "already built, reused" if reused else f"{total / max(seconds, 1e-9):.1f} examples/s"
    print(f"{file_format}: {splits} in {seconds:.1f} s ({rate}) → {builder.data_path}", flush=True)
  summary["examples"] = summary["builds"][formats[0]]["examples"]
  if config.coco_export:
    summary["coco"] = export_coco(config, builders, workdir / "coco")
  coco.write_json(summary, workdir / ".summary.json.partial")
  os.replace(workdir / ".summary.json.partial", workdir / "summary.json")  # whole or absent
  logging.info("clipart: summary → %s", workdir / "summary.json")
  warn_skipped(pool, bank, workdir / "summary.json")
  return summary


# A warning line at the end of the job when at least this share of the bank's rows is unusable.
WARN_SKIPPED_SHARE = 0.05


def warn_skipped(pool, bank: pathlib.Path, summary_path: pathlib.Path) -> str | None:
  """Says on the console (and returns) how many of the bank's rows were left out and why, when
  they are a notable share; None otherwise."""
  skipped = sum(pool.skipped.values())
  total = skipped + len(pool)
  if not total or skipped / total < WARN_SKIPPED_SHARE:
    return None
  reasons = ", ".join(f"{name} {count}" for name, count in sorted(pool.skipped.items(), key=lambda kv: -kv[1]))
  line = (f"{bank}: {skipped} of {total} rows ({100 * skipped / total:.0f} %) left out of the clip-art "
          f"({reasons}); composed from the other {len(pool)}, see {summary_path}")
  logging.warning("%s", line)
  return line


def export_coco(config, builders: dict, out_dir: pathlib.Path) -> dict:
  """COCO-amodal files of config.coco_splits, read back from the array_record build."""
  from walt3d_jax.data import coco_amodal

  if "array_record" not in builders:
    raise BuildError("config.coco_export needs 'array_record' in config.formats (random access)")
  done = {}
  for split in config.coco_splits:
    path = coco_amodal.export(builders["array_record"].as_data_source(split), out_dir / split)
    done[split] = str(path)
    print(f"coco-amodal {split}: {path}", flush=True)
  return done
