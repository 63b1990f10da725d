"""TensorBoard event files (tf.summary: tensorflow-cpu is already pinned) and a progress line.

The `tensorboard` package is not installed, so `tf.summary.scalar` / `image` (its wrappers)
are unavailable; core TF's `tf.summary.write` writes the same records with the plugin metadata
TensorBoard reads ('scalars': a float32 scalar; 'images': [width, height, PNG] strings).
TensorFlow is imported on first use and kept off every device (`tf.config.set_visible_devices`),
so it never takes GPU memory from JAX. Only JAX process 0 writes.
"""

from __future__ import annotations

import pathlib
import time
from typing import Mapping

import jax
import numpy as np


class Writer:
  """scalars(step, {name: value}) and image(step, name, (H, W, 3) uint8) into `logdir`."""

  def __init__(self, logdir: pathlib.Path):
    self.enabled = jax.process_index() == 0
    self._writer = None
    self.logdir = pathlib.Path(logdir)

  def _tf(self):
    import tensorflow as tf

    if self._writer is None:
      tf.config.set_visible_devices([], "GPU")
      self._writer = tf.summary.create_file_writer(str(self.logdir))
    return tf

  def scalars(self, step: int, values: Mapping[str, float]) -> None:
    if not self.enabled:
      return
    tf = self._tf()
    with self._writer.as_default(step=step):
      for name, value in values.items():
        tf.summary.write(name, tf.constant(float(value), tf.float32), metadata=self._metadata("scalars"))

  def image(self, step: int, name: str, image: np.ndarray) -> None:
    if not self.enabled:
      return
    tf = self._tf()
    with self._writer.as_default(step=step):
      image = np.asarray(image, np.uint8)
      png = tf.io.encode_png(image).numpy()
      tensor = tf.constant([str(image.shape[1]).encode(), str(image.shape[0]).encode(), png])
      tf.summary.write(name, tensor, metadata=self._metadata("images"))

  @staticmethod
  def _metadata(plugin: str):
    from tensorflow.core.framework import summary_pb2

    return summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=plugin))

  def close(self) -> None:
    if self._writer is not None:
      self._writer.flush()
      self._writer.close()


class Throughput:
  """Steps/s and images/s since the last call (the first call measures from construction)."""

  def __init__(self, global_batch_size: int):
    self.batch = global_batch_size
    self._tic, self._steps = time.perf_counter(), 0

  def tick(self) -> None:
    self._steps += 1

  def rates(self) -> dict[str, float]:
    seconds = max(time.perf_counter() - self._tic, 1e-9)
    steps = self._steps
    self._tic, self._steps = time.perf_counter(), 0
    return {"steps_per_second": steps / seconds, "images_per_second": steps * self.batch / seconds}
