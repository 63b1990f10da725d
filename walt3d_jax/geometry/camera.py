"""Pinhole camera with a ground plane, and its `camera.json` file.

Camera frame: OpenCV (x right, y down, z forward), metres. Pixels (u, v) with pixel centres at
integers. Ground plane in the camera frame: normal·X + offset = 0 with the normal unit and
pointing up (towards the camera), so offset = d > 0 is the camera height in metres.

camera.json: {"K": [[fx, s, cx], [0, fy, cy], [0, 0, 1]], "image_size": [w, h],
"n": [nx, ny, nz], "d": d, optional "dist": [k1, k2, p1, p2, ...] (OpenCV order)}.
Distortion is carried, not applied: every function here works on undistorted pixels.
"""

from __future__ import annotations

import json
import os
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from walt3d_jax.errors import UserError
from walt3d_jax.geometry import small_linalg
from walt3d_jax.geometry import so3

# Lengths OpenCV accepts for distortion coefficients.
_DIST_LENGTHS = (4, 5, 8, 12, 14)
# |n| below this (in whatever units the file uses) is a zero normal, not a direction.
_MIN_NORMAL = 1e-9


class CameraError(UserError):
  """A camera file or camera description is invalid; the message names the file and field."""


@flax.struct.dataclass
class Camera:
  """A calibrated camera looking at a ground plane.

  K: (3, 3) intrinsics, pixels.
  normal: (3,) unit ground normal in the camera frame, pointing up (towards the camera).
  offset: () metres, the plane's d in normal·X + d = 0; > 0, the camera height.
  width, height: image size in pixels (static: they set array shapes).
  dist: OpenCV distortion coefficients, () when the images are undistorted (static).
  """

  K: jax.Array
  normal: jax.Array
  offset: jax.Array
  width: int = flax.struct.field(pytree_node=False)
  height: int = flax.struct.field(pytree_node=False)
  dist: tuple[float, ...] = flax.struct.field(pytree_node=False, default=())

  @property
  def image_size(self) -> tuple[int, int]:
    """(width, height) pixels."""
    return self.width, self.height


def project(K: jax.Array, points: jax.Array) -> jax.Array:
  """Pixels (..., 2) of camera-frame points (..., 3) metres; K (..., 3, 3).

  Points at z <= 0 give meaningless pixels: check depth before trusting them.
  """
  p = small_linalg.matvec(K, points)
  return p[..., :2] / p[..., 2:3]


def pixel_rays(K: jax.Array, uv: jax.Array) -> jax.Array:
  """Rays K⁻¹ [u, v, 1] (..., 3) through pixels uv (..., 2); z = 1, so depth scales them."""
  ones = jnp.ones_like(uv[..., :1])
  p = jnp.concatenate([uv, ones], axis=-1)
  return small_linalg.matvec(small_linalg.inverse_3x3(K), p)


def back_project(K: jax.Array, uv: jax.Array, depth: jax.Array) -> jax.Array:
  """Camera-frame points (..., 3) metres at pixels uv (..., 2) and depth z (...) metres."""
  return depth[..., None] * pixel_rays(K, uv)


def intrinsics(hfov: float, image_size: tuple[int, int]) -> jax.Array:
  """(3, 3) K of a square-pixel camera: f = (w/2)/tan(hfov/2), centre ((w-1)/2, (h-1)/2).

  hfov: horizontal field of view, radians; image_size: (w, h) pixels.
  """
  w, h = image_size
  f = 0.5 * w / jnp.tan(0.5 * jnp.asarray(hfov, jnp.result_type(hfov, float)))
  o, z = jnp.ones_like(f), jnp.zeros_like(f)
  return jnp.stack([jnp.stack([f, z, 0.5 * (w - 1) * o]), jnp.stack([z, f, 0.5 * (h - 1) * o]),
                    jnp.stack([z, z, o])])


def scale_intrinsics(K: np.ndarray, sx: float, sy: float) -> np.ndarray:
  """K (3, 3) of the same camera whose image is resized by (sx, sy) (new / old pixels per axis):
  focal lengths scale, and the principal point moves with pixel centres at integers
  ((c + 0.5) s - 0.5), the convention of every mask and box here."""
  K = np.asarray(K, np.float64)
  out = K.copy()
  out[0] *= sx
  out[1] *= sy
  out[0, 2] = (K[0, 2] + 0.5) * sx - 0.5
  out[1, 2] = (K[1, 2] + 0.5) * sy - 0.5
  return out


def mount_rotation(pitch: jax.Array, roll: jax.Array = 0.) -> jax.Array:
  """(..., 3, 3) R_cg (ground -> camera) of a camera looking along +x_g, pitched down.

  pitch: radians below the horizon (> 0 looks down). roll: radians about the optical axis
  (camera x axis turned towards its y axis). At roll 0 the camera axes in ground coordinates
  are x_c = (0, -1, 0), y_c = (-sin p, 0, -cos p), z_c = (cos p, 0, -sin p).
  """
  pitch = jnp.asarray(pitch, jnp.result_type(pitch, float))
  s, c = jnp.sin(pitch), jnp.cos(pitch)
  z = jnp.zeros_like(pitch)
  # Rows are the camera axes in ground coordinates.
  rows = jnp.stack([jnp.stack([z, -jnp.ones_like(pitch), z], -1),
                    jnp.stack([-s, z, -c], -1),
                    jnp.stack([c, z, -s], -1)], axis=-2)
  return jnp.swapaxes(so3.rot_z(roll), -1, -2) @ rows


def mounted_camera(height: float, pitch: float, hfov: float, image_size: tuple[int, int],
                   roll: float = 0.) -> Camera:
  """A camera `height` metres above the ground-frame origin, looking along +x_g.

  pitch: radians down from the horizon; hfov: horizontal field of view, radians; image_size:
  (w, h) pixels; roll: radians about the optical axis. Its canonical ground frame
  (`plane.ground_frame`) is exactly this mount's frame.
  """
  r_cg = mount_rotation(pitch, roll)
  w, h = image_size
  return Camera(K=intrinsics(hfov, image_size), normal=r_cg[..., 2],
                offset=jnp.asarray(height, r_cg.dtype), width=int(w), height=int(h))


def _fail(source: str, field: str, what: str) -> CameraError:
  return CameraError(f'{source}: field {field!r}: {what}')


def _leaves(value: Any):
  if isinstance(value, (list, tuple)):
    for v in value:
      yield from _leaves(v)
  else:
    yield value


def _numbers(source: str, field: str, value: Any, shape: tuple[int, ...] | None) -> np.ndarray:
  """value as a finite float64 array of `shape` (None: any 1-D), or CameraError."""
  if shape is None:
    want = 'a list of numbers'
  elif shape == ():
    want = 'a number'
  else:
    want = 'x'.join(map(str, shape)) + ' numbers'
  if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in _leaves(value)):
    raise _fail(source, field, f'expected {want}, got {value!r}')
  try:
    arr = np.asarray(value, dtype=np.float64)
  except ValueError as e:  # ragged nesting
    raise _fail(source, field, f'expected {want}, got {value!r}') from e
  if (shape is not None and arr.shape != shape) or (shape is None and arr.ndim != 1):
    raise _fail(source, field, f'expected {want}, got shape {arr.shape}: {value!r}')
  if not np.all(np.isfinite(arr)):
    raise _fail(source, field, f'contains NaN or infinity: {value!r}')
  return arr


def camera_from_dict(data: Any, source: str = '<camera dict>') -> Camera:
  """Validated `Camera` from camera.json's dictionary; errors name `source` and the field.

  The plane is normalised (unit n) and its sign canonicalised (d > 0, n towards the camera).
  """
  if not isinstance(data, dict):
    raise CameraError(f'{source}: expected a JSON object, got {type(data).__name__}')
  for field in ('K', 'image_size', 'n', 'd'):
    if field not in data:
      raise CameraError(f'{source}: missing field {field!r}')

  k = _numbers(source, 'K', data['K'], (3, 3))
  if not np.array_equal(k[2], [0., 0., 1.]) or k[1, 0] != 0.:
    raise _fail(source, 'K', f'expected [[fx, s, cx], [0, fy, cy], [0, 0, 1]], got {k.tolist()}')
  if k[0, 0] <= 0. or k[1, 1] <= 0.:
    raise _fail(source, 'K', f'focal lengths must be > 0, got fx={k[0, 0]}, fy={k[1, 1]}')

  size = data['image_size']
  if (not isinstance(size, (list, tuple)) or len(size) != 2
      or not all(isinstance(x, int) and not isinstance(x, bool) and x > 0 for x in size)):
    raise _fail(source, 'image_size', f'expected [width, height], two positive ints, got {size!r}')
  w, h = size

  n = _numbers(source, 'n', data['n'], (3,))
  d = _numbers(source, 'd', data['d'], ())
  norm = float(np.linalg.norm(n))
  if norm < _MIN_NORMAL:
    raise _fail(source, 'n', f'ground normal is zero: {n.tolist()}')
  if d == 0.:
    raise _fail(source, 'd', 'd = 0 puts the camera on the ground plane')
  n, d = n / norm, float(d) / norm
  if d < 0.:
    n, d = -n, -d

  # With n towards the camera, a ray r meets the plane in front iff n·r < 0. n·r is affine in
  # u along a row, so the row's two end pixels decide whether any of the bottom row does.
  rays = np.linalg.solve(k, np.array([[0., h - 1., 1.], [w - 1., h - 1., 1.]]).T).T
  if not np.any(rays @ n < 0.):
    raise _fail(source, 'n', 'the ground plane is behind the camera: no pixel of the bottom '
                f'image row sees it (n = {n.tolist()}, d = {d})')

  dist: tuple[float, ...] = ()
  if 'dist' in data and data['dist'] is not None:
    coeffs = _numbers(source, 'dist', data['dist'], None)
    if len(coeffs) not in _DIST_LENGTHS:
      raise _fail(source, 'dist', f'expected {_DIST_LENGTHS} coefficients, got {len(coeffs)}')
    dist = tuple(float(c) for c in coeffs)

  return Camera(K=jnp.asarray(k, jnp.float32), normal=jnp.asarray(n, jnp.float32),
                offset=jnp.asarray(d, jnp.float32), width=w, height=h, dist=dist)


def camera_to_dict(camera: Camera) -> dict[str, Any]:
  """camera.json's dictionary of `camera` (plain Python floats and ints)."""
  data = {
      'K': np.asarray(camera.K, np.float64).tolist(),
      'image_size': [int(camera.width), int(camera.height)],
      'n': np.asarray(camera.normal, np.float64).tolist(),
      'd': float(camera.offset),
  }
  if camera.dist:
    data['dist'] = [float(c) for c in camera.dist]
  return data


def load_camera(path: str | os.PathLike) -> Camera:
  """Reads and validates camera.json at `path`; raises CameraError naming file and field."""
  source = os.fspath(path)
  try:
    with open(source) as f:
      data = json.load(f)
  except OSError as e:
    raise CameraError(f'{source}: cannot read camera file: {e}') from e
  except json.JSONDecodeError as e:
    raise CameraError(f'{source}: not valid JSON: {e}') from e
  return camera_from_dict(data, source)


def save_camera(camera: Camera, path: str | os.PathLike) -> None:
  """Writes `camera` as camera.json at `path`, after the same validation as loading."""
  source = os.fspath(path)
  data = camera_to_dict(camera)
  camera_from_dict(data, source)  # never write a file that would not load
  with open(source, 'w') as f:
    json.dump(data, f, indent=2, allow_nan=False)
    f.write('\n')
