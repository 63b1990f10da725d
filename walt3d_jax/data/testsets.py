"""The `testsets` job: builds the true-occlusion test sets, TFDS `walt3d_trueocc` (experiments/testsets.py).

  config.datasets (walt3d_trueocc configs, e.g. heldout_preset_640x360, unseen_seeds_640x360)
    → <workdir>/tfds/array_record/walt3d_trueocc/<config>/1.0.0/   (tfds.data_source, grain)
    → <workdir>/tfds/tfrecord/walt3d_trueocc/<config>/1.0.0/       (tfds.load; config.formats)
    → <workdir>/summary.json (examples, build speed, objects per class, occlusion histogram,
      keypoint states)

As the `clipart` job (`data.build`), one TFDS build per file format, each into its own data
dir (PIPELINE.md); generation is deterministic, so both hold the same examples. The examples
are simulated, so nothing is read. The composited test split of the paper is walt3d_clipart's
`test` split (the `clipart` job).
"""

from __future__ import annotations

import dataclasses
import pathlib
import time
from typing import Any

from absl import logging
import ml_collections
import numpy as np

from walt3d_jax.data import build
from walt3d_jax.formats import coco


def builder_config(name: str, num_bursts: int):
  """The named walt3d_trueocc BuilderConfig, or a copy with num_bursts (>= 0) bursts per scene
  under `<name>_custom_<num_bursts>`."""
  from tfds_builders.walt3d_trueocc import walt3d_trueocc_dataset_builder as builder_lib

  named = {c.name: c for c in builder_lib.BUILDER_CONFIGS}
  if name not in named:
    raise build.BuildError(f"config.datasets: {name!r} is not a walt3d_trueocc config; known: {sorted(named)}")
  base = named[name]
  if num_bursts < 0 or num_bursts == base.num_bursts:
    return base
  if num_bursts == 0:
    raise build.BuildError("config.num_bursts=0: a test set needs at least one burst per scene")
  return dataclasses.replace(base, name=f"{name}_custom_{num_bursts}", num_bursts=int(num_bursts),
                             description=f"{base.description} Job override: {num_bursts} bursts per scene.")


def label_summary(source) -> dict[str, Any]:
  """Objects per class, per 10 % occlusion bin and keypoint states of a data source's records."""
  from walt3d_jax.metrics import amodal

  categories, occlusion, states, lighting = [], [], [], {}
  for i in range(len(source)):
    objects = source[i]["objects"]
    categories += [int(c) for c in np.asarray(objects["category"]).reshape(-1)]
    occlusion += [float(v) for v in np.asarray(objects["occlusion"]).reshape(-1)]
    if len(objects["keypoint_states"]):
      states.append(np.asarray(objects["keypoint_states"]).reshape(-1, 17))
    bucket = source[i]["time_bucket"]
    bucket = bucket.decode() if isinstance(bucket, bytes) else str(bucket)
    lighting[bucket] = lighting.get(bucket, 0) + 1
  occlusion_arr = np.asarray(occlusion)
  states_arr = np.concatenate(states) if states else np.zeros((0, 17), int)
  names = {0: "visible", 1: "self_occluded", 2: "occluded_by_others", 3: "outside_or_unused"}
  return {
      "images": len(source), "objects": len(categories),
      "objects_per_category": {str(c): categories.count(c) for c in sorted(set(categories))},
      "objects_per_occlusion_bin": {b.name: int(b.contains(occlusion_arr).sum()) for b in amodal.all_bins()},
      "keypoint_states": {names[s]: int((states_arr == s).sum()) for s in names},
      "images_per_time_bucket": dict(sorted(lighting.items())),
  }


def run(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> dict[str, Any]:
  """Builds every config.datasets in every config.formats; returns and writes summary.json."""
  import tensorflow_datasets as tfds

  from tfds_builders.walt3d_trueocc import walt3d_trueocc_dataset_builder as builder_lib

  workdir = pathlib.Path(workdir)
  formats = tuple(config.formats)
  unknown = sorted(set(formats) - set(build.FORMATS))
  if unknown or not formats:
    raise build.BuildError(f"config.formats={formats}: expected one or more of {build.FORMATS}")
  if not config.progress:
    tfds.disable_progress_bar()
  configs = [builder_config(name, int(config.num_bursts)) for name in config.datasets]  # all checked first
  summary: dict[str, Any] = {"datasets": {}}
  for builder_cfg in configs:
    entry = summary["datasets"][f"walt3d_trueocc/{builder_cfg.name}"] = {
        "scenes": [list(s) for s in builder_cfg.scenes], "image_size": list(builder_cfg.image_size),
        "builds": {}}
    builders = {}
    for file_format in formats:
      data_dir = workdir / "tfds" / file_format
      reused = (data_dir / "walt3d_trueocc" / builder_cfg.name / "1.0.0" / "dataset_info.json").is_file()
      tic = time.perf_counter()
      builder = builders[file_format] = build.build_format(
          builder_cfg, data_dir, None, file_format, builder_lib.Builder)
      seconds = time.perf_counter() - tic
      total = int(builder.info.splits["test"].num_examples)
      entry["builds"][file_format] = {
          "data_dir": str(data_dir), "version_dir": str(builder.data_path), "examples": total,
          "seconds": round(seconds, 2), "reused_existing_build": reused,
          "examples_per_second": None if reused else round(total / seconds, 2)}
      rate = "already built, reused" if reused else f"{total / max(seconds, 1e-9):.2f} examples/s"
      print(f"walt3d_trueocc/{builder_cfg.name} {file_format}: {total} examples in {seconds:.1f} s "
            f"({rate}) → {builder.data_path}", flush=True)
    if "array_record" in builders:
      entry["labels"] = label_summary(builders["array_record"].as_data_source("test"))
      print(f"  labels: {entry['labels']}", flush=True)
  coco.write_json(summary, workdir / "summary.json")
  logging.info("testsets: %s", summary)
  return summary
