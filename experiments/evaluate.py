r"""Evaluate a trained amodal detector on a dataset split (walt3d_jax/evaluation/job.py).

  python launch.py --config experiments/evaluate.py --workdir /tmp/eval \
      --config.checkpoint=/tmp/train2d \
      --config.dataset=walt3d_trueocc/heldout_preset_640x360 \
      --config.data_dir=/tmp/testsets/tfds/array_record --config.split=test

Any checkpoint of experiments/train_2d.py or train_3d.py, on a walt3d_clipart split (the
paper's composited test split is `test`) or a true-occlusion set of experiments/testsets.py.
Writes <workdir>/scores.json and <workdir>/report.md (amodal box and mask AP overall and per
10 % occlusion bin, recall, PCK by keypoint state, 3D of cars and people) with
ap_by_occlusion.png and predictions.png. A few seconds per hundred 160×90 images on 2 CPU
cores after compilation.
"""

import ml_collections


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  if arg:
    raise ValueError(f"experiments/evaluate.py: unknown argument {arg!r}; it takes none")
  config = ml_collections.ConfigDict()
  config.job = "evaluate"
  config.progress = True
  config.checkpoint = ""  # a train workdir (or its checkpoints/ folder)
  config.dataset = "walt3d_clipart/walt3d_640x360"  # a built TFDS dataset/config
  config.data_dir = ""  # its array_record data dir
  config.split = "test"
  config.max_images = -1  # -1: every image of the split
  config.batch_size = 8
  config.max_objects = 32  # truth objects per image kept (more are cut, as in training)
  config.max_detections = 0  # 0: the checkpoint's (training config's eval.max_detections)
  config.with_3d = True  # cars' PnP pose and people's 3D joints
  config.match_score = 0.3  # detections matched to truth for recall, PCK and 3D
  config.picture_images = 6
  config.title = ""
  return config
