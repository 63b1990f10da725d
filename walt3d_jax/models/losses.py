"""Losses of the amodal detector (WALT3D section 5), each a (total, count) pair.

`terms(outputs, batch, config)` returns {name: (total, count)}: the sum of a loss over the
batch's objects (or keypoints, or centre cells) and how many there were. `reduce` turns them
into one scalar Σ_k w_k total_k / max(count_k, 1) with the counts summed over a data-parallel
axis, so N devices' per-device losses average to exactly the loss of the global batch (the
step's `pmean` of gradients is then the global gradient). Every term is masked by the padding
mask (`object_valid`) and the object's category, and is finite on images without objects
(a zero total over a zero count).

Terms (the paper's names; weights in config.loss):
  cls          centre heatmap focal loss (CenterNet), per centre
  box          amodal box: L1 of the sides / box size + GIoU, per object
  visible_box  visible box: L1 of the sides / amodal box size, per object
  mask         amodal mask: BCE + Dice at stride 4 against the area-averaged mask, inside the
               cells of the amodal box (YOLACT's crop), per object
  visible_mask the same for the visible mask
  kp           amodal keypoints (all inside the image, visible or not): L1 / box size, per keypoint
  kp_vis       4-state visibility cross-entropy, per keypoint slot the category uses
  kp_conf      confidence BCE against exp(−d²/2σ²) of the keypoint's own error, σ = 0.1 box size
  shape        cars: L1 of α (metres)
  kp2d         cars: reprojection of the shape model's keypoints through the PnP pose against
               the ground-truth 2D keypoints, / box size
  pose         cars: geodesic rotation angle (radians) + ‖t − t*‖₁ / depth*, per valid PnP
  joints3d     people: L1 of root-relative 3D joints (metres)
  joints2d     people: joints (origin at z_b + relative) reprojected vs ground truth, / box size
The 3D terms (shape, kp2d, pose, joints3d, joints2d) are computed only when their weight is
non-zero (the PnP layer runs only then).
"""

from __future__ import annotations

from typing import Mapping

import jax
import jax.numpy as jnp

from walt3d_jax.models import amodal

Terms = dict[str, tuple[jax.Array, jax.Array]]
TERMS_3D = ("shape", "kp2d", "pose", "joints3d", "joints2d")
_EPS = 1e-6


def _box_xyxy(box_xywh: jax.Array) -> jax.Array:
  return jnp.concatenate([box_xywh[..., :2], box_xywh[..., :2] + box_xywh[..., 2:]], -1)


def _size(box_xywh: jax.Array) -> jax.Array:
  """(…, ) a box's scale, sqrt(w·h) pixels, at least 1."""
  return jnp.sqrt(jnp.maximum(box_xywh[..., 2] * box_xywh[..., 3], 1.0))


def _masked(x: jax.Array, mask: jax.Array) -> tuple[jax.Array, jax.Array]:
  mask = mask.astype(jnp.float32)
  return jnp.sum(jnp.where(mask > 0, x, 0.0)), jnp.sum(mask)


# ---------------------------------------------------------------------------------------------
# Targets on the output grid.

def heatmap_target(batch: Mapping[str, jax.Array], h: int, w: int) -> jax.Array:
  """(B, h, w, 2) Gaussian centre targets in [0, 1], exactly 1 at each object's centre cell.

  Elliptical Gaussians (TTFNet): σ = 0.54 · side / 6 per axis in cells, at least 0.5 cell.
  """
  s = amodal.OUTPUT_STRIDE
  box, valid = batch["amodal_box"], batch["object_valid"]
  cell = amodal.centre_cells(box, h, w)
  row, col = (cell // w).astype(jnp.float32), (cell % w).astype(jnp.float32)
  sx = jnp.maximum(0.54 * box[..., 2] / (6 * s), 0.5)
  sy = jnp.maximum(0.54 * box[..., 3] / (6 * s), 0.5)
  ys, xs = jnp.arange(h, dtype=jnp.float32), jnp.arange(w, dtype=jnp.float32)
  g = jnp.exp(-0.5 * (((xs[None, None, None, :] - col[..., None, None]) / sx[..., None, None]) ** 2
                      + ((ys[None, None, :, None] - row[..., None, None]) / sy[..., None, None]) ** 2))
  g = g * valid[..., None, None]  # (B, M, h, w)
  classes = batch["category"][..., None] == jnp.arange(1, amodal.NUM_CLASSES + 1)  # (B, M, C)
  return jnp.max(g[..., None] * classes[:, :, None, None, :], axis=1)


def downsample_masks(masks: jax.Array, h: int, w: int) -> jax.Array:
  """(B, M, H, W) bool → (B, M, h, w) float: the covered fraction of each stride-4 cell."""
  s = amodal.OUTPUT_STRIDE
  b, m, height, width = masks.shape
  x = jnp.pad(masks.astype(jnp.float32), ((0, 0), (0, 0), (0, h * s - height), (0, w * s - width)))
  return x.reshape(b, m, h, s, w, s).mean(axis=(3, 5))


# ---------------------------------------------------------------------------------------------
# 2D terms.

def focal_heatmap(logits: jax.Array, target: jax.Array, alpha: float = 2.0, beta: float = 4.0):
  """CenterNet's penalty-reduced focal loss; count = the number of centre cells."""
  p = jax.nn.sigmoid(logits)
  positive = target >= 1.0 - 1e-4
  pos = -((1 - p) ** alpha) * jax.nn.log_sigmoid(logits)
  neg = -((1 - target) ** beta) * (p ** alpha) * jax.nn.log_sigmoid(-logits)
  return jnp.sum(jnp.where(positive, pos, neg)), jnp.sum(positive.astype(jnp.float32))


def giou(a: jax.Array, b: jax.Array) -> jax.Array:
  """Generalised IoU (…) of boxes [x0, y0, x1, y1] (…, 4)."""
  area = lambda x: jnp.maximum(x[..., 2] - x[..., 0], 0) * jnp.maximum(x[..., 3] - x[..., 1], 0)
  lo, hi = jnp.maximum(a[..., :2], b[..., :2]), jnp.minimum(a[..., 2:], b[..., 2:])
  inter = jnp.prod(jnp.maximum(hi - lo, 0), -1)
  union = area(a) + area(b) - inter
  hull = jnp.prod(jnp.maximum(a[..., 2:], b[..., 2:]) - jnp.minimum(a[..., :2], b[..., :2]), -1)
  return inter / jnp.maximum(union, _EPS) - (hull - union) / jnp.maximum(hull, _EPS)


def box_cells(box_xywh: jax.Array, h: int, w: int) -> jax.Array:
  """(B, M, h, w) float: 1 on the stride-4 cells that overlap the box [x, y, w, h] pixels (B, M, 4)."""
  s = amodal.OUTPUT_STRIDE
  x0, y0 = box_xywh[..., 0, None], box_xywh[..., 1, None]
  x1, y1 = x0 + box_xywh[..., 2, None], y0 + box_xywh[..., 3, None]
  cols, rows = jnp.arange(w, dtype=jnp.float32) * s, jnp.arange(h, dtype=jnp.float32) * s
  in_x = (cols + s > x0) & (cols < x1)  # (B, M, w): cell [c·s, (c + 1)·s) meets [x0, x1)
  in_y = (rows + s > y0) & (rows < y1)
  return (in_y[..., :, None] & in_x[..., None, :]).astype(jnp.float32)


def mask_loss(logits: jax.Array, target: jax.Array, crop: jax.Array, valid: jax.Array):
  """BCE (mean over the crop) + Dice per object, both inside `crop` (the cells of the object's
  amodal box, YOLACT's crop: the decoder cuts masks to the box, and outside it the negatives
  would swamp a small object's few positive cells); logits, target, crop (B, M, h, w); valid (B, M)."""
  bce = jnp.maximum(logits, 0) - logits * target + jnp.log1p(jnp.exp(-jnp.abs(logits)))
  bce = jnp.sum(bce * crop, (-2, -1)) / jnp.maximum(jnp.sum(crop, (-2, -1)), 1.0)
  p = jax.nn.sigmoid(logits) * crop
  dice = 1 - (2 * jnp.sum(p * target, (-2, -1)) + 1) / (jnp.sum(p, (-2, -1)) + jnp.sum(target * crop, (-2, -1)) + 1)
  return _masked(bce + dice, valid)


def keypoint_slots(batch: Mapping[str, jax.Array]) -> jax.Array:
  """(B, M, 17) bool: slots the object's category uses (12 cars, 17 people), valid objects only."""
  return (jnp.arange(amodal.NUM_KEYPOINTS) < batch["num_keypoints"][..., None]) & batch["object_valid"][..., None]


# ---------------------------------------------------------------------------------------------
# 3D terms.

def geodesic_angle(r1: jax.Array, r2: jax.Array) -> jax.Array:
  """(…) radians between rotations (…, 3, 3); differentiable at 0 (a smoothed norm)."""
  rel = jnp.swapaxes(r1, -1, -2) @ r2
  cos = 0.5 * (rel[..., 0, 0] + rel[..., 1, 1] + rel[..., 2, 2] - 1.)
  axis2 = jnp.stack([rel[..., 2, 1] - rel[..., 1, 2], rel[..., 0, 2] - rel[..., 2, 0],
                     rel[..., 1, 0] - rel[..., 0, 1]], -1)
  sin = 0.5 * jnp.sqrt(jnp.sum(axis2 ** 2, -1) + 1e-12)
  return jnp.arctan2(sin, cos)


def car_terms(pred: Mapping[str, jax.Array], batch: Mapping[str, jax.Array], size: jax.Array) -> Terms:
  """shape, kp2d and pose of cars with a ground-truth shape (shape_num > 0)."""
  car = batch["object_valid"] & (batch["category"] == amodal.CAR) & (batch["shape_num"] > 0)
  shape = jnp.sum(jnp.abs(pred["shape"] - batch["shape"]), -1)
  weights = amodal.keypoint_weights(pred["keypoint_states"], pred["keypoint_conf"])
  pose = amodal.car_pose(pred["keypoints"], weights * car[..., None], pred["shape"], batch["K"], batch["plane"])
  ok = car & pose.valid
  cam = jnp.einsum("bnij,bnpj->bnpi", pose.R, amodal.car_keypoints_3d(pred["shape"])) + pose.t[..., None, :]
  uv = amodal.project(batch["K"], cam)
  gt_uv = batch["keypoints"][..., :amodal.NUM_CAR_KEYPOINTS, :]
  seen = batch["keypoint_states"][..., :amodal.NUM_CAR_KEYPOINTS] != amodal.OUTSIDE
  err = jnp.sum(jnp.abs(uv - gt_uv), -1) / size[..., None]
  kp2d = jnp.sum(jnp.where(seen, err, 0.0), -1) / jnp.maximum(jnp.sum(seen, -1), 1)
  depth = jnp.maximum(batch["translation"][..., 2], 1.0)
  rot = geodesic_angle(pose.R, batch["rotation"])
  trans = jnp.sum(jnp.abs(pose.t - batch["translation"]), -1) / depth
  return {"shape": _masked(shape, car), "kp2d": _masked(kp2d, ok), "pose": _masked(rot + trans, ok)}


def person_terms(pred: Mapping[str, jax.Array], batch: Mapping[str, jax.Array], size: jax.Array) -> Terms:
  """joints3d and joints2d of people with 3D (translation in front of the camera)."""
  person = batch["object_valid"] & (batch["category"] == amodal.PERSON) & (batch["translation"][..., 2] > 0)
  rel = batch["keypoints_3d"] - batch["translation"][..., None, :]
  joints3d = jnp.mean(jnp.sum(jnp.abs(pred["joints"] - rel), -1), -1)
  origin = amodal.person_origin(jax.lax.stop_gradient(pred["amodal_box"]), batch["K"], batch["plane"])
  uv = amodal.project(batch["K"], origin[..., None, :] + pred["joints"])
  seen = batch["keypoint_states"] != amodal.OUTSIDE
  err = jnp.sum(jnp.abs(uv - batch["keypoints"]), -1) / size[..., None]
  joints2d = jnp.sum(jnp.where(seen, err, 0.0), -1) / jnp.maximum(jnp.sum(seen, -1), 1)
  return {"joints3d": _masked(joints3d, person), "joints2d": _masked(joints2d, person)}


# ---------------------------------------------------------------------------------------------

def terms(outputs: Mapping[str, jax.Array], batch: Mapping[str, jax.Array],
          weights: Mapping[str, float]) -> Terms:
  """{name: (total, count)} of every term with a non-zero weight (module docstring).

  outputs: the model's dense maps; batch: the input pipeline's dict (jnp arrays; images need
  not be there). Objects are gathered at their amodal centre cells.
  """
  b, h, w = outputs["heatmap"].shape[:3]
  valid = batch["object_valid"]
  box = batch["amodal_box"]
  size = _size(box)
  pred = amodal.gather(outputs, amodal.centre_cells(box, h, w))
  out: Terms = {}
  out["cls"] = focal_heatmap(outputs["heatmap"], heatmap_target(batch, h, w))
  a_gt, v_gt = _box_xyxy(box), _box_xyxy(batch["visible_box"])
  l1 = lambda p, t: jnp.sum(jnp.abs(p - t), -1) / size
  out["box"] = _masked(l1(pred["amodal_box"], a_gt) + 1 - giou(pred["amodal_box"], a_gt), valid)
  out["visible_box"] = _masked(l1(pred["visible_box"], v_gt), valid)
  crop = box_cells(box, h, w)
  for name, index, key in (("mask", 0, "amodal_mask"), ("visible_mask", 1, "visible_mask")):
    if weights.get(name, 0):
      out[name] = mask_loss(pred["mask_logits"][:, :, index], downsample_masks(batch[key], h, w), crop, valid)
  slots = keypoint_slots(batch)
  states = batch["keypoint_states"]
  inside = slots & (states != amodal.OUTSIDE)
  dist = jnp.sum(jnp.abs(pred["keypoints"] - batch["keypoints"]), -1) / size[..., None]
  out["kp"] = _masked(dist, inside)
  log_p = jax.nn.log_softmax(pred["keypoint_states"], -1)
  out["kp_vis"] = _masked(-jnp.take_along_axis(log_p, states[..., None], -1)[..., 0], slots)
  sq = jnp.sum((pred["keypoints"] - batch["keypoints"]) ** 2, -1) / (0.1 * size[..., None]) ** 2
  quality = jax.lax.stop_gradient(jnp.exp(-0.5 * sq))
  conf = pred["keypoint_conf"]
  bce = jnp.maximum(conf, 0) - conf * quality + jnp.log1p(jnp.exp(-jnp.abs(conf)))
  out["kp_conf"] = _masked(bce, inside)
  if any(weights.get(name, 0) for name in ("shape", "kp2d", "pose")):
    out.update(car_terms(pred, batch, size))
  if any(weights.get(name, 0) for name in ("joints3d", "joints2d")):
    out.update(person_terms(pred, batch, size))
  return {name: value for name, value in out.items() if weights.get(name, 0)}


def reduce(terms_: Terms, weights: Mapping[str, float], axis_name: str | None = None
           ) -> tuple[jax.Array, dict[str, jax.Array]]:
  """(loss, {name: mean}) with loss = n · Σ_k w_k total_k / max(Σ_devices count_k, 1).

  n is the size of `axis_name` (1 without one): the per-device losses of a data-parallel step
  then average (`pmean`) to the global batch's loss, and so do their gradients.
  """
  n = 1.0 if axis_name is None else jax.lax.psum(1.0, axis_name)
  loss, means = jnp.zeros((), jnp.float32), {}
  for name, (total, count) in terms_.items():
    count = jax.lax.stop_gradient(count)
    if axis_name is not None:
      count = jax.lax.psum(count, axis_name)
    mean = total / jnp.maximum(count, 1.0)
    means[name] = mean * n
    loss = loss + weights[name] * mean * n
  return loss, means
