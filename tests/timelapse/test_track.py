"""SORT on synthetic boxes: identities through a miss and a crossing, births, deaths, bursts."""

import numpy as np
import pytest

from walt3d_jax.metrics import mot
from walt3d_jax.timelapse import track
from walt3d_jax.timelapse.types import FrameDetections
from walt3d_jax.timelapse.types import NUM_KEYPOINTS


def _dets(image_id, boxes, categories=None, truth_ids=None):
  boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
  n = len(boxes)
  categories = np.ones(n) if categories is None else categories
  # Ground-truth scoring reuses FrameDetections with the true ids in track_ids.
  ids = np.full(n, -1) if truth_ids is None else truth_ids
  mask = {"size": [1, 1], "counts": "11"}
  return FrameDetections(image_id, boxes, np.ones(n), categories, (mask,) * n,
                         np.zeros((n, NUM_KEYPOINTS, 3)), ids)


def _crossing_scene(num_frames=24, miss=(10, 0)):
  """Car A drives right, car B left 4 px lower; their boxes cross (nearly coincide) between
  frames 11 and 12. Detection of object miss[1] is dropped at frame miss[0]."""
  truth, dets = [], []
  for f in range(num_frames):
    a = [10 + 8 * f, 50, 40, 20]
    b = [10 + 8 * (num_frames - 1 - f), 54, 40, 20]
    truth.append(_dets(f, [a, b], truth_ids=[1, 2]))
    keep = [0, 1] if f != miss[0] else [1 - miss[1]]
    # Small detection jitter, deterministic.
    jitter = np.sin(np.arange(8) + f).reshape(2, 4)
    dets.append(_dets(f, (np.array([a, b]) + jitter)[keep]))
  return truth, dets


def test_identities_survive_a_miss_and_a_crossing():
  truth, dets = _crossing_scene()
  out = track.track(dets, config=track.SortConfig(min_hits=3, max_age=2))
  scores = mot.evaluate_tracking(truth, out)
  assert scores.id_switches == 0
  assert scores.num_hyp_tracks == 2
  assert scores.fn == 1 and scores.fp == 0  # only the dropped detection is missing
  assert scores.idf1 == pytest.approx(2 * 47 / (48 + 47))
  # Offline birth: the first min_hits - 1 detections carry the id too.
  assert (out[0].track_ids >= 1).all()


def test_without_motion_model_the_crossing_would_swap():
  # Guard that the crossing is a real test: plain nearest-box IoU matching from the last
  # detection (no velocity) swaps identities at the crossing.
  truth, dets = _crossing_scene(miss=(-1, 0))
  prev, ids, out = None, None, []
  for d in dets:
    if prev is None:
      ids = np.arange(1, d.num + 1)
    else:
      pairs = track.associate(d.boxes, prev.boxes, 0.0)
      ids = np.array([ids[c] for _, c in sorted(pairs)])
    out.append(d.with_track_ids(ids))
    prev = d
  assert mot.evaluate_tracking(truth, out).id_switches > 0
  assert mot.evaluate_tracking(truth, track.track(dets)).id_switches == 0


def test_max_age_ends_tracks_after_long_misses():
  box = [20, 20, 30, 30]
  dets = [_dets(f, [box] if f not in (5, 6, 7) else []) for f in range(12)]
  out = track.track(dets, config=track.SortConfig(min_hits=2, max_age=2))
  assert len({int(i) for d in out for i in d.track_ids}) == 2  # 3 misses > max_age: new track
  out = track.track(dets, config=track.SortConfig(min_hits=2, max_age=3))
  assert len({int(i) for d in out for i in d.track_ids}) == 1


def test_one_frame_tracks_kept_or_dropped_by_config():
  dets = [_dets(0, []), _dets(1, [[5, 5, 10, 10]]), _dets(2, [])]
  dropped = track.track(dets, config=track.SortConfig(min_hits=2))
  assert [d.track_ids.tolist() for d in dropped] == [[], [-1], []]
  kept = track.track(dets, config=track.SortConfig(min_hits=1))
  assert [d.track_ids.tolist() for d in kept] == [[], [1], []]


def test_empty_sequences_and_frames():
  assert track.track([]) == []
  out = track.track([_dets(i, []) for i in range(5)], times=np.arange(5) * 0.1)
  assert all(d.num == 0 for d in out)


def test_gap_between_bursts_starts_new_tracks():
  box = [20, 20, 30, 30]
  dets = [_dets(f, [box]) for f in range(8)]
  times = np.r_[np.arange(4) * 0.1, 3600 + np.arange(4) * 0.1]
  out = track.track(dets, times, track.SortConfig(min_hits=2))
  ids = [int(d.track_ids[0]) for d in out]
  assert ids[:4] == [ids[0]] * 4 and ids[4:] == [ids[4]] * 4 and ids[0] != ids[4]
  assert len(set(int(d.track_ids[0]) for d in track.track(dets, None, track.SortConfig(min_hits=2)))) == 1


def test_categories_are_tracked_apart():
  box = [20, 20, 30, 30]
  dets = [_dets(f, [box], categories=[1 if f < 4 else 2]) for f in range(8)]
  ids = [int(d.track_ids[0]) for d in track.track(dets, config=track.SortConfig(min_hits=2))]
  assert ids[:4] == [ids[0]] * 4 and ids[4:] == [ids[4]] * 4 and ids[0] != ids[4]
  ids = [int(d.track_ids[0]) for d in track.track(dets, config=track.SortConfig(min_hits=2, per_class=False))]
  assert len(set(ids)) == 1


def test_degenerate_boxes_and_bad_config():
  dets = [_dets(f, [[5 + f, 5, 0, 0], [50, 50, 20, 10]]) for f in range(4)]
  out = track.track(dets, config=track.SortConfig(min_hits=1))
  assert all((d.track_ids >= 1).all() for d in out)
  with pytest.raises(ValueError, match="min_hits"):
    track.SortConfig(min_hits=0)
  with pytest.raises(ValueError, match="times"):
    track.track(dets, times=[0., 1.])


def test_kalman_state_round_trip_and_velocity():
  boxes = np.array([[10., 20., 40., 20.], [0., 0., 5., 50.]])
  np.testing.assert_allclose(track.state_to_box(track.box_to_observation(boxes)), boxes, atol=1e-9)
  # After a few frames of constant motion the prediction lands on the next box.
  dets = [_dets(f, [[10 + 5 * f, 20, 40, 20]]) for f in range(10)]
  t = track._Tracks.empty()
  t.add(track.box_to_observation(dets[0].boxes), [[]])
  for d in dets[1:]:
    t.predict()
    t.update(np.array([0]), track.box_to_observation(d.boxes))
  t.predict()
  np.testing.assert_allclose(track.state_to_box(t.x)[0], [60, 20, 40, 20], atol=0.5)


def test_associate_respects_the_iou_threshold():
  track_box = np.array([[0., 0., 10., 10.]])
  low = np.array([[8., 0., 10., 10.]])  # overlap 20 px² of 180: IoU 0.11
  high = np.array([[4., 0., 10., 10.]])  # overlap 60 px² of 140: IoU 0.43
  assert track.associate(low, track_box, 0.3) == []
  assert track.associate(low, track_box, 0.1) == [(0, 0)]
  assert track.associate(high, track_box, 0.3) == [(0, 0)]
  # Of two candidates the best one is taken, but only when it clears the threshold.
  assert track.associate(np.concatenate([low, high]), track_box, 0.3) == [(1, 0)]
  assert track.associate(np.concatenate([low, low + [1, 0, 0, 0]]), track_box, 0.3) == []


def _stopping_car():
  # A car drives right at 6 px/frame for 40 frames, then stops; a box of 20 x 20 px.
  xs = [10 + 6 * min(f, 40) for f in range(70)]
  return [_dets(f, [[x, 50, 20, 20]]) for f, x in enumerate(xs)]


def test_process_noise_lets_a_track_follow_a_change_of_velocity(monkeypatch):
  config = track.SortConfig(min_hits=1, max_age=0)
  ids = [int(d.track_ids[0]) for d in track.track(_stopping_car(), config=config)]
  assert ids == [1] * 70
  # Guard that the stop is a real test: without process noise the filter trusts its velocity
  # ever more, overshoots the stopped car and loses it.
  monkeypatch.setattr(track, '_Q', np.zeros((7, 7)))
  ids = [int(d.track_ids[0]) for d in track.track(_stopping_car(), config=config)]
  assert len(set(ids)) > 1


def test_prediction_covariance_grows_between_updates():
  t = track._Tracks.empty()
  t.add(track.box_to_observation(np.array([[10., 20., 40., 20.]])), [[]])
  for f in range(1, 60):  # a long steady track: the covariance reaches its steady state
    t.predict()
    t.update(np.array([0]), track.box_to_observation(np.array([[10. + 5 * f, 20., 40., 20.]])))
  after_update = np.diag(t.P[0]).copy()
  t.predict()
  grown = np.diag(t.P[0]) - after_update
  # Position variance gains at least Q's share every step, and the velocity's never vanishes.
  assert np.all(grown[:4] >= np.diag(track._Q)[:4] - 1e-9)
  assert np.all(after_update[4:6] > 1e-3)


def test_kalman_update_gain_is_textbook():
  # From P0 and one predict, the position gain is P / (P + R) with P = P0 + Q (+ the velocity's
  # share through F): x moves by that fraction of the innovation.
  t = track._Tracks.empty()
  t.add(track.box_to_observation(np.array([[0., 0., 20., 20.]])), [[]])
  t.predict()
  p = t.P[0, 0, 0]
  z = track.box_to_observation(np.array([[11., 0., 20., 20.]]))
  t.update(np.array([0]), z)
  assert t.x[0, 0] == pytest.approx(10. + 11. * p / (p + track._R[0, 0]))
