"""The `demo` job (`make demo`): the pipeline end to end on simulated time-lapses.

1. Every scene preset simulated briefly (day, dusk and night bursts) and a contact sheet of
   their exact labels. 2. The `fit` job (`fit.bank_fit`) on a longer simulated intersection:
   mine tracked, unoccluded cars and people into an object bank (`timelapse.mine`), then fit
   car shapes and ground poses per track and place people on the ground, scored against the
   simulator's truth. 3. The `clipart` job (`data.build`) on that bank: the TFDS dataset
   `walt3d_clipart` (array_record and tfrecord) and its COCO-amodal export, then a report of
   WALT3D beside WALT2D on the same objects with depth maps, and how often each mode makes a
   physically impossible image. 4. The `train` job (`train.amodal`): the tiny amodal detector with
   its 3D heads (the PnP layer) on that dataset's train split, then the `evaluate` job
   (`evaluation.job`) on its composited test split: amodal AP by occlusion level, keypoint PCK by
   visibility state, cars' and people's 3D, and pictures of the predictions. Each stage writes its
   report; the paths are printed at the end.
"""

from __future__ import annotations

import pathlib
import time

import ml_collections

from walt3d_jax.clipart import pool as pool_lib
from walt3d_jax.clipart import report as clipart_report
from walt3d_jax.data import build
from walt3d_jax.evaluation import job as evaluate_job
from walt3d_jax.fit import bank_fit
from walt3d_jax.formats import coco
from walt3d_jax.sim import simulate
from walt3d_jax.train import amodal as train_job
from walt3d_jax.viz import contact_sheet


def compose_stage(config: ml_collections.ConfigDict, bank: pathlib.Path, out: pathlib.Path) -> dict:
  """The clipart job on `bank` into `out`, its report and plausibility counts; the summary."""
  clip_config = ml_collections.ConfigDict(config.clipart.to_dict())
  clip_config.bank = str(bank)
  summary = build.run(clip_config, out)
  clipart = build.builder_config(clip_config).clipart_config()
  pool = pool_lib.load_pool(bank, clipart)
  keys = [f"report-{i}" for i in range(config.clipart_report.images)]
  clipart_report.write_report(out / "report.png", pool, keys, clipart)
  counts = clipart_report.plausibility_counts(
      pool, [f"plausibility-{i}" for i in range(config.clipart_report.plausibility_images)], clipart)
  summary["plausibility"] = counts
  coco.write_json(summary, out / "summary.json")
  return summary


def clipart_headline(summary: dict) -> str:
  """Two lines: what was built and how fast; impossible images per mode."""
  builds = summary["builds"]
  first = next(iter(builds.values()))
  rates = ", ".join(f"{name} {b['examples_per_second']} examples/s" for name, b in builds.items()
                    if b["examples_per_second"] is not None)
  p = summary["plausibility"]
  return (f"{summary['dataset']}: {first['examples']} from {summary['pool']['objects']} objects ({rates})\n"
          f"impossible images: WALT3D {p['walt3d']['impossible']} of {p['walt3d']['images']}, "
          f"WALT2D on the same draws {p['walt2d']['impossible']} of {p['walt2d']['images']}")


def learn_stage(config: ml_collections.ConfigDict, clip_summary: dict, out: pathlib.Path) -> tuple[dict, dict]:
  """The train job on the clip-art dataset just built, into `out`, then the evaluate job on its
  test split into out/eval; (train results, scores)."""
  data = clip_summary["builds"]["array_record"]
  train_config = ml_collections.ConfigDict(config.train.to_dict())
  train_config.data.data_dir = data["data_dir"]
  train_config.data.dataset = clip_summary["dataset"]
  results = train_job.run(train_config, out)
  eval_config = ml_collections.ConfigDict(config.evaluate.to_dict())
  eval_config.checkpoint = str(out)
  eval_config.dataset, eval_config.data_dir = clip_summary["dataset"], data["data_dir"]
  eval_config.split = train_config.data.eval_split
  eval_config.title = f"Demo: the tiny detector after {results['steps']} steps, composited test split"
  scores = evaluate_job.run(eval_config, out / "eval")
  return results, scores


def learn_headline(results: dict, scores: dict) -> str:
  """Two lines: how training went; what the model reaches on the test split."""
  box, mask = scores["detection"]["bbox"]["all"], scores["detection"]["segm"]["all"]
  fmt = lambda x, d=2: "–" if x is None else f"{x:.{d}f}"
  kp = (scores.get("keypoints") or {}).get("all", {}).get("all", {}).get("pck")
  cars = scores.get("cars_3d") or {}
  return (f"{results['steps']} steps in {results['seconds']:.0f} s, loss {fmt(results['first_loss'])} → "
          f"{fmt(results['final_loss'])} (first and last 10 logged steps)\n"
          f"test split ({scores['images']} images): amodal box AP50 {fmt(box['AP50'])}, mask AP50 "
          f"{fmt(mask['AP50'])}, recall {fmt(scores['matching']['recall'])}, keypoint PCK@0.1 {fmt(kp)}, "
          f"cars Acc(π/6) {fmt(cars.get('acc_pi_6'))}")


def run(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> None:
  tic = time.perf_counter()
  summaries = simulate.run(config, workdir)
  sheet = workdir / "contact_sheet.png"
  contact_sheet.write_contact_sheet(
      [pathlib.Path(s["root"]) for s in summaries], sheet,
      frames_per_sequence=config.contact_sheet_columns, columns=config.contact_sheet_columns,
  )
  fit_dir = workdir / "fit"
  fit_summary = bank_fit.run(config.fit, fit_dir)
  bank = fit_dir / "mine" / "bank.h5"
  clip_dir = workdir / "clipart"
  clip_summary = compose_stage(config, bank, clip_dir)
  train_dir = workdir / "train"
  train_results, eval_scores = learn_stage(config, clip_summary, train_dir)
  print(f"\nwalt3d_jax demo finished in {time.perf_counter() - tic:.0f} s. Everything is under {workdir}/:")
  for s in summaries:
    files = simulate.SequenceFiles(pathlib.Path(s["root"]))
    print(f"  {s['preset']:<14} {s['frames']} frames ({simulate.frames_per_second(s):.1f} frames/s), "
          f"{s['objects']} objects, {s['detections']} detections")
    for name in ("camera", "frames", "ground_truth", "detections", "video", "background"):
      path = getattr(files, name)
      if path.exists():
        print(f"      {name:<13} {path}")
  indent = "\n" + " " * 17
  print(f"  contact sheet  {sheet}")
  print(f"  mine + fit     {bank_fit.report_headline(fit_summary).replace(chr(10), indent)}")
  for name, path in (("mining report", fit_dir / "mine" / "report.png"),
                     ("fit report", fit_dir / "report.png"), ("object bank", bank),
                     ("fit summary", fit_dir / "summary.json")):
    print(f"      {name:<13} {path}")
  print(f"  clip-art       {clipart_headline(clip_summary).replace(chr(10), indent)}")
  outputs = [("report", clip_dir / "report.png"), ("summary", clip_dir / "summary.json")]
  outputs += [(f"tfds {name}", pathlib.Path(b["version_dir"])) for name, b in clip_summary["builds"].items()]
  outputs += [(f"coco {split}", pathlib.Path(path)) for split, path in clip_summary.get("coco", {}).items()]
  for name, path in outputs:
    print(f"      {name:<13} {path}")
  print(f"  train + eval   {learn_headline(train_results, eval_scores).replace(chr(10), indent)}")
  for name, path in (("eval report", train_dir / "eval" / "report.md"),
                     ("predictions", train_dir / "eval" / "predictions.png"),
                     ("checkpoints", train_dir / "checkpoints"), ("tensorboard", train_dir / "tensorboard")):
    print(f"      {name:<13} {path}")
