"""Scores of the mining stage against ground truth.

detection: box IoU and precision / recall / F1 at an IoU threshold with greedy score-ordered
  matching, per class (the COCO matching rule at one threshold).
mot: CLEAR MOT (MOTA: misses, false positives, identity switches; MOTP as mean IoU) and the
  identity scores of Ristani et al. 2016 (IDF1, IDP, IDR) from a global trajectory matching.
"""
