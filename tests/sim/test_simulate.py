"""End-to-end checks of the simulator's ground truth: self-consistent, reproducible, readable."""

import json
import pathlib

import numpy as np
from pycocotools.coco import COCO
import pytest

from experiments import simulate as simulate_config
from walt3d_jax.formats import rle
from walt3d_jax.formats.coco import Category
from walt3d_jax.formats.coco import KeypointState
from walt3d_jax.geometry import camera as camera_lib
from walt3d_jax.geometry import footprint
from walt3d_jax.geometry import plane
from walt3d_jax.geometry import pose as pose_lib
from walt3d_jax.shapes import person
from walt3d_jax.sim import presets
from walt3d_jax.sim import render
from walt3d_jax.sim import simulate


def tiny_config(preset, **overrides):
  config = simulate_config.get_config(preset)
  config.image_size = (320, 180)
  config.num_bursts, config.frames_per_burst, config.num_days = 2, 3, 1
  config.num_cars, config.num_people = 10, 8
  config.progress = False
  config.update(overrides)
  return config


@pytest.fixture(scope="module", params=sorted(presets.PRESETS))
def simulated(request):
  config = tiny_config(request.param)
  scene = simulate.prepare_scene(config, request.param)
  return scene, list(simulate.simulate_frames(config, scene, 0))


def test_masks_partition_the_rendered_foreground(simulated):
  _, frames = simulated
  assert sum(len(f.agents) for f in frames) > 0
  for frame in frames:
    ids = frame.rendered.ids
    union = np.zeros(ids.shape, bool)
    for truth in frame.truths:
      assert not (truth.visible_mask & ~truth.amodal_mask).any(), "visible ⊄ amodal"
      assert not (union & truth.visible_mask).any(), "visible masks overlap"
      union |= truth.visible_mask
      if truth.amodal_mask.any():
        np.testing.assert_allclose(truth.occlusion, truth.occluded_by_objects + truth.occluded_by_scenery, atol=1e-9)
    np.testing.assert_array_equal(union, (ids >= 0) & (ids < render.STATIC_ID_BASE))


def test_keypoint_states_agree_with_the_zbuffer(simulated):
  scene, frames = simulated
  K, (width, height) = scene.K, scene.image_size
  checked = 0
  for frame in frames[::2]:
    for index, (agent, truth) in enumerate(zip(frame.agents, frame.truths)):
      # The agent's own z-buffer, rasterised alone: nothing else can hide its keypoints there.
      alone, _ = render.rasterize_depth_ids(agent.mesh_vertices[agent.mesh_faces], K, width, height)
      for k, state in enumerate(truth.keypoint_states):
        u, v = truth.keypoints_uv[k]
        if state == KeypointState.OUTSIDE_IMAGE:
          assert not (-0.5 <= u < width - 0.5 and -0.5 <= v < height - 0.5)
          continue
        col, row = int(np.rint(u)), int(np.rint(v))
        limit = agent.keypoints[k, 2] - agent.keypoint_tolerance[k]
        if alone[row, col] < limit:
          expected = KeypointState.SELF_OCCLUDED
        elif frame.rendered.depth[row, col] < limit:
          expected = KeypointState.OCCLUDED_BY_OTHERS
          assert frame.rendered.ids[row, col] != index
        else:
          expected = KeypointState.VISIBLE
        assert state == expected, (agent.track_id, k)
        checked += 1
  assert checked > 20


def _footprints(agents):
  """Footprints in the agents' order: cars as rectangles, people as discs."""
  is_disc = np.array([a.category == Category.PERSON for a in agents])
  half = np.array([a.dimensions[:2] for a in agents], np.float32) / 2
  half[is_disc] = person.PERSON_FOOTPRINT_RADIUS
  return footprint.Footprints(
      centre=np.array([a.ground_pose[:2] for a in agents], np.float32),
      yaw=np.array([a.ground_pose[2] for a in agents], np.float32), half_size=half, is_disc=is_disc)


def test_no_two_agents_footprints_intersect(simulated):
  _, frames = simulated
  slots = 64  # one padded shape, so pairwise_overlap compiles once
  for frame in frames:
    if len(frame.agents) > 1:
      fp = _footprints(frame.agents + [frame.agents[0]] * (slots - len(frame.agents)))
      valid = np.arange(slots) < len(frame.agents)
      assert not np.asarray(footprint.pairwise_overlap(fp, valid)).any()
      # The check can fail: the first padding slot (a copy of agent 0) overlaps agent 0.
      assert np.asarray(footprint.pairwise_overlap(fp, np.arange(slots) <= len(frame.agents)))[0].any()


@pytest.fixture(scope="module")
def written(tmp_path_factory):
  root = tmp_path_factory.mktemp("sim")
  config = tiny_config("intersection")
  simulate.simulate_sequence(config, "intersection", 0, root / "a")
  simulate.simulate_sequence(config, "intersection", 0, root / "b")
  return root


def test_same_seed_gives_byte_identical_output(written):
  files_a = sorted(p.relative_to(written / "a") for p in (written / "a").rglob("*") if p.is_file())
  files_b = sorted(p.relative_to(written / "b") for p in (written / "b").rglob("*") if p.is_file())
  assert files_a == files_b and len(files_a) > 6
  for rel in files_a:
    assert (written / "a" / rel).read_bytes() == (written / "b" / rel).read_bytes(), rel


def test_another_seed_gives_other_frames(written, tmp_path):
  config = tiny_config("intersection", seed=1, num_bursts=1, frames_per_burst=1)
  simulate.simulate_sequence(config, "intersection", 0, tmp_path)
  assert (tmp_path / "frames/000000.jpg").read_bytes() != (written / "a/frames/000000.jpg").read_bytes()


def test_written_files_load_with_pycocotools_and_camera_json_recovers_poses(written):
  root = written / "a"
  gt = COCO(str(root / "ground_truth.json"))
  assert gt.getCatIds() == [Category.CAR, Category.PERSON]
  anns = gt.loadAnns(gt.getAnnIds())
  assert anns
  dets = gt.loadRes(str(root / "detections.json"))
  assert len(dets.getAnnIds()) > 0
  camera = camera_lib.load_camera(root / "camera.json")
  K = np.asarray(camera.K, np.float64)
  R_cg, t_cg = plane.ground_frame(camera.normal, camera.offset)
  for ann in anns:
    mask = gt.annToMask(ann).astype(bool)
    np.testing.assert_array_equal(mask, rle.decode_mask(ann["segmentation"]))
    assert ann["area"] == mask.sum()
    assert not (mask & ~rle.decode_mask(ann["amodal_segmentation"])).any()
    x, y, yaw = ann["ground_pose"]
    R, t = pose_lib.ground_pose_to_camera(R_cg, t_cg, x, y, yaw)
    np.testing.assert_allclose(R, ann["rotation"], atol=1e-4)
    np.testing.assert_allclose(t, ann["translation"], atol=1e-3)
    X = np.asarray(ann["keypoints_3d"])
    uv = X @ K.T
    uv = uv[:, :2] / uv[:, 2:]
    np.testing.assert_allclose(uv, np.asarray(ann["keypoints"]).reshape(-1, 3)[:, :2], atol=2e-3)
    assert len(ann["keypoint_states"]) == (12 if ann["category_id"] == Category.CAR else 17)
    if ann["category_id"] == Category.CAR:
      assert len(ann["shape"]) == 5
  text = (root / "ground_truth.json").read_text()
  assert "NaN" not in text and "Infinity" not in text
  images = json.loads(text)["images"]
  assert [im["id"] for im in images] == list(range(len(images)))
  assert all((root / im["file_name"]).exists() for im in images)


def test_culling_agents_out_of_view_changes_nothing(written, tmp_path, monkeypatch):
  monkeypatch.setattr(simulate, "_may_be_in_view", lambda *args: True)
  simulate.simulate_sequence(tiny_config("intersection"), "intersection", 0, tmp_path)
  for name in ("ground_truth.json", "detections.json", "frames/000004.jpg"):
    assert (tmp_path / name).read_bytes() == (written / "a" / name).read_bytes(), name
