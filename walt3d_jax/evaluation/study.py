"""The `study` job: the paper's experiments (section 6) against exact truth (experiments/eval_*.py).

  config.study = 'occlusion'        accuracy vs occlusion level (Fig. 6/7): the same model
                                    trained on modal labels, on WALT2D and on WALT3D clip-art
  config.study = 'data_efficiency'  (Fig. 8): 15 / 25 / 60 / 100 % of the WALT2D and of the
                                    WALT3D training data, the same step budget
  config.study = 'tracking'         (Table 2): SORT on the modal-trained vs the WALT3D-trained
                                    detector over true-occlusion sequences: MOTA, IDF1

Steps, each skipped when its output is already on disk (a killed study rerun goes on):
1. the object bank (`data.build.resolve_bank`: a fitted bank, the fit job run first if none)
   and from it one clip-art dataset per compositing mode (`data.build.run`) under
   <workdir>/data/<mode>; WALT2D and WALT3D share the bank, so they differ only in compositing;
2. the test sets, made in memory: the WALT3D composited `test` split, and true-occlusion
   frames (`walt3d_trueocc`'s renderer) of the training camera with unseen seeds and of the
   held-out viewpoint;
3. one training run per (arm, fraction, seed) under <workdir>/runs/<run>/ (the `train` job's
   files) and its scores on every test set in <run>/scores.json (`evaluation.scores`);
   run names carry everything that defines them, so studies sharing a workdir share runs;
4. <workdir>/<study>.md with tables (mean ± half-range over seeds) and figures, and
   <workdir>/<study>.json with every run's numbers.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import time
from typing import Any, Callable, Mapping, Sequence

from absl import logging
import ml_collections
import numpy as np

from walt3d_jax.errors import UserError
from walt3d_jax.evaluation import inference
from walt3d_jax.evaluation import report
from walt3d_jax.evaluation import scores as scores_lib
from walt3d_jax.formats import coco

STUDIES = ("occlusion", "data_efficiency", "tracking")
COMPOSITED = "composited"


class StudyError(UserError):
  """A study config that cannot run; the message names the field."""


@dataclasses.dataclass(frozen=True)
class Run:
  """One training run: arm (label), mode (walt2d / walt3d clip-art), labels ('amodal' /
  'modal'), fraction of the training split, seed."""

  arm: str
  mode: str
  labels: str
  fraction: float
  seed: int

  def name(self, steps: int) -> str:
    return f"{self.mode}-{self.labels}-f{self.fraction:g}-n{steps}-s{self.seed}"


class Subset:
  """The first `count` records of a random-access source (clip-art keys are independent
  random composites, so the first n are a random sample of the split)."""

  def __init__(self, source: Sequence[Any], count: int):
    self.source, self.count = source, int(count)

  def __len__(self) -> int:
    return self.count

  def __getitem__(self, index: int) -> Any:
    if not 0 <= index < self.count:
      raise IndexError(index)
    return self.source[index]


# ---------------------------------------------------------------------------------------------
# Data.

def build_datasets(config: ml_collections.ConfigDict, workdir: pathlib.Path, modes: Sequence[str]) -> dict[str, dict]:
  """{mode: the clipart job's summary} for each compositing mode, from one bank."""
  from walt3d_jax.data import build

  bank = build.resolve_bank(config.clipart, workdir)
  out = {}
  for mode in modes:
    directory = workdir / "data" / mode
    if (directory / "summary.json").is_file():
      out[mode] = json.loads((directory / "summary.json").read_text())
      continue
    clip = ml_collections.ConfigDict(config.clipart.to_dict())
    clip.bank = str(bank)
    clip.dataset = config.clipart.dataset.replace("walt3d", mode)
    out[mode] = build.run(clip, directory)
  return out


def split_source(summary: Mapping[str, Any], split: str):
  from walt3d_jax.data import pipeline

  return pipeline.data_source(summary["dataset"], summary["builds"]["array_record"]["data_dir"], split)


def true_occlusion_source(preset: str, seed: int, image_size: Sequence[int], frames: int) -> list[dict]:
  """Feature dicts of `frames` simulated frames (one per burst) with real occlusion."""
  from tfds_builders.walt3d_trueocc import walt3d_trueocc_dataset_builder as trueocc
  from walt3d_jax.clipart import example as example_lib
  from walt3d_jax.sim import simulate

  cfg = dataclasses.replace(trueocc.BUILDER_CONFIGS[0], name=f"study_{preset}", presets=(preset,), seeds=(seed,),
                            image_size=tuple(image_size), num_bursts=int(frames))
  sim_config = cfg.simulate_config(seed)
  scene = simulate.prepare_scene(sim_config, preset)
  # The builder's own per-frame example, kept as arrays (no PNG round trip in memory).
  return [example_lib.to_features(trueocc.frame_example(scene, frame, f"{preset}-s{seed}-{frame.index:06d}", seed),
                                  png=False) for frame in simulate.simulate_frames(sim_config, scene, 0)]


def test_sources(config: ml_collections.ConfigDict, datasets: Mapping[str, dict]) -> dict[str, Sequence[Any]]:
  """{test set name: source}: the composited WALT3D test split and the true-occlusion sets."""
  out = {COMPOSITED: split_source(datasets["walt3d"], "test")}
  for name, t in config.testsets.items():
    out[name] = true_occlusion_source(t.preset, t.seed, config.clipart_image_size, t.frames)
  return out


# ---------------------------------------------------------------------------------------------
# Runs.

def runs_of(config: ml_collections.ConfigDict) -> list[Run]:
  """The training runs the study needs."""
  seeds = [int(s) for s in config.seeds]
  if config.study in ("occlusion", "tracking"):
    arms = config.arms if config.study == "occlusion" else [a for a in config.arms if a[0] in config.tracking.arms]
    return [Run(arm, mode, labels, 1.0, s) for arm, mode, labels in arms for s in seeds]
  return [Run(mode.upper(), mode, "amodal", float(f), s) for mode in ("walt2d", "walt3d")
          for f in config.fractions for s in seeds]


def train_run(config: ml_collections.ConfigDict, run: Run, train_source: Sequence[Any], directory: pathlib.Path) -> None:
  """The train job's loop for one run into `directory` (resumes from its checkpoints)."""
  from walt3d_jax.train import amodal as train_job

  c = ml_collections.ConfigDict(config.train.to_dict())
  c.seed = run.seed
  c.data.labels = run.labels
  count = max(1, int(round(run.fraction * len(train_source))))
  train_job.train(c, directory, Subset(train_source, count), None)


def evaluate_run(config: ml_collections.ConfigDict, directory: pathlib.Path,
                 tests: Mapping[str, Sequence[Any]]) -> dict[str, Any]:
  """{test set: scores} of a run's final checkpoint."""
  from walt3d_jax.models import predict

  model, _ = predict.load(directory)
  return evaluate_model(config, model, tests)


def evaluate_model(config: ml_collections.ConfigDict, model, tests: Mapping[str, Sequence[Any]]) -> dict[str, Any]:
  """{test set: scores} of a model at the training input size."""
  out = {}
  for name, source in tests.items():
    records = inference.collect(model, source, tuple(config.train.data.image_size), batch_size=config.eval.batch_size,
                                max_objects=config.eval.max_objects, max_detections=config.eval.max_detections,
                                with_3d=False, keep_images=0)
    out[name] = scores_lib.score(records, config.eval.match_score)
  return out


def untrained_scores(config: ml_collections.ConfigDict, workdir: pathlib.Path,
                     tests: Mapping[str, Sequence[Any]]) -> dict[str, Any]:
  """{test set: scores} of the freshly initialised model (seed 0): what a model that learned
  nothing scores, the floor of the sanity gate."""
  from walt3d_jax.models import amodal

  path = workdir / "runs" / f"untrained-{config.train.model.variant}" / "scores.json"
  if path.is_file():
    return json.loads(path.read_text())
  out = evaluate_model(config, amodal.create(config.train.model.variant, 0), tests)
  coco.write_json(out, path)
  return out


def extra_done(result: Mapping[str, Any]) -> bool:
  return "tracking" in result


def do_runs(config: ml_collections.ConfigDict, workdir: pathlib.Path, runs: Sequence[Run],
            datasets: Mapping[str, dict], tests: Mapping[str, Sequence[Any]],
            extra: Callable[[Run, pathlib.Path], dict] | None = None) -> dict[Run, dict]:
  """{run: its scores.json}, training and scoring the runs not on disk yet."""
  out = {}
  for i, run in enumerate(runs):
    directory = workdir / "runs" / run.name(config.train.total_steps)
    path = directory / "scores.json"
    if path.is_file():
      out[run] = json.loads(path.read_text())
      if extra is not None and not extra_done(out[run]):  # a run another study trained
        out[run].update(extra(run, directory))
        coco.write_json(out[run], path)
      continue
    tic = time.perf_counter()
    print(f"[{i + 1}/{len(runs)}] {run.arm}: training {directory.name}", flush=True)
    train_run(config, run, split_source(datasets[run.mode], "train"), directory)
    result = {"run": dataclasses.asdict(run), "scores": evaluate_run(config, directory, tests)}
    if extra is not None:
      result.update(extra(run, directory))
    result["seconds"] = round(time.perf_counter() - tic, 1)
    coco.write_json(result, path)
    out[run] = result
    box = result["scores"][COMPOSITED]["detection"]["bbox"]["all"]["AP50"]
    print(f"      done in {result['seconds']:.0f} s: composited box AP50 {report.fmt(box)}", flush=True)
  return out


# ---------------------------------------------------------------------------------------------
# Tables.

def spread(values: Sequence[float | None]) -> tuple[float | None, float | None, int]:
  """(mean, half the range, count) of the defined values."""
  v = np.array([x for x in values if x is not None], float)
  if not v.size:
    return None, None, 0
  return float(v.mean()), float(0.5 * (v.max() - v.min())), int(v.size)


def pm(values: Sequence[float | None], digits: int = 3) -> str:
  mean, half, n = spread(values)
  if mean is None:
    return "–"
  return f"{mean:.{digits}f}" if n == 1 else f"{mean:.{digits}f} ± {half:.{digits}f}"


def detection_value(scores: Mapping[str, Any], iou: str, stat: str, bin_name: str = "all") -> float | None:
  table = scores["detection"][iou]
  return (table["all"] if bin_name == "all" else table["bins"][bin_name])[stat]


def heavy_value(scores: Mapping[str, Any], iou: str) -> float | None:
  """AP50 over the objects hidden 40 % or more (`scores.HEAVY`)."""
  return detection_value(scores, iou, "AP50", scores_lib.HEAVY.name)


def occlusion_markdown(config, results: dict[Run, dict], workdir: pathlib.Path,
                       untrained: Mapping[str, Any] | None = None) -> list[str]:
  arms = list(dict.fromkeys(r.arm for r in results))
  lines = []
  for test in [COMPOSITED, *config.testsets.keys()]:
    curves = {arm: [res["scores"][test] for r, res in results.items() if r.arm == arm] for arm in arms}
    figure = f"occlusion_{test}.png"
    report.plot_by_occlusion(curves, ("box_AP50", "mask_AP50", "recall"), workdir / figure, title=f"test set: {test}")
    lines += [f"### Test set `{test}`", "", f"![{test}]({figure})", "",
              "| training data | seeds | box AP50 all | L0 | L1 | L2 | L3 | ≥ 0.4 | mask AP50 all | L0 | L1 | L2 | L3 | ≥ 0.4 |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    rows = dict(curves)
    if untrained is not None:
      rows["untrained model"] = [untrained[test]]
    for arm, runs in rows.items():
      row = [arm, str(len(runs))]
      for iou in ("bbox", "segm"):
        row += [pm([detection_value(s, iou, "AP50", b) for s in runs])
                for b in ("all", "L0", "L1", "L2", "L3", scores_lib.HEAVY.name)]
      lines.append("| " + " | ".join(row) + " |")
    counts = curves[arms[0]][0]["detection"]["bbox"]["bins"]
    lines += ["", "Objects per level: " + ", ".join(f"{b} {counts[b]['num_gt']}"
                                                 for b in ("L0", "L1", "L2", "L3", scores_lib.HEAVY.name)), ""]
  return lines


def compare(name_a: str, name_b: str, a: tuple, b: tuple) -> str:
  """Whether mean ± half-range a lies above, below or within reach of b."""
  if a[2] < 2 or b[2] < 2:
    return f"{name_a} {'above' if a[0] > b[0] else 'not above'} {name_b} (one seed: no spread to judge by)"
  if a[0] - a[1] > b[0] + b[1]:
    return f"{name_a} beats {name_b}, the ranges over seeds do not overlap"
  if a[0] + a[1] < b[0] - b[1]:
    return f"{name_a} is below {name_b}, the ranges over seeds do not overlap"
  return f"no difference between {name_a} and {name_b} beyond the spread over seeds"


def verdicts(config, results: dict[Run, dict], untrained: Mapping[str, Any]) -> list[str]:
  """Plain sentences: the sanity gate (trained vs untrained), then the arms compared on heavily
  occluded objects, from the numbers."""
  trained = [res["scores"][COMPOSITED]["detection"]["bbox"]["all"]["AP50"] for r, res in results.items()
             if r.arm == "WALT3D"]
  floor = untrained[COMPOSITED]["detection"]["bbox"]["all"]["AP50"]
  lines = [f"- Sanity gate, composited test split, amodal box AP50: WALT3D-trained {pm(trained)} vs the untrained "
           f"model {pm([floor])}."]
  by_arm = lambda arm, test, iou: [heavy_value(res["scores"][test], iou) for r, res in results.items() if r.arm == arm]
  arms = list(dict.fromkeys(r.arm for r in results))
  if "modal" in arms and "WALT3D" in arms:
    for test in [COMPOSITED, *config.testsets.keys()]:
      a, m = spread(by_arm("WALT3D", test, "bbox")), spread(by_arm("modal", test, "bbox"))
      if a[0] is None or m[0] is None:
        lines.append(f"- `{test}`: no heavily occluded objects to compare on.")
        continue
      lines.append(f"- `{test}`, objects hidden 40 % or more, amodal box AP50: WALT3D-trained "
                   f"{pm(by_arm('WALT3D', test, 'bbox'))} vs modal-trained {pm(by_arm('modal', test, 'bbox'))}: "
                   f"{compare('amodal (WALT3D) training', 'modal-only training', a, m)}.")
  return lines


def efficiency_markdown(config, results: dict[Run, dict], workdir: pathlib.Path) -> list[str]:
  import matplotlib.pyplot as plt

  fractions = [float(f) for f in config.fractions]
  tests = [COMPOSITED, *config.testsets.keys()]
  fig, axes = plt.subplots(1, len(tests), figsize=(4.2 * len(tests), 3.4), squeeze=False)
  lines = []
  for ax, test in zip(axes[0], tests):
    lines += [f"### Test set `{test}`", "", "| fraction | " + " | ".join(
        f"{m} box AP | {m} box AP50 | {m} mask AP50" for m in ("WALT2D", "WALT3D")) + " |",
              "|---|" + "---|" * 6]
    for f in fractions:
      row = [f"{f:.0%}"]
      for mode in ("walt2d", "walt3d"):
        runs = [res["scores"][test] for r, res in results.items() if r.mode == mode and r.fraction == f]
        row += [pm([detection_value(s, "bbox", "AP") for s in runs]), pm([detection_value(s, "bbox", "AP50") for s in runs]),
                pm([detection_value(s, "segm", "AP50") for s in runs])]
      lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    for mode in ("walt2d", "walt3d"):
      stats = [spread([detection_value(res["scores"][test], "bbox", "AP50") for r, res in results.items()
                       if r.mode == mode and r.fraction == f]) for f in fractions]
      mean = np.array([np.nan if s[0] is None else s[0] for s in stats])
      half = np.array([0.0 if s[1] is None else s[1] for s in stats])
      line, = ax.plot([100 * f for f in fractions], mean, marker="o", label=mode.upper())
      ax.fill_between([100 * f for f in fractions], mean - half, mean + half, color=line.get_color(), alpha=0.2)
    ax.set_xlabel("% of the training data")
    ax.set_ylabel("amodal box AP50")
    ax.set_title(f"test set: {test}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(workdir / "data_efficiency.png", dpi=110)
  plt.close(fig)
  return ["![data efficiency](data_efficiency.png)", "", *lines]


def efficiency_verdicts(config, results: dict[Run, dict]) -> list[str]:
  lines = []
  for test in [COMPOSITED, *config.testsets.keys()]:
    for f in sorted(float(x) for x in config.fractions)[:2]:
      values = {m: [detection_value(res["scores"][test], "bbox", "AP50") for r, res in results.items()
                    if r.mode == m and r.fraction == f] for m in ("walt2d", "walt3d")}
      a, b = spread(values["walt3d"]), spread(values["walt2d"])
      if a[0] is None or b[0] is None:
        continue
      lines.append(f"- `{test}` at {f:.0%} of the data, box AP50: WALT3D {pm(values['walt3d'])} vs WALT2D "
                   f"{pm(values['walt2d'])}: {compare('WALT3D', 'WALT2D', a, b)}.")
  return lines


def tracking_markdown(results: dict[Run, dict], ceilings: Mapping[str, dict]) -> list[str]:
  """Per sequence: each detector's SORT scores (mean ± half-range over seeds), and SORT on the
  true boxes (its ceiling: short tracks and crowded small objects cost it too)."""
  arms = list(dict.fromkeys(r.arm for r in results))
  lines = []
  for test, ceiling in ceilings.items():
    lines += [f"### Sequence `{test}`", "", "| detector | seeds | class | MOTA | IDF1 | MOTP | FP | FN | ID switches |",
              "|---|---|---|---|---|---|---|---|---|"]
    for cls in ("overall", "car", "person"):
      for arm in arms:
        rows = [res["tracking"][test][cls] for r, res in results.items() if r.arm == arm]
        lines.append(f"| {arm} | {len(rows)} | {cls} | {pm([x['mota'] for x in rows])} | {pm([x['idf1'] for x in rows])} | "
                     f"{pm([x['motp'] for x in rows])} | {pm([x['fp'] for x in rows], 0)} | {pm([x['fn'] for x in rows], 0)} | "
                     f"{pm([x['id_switches'] for x in rows], 0)} |")
      c = ceiling[cls]
      lines.append(f"| true boxes (SORT's ceiling) | – | {cls} | {pm([c['mota']])} | {pm([c['idf1']])} | {pm([c['motp']])} | "
                   f"{c['fp']} | {c['fn']} | {c['id_switches']} |")
    lines.append("")
  return lines


# ---------------------------------------------------------------------------------------------

def run(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> dict[str, Any]:
  """The `study` job (module docstring); returns {run name: result}."""
  tic = time.perf_counter()
  workdir = pathlib.Path(workdir)
  if config.study not in STUDIES:
    raise StudyError(f"config.study={config.study!r}: expected one of {STUDIES}")
  if not config.seeds:
    raise StudyError("config.seeds: at least one seed")
  if config.study == "data_efficiency" and not all(0 < float(f) <= 1 for f in config.fractions):
    raise StudyError(f"config.fractions={tuple(config.fractions)}: each in (0, 1]")
  runs = runs_of(config)
  modes = sorted({r.mode for r in runs} | {"walt3d"})
  datasets = build_datasets(config, workdir, modes)
  tests = test_sources(config, datasets)
  extra, ceilings, sequences = None, {}, {}
  if config.study == "tracking":
    from walt3d_jax.evaluation import tracking

    sequences = tracking_sequences(config)
    extra = tracking_extra(config, sequences)
    ceilings = {name: tracking.oracle_scores(frames, sort_config(config)) for name, frames in sequences.items()}
  results = do_runs(config, workdir, runs, datasets, tests, extra)
  title = {"occlusion": "Amodal accuracy vs occlusion: modal, WALT2D and WALT3D training data",
           "data_efficiency": "Data efficiency: WALT2D vs WALT3D clip-art",
           "tracking": "Tracking through occlusion: SORT on modal- vs WALT3D-trained detectors"}[config.study]
  lines = [f"# {title}", "", f"- training: `{config.train.model.variant}` model at {tuple(config.train.data.image_size)}, "
           f"{config.train.total_steps} steps of batch {config.train.data.batch_size}; seeds {tuple(config.seeds)} "
           f"(± is half the range over seeds)",
           "- data: " + ", ".join(f"{m}: `{d['dataset']}`" for m, d in datasets.items()) + " from one bank",
           ("- tracked sequences: " + ", ".join(f"`{k}` ({len(v)} consecutive frames)" for k, v in sequences.items())
            if sequences else "- test sets: " + ", ".join(f"`{k}` ({len(v)} images)" for k, v in tests.items())),
           f"- wall time of this call: {time.perf_counter() - tic:.0f} s", ""]
  if config.study == "occlusion":
    untrained = untrained_scores(config, workdir, tests)
    lines += ["## Verdict", "", *verdicts(config, results, untrained), "", "## Results", "",
              *occlusion_markdown(config, results, workdir, untrained)]
  elif config.study == "data_efficiency":
    lines += ["## Verdict", "", *efficiency_verdicts(config, results), "", "## Results", "",
              *efficiency_markdown(config, results, workdir)]
  else:
    lines += ["## Results", "", *tracking_markdown(results, ceilings)]
  path = workdir / f"{config.study}.md"
  path.write_text("\n".join(lines) + "\n")
  out = {r.name(config.train.total_steps): res for r, res in results.items()}
  coco.write_json(out, workdir / f"{config.study}.json")
  print(f"{config.study} study: {len(runs)} runs, report {path}", flush=True)
  logging.info("study %s written to %s", config.study, path)
  return out


def tracking_sequences(config: ml_collections.ConfigDict) -> dict[str, list]:
  """{name: consecutive true-occlusion frames}, rendered at the model's input size (no resize)."""
  from walt3d_jax.evaluation import tracking

  return {name: tracking.sequence(s.preset, s.seed, tuple(config.train.data.image_size), s.bursts, s.frames_per_burst)
          for name, s in config.tracking.sequences.items()}


def sort_config(config: ml_collections.ConfigDict):
  from walt3d_jax.timelapse import track as track_lib

  return track_lib.SortConfig(**config.tracking.sort.to_dict())


def tracking_extra(config: ml_collections.ConfigDict, sequences: Mapping[str, list]
                   ) -> Callable[[Run, pathlib.Path], dict]:
  """Per run: {'tracking': {sequence: track_scores}} on the true-occlusion sequences."""
  from walt3d_jax.evaluation import tracking
  from walt3d_jax.models import predict

  sort = sort_config(config)

  def extra(run: Run, directory: pathlib.Path) -> dict:
    model, meta = predict.load(directory)
    return {"tracking": {name: tracking.track_scores(model, meta, frames, sort_config=sort,
                                                      score_threshold=config.tracking.score_threshold)
                         for name, frames in sequences.items()}}

  return extra
