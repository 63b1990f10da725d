"""Detections made from the truth, for the evaluation tests."""

import numpy as np

from walt3d_jax.evaluation import inference


def oracle(records, shift: float = 0.0, score: float = 0.9):
  """Records whose detections are their truth (keypoints and boxes moved by `shift` pixels)."""
  out = []
  for r in records:
    t = r.truth
    det = {"score": np.full(len(t["category"]), score, np.float32), "category": t["category"],
           "amodal_box": t["amodal_box"] + [shift, shift, 0, 0], "visible_box": t["visible_box"],
           "keypoints": t["keypoints"] + shift, "keypoint_states": t["keypoint_states"],
           "keypoint_score": np.ones(t["keypoint_states"].shape, np.float32), "rotation": t["rotation"],
           "translation": t["translation"], "keypoints_3d": t["keypoints_3d"],
           "pose_valid": np.ones(len(t["category"]), bool), "amodal_rle": t["amodal_rle"]}
    out.append(inference.ImageRecord(t, det, r.width, r.height, None))
  return out
