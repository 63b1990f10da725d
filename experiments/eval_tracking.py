r"""Tracking through occlusion (WALT3D Table 2): SORT on the modal-trained and on the WALT3D-trained
detector over true-occlusion sequences (consecutive simulated frames of the training camera,
an unseen seed), scored against the exact amodal truth: MOTA, IDF1, MOTP, FP, FN, ID switches
(walt3d_jax/evaluation/study.py, the `study` job; training as eval_occlusion.py).

  python launch.py --config experiments/eval_tracking.py:tiny --workdir /tmp/studies

`tiny`: the modal and WALT3D runs of eval_occlusion.py (trained here if the workdir lacks
them), then 2 bursts of 30 frames tracked per run. Writes <workdir>/tracking.md and
tracking.json.
"""

from experiments import eval_occlusion


def get_config(arg: str | None = None):
  return eval_occlusion.get_config(arg, study="tracking")
