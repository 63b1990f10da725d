"""The project installs as a package: `pip install` of a copy of the sources, offline, then the
installed copy imported from another folder (package data included) and its `walt3d` script run."""

import os
import pathlib
import re
import shutil
import subprocess
import sys
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]
# requirements.txt pins these for tests and builds only; every other pin is a runtime dependency.
NOT_RUNTIME = {"pytest", "pytest-xdist", "hypothesis", "setuptools", "dill"}
# Pinned only so the whole set resolves with apache-beam (which moves them); not imported by us.
LOCK_ONLY = {"protobuf", "pyarrow", "pillow", "python-dateutil"}


def _name(requirement: str) -> str:
  return re.sub(r"[-_.]+", "-", re.split(r"[<>=!~; \[]", requirement.strip(), maxsplit=1)[0]).lower()


def _pins() -> dict[str, str]:
  lines = (ROOT / "requirements.txt").read_text().splitlines()
  pins = (line.split("#")[0].strip() for line in lines)
  return {_name(pin): pin.split("==")[1] for pin in pins if pin}


def test_dependencies_are_the_runtime_pins_of_requirements_txt():
  project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
  extras = [d for group in project.get("optional-dependencies", {}).values() for d in group]
  declared = {_name(d): d for d in project["dependencies"] + extras}
  runtime = {name: version for name, version in _pins().items() if name not in NOT_RUNTIME | LOCK_ONLY}
  assert sorted(declared) == sorted(runtime)
  for name, version in runtime.items():
    assert declared[name].endswith(f">={version}"), (declared[name], version)


def _copy_sources(dst: pathlib.Path) -> None:
  """What the package is built from (a copy: a build in the working tree leaves build/ there)."""
  ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
  for name in ("walt3d_jax", "tfds_builders"):
    shutil.copytree(ROOT / name, dst / name, ignore=ignore)
  for name in ("pyproject.toml", "README.md"):
    shutil.copy(ROOT / name, dst / name)


def test_installed_copy_imports_with_its_data_and_runs_the_console_script(tmp_path):
  src, site, elsewhere = tmp_path / "src", tmp_path / "site", tmp_path / "elsewhere"
  _copy_sources(src)
  elsewhere.mkdir()
  build = subprocess.run(
      [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
       "--disable-pip-version-check", "--quiet", "--target", str(site), str(src)],
      capture_output=True, text=True, timeout=300)
  assert build.returncode == 0, build.stderr
  assert (site / "walt3d_jax" / "shapes" / "data" / "car_pca.npz").is_file()
  assert (site / "tfds_builders" / "walt3d_clipart" / "__init__.py").is_file()
  assert not (site / "experiments").exists() and not (site / "tests").exists()

  env = {**os.environ, "PYTHONPATH": str(site)}
  check = (
      "import walt3d_jax, walt3d_jax.launch as launch\n"
      "from walt3d_jax.shapes import car_model\n"
      f"assert walt3d_jax.__file__.startswith({str(site)!r}), walt3d_jax.__file__\n"
      "model = car_model.load_car_model()\n"
      "assert car_model.CAR_PCA_PATH.is_file() and str(car_model.CAR_PCA_PATH).startswith("
      f"{str(site)!r})\n"
      "print(walt3d_jax.__version__, sorted(launch.JOBS))\n")
  run = subprocess.run([sys.executable, "-c", check], cwd=elsewhere, env=env, capture_output=True,
                       text=True, timeout=300)
  assert run.returncode == 0, run.stderr
  assert "clipart" in run.stdout and "mine" in run.stdout

  script = site / "bin" / "walt3d"
  help_run = subprocess.run([str(script), "--help"], cwd=elsewhere, env=env, capture_output=True,
                            text=True, timeout=120)  # absl's --help exits 1
  assert "config.source.video" in help_run.stdout and "--workdir" in help_run.stdout
  # A config of the repository, from another folder: it imports its siblings (experiments.*).
  bad = subprocess.run(
      [str(script), "--config", str(ROOT / "experiments" / "fit.py"), "--workdir", str(tmp_path / "w"),
       "--config.mine.nonexistent=1"], cwd=elsewhere, env=env, capture_output=True, text=True,
      timeout=120)
  assert (bad.returncode, bad.stderr.count("\n")) == (2, 1), bad.stderr
  assert "--config.mine.nonexistent" in bad.stderr and "Traceback" not in bad.stderr
