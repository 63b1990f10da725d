"""Static occluders learnt from the tracks that pass behind them (timelapse/static_occluders.py).

A synthetic street, 40 × 80 px: lane A runs across rows 10-17 behind a pole (columns 38-39,
rows 0-17); lanes B and C run up and down the image in columns 5-14 and 18-27, rows 22-39, with
a gap of three columns between them that no object ever covers.
"""

import hypothesis
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
import numpy as np
import pytest

from experiments import mine as mine_config
from walt3d_jax.formats import rle
from walt3d_jax.timelapse import mine
from walt3d_jax.timelapse import static_occluders as so
from walt3d_jax.timelapse.bank import MiningFlag
from walt3d_jax.timelapse.types import FrameDetections

H, W = 40, 80
POLE = np.zeros((H, W), bool)
POLE[0:18, 38:40] = True


def _frame(masks: list[np.ndarray], track_ids: list[int]) -> FrameDetections:
  boxes = np.array([rle.mask_box(m) for m in masks], np.float32).reshape(-1, 4)
  n = len(masks)
  return FrameDetections(0, boxes, np.full(n, 0.9), np.ones(n), [rle.encode_mask(m) for m in masks],
                         np.zeros((n, 17, 3)), np.array(track_ids))


def _car(x: int, y: int, w: int = 10, h: int = 8, behind: np.ndarray | None = None) -> np.ndarray:
  """A w × h block at (x, y), less what `behind` hides."""
  mask = np.zeros((H, W), bool)
  mask[y:y + h, x:x + w] = True
  return mask & ~behind if behind is not None else mask


def _street(behind_lane_a: int = 5, in_front_lane_a: int = 0) -> list[FrameDetections]:
  """One frame per object and step: tracks 1.. in lane A (the first `behind_lane_a` behind the
  pole, the next `in_front_lane_a` in front of it), then five tracks each in lanes B and C."""
  frames, track = [], 0
  for k in range(behind_lane_a + in_front_lane_a):
    track += 1
    hidden = POLE if k < behind_lane_a else None
    frames += [_frame([_car(x, 10, behind=hidden)], [track]) for x in range(2 + k, 70, 4)]
  for column in (5, 18):
    for _ in range(5):
      track += 1
      frames += [_frame([_car(column, y, h=6)], [track]) for y in range(22, 34, 3)]
  return frames


@hypothesis.given(hnp.arrays(bool, st.tuples(st.integers(1, 6), st.integers(1, 12))))
def test_row_spans_fill_each_row_from_its_first_to_its_last_covered_column(covered):
  expected = np.zeros_like(covered)
  for y, row in enumerate(covered):
    xs = np.flatnonzero(row)
    if xs.size:
      expected[y, xs[0]:xs[-1] + 1] = True
  np.testing.assert_array_equal(so.row_spans(covered), expected)


def test_a_pole_the_tracks_pass_behind_is_an_occluder_and_the_gap_between_lanes_is_not():
  occluders = so.occluder_map(_street(), (W, H))
  # The pole's pixels that lane A's cars pass behind, and nothing else.
  expected = POLE.copy()
  expected[:10] = False
  np.testing.assert_array_equal(occluders, expected)
  # The gap between lanes B and C is as empty of objects as the pole, but no track spans it.
  assert not occluders[22:, 15:18].any()


def test_a_lane_crossing_a_busy_one_leaves_no_occluder_in_it():
  # Four tracks drive along lane A in full view; six more cross it diagonally. Each crossing
  # track's boxes span a rectangle that holds lane A's far end, but its masks only a band
  # across it: lane A's far end lies outside those tracks' row spans, so it is no hole of theirs.
  along = [_frame([_car(x, 10)], [t]) for t in range(1, 5) for x in range(2 + t, 70, 4)]
  across = [_frame([_car(2 + 4 * k, 2 + 2 * k, w=8, h=6)], [t]) for t in range(5, 11) for k in range(16)]
  assert not so.occluder_map(along + across, (W, H)).any()


def test_a_pole_that_objects_in_front_of_it_cover_as_often_as_not_is_not_an_occluder():
  # One track of five holds the pole as a hole: a share of 0.2, under the default 0.4.
  assert not so.occluder_map(_street(behind_lane_a=1, in_front_lane_a=4), (W, H)).any()
  # Two of five reach it.
  assert so.occluder_map(_street(behind_lane_a=2, in_front_lane_a=3), (W, H)).any()


def test_a_hole_that_many_tracks_share_but_only_a_few_rows_tall_is_speckle():
  # Five tracks in lane B, all missing the same two pixels of one row (noise where far lanes
  # converge); each pixel is a hole in every track that spans it.
  speck = np.zeros((H, W), bool)
  speck[30, 9:11] = True
  frames = [_frame([_car(5, y, h=6, behind=speck)], [t]) for t in range(1, 6) for y in range(22, 34, 3)]
  assert so.occluder_map(frames, (W, H), so.StaticOccluderConfig(min_height=1))[30, 9:11].all()
  assert not so.occluder_map(frames, (W, H)).any()


def test_fewer_tracks_than_min_tracks_teach_nothing():
  three = _street(behind_lane_a=3)
  assert not so.occluder_map(three, (W, H), so.StaticOccluderConfig(min_tracks=4))[:18].any()
  assert so.occluder_map(three, (W, H), so.StaticOccluderConfig(min_tracks=3))[:18].any()


def test_only_an_object_whose_mask_stops_at_the_occluder_is_behind_it():
  occluders = so.occluder_map(_street(), (W, H))
  frame = _frame([
      _car(33, 10, behind=POLE),  # lane A, its right part hidden by the pole
      _car(33, 12),  # in front of the pole, covering it; the pole goes on above its roof
      _car(50, 10),  # lane A, clear of the pole
      _car(5, 24, h=6),  # lane B, beside nothing
  ], [1, 2, 3, 4])
  np.testing.assert_array_equal(so.behind_occluders(frame, occluders), [True, False, False, False])
  assert so.rows_at_occluder(np.zeros((H, W), bool), occluders) == 0.
  # A car whose rows touch the pole only in its top two of eight rows stays.
  low = _car(33, 16) & ~POLE
  assert so.rows_at_occluder(low, occluders) == pytest.approx(2 / 8)
  assert not so.behind_occluders(_frame([low], [1]), occluders)[0]


def test_mining_flags_reject_objects_behind_a_static_occluder_only_when_given_the_map():
  config = mine_config.get_config()
  occluders = so.OccluderMap(so.occluder_map(_street(), (W, H)))
  frame = _frame([_car(33, 10, behind=POLE), _car(50, 10)], [1, 2])
  flags = mine.mining_flags(frame, (W, H), {1: 10, 2: 10}, config, occluders)
  assert flags[0] & MiningFlag.OCCLUDED_STATIC and not flags[1] & MiningFlag.OCCLUDED_STATIC
  assert not (mine.mining_flags(frame, (W, H), {1: 10, 2: 10}, config) & MiningFlag.OCCLUDED_STATIC).any()


def test_bad_settings_and_masks_of_another_size_are_refused():
  for bad in (dict(hole_share=0.), dict(hole_share=1.5), dict(min_tracks=0), dict(min_tracks=2.5), dict(min_rows=0.),
              dict(min_height=0)):
    with pytest.raises(ValueError, match="StaticOccluderConfig"):
      so.StaticOccluderConfig(**bad)
  with pytest.raises(ValueError, match="a mask of 80x40 pixels in frames of 40x80"):
    so.occluder_map(_street(), (H, W))
  with pytest.raises(ValueError, match="differ"):
    so.rows_at_occluder(np.zeros((H, W), bool), np.zeros((W, H), bool))
  config = mine_config.get_config()
  config.mining.static_occluders.min_tracks = 0
  with pytest.raises(mine.UserError, match="config.mining.static_occluders"):
    mine.static_occluder_config(config, built_in=True)
  config.mining.static_occluders.use = "sometimes"
  with pytest.raises(mine.UserError, match="builtin, always, never"):
    mine.static_occluder_config(config, built_in=True)


def test_the_test_runs_with_the_built_in_detector_unless_told_otherwise():
  config = mine_config.get_config()
  assert config.mining.static_occluders.use == "builtin"
  assert mine.static_occluder_config(config, built_in=True) == so.StaticOccluderConfig()
  assert mine.static_occluder_config(config, built_in=False) is None
  config.mining.static_occluders.use = "always"
  assert mine.static_occluder_config(config, built_in=False) is not None
  config.mining.static_occluders.use = "never"
  assert mine.static_occluder_config(config, built_in=True) is None
