"""Amodal AP for boxes and masks through pycocotools, overall and binned by occlusion.

Amodal AP (REFERENCE.md) is COCO AP where ground truth and predictions are whole-object
(amodal) extents: the `bbox` and `segmentation` handed to pycocotools are the amodal box and
mask, and `pycocotools.cocoeval.COCOeval` does the matching and the 101-point interpolated
precision, unchanged (its defaults: IoU 0.50:0.05:0.95, up to 100 predictions per image, area
range "all"). AP is the mean over IoU thresholds and categories that have ground truth; AP50
and AP75 at one threshold (COCO's `stats[0:3]`).

Occlusion bins (`ignore` protocol, the default): per bin, every ground-truth object whose
occlusion ratio lies outside the bin is marked ignored, not removed. A prediction whose best
match is an ignored object is then neither a true nor a false positive (COCO's rule for
`_ignore` ground truth: predictions prefer non-ignored matches), and ignored objects are not
misses; predictions that match nothing stay false positives in every bin. pycocotools'
`_prepare` overwrites `gt['ignore']` with `iscrowd`, so flags set on the input are lost: the
flags are set on COCOeval's prepared ground truth after `_prepare` (`_OcclusionCOCOeval`), and
the IoUs, computed once, serve every bin.

WALT's public evaluation (`walt/datasets/cocoeval.py` of github.com/dineshreddy91/WALT,
`percentage_occ`) does it differently: per 10 % bin it *removes* the ground truth outside the
bin and keeps only the predictions whose box overlaps (IoU > 0.4, its +1-pixel box convention)
a kept object of the same image, so background false positives count in no bin. `protocol=
"walt"` reproduces that filter (with COCO's box IoU), for comparison with WALT's figures.

Bins: ten 10 % bins [0, 0.1), …, [0.8, 0.9), [0.9, 1.0] (the last one closed, so fully hidden
objects, occlusion 1, fall in it) and the coarse levels of Occluded PASCAL3D+ (Wang et al.
2020), as the WALT3D paper's Table 4 reports them: L0 [0, 0.2) (its unoccluded level), L1
[0.2, 0.4), L2 [0.4, 0.6), L3 [0.6, 0.8); objects hidden 80 % or more are in the 10 % bins and
the overall figure only.

Undefined values (no non-ignored ground truth of any category) are None, never -1 or NaN, so a
result dict writes to JSON as is (`formats.coco.write_json`).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import io
from typing import Any, Mapping, Sequence

import numpy as np
from pycocotools import coco as coco_lib
from pycocotools import cocoeval
from pycocotools import mask as mask_utils

from walt3d_jax.formats import rle
from walt3d_jax.metrics import detection

IOU_TYPES = ("bbox", "segm")
PROTOCOLS = ("ignore", "walt")
# WALT's cocoeval keeps a prediction in a bin when its box IoU with a kept object exceeds this.
WALT_BIN_MATCH_IOU = 0.4


@dataclasses.dataclass(frozen=True)
class OcclusionBin:
  """Occlusion ratios in [low, high), or [low, high] when `closed` (the last bin)."""

  name: str
  low: float
  high: float
  closed: bool = False

  def contains(self, occlusion: np.ndarray) -> np.ndarray:
    """(N,) bool of occlusion ratios (N,)."""
    occlusion = np.asarray(occlusion, np.float64)
    upper = occlusion <= self.high if self.closed else occlusion < self.high
    return (occlusion >= self.low) & upper


def decile_bins() -> tuple[OcclusionBin, ...]:
  """The ten 10 % bins, named '0.0-0.1' … '0.9-1.0' (the last one closed)."""
  return tuple(OcclusionBin(f"{i / 10:.1f}-{(i + 1) / 10:.1f}", i / 10, (i + 1) / 10, closed=i == 9)
               for i in range(10))


# Occluded PASCAL3D+'s levels (module docstring).
COARSE_LEVELS = (
    OcclusionBin("L0", 0.0, 0.2), OcclusionBin("L1", 0.2, 0.4),
    OcclusionBin("L2", 0.4, 0.6), OcclusionBin("L3", 0.6, 0.8),
)


def all_bins() -> tuple[OcclusionBin, ...]:
  """The 10 % bins, then the coarse levels."""
  return decile_bins() + COARSE_LEVELS


@dataclasses.dataclass
class ImageTruth:
  """Ground truth of one image (M objects).

  amodal_boxes: (M, 4) [x, y, w, h] pixels of the whole objects.
  amodal_masks: M compressed RLE dicts ({'size': [H, W], 'counts': str}) or (M, H, W) bool;
    None when only boxes are scored.
  categories: (M,) COCO ids. occlusion: (M,) ratios in [0, 1] (1 − visible / amodal area).
  width, height: the image's size in pixels.
  """

  amodal_boxes: np.ndarray
  categories: np.ndarray
  occlusion: np.ndarray
  width: int
  height: int
  amodal_masks: Any = None


@dataclasses.dataclass
class ImagePredictions:
  """Predictions on one image (N): boxes (N, 4) [x, y, w, h], scores (N,), categories (N,),
  masks (N compressed RLE dicts or (N, H, W) bool; None when only boxes are predicted)."""

  boxes: np.ndarray
  scores: np.ndarray
  categories: np.ndarray
  masks: Any = None


def _rles(masks: Any, count: int, what: str) -> list[dict]:
  """Compressed RLE dicts (str counts) of `count` masks given as RLE dicts or a bool array."""
  if isinstance(masks, np.ndarray):
    if masks.ndim != 3 or len(masks) != count:
      raise ValueError(f"{what}: masks shape {masks.shape}, expected ({count}, H, W)")
    return [rle.encode_mask(m.astype(bool)) for m in masks]
  masks = list(masks)
  if len(masks) != count:
    raise ValueError(f"{what}: {len(masks)} masks for {count} objects")
  out = []
  for m in masks:
    counts = m["counts"]
    out.append({"size": [int(v) for v in m["size"]],
                "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts})
  return out


def _rows(boxes: Any, what: str) -> np.ndarray:
  boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
  if not np.isfinite(boxes).all() or (boxes[:, 2:] < 0).any():
    raise ValueError(f"{what}: boxes must be finite with w, h >= 0")
  return boxes


def coco_ground_truth(truths: Sequence[ImageTruth], categories: Sequence[int] | None = None
                      ) -> dict[str, Any]:
  """COCO ground-truth dict: image i has id i; annotations' `bbox`, `segmentation` and `area`
  are the amodal ones (area = mask pixels, else w·h), `iscrowd` 0, plus `occlusion`."""
  images, annotations, seen = [], [], set()
  for image_id, t in enumerate(truths):
    boxes = _rows(t.amodal_boxes, f"truth of image {image_id}")
    cats = np.asarray(t.categories, np.int64).reshape(-1)
    occ = np.asarray(t.occlusion, np.float64).reshape(-1)
    if not len(cats) == len(occ) == len(boxes):
      raise ValueError(f"truth of image {image_id}: {len(boxes)} boxes, {len(cats)} categories, "
                       f"{len(occ)} occlusion ratios")
    masks = None if t.amodal_masks is None else _rles(t.amodal_masks, len(boxes), f"truth of image {image_id}")
    images.append({"id": image_id, "width": int(t.width), "height": int(t.height)})
    for j in range(len(boxes)):
      box = [float(v) for v in boxes[j]]
      ann = {"id": len(annotations) + 1, "image_id": image_id, "category_id": int(cats[j]),
             "iscrowd": 0, "bbox": box, "occlusion": float(occ[j]),
             "area": float(box[2] * box[3])}
      if masks is not None:
        ann["segmentation"] = masks[j]
        ann["area"] = float(rle.areas([masks[j]])[0])
      annotations.append(ann)
      seen.add(int(cats[j]))
  cat_ids = sorted(seen) if categories is None else [int(c) for c in categories]
  return {"images": images, "annotations": annotations,
          "categories": [{"id": c, "name": str(c)} for c in cat_ids]}


def coco_results(predictions: Sequence[ImagePredictions], iou_type: str) -> list[dict[str, Any]]:
  """COCO results list (image i has id i): `bbox` for 'bbox', `segmentation` for 'segm'."""
  if iou_type not in IOU_TYPES:
    raise ValueError(f"iou_type={iou_type!r}: expected one of {IOU_TYPES}")
  results = []
  for image_id, p in enumerate(predictions):
    boxes = _rows(p.boxes, f"predictions of image {image_id}")
    scores = np.asarray(p.scores, np.float64).reshape(-1)
    cats = np.asarray(p.categories, np.int64).reshape(-1)
    if not len(scores) == len(cats) == len(boxes):
      raise ValueError(f"predictions of image {image_id}: {len(boxes)} boxes, {len(scores)} scores, "
                       f"{len(cats)} categories")
    if iou_type == "segm":
      if p.masks is None:
        raise ValueError(f"predictions of image {image_id}: iou_type 'segm' needs masks")
      masks = _rles(p.masks, len(boxes), f"predictions of image {image_id}")
    for j in range(len(boxes)):
      entry = {"image_id": image_id, "category_id": int(cats[j]), "score": float(scores[j])}
      if iou_type == "bbox":
        entry["bbox"] = [float(v) for v in boxes[j]]
      else:
        entry["segmentation"] = masks[j]
      results.append(entry)
  return results


def _quiet():
  """pycocotools prints progress; keep it off the job's output."""
  return contextlib.redirect_stdout(io.StringIO())


def load_coco(gt: Mapping[str, Any], results: list[dict[str, Any]]):
  """(cocoGt, cocoDt) for COCOeval from a ground-truth dict and a results list (may be empty)."""
  with _quiet():
    coco_gt = coco_lib.COCO()
    coco_gt.dataset = copy.deepcopy(dict(gt))
    coco_gt.createIndex()
    if results:
      coco_dt = coco_gt.loadRes(copy.deepcopy(results))
    else:
      coco_dt = coco_lib.COCO()
      coco_dt.dataset = {"images": list(coco_gt.dataset["images"]), "annotations": [],
                         "categories": list(coco_gt.dataset["categories"])}
      coco_dt.createIndex()
  return coco_gt, coco_dt


class _OcclusionCOCOeval(cocoeval.COCOeval):
  """COCOeval whose ground truth outside an occlusion bin is ignored (module docstring)."""

  def evaluate_bin(self, occlusion_bin: OcclusionBin | None) -> None:
    """After `evaluate()`: per-image results again with ignore flags for `occlusion_bin` (None:
    COCO's own flags), reusing the IoUs; then `accumulate()`."""
    p = self.params
    for gts in self._gts.values():
      for g in gts:
        outside = occlusion_bin is not None and not occlusion_bin.contains(g["occlusion"])
        g["ignore"] = int(bool(g.get("iscrowd", 0)) or outside)
    cat_ids = p.catIds if p.useCats else [-1]
    self.evalImgs = [self.evaluateImg(img_id, cat_id, area, p.maxDets[-1])
                     for cat_id in cat_ids for area in p.areaRng for img_id in p.imgIds]
    self.accumulate()


def _summary(evaluator: cocoeval.COCOeval, num_gt: int) -> dict[str, Any]:
  """AP, AP50, AP75 over categories and per category (COCO's `_summarize`, area 'all', the
  largest maxDets); None where no category has ground truth."""
  p = evaluator.params
  precision = evaluator.eval["precision"]  # (T, R, K, A, M)
  area = p.areaRngLbl.index("all")
  max_det = len(p.maxDets) - 1

  def mean(s):
    s = s[s > -1]
    return float(np.mean(s)) if s.size else None

  def stats(k=slice(None)):
    out = {"AP": mean(precision[:, :, k, area, max_det])}
    for name, thr in (("AP50", 0.5), ("AP75", 0.75)):
      t = np.where(np.isclose(p.iouThrs, thr))[0]
      out[name] = mean(precision[t, :, k, area, max_det])
    return out

  return {**stats(), "num_gt": int(num_gt),
          "per_category": {int(c): stats(k) for k, c in enumerate(p.catIds)}}


def _count_in(gt: Mapping[str, Any], occlusion_bin: OcclusionBin | None) -> int:
  return sum(1 for a in gt["annotations"] if not a.get("iscrowd", 0)
             and (occlusion_bin is None or occlusion_bin.contains(a["occlusion"])))


def coco_eval(gt: Mapping[str, Any], results: list[dict[str, Any]], iou_type: str,
              bins: Sequence[OcclusionBin] = ()) -> dict[str, Any]:
  """{'all': summary, 'bins': {name: summary}} of COCO dicts by the `ignore` protocol.

  A summary: AP, AP50, AP75 (None if undefined), num_gt (not ignored) and per_category.
  """
  coco_gt, coco_dt = load_coco(gt, results)
  evaluator = _OcclusionCOCOeval(coco_gt, coco_dt, iou_type)
  with _quiet():
    evaluator.evaluate()
    evaluator.accumulate()
    out = {"all": _summary(evaluator, _count_in(gt, None)), "bins": {}}
    for b in bins:
      evaluator.evaluate_bin(b)
      out["bins"][b.name] = _summary(evaluator, _count_in(gt, b))
  return out


def walt_bin_filter(gt: Mapping[str, Any], results: list[dict[str, Any]], occlusion_bin: OcclusionBin
                    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
  """WALT's per-bin data: the ground truth inside the bin, and the predictions whose box IoU
  with one of it (same image) exceeds WALT_BIN_MATCH_IOU. Mask results without `bbox` use the
  box of their mask."""
  kept = [a for a in gt["annotations"] if occlusion_bin.contains(a["occlusion"])]
  by_image: dict[int, list] = {}
  for a in kept:
    by_image.setdefault(a["image_id"], []).append(a["bbox"])
  out = []
  for r in results:
    boxes = by_image.get(r["image_id"])
    if not boxes:
      continue
    if "bbox" in r:
      box = r["bbox"]
    else:
      box = mask_utils.toBbox(rle.coco_form(r["segmentation"])).tolist()
    if (detection.box_iou([box], boxes) > WALT_BIN_MATCH_IOU).any():
      out.append(r)
  return {**gt, "annotations": kept}, out


def evaluate(truths: Sequence[ImageTruth], predictions: Sequence[ImagePredictions],
             iou_types: Sequence[str] = IOU_TYPES, bins: Sequence[OcclusionBin] | None = None,
             protocol: str = "ignore") -> dict[str, Any]:
  """Amodal AP per iou type: {iou_type: {'all': summary, 'bins': {bin name: summary}}}.

  truths, predictions: one per image, in the same order (image i of each is COCO image i).
  bins: default `all_bins()` (10 % bins and coarse levels). protocol: 'ignore' (default) or
  'walt' (module docstring). Summaries as in `coco_eval`.
  """
  if len(truths) != len(predictions):
    raise ValueError(f"evaluate: {len(truths)} images of truth, {len(predictions)} of predictions")
  if protocol not in PROTOCOLS:
    raise ValueError(f"protocol={protocol!r}: expected one of {PROTOCOLS}")
  bins = all_bins() if bins is None else tuple(bins)
  gt = coco_ground_truth(truths)
  out = {}
  for iou_type in iou_types:
    results = coco_results(predictions, iou_type)
    if protocol == "ignore":
      out[iou_type] = coco_eval(gt, results, iou_type, bins)
      continue
    out[iou_type] = {"all": coco_eval(gt, results, iou_type)["all"], "bins": {}}
    for b in bins:
      gt_b, results_b = walt_bin_filter(gt, results, b)
      out[iou_type]["bins"][b.name] = coco_eval(gt_b, results_b, iou_type)["all"]
  return out
