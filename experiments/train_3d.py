r"""Train the amodal detector with its 3D heads (WALT3D section 5): train_2d.py plus car shape α,
car pose through the differentiable ground-constrained PnP layer on the predicted amodal
keypoints (L_kp2D reprojection, L_pose geodesic + translation) and people's root-relative 3D
joints with their reprojection from the paper's z_b.

  python launch.py --config experiments/train_3d.py --workdir /tmp/train3d \
      --config.data.data_dir=/data/clipart/tfds/array_record --config.data.dataset=walt3d_clipart/walt3d_640x360
  python launch.py --config experiments/train_3d.py:tiny --workdir /tmp/train3d_tiny

Same sizes and schedule as train_2d.py (GPU default: R18 at 640×360, batch 32, 20k steps; not
run here). `tiny` runs on 2 CPU cores in about a minute and a half (the PnP layer adds ~5 s of
compilation); measured numbers in docs/design.md, "Learning".
"""

import ml_collections

from experiments import train_2d


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  if arg not in (None, "", "tiny"):
    raise ValueError(f"experiments/train_3d.py: unknown argument {arg!r}; known: tiny")
  return train_2d.get_config(arg, with_3d=True)
