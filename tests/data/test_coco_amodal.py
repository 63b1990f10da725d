"""The COCO-amodal export loads with pycocotools and scores a perfect detection perfectly."""

import contextlib
import io
import json

import cv2
import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from tests.data import synthetic
from walt3d_jax.clipart import example as example_lib
from walt3d_jax.formats import coco
from walt3d_jax.data import coco_amodal
from walt3d_jax.formats import rle


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
  examples = [synthetic.make_example(seed=s, num=3) for s in range(3)]
  out = tmp_path_factory.mktemp("coco")
  # Records (as tfds.data_source returns, text as bytes) and ClipartExamples export alike.
  records = [example_lib.to_features(e) for e in examples[1:]]
  for r in records:
    r["key"], r["mode"] = r["key"].encode(), r["mode"].encode()
  path = coco_amodal.export([examples[0], *records], out)
  with contextlib.redirect_stdout(io.StringIO()):
    api = COCO(str(path))
  return examples, path, api


def test_loads_with_pycocotools_and_masks_match(exported):
  examples, path, api = exported
  assert len(api.getImgIds()) == 3 and len(api.getAnnIds()) == 9
  assert {c["name"] for c in api.loadCats(api.getCatIds())} == {"car", "person"}
  for image_id, ex in zip(sorted(api.getImgIds()), examples):
    anns = api.loadAnns(api.getAnnIds(imgIds=[image_id]))
    for i, ann in enumerate(anns):
      np.testing.assert_array_equal(api.annToMask(ann).astype(bool), ex.objects.visible_mask[i])
      np.testing.assert_array_equal(rle.decode_mask(ann["amodal_segmentation"]), ex.objects.amodal_mask[i])
      assert ann["a_segm"] == ann["amodal_segmentation"] and ann["i_segm"] == ann["segmentation"]
      assert ann["area"] == ex.objects.visible_mask[i].sum()
      assert ann["amodal_area"] >= ann["area"]
      p = ex.objects.num_keypoints[i]
      assert len(ann["keypoints"]) == 3 * p and len(ann["keypoint_states"]) == p
      flags = ann["keypoints"][2::3]
      assert flags == [coco.coco_visibility_flag(s) for s in ex.objects.keypoint_states[i, :p]]
      np.testing.assert_allclose(ann["rotation"], ex.objects.rotation[i], atol=1e-5)
    img = api.loadImgs([image_id])[0]
    pixels = cv2.cvtColor(cv2.imread(str(path.parent / img["file_name"])), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(pixels, ex.image)
    assert img["key"] == ex.key and img["mode"] == "walt3d"


def test_perfect_detections_score_ap_one(exported):
  _, _, api = exported
  dets = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"],
           "segmentation": a["segmentation"], "score": 1.0}
          for a in api.loadAnns(api.getAnnIds()) if a["area"] > 0]
  with contextlib.redirect_stdout(io.StringIO()):
    res = api.loadRes(dets)
    ev = COCOeval(api, res, "segm")
    ev.params.areaRng = [[0, 1e10]] * 4  # tiny synthetic objects: score every size as "all"
    ev.evaluate(); ev.accumulate(); ev.summarize()
  assert ev.stats[0] == pytest.approx(1.0)


def test_json_is_strict(exported):
  _, path, _ = exported
  data = json.loads(path.read_text())
  assert data["info"]["format"] == coco_amodal.FORMAT
