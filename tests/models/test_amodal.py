"""The amodal detector: shapes, static shapes under jit, finite losses and gradients (also on
images with no objects), decoding and the person depth z_b."""

import functools

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.train import batches
from walt3d_jax.geometry import plane as plane_lib
from walt3d_jax.models import amodal
from walt3d_jax.models import losses

# Every term, 3D ones through the PnP layer included.
WEIGHTS = dict(cls=1.0, box=1.0, visible_box=0.5, mask=1.0, visible_mask=1.0, kp=1.0, kp_vis=0.5,
               kp_conf=0.5, shape=1.0, kp2d=0.5, pose=1.0, joints3d=1.0, joints2d=0.2)


@functools.partial(nnx.jit)
def loss_and_grads(model, batch):
  def loss_fn(model):
    return losses.reduce(losses.terms(model(batch["image"]), batch, WEIGHTS), WEIGHTS)

  (loss, means), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model)
  return loss, means, grads


@nnx.jit
def detect(model, batch):
  return amodal.decode(model(batch["image"]), batch["K"], batch["plane"], (batches.WIDTH, batches.HEIGHT), 6)


@pytest.fixture(scope="module")
def model():
  return amodal.create("tiny", 0)


@pytest.fixture(scope="module")
def batch():
  b = batches.batch(2, seed=1)
  return {k: jnp.asarray(v) for k, v in b.items() if k not in ("seed", "track_id")}


def test_variants_and_output_shapes(model, batch):
  assert set(amodal.VARIANTS) >= {"tiny", "R18"}
  assert 10_000 < amodal.num_parameters(model) < 100_000
  out = model(batch["image"])
  h, w = -(-batches.HEIGHT // 4), -(-batches.WIDTH // 4)
  P = amodal.VARIANTS["tiny"].prototypes
  assert out["heatmap"].shape == (2, h, w, 2)
  assert out["amodal_ltrb"].shape == out["visible_ltrb"].shape == (2, h, w, 4)
  assert out["mask_coeffs"].shape == (2, h, w, 2, P) and out["prototypes"].shape == (2, h, w, P)
  assert out["keypoints"].shape == (2, h, w, 17, 2) and out["keypoint_states"].shape == (2, h, w, 17, 4)
  assert out["keypoint_conf"].shape == (2, h, w, 17) and out["shape"].shape == (2, h, w, 10)
  assert out["joints"].shape == (2, h, w, 17, 3)
  assert bool(jnp.all(out["amodal_ltrb"] >= 0))
  with pytest.raises(ValueError, match="unknown variant"):
    amodal.create("huge")


def test_losses_and_gradients_finite_with_and_without_objects(model, batch):
  assert int(batch["object_valid"].sum()) > 0
  loss, means, grads = loss_and_grads(model, batch)
  assert set(means) == set(WEIGHTS)
  assert np.isfinite(float(loss)) and all(np.isfinite(float(v)) for v in means.values())
  assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grads))
  assert float(means["pose"]) > 0 and float(means["kp2d"]) > 0  # the PnP terms took part
  empty = dict(batch, object_valid=jnp.zeros_like(batch["object_valid"]))
  loss0, means0, grads0 = loss_and_grads(model, empty)  # same shapes: no recompilation
  assert np.isfinite(float(loss0)) and float(loss0) > 0  # the heatmap's negatives remain
  assert all(float(v) == 0.0 for k, v in means0.items() if k != "cls")
  assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grads0))


def test_decode_has_static_shapes_whatever_the_image(model, batch):
  det = detect(model, batch)
  empty_image = dict(batch, image=jnp.zeros_like(batch["image"]))
  det0 = detect(model, empty_image)
  for k, v in det.items():
    assert v.shape == det0[k].shape and v.shape[:2] == (2, 6), k
    assert bool(jnp.all(jnp.isfinite(v))) if jnp.issubdtype(v.dtype, jnp.floating) else True, k
  assert det["amodal_mask"].shape == (2, 6, batches.HEIGHT, batches.WIDTH)
  assert not bool(jnp.any(det["visible_mask"] & ~det["amodal_mask"]))  # visible ⊆ amodal
  assert set(np.unique(det["category"]).tolist()) <= {1, 2}


def test_person_origin_is_z_b_at_the_box_bottom(batch):
  K, plane = batch["K"][:1], batch["plane"][:1]
  box = jnp.array([[[20.0, 10.0, 30.0, 40.0]]])  # x0, y0, x1, y1: bottom centre (25, 40)
  origin = amodal.person_origin(box, K, plane)
  uv = jnp.array([24.5, 39.5])
  z_b = plane_lib.ray_plane_depth(K[0], plane[0, :3], plane[0, 3], uv)
  np.testing.assert_allclose(origin[0, 0, 2], z_b, rtol=1e-5)
  np.testing.assert_allclose(jnp.dot(plane[0, :3], origin[0, 0]) + plane[0, 3], 0.0, atol=1e-4)  # on the ground
  np.testing.assert_allclose(amodal.project(K, origin[:, :, None])[0, 0, 0], uv, atol=1e-3)


def test_reduce_counts_and_weights():
  terms = {"a": (jnp.float32(6.0), jnp.float32(3.0)), "b": (jnp.float32(0.0), jnp.float32(0.0))}
  loss, means = losses.reduce(terms, {"a": 2.0, "b": 5.0})
  assert float(loss) == 4.0 and float(means["b"]) == 0.0


def test_predict_entries_are_results_the_mining_reader_accepts(tmp_path):
  from walt3d_jax.formats import coco
  from walt3d_jax.models import predict
  from walt3d_jax.timelapse import detections

  k, (iw, ih), (fw, fh) = 3, (40, 30), (80, 60)
  mask = np.zeros((k, ih, iw), bool)
  mask[0, 5:15, 4:20] = True
  mask[1, 10:25, 20:30] = True  # k = 2: a visible mask too; k = 3 has none and is dropped
  det = {"score": np.array([0.9, 0.6, 0.8]), "category": np.array([1, 2, 1]),
         "amodal_box": np.array([[4, 5, 16, 10], [20, 10, 10, 15], [0, 0, 5, 5]], np.float32),
         "amodal_mask": mask, "visible_mask": mask, "keypoints": np.full((k, 17, 2), 10.0, np.float32),
         "keypoint_score": np.full((k, 17), 0.5, np.float32), "keypoint_states": np.zeros((k, 17), int),
         "rotation": np.tile(np.eye(3), (k, 1, 1)), "translation": np.tile([0.0, 1.0, 9.0], (k, 1)),
         "ground_pose": np.zeros((k, 3)), "shape": np.zeros((k, 10)), "keypoints_3d": np.zeros((k, 17, 3)),
         "pose_valid": np.ones(k, bool)}
  out = predict.entries(det, 7, (fw, fh), (iw, ih), 0.5, with_3d=True)
  assert [e["category_id"] for e in out] == [1, 2]
  assert len(out[0]["keypoints"]) == 36 and len(out[1]["keypoints"]) == 51
  assert out[0]["bbox"] == [8.0, 10.0, 32.0, 20.0]  # the visible box at the frame's size
  coco.write_json(out, tmp_path / "detections.json")
  frames = detections.load_detections(tmp_path / "detections.json", image_size=(fw, fh))
  assert list(frames) == [7] and len(frames[7].scores) == 2


def test_box_cells_are_the_stride_cells_a_box_meets():
  s = amodal.OUTPUT_STRIDE
  cells = np.asarray(losses.box_cells(jnp.array([[[s, s, s, s], [s - 1, 0, 2, 1]]], jnp.float32), 3, 4))
  assert cells[0, 0].sum() == 1 and cells[0, 0, 1, 1] == 1  # exactly cell (1, 1)
  np.testing.assert_array_equal(np.argwhere(cells[0, 1]), [[0, 0], [0, 1]])  # straddles columns 0 and 1


def test_mask_loss_sees_only_the_cells_of_the_box():
  rng = np.random.default_rng(0)
  logits = jnp.asarray(rng.normal(size=(1, 1, 6, 6)), jnp.float32)
  target = jnp.asarray(rng.random((1, 1, 6, 6)) > 0.5, jnp.float32)
  crop = jnp.zeros((1, 1, 6, 6)).at[..., 1:4, 2:5].set(1.0)
  valid = jnp.ones((1, 1), bool)
  base = losses.mask_loss(logits, target, crop, valid)[0]
  outside = losses.mask_loss(logits.at[..., 5, :].add(9.0), target.at[..., 0, :].set(1.0), crop, valid)[0]
  inside = losses.mask_loss(logits.at[..., 2, 3].add(9.0), target, crop, valid)[0]
  assert float(outside) == pytest.approx(float(base)) and float(inside) != pytest.approx(float(base))
