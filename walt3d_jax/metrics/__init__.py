"""Scores against ground truth.

detection: box IoU and precision / recall / F1 at an IoU threshold with greedy score-ordered
  matching, per class (the COCO matching rule at one threshold).
mot: CLEAR MOT (MOTA: misses, false positives, identity switches; MOTP as mean IoU) and the
  identity scores of Ristani et al. 2016 (IDF1, IDP, IDR) from a global trajectory matching.
amodal: amodal AP, AP50, AP75 of boxes and masks through pycocotools, overall and per
  occlusion bin (10 % bins and the Occluded-PASCAL3D+ levels L0-L3; out-of-bin truth ignored).
keypoints: PCK@α of 2D keypoints (α × the amodal box's longer side) per class and visibility
  state.
pose3d: people's root-aligned (mid-hip) MPJPE and 3D PCK; cars' Acc(π/6), Acc(π/18), median
  geodesic rotation and translation errors; each also per occlusion bin.
"""
