import importlib.util
import pathlib

from absl import app
import pytest

from walt3d_jax import launch

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_every_registered_job_resolves_to_a_callable():
  for name in launch.JOBS:
    assert callable(launch.resolve_job(name))


def test_unknown_job_names_the_known_ones():
  with pytest.raises(app.UsageError, match="'nope' is not a known job.*simulate"):
    launch.resolve_job("nope")


@pytest.mark.parametrize("path", sorted((ROOT / "experiments").glob("[!_]*.py")))
def test_every_experiment_config_names_a_registered_job(path):
  spec = importlib.util.spec_from_file_location(path.stem, path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  assert module.get_config().job in launch.JOBS
