"""The mining report's header: every line fits the picture, outcomes most common first."""

import cv2

from walt3d_jax.timelapse import mining_report


def _summary(**extra):
  outcomes = {f"occluded_classifier+flag_{k}": k for k in range(1, 40)} | {"kept": 51}
  return {"read": {"frames": 171, "skipped": 0}, "detections": 4397, "tracks": 355, "mined": 51,
          "outcomes": outcomes, **extra}


def test_header_lines_fit_the_report_and_put_common_outcomes_first():
  lines = mining_report.header_lines(_summary(classifier="occlusion_classifier_builtin.npz",
                                              classifier_threshold=0.0014551, verifier="detection_verifier.npz",
                                              refiner="box_refiner.npz", proposer="proposal_net.npz"))
  assert lines[0].endswith("mined 51") and lines[1:3] == [
      "detections passed: detection verifier detection_verifier.npz, box refiner box_refiner.npz, "
      "proposal network proposal_net.npz",
      "occlusion classifier occlusion_classifier_builtin.npz, rejecting P(occluded) >= 0.00146"]
  outcome_lines = lines[3:]
  assert 1 < len(outcome_lines) <= mining_report.HEADER_OUTCOME_LINES and outcome_lines[-1].endswith("…")
  assert outcome_lines[0].startswith("outcomes: kept 51, occluded_classifier+flag_39 39,")
  for line in lines:
    width = cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX, mining_report.HEADER_SCALE, 1)[0][0]
    assert 6 + width <= mining_report.WIDTH, line


def test_header_without_a_classifier_and_with_the_simulators_purity():
  lines = mining_report.header_lines(_summary(classifier=None, verifier=None, outcomes={"kept": 3, "too_small": 1},
                                              purity_vs_simulator_truth={"purity": 0.75}))
  assert lines == ["frames 171 (skipped 0), detections 4397, tracks 355, mined 51",
                   "outcomes: kept 3, too_small 1",
                   "purity vs simulator truth (fraction truly unoccluded): 0.750"]
