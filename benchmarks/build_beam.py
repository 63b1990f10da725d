r"""Clip-art dataset build on Apache Beam: examples/s of the local build, Beam 1 and 2 workers.

  .venv/bin/python benchmarks/build_beam.py [--examples 400] [--dataset walt3d_320x180]

Builds TFDS walt3d_clipart (--dataset's compositing, --examples train examples, array_record) three times in this process from the same bank and keys: the local build
(baseline: one process, no Beam), then Beam's DirectRunner in multi_processing mode with 1 and
with 2 worker processes (`walt3d_jax.data.build.build_format(..., beam_pipeline_options=...)`,
as `--config.beam_pipeline_options` does). Each figure is printed with its ratio to the local
build. Every build loads the bank's pool once per process (the local one too: its cache is
cleared first), so all three count pool loading, compositing, encoding, shuffling and writing;
Beam's also count starting its workers (each imports TFDS and the compositor). A tiny build
(--startup_examples) per runner separates that fixed cost from the per-example rate
(marginal: (N − n) / (t_N − t_n)). Checks that the three builds hold the same records, byte
for byte per key. Prints the load average before and after (the machine is shared).

The bank: a simulated avenue's truly unoccluded objects (`clipart.truth_bank`) at the
dataset's image size.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from array_record.python import array_record_module

from experiments import clipart as clipart_config
from experiments import simulate as simulate_config
from tfds_builders.walt3d_clipart import walt3d_clipart_dataset_builder as builder_lib
from walt3d_jax.clipart import truth_bank
from walt3d_jax.data import build
from walt3d_jax.sim import simulate

RUNNERS = {
    "local": "",
    "beam_1_worker": "--runner=DirectRunner --direct_num_workers=1 --direct_running_mode=multi_processing",
    "beam_2_workers": "--runner=DirectRunner --direct_num_workers=2 --direct_running_mode=multi_processing",
}


def make_bank(directory: pathlib.Path, image_size: tuple[int, int]) -> pathlib.Path:
  """directory/bank.h5: a simulated avenue's unoccluded objects (6 bursts of 4 frames, W x H)."""
  sim = simulate_config.get_config("avenue")
  sim.num_bursts, sim.frames_per_burst, sim.num_days = 6, 4, 1
  sim.image_size, sim.progress = tuple(image_size), False
  simulate.simulate_sequence(sim, "avenue", 0, directory / "avenue")
  truth_bank.write_truth_bank(directory / "avenue", directory / "bank.h5")
  return directory / "bank.h5"


def builder_config(dataset: str, num_train: int):
  """The walt3d_clipart config `dataset` with num_train train examples and no test split."""
  config = clipart_config.get_config()
  config.dataset, config.num_train, config.num_test = dataset, num_train, 0
  return build.builder_config(config)


def timed_build(cfg, data_dir: pathlib.Path, manual_dir: pathlib.Path, options: str) -> tuple[float, object]:
  """Seconds of one array_record build (pool cache cleared: it counts the pool load)."""
  builder_lib._load_pool.cache_clear()
  tic = time.perf_counter()
  builder = build.build_format(cfg, data_dir, manual_dir, "array_record", beam_pipeline_options=options)
  return time.perf_counter() - tic, builder


def records(version_dir: pathlib.Path) -> dict[bytes, bytes]:
  """{example key: serialized record} of the train split (the key read off the record)."""
  from tensorflow_datasets.proto import tf_example_pb2

  out = {}
  for path in sorted(version_dir.glob("*-train.array_record-*")):
    reader = array_record_module.ArrayRecordReader(str(path))
    for record in reader.read_all():
      out[tf_example_pb2.Example.FromString(record).features.feature["key"].bytes_list.value[0]] = record
    reader.close()
  return out


def canonical_cost(bank: pathlib.Path, cfg, n: int = 20) -> str:
  """The share of CanonicalExampleWriter's re-serialization in the cost of an example."""
  from tensorflow_datasets.core import example_serializer

  clipart = cfg.clipart_config()
  pool = builder_lib.load_pool(bank, clipart)
  features = builder_lib._features(tuple(cfg.image_size))
  serializer = example_serializer.ExampleSerializer(features.get_serialized_info())
  tic = time.perf_counter()
  examples = [builder_lib.generate_example(pool, f"cost-{i}", clipart)[1] for i in range(n)]
  serialized = [serializer.serialize_example(features.encode_example(e)) for e in examples]
  made = (time.perf_counter() - tic) / n
  tic = time.perf_counter()
  for record in serialized:
    builder_lib.canonical_record(record)
  canonical = (time.perf_counter() - tic) / n
  return (f"canonical re-serialization: {1e3 * canonical:.2f} ms per record, {100 * canonical / made:.2f} % of "
          f"composing + encoding one ({1e3 * made:.1f} ms; {len(serialized[0]) / 1e3:.0f} kB records)")


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--examples", type=int, default=400)
  parser.add_argument("--startup_examples", type=int, default=4)
  parser.add_argument("--dataset", default="walt3d_320x180", help="a walt3d_clipart config")
  args = parser.parse_args()
  import tensorflow_datasets as tfds

  tfds.disable_progress_bar()
  print(f"load average before: {os.getloadavg()}, CPUs: {len(os.sched_getaffinity(0))}", flush=True)
  with tempfile.TemporaryDirectory() as tmp:
    tmp = pathlib.Path(tmp)
    big, small = builder_config(args.dataset, args.examples), builder_config(args.dataset, args.startup_examples)
    bank = make_bank(tmp / "bank", big.image_size)
    # Warm-up: this process's imports and first build are not the local build's cost.
    timed_build(builder_config(args.dataset, 2), tmp / "warmup", bank.parent, "")
    print(canonical_cost(bank, big), flush=True)
    seconds, startup, built = {}, {}, {}
    for name, options in RUNNERS.items():
      startup[name], _ = timed_build(small, tmp / f"{name}_small", bank.parent, options)
      seconds[name], builder = timed_build(big, tmp / name, bank.parent, options)
      built[name] = records(pathlib.Path(builder.data_path))
      print(f"{name}: {args.examples} examples in {seconds[name]:.1f} s; {args.startup_examples} in "
            f"{startup[name]:.1f} s; load average {os.getloadavg()[0]:.2f}", flush=True)
  local = built["local"]
  same = all(sorted(b) == sorted(local) and all(b[k] == local[k] for k in local) for b in built.values())
  print(f"\nsame records, byte for byte per key, in all three builds: {same} ({len(local)} examples)")
  rate = {n: args.examples / s for n, s in seconds.items()}
  # Marginal rate: meaningless when the tiny build was not the faster one (noise, too few examples).
  marginal = {n: (args.examples - args.startup_examples) / (seconds[n] - startup[n])
              if seconds[n] > startup[n] else float("nan") for n in seconds}
  for name in RUNNERS:
    print(f"{name:>15}: {rate[name]:6.1f} examples/s ({rate[name] / rate['local']:.2f}x local), "
          f"marginal {marginal[name]:6.1f} examples/s ({marginal[name] / marginal['local']:.2f}x local), "
          f"tiny build {startup[name]:.1f} s")
  print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
  main()
