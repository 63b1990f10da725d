"""COCO results in and out: the simulator's file loads, malformed entries are named, round trips."""

import copy
import json
import pathlib
import time

import numpy as np
from pycocotools import mask as mask_utils
import pytest

from experiments import simulate as simulate_config
from walt3d_jax.formats import rle
from walt3d_jax.formats.coco import Category
from walt3d_jax.sim import simulate
from walt3d_jax.timelapse import detections as det
from walt3d_jax.timelapse import frames as frames_lib
from walt3d_jax.timelapse.detections import DetectionsError
from walt3d_jax.timelapse.types import FrameDetections

W, H = 320, 180


@pytest.fixture(scope="module")
def sequence(tmp_path_factory) -> pathlib.Path:
  """A tiny simulated sequence: 320×180, one burst of two frames."""
  config = simulate_config.get_config("avenue")
  config.image_size = (W, H)
  config.num_bursts, config.frames_per_burst, config.num_days = 1, 2, 1
  config.num_cars, config.num_people = 6, 4
  config.progress = False
  root = tmp_path_factory.mktemp("seq")
  simulate.simulate_sequence(config, "avenue", 0, root)
  return root


def test_simulator_detections_load(sequence):
  raw = json.loads((sequence / "detections.json").read_text())
  assert raw, "the simulated detector found nothing"
  loaded = det.load_detections(sequence / "detections.json", image_size=(W, H))
  assert sum(d.num for d in loaded.values()) == len(raw)
  assert set(loaded) <= {0, 1}
  first = [r for r in raw if r["image_id"] == min(loaded)]
  d = loaded[min(loaded)]
  np.testing.assert_allclose(d.boxes, [r["bbox"] for r in first], rtol=1e-6)
  assert d.masks[0] == first[0]["segmentation"]
  for i, r in enumerate(first):
    p = len(r["keypoints"]) // 3
    assert p == (12 if r["category_id"] == Category.CAR else 17)
    np.testing.assert_allclose(d.keypoints[i, :p].reshape(-1), r["keypoints"], rtol=1e-6)
    assert not d.keypoints[i, p:].any()
  assert (d.track_ids == -1).all()


def test_simulator_round_trip(sequence, tmp_path):
  loaded = det.load_detections(sequence / "detections.json", image_size=(W, H))
  det.save_detections(tmp_path / "out.json", loaded.values())
  again = det.load_detections(tmp_path / "out.json", image_size=(W, H))
  assert loaded.keys() == again.keys()
  for k in loaded:
    a, b = loaded[k], again[k]
    for field in ("boxes", "scores", "categories", "keypoints", "track_ids"):
      np.testing.assert_array_equal(getattr(a, field), getattr(b, field))  # exact: float32 repr
    assert a.masks == b.masks
  # Same entries as the simulator wrote, up to float formatting.
  raw = json.loads((sequence / "detections.json").read_text())
  out = json.loads((tmp_path / "out.json").read_text())
  assert [(r["image_id"], r["category_id"], r["segmentation"]) for r in raw] == \
      [(r["image_id"], r["category_id"], r["segmentation"]) for r in out]


def test_tracked_detections_round_trip_with_track_ids(sequence, tmp_path):
  loaded = det.load_detections(sequence / "detections.json", image_size=(W, H))
  tracked = [d.with_track_ids(np.arange(d.num) + 100 * d.image_id) for d in loaded.values()]
  det.save_detections(tmp_path / "t.json", tracked)
  again = det.load_detections(tmp_path / "t.json")
  for d in tracked:
    np.testing.assert_array_equal(again[d.image_id].track_ids, d.track_ids)


def test_sequence_reader_matches_ground_truth(sequence):
  truth = json.loads((sequence / "ground_truth.json").read_text())
  reader = frames_lib.SequenceFrames(sequence)
  frames = list(reader)
  assert [f.index for f in frames] == [im["id"] for im in truth["images"]]
  assert [f.time for f in frames] == pytest.approx([im["timestamp"] for im in truth["images"]])
  assert frames[0].image.shape == (H, W, 3) and reader.report.num_skipped == 0


def _mask(x0, y0, x1, y1, size=(W, H)):
  m = np.zeros((size[1], size[0]), bool)
  m[y0:y1, x0:x1] = True
  return m


def _entry(**overrides):
  entry = {
      "image_id": 3, "category_id": 1, "bbox": [10.0, 20.0, 30.0, 15.0], "score": 0.9,
      "segmentation": rle.encode_mask(_mask(10, 20, 40, 35)),
      "keypoints": [float(v) for v in np.arange(36)],
  }
  entry.update(overrides)
  return entry


def _load(tmp_path, results, **kwargs):
  path = tmp_path / "bad.json"
  path.write_text(json.dumps(results))
  return det.load_detections(path, **kwargs)


def _drop(key):
  e = _entry()
  del e[key]
  return e


@pytest.mark.parametrize("entry, field, message", [
    (_drop("bbox"), "bbox", "missing"),
    (_drop("segmentation"), "segmentation", "missing"),
    (_drop("image_id"), "image_id", "missing"),
    (_entry(image_id="3"), "image_id", "expected an int"),
    (_entry(category_id=1.0), "category_id", "expected an int"),
    (_entry(category_id=7), "category_id", "unknown category 7"),
    (_entry(bbox="10 20 30 15"), "bbox", "expected a list of numbers"),
    (_entry(bbox=[10, 20, 30]), "bbox", "expected 4 numbers"),
    (_entry(bbox=[10, 20, True, 15]), "bbox", "expected a list of numbers"),
    (_entry(bbox=[10, 20, -30, 15]), "bbox", "width and height must be > 0"),
    (_entry(bbox=[10, 20, 0, 15]), "bbox", "width and height must be > 0"),
    (_entry(bbox=[-5, 20, 30, 15]), "bbox", "negative corner"),
    (_entry(bbox=[300, 20, 30, 15]), "bbox", "outside the 320x180 image"),
    (_entry(score="high"), "score", "expected a number"),
    (_entry(score=1.5), "score", r"in \[0, 1\]"),
    (_entry(segmentation=rle.encode_mask(_mask(0, 0, 5, 5, size=(160, 90)))), "segmentation.size",
     "does not match the image"),
    (_entry(segmentation={"size": [H, W], "counts": rle.encode_mask(_mask(0, 0, 5, 5, size=(160, 90)))["counts"]}),
     "segmentation.counts", "run lengths sum to"),
    (_entry(segmentation={"size": [H, W], "counts": "a b c"}), "segmentation.counts", "malformed compressed RLE"),
    (_entry(segmentation={"size": [H, W]}), "segmentation", "needs 'size'"),
    (_entry(segmentation={"size": [H, W], "counts": 5}), "segmentation.counts", "expected str"),
    (_entry(segmentation="polygon"), "segmentation", "expected an RLE dict or a list of polygons"),
    (_entry(segmentation=[[1, 2, 3, 4]]), "segmentation", "at least 3 points"),
    (_entry(keypoints=[1.0] * 30), "keypoints", "P = 12 or 17"),
    (_entry(category_id=2, keypoints=[1.0] * 36), "keypoints", "a person needs 17"),
    (_entry(track_id="a"), "track_id", "expected an int"),
])
def test_malformed_entries_are_named(tmp_path, entry, field, message):
  results = [_entry(), _entry(image_id=4), entry]
  with pytest.raises(DetectionsError) as info:
    _load(tmp_path, results, image_size=(W, H))
  text = str(info.value)
  assert "bad.json" in text and "entry 2" in text and f"field '{field}'" in text
  assert info.match(message)


def test_nan_is_rejected_before_json_can_hide_it(tmp_path):
  # json.dumps writes NaN as a bare literal that json.loads accepts: it must not get through.
  with pytest.raises(DetectionsError, match=r"entry 0: field 'bbox': contains NaN"):
    _load(tmp_path, [_entry(bbox=[10, float("nan"), 30, 15])], image_size=(W, H))
  with pytest.raises(DetectionsError, match=r"entry 0: field 'keypoints': contains NaN"):
    _load(tmp_path, [_entry(keypoints=[float("inf")] * 36)], image_size=(W, H))


def test_not_a_list_and_not_json(tmp_path):
  with pytest.raises(DetectionsError, match="expected a list of result entries"):
    _load(tmp_path, {"annotations": []})
  (tmp_path / "broken.json").write_text("[{")
  with pytest.raises(DetectionsError, match="broken.json: not valid JSON"):
    det.load_detections(tmp_path / "broken.json")
  with pytest.raises(DetectionsError, match="entry 0: expected an object"):
    _load(tmp_path, [[1, 2]])


def test_empty_list_is_valid(tmp_path):
  assert _load(tmp_path, []) == {}
  assert det.to_results([FrameDetections.empty(0)]) == []


def test_polygons_are_rasterised(tmp_path):
  square = [10.0, 20.0, 40.0, 20.0, 40.0, 35.0, 10.0, 35.0]
  loaded = _load(tmp_path, [_entry(segmentation=[square])], image_size=(W, H))
  rle_dict = loaded[3].masks[0]
  assert rle_dict["size"] == [H, W] and isinstance(rle_dict["counts"], str)
  mask = rle.decode_mask(rle_dict)
  reference = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects([square], H, W))).astype(bool)
  np.testing.assert_array_equal(mask, reference)
  assert 30 * 15 * 0.9 < mask.sum() < 31 * 16 * 1.1
  with pytest.raises(DetectionsError, match="polygons need the image size"):
    _load(tmp_path, [_entry(segmentation=[square])])


def test_uncompressed_rle_is_compressed(tmp_path):
  m = _mask(10, 20, 40, 35)
  flat = m.T.reshape(-1).astype(int)  # column-major, COCO's order
  edges = np.flatnonzero(np.diff(flat)) + 1
  runs = np.diff(np.concatenate([[0], edges, [flat.size]])).tolist()
  loaded = _load(tmp_path, [_entry(segmentation={"size": [H, W], "counts": runs})], image_size=(W, H))
  assert loaded[3].masks[0] == rle.encode_mask(m)
  with pytest.raises(DetectionsError, match="summing to H"):
    _load(tmp_path, [_entry(segmentation={"size": [H, W], "counts": runs[:-1]})], image_size=(W, H))


def test_bytes_counts_from_python_results():
  entry = _entry()
  entry["segmentation"] = dict(entry["segmentation"], counts=entry["segmentation"]["counts"].encode())
  loaded = det.parse_results([entry], image_size=(W, H))
  assert loaded[3].masks[0] == _entry()["segmentation"]


def test_coco_category_ids_and_names(tmp_path):
  results = [_entry(category_id=3), _entry(category_id=1, keypoints=[0.5] * 51), _entry(category_id=8)]
  with pytest.raises(DetectionsError, match="entry 2: field 'category_id': unknown category 8"):
    _load(tmp_path, results, category_map=det.COCO_CATEGORY_MAP)
  loaded = _load(tmp_path, results, category_map=det.COCO_CATEGORY_MAP, drop_unknown=True)
  np.testing.assert_array_equal(loaded[3].categories, [Category.CAR, Category.PERSON])
  # Written back with COCO's ids when asked.
  assert [r["category_id"] for r in det.to_results(loaded.values(), det.COCO_CATEGORY_MAP)] == [3, 1]
  by_name = _load(tmp_path, results[:2], categories=[{"id": 3, "name": "car"}, {"id": 1, "name": "person"}])
  np.testing.assert_array_equal(by_name[3].categories, [Category.CAR, Category.PERSON])


def test_per_image_sizes(tmp_path):
  results = [_entry(image_id=0, bbox=[150.0, 20.0, 30.0, 15.0], segmentation=rle.encode_mask(_mask(150, 20, 180, 35)))]
  _load(tmp_path, results, image_size={0: (W, H)})
  with pytest.raises(DetectionsError, match="outside the 160x90 image"):
    _load(tmp_path, results, image_size={0: (160, 90)})


def test_compressed_run_lengths_against_pycocotools():
  rng = np.random.default_rng(0)
  for _ in range(50):
    h, w = rng.integers(1, 200, 2)
    m = rng.random((h, w)) < rng.random()
    if rng.random() < 0.5:
      m = np.zeros((h, w), bool)
      m[rng.integers(h):, rng.integers(w):] = True
    runs = det.compressed_run_lengths(mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))["counts"])
    flat = m.T.reshape(-1).astype(int)
    edges = np.flatnonzero(np.diff(flat)) + 1
    expected = np.diff(np.concatenate([[0], edges, [flat.size]])).tolist()
    assert runs.tolist() == ([0] + expected if flat[0] else expected)


def test_load_is_fast_enough(sequence, tmp_path):
  # 2000 entries of 320×180 masks: validation must not dominate a mining run.
  entry = json.loads((sequence / "detections.json").read_text())[0]
  results = [dict(copy.deepcopy(entry), image_id=i // 10) for i in range(2000)]
  (tmp_path / "many.json").write_text(json.dumps(results))
  tic = time.perf_counter()
  loaded = det.load_detections(tmp_path / "many.json", image_size=(W, H))
  assert sum(d.num for d in loaded.values()) == 2000
  assert time.perf_counter() - tic < 5.0
