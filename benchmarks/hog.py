r"""HOG people (walt3d_jax.timelapse.hog.people_in) on the simulator's unoccluded people and cars.

  .venv/bin/python benchmarks/hog.py [--preset crosswalk] [--seed 1] [--size 960 540]
      [--workdir /tmp/detector_bench]

One sequence of benchmarks/detector.py (the same cache: 12 bursts × 5 frames, day and night).
For every object with occlusion < 0.1, at least 20 px tall and clear of the image border, HOG
searches the image around its true box for people of the box's height. A person counts as found
when a find overlaps its box at IoU >= 0.5; a car counts as a false alarm when anything is found.
Rates per height band and light, against the baseline run in the same process on the same boxes:
OpenCV's HOGDescriptor called as its documentation shows (the default people SVM,
detectMultiScale with its default grouping, winStride 4, padding 8, scale 1.05) on the same crop
at the footage's own scale, which cannot see people under the window's 96 px.

Measured (crosswalk, 960×540, seed 1, 2 shared cores), found / baseline:
  person day   20-40 px 0.45 / 0.00 (n 42), 40-60 px 0.32 / 0.00 (25), >= 60 px 0.52 / 0.26 (31, 2.0×)
  person night 20-40 px 0.00 / 0.00 (26), 40-60 px 0.12 / 0.00 (26), >= 60 px 0.29 / 0.00 (17)
  car (false alarms) by day 0.09 / 0.00, 0.12 / 0.00, 0.02 / 0.02; at night 0.00 / 0.00
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import cv2
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # run as a script

from walt3d_jax.metrics import detection as det_metrics
from walt3d_jax.timelapse import hog

import detector as detector_bench  # the sequence cache, shared with detector.py

BANDS = ((20, 40), (40, 60), (60, 10_000))


def baseline_people(image: np.ndarray, box: np.ndarray, person_px: float) -> np.ndarray:
  """Person boxes (M, 4) xywh that OpenCV's HOG finds, called with its defaults, on the same crop
  as `hog.people_in` at the image's own scale."""
  descriptor = cv2.HOGDescriptor()
  descriptor.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
  x0, y0, x1, y1 = hog.search_window(box, person_px, image.shape)
  crop = np.ascontiguousarray(image[y0:y1, x0:x1])
  crop = cv2.copyMakeBorder(crop, 0, max(0, 128 - crop.shape[0]), 0, max(0, 64 - crop.shape[1]),
                            cv2.BORDER_REPLICATE)
  rects, _ = descriptor.detectMultiScale(crop, winStride=(4, 4), padding=(8, 8), scale=1.05)
  rects = np.asarray(rects, np.float64).reshape(-1, 4)
  fx, fy, fw, fh = hog.PERSON_IN_WINDOW
  return np.stack([rects[:, 0] + fx * rects[:, 2] + x0, rects[:, 1] + fy * rects[:, 3] + y0,
                   fw * rects[:, 2], fh * rects[:, 3]], 1)


def main() -> None:
  parser = argparse.ArgumentParser()
  parser.add_argument("--preset", default="crosswalk")
  parser.add_argument("--seed", type=int, default=1)
  parser.add_argument("--size", type=int, nargs=2, default=(960, 540))
  parser.add_argument("--workdir", default="/tmp/detector_bench")
  args = parser.parse_args()
  args.bursts, args.frames = 12, 5
  root = detector_bench.simulate_once(args.preset, args)
  frames, truth, occlusion, lighting = detector_bench.load_sequence(root)
  width, height = args.size
  config = hog.HogConfig(min_person_px=20.)
  hits: dict[tuple, list[tuple[bool, bool]]] = {}
  for frame, t, occ, light in zip(frames, truth, occlusion, lighting):
    for box, category, o in zip(t.boxes.astype(np.float64), t.categories, occ):
      x, y, w, h = box
      if o >= detector_bench.UNOCCLUDED or h < BANDS[0][0] or x < 1 or y < 1 or x + w > width - 1 or y + h > height - 1:
        continue
      found, _ = hog.people_in(frame.image, box, h, config)
      base = baseline_people(frame.image, box, h)
      if category == 2:
        ours = bool(len(found)) and det_metrics.box_iou(box[None], found).max() >= 0.5
        theirs = bool(len(base)) and det_metrics.box_iou(box[None], base).max() >= 0.5
      else:
        ours, theirs = bool(len(found)), bool(len(base))
      band = next(b for b in BANDS if b[0] <= h < b[1])
      hits.setdefault(("person" if category == 2 else "car", light, band), []).append((ours, theirs))
  print(f"{args.preset} seed {args.seed} {width}x{height}: people found at IoU 0.5 (cars: any find, a false alarm)")
  for key in sorted(hits):
    kind, light, (lo, hi) = key
    ours, theirs = np.mean(hits[key], axis=0)
    label = f"{lo}-{hi} px" if hi < 10_000 else f">= {lo} px"
    ratio = f"{ours / theirs:5.2f}×" if theirs > 0 else "    –"
    print(f"  {kind:6s} {light:5s} {label:9s} n {len(hits[key]):4d}  hog.people_in {ours:.2f}  "
          f"baseline (OpenCV defaults, native scale) {theirs:.2f}  ratio {ratio}")


if __name__ == "__main__":
  main()
