"""TFDS `walt3d_clipart`: importing this package registers the builder by name."""

from tfds_builders.walt3d_clipart.walt3d_clipart_dataset_builder import Builder
from tfds_builders.walt3d_clipart.walt3d_clipart_dataset_builder import BuilderConfig
from tfds_builders.walt3d_clipart.walt3d_clipart_dataset_builder import generate_example
