"""Small Flax NNX networks of the pipeline (the occlusion classifier of the mining stage)."""
