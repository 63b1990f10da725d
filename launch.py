r"""Runs one experiment: `python launch.py --config experiments/NAME.py[:arg] --workdir DIR`.

The same as the `walt3d` console script of an installed copy (`pip install -e .`). The launcher
and its job registry live in walt3d_jax/launch.py; `--help` lists the jobs and what each reads.
"""

from walt3d_jax import launch

if __name__ == "__main__":
  launch.main()
