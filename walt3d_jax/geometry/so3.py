"""Rotations in 3D: elementary rotations, rotation vectors, quaternions, geodesic angle.

Matrices act on column vectors (X' = R @ X). Everything is batched over leading dims `...`,
keeps the input dtype and is safe under jit/vmap/grad near the identity and near pi.
Quaternions are (w, x, y, z) (scalar first; scipy's `as_quat` is scalar last).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def _rot(angle: jax.Array, axis: int) -> jax.Array:
  angle = jnp.asarray(angle, jnp.result_type(angle, float))
  c, s = jnp.cos(angle), jnp.sin(angle)
  o, z = jnp.ones_like(angle), jnp.zeros_like(angle)
  if axis == 0:
    rows = [[o, z, z], [z, c, -s], [z, s, c]]
  elif axis == 1:
    rows = [[c, z, s], [z, o, z], [-s, z, c]]
  else:
    rows = [[c, -s, z], [s, c, z], [z, z, o]]
  return jnp.stack([jnp.stack(r, axis=-1) for r in rows], axis=-2)


def rot_x(angle: jax.Array) -> jax.Array:
  """(..., 3, 3) rotation by angle (...) radians about +x (right-handed)."""
  return _rot(angle, 0)


def rot_y(angle: jax.Array) -> jax.Array:
  """(..., 3, 3) rotation by angle (...) radians about +y (right-handed)."""
  return _rot(angle, 1)


def rot_z(angle: jax.Array) -> jax.Array:
  """(..., 3, 3) rotation by angle (...) radians about +z (right-handed)."""
  return _rot(angle, 2)


def skew(v: jax.Array) -> jax.Array:
  """(..., 3, 3) cross-product matrix [v]x of v (..., 3): skew(v) @ w == cross(v, w)."""
  x, y, z = v[..., 0], v[..., 1], v[..., 2]
  o = jnp.zeros_like(x)
  return jnp.stack([jnp.stack([o, -z, y], -1), jnp.stack([z, o, -x], -1),
                    jnp.stack([-y, x, o], -1)], axis=-2)


def rotvec_to_matrix(rotvec: jax.Array) -> jax.Array:
  """(..., 3, 3) rotation of angle |rotvec| radians about rotvec (..., 3) (Rodrigues)."""
  rotvec = jnp.asarray(rotvec, jnp.result_type(rotvec, float))
  theta2 = jnp.sum(rotvec * rotvec, axis=-1)
  small = theta2 < 1e-6
  # Taylor series below ~1e-3 rad keep sin(t)/t and (1-cos t)/t^2 exact and differentiable.
  safe2 = jnp.where(small, 1., theta2)
  theta = jnp.sqrt(safe2)
  a = jnp.where(small, 1. - theta2 / 6., jnp.sin(theta) / theta)
  b = jnp.where(small, 0.5 - theta2 / 24., (1. - jnp.cos(theta)) / safe2)
  k = skew(rotvec)
  eye = jnp.eye(3, dtype=rotvec.dtype)
  return eye + a[..., None, None] * k + b[..., None, None] * (k @ k)


def matrix_to_quaternion(rot: jax.Array) -> jax.Array:
  """(..., 4) unit quaternion (w, x, y, z), w >= 0, of rotation matrices (..., 3, 3).

  Shepperd's method: of the four ways to read the quaternion off the matrix, take the one
  with the largest pivot so no division by a small number happens anywhere in SO(3).
  """
  m = rot
  m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
  tr = m00 + m11 + m22
  cands = jnp.stack([
      jnp.stack([1. + tr, m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0],
                 m[..., 1, 0] - m[..., 0, 1]], -1),
      jnp.stack([m[..., 2, 1] - m[..., 1, 2], 1. + m00 - m11 - m22,
                 m[..., 0, 1] + m[..., 1, 0], m[..., 0, 2] + m[..., 2, 0]], -1),
      jnp.stack([m[..., 0, 2] - m[..., 2, 0], m[..., 0, 1] + m[..., 1, 0],
                 1. - m00 + m11 - m22, m[..., 1, 2] + m[..., 2, 1]], -1),
      jnp.stack([m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0],
                 m[..., 1, 2] + m[..., 2, 1], 1. - m00 - m11 + m22], -1),
  ], axis=-2)  # (..., 4, 4): row i is 4 q_i q (up to scale)
  pivots = jnp.stack([1. + tr, 1. + m00 - m11 - m22, 1. - m00 + m11 - m22,
                      1. - m00 - m11 + m22], -1)
  best = jnp.argmax(pivots, axis=-1)
  q = jnp.take_along_axis(cands, best[..., None, None], axis=-2)[..., 0, :]
  q = q / jnp.linalg.norm(q, axis=-1, keepdims=True)
  return jnp.where(q[..., :1] < 0., -q, q)


def quaternion_to_matrix(quat: jax.Array) -> jax.Array:
  """(..., 3, 3) rotation of quaternions (..., 4) (w, x, y, z), normalised first."""
  q = quat / jnp.linalg.norm(quat, axis=-1, keepdims=True)
  w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
  return jnp.stack([
      jnp.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
      jnp.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
      jnp.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
  ], axis=-2)


def matrix_to_rotvec(rot: jax.Array) -> jax.Array:
  """(..., 3) rotation vector (axis * angle, angle in [0, pi]) of rotation matrices (..., 3, 3).

  Goes through the quaternion, which stays accurate both near the identity (where the
  arccos of the trace loses precision) and near pi (where the skew part vanishes).
  """
  q = matrix_to_quaternion(rot)
  w, v = q[..., 0], q[..., 1:]
  sin_half2 = jnp.sum(v * v, axis=-1)
  small = sin_half2 < 1e-12
  sin_half = jnp.sqrt(jnp.where(small, 1., sin_half2))
  angle = 2. * jnp.arctan2(sin_half, w)
  # angle / sin(angle/2) -> 2 / w as the rotation goes to the identity.
  scale = jnp.where(small, 2. / w, angle / sin_half)
  return v * scale[..., None]


def geodesic_angle(rot1: jax.Array, rot2: jax.Array) -> jax.Array:
  """(...) radians in [0, pi]: the angle of the relative rotation rot1ᵀ rot2 (..., 3, 3)."""
  rel = jnp.swapaxes(rot1, -1, -2) @ rot2
  cos = 0.5 * (rel[..., 0, 0] + rel[..., 1, 1] + rel[..., 2, 2] - 1.)
  axis2 = jnp.stack([rel[..., 2, 1] - rel[..., 1, 2], rel[..., 0, 2] - rel[..., 2, 0],
                     rel[..., 1, 0] - rel[..., 0, 1]], -1)
  sin = 0.5 * jnp.linalg.norm(axis2, axis=-1)
  # atan2 is well conditioned at both ends where arccos(cos) is not.
  return jnp.arctan2(sin, cos)


def yaw_of(rot: jax.Array) -> jax.Array:
  """(...) radians in (-pi, pi]: heading of the rotated x axis in the xy plane, from +x to +y.

  For rot = rot_z(yaw) @ (any tilt that keeps x in the xz plane) this returns yaw; it is how a
  ground-frame object rotation becomes the ground-constrained yaw.
  """
  return jnp.arctan2(rot[..., 1, 0], rot[..., 0, 0])
