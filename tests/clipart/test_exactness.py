"""Clip-art composed from exact simulated objects matches the simulator's re-render of them."""

import dataclasses

from walt3d_jax.clipart import exactness

KEYS = [f"exact-{i}" for i in range(10)]


def test_composite_matches_rerender(simulated, config):
  agreement = exactness.compare_with_render(simulated, KEYS, config).summary()
  assert agreement["occluded_objects"] >= 3
  assert agreement["mean_visible_iou"] >= 0.95
  assert agreement["mean_visible_iou_occluded"] >= 0.9
  assert agreement["keypoint_state_agreement"] >= 0.95


def test_walt2d_paste_order_disagrees_with_rerender(simulated, config):
  """Negative control: random paste order (no depth test) must fail the same comparison."""
  agreement = exactness.compare_with_render(simulated, KEYS, dataclasses.replace(config, mode="walt2d")).summary()
  assert agreement["mean_visible_iou_occluded"] < 0.9
