"""The evaluation report: a markdown page with tables and matplotlib figures.

  write_report(directory, scores, records, title, meta)
    → directory/report.md, ap_by_occlusion.png (box and mask AP50 and recall per 10 %
      occlusion bin), predictions.png (detections beside the truth on the first images)
`plot_by_occlusion` overlays several models (or several seeds of each: mean and min-max band),
for the experiments that compare training data.
"""

from __future__ import annotations

import pathlib
import warnings
from typing import Any, Mapping, Sequence

import cv2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from walt3d_jax.evaluation import inference  # noqa: E402
from walt3d_jax.metrics import amodal as amodal_metrics  # noqa: E402
from walt3d_jax.models import amodal  # noqa: E402
from walt3d_jax.viz import overlays  # noqa: E402

DRAW_SCORE = 0.3
DECILES = [b.name for b in amodal_metrics.decile_bins()]
COARSE = [b.name for b in amodal_metrics.COARSE_LEVELS]


def fmt(x: float | None, digits: int = 3) -> str:
  return "–" if x is None else f"{x:.{digits}f}"


def bin_values(scores: Mapping[str, Any], metric: str, bins: Sequence[str] = DECILES) -> list[float | None]:
  """Per-bin values of `metric`: 'box_AP50', 'mask_AP', ... ('<iou>_<AP|AP50|AP75>') or 'recall'."""
  if metric == "recall":
    return [scores["matching"]["bins"][b]["recall"] for b in bins]
  iou, stat = metric.split("_", 1)
  table = scores["detection"]["bbox" if iou == "box" else "segm"]["bins"]
  return [table[b][stat] for b in bins]


def plot_by_occlusion(curves: Mapping[str, Sequence[Mapping[str, Any]]], metrics: Sequence[str],
                      path: pathlib.Path, bins: Sequence[str] = DECILES, title: str = "") -> None:
  """One panel per metric: each label's mean over its score dicts (seeds) per occlusion bin,
  with the min-max band when there are several."""
  fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.4), squeeze=False)
  x = np.arange(len(bins))
  for ax, metric in zip(axes[0], metrics):
    for label, runs in curves.items():
      values = np.array([[np.nan if v is None else v for v in bin_values(s, metric, bins)] for s in runs], float)
      with warnings.catch_warnings():  # a bin empty in every run is NaN: drawn as a gap
        warnings.simplefilter("ignore", RuntimeWarning)
        mean, lo, hi = np.nanmean(values, 0), np.nanmin(values, 0), np.nanmax(values, 0)
      line, = ax.plot(x, mean, marker="o", ms=3, label=f"{label} (n={len(runs)})")
      if len(runs) > 1:
        ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.2)
    ax.set_xticks(x, [b.split("-")[0] if "-" in b else b for b in bins], fontsize=7)
    ax.set_xlabel("occlusion (bin start)" if bins is DECILES else "occlusion level")
    ax.set_ylim(0, 1)
    ax.set_title(metric.replace("_", " "), fontsize=9)
    ax.grid(alpha=0.3)
  axes[0][0].legend(fontsize=7)
  if title:
    fig.suptitle(title, fontsize=10)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def _draw(image: np.ndarray, masks: np.ndarray, boxes: np.ndarray, categories: np.ndarray,
          keypoints: np.ndarray, states: np.ndarray, scale: int) -> np.ndarray:
  out = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
  for j in range(len(boxes)):
    color = overlays.instance_color(int(categories[j]) * 7 + j)
    mask = cv2.resize(masks[j].astype(np.uint8), None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST) > 0
    out = overlays.draw_mask(out, mask, color)
    out = overlays.draw_box(out, np.asarray(boxes[j]) * scale, color)
    used = amodal.NUM_CAR_KEYPOINTS if categories[j] == amodal.CAR else amodal.NUM_KEYPOINTS
    out = overlays.draw_keypoints(out, (keypoints[j, :used] + 0.5) * scale - 0.5, states[j, :used])
  return out


def prediction_tile(record: inference.ImageRecord, scale: int = 1) -> np.ndarray:
  """(H·s, 2W·s + pad, 3): detections with score >= DRAW_SCORE (amodal masks, boxes,
  keypoints coloured by predicted state) beside the truth."""
  p, d, t = record.picture, record.detections, record.truth
  keep = d["score"] >= DRAW_SCORE
  pred = _draw(p["image"], p["amodal_mask"][keep], d["amodal_box"][keep], d["category"][keep],
               d["keypoints"][keep], d["keypoint_states"][keep], scale)
  truth = _draw(p["image"], p["truth_amodal_mask"], t["amodal_box"], t["category"], t["keypoints"],
                t["keypoint_states"], scale)
  return overlays.grid([overlays.label(pred, "prediction"), overlays.label(truth, "truth")], columns=2, pad=2)


def predictions_picture(records: Sequence[inference.ImageRecord], path: pathlib.Path) -> np.ndarray | None:
  """A grid of prediction tiles of the records that kept pictures, written as PNG."""
  kept = [r for r in records if r.picture is not None]
  if not kept:
    return None
  scale = max(1, int(round(640 / kept[0].width)))
  sheet = overlays.grid([prediction_tile(r, scale) for r in kept], columns=1 if kept[0].width * scale > 400 else 2)
  cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
  return sheet


def _ap_table(scores: Mapping[str, Any], bins: Sequence[str]) -> list[str]:
  det = scores["detection"]
  rows = ["| occlusion | objects | box AP | box AP50 | mask AP | mask AP50 | recall |", "|---|---|---|---|---|---|---|"]
  for name in ["all", *bins]:
    box = det["bbox"]["all"] if name == "all" else det["bbox"]["bins"][name]
    mask = det["segm"]["all"] if name == "all" else det["segm"]["bins"][name]
    rec = scores["matching"] if name == "all" else scores["matching"]["bins"][name]
    rows.append(f"| {name} | {box['num_gt']} | {fmt(box['AP'])} | {fmt(box['AP50'])} | {fmt(mask['AP'])} | "
                f"{fmt(mask['AP50'])} | {fmt(rec['recall'])} |")
  return rows


def markdown(scores: Mapping[str, Any], title: str, meta: Mapping[str, Any]) -> str:
  """The report's text: what was evaluated, then AP, keypoint and 3D tables."""
  lines = [f"# {title}", ""]
  lines += [f"- {k}: `{v}`" for k, v in meta.items()]
  lines += [f"- images: {scores['images']}, objects: {scores['objects']}; matching: amodal box IoU ≥ 0.5, "
            f"score ≥ {scores['match_score']}", "",
            "## Amodal detection (COCO AP, ground truth outside a bin ignored)", "",
            "![AP by occlusion](ap_by_occlusion.png)", ""]
  lines += _ap_table(scores, DECILES + COARSE)
  kp = scores.get("keypoints")
  if kp:
    lines += ["", "## 2D keypoints of matched objects (PCK@0.1 of the amodal box's longer side)", "",
              "| class | visible | self-occluded | occluded by others | all |", "|---|---|---|---|---|"]
    for cls, cells in kp.items():
      if cls == "bins":
        continue
      lines.append(f"| {cls} | " + " | ".join(f"{fmt(cells[s]['pck'])} ({cells[s]['count']})" for s in
                                               ("visible", "self_occluded", "occluded_by_others", "all")) + " |")
  cars, people = scores.get("cars_3d"), scores.get("people_3d")
  if cars or people:
    lines += ["", "## 3D of matched objects", ""]
  if cars:
    lines.append(f"- cars ({cars['num_objects']} with a valid PnP pose): Acc(π/6) {fmt(cars['acc_pi_6'])}, "
                 f"Acc(π/18) {fmt(cars['acc_pi_18'])}, median rotation error "
                 f"{fmt(cars['median_rotation_error_deg'], 1)}°, median translation error "
                 f"{fmt(cars['median_translation_error'], 2)} m")
  if people:
    lines.append(f"- people ({people['num_objects']}): MPJPE {fmt(people['mpjpe_mm'], 0)} mm (root-aligned), "
                 f"3D PCK@150 mm {fmt(people['pck3d'])}")
  lines += ["", "## Predictions (left) and truth (right)", "", "![predictions](predictions.png)", ""]
  return "\n".join(lines)


def write_report(directory: pathlib.Path, scores: Mapping[str, Any], records: Sequence[inference.ImageRecord],
                 title: str, meta: Mapping[str, Any]) -> pathlib.Path:
  """directory/report.md with its two figures; returns the markdown's path."""
  directory = pathlib.Path(directory)
  directory.mkdir(parents=True, exist_ok=True)
  plot_by_occlusion({"this model": [scores]}, ("box_AP50", "mask_AP50", "recall"), directory / "ap_by_occlusion.png",
                    title=title)
  predictions_picture(records, directory / "predictions.png")
  path = directory / "report.md"
  path.write_text(markdown(scores, title, meta))
  return path
