"""TFDS `walt3d_trueocc` (tiny configs): real occlusions with exact amodal truth, in the
walt3d_clipart feature layout."""

import pathlib

import numpy as np
import tensorflow_datasets as tfds

from tfds_builders.walt3d_trueocc import walt3d_trueocc_dataset_builder as builder_lib
from walt3d_jax.data import decode
from walt3d_jax.formats import rle



class Walt3dTrueOccTest(tfds.testing.DatasetBuilderTestCase):
  DATASET_CLASS = builder_lib.Builder
  BUILDER_CONFIG_NAMES_TO_TEST = ["tiny_heldout_preset", "tiny_unseen_seeds"]
  SPLITS = {"test": 2}
  SKIP_CHECKSUMS = True
  EXAMPLE_DIR = str(pathlib.Path(__file__).parent)  # must exist; nothing is read: generated data

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    # DatasetBuilderTestCase patches np.load to accept file objects only while it builds; the
    # simulator loads its car shape model by path, once per process: load it before.
    from walt3d_jax.sim import simulate

    simulate._car_shape_model(int(builder_lib._SIM_DEFAULTS["num_shape_components"]))  # pylint: disable=protected-access

  def test_labels_are_exact_and_in_the_clipart_layout(self):
    data_dir = pathlib.Path(self.tmp_dir) / "array_record"
    builder = builder_lib.Builder(config="tiny_heldout_preset", data_dir=str(data_dir),
                                  file_format="array_record")
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
        compute_stats=tfds.download.ComputeStatsMode.SKIP))
    source = tfds.data_source("walt3d_trueocc/tiny_heldout_preset", data_dir=str(data_dir))["test"]
    self.assertLen(source, 2)
    self.assertEqual(sorted(source[i]["key"] for i in range(2)),
                     [b"crosswalk-s1000-000000", b"crosswalk-s1000-000001"])
    occluded = 0
    for i in range(2):
      record = source[i]
      self.assertEqual(record["mode"], b"true_occlusion")
      self.assertIn(record["time_bucket"], (b"day", b"dusk", b"night"))
      ex = decode.decode_record(record)  # the clip-art decoder reads it as is
      amodal, visible = ex["amodal_mask"], ex["visible_mask"]
      self.assertGreater(len(amodal), 0)
      self.assertTrue((visible <= amodal).all())
      self.assertTrue((visible.sum(0) <= 1).all())  # visible masks are disjoint
      occ = 1 - visible.sum((1, 2)) / amodal.sum((1, 2))
      np.testing.assert_allclose(ex["occlusion"], occ, atol=1e-6)
      occluded += int(((occ > 0.05) & (occ < 1)).sum())
      for m, box in zip(amodal, ex["amodal_box"]):
        np.testing.assert_array_equal(box, rle.mask_box(m))
      visible_any = visible.any(0)
      self.assertTrue((ex["depth"][visible_any] > 0).all())
      self.assertTrue((ex["depth"][~visible_any] == 0).all())
    self.assertGreater(occluded, 0)  # real occlusions, not just unoccluded objects

  def test_frame_example_matches_the_simulated_truth(self):
    config = builder_lib.BuilderConfig(name="t", presets=("avenue",), seeds=(1000,), image_size=(160, 90),
                                       num_bursts=1)
    from walt3d_jax.sim import simulate

    sim_config = config.simulate_config(1000)
    scene = simulate.prepare_scene(sim_config, "avenue")
    frame = next(simulate.simulate_frames(sim_config, scene, 0))
    ex = builder_lib.frame_example(scene, frame, "k", 1000)
    kept = [(a, t) for a, t in zip(frame.agents, frame.truths) if t.amodal_mask.any()]
    self.assertEqual(ex.objects.num, len(kept))
    for i, (agent, truth) in enumerate(kept):
      np.testing.assert_array_equal(ex.objects.amodal_mask[i], truth.amodal_mask)
      np.testing.assert_array_equal(ex.objects.visible_mask[i], truth.visible_mask)
      p = len(agent.keypoints)
      np.testing.assert_array_equal(ex.objects.keypoint_states[i, :p], truth.keypoint_states)
      self.assertTrue((ex.objects.keypoint_states[i, p:] == 3).all())
      np.testing.assert_allclose(ex.objects.rotation[i], agent.rotation, atol=1e-6)
      self.assertEqual(ex.objects.track_id[i], agent.track_id)
    np.testing.assert_allclose(ex.plane[:3], np.asarray(scene.camera.normal), atol=1e-6)


_BUILD_AND_HASH = """
import hashlib, pathlib, sys
from tfds_builders.walt3d_trueocc import walt3d_trueocc_dataset_builder as b
d = pathlib.Path(sys.argv[1])
b.Builder(config="tiny_unseen_seeds", data_dir=str(d), file_format="array_record").download_and_prepare()
files = sorted(p for p in d.rglob("*.array_record*") if p.is_file())
print(hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest(), len(files))
"""


def test_two_processes_write_the_same_bytes(tmp_path):
  # protobuf (upb) orders a map's entries differently in each process; the builder's
  # canonical writer sorts them, so a test set is a function of its config alone.
  import os
  import subprocess
  import sys

  root = pathlib.Path(__file__).resolve().parents[2]
  env = dict(os.environ, PYTHONPATH=str(root), JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="2")
  procs = [subprocess.Popen([sys.executable, "-c", _BUILD_AND_HASH, str(tmp_path / f"build{i}")], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
  outs = [p.communicate(timeout=600) for p in procs]
  assert all(p.returncode == 0 for p in procs), [err[-2000:] for _, err in outs]
  digests = [out.strip().splitlines()[-1] for out, _ in outs]
  assert digests[0] == digests[1] and digests[0].endswith(" 1")
