"""The learnt stages by name: shipped weights, files, order, and the errors a user can make."""

import pytest

from walt3d_jax.errors import UserError
from walt3d_jax.timelapse import propose
from walt3d_jax.timelapse import refine
from walt3d_jax.timelapse import stages
from walt3d_jax.timelapse import verify


def test_stages_chain_in_order_whatever_order_they_are_named():
  chain = stages.load({"proposer": "shipped", "verifier": "shipped", "refiner": str(refine.SHIPPED_PATH)})
  assert [type(s) for s in chain.stages] == [verify.Verifier, refine.Refiner, propose.Proposer]
  assert stages.name({"refiner": str(refine.SHIPPED_PATH)}, "refiner") == "box_refiner.npz"
  assert stages.name({"refiner": "shipped"}, "verifier") is None
  assert stages.load({}) is None and stages.load({"verifier": ""}) is None


def test_a_missing_file_or_an_unknown_stage_names_where(tmp_path):
  with pytest.raises(UserError, match=r"config.data.stages.refiner: no file .*nope.npz"):
    stages.load({"refiner": str(tmp_path / "nope.npz")}, "config.data.stages")
  with pytest.raises(UserError, match="unknown stage.*verifyer.*known: verifier, refiner, proposer"):
    stages.load({"verifyer": "shipped"})
