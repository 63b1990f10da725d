"""Object bank: create, append, reopen, random access, 3D updates, schema checks, crops."""

import h5py
import numpy as np
import pytest

from walt3d_jax.formats import rle
from walt3d_jax.timelapse import bank as bank_lib
from walt3d_jax.timelapse.bank import BankError
from walt3d_jax.timelapse.bank import ObjectBank
from walt3d_jax.timelapse.types import Frame
from walt3d_jax.timelapse.types import FrameDetections

W, H = 96, 64
CAMERA = {"K": [[80.0, 0.0, 47.5], [0.0, 80.0, 31.5], [0.0, 0.0, 1.0]], "image_size": [W, H],
          "n": [0.0, -0.8, -0.6], "d": 6.0}


def _frame(index: int, rng) -> Frame:
  return Frame(index, 0.5 * index, rng.integers(0, 256, (H, W, 3), dtype=np.uint8), f"{index}.jpg")


def _detections(index: int, n: int) -> FrameDetections:
  masks, boxes = [], []
  for i in range(n):
    x, y = 5 + 20 * i, 10 + index
    m = np.zeros((H, W), bool)
    m[y:y + 12, x:x + 15] = True
    masks.append(rle.encode_mask(m))
    boxes.append(rle.mask_box(m))
  keypoints = np.zeros((n, 17, 3), np.float32)
  keypoints[:, :12] = np.arange(36, dtype=np.float32).reshape(12, 3) + index
  return FrameDetections(index, boxes, np.linspace(0.6, 0.9, n), [1 + i % 2 for i in range(n)], tuple(masks),
                         keypoints, np.arange(n) + 10 * index)


def _fill(bank, frames: range, n: int, rng) -> list[Frame]:
  out = []
  for index in frames:
    frame = _frame(index, rng)
    records = bank_lib.object_records(frame, _detections(index, n))
    records["occlusion_score"] = np.full(n, 0.25, np.float32)
    records["mining_flags"] = np.full(n, int(bank_lib.MiningFlag.TRUNCATED), np.uint32)
    bank.append(records)
    out.append(frame)
  return out


def test_create_append_reopen_append_and_read(tmp_path):
  rng = np.random.default_rng(0)
  path = tmp_path / "cam.h5"
  with ObjectBank.create(path, CAMERA, (W, H)) as bank:
    assert len(bank) == 0 and bank.read(slice(None))["box"].shape == (0, 4)
    frames = _fill(bank, range(3), 2, rng)
    assert len(bank) == 6
  with ObjectBank.open(path, "a") as bank:
    assert bank.camera == CAMERA and bank.image_size == (W, H)
    frames += _fill(bank, range(3, 5), 3, rng)
    assert len(bank) == 12
  with ObjectBank.open(path) as bank:
    all_rows = bank.read(slice(None))
    np.testing.assert_array_equal(all_rows["frame_index"], [0, 0, 1, 1, 2, 2, 3, 3, 3, 4, 4, 4])
    np.testing.assert_array_equal(all_rows["track_id"], [0, 1, 10, 11, 20, 21, 30, 31, 32, 40, 41, 42])
    np.testing.assert_allclose(all_rows["time"], 0.5 * all_rows["frame_index"])
    # Defaults for columns not given, values for those given.
    assert not all_rows["fitted"].any() and (all_rows["rotation"] == 0).all()
    assert (all_rows["occlusion_score"] == 0.25).all()
    assert (all_rows["keypoint_source"] == bank_lib.KeypointSource.DETECTED).all()
    # Random access in any order, with repeats, equals the full read.
    rows = np.array([11, 0, 7, 7, 3])
    picked = bank.read(rows, ["box", "mask_counts", "keypoints", "crop_box"])
    for name, values in picked.items():
      for k, r in enumerate(rows):
        np.testing.assert_array_equal(values[k], all_rows[name][r])
    one = bank.read(8)
    expected = _detections(3, 3)
    np.testing.assert_array_equal(one["box"], expected.boxes[2])
    np.testing.assert_array_equal(one["keypoints"], expected.keypoints[2])
    assert bank.mask(8) == expected.masks[2]
    np.testing.assert_array_equal(bank.column("category"), all_rows["category"])
    # Crops are the frame's pixels inside crop_box, losslessly.
    for row in (0, 5, 8, 11):
      x, y, w, h = all_rows["crop_box"][row]
      frame = frames[all_rows["frame_index"][row]]
      np.testing.assert_array_equal(bank.crop(row), frame.image[y:y + h, x:x + w])
      bx, by, bw, bh = all_rows["box"][row]
      assert x <= bx and y <= by and x + w >= bx + bw and y + h >= by + bh  # box inside its crop


def test_update_writes_3d_fields_back(tmp_path):
  rng = np.random.default_rng(1)
  with ObjectBank.create(tmp_path / "cam.h5", CAMERA, (W, H)) as bank:
    _fill(bank, range(4), 2, rng)
    rows = [6, 1, 3]
    rotation = np.stack([np.eye(3, dtype=np.float32) * (k + 1) for k in range(3)])
    bank.update(rows, {"fitted": [True] * 3, "rotation": rotation, "depth": [10.0, 11.0, 12.0],
                       "shape": np.ones((3, bank_lib.NUM_SHAPE_SLOTS)), "shape_num": [5, 5, 5],
                       "keypoint_source": [1, 1, 1]})
  with ObjectBank.open(tmp_path / "cam.h5") as bank:
    data = bank.read(slice(None), ["fitted", "rotation", "depth", "shape_num", "keypoint_source", "box"])
    np.testing.assert_array_equal(np.flatnonzero(data["fitted"]), [1, 3, 6])
    np.testing.assert_array_equal(data["depth"][[6, 1, 3]], [10.0, 11.0, 12.0])
    np.testing.assert_array_equal(data["rotation"][[6, 1, 3]], rotation)
    assert (data["depth"][[0, 2, 4, 5, 7]] == 0).all()
    assert (data["keypoint_source"][[1, 3, 6]] == bank_lib.KeypointSource.DERIVED).all()
  with ObjectBank.open(tmp_path / "cam.h5", "a") as bank:
    with pytest.raises(BankError, match="rows repeat"):
      bank.update([1, 1], {"depth": [1.0, 2.0]})
    with pytest.raises(BankError, match="out of range"):
      bank.update([8], {"depth": [1.0]})
    with pytest.raises(BankError, match="2 values for 1 rows"):
      bank.update([0], {"depth": [1.0, 2.0]})


def test_no_nan_or_inf_gets_in(tmp_path):
  rng = np.random.default_rng(2)
  with ObjectBank.create(tmp_path / "cam.h5", CAMERA, (W, H)) as bank:
    _fill(bank, range(1), 2, rng)
    with pytest.raises(BankError, match=r"column 'translation': row 1 has NaN"):
      bank.update([0, 1], {"translation": [[0, 0, 1], [np.nan, 0, 1]]})
    records = bank_lib.object_records(_frame(5, rng), _detections(5, 2))
    records["score"] = np.array([0.5, np.inf], np.float32)
    with pytest.raises(BankError, match=r"column 'score': row 1 has NaN or infinity"):
      bank.append(records)
    assert len(bank) == 2  # nothing half-written
  with h5py.File(tmp_path / "cam.h5") as f:
    for name, dataset in f["objects"].items():
      if dataset.dtype.kind == "f":
        assert np.isfinite(dataset[()]).all(), name


@pytest.mark.parametrize("change, message", [
    (lambda r: r.pop("crop"), "missing required columns \\['crop'\\]"),
    (lambda r: r.update(color=[1, 2]), "unknown columns \\['color'\\]"),
    (lambda r: r.update(box=np.zeros((2, 3))), "column 'box': expected shape \\(2, 4\\)"),
    (lambda r: r.update(track_id=[0.5, 1.5]), "column 'track_id': expected int64"),
    (lambda r: r.update(track_id=[1, 2, 3]), "different lengths"),
    (lambda r: r.update(category=[1, 5]), "column 'category': row 1: must be one of"),
    (lambda r: r.update(mask_size=[[H, W], [H, W + 1]]), "column 'mask_size': row 1"),
    (lambda r: r.update(mask_counts=[r["mask_counts"][0], rle.encode_mask(np.zeros((4, 4), bool))["counts"]]),
     "column 'mask_counts': row 1: RLE covers 16 pixels"),
    (lambda r: r.update(crop_box=[[0, 0, 10, 10], [90, 0, 10, 10]]), "column 'crop_box': row 1"),
    (lambda r: r.update(crop=[bank_lib.encode_crop(np.zeros((3, 4, 3), np.uint8)), r["crop"][1]]),
     "column 'crop': row 0: a 4x3 crop does not match"),
    (lambda r: r.update(keypoint_source=[0, 2]), "keypoint_source"),
    (lambda r: r.update(box=[[0, 0, 1, 1], [0, 0, -1, 1]]), "column 'box': row 1: negative width"),
])
def test_bad_records_are_rejected_with_column_and_row(tmp_path, change, message):
  rng = np.random.default_rng(3)
  with ObjectBank.create(tmp_path / "cam.h5", CAMERA, (W, H)) as bank:
    records = bank_lib.object_records(_frame(0, rng), _detections(0, 2))
    change(records)
    with pytest.raises(BankError, match=message):
      bank.append(records)
    assert len(bank) == 0


def test_images_as_crops_are_encoded(tmp_path):
  rng = np.random.default_rng(4)
  with ObjectBank.create(tmp_path / "cam.h5", CAMERA, (W, H)) as bank:
    records = bank_lib.object_records(_frame(0, rng), _detections(0, 1))
    crop = rng.integers(0, 256, (7, 9, 3), dtype=np.uint8)
    records["crop"], records["crop_box"] = [crop], [[1, 2, 9, 7]]
    bank.append(records)
    np.testing.assert_array_equal(bank.crop(0), crop)


def test_schema_mismatch_is_refused(tmp_path):
  path = tmp_path / "cam.h5"
  ObjectBank.create(path, CAMERA, (W, H)).close()
  with pytest.raises(BankError, match="exists"):
    ObjectBank.create(path, CAMERA, (W, H))
  with h5py.File(path, "r+") as f:
    f.attrs["schema_version"] = 99
  with pytest.raises(BankError, match="schema version 99, this code reads version 1"):
    ObjectBank.open(path, "a")
  ObjectBank.create(path, CAMERA, (W, H), overwrite=True).close()
  with h5py.File(path, "r+") as f:
    del f["objects/box"]
    f["objects"].create_dataset("box", shape=(0, 5), maxshape=(None, 5), dtype=np.float32)
  with pytest.raises(BankError, match=r"column 'box' has per-row shape \(5,\)"):
    ObjectBank.open(path)
  ObjectBank.create(path, CAMERA, (W, H), overwrite=True).close()
  with h5py.File(path, "r+") as f:
    del f["objects/depth"]
  with pytest.raises(BankError, match=r"missing \['depth'\]"):
    ObjectBank.open(path)
  with h5py.File(tmp_path / "other.h5", "w") as f:
    f.attrs["x"] = 1
  with pytest.raises(BankError, match="not an object bank"):
    ObjectBank.open(tmp_path / "other.h5")
  (tmp_path / "text.h5").write_text("hello")
  with pytest.raises(BankError, match="not an HDF5 file"):
    ObjectBank.open(tmp_path / "text.h5")


def test_interrupted_append_is_rolled_back_on_open(tmp_path):
  rng = np.random.default_rng(5)
  path = tmp_path / "cam.h5"
  with ObjectBank.create(path, CAMERA, (W, H)) as bank:
    _fill(bank, range(2), 2, rng)
  with h5py.File(path, "r+") as f:  # an append that resized one column, then died
    f["objects/box"].resize(7, axis=0)
  with ObjectBank.open(path, "a") as bank:
    assert len(bank) == 4
    _fill(bank, range(2, 3), 2, rng)
    np.testing.assert_array_equal(bank.column("frame_index"), [0, 0, 1, 1, 2, 2])
    assert len(bank.column("box")) == 6


def test_backgrounds(tmp_path):
  rng = np.random.default_rng(6)
  path = tmp_path / "cam.h5"
  day = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
  with ObjectBank.create(path, CAMERA, (W, H)) as bank:
    bank.put_background("day", day)
    bank.put_background("night", day // 4)
    bank.put_background("day", day // 2)  # replaces
    with pytest.raises(BankError, match=r"must be \(64, 96, 3\) uint8"):
      bank.put_background("dusk", day[:10])
  with ObjectBank.open(path) as bank:
    assert bank.background_names() == ["day", "night"]
    np.testing.assert_array_equal(bank.background("day"), day // 2)
    with pytest.raises(BankError, match="no background 'dusk'"):
      bank.background("dusk")


def test_crop_box_is_clipped_and_grown():
  np.testing.assert_array_equal(bank_lib.crop_box_of(np.array([10, 10, 20, 10]), (W, H), 0.5), [0, 5, 40, 20])
  np.testing.assert_array_equal(bank_lib.crop_box_of(np.array([90, 60, 10, 10]), (W, H), 0.0), [90, 60, 6, 4])
  np.testing.assert_array_equal(bank_lib.crop_box_of(np.array([95.5, 63.5, 0, 0]), (W, H), 0.0), [95, 63, 1, 1])


def test_read_rejects_unknown_columns_and_rows(tmp_path):
  with ObjectBank.create(tmp_path / "cam.h5", CAMERA, (W, H)) as bank:
    _fill(bank, range(1), 2, np.random.default_rng(7))
    with pytest.raises(BankError, match="no column 'colour'"):
      bank.read(slice(None), ["colour"])
    with pytest.raises(BankError, match="out of range"):
      bank.read([2])
    np.testing.assert_array_equal(bank.read([-1], ["track_id"])["track_id"], [1])
    np.testing.assert_array_equal(bank.read(np.array([False, True]), ["track_id"])["track_id"], [1])
  with pytest.raises(BankError, match="mode must be"):
    ObjectBank.open(tmp_path / "cam.h5", "w")
