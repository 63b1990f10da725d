r"""Data efficiency (WALT3D Fig. 8), measured against exact truth: the detector trained on 15, 25,
60 and 100 % of the WALT2D and of the WALT3D clip-art training split, the same step budget
(walt3d_jax/evaluation/study.py, the `study` job; sizes and test sets as eval_occlusion.py).

  python launch.py --config experiments/eval_data_efficiency.py:tiny --workdir /tmp/studies
  python launch.py --config experiments/eval_data_efficiency.py --workdir /data/studies   # GPU scale

`tiny`: 2 modes × 4 fractions × 2 seeds = 16 runs of 300 steps (the 100 % runs are
eval_occlusion.py's WALT2D and WALT3D runs when the workdir is shared), about 2 minutes each on
2 CPU cores. Writes <workdir>/data_efficiency.md (verdict at the lowest fractions, tables,
AP50 vs fraction per test set) and data_efficiency.json.
"""

from experiments import eval_occlusion


def get_config(arg: str | None = None):
  return eval_occlusion.get_config(arg, study="data_efficiency")
