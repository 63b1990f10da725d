r"""Build the true-occlusion test sets, TFDS `walt3d_trueocc` (the "Measure" issue, item 2a).

Simulated frames rendered with real occlusions (every agent and the scenery in one z-buffer,
not composited) and exact amodal truth, in walt3d_clipart's features (docs/formats.md,
"True-occlusion test sets"): `heldout_preset_640x360` (the crosswalk viewpoint, which no
training data comes from: leave one viewpoint out) and `unseen_seeds_640x360` (intersection,
avenue, t_junction with seeds no job trains on). The composited test split (item 2b) is
walt3d_clipart's `test` split, built by experiments/clipart.py.

  python launch.py --config experiments/testsets.py --workdir /tmp/testsets
  python launch.py --config experiments/testsets.py:tiny --workdir /tmp/testsets_tiny
  python launch.py --config experiments/testsets.py --workdir /tmp/t --config.num_bursts=10

Writes <workdir>/tfds/array_record/ (tfds.data_source, grain), <workdir>/tfds/tfrecord/
(tfds.load) and summary.json (examples, examples/s per format, objects per class and per 10 %
occlusion bin, keypoint states, lighting). The full build simulates 1100 frames at 640x360 in
each of the two formats. `tiny` builds the 160x90 tiny configs (2 examples each).
"""

import ml_collections


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.job = "testsets"
  config.progress = True
  config.datasets = ("heldout_preset_640x360", "unseen_seeds_640x360")  # walt3d_trueocc configs
  config.num_bursts = -1  # frames per scene (1 per burst); -1: the config's own (100)
  config.formats = ("array_record", "tfrecord")  # one TFDS build each, own data dir
  if arg == "tiny":
    config.datasets = ("tiny_heldout_preset", "tiny_unseen_seeds")
    config.progress = False
  elif arg:
    raise ValueError(f"experiments/testsets.py: unknown argument {arg!r}; known: tiny")
  return config
