"""The footprint test against the exact BEV separation of geometry.footprint."""

import hypothesis
from hypothesis import strategies as st
import jax
import jax.numpy as jnp
import numpy as np

from walt3d_jax.clipart import clearance
from walt3d_jax.geometry import footprint as fp_lib

coord = st.floats(-6, 6)
yaw = st.floats(-np.pi, np.pi)
half = st.floats(0.2, 2.6)


_separation = jax.jit(fp_lib.separation)


def exact_separation(a, a_disc, b, b_disc):
  def one(f, disc):
    f = np.asarray(f, np.float32)
    if disc:
      return fp_lib.discs(jnp.asarray(f[:2]), jnp.asarray(f[3]))
    return fp_lib.rectangles(jnp.asarray(f[:2]), jnp.asarray(f[2]), jnp.asarray(2 * f[3]), jnp.asarray(2 * f[4]))
  return float(_separation(one(a, a_disc), one(b, b_disc)))


@hypothesis.settings(max_examples=150, deadline=None)
@hypothesis.given(coord, coord, yaw, half, half, coord, coord, yaw, half, half, st.booleans(), st.booleans(),
                  st.floats(0.0, 0.5))
def test_clear_implies_exact_separation_at_least_margin(x1, y1, t1, l1, w1, x2, y2, t2, l2, w2, d1, d2, margin):
  a = np.array([x1, y1, t1, l1, w1])
  b = np.array([x2, y2, t2, l2, w2])
  if d1:
    a[4] = a[3]
  if d2:
    b[4] = b[3]
  clear = clearance.footprints_clear(a, d1, b[None], np.array([d2]), margin)
  sep = exact_separation(a, d1, b, d2)
  if clear:
    assert sep >= margin - 1e-4
  if sep < 0:
    assert not clear
  if not d1 and not d2 and sep > margin * 1.5 + 1e-3:
    pass  # conservative for rectangles: may refuse pairs slightly farther than the margin
  elif (d1 or d2) and sep > margin + 1e-4:
    assert clear  # discs are tested exactly


def test_overlapping_rectangles_refused_and_far_ones_accepted():
  car = np.array([0.0, 0.0, 0.3, 2.2, 0.9])
  near = np.array([[1.0, 0.5, -0.2, 2.2, 0.9]])
  far = np.array([[0.0, 4.0, 0.0, 2.2, 0.9]])
  assert not clearance.footprints_clear(car, False, near, np.array([False]), 0.0)
  assert clearance.footprints_clear(car, False, far, np.array([False]), 0.3)
  assert not clearance.footprints_clear(car, False, far, np.array([False]), 3.5)


def test_margin_is_kept_between_rectangles_and_discs():
  car = np.array([0.0, 0.0, 0.0, 2.2, 0.9])
  beside = np.array([[0.0, 1.8 + 0.2, 0.0, 2.2, 0.9]])  # side by side, 0.2 m apart
  assert clearance.footprints_clear(car, False, beside, np.array([False]), 0.1)
  assert not clearance.footprints_clear(car, False, beside, np.array([False]), 0.3)
  person = np.array([[0.0, 0.9 + 0.3 + 0.2, 0.0, 0.3, 0.3]])  # disc 0.2 m from the car's side
  assert clearance.footprints_clear(car, False, person, np.array([True]), 0.1)
  assert not clearance.footprints_clear(car, False, person, np.array([True]), 0.3)
  assert not clearance.footprints_clear(person[0], True, car[None], np.array([False]), 0.3)


def test_margin_is_kept_between_discs():
  person = np.array([0.0, 0.0, 0.0, 0.3, 0.3])
  other = np.array([[0.8, 0.0, 0.0, 0.3, 0.3]])  # 0.2 m apart
  assert clearance.footprints_clear(person, True, other, np.array([True]), 0.1)
  assert not clearance.footprints_clear(person, True, other, np.array([True]), 0.3)
