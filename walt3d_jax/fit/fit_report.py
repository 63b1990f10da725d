"""The `fit` job's report: accuracy against the simulator's truth, the headline, the PNG.

`accuracy_vs_truth` scores a bank's fitted rows against the ground_truth.json of the simulated
sequence it was mined from (`truth_path` finds it); `write_report` draws fitted wireframes over
stored crops and a bird's-eye view of every fitted track per bank; `report_headline` is the
summary in two or three lines.
"""

from __future__ import annotations

import collections
import json
import pathlib

import cv2
import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import ml_collections  # noqa: E402
import numpy as np  # noqa: E402

from walt3d_jax.fit import bank_fit  # noqa: E402
from walt3d_jax.formats.coco import Category  # noqa: E402
from walt3d_jax.metrics import detection as detection_metrics  # noqa: E402
from walt3d_jax.shapes import person  # noqa: E402
from walt3d_jax.timelapse import bank as bank_lib  # noqa: E402
from walt3d_jax.viz import overlays  # noqa: E402


# ---- accuracy vs the simulator's truth ---------------------------------------------------------


def truth_path(bank_path: pathlib.Path, config: ml_collections.ConfigDict) -> pathlib.Path | None:
  """config.truth, else ground_truth.json beside the frames named by the summary.json the mine
  job wrote next to the bank; None when there is none (real footage)."""
  if config.truth:
    return pathlib.Path(config.truth)
  summary = bank_path.parent / 'summary.json'
  if not summary.is_file():
    return None
  try:
    frames = json.loads(summary.read_text())['source']['frames']
  except (KeyError, TypeError, ValueError):
    return None
  candidate = pathlib.Path(frames) / 'ground_truth.json'
  return candidate if candidate.is_file() else None


def _rotation_error(Ra: np.ndarray, Rb: np.ndarray) -> np.ndarray:
  """Geodesic angles (N,) radians between rotations (N, 3, 3) (REFERENCE.md)."""
  cos = (np.einsum('nij,nij->n', Ra, Rb) - 1.) / 2.
  return np.arccos(np.clip(cos, -1., 1.))


def accuracy_vs_truth(path: pathlib.Path, truth: pathlib.Path) -> dict[str, dict]:
  """Per class: the bank's fitted rows against the simulator's truth of their frame (matched
  by visible-box IoU ≥ 0.5 within the class): median ground position error (m), median yaw
  error (deg), median rotation error (deg), Acc(π/6), Acc(π/18), median depth error (m)."""
  data = json.loads(truth.read_text())
  by_image = collections.defaultdict(list)
  for ann in data['annotations']:
    by_image[ann['image_id']].append(ann)
  with bank_lib.ObjectBank.open(path) as bank:
    if not len(bank):
      return {}
    rows = bank.read(slice(None), ['frame_index', 'category', 'box', 'fitted', 'rotation',
                                   'ground_pose', 'depth'])
  errors: dict[str, dict[str, list]] = collections.defaultdict(lambda: collections.defaultdict(list))
  for i in np.flatnonzero(rows['fitted']):
    cat = int(rows['category'][i])
    anns = [a for a in by_image.get(int(rows['frame_index'][i]), []) if a['category_id'] == cat]
    if not anns:
      continue
    iou = detection_metrics.box_iou(rows['box'][i][None].astype(np.float64),
                                    np.array([a['bbox'] for a in anns], np.float64))[0]
    best = int(np.argmax(iou))
    if iou[best] < 0.5:
      continue
    ann = anns[best]
    e = errors[Category(cat).name.lower()]
    gp, tp = rows['ground_pose'][i].astype(np.float64), np.asarray(ann['ground_pose'])
    e['position'].append(float(np.hypot(*(gp[:2] - tp[:2]))))
    e['yaw'].append(float(abs(np.angle(np.exp(1j * (gp[2] - tp[2]))))))
    e['rotation'].append(float(_rotation_error(rows['rotation'][i][None].astype(np.float64),
                                               np.asarray(ann['rotation'])[None])[0]))
    e['depth'].append(float(abs(rows['depth'][i] - ann['depth'])))
  out = {}
  for name, e in sorted(errors.items()):
    rot = np.array(e['rotation'])
    out[name] = {
        'matched': len(rot),
        'median_position_m': round(float(np.median(e['position'])), 3),
        'median_yaw_deg': round(float(np.degrees(np.median(e['yaw']))), 2),
        'median_rotation_deg': round(float(np.degrees(np.median(rot))), 2),
        'acc_pi_6': round(float(np.mean(rot < np.pi / 6)), 3),
        'acc_pi_18': round(float(np.mean(rot < np.pi / 18)), 3),
        'median_depth_m': round(float(np.median(e['depth'])), 3),
    }
  return out


# ---- report ------------------------------------------------------------------------------------


def _tile(path: pathlib.Path, row: int, cam: bank_fit._Camera, size: int) -> np.ndarray:
  """The stored crop of `row`, scaled to fit size × size, with its fit drawn over it."""
  with bank_lib.ObjectBank.open(path) as bank:
    r = bank.read(int(row), ['crop', 'crop_box', 'category', 'rotation', 'translation',
                             'keypoints_3d', 'dimensions', 'track_id'])
  crop = bank_lib.decode_crop(r['crop'])
  x0, y0, w, h = (int(v) for v in r['crop_box'])
  scale = size / max(w, h)
  image = cv2.resize(crop, (max(1, round(w * scale)), max(1, round(h * scale))),
                     interpolation=cv2.INTER_LINEAR)
  # The crop's camera: cv2.resize maps pixel centres as u' = s (u - x0 + 0.5) - 0.5.
  to_tile = np.array([[scale, 0., scale * (0.5 - x0) - 0.5],
                      [0., scale, scale * (0.5 - y0) - 0.5], [0., 0., 1.]])
  K = to_tile @ cam.K.astype(np.float64)
  color = overlays.instance_color(int(r['track_id']))
  if int(r['category']) == int(Category.CAR):
    corners = overlays.box_corners(r['dimensions']) @ r['rotation'].T + r['translation']
    image = overlays.draw_wireframe(image, corners, overlays.BOX_EDGES, K, color)
    image = overlays.draw_wireframe(image, r['keypoints_3d'][:bank_fit.NUM_CAR_KEYPOINTS],
                                    bank_fit.CAR_EDGES, K,
                                    (255, 255, 255))
  else:
    image = overlays.draw_wireframe(image, r['keypoints_3d'], person.COCO_SKELETON, K, color, 2)
  canvas = np.full((size, size, 3), 24, np.uint8)
  ih, iw = min(size, image.shape[0]), min(size, image.shape[1])
  canvas[:ih, :iw] = image[:ih, :iw]
  return canvas


def report_headline(summary: dict) -> str:
  """Two or three lines for the report: rows fitted per class, rejections by reason, and the
  accuracy against the simulator's truth when there is one."""
  fitted = ', '.join(f'{name} {c.get("fitted", 0)} of {c.get("rows", 0)} rows fitted'
                     for name, c in summary.get('fitted', {}).items())
  rejected = '; '.join(
      f'{name}: ' + ', '.join(f'{reason} {n}' for reason, n in sorted(reasons.items()))
      for name, reasons in summary.get('rejected', {}).items() if reasons)
  lines = [f'{summary.get("tracks", 0)} tracks: {fitted}',
           f'rejected ({rejected})' if rejected else 'nothing rejected']
  accuracy = summary.get('accuracy_vs_simulator_truth') or {}
  if accuracy:
    lines.append('vs simulator truth: ' + '; '.join(
        f'{name} median position {a["median_position_m"]:.2f} m, yaw {a["median_yaw_deg"]:.1f}°, '
        f'Acc(π/6) {a["acc_pi_6"]:.2f}' for name, a in accuracy.items()
        if 'median_position_m' in a))
  return '\n'.join(lines)


def write_report(out: pathlib.Path,
                 banks: list[tuple[pathlib.Path, list[bank_fit.Fitted], dict, bank_fit._Camera]],
                 config: ml_collections.ConfigDict, summary: dict) -> None:
  """Fitted wireframes over the crops of a few tracks per class, and a bird's-eye view of all
  fitted tracks' ground positions (colour per track) with headings, one panel per bank (the
  first config.report.max_banks banks, default 8)."""
  rng = np.random.default_rng(config.seed)
  banks = banks[:config.report.get('max_banks', 8)]  # a glob may name hundreds
  tiles = []
  for path, fits, rows, cam in banks:
    for cat in (int(Category.CAR), int(Category.PERSON)):
      good = [f for f in fits if f.accepted.any() and int(rows['category'][f.rows[0]]) == cat]
      for k in rng.permutation(len(good))[:config.report.tracks_per_class]:
        f = good[int(k)]
        accepted = f.rows[f.accepted]
        row = int(accepted[len(accepted) // 2])
        tile = _tile(path, row, cam, config.report.tile_size)
        tiles.append(overlays.label(tile, f'{Category(cat).name.lower()} t{int(rows["track_id"][row])}'))
  num_panels = 1 + len(banks)
  fig, axes = plt.subplots(1, num_panels, figsize=(6 * num_panels, 6), squeeze=False)
  axes = axes[0]
  if tiles:
    axes[0].imshow(overlays.grid(tiles, columns=min(4, len(tiles))))
  axes[0].set_title('fits over stored crops (cars: 3D box + keypoints; people: skeleton)')
  axes[0].axis('off')
  for ax, (path, fits, rows, cam) in zip(axes[1:], banks):
    for f in fits:
      if not f.accepted.any():
        continue
      gp = f.columns['ground_pose'][f.accepted]
      tid = int(rows['track_id'][f.rows[0]])
      color = np.array(overlays.instance_color(max(tid, 0))) / 255.
      marker = 'o' if int(rows['category'][f.rows[0]]) == int(Category.CAR) else '^'
      ax.plot(gp[:, 1], gp[:, 0], '-', color=color, lw=1)
      ax.scatter(gp[:, 1], gp[:, 0], color=color, s=8, marker=marker)
      ax.quiver(gp[-1:, 1], gp[-1:, 0], np.sin(gp[-1:, 2]), np.cos(gp[-1:, 2]), color=color,
                angles='xy', scale_units='xy', scale=0.5, width=0.004)
    ax.plot([0], [0], 'k*', ms=10)
    ax.set_xlabel('ground y (m, left of the camera axis)')
    ax.set_ylabel('ground x (m, along the camera axis)')
    ax.invert_xaxis()  # y_g points left: seen from above with the camera at the bottom
    ax.set_aspect('equal', adjustable='datalim')
    ax.set_title(f'{path.parent.name}/{path.name}: bird\'s-eye view (● car, ▲ person; '
                 f'★ camera foot)', fontsize=9)
  fig.suptitle(report_headline(summary), fontsize=8)
  fig.tight_layout()
  out.parent.mkdir(parents=True, exist_ok=True)
  fig.savefig(out, dpi=80)
  plt.close(fig)
