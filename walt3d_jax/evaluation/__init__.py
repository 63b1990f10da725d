"""Evaluation of a trained amodal detector on a dataset split (the `evaluate` job)."""
