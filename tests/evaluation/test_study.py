"""The study job's bookkeeping and reports, on scores with known answers (no training here:
the runs themselves are the train and evaluate jobs, tested on their own)."""

import numpy as np
import pytest

from experiments import eval_occlusion
from tests.evaluation.records import oracle
from walt3d_jax.evaluation import scores
from walt3d_jax.evaluation import study


@pytest.mark.parametrize("name,count", [("occlusion", 3 * 2), ("data_efficiency", 2 * 4 * 2), ("tracking", 2 * 2)])
def test_each_study_asks_for_its_runs(name, count):
  config = eval_occlusion.get_config("tiny", study=name)
  runs = study.runs_of(config)
  assert len(runs) == count
  names = [r.name(config.train.total_steps) for r in runs]
  assert len(set(names)) == len(names)
  if name == "tracking":  # the same runs as the occlusion study's, so a shared workdir reuses them
    occlusion = {r.name(300) for r in study.runs_of(eval_occlusion.get_config("tiny"))}
    assert set(names) <= occlusion


def test_subset_is_the_first_records_and_bounded():
  sub = study.Subset(list(range(10)), 3)
  assert len(sub) == 3 and [sub[i] for i in range(3)] == [0, 1, 2]
  with pytest.raises(IndexError):
    sub[3]


def test_comparisons_need_ranges_that_do_not_overlap():
  assert "beats" in study.compare("A", "B", (0.5, 0.05, 2), (0.3, 0.1, 2))
  assert "no difference" in study.compare("A", "B", (0.5, 0.15, 2), (0.3, 0.1, 2))
  assert "is below" in study.compare("A", "B", (0.1, 0.01, 3), (0.3, 0.1, 3))
  assert "one seed" in study.compare("A", "B", (0.5, 0.0, 1), (0.3, 0.0, 1))
  assert study.spread([None, 0.2, 0.4]) == (pytest.approx(0.3), pytest.approx(0.1), 2)
  assert study.pm([None]) == "–"


def test_reports_tabulate_every_run(truth_records, tmp_path):
  config = eval_occlusion.get_config("tiny")
  config.testsets = {}
  good, bad = scores.score(oracle(truth_records)), scores.score(oracle(truth_records, shift=50.0))
  results = {}
  for arm, mode, labels in config.arms:
    for seed in config.seeds:
      run = study.Run(arm, mode, labels, 1.0, seed)
      results[run] = {"scores": {study.COMPOSITED: good if arm == "WALT3D" else bad}}
  text = "\n".join(study.occlusion_markdown(config, results, tmp_path))
  assert "| WALT3D | 2 | 1.000 ± 0.000 |" in text and "| modal | 2 | 0.000 ± 0.000 |" in text
  assert (tmp_path / "occlusion_composited.png").stat().st_size > 0
  effic = {study.Run(m.upper(), m, "amodal", f, s): {"scores": {study.COMPOSITED: good if m == "walt3d" else bad}}
           for m in ("walt2d", "walt3d") for f in config.fractions for s in config.seeds}
  verdict = study.efficiency_verdicts(config, effic)
  assert len(verdict) == 2 and all("WALT3D beats WALT2D" in v for v in verdict)
  assert "| 15% |" in "\n".join(study.efficiency_markdown(config, effic, tmp_path))
