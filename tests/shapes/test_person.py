"""Tests for the walking person model."""

import numpy as np
import pytest

from tests.shapes.mesh_checks import assert_closed_and_outward, assert_each_piece_outward
from walt3d_jax.shapes import person
from walt3d_jax.shapes.mesh import Part

PEOPLE = [person.sample_person(np.random.default_rng(s)) for s in range(12)]
NAMES = person.COCO_KEYPOINT_NAMES


def _j(name):
  return NAMES.index(name)


def test_sampled_statures_follow_the_sex_mixture():
  rng = np.random.default_rng(0)
  params = np.stack([person.sample_person(rng) for _ in range(2000)])
  h, female = params[:, 0], params[:, 4] > 0.5
  assert abs(h[female].mean() - 1.62) < 0.01 and abs(h[~female].mean() - 1.75) < 0.01
  assert abs(h[~female].std() - 0.07) < 0.01
  assert abs(params[:, 1].mean() / h.mean() - 0.259) < 0.01


def test_skeleton_and_names():
  assert len(NAMES) == 17 and NAMES[0] == "nose" and NAMES[16] == "right_ankle"
  assert len(person.COCO_SKELETON) == 19
  assert all(0 <= a < 17 and 0 <= b < 17 for a, b in person.COCO_SKELETON)
  for i, j in enumerate(person.COCO_KEYPOINT_MIRROR):
    assert NAMES[j] == NAMES[i].replace("left", "@").replace("right", "left").replace("@", "right")


@pytest.mark.parametrize("params", PEOPLE[:6])
def test_stature_and_segment_heights_at_mid_stance(params):
  h = params[0]
  m = person.person_mesh(params, 0.0)  # left leg at mid-stance
  assert abs(m.vertices[m.faces].max(axis=(0, 1))[2] - h) < 0.02
  j = person.person_joints(params, 0.0)
  for name, fraction in (("left_eye", 0.936), ("left_shoulder", 0.818), ("left_hip", 0.530),
                         ("left_knee", 0.285), ("left_ankle", 0.039)):
    assert abs(j[_j(name), 2] - fraction * h) < 0.02, name


@pytest.mark.parametrize("phase", np.linspace(0.0, 1.0, 9))
def test_feet_on_the_ground_and_facing_forward(phase):
  for params in PEOPLE[:4]:
    j = person.person_joints(params, phase)
    ankles = j[[_j("left_ankle"), _j("right_ankle")], 2]
    np.testing.assert_allclose(ankles.min(), 0.039 * params[0], atol=1e-9)
    m = person.person_mesh(params, phase)
    assert abs(m.vertices[m.faces].min(axis=(0, 1))[2]) < 1e-9
    assert j[_j("nose"), 0] > j[_j("left_ear"), 0] + 0.05  # nose ahead of the ears: +x
    assert j[_j("left_shoulder"), 1] > 0 > j[_j("right_shoulder"), 1]  # left = +y


def test_gait_periodic_and_legs_half_a_cycle_apart():
  mirror = np.array(person.COCO_KEYPOINT_MIRROR)
  flip = np.array([1.0, -1.0, 1.0])
  for params in PEOPLE[:4]:
    np.testing.assert_allclose(person.person_joints(params, 0.0), person.person_joints(params, 1.0),
                               atol=1e-12)
    for phase in (0.1, 0.37, 0.8):
      a = person.person_joints(params, phase)
      b = person.person_joints(params, phase + 0.5)
      # Half a cycle later the body is the mirror image: left does what right did.
      np.testing.assert_allclose(b[mirror] * flip, a, atol=1e-9)
    # And the legs do move: the ankles swap front and back over the cycle.
    xs = np.array([person.person_joints(params, t)[[_j("left_ankle"), _j("right_ankle")], 0]
                   for t in np.linspace(0, 1, 20, endpoint=False)])
    assert xs[:, 0].max() - xs[:, 0].min() > 0.5 * person.person_step_length(params)


def test_step_length_at_double_support():
  params = PEOPLE[0]
  spreads = [np.ptp(person.person_joints(params, t)[[_j("left_ankle"), _j("right_ankle")], 0])
             for t in np.linspace(0, 1, 200, endpoint=False)]
  np.testing.assert_allclose(max(spreads), 0.41 * params[0], rtol=0.1)


def test_arms_swing_against_the_legs():
  params = PEOPLE[1]
  j = person.person_joints(params, 0.25)  # right heel strike: right leg forward
  assert j[_j("right_ankle"), 0] > j[_j("left_ankle"), 0]
  assert j[_j("right_wrist"), 0] < j[_j("left_wrist"), 0]


@pytest.mark.parametrize("phase", [0.0, 0.3, 0.65])
def test_mesh_closed_outward_parts_and_keypoints(phase):
  for params in PEOPLE[::3]:
    m = person.person_mesh(params, phase)
    assert_closed_and_outward(m)
    assert_each_piece_outward(m)
    assert 150 <= len(m.faces) <= 400
    for part in (Part.SKIN, Part.HAIR, Part.SHIRT, Part.TROUSERS, Part.SHOES):
      assert np.any(m.parts == part), part
    np.testing.assert_allclose(m.keypoints, person.person_joints(params, phase), atol=1e-12)
    assert not np.isin(m.keypoint_vertices, m.faces).any()  # extra vertices, in no face


def test_keypoint_radii_and_footprint():
  for params in PEOPLE[:3]:
    radii = person.person_keypoint_radii(params)
    assert radii.shape == (17,) and np.all(radii >= 0) and np.all(radii < 0.2)
    assert radii[_j("left_hip")] > radii[_j("left_wrist")] > radii[_j("nose")]
  rng = np.random.default_rng(11)
  for _ in range(40):
    params = person.sample_person(rng)
    for phase in (0.0, 0.25, 0.6):
      m = person.person_mesh(params, phase)
      v = m.vertices[np.unique(m.faces)]
      assert np.abs(v[:, 1]).max() < person.PERSON_FOOTPRINT_RADIUS
      feet = m.vertices[np.unique(m.faces[m.parts == Part.SHOES])]
      assert np.abs(feet[:, 0]).max() < 0.33 * params[0]


def test_invalid_params_name_the_field():
  bad = PEOPLE[0].copy()
  bad[person.PERSON_PARAM_NAMES.index("height")] = np.inf
  with pytest.raises(ValueError, match="height"):
    person.person_joints(bad, 0.0)
  bad = PEOPLE[0].copy()
  bad[person.PERSON_PARAM_NAMES.index("shirt")] = 99
  with pytest.raises(ValueError, match="shirt"):
    person.person_mesh(bad, 0.0)
  assert set(person.person_colours(PEOPLE[0])) == {Part.SKIN, Part.HAIR, Part.SHIRT,
                                                  Part.TROUSERS, Part.SHOES}
