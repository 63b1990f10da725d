"""The proposal stage: what it adds, what it leaves, and the shipped network on a street."""

import dataclasses

import numpy as np
import pytest

from walt3d_jax.formats import rle
from walt3d_jax.geometry import camera as camera_lib
from walt3d_jax.metrics import detection as det_metrics
from walt3d_jax.models import occlusion_weights
from walt3d_jax.models import proposal_net
from walt3d_jax.models import proposal_weights
from walt3d_jax.timelapse import detect
from walt3d_jax.timelapse import propose
from walt3d_jax.timelapse.types import FrameDetections


def _dets(boxes, scores=None, categories=None, image_id: int = 0, size=(80, 60)) -> FrameDetections:
  boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
  n = len(boxes)
  return FrameDetections(image_id, boxes, np.full(n, 0.9) if scores is None else scores,
                         np.ones(n, np.int32) if categories is None else categories,
                         propose.box_masks(boxes, size), np.zeros((n, 17, 3)), np.full(n, -1))


@dataclasses.dataclass(frozen=True)
class _Fixed(propose.Proposer):
  """A proposer whose network 'finds' fixed boxes."""

  found: FrameDetections | None = None

  def proposals(self, image, background, image_id=0):
    return dataclasses.replace(self.found, image_id=image_id)


@pytest.fixture(scope="module")
def tiny():
  return proposal_net.create("tiny", 0)


def test_proposals_overlapping_a_detection_are_left_out(tiny):
  found = _dets([[10, 10, 20, 30], [50, 5, 10, 20], [11, 9, 20, 30]], np.array([0.8, 0.6, 0.7]))
  stage = _Fixed(tiny, 0.5, found=found)
  there = _dets([[12, 10, 20, 30]], image_id=7)
  out = stage(np.zeros((60, 80, 3), np.uint8), np.zeros((60, 80, 3), np.uint8), there)
  assert out.image_id == 7 and out.num == 2
  np.testing.assert_array_equal(out.boxes, [[12, 10, 20, 30], [50, 5, 10, 20]])
  np.testing.assert_allclose(out.scores, [0.9, 0.6])
  assert rle.decode_mask(out.masks[1]).sum() == 200  # a proposal's mask is its box
  empty = FrameDetections.empty(3)
  assert stage(np.zeros((60, 80, 3), np.uint8), np.zeros((60, 80, 3), np.uint8), empty).num == 3


def test_box_masks_cover_their_boxes():
  masks = propose.box_masks(np.array([[2.5, 3, 4, 5], [0, 0, 80, 60]]), (80, 60))
  first = rle.decode_mask(masks[0])
  assert first.shape == (60, 80) and first[3:8, 2:7].all() and first.sum() == 25
  assert rle.decode_mask(masks[1]).all()


def test_peaks_are_cut_to_the_image_kept_above_the_threshold_and_deduplicated(monkeypatch, tiny):
  decoded = {"boxes": np.array([[[-5., 10., 30., 40.], [-4., 10., 31., 41.], [70., 50., 95., 70.],
                                 [20., 20., 30., 30.], [np.nan, 0., 5., 5.], [79.5, 0, 90, 10]]], np.float32),
             "scores": np.array([[0.9, 0.8, 0.7, 0.3, 0.95, 0.9]], np.float32),
             "categories": np.array([[1, 2, 2, 1, 1, 1]], np.int32)}
  monkeypatch.setattr(propose, "_decode", lambda *a: decoded)
  image = np.zeros((60, 80, 3), np.uint8)
  out = propose.Proposer(tiny, 0.5).proposals(image, image, 4)
  # The second is the first as a person (suppressed across classes); the fourth is under the
  # threshold; the fifth has no finite box; the last is under 2 px once cut to the image.
  np.testing.assert_allclose(out.boxes, [[0, 10, 30, 30], [70, 50, 10, 10]])
  np.testing.assert_array_equal(out.categories, [1, 2])
  assert out.image_id == 4 and np.isfinite(out.boxes).all()


def test_bad_settings_and_inputs_are_refused(tiny):
  with pytest.raises(ValueError, match="threshold must lie in"):
    propose.Proposer(tiny, 0.0)
  with pytest.raises(ValueError, match=r"must both be \(H, W, 3\)"):
    propose.Proposer(tiny, 0.5).proposals(np.zeros((60, 80, 3), np.uint8), np.zeros((60, 81, 3), np.uint8))


def test_weights_round_trip_and_bad_files_are_refused(tmp_path, tiny):
  arrays = proposal_weights.to_arrays(tiny, 0.4, 480, '{"job": "proposal_net"}')
  path = tmp_path / "p.npz"
  occlusion_weights.save(path, arrays)
  loaded = propose.Proposer.load(path)
  assert loaded.threshold == pytest.approx(0.4) and loaded.model.variant == "tiny" and loaded.input_width == 480
  image = np.random.default_rng(0).integers(0, 255, (40, 64, 3), np.uint8)
  a = proposal_net.decode(tiny(image[None], image[None] // 2), 5)
  b = proposal_net.decode(loaded.model(image[None], image[None] // 2), 5)
  np.testing.assert_allclose(a["scores"], b["scores"], rtol=1e-6)
  with pytest.raises(ValueError, match="threshold 1.5 must lie in"):
    proposal_weights.from_arrays(arrays | {"meta/threshold": np.asarray(1.5)})
  with pytest.raises(ValueError, match="missing"):
    proposal_weights.from_arrays({k: v for k, v in arrays.items() if k != "meta/variant"})
  with pytest.raises(FileNotFoundError, match="build_proposal_net"):
    proposal_weights.load(tmp_path / "none.npz")


def test_shipped_network_finds_the_street_objects_and_nothing_on_an_empty_street(street):
  proposer = propose.Proposer.load()
  recorded = occlusion_weights.training_config(propose.SHIPPED_PATH)
  assert recorded["job"] == "proposal_net"
  found = total = 0
  for image, empty, masks, _ in street:
    true_boxes = np.array([rle.mask_box(m) for m in masks], np.float64).reshape(-1, 4)
    got = proposer.proposals(image, empty)
    if len(true_boxes) and got.num:
      match = det_metrics.greedy_match(det_metrics.box_iou(got.boxes, true_boxes), got.scores, 0.5)
      found += int((match >= 0).sum())
    total += len(true_boxes)
    assert proposer.proposals(empty, empty).num == 0  # the street as its own background
  # Measured (shipped weights of 2026-12-05): 36 of the 45 unoccluded objects of 100 px or more.
  assert total >= 30 and found >= 0.7 * total, (found, total)


def test_wide_frames_are_shrunk_to_the_input_width_and_boxes_scaled_back(monkeypatch, tiny):
  seen = []

  def decode(model, image, background, k):
    seen.append(image.shape)
    return {"boxes": np.array([[[10., 5., 20., 25.]]], np.float32), "scores": np.array([[0.9]], np.float32),
            "categories": np.array([[2]], np.int32)}

  monkeypatch.setattr(propose, "_decode", decode)
  image = np.zeros((120, 160, 3), np.uint8)
  out = propose.Proposer(tiny, 0.5, input_width=40).proposals(image, image)
  assert seen == [(30, 40, 3)]
  np.testing.assert_allclose(out.boxes, [[40, 20, 40, 80]])
  propose.Proposer(tiny, 0.5, input_width=400).proposals(image, image)
  assert seen[-1] == (120, 160, 3)  # narrower frames as they come


def test_a_person_must_stand_as_one_and_a_car_as_any_object(board_box):
  camera = camera_lib.mounted_camera(8., np.deg2rad(25.), np.deg2rad(60.), (640, 360))
  boxes = np.concatenate([
      board_box(camera, 15., 0.6, 1.7),  # a person
      board_box(camera, 15., 0.6, 3.6),  # a lit window, measured standing: too tall for a person
      board_box(camera, 15., 2.0, 1.7),  # too wide for one person
      board_box(camera, 25., 4.5, 1.5),  # a car side-on ...
      board_box(camera, 25., 4.5, 1.5),  # ... called a person
      board_box(camera, 15., 0.6, 0.5),  # too low for anything
  ])
  np.testing.assert_array_equal(propose.stands(boxes, np.array([2, 2, 2, 1, 2, 1]), camera),
                                [True, False, False, True, False, False])
  # Feet above the horizon: no person stands there; a car's box is left to the shape rule, as the detector does.
  level = camera_lib.mounted_camera(8., np.deg2rad(5.), np.deg2rad(60.), (640, 360))
  np.testing.assert_array_equal(propose.stands(np.array([[100., 0., 3., 3.]] * 2), np.array([2, 1]), level),
                                [False, True])


def test_the_chain_gives_its_camera_to_the_proposer_only(tiny):
  camera = camera_lib.mounted_camera(8., np.deg2rad(25.), np.deg2rad(60.), (640, 360))
  chain = detect.Chain((lambda image, background, found: found, propose.Proposer(tiny, 0.5)))
  placed = chain.with_camera(camera)
  assert placed.stages[0] is chain.stages[0] and placed.stages[1].camera is camera
  assert chain.stages[1].camera is None
