"""The proposal network's training: windows and their boxes, flips, the loss, a tiny build."""

import json

import cv2
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import proposal_net as proposal_config
from walt3d_jax import launch
from walt3d_jax.models import amodal
from walt3d_jax.models import build_proposal_net
from walt3d_jax.models import occlusion_weights
from walt3d_jax.models import proposal_net
from walt3d_jax.timelapse import propose
from walt3d_jax.timelapse import proposal_data
from walt3d_jax.train import proposals


def _painted_frames(num: int = 3, seed: int = 0) -> proposal_data.Frames:
  """Frames 96×120 with a few objects painted white on grey, their boxes the painted rectangles."""
  rng = np.random.default_rng(seed)
  images = np.full((num, 96, 120, 3), 80, np.uint8)
  boxes, categories = [], []
  for i in range(num):
    b = []
    for _ in range(int(rng.integers(1, 4))):
      w, h = int(rng.integers(6, 30)), int(rng.integers(6, 30))
      x, y = int(rng.integers(0, 120 - w)), int(rng.integers(0, 96 - h))
      images[i, y:y + h, x:x + w] = 255
      b.append((x, y, w, h))
    boxes.append(np.array(b, np.float32))
    categories.append(rng.integers(1, 3, len(b)).astype(np.int32))
  return proposal_data.Frames(images, np.full_like(images, 80), boxes, categories, ["day"] * num)


def _painted_boxes(window: np.ndarray) -> np.ndarray:
  """Boxes (K, 4) xywh of the white pixels' connected rectangles in a window (S, S, 3)."""
  count, _, stats, _ = cv2.connectedComponentsWithStats((window[..., 0] == 255).astype(np.uint8))
  return np.array(sorted(stats[1:, :4].tolist()), np.float32).reshape(-1, 4)


def test_window_boxes_are_where_the_objects_show():
  frames = _painted_frames(4)
  batch = proposals.patches(frames, np.random.default_rng(1), 16, 48, 8)
  whole = 0
  for b in range(16):
    kept = batch["boxes"][b][batch["valid"][b]]
    shown = _painted_boxes(batch["images"][b])
    # Every kept box is a painted rectangle as the window shows it (objects that overlap merge
    # in the picture, so compare kept boxes against the painted ones they lie in) ...
    for box in kept:
      x0, y0 = box[:2]
      x1, y1 = box[:2] + box[2:]
      assert any(x0 >= s[0] - 1e-4 and y0 >= s[1] - 1e-4 and x1 <= s[0] + s[2] + 1e-4 and y1 <= s[1] + s[3] + 1e-4
                 for s in shown), (box, shown)
      assert (batch["images"][b][int(y0):int(y1), int(x0):int(x1)] == 255).all()
    # ... and every object the window shows whole is kept, with its box.
    for s in shown:
      if s[0] > 0 and s[1] > 0 and s[0] + s[2] < 48 and s[1] + s[3] < 48 and len(shown) == 1:
        whole += 1
        assert any(np.allclose(box, s, atol=1e-4) for box in kept), (s, kept)
  assert whole >= 3


def test_a_flipped_window_flips_its_boxes():
  frames = _painted_frames(3, seed=2)
  batch = proposals.patches(frames, np.random.default_rng(3), 8, 48, 8)
  flipped = proposals.flip({k: jnp.asarray(v) for k, v in batch.items()}, jnp.ones(8, bool))
  for b in range(8):
    for box, ok in zip(np.asarray(flipped["boxes"][b]), batch["valid"][b]):
      if ok:
        x0, y0, w, h = box.astype(int)
        assert (np.asarray(flipped["images"][b])[y0:y0 + h, x0:x0 + w] == 255).all()
  np.testing.assert_array_equal(np.asarray(flipped["images"]), batch["images"][:, :, ::-1])


def test_a_window_larger_than_the_frames_is_refused():
  with pytest.raises(ValueError, match="exceeds the frames"):
    proposals.patches(_painted_frames(1), np.random.default_rng(0), 1, 128, 4)


def test_the_box_loss_is_zero_for_the_true_boxes_and_the_focal_loss_lowest_at_the_targets():
  boxes = np.array([[[10., 12., 20., 30.], [40., 8., 12., 10.]]], np.float32)
  batch = {"boxes": jnp.asarray(boxes), "categories": jnp.array([[1, 2]]), "valid": jnp.array([[True, True]])}
  h = w = 16
  cells = np.asarray(amodal.centre_cells(jnp.asarray(boxes), h, w))[0]
  centres = np.asarray(amodal.cell_centres(h, w))
  ltrb = np.ones((1, h * w, 4), np.float32)
  for c, (x, y, bw, bh) in zip(cells, boxes[0]):
    u, v = centres[c]
    ltrb[0, c] = (u - x, v - y, x + bw - u, y + bh - v)
  target = np.asarray(proposals.losses.heatmap_target(
      {"amodal_box": batch["boxes"], "object_valid": batch["valid"].astype(jnp.float32),
       "category": batch["categories"]}, h, w))
  exact = np.log(np.clip(target, 1e-4, 1 - 1e-4) / np.clip(1 - target, 1e-4, 1))
  good = proposals.loss_terms({"heatmap": jnp.asarray(exact), "ltrb": jnp.asarray(ltrb.reshape(1, h, w, 4))}, batch)
  bad = proposals.loss_terms({"heatmap": jnp.zeros((1, h, w, 2)), "ltrb": jnp.ones((1, h, w, 4))}, batch)
  assert float(good["box"]) < 1e-5 and float(bad["box"]) > 0.5
  assert float(good["heatmap"]) < 0.2 * float(bad["heatmap"])


def test_a_tiny_network_builds_scores_itself_and_loads(tmp_path):
  config = proposal_config.get_config("tiny")
  assert config.job in launch.JOBS
  path = tmp_path / "proposal_net.npz"
  summary = build_proposal_net.build(config, path, cache_dir=tmp_path / "sim")
  proposer = propose.Proposer.load(path)
  assert proposer.model.variant == "tiny" and proposer.threshold == summary["threshold"]
  assert summary["threshold"] in config.eval.thresholds
  recorded = occlusion_weights.training_config(path)
  assert recorded["job"] == "proposal_net" and recorded["cache_dir"] == ""
  for split in ("val", "test"):
    scores = summary[split]["all"]
    assert 0.0 <= scores["precision"] <= 1.0 and 0.0 <= scores["recall"] <= 1.0
    assert scores["tp"] + scores["fn"] > 0  # the scenes have objects to find
  assert summary["train"]["step"] == config.train.steps and summary["frames"]["train"] > 0
  json.dumps(summary)  # the job's results.json


def test_unknown_config_argument_is_refused():
  with pytest.raises(ValueError, match="unknown argument 'huge'; known: tiny"):
    proposal_config.get_config("huge")
