"""TFDS `walt3d_trueocc`: importing this package registers the builder by name."""

from tfds_builders.walt3d_trueocc.walt3d_trueocc_dataset_builder import Builder
from tfds_builders.walt3d_trueocc.walt3d_trueocc_dataset_builder import BuilderConfig
from tfds_builders.walt3d_trueocc.walt3d_trueocc_dataset_builder import frame_example
