r"""Amodal accuracy vs occlusion level (WALT3D Fig. 6/7), measured against exact truth
(walt3d_jax/evaluation/study.py, the `study` job).

The same detector trained three ways from one mined and fitted bank: on modal labels (visible
boxes and masks of the WALT3D composites: what an off-the-shelf detector is trained on), on
WALT2D clip-art (random paste order) and on WALT3D clip-art (non-intersecting footprints, depth
test). Each is scored by amodal box and mask AP per 10 % occlusion bin and per level L0-L3 on
the composited test split and on true-occlusion frames (the simulator's renderer, not
composites): the training camera with unseen seeds, and a held-out viewpoint.

  python launch.py --config experiments/eval_occlusion.py:tiny --workdir /tmp/studies
  python launch.py --config experiments/eval_occlusion.py --workdir /data/studies   # GPU scale

`tiny` (CPU): clip-art at 320×180 (400 train / 100 test per mode), the tiny model at 160×90,
300 steps of batch 8, seeds 0 and 1, 100 true-occlusion frames per test set; 6 runs, about
2 minutes each on 2 CPU cores, plus building the data (the fit job, ~1.5 minutes, when the
workdir has no fitted bank). Default (GPU): 640×360 clip-art (20k train / 2k test), the R18
model, 20k steps, seeds 0-2, 500 frames per test set; not run on the machine this was written
on. Writes <workdir>/occlusion.md (verdict, tables with mean ± half-range over seeds, one
figure per test set) and occlusion.json. Runs live in <workdir>/runs/ and are shared with
eval_data_efficiency.py and eval_tracking.py when they use the same workdir; a killed study
rerun trains only what is missing. Measured results of `tiny`: docs/results/tiny_studies/.
"""

import ml_collections

from experiments import clipart
from experiments import train_2d

ARMS = (("modal", "walt3d", "modal"), ("WALT2D", "walt2d", "amodal"), ("WALT3D", "walt3d", "amodal"))


def get_config(arg: str | None = None, study: str = "occlusion") -> ml_collections.ConfigDict:
  if arg not in (None, "", "tiny"):
    raise ValueError(f"experiments/eval_{study}.py: unknown argument {arg!r}; known: tiny")
  tiny = arg == "tiny"
  config = ml_collections.ConfigDict()
  config.job = "study"
  config.study = study
  config.seeds = (0, 1) if tiny else (0, 1, 2)
  config.arms = ARMS  # (label, clip-art mode, labels)
  config.fractions = (0.15, 0.25, 0.6, 1.0)  # data_efficiency

  config.clipart = clipart.get_config()  # the bank: a fitted bank under the workdir, else the fit job
  config.clipart.progress = False
  config.clipart.formats = ("array_record",)
  config.clipart.dataset = "walt3d_320x180" if tiny else "walt3d_640x360"  # walt2d_* for the WALT2D arm
  config.clipart.num_train, config.clipart.num_test = (400, 100) if tiny else (20_000, 2_000)
  config.clipart_image_size = (320, 180) if tiny else (640, 360)  # true-occlusion frames, rendered as the clip-art
  frames = 100 if tiny else 500
  config.testsets = ml_collections.ConfigDict({
      "true_occlusion": dict(preset="intersection", seed=1000, frames=frames),  # the training camera, unseen seed
      "heldout_viewpoint": dict(preset="crosswalk", seed=1000, frames=frames),  # a camera no data came from
  })

  config.train = train_2d.get_config("tiny" if tiny else None)
  config.train.progress = False
  config.train.eval_every = 0
  if tiny:
    config.train.data.batch_size = 8
    config.train.data.max_objects = 16
    config.train.total_steps = 300
    config.train.log_every, config.train.checkpoint_every = 10, 100
  config.eval = ml_collections.ConfigDict(dict(batch_size=8, max_objects=32, max_detections=32 if tiny else 64,
                                               match_score=0.3))

  config.tracking = ml_collections.ConfigDict()
  config.tracking.arms = ("modal", "WALT3D")
  config.tracking.sequences = ml_collections.ConfigDict({
      "true_occlusion": dict(preset="intersection", seed=1001, bursts=2 if tiny else 10, frames_per_burst=30 if tiny else 60),
  })
  config.tracking.sort = ml_collections.ConfigDict(dict(iou_threshold=0.3, min_hits=3, max_age=2))
  config.tracking.score_threshold = 0.3
  return config
