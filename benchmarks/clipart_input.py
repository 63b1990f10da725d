r"""Clip-art input pipeline: grain over tfds.data_source (array_record) vs tf.data over tfds.load.

  .venv/bin/python benchmarks/clipart_input.py [--bank BANK.h5] [--examples 160] [--batch 8]

Baseline: tf.data, TFDS's own reader. Both read the same build of `walt3d_clipart`
(walt3d_640x360 with --examples train examples, composited from --bank, default a simulated
avenue's truth bank at 640x360) and run the same per-example work: decode (image, depth, RLE
masks), resize to the model's 320x180, seeded random flip, pad objects to 24, batch. grain runs
it in `grain.ReadOptions(num_threads=2 x cores)`, tf.data in `map(tf.numpy_function(...),
num_parallel_calls=AUTOTUNE)` after TF's own PNG decoding; both prefetch. Rates count the
examples after the first batch (start-up and compile excluded), over --epochs passes; the
medians of --repeats alternating runs. Goal:
grain ≥ tf.data. Also prints the build's examples/s (composite + encode + write) per format.

Measured on the 2-core machine with nothing else running (load average ~1.7), 160 examples
of a simulated avenue truth bank, batch 8, 4 grain threads, 3 alternating runs: grain
[107, 108, 104], tf.data [156, 140, 158] examples/s; ratio 0.69: not the goal. Per example on
one thread: array_record read + OpenCV PNG decode of image and depth ~6.5 ms, RLE masks (decoded
straight at the model's size) ~4 ms, resize, flip and pad ~3 ms. tf.data decodes the PNGs in
C++ outside the GIL; the rest is the same Python in both, so grain's threads mostly wait on the
GIL (2 threads: 104 examples/s, 8: 88). Build: 44 (array_record) and 29 (tfrecord) examples/s
at 640x360 with 8-15 objects (compositing + PNG + RLE, one process).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # run as a script from anywhere

import ml_collections
import numpy as np

from experiments import clipart as clipart_config
from walt3d_jax.data import build
from walt3d_jax.data import pipeline


def make_builds(args, workdir: pathlib.Path) -> dict:
  config = clipart_config.get_config()
  config.dataset = "walt3d_640x360"
  config.num_train, config.num_test = args.examples, 0
  config.progress = False
  if args.bank:
    config.bank = args.bank
  else:
    config.bank_source = "truth"
    config.simulate.num_bursts, config.simulate.frames_per_burst = 6, 4
  return build.run(config, workdir)


def time_batches(batches, batch_size: int) -> float:
  """Examples/s after the first batch."""
  it = iter(batches)
  next(it)
  tic, n = time.perf_counter(), 0
  for _ in it:
    n += batch_size
  return n / (time.perf_counter() - tic)


def grain_rate(version_dir: str, config: pipeline.PipelineConfig) -> float:
  import tensorflow_datasets as tfds

  source = tfds.builder_from_directory(version_dir).as_data_source("train")
  return time_batches(pipeline.make_iterator(source, config), config.batch_size)


def tf_data_rate(version_dir: str, config: pipeline.PipelineConfig) -> float:
  import tensorflow as tf
  import tensorflow_datasets as tfds

  builder = tfds.builder_from_directory(version_dir)
  ds = builder.as_dataset(split="train", shuffle_files=True)
  structure = ds.element_spec
  sample = next(iter(tfds.as_numpy(ds.take(1))))
  probe = pipeline.augment(pipeline.prepare(sample, config), np.random.default_rng(0), config)
  names = sorted(probe)

  def transform(*flat):
    record = tf.nest.pack_sequence_as(structure, list(flat))
    rng = np.random.default_rng([config.seed, int(record["seed"])])
    out = pipeline.augment(pipeline.prepare(record, config), rng, config)
    return [np.asarray(out[name], probe[name].dtype) for name in names]

  def tf_map(example):
    flat = tf.nest.flatten(example)
    outs = tf.numpy_function(transform, flat, [tf.as_dtype(probe[n].dtype) for n in names])
    for t, n in zip(outs, names):
      t.set_shape(probe[n].shape)
    return dict(zip(names, outs))

  ds = (ds.shuffle(64, seed=config.seed).repeat(config.num_epochs)
        .map(tf_map, num_parallel_calls=tf.data.AUTOTUNE)
        .batch(config.batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE))
  return time_batches(tfds.as_numpy(ds), config.batch_size)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--bank", default="", help="object bank (default: a simulated truth bank)")
  parser.add_argument("--examples", type=int, default=160, help="train examples to build")
  parser.add_argument("--batch", type=int, default=8)
  parser.add_argument("--epochs", type=int, default=2)
  parser.add_argument("--repeats", type=int, default=3, help="alternating timed runs; medians")
  parser.add_argument("--threads", type=int, default=0, help="grain threads (0: 2 x cores)")
  parser.add_argument("--workdir", default="", help="keep the builds here (default: a temp dir)")
  args = parser.parse_args()

  with tempfile.TemporaryDirectory() as tmp:
    workdir = pathlib.Path(args.workdir or tmp)
    summary = make_builds(args, workdir)
    for file_format, b in summary["builds"].items():
      rate = b["examples_per_second"]
      print(f"build {file_format}: {sum(b['examples'].values())} examples in {b['seconds']} s"
            f" ({rate if rate is not None else 'reused'} examples/s)")
    config = pipeline.PipelineConfig(batch_size=args.batch, image_size=(320, 180), max_objects=24,
                                     num_epochs=args.epochs, num_threads=args.threads or 2 * (os.cpu_count() or 1),
                                     prefetch_buffer_size=2 * args.batch)
    grain_rates, tf_rates = [], []
    for _ in range(args.repeats):  # alternating, so both see the same machine load on average
      grain_rates.append(grain_rate(summary["builds"]["array_record"]["version_dir"], config))
      tf_rates.append(tf_data_rate(summary["builds"]["tfrecord"]["version_dir"], config))
    print(f"runs grain: {[round(r, 1) for r in grain_rates]}, tf.data: {[round(r, 1) for r in tf_rates]}")
    grain, tf_rate = float(np.median(grain_rates)), float(np.median(tf_rates))
  print(f"grain: {grain:.1f} examples/s")
  print(f"tf.data: {tf_rate:.1f} examples/s")
  print(f"ratio grain/tf.data: {grain / tf_rate:.2f}")


if __name__ == "__main__":
  main()
