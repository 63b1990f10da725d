"""Camera projection against cv2, the mount's geometry, and camera.json validation."""

import json

import cv2
import hypothesis
import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from walt3d_jax.geometry import camera as camera_lib

_settings = hypothesis.settings(max_examples=50, deadline=None, derandomize=True)
_project = jax.jit(camera_lib.project)
_back_project = jax.jit(camera_lib.back_project)

# With a little skew: project/back_project must handle the full upper-triangular K.
_K = np.array([[800., 2., 330.], [0., 780., 250.], [0., 0., 1.]], np.float32)
# cv2.projectPoints reads fx, fy, cx, cy only, so the comparison with it has no skew.
_K_CV = np.array([[800., 0., 330.], [0., 780., 250.], [0., 0., 1.]], np.float32)


@_settings
@hypothesis.given(st.floats(0., 640.), st.floats(0., 480.), st.floats(0.5, 200.))
def test_project_inverts_back_project(u, v, depth):
  uv = jnp.asarray([u, v], jnp.float32)
  point = _back_project(_K, uv, jnp.float32(depth))
  assert float(point[2]) == pytest.approx(depth, rel=1e-6)
  np.testing.assert_allclose(np.asarray(_project(_K, point)), [u, v], atol=1e-3)


@_settings
@hypothesis.given(st.integers(0, 2**32 - 1))
def test_project_matches_cv2(seed):
  rng = np.random.default_rng(seed)
  points = np.column_stack([rng.uniform(-10, 10, (20, 2)), rng.uniform(1, 50, 20)])
  ref, _ = cv2.projectPoints(points, np.zeros(3), np.zeros(3), _K_CV.astype(np.float64), None)
  got = np.asarray(_project(_K_CV, jnp.asarray(points, jnp.float32)))
  np.testing.assert_allclose(got, ref[:, 0], rtol=1e-5, atol=1e-3)
  # And back: the depth recovers each point.
  back = np.asarray(_back_project(_K_CV, jnp.asarray(got), jnp.asarray(points[:, 2], jnp.float32)))
  np.testing.assert_allclose(back, points, rtol=1e-5, atol=1e-4)


def test_pixel_rays_have_unit_depth_and_batch():
  uv = jnp.zeros((2, 5, 2))
  rays = camera_lib.pixel_rays(jnp.asarray(_K), uv)
  assert rays.shape == (2, 5, 3)
  np.testing.assert_allclose(np.asarray(rays[..., 2]), 1.)


@pytest.mark.parametrize('pitch', [0.3, 0.8])
def test_mounted_camera_matches_the_documented_mount(pitch):
  cam = camera_lib.mounted_camera(7., pitch, np.deg2rad(60.), (640, 360))
  f = 320. / np.tan(np.deg2rad(30.))
  np.testing.assert_allclose(np.asarray(cam.K), [[f, 0, 319.5], [0, f, 179.5], [0, 0, 1]],
                             rtol=1e-6)
  np.testing.assert_allclose(np.asarray(cam.normal), [0., -np.cos(pitch), -np.sin(pitch)],
                             atol=1e-7)
  assert float(cam.offset) == 7. and cam.image_size == (640, 360)
  # A ground point straight ahead along +x_g at distance L: camera coords of (L, 0, -h)
  # relative to the camera centre; it lands on the centre column, below the principal point
  # iff it is below the optical axis.
  r_cg = np.asarray(camera_lib.mount_rotation(pitch))
  ahead = r_cg @ np.array([20., 0., -7.])
  u, v = np.asarray(camera_lib.project(cam.K, jnp.asarray(ahead, jnp.float32)))
  assert u == pytest.approx(319.5, abs=1e-3)
  assert (v > 179.5) == (np.arctan2(7., 20.) > pitch)


def test_mount_roll_turns_x_towards_y_about_the_optical_axis():
  r0 = np.asarray(camera_lib.mount_rotation(0.4))
  r = np.asarray(camera_lib.mount_rotation(0.4, 0.2))
  np.testing.assert_allclose(r[2], r0[2], atol=1e-7)  # same optical axis
  np.testing.assert_allclose(r[0], np.cos(0.2) * r0[0] + np.sin(0.2) * r0[1], atol=1e-7)
  np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-6)
  assert np.linalg.det(r) == pytest.approx(1., abs=1e-6)


def _good() -> dict:
  return camera_lib.camera_to_dict(camera_lib.mounted_camera(9., 0.45, 1.1, (640, 360)))


def test_camera_json_round_trip(tmp_path):
  cam = camera_lib.mounted_camera(9., 0.45, 1.1, (640, 360))
  cam = cam.replace(dist=(0.01, -0.002, 0., 0., 0.))
  path = tmp_path / 'camera.json'
  camera_lib.save_camera(cam, path)
  loaded = camera_lib.load_camera(path)
  np.testing.assert_array_equal(np.asarray(loaded.K), np.asarray(cam.K))
  np.testing.assert_allclose(np.asarray(loaded.normal), np.asarray(cam.normal), atol=1e-7)
  assert float(loaded.offset) == float(cam.offset)
  assert loaded.image_size == cam.image_size and loaded.dist == cam.dist
  assert set(json.loads(path.read_text())) == {'K', 'image_size', 'n', 'd', 'dist'}


def test_load_normalises_and_canonicalises_the_plane(tmp_path):
  data = _good()
  data['n'] = [-3. * x for x in data['n']]
  data['d'] = -3. * data['d']
  path = tmp_path / 'camera.json'
  path.write_text(json.dumps(data))
  cam = camera_lib.load_camera(path)
  np.testing.assert_allclose(np.asarray(cam.normal), _good()['n'], atol=1e-7)
  assert float(cam.offset) == pytest.approx(9., rel=1e-6)


def _set(field, value):
  def edit(data):
    data[field] = value
  return edit


def _drop(field):
  def edit(data):
    del data[field]
  return edit


def _k_entry(i, j, value):
  def edit(data):
    data['K'][i][j] = value
  return edit


_BAD = {
    'missing K': (_drop('K'), 'K'),
    'missing image_size': (_drop('image_size'), 'image_size'),
    'missing n': (_drop('n'), 'n'),
    'missing d': (_drop('d'), 'd'),
    'K 2x3': (_set('K', [[500., 0., 320.], [0., 500., 180.]]), 'K'),
    'K ragged': (_set('K', [[500., 0., 320.], [0., 500.], [0., 0., 1.]]), 'K'),
    'K string entry': (_k_entry(0, 0, '500'), 'K'),
    'K NaN': (_k_entry(0, 2, float('nan')), 'K'),
    'K inf': (_k_entry(1, 1, float('inf')), 'K'),
    'K bottom row': (_k_entry(2, 1, 0.5), 'K'),
    'K lower entry': (_k_entry(1, 0, 3.), 'K'),
    'K fx <= 0': (_k_entry(0, 0, -500.), 'K'),
    'K singular': (_k_entry(1, 1, 0.), 'K'),
    'image_size one value': (_set('image_size', [640]), 'image_size'),
    'image_size float': (_set('image_size', [640.5, 360]), 'image_size'),
    'image_size zero': (_set('image_size', [640, 0]), 'image_size'),
    'image_size bool': (_set('image_size', [True, 360]), 'image_size'),
    'image_size string': (_set('image_size', '640x360'), 'image_size'),
    'n zero': (_set('n', [0., 0., 0.]), 'n'),
    'n shape': (_set('n', [0., 1.]), 'n'),
    'n NaN': (_set('n', [0., float('nan'), -1.]), 'n'),
    'n bool': (_set('n', [0., True, 0.]), 'n'),
    'd zero': (_set('d', 0.), 'd'),
    'd string': (_set('d', '9'), 'd'),
    'd list': (_set('d', [9.]), 'd'),
    'd inf': (_set('d', float('-inf')), 'd'),
    # Camera looking 46 degrees up with a 38 degree vertical field: the ground is out of view.
    'plane behind': (_set('n', [0., -np.cos(-0.8), -np.sin(-0.8)]), 'n'),
    'dist length': (_set('dist', [0.1, 0.2, 0.3]), 'dist'),
    'dist NaN': (_set('dist', [0.1, float('nan'), 0., 0.]), 'dist'),
}


@pytest.mark.parametrize('case', sorted(_BAD))
def test_bad_camera_file_names_file_and_field(tmp_path, case):
  edit, field = _BAD[case]
  data = _good()
  edit(data)
  path = tmp_path / 'cam_bad.json'
  path.write_text(json.dumps(data))  # Python writes NaN / Infinity tokens, as json.load reads
  with pytest.raises(camera_lib.CameraError) as err:
    camera_lib.load_camera(path)
  message = str(err.value)
  assert str(path) in message
  assert (f'field {field!r}' in message) if not case.startswith('missing') else (
      f'missing field {field!r}' in message)


@pytest.mark.parametrize('text,needle', [
    ('{"K": [[1, 0, 0], ', 'not valid JSON'),
    ('[1, 2, 3]', 'expected a JSON object'),
])
def test_unreadable_camera_file(tmp_path, text, needle):
  path = tmp_path / 'camera.json'
  path.write_text(text)
  with pytest.raises(camera_lib.CameraError, match=needle) as err:
    camera_lib.load_camera(path)
  assert str(path) in str(err.value)


def test_missing_camera_file(tmp_path):
  with pytest.raises(camera_lib.CameraError, match='cannot read'):
    camera_lib.load_camera(tmp_path / 'nope.json')


def test_save_refuses_an_invalid_camera(tmp_path):
  cam = camera_lib.mounted_camera(9., 0.45, 1.1, (640, 360))
  bad = cam.replace(offset=jnp.float32(np.nan))
  path = tmp_path / 'camera.json'
  with pytest.raises(camera_lib.CameraError, match="field 'd'"):
    camera_lib.save_camera(bad, path)
  assert not path.exists()


@pytest.mark.parametrize('pitch,sees_ground', [(-0.8, False), (-0.2, True), (0.05, True)])
def test_plane_behind_check_uses_the_bottom_row(tmp_path, pitch, sees_ground):
  # Vertical half field atan(180 / 522) = 19 degrees: the bottom row looks 19 degrees below
  # the optical axis, so a camera pitched up by 11 degrees still sees the ground.
  data = _good()
  data['n'] = [0., -np.cos(pitch), -np.sin(pitch)]
  path = tmp_path / 'camera.json'
  path.write_text(json.dumps(data))
  if sees_ground:
    assert camera_lib.load_camera(path).image_size == (640, 360)
  else:
    with pytest.raises(camera_lib.CameraError, match='behind the camera'):
      camera_lib.load_camera(path)


@pytest.mark.parametrize('roll', [0.5, -0.5])
def test_rolled_camera_seeing_ground_from_one_bottom_corner_loads(tmp_path, roll):
  # Pitched 17 degrees up and rolled 29 degrees: only one bottom corner's ray goes down to the
  # ground (the other looks above the horizon), which is enough for the camera to be valid.
  cam = camera_lib.mounted_camera(9., -0.3, 1.1, (640, 360), roll)
  data = camera_lib.camera_to_dict(cam)
  k, n = np.array(data['K']), np.array(data['n'])
  corners = np.linalg.solve(k, np.array([[0., 359., 1.], [639., 359., 1.]]).T).T
  assert np.sum(corners @ n < 0.) == 1  # the premise: exactly one corner sees the ground
  path = tmp_path / 'camera.json'
  path.write_text(json.dumps(data))
  loaded = camera_lib.load_camera(path)
  np.testing.assert_allclose(np.asarray(loaded.normal), np.asarray(cam.normal), atol=1e-6)
