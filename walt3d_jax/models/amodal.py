"""The amodal detector (WALT3D section 5): one Flax NNX network for amodal boxes, masks,
keypoints and 3D, with static shapes throughout.

  model = amodal.Model(variant="tiny", rngs=nnx.Rngs(0))     # or amodal.create("tiny", seed)
  out = model(images)                                        # dense maps at output stride s
  det = amodal.decode(out, K, plane, max_detections=32)      # fixed k detections per image

Design (docs/design.md, "Learning"): a ResNet-style backbone (basic residual blocks with
GroupNorm, stages at strides 4, 8, 16[, 32]) and a top-down neck that sums every stage back onto
the stride-4 map F. On F, anchor-free centre-based heads (CenterNet) predict, per location:
  heatmap      (B, h, w, 2) logits, one channel per class (car, person): object centres
  amodal_ltrb  (B, h, w, 4) pixels >= 0: distances of the amodal box's sides from the cell centre
  visible_ltrb (B, h, w, 4) pixels, signed (the visible box need not contain the amodal centre)
  mask_coeffs  (B, h, w, 2, P) amodal and visible mask coefficients over P shared prototypes
  prototypes   (B, h, w, P) the prototype maps (YOLACT): mask logits = prototypes · coeffs
  keypoints    (B, h, w, 17, 2) pixels, offsets of the amodal keypoints from the cell centre
  keypoint_states (B, h, w, 17, 4) logits of the 4 states (visible, self-occluded, occluded
               by others, outside the image); keypoint_conf (B, h, w, 17) logits of a keypoint's
               confidence (how close it lands, the PnP weight)
  shape        (B, h, w, 10) car PCA coefficients α, metres (`shapes.car_model`)
  joints       (B, h, w, 17, 3) a person's joints in the camera frame relative to the person's
               origin (the footprint centre on the ground), metres
Cars take 12 of the 17 keypoint slots. Training gathers these maps at each ground-truth
object's centre cell (the batch's fixed max_objects); inference takes the top-k heatmap peaks.

3D: a car's pose is the ground-constrained PnP layer (`models.pnp.pnp_ground_batch`) on its
predicted amodal keypoints (weights: confidence × P(inside the image)) and the shape model's 3D
keypoints of its predicted α; a person's origin is the paper's z_b, the ray through the bottom
centre of the amodal box cut with the ground plane (`geometry.plane.ray_plane_depth`).
"""

from __future__ import annotations

import dataclasses
import functools
import math

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np

from walt3d_jax.geometry import camera as camera_lib
from walt3d_jax.geometry import plane as plane_lib
from walt3d_jax.shapes import car_model as car_model_lib

NUM_CLASSES = 2  # heatmap channel c is category c + 1 (1 car, 2 person)
CAR, PERSON = 1, 2
NUM_KEYPOINTS = 17
NUM_CAR_KEYPOINTS = 12
NUM_STATES = 4  # 0 visible, 1 self-occluded, 2 occluded by others, 3 outside the image
OUTSIDE = 3
NUM_SHAPE = 10  # α components predicted (the stored PCA's count; unused ones are 0 in the data)
OUTPUT_STRIDE = 4
# Person depth z_b is clamped to this range (metres): a box bottom at or above the horizon has
# no ground intersection.
MIN_DEPTH, MAX_DEPTH = 0.5, 300.0


@dataclasses.dataclass(frozen=True)
class Variant:
  """widths, blocks: channels and residual blocks of each backbone stage (strides 4, 8, ...);
  neck: channels of the stride-4 feature map; head: hidden channels of each head;
  prototypes: P mask prototypes."""

  widths: tuple[int, ...]
  blocks: tuple[int, ...]
  neck: int
  head: int
  prototypes: int


# "tiny" trains on 2 CPU cores at 64×48 (~60k parameters); "R18"/"R34" are ResNet-18/34 stages
# for 640×360 on a GPU.
VARIANTS = {
    "tiny": Variant((8, 16, 24), (1, 1, 1), 16, 16, 8),
    "S": Variant((32, 64, 128, 256), (1, 1, 1, 1), 64, 64, 16),
    "R18": Variant((64, 128, 256, 512), (2, 2, 2, 2), 128, 128, 32),
    "R34": Variant((64, 128, 256, 512), (3, 4, 6, 3), 128, 128, 32),
}

# Per-location output channels of each head.
_HEADS = {
    "heatmap": NUM_CLASSES,
    "boxes": 8,
    "keypoints": NUM_KEYPOINTS * (2 + NUM_STATES + 1),
    "shape3d": NUM_SHAPE + NUM_KEYPOINTS * 3,
}
_HEATMAP_PRIOR = 0.05  # initial centre probability: the focal loss starts near its balance


def _groups(channels: int) -> int:
  return math.gcd(channels, 8)


class ResidualBlock(nnx.Module):
  """Basic ResNet block, GroupNorm (per example: data-parallel steps equal one big step)."""

  def __init__(self, cin: int, cout: int, stride: int, *, rngs: nnx.Rngs):
    self.conv1 = nnx.Conv(cin, cout, (3, 3), strides=stride, use_bias=False, rngs=rngs)
    self.norm1 = nnx.GroupNorm(cout, num_groups=_groups(cout), rngs=rngs)
    self.conv2 = nnx.Conv(cout, cout, (3, 3), use_bias=False, rngs=rngs)
    self.norm2 = nnx.GroupNorm(cout, num_groups=_groups(cout), rngs=rngs)
    self.project = (nnx.Conv(cin, cout, (1, 1), strides=stride, use_bias=False, rngs=rngs)
                    if stride != 1 or cin != cout else None)

  def __call__(self, x: jax.Array) -> jax.Array:
    y = jax.nn.relu(self.norm1(self.conv1(x)))
    y = self.norm2(self.conv2(y))
    return jax.nn.relu(y + (x if self.project is None else self.project(x)))


class Backbone(nnx.Module):
  """Stem (3×3 stride-2 conv) and residual stages; returns the stages' maps, strides 4, 8, ...
  in_channels: of the input (3 for RGB images)."""

  def __init__(self, variant: Variant, in_channels: int = 3, *, rngs: nnx.Rngs):
    self.stem = nnx.Conv(in_channels, variant.widths[0], (3, 3), strides=2, rngs=rngs)
    stages, cin = [], variant.widths[0]
    for cout, count in zip(variant.widths, variant.blocks):
      blocks = [ResidualBlock(cin if i == 0 else cout, cout, 2 if i == 0 else 1, rngs=rngs)
                for i in range(count)]
      stages.append(nnx.List(blocks))
      cin = cout
    self.stages = nnx.List(stages)

  def __call__(self, x: jax.Array) -> list[jax.Array]:
    x = jax.nn.relu(self.stem(x))
    maps = []
    for stage in self.stages:
      for block in stage:
        x = block(x)
      maps.append(x)
    return maps


def _resize_to(x: jax.Array, like: jax.Array) -> jax.Array:
  return jax.image.resize(x, x.shape[:1] + like.shape[1:3] + x.shape[3:], "bilinear")


class Neck(nnx.Module):
  """Top-down sum of 1×1 laterals onto the finest (stride-4) map, then a 3×3 conv."""

  def __init__(self, widths: tuple[int, ...], channels: int, *, rngs: nnx.Rngs):
    self.laterals = nnx.List([nnx.Conv(w, channels, (1, 1), rngs=rngs) for w in widths])
    self.out = nnx.Conv(channels, channels, (3, 3), rngs=rngs)

  def __call__(self, maps: list[jax.Array]) -> jax.Array:
    x = self.laterals[-1](maps[-1])
    for lateral, m in zip(self.laterals[-2::-1], maps[-2::-1]):
      x = lateral(m) + _resize_to(x, m)
    return jax.nn.relu(self.out(x))


class Head(nnx.Module):
  """3×3 conv + ReLU + 1×1 conv: (B, h, w, C) → (B, h, w, out)."""

  def __init__(self, cin: int, hidden: int, out: int, *, rngs: nnx.Rngs, bias: float = 0.0):
    self.hidden = nnx.Conv(cin, hidden, (3, 3), rngs=rngs)
    self.out = nnx.Conv(hidden, out, (1, 1), rngs=rngs,
                        bias_init=nnx.initializers.constant(bias))

  def __call__(self, x: jax.Array) -> jax.Array:
    return self.out(jax.nn.relu(self.hidden(x)))


class Model(nnx.Module):
  """Model(variant="tiny", rngs=nnx.Rngs(0))(images uint8 (B, H, W, 3)) -> dict of dense maps
  (module docstring) at stride OUTPUT_STRIDE, h = ⌈H/4⌉, w = ⌈W/4⌉."""

  def __init__(self, variant: str = "tiny", *, rngs: nnx.Rngs):
    if variant not in VARIANTS:
      raise ValueError(f"unknown variant {variant!r}; known: {sorted(VARIANTS)}")
    self.variant = variant
    v = VARIANTS[variant]
    self.backbone = Backbone(v, rngs=rngs)
    self.neck = Neck(v.widths, v.neck, rngs=rngs)
    prior = math.log(_HEATMAP_PRIOR / (1 - _HEATMAP_PRIOR))
    self.heads = nnx.Dict({name: Head(v.neck, v.head, out, rngs=rngs, bias=prior if name == "heatmap" else 0.0)
                           for name, out in _HEADS.items()})
    self.mask_coeffs = Head(v.neck, v.head, 2 * v.prototypes, rngs=rngs)
    self.protonet = Head(v.neck, v.head, v.prototypes, rngs=rngs)
    self.num_prototypes = v.prototypes

  def __call__(self, images: jax.Array) -> dict[str, jax.Array]:
    x = jnp.asarray(images, jnp.float32) * (2.0 / 255.0) - 1.0
    f = self.neck(self.backbone(x))
    b, h, w, _ = f.shape
    s = float(OUTPUT_STRIDE)
    boxes = self.heads["boxes"](f)
    kp = self.heads["keypoints"](f)
    k = NUM_KEYPOINTS
    s3 = self.heads["shape3d"](f)
    return {
        "heatmap": self.heads["heatmap"](f),
        "amodal_ltrb": jax.nn.softplus(boxes[..., :4]) * s * 2.0,
        "visible_ltrb": boxes[..., 4:] * s * 2.0,
        "mask_coeffs": self.mask_coeffs(f).reshape(b, h, w, 2, self.num_prototypes),
        "prototypes": self.protonet(f),
        "keypoints": kp[..., :2 * k].reshape(b, h, w, k, 2) * s * 2.0,
        "keypoint_states": kp[..., 2 * k:(2 + NUM_STATES) * k].reshape(b, h, w, k, NUM_STATES),
        "keypoint_conf": kp[..., (2 + NUM_STATES) * k:],
        "shape": s3[..., :NUM_SHAPE],
        "joints": s3[..., NUM_SHAPE:].reshape(b, h, w, k, 3) * 0.5,
    }


@functools.partial(nnx.jit, static_argnums=(1,))
def _build(key: jax.Array, variant: str) -> Model:
  return Model(variant, rngs=nnx.Rngs(params=key))


def create(variant: str = "tiny", seed: int = 0) -> Model:
  """A freshly initialised model, built under jit (one compilation of all initialisers)."""
  if variant not in VARIANTS:
    raise ValueError(f"unknown variant {variant!r}; known: {sorted(VARIANTS)}")
  return _build(jax.random.key(seed), variant)


def num_parameters(model: nnx.Module) -> int:
  return int(sum(np.prod(x.shape) for x in jax.tree.leaves(nnx.state(model, nnx.Param))))


# ---------------------------------------------------------------------------------------------
# Per-object quantities from the dense maps (shared by the losses and the decoder).

def cell_centres(h: int, w: int) -> jax.Array:
  """(h·w, 2) pixel coordinates (u, v), centres at integers, of the cells' centres."""
  s = OUTPUT_STRIDE
  v, u = jnp.meshgrid(jnp.arange(h), jnp.arange(w), indexing="ij")
  return (jnp.stack([u, v], -1).reshape(-1, 2) + 0.5) * s - 0.5


def centre_cells(amodal_box: jax.Array, h: int, w: int) -> jax.Array:
  """(…,) int flat cell index of the amodal box centre; boxes (…, 4) [x, y, w, h] COCO pixels."""
  s = OUTPUT_STRIDE
  cx = amodal_box[..., 0] + 0.5 * amodal_box[..., 2]
  cy = amodal_box[..., 1] + 0.5 * amodal_box[..., 3]
  col = jnp.clip(jnp.floor(cx / s).astype(jnp.int32), 0, w - 1)
  row = jnp.clip(jnp.floor(cy / s).astype(jnp.int32), 0, h - 1)
  return row * w + col


def gather(outputs: dict[str, jax.Array], cells: jax.Array) -> dict[str, jax.Array]:
  """Per-object predictions at flat cells (B, N): every per-location map → (B, N, ...), boxes
  as absolute [x0, y0, x1, y1] COCO pixels and keypoints as absolute pixels; also `centre`
  (B, N, 2) and `mask_logits` (B, N, 2, h, w) (amodal, visible) at stride 4."""
  b, h, w = outputs["heatmap"].shape[:3]
  take = lambda x: jnp.take_along_axis(x.reshape((b, h * w) + x.shape[3:]),
                                       cells.reshape(cells.shape + (1,) * (x.ndim - 3)), axis=1)
  centre = cell_centres(h, w)[cells]  # (B, N, 2), pixel-centre coordinates
  c = centre + 0.5  # COCO continuous coordinates
  a, v = take(outputs["amodal_ltrb"]), take(outputs["visible_ltrb"])
  corners = lambda d: jnp.concatenate([c - d[..., :2], c + d[..., 2:]], -1)
  coeffs = take(outputs["mask_coeffs"])  # (B, N, 2, P)
  mask_logits = jnp.einsum("bhwp,bnmp->bnmhw", outputs["prototypes"], coeffs)
  return {
      "centre": centre, "amodal_box": corners(a), "visible_box": corners(v),
      "mask_logits": mask_logits,
      "keypoints": centre[..., None, :] + take(outputs["keypoints"]),
      "keypoint_states": take(outputs["keypoint_states"]),
      "keypoint_conf": take(outputs["keypoint_conf"]),
      "shape": take(outputs["shape"]), "joints": take(outputs["joints"]),
  }


def keypoint_weights(keypoint_states: jax.Array, keypoint_conf: jax.Array) -> jax.Array:
  """PnP weights (…, P) in [0, 1]: confidence × P(inside the image) from the logits."""
  inside = 1.0 - jax.nn.softmax(keypoint_states, -1)[..., OUTSIDE]
  return jax.nn.sigmoid(keypoint_conf) * inside


@functools.lru_cache(maxsize=None)
def car_shape_model() -> car_model_lib.CarShapeModel:
  """The PCA car model with all NUM_SHAPE components (numpy arrays: constants under jit)."""
  with jax.ensure_compile_time_eval():  # first called under a trace: keep it concrete
    m = car_model_lib.load_car_model(NUM_SHAPE)
  return car_model_lib.CarShapeModel(*(np.asarray(a) for a in m))


def car_keypoints_3d(alpha: jax.Array) -> jax.Array:
  """(…, 12, 3) object-frame metres of shape coefficients α (…, 10)."""
  return car_model_lib.keypoints_from_shape(car_shape_model(), alpha)


def car_pose(keypoints: jax.Array, weights: jax.Array, alpha: jax.Array, K: jax.Array,
             plane: jax.Array):
  """Ground-constrained PnP of cars (B, N): keypoints (B, N, ≥12, 2) pixels, weights (B, N, ≥12),
  alpha (B, N, 10), K (B, 3, 3), plane (B, 4). Returns `pnp.GroundPnPResult` with (B, N) leading
  axes (R, t object → camera, x, y, yaw, cost, valid)."""
  from walt3d_jax.models import pnp  # the PnP layer (models/pnp.py)

  b, n = alpha.shape[:2]
  flat = lambda x: x.reshape((b * n,) + x.shape[2:])
  rep = lambda x: jnp.repeat(x, n, axis=0)
  result = pnp.pnp_ground_batch(
      flat(car_keypoints_3d(alpha)), flat(keypoints[..., :NUM_CAR_KEYPOINTS, :]),
      flat(weights[..., :NUM_CAR_KEYPOINTS]), rep(K), rep(plane[:, :3]), rep(plane[:, 3]))
  return jax.tree.map(lambda x: x.reshape((b, n) + x.shape[1:]), result)


def person_origin(amodal_box: jax.Array, K: jax.Array, plane: jax.Array) -> jax.Array:
  """(B, N, 3) camera-frame metres: the ground point under the bottom centre of the amodal box
  [x0, y0, x1, y1] (B, N, 4), at the paper's depth z_b (clamped to [MIN_DEPTH, MAX_DEPTH])."""
  uv = jnp.stack([0.5 * (amodal_box[..., 0] + amodal_box[..., 2]), amodal_box[..., 3]], -1) - 0.5
  Kb = K[:, None]
  z = plane_lib.ray_plane_depth(Kb, plane[:, None, :3], plane[:, None, 3], uv)
  z = jnp.where(jnp.isfinite(z) & (z > 0), z, MAX_DEPTH)
  z = jnp.clip(z, MIN_DEPTH, MAX_DEPTH)
  return camera_lib.pixel_rays(Kb, uv) * z[..., None]


def project(K: jax.Array, points: jax.Array) -> jax.Array:
  """Pixels (B, N, P, 2) of camera-frame points (B, N, P, 3); depths clamped at MIN_DEPTH."""
  p = jnp.einsum("bij,bnpj->bnpi", K, points)
  return p[..., :2] / jnp.maximum(p[..., 2:], MIN_DEPTH)


# ---------------------------------------------------------------------------------------------
# Inference: fixed top-k decoding.

def decode(outputs: dict[str, jax.Array], K: jax.Array, plane: jax.Array, image_size: tuple[int, int],
           max_detections: int = 32, with_3d: bool = True) -> dict[str, jax.Array]:
  """Top-k detections per image (static k = max_detections), everything (B, k, ...):
  score, category (1 car, 2 person), amodal_box / visible_box [x, y, w, h] COCO pixels,
  amodal_mask / visible_mask (B, k, H, W) bool (image_size = (W, H)), keypoints (17, 2),
  keypoint_states (17,) int, keypoint_score (17,), shape α (10,), and with_3d: rotation (3, 3),
  translation (3,), ground_pose (3,) [x, y, yaw] (cars, NaN-free; pose_valid), keypoints_3d
  (17, 3) camera frame (cars: the shape model's 12 posed; people: origin + joints)."""
  heat = jax.nn.sigmoid(outputs["heatmap"])
  b, h, w, c = heat.shape
  peak = nnx.max_pool(heat, (3, 3), strides=(1, 1), padding="SAME")
  heat = jnp.where(heat == peak, heat, 0.0)
  score, index = jax.lax.top_k(heat.reshape(b, -1), max_detections)
  cells, category = index // c, index % c + 1
  det = gather(outputs, cells)
  width, height = image_size
  clip_box = lambda box: jnp.stack([jnp.clip(box[..., 0], 0, width), jnp.clip(box[..., 1], 0, height),
                                    jnp.clip(box[..., 2], 0, width), jnp.clip(box[..., 3], 0, height)], -1)
  amodal, visible = clip_box(det["amodal_box"]), clip_box(det["visible_box"])
  # Cell i's centre is pixel (i + ½)·s − ½: a resize to the grid's own extent (h·s, w·s) keeps
  # that, then the crop drops the padding rows and columns past the image.
  s = OUTPUT_STRIDE
  logits = jax.image.resize(det["mask_logits"], (b, max_detections, 2, h * s, w * s), "bilinear")[..., :height, :width]
  u = jnp.arange(width) + 0.5
  v = jnp.arange(height) + 0.5
  inside = lambda box: ((u[None, None, None, :] >= box[..., 0, None, None]) & (u[None, None, None, :] <= box[..., 2, None, None])
                        & (v[None, None, :, None] >= box[..., 1, None, None]) & (v[None, None, :, None] <= box[..., 3, None, None]))
  amodal_mask = (logits[:, :, 0] > 0) & inside(amodal)
  visible_mask = (logits[:, :, 1] > 0) & amodal_mask
  is_car = (category == CAR)[..., None]
  slots = jnp.arange(NUM_KEYPOINTS) < jnp.where(is_car, NUM_CAR_KEYPOINTS, NUM_KEYPOINTS)
  states = jnp.where(slots, jnp.argmax(det["keypoint_states"], -1), OUTSIDE)
  kp_score = jnp.where(slots, keypoint_weights(det["keypoint_states"], det["keypoint_conf"]), 0.0)
  xywh = lambda box: jnp.concatenate([box[..., :2], box[..., 2:] - box[..., :2]], -1)
  out = {
      "score": score, "category": category, "amodal_box": xywh(amodal), "visible_box": xywh(visible),
      "amodal_mask": amodal_mask, "visible_mask": visible_mask, "keypoints": det["keypoints"],
      "keypoint_states": states, "keypoint_score": kp_score, "shape": det["shape"],
  }
  if with_3d:
    pose = car_pose(det["keypoints"], kp_score, det["shape"], K, plane)
    origin = person_origin(det["amodal_box"], K, plane)
    car_kp = jnp.einsum("bnij,bnpj->bnpi", pose.R, car_keypoints_3d(det["shape"])) + pose.t[:, :, None]
    car_kp = jnp.pad(car_kp, ((0, 0), (0, 0), (0, NUM_KEYPOINTS - NUM_CAR_KEYPOINTS), (0, 0)))
    person_kp = origin[:, :, None] + det["joints"]
    out.update(
        rotation=jnp.where(is_car[..., None], pose.R, jnp.eye(3)),
        translation=jnp.where(is_car, pose.t, origin),
        ground_pose=jnp.stack([pose.x, pose.y, pose.yaw], -1) * is_car,
        pose_valid=jnp.where(is_car[..., 0], pose.valid, True),
        keypoints_3d=jnp.where(is_car[..., None], car_kp, person_kp),
    )
  return out
