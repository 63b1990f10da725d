"""TFDS dataset builders of the project. Importing a builder's package registers it by name."""
