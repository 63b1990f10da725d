"""Tests for the parametric car family."""

import time

import numpy as np
import pytest

from tests.shapes.mesh_checks import assert_closed_and_outward, assert_each_piece_outward
from walt3d_jax.shapes import vehicle
from walt3d_jax.shapes.mesh import Part

# The documented per-type ranges (vehicle module docstring, from REFERENCE.md).
RANGES = {
    "sedan": ((4.40, 4.95), (1.75, 1.86), (1.40, 1.50)),
    "hatchback": ((3.60, 4.20), (1.65, 1.78), (1.40, 1.55)),
    "suv": ((4.30, 5.10), (1.80, 2.00), (1.60, 1.80)),
    "van": ((4.80, 5.30), (1.90, 2.00), (1.70, 2.00)),
    "pickup": ((5.30, 5.90), (2.00, 2.10), (1.80, 2.00)),
}


def _cars(seed=0, per_type=40):
  rng = np.random.default_rng(seed)
  return [(t, vehicle.sample_car_params(rng, t)) for t in vehicle.BODY_TYPES
          for _ in range(per_type)]


CARS = _cars()


def test_sampling_is_deterministic_and_covers_all_types():
  a = [vehicle.sample_car_params(np.random.default_rng(7)) for _ in range(3)]
  b = [vehicle.sample_car_params(np.random.default_rng(7)) for _ in range(3)]
  assert all(x.tobytes() == y.tobytes() for x, y in zip(a, b))
  rng = np.random.default_rng(1)
  lengths = [vehicle.car_dimensions(vehicle.sample_car_params(rng))[0] for _ in range(200)]
  assert min(lengths) < 4.2 and max(lengths) > 5.3  # hatchbacks and pickups both drawn


def test_unknown_body_type_is_rejected():
  with pytest.raises(ValueError, match="body_type"):
    vehicle.sample_car_params(np.random.default_rng(0), "limousine")


@pytest.mark.parametrize("body_type", vehicle.BODY_TYPES)
def test_dimensions_within_documented_ranges(body_type):
  for t, p in CARS:
    if t != body_type:
      continue
    dims = vehicle.car_dimensions(p)
    for value, (lo, hi) in zip(dims, RANGES[t]):
      assert lo <= value <= hi
    length, width, height = dims
    named = dict(zip(vehicle.CAR_PARAM_NAMES, p))
    assert 0.58 <= named["wheelbase"] / length <= 0.62
    assert 0.60 <= named["wheel_diameter"] <= 0.75
    assert 0.13 <= named["ground_clearance"] <= 0.22
    assert abs(named["track"] / width - 0.85) < 0.01


def test_mesh_bounding_box_matches_dimensions():
  for _, p in CARS[::7]:
    m = vehicle.car_mesh(p)
    length, width, height = vehicle.car_dimensions(p)
    np.testing.assert_allclose(m.vertices.max(0) - m.vertices.min(0), [length, width, height],
                               atol=1e-9)
    np.testing.assert_allclose(m.vertices.min(0)[2], 0.0, atol=1e-9)  # tyres on the ground


def test_mesh_closed_outward_and_sized():
  for _, p in CARS[::5]:
    m = vehicle.car_mesh(p)
    assert_closed_and_outward(m)
    assert_each_piece_outward(m)
    assert 100 <= len(m.faces) <= 330
    assert m.faces.dtype == np.int32 and m.parts.dtype == np.int8
    for part in (Part.BODY, Part.WINDOW, Part.TYRE, Part.HEADLIGHT, Part.TAILLIGHT, Part.TRIM):
      assert np.any(m.parts == part), part


def test_mesh_mirror_symmetric():
  for _, p in CARS[::9]:
    v = vehicle.car_mesh(p).vertices
    mirrored = v * [1.0, -1.0, 1.0]
    # Every mirrored vertex coincides with some vertex (brute force nearest neighbour).
    d = np.linalg.norm(mirrored[:, None] - v[None], axis=-1).min(1)
    assert d.max() < 1e-9


def test_keypoints_are_mesh_vertices_and_named_right():
  for _, p in CARS[::3]:
    m = vehicle.car_mesh(p)
    kp = vehicle.car_keypoints(p)
    assert kp.shape == (12, 3) and len(vehicle.CAR_KEYPOINT_NAMES) == 12
    np.testing.assert_allclose(m.keypoints, kp, atol=1e-12)
    for i, name in enumerate(vehicle.CAR_KEYPOINT_NAMES):
      assert (kp[i, 1] < 0) == name.startswith("right_")  # right = -y
      assert (kp[i, 0] > 0) == ("_front_" in name)  # front = +x
      j = vehicle.CAR_KEYPOINT_MIRROR[i]
      np.testing.assert_allclose(kp[j], kp[i] * [1, -1, 1], atol=1e-12)
    wheels, lights, roof = kp[:4], kp[4:8], kp[8:]
    assert roof[:, 2].min() > lights[:, 2].max() > lights[:, 2].min() > wheels[:, 2].max()
    np.testing.assert_allclose(roof[:, 2], vehicle.car_dimensions(p)[2])


def test_wheel_keypoint_is_outer_hub_centre():
  p = CARS[0][1]
  m = vehicle.car_mesh(p)
  tyre = m.faces[m.parts == Part.TYRE]
  named = dict(zip(vehicle.CAR_PARAM_NAMES, p))
  for k in range(4):
    kp = m.keypoints[k]
    assert np.isin(m.keypoint_vertices[k], tyre)  # on the tyre surface
    np.testing.assert_allclose(kp[2], named["wheel_diameter"] / 2)
    np.testing.assert_allclose(abs(kp[1]), (named["track"] + named["tyre_width"]) / 2)
    tyre_vertices = m.vertices[np.unique(tyre)]
    near = np.linalg.norm(tyre_vertices[:, [0, 2]] - kp[[0, 2]], axis=1) < 0.5
    assert np.abs(tyre_vertices[near, 1]).max() <= abs(kp[1]) + 1e-12  # outermost face


def test_invalid_params_name_the_field():
  p = CARS[0][1].copy()
  with pytest.raises(ValueError, match="shape"):
    vehicle.car_mesh(p[:-1])
  bad = p.copy()
  bad[vehicle.CAR_PARAM_NAMES.index("width")] = np.nan
  with pytest.raises(ValueError, match="width"):
    vehicle.car_mesh(bad)
  bad = p.copy()
  bad[vehicle.CAR_PARAM_NAMES.index("hood_length")] = 4.0
  with pytest.raises(ValueError, match="roof_length"):
    vehicle.car_mesh(bad)


def test_car_mesh_is_fast():
  p = CARS[0][1]
  vehicle.car_mesh(p)
  start = time.perf_counter()
  for _ in range(50):
    vehicle.car_mesh(p)
  assert (time.perf_counter() - start) / 50 < 5e-3  # about 0.6 ms here; generous for CI noise
