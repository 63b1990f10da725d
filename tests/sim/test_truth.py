import numpy as np

from walt3d_jax.formats.coco import KeypointState
from walt3d_jax.sim import truth

K = np.array([[100.0, 0, 19.5], [0, 100.0, 14.5], [0, 0, 1]])
STATIC = 10_000


def _buffers():
  """A 40×30 frame: object 0 at depth 10 on the left half, object 1 at depth 5 over the
  middle, a static pole (depth 3) in the last columns."""
  ids = np.full((30, 40), -1, np.int32)
  depth = np.full((30, 40), np.inf, np.float32)
  ids[:, 0:20], depth[:, 0:20] = 0, 10.0
  ids[:, 15:25], depth[:, 15:25] = 1, 5.0
  ids[:, 36:], depth[:, 36:] = STATIC, 3.0
  return ids, depth


def test_keypoint_states_follow_the_zbuffer():
  ids, depth = _buffers()
  self_depth = np.full_like(depth, np.inf)
  self_depth[:, 0:20] = 10.0
  # Project pixel (u, v) at depth z: X = z K^-1 [u, v, 1].
  def at(u, v, z):
    return z * np.linalg.solve(K, [u, v, 1.0])
  points = np.array([
      at(5, 10, 10.0),   # on the visible surface
      at(5, 10, 11.0),   # behind its own surface
      at(17, 10, 10.0),  # behind object 1
      at(38, 10, 10.0),  # behind the pole (the object extends there in 3D)
      at(45, 10, 10.0),  # right of the image
      at(-0.6, 10, 10.0),  # just left of the first pixel
  ])
  uv, states = truth.keypoint_states(points, np.zeros(6), K, depth, self_depth)
  np.testing.assert_allclose(uv[0], [5, 10], atol=1e-9)
  assert states.tolist() == [
      KeypointState.VISIBLE, KeypointState.SELF_OCCLUDED, KeypointState.OCCLUDED_BY_OTHERS,
      KeypointState.OCCLUDED_BY_OTHERS, KeypointState.OUTSIDE_IMAGE, KeypointState.OUTSIDE_IMAGE,
  ]
  # A joint 5 cm inside a limb is visible with a 10 cm tolerance, self-occluded without.
  _, states = truth.keypoint_states(points[1:2], np.array([1.5]), K, depth, self_depth)
  assert states.tolist() == [KeypointState.VISIBLE]


def test_object_truth_splits_occlusion_between_objects_and_scenery():
  ids, depth = _buffers()
  amodal = np.zeros_like(ids, bool)
  amodal[:, 0:40] = True  # object 0 spans the frame; object 1 and the pole hide parts of it
  ids[:, 25:36] = 0  # object 0 shows between object 1 and the pole
  self_depth = np.where(amodal, 10.0, np.inf).astype(np.float32)
  vertices = np.array([[0.0, 0.0, 10.0], [1.0, 0.0, 10.0]])
  t = truth.object_truth(0, ids, depth, amodal, self_depth, vertices, np.zeros(2), vertices, K, STATIC)
  assert t.visible_mask.sum() == 30 * (15 + 11)
  np.testing.assert_allclose(t.occluded_by_objects, 10 / 40)  # columns 15..24 under object 1
  np.testing.assert_allclose(t.occluded_by_scenery, 4 / 40)
  np.testing.assert_allclose(t.occlusion, t.occluded_by_objects + t.occluded_by_scenery)
  assert not t.truncated
  assert t.amodal_box == [0.0, 0.0, 40.0, 30.0]


def test_truncation_from_vertices_outside_the_image():
  ids, depth = _buffers()
  amodal = ids == 0
  vertices = np.array([[0.0, 0.0, 10.0], [-5.0, 0.0, 10.0]])  # second projects to u = -30
  t = truth.object_truth(0, ids, depth, amodal, depth, vertices[:1], np.zeros(1), vertices, K, STATIC)
  assert t.truncated
