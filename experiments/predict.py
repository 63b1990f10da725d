r"""Run a trained amodal detector (experiments/train_2d.py or train_3d.py) on footage and write
COCO results with amodal masks, keypoints and 3D fields (walt3d_jax/models/predict.py), in the
format the mining stage reads, so the trained model can replace the built-in detector:

  python launch.py --config experiments/predict.py --workdir /tmp/pred \
      --config.checkpoint=/tmp/train3d --config.source.frames=/data/cam7/frames \
      --config.source.camera=/data/cam7/camera.json
  python launch.py --config experiments/mine.py --workdir /tmp/mine \
      --config.source.frames=/data/cam7/frames --config.source.camera=/data/cam7/camera.json \
      --config.source.detections=/tmp/pred/detections.json

A simulated sequence folder works as frames (its camera.json is found beside the frames). Speed:
the tiny model decodes a 160×90 sequence at tens of frames per second on 2 CPU cores, most of
the time in the per-frame RLE encoding of masks at the frame's size.
"""

import ml_collections

from experiments import mine


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  if arg:
    raise ValueError(f"experiments/predict.py: unknown argument {arg!r}; it takes none")
  config = ml_collections.ConfigDict()
  config.job = "predict"
  config.progress = True
  config.checkpoint = ""  # a train workdir (or its checkpoints/ folder)
  source = mine.get_config().source
  config.source = ml_collections.ConfigDict(dict(
      video=source.video, frames=source.frames, camera=source.camera, order=source.order, fps=source.fps))
  config.sampling = mine.get_config().sampling
  config.score_threshold = 0.3
  config.max_detections = 0  # 0: the checkpoint's (the training config's eval.max_detections)
  return config
