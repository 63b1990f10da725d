"""Training jobs (optax + orbax) for the pipeline's networks: the occlusion classifier."""
