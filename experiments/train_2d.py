r"""Train the amodal detector's 2D heads on the clip-art dataset (WALT3D section 5, "Learning").

Amodal detection (class, amodal box, visible box), amodal and visible instance masks, and 2D
keypoints with 4-state visibility and confidence; the 3D terms off (train_3d.py turns them on).

  python launch.py --config experiments/train_2d.py --workdir /tmp/train2d \
      --config.data.data_dir=/data/clipart/tfds/array_record --config.data.dataset=walt3d_clipart/walt3d_640x360
  python launch.py --config experiments/train_2d.py:tiny --workdir /tmp/train2d_tiny

Default (GPU-sized): ResNet-18 stages ("R18", ~13M parameters) at 640×360, global batch 32,
20k steps, shard_map over every device JAX sees. Not run here (no GPU on the machine this was
written on); expect hours on one GPU.

`tiny` (CPU): the `tiny` variant (~35k parameters) at 160×90, batch 4, 60 steps, the
single-device step (config.parallel='none'); with no config.data.data_dir it first builds experiments/clipart.py:tiny
(3 train / 2 test images) into <workdir>/data (~15 s). On 2 shared CPU cores the whole run takes
one to two minutes, most of it compiling (train_3d.py:tiny measured 104 s, loss 35 → 10:
docs/design.md, "Learning"). It shows the machinery works, not a useful detector (AP50 0).

Rerun the same command to resume from <workdir>/checkpoints (model, optimizer and the grain
iterator): the loss curve continues exactly as if never stopped. Metrics: <workdir>/metrics.jsonl,
TensorBoard under <workdir>/tensorboard, results.json at the end.
"""

import ml_collections

from experiments import clipart


def loss_weights(with_3d: bool) -> ml_collections.ConfigDict:
  """The paper's loss terms (walt3d_jax/models/losses.py); 0 switches a term off."""
  return ml_collections.ConfigDict(dict(
      cls=1.0, box=1.0, visible_box=0.5, mask=1.0, visible_mask=1.0,
      kp=1.0, kp_vis=0.5, kp_conf=0.5,
      shape=1.0 if with_3d else 0.0, kp2d=0.5 if with_3d else 0.0, pose=1.0 if with_3d else 0.0,
      joints3d=1.0 if with_3d else 0.0, joints2d=0.2 if with_3d else 0.0,
  ))


def get_config(arg: str | None = None, with_3d: bool = False) -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.job = "train"
  config.seed = 0
  config.parallel = "shard_map"  # "none" (one device), "pmap" or "shard_map" (walt3d_jax/train/step.py)
  config.distributed = "auto"  # jax.distributed.initialize(): True, False, or "auto" (a cluster's env)
  config.progress = True

  config.data = ml_collections.ConfigDict()
  config.data.data_dir = ""  # array_record data dir of a built walt3d_clipart; "": build `build` first
  config.data.dataset = "walt3d_clipart/walt3d_640x360"
  config.data.build = clipart.get_config("tiny")  # the clipart job's config when data_dir is ""
  config.data.build.progress = False
  config.data.train_split = "train"
  config.data.eval_split = "test"
  config.data.image_size = (640, 360)  # (W, H) the model's input
  config.data.max_objects = 24
  config.data.batch_size = 32  # global (all processes and devices)
  config.data.flip_prob = 0.5
  config.data.labels = "amodal"  # or "modal": visible boxes and masks as targets (the off-the-shelf baseline)
  config.data.num_threads = 8
  config.data.prefetch_buffer_size = 64

  config.model = ml_collections.ConfigDict(dict(variant="R18"))
  config.loss = loss_weights(with_3d)
  # train.occlusion.make_optimizer: AdamW, linear warm-up, cosine decay to 0 at total_steps.
  config.optim = ml_collections.ConfigDict(dict(learning_rate=1e-3, warmup_steps=1000, weight_decay=1e-4))
  config.total_steps = 20_000
  config.stop_after = -1  # stop (as if killed) after this step; -1: run to total_steps
  config.log_every = 20
  config.checkpoint_every = 1000
  config.max_to_keep = 3
  config.eval_every = 2000  # 0: no evaluation
  config.eval = ml_collections.ConfigDict(dict(batch_size=8, max_detections=64))

  if arg == "tiny":
    config.parallel = "none"
    config.data.image_size = (160, 90)  # the tiny dataset as stored
    config.data.max_objects = 8
    config.data.batch_size = 4
    config.data.num_threads = 2
    config.data.prefetch_buffer_size = 4
    config.model.variant = "tiny"
    config.optim = ml_collections.ConfigDict(dict(learning_rate=3e-3, warmup_steps=5, weight_decay=1e-4))
    config.total_steps = 60
    config.log_every = 1
    config.checkpoint_every = 20
    config.eval_every = 30
    config.eval = ml_collections.ConfigDict(dict(batch_size=2, max_detections=16))
  elif arg:
    raise ValueError(f"experiments/train_2d.py: unknown argument {arg!r}; known: tiny")
  return config
