"""Shared, compiled-once fixtures of the clip-art tests: one tiny simulated sequence, its truth
bank and pool, and a simulated pool with the agents for re-rendering."""

import pathlib

import pytest

from experiments import simulate as simulate_config
from walt3d_jax.clipart import exactness
from walt3d_jax.clipart import pool as pool_lib
from walt3d_jax.clipart import truth_bank
from walt3d_jax.clipart.config import ClipartConfig
from walt3d_jax.sim import simulate

# Crowded enough that most images have overlapping objects.
CONFIG = ClipartConfig(objects_per_image=(6, 10), prefer_overlap=0.8, bucket="mix")


def tiny_sim_config(preset: str = "intersection"):
  config = simulate_config.get_config(preset)
  config.image_size = (320, 180)
  config.num_bursts, config.frames_per_burst, config.num_days = 3, 3, 1
  config.num_cars, config.num_people = 12, 10
  config.progress = False
  return config


@pytest.fixture(scope="session")
def sequence(tmp_path_factory) -> pathlib.Path:
  root = tmp_path_factory.mktemp("clipart") / "intersection"
  simulate.simulate_sequence(tiny_sim_config(), "intersection", 0, root)
  return root


@pytest.fixture(scope="session")
def bank_path(sequence) -> pathlib.Path:
  path = sequence / "truth_bank.h5"
  truth_bank.write_truth_bank(sequence, path)
  return path


@pytest.fixture(scope="session")
def pool(bank_path) -> pool_lib.ObjectPool:
  return pool_lib.load_pool(bank_path, CONFIG)


@pytest.fixture(scope="session")
def simulated() -> exactness.SimulatedPool:
  return exactness.simulated_pool(tiny_sim_config(), "intersection", CONFIG)


@pytest.fixture(scope="session")
def config():
  return CONFIG
