r"""`make demo`: the pipeline end to end on simulated time-lapses (walt3d_jax/demo.py).

  python launch.py --config experiments/demo.py --workdir workdir/demo

Writes <workdir>/<preset>/... (see experiments/simulate.py) and <workdir>/contact_sheet.png
with visible masks, amodal outlines, keypoints by visibility state and 3D wireframes drawn over
frames from day, dusk and night bursts; then <workdir>/fit/ (see experiments/fit.py): a mined
object bank with its report, the 3D fits written back, summary.json with accuracy against the
simulator's truth and report.png (wireframes, skeletons, bird's-eye view); then
<workdir>/clipart/ (see experiments/clipart.py): TFDS walt3d_clipart built from that bank in
both file formats, its COCO-amodal test split, report.png (WALT3D beside WALT2D on the same
objects and background, with labels and depth maps) and summary.json (examples/s, impossible
configurations per mode); then <workdir>/train/ (see experiments/train_3d.py): the tiny amodal
detector with its 3D heads trained on that dataset's train split (300 steps at 160×90, batch 8,
checkpoints, metrics.jsonl, TensorBoard), and <workdir>/train/eval/ (see experiments/evaluate.py):
report.md on the composited test split (amodal AP by occlusion, PCK, 3D) with pictures of the
predictions. 222 s on 2 cores at load ~2 with a cold compilation cache: about 1.5 minutes up
to the dataset (much of it one-off compiles of the fit), 105 s of training, then evaluation.
"""

from experiments import clipart
from experiments import evaluate
from experiments import fit
from experiments import simulate
from experiments import train_3d

import ml_collections


def get_config(arg: str | None = None):
  config = simulate.get_config(arg)
  config.job = "demo"
  config.num_bursts = 3
  config.frames_per_burst = 6
  config.num_days = 1
  config.write_video = True
  config.contact_sheet_columns = 3
  config.fit = fit.get_config()
  config.clipart = clipart.get_config()
  config.clipart.dataset = "walt3d_640x360"
  config.clipart.num_train, config.clipart.num_test = 200, 50
  config.clipart.coco_export = True
  config.clipart_report = ml_collections.ConfigDict(dict(images=3, plausibility_images=100))
  # The tiny detector on the dataset just built (data.data_dir and data.dataset are filled in).
  config.train = train_3d.get_config("tiny")
  config.train.data.batch_size = 8
  config.train.data.max_objects = 16
  config.train.total_steps = 300
  config.train.log_every, config.train.checkpoint_every, config.train.eval_every = 10, 100, 0
  config.evaluate = evaluate.get_config()
  config.evaluate.progress = False
  return config
