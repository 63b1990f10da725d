"""A per-pixel z-buffer rasteriser for the simulated traffic camera (numpy + OpenCV, no jit).

Coverage rule, used for every buffer (colour, ids, depth, amodal masks, self depth): a pixel
belongs to a triangle when its centre (integer u, v) lies in the closed triangle. Fragments are
produced once per triangle as row spans and every buffer is read off those same fragments, so
an object's visible pixels are a subset of its amodal mask and two objects' visible masks are
disjoint by construction. Depth is the camera z, interpolated perspective-correctly (1/z is an
affine function of the pixel for a planar triangle). Parts of triangles in front of the near
plane z = NEAR are clipped away. No back-face culling: inverted or open meshes still render.

The static part of a scene (ground, sky, scenery) is rasterised once by `render_background`
into lighting-independent buffers; `render_frame` then lights it, rasterises the moving agents
over it and adds sensor noise.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple, Sequence

import cv2
import jax.numpy as jnp
import numpy as np

from walt3d_jax.geometry import plane as plane_lib
from walt3d_jax.shapes.mesh import face_normals
from walt3d_jax.sim import ground_texture, scenery
from walt3d_jax.sim.layout import SceneLayout
from walt3d_jax.sim.lighting import Lighting
from walt3d_jax.sim.sensor import add_sensor_noise

# ids of static scenery are STATIC_ID_BASE + index in layout.statics; agents' object_index must
# stay below it. -1 is ground or sky.
STATIC_ID_BASE = 1 << 20
BACKGROUND_ID = -1
# Metres; a traffic camera sees nothing closer than a few metres, so this only guards 1/z.
NEAR = 0.05
# Street-lamp irradiance at 1 m (lamp output * 1/(r^2 + 1) falloff), tuned so that the ground
# under a 6–8 m lamp is lit like a dim overcast day.
LAMP_POWER = 25.0
_LAMP_COLOR = np.array([1.0, 0.78, 0.5], np.float32)  # sodium/warm LED
# Fraction of the direct sun removed in a shadow (the rest is sky light scattered in).
_SHADOW_DEPTH = 0.85
# Distance over which the air's haze halves the contrast, metres.
_HAZE_DISTANCE = 600.0
# Headlight pools on the road at night: irradiance near the car, reach in metres, colour.
_BEAM_POWER = 0.8
_BEAM_REACH = 20.0
_BEAM_COLOR = np.array([1.0, 0.96, 0.88], np.float32)
# Strength of the sun's specular glint on agents (clear-coat paint and glass reflect ~5%).
_SPECULAR = 0.6


class Fragments(NamedTuple):
  """Pixels covered by triangles, ordered by triangle then row then column.

  x, y: (N,) int64 pixel; tri: (N,) int64 triangle index; inv_z: (N,) float64 1/depth (1/m).
  """

  x: np.ndarray
  y: np.ndarray
  tri: np.ndarray
  inv_z: np.ndarray


def camera_arrays(camera) -> tuple[np.ndarray, np.ndarray, float, int, int]:
  """(K (3,3), n (3,), d, width, height) of a camera with K, normal, offset, width, height."""
  K = np.asarray(camera.K, np.float64)
  n = np.asarray(camera.normal, np.float64)
  return K, n, float(camera.offset), int(camera.width), int(camera.height)


def ground_frame(camera) -> tuple[np.ndarray, np.ndarray]:
  """(R_cg (3,3), t_cg (3,)) float64 numpy: X_cam = R_cg @ X_ground + t_cg (DESIGN.md)."""
  normal = np.asarray(camera.normal)
  return _ground_frame(normal.tobytes(), str(normal.dtype), np.asarray(camera.offset).item())


@functools.lru_cache(maxsize=16)
def _ground_frame(normal: bytes, dtype: str, offset) -> tuple[np.ndarray, np.ndarray]:
  """`ground_frame` keyed by the camera's plane. Cached: every frame of a sequence asks for the
  same one, and the op-by-op JAX calls cost ~10 ms each time."""
  R_cg, t_cg = plane_lib.ground_frame(jnp.asarray(np.frombuffer(normal, dtype)),
                                      jnp.asarray(offset))
  R_cg, t_cg = np.asarray(R_cg, np.float64), np.asarray(t_cg, np.float64)
  R_cg.flags.writeable = False
  t_cg.flags.writeable = False
  return R_cg, t_cg


def _clip_near(tris: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Clips camera-frame triangles (T, 3, 3) at z = NEAR: (triangles (T', 3, 3), source (T',))."""
  z = tris[:, :, 2]
  inside = z >= NEAR
  keep = inside.all(axis=1)
  straddle = np.flatnonzero(inside.any(axis=1) & ~keep)
  out, src = [tris[keep]], [np.flatnonzero(keep)]
  for t in straddle:  # rare: only triangles passing beside/behind the camera
    poly = ground_texture.clip_polygon(tris[t], np.array([[0., 0., 1., -NEAR]]))
    fan = np.array([[poly[0], poly[i], poly[i + 1]] for i in range(1, len(poly) - 1)])
    out.append(fan.reshape(-1, 3, 3))
    src.append(np.full(len(fan), t))
  tris, src = np.concatenate(out), np.concatenate(src)
  order = np.argsort(src, kind="stable")  # keep triangle order: callers slice by object
  return tris[order], src[order]


def rasterize(
    tris: np.ndarray, K: np.ndarray, width: int, height: int
) -> tuple[Fragments, np.ndarray]:
  """All pixel centres inside the triangles, with perspective-correct inverse depth.

  tris: (T, 3, 3) camera-frame vertices, metres.
  Returns (fragments, source): fragments index the clipped triangles; source (T',) maps each
  clipped triangle to its row in `tris`.
  """
  tris, source = _clip_near(np.asarray(tris, np.float64))
  hom = tris @ K.T
  uv = hom[..., :2] / hom[..., 2:3]  # (T, 3, 2)
  # Plane of each triangle m.X = e; with X = z K^-1 (u, v, 1): 1/z = (K^-T m / e).(u, v, 1).
  m = np.cross(tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0])
  e = np.einsum("ti,ti->t", m, tris[:, 0])
  area = ((uv[:, 1, 0] - uv[:, 0, 0]) * (uv[:, 2, 1] - uv[:, 0, 1])
          - (uv[:, 2, 0] - uv[:, 0, 0]) * (uv[:, 1, 1] - uv[:, 0, 1]))
  lo, hi = uv.min(axis=1), uv.max(axis=1)
  y0 = np.maximum(np.ceil(lo[:, 1]), 0)
  y1 = np.minimum(np.floor(hi[:, 1]), height - 1)
  # Edge-on triangles (their plane contains the camera centre) cover no pixel centre robustly.
  valid = (np.abs(area) > 1e-9) & (np.abs(e) > 1e-12) & (y1 >= y0) & (hi[:, 0] >= 0) & (
      lo[:, 0] <= width - 1)
  idx = np.flatnonzero(valid)
  empty = Fragments(*(np.zeros(0, np.int64),) * 3, np.zeros(0))
  if not len(idx):
    return empty, source
  g = (np.linalg.inv(K).T @ m[idx].T).T / e[idx, None]  # (T, 3): 1/z = g0 u + g1 v + g2
  # Edge functions a u + b v + c >= 0 inside (signs flipped for clockwise triangles).
  pa, pb = uv[idx], np.roll(uv[idx], -1, axis=1)
  s = np.sign(area[idx])[:, None]
  a = -(pb[..., 1] - pa[..., 1]) * s
  b = (pb[..., 0] - pa[..., 0]) * s
  c = ((pb[..., 1] - pa[..., 1]) * pa[..., 0] - (pb[..., 0] - pa[..., 0]) * pa[..., 1]) * s
  # Rows of every triangle.
  nrows = (y1[idx] - y0[idx] + 1).astype(np.int64)
  row_tri = np.repeat(np.arange(len(idx)), nrows)
  first = np.cumsum(nrows) - nrows
  row_y = np.repeat(y0[idx], nrows) + (np.arange(len(row_tri)) - np.repeat(first, nrows))
  # Span of each row: intersection of the three half-planes along the row.
  ar, rest = a[row_tri], b[row_tri] * row_y[:, None] + c[row_tri]  # (R, 3)
  with np.errstate(divide="ignore", invalid="ignore"):
    bound = -rest / ar
  left = np.max(np.where(ar > 0, bound, -np.inf), axis=1)
  right = np.min(np.where(ar < 0, bound, np.inf), axis=1)
  blocked = ((ar == 0) & (rest < 0)).any(axis=1)
  xl = np.maximum(np.ceil(np.maximum(left, lo[idx, 0][row_tri])), 0)
  xr = np.minimum(np.floor(np.minimum(right, hi[idx, 0][row_tri])), width - 1)
  length = np.where(blocked, 0, np.maximum(xr - xl + 1, 0)).astype(np.int64)
  total = int(length.sum())
  if not total:
    return empty, source
  start = np.cumsum(length) - length
  x = np.arange(total, dtype=np.int64) - np.repeat(start - xl.astype(np.int64), length)
  y = np.repeat(row_y.astype(np.int64), length)
  tri = np.repeat(idx[row_tri], length)
  gr = g[row_tri]
  inv_z = np.repeat(gr[:, 0], length) * x + np.repeat(gr[:, 1] * row_y + gr[:, 2], length)
  return Fragments(x, y, tri, inv_z), source


def _resolve(frags: Fragments, x0: int, y0: int, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
  """Z-buffer of fragments over a (h, w) window at (x0, y0): (max 1/z (h, w), triangle (h, w))."""
  flat = (frags.y - y0) * w + (frags.x - x0)
  inv = np.zeros(h * w)
  np.maximum.at(inv, flat, frags.inv_z)
  winner = frags.inv_z == inv[flat]
  tri = np.full(h * w, -1, np.int64)
  tri[flat[winner]] = frags.tri[winner]
  return inv.reshape(h, w), tri.reshape(h, w)


def rasterize_depth_ids(
    tris: np.ndarray, K: np.ndarray, width: int, height: int
) -> tuple[np.ndarray, np.ndarray]:
  """Full-image z-buffer: (depth (H, W) float64 with inf where empty, triangle (H, W) or -1)."""
  frags, source = rasterize(tris, K, width, height)
  inv, tri = _resolve(frags, 0, 0, width, height)
  with np.errstate(divide="ignore"):
    depth = 1.0 / inv
  triangle = np.full(tri.shape, -1, np.int64)
  hit = tri >= 0  # none when every triangle is clipped or out of view
  triangle[hit] = source[tri[hit]]
  return depth, triangle


@dataclasses.dataclass(frozen=True)
class Background:
  """Lighting-independent buffers of the static scene, shapes (H, W, ...).

  albedo: (H, W, 3) float32 reflectance; normal: (H, W, 3) float32 unit, camera frame.
  depth: (H, W) float32 camera z, metres (inf for sky); ids: (H, W) int32.
  emission: (H, W, 3) float32 radiance of lamps and lit windows at night (scaled by lamp
    intensity); lamp_light: (H, W) float32 irradiance from street lamps at full output.
  sky: (H, W) float32 height above the horizon in [0, 1] for sky pixels, -1 elsewhere.
  haze: (H, W) float32 aerial-perspective blend towards the horizon colour, [0, 1].
  lamps: (L, 3) camera-frame lamp positions; static_vertices: per static, (V, 3) camera frame
    (for cast shadows).
  points: (H, W, 3) float32 camera-frame point seen at each pixel, metres (0 for sky).
  """

  albedo: np.ndarray
  normal: np.ndarray
  depth: np.ndarray
  ids: np.ndarray
  emission: np.ndarray
  lamp_light: np.ndarray
  sky: np.ndarray
  haze: np.ndarray
  lamps: np.ndarray
  static_vertices: tuple[np.ndarray, ...]
  points: np.ndarray
  # Lit background per Lighting (lighting is hashable); filled lazily by render_frame.
  _cache: dict = dataclasses.field(default_factory=dict, compare=False, repr=False)


def render_background(layout: SceneLayout, camera, seed: int) -> Background:
  """Rasterises ground, sky and static scenery once per scene.

  camera: K, normal, offset (= d), width, height (geometry.camera.Camera).
  seed: procedural texture and scenery detail.
  """
  K, n, d, width, height = camera_arrays(camera)
  R_cg, t_cg = ground_frame(camera)
  rng = np.random.default_rng(seed)
  ground = ground_texture.ground_buffers(layout, camera, rng)
  albedo = ground.albedo.copy()
  normal = np.broadcast_to(n.astype(np.float32), (height, width, 3)).copy()
  depth = ground.depth.astype(np.float64)
  ids = np.full((height, width), BACKGROUND_ID, np.int32)
  emission = np.zeros((height, width, 3), np.float32)
  meshes = [scenery.static_mesh(obj) for obj in layout.statics]
  static_vertices, lamps, tris, face_albedo, face_emission, face_id, face_normal = (
      [], [], [], [], [], [], [])
  for j, (obj, sm) in enumerate(zip(layout.statics, meshes)):
    R, t = scenery.placement(obj)
    verts = (sm.mesh.vertices @ R.T + t) @ R_cg.T + t_cg
    static_vertices.append(verts)
    lamps.extend((sm.lamps @ R.T + t) @ R_cg.T + t_cg)
    tris.append(verts[sm.mesh.faces])
    face_albedo.append(sm.albedo)
    face_emission.append(sm.night_emission)
    face_id.append(np.full(len(sm.mesh.faces), STATIC_ID_BASE + j))
    face_normal.append(face_normals(verts, sm.mesh.faces))
  if tris:
    sdepth, stri = rasterize_depth_ids(np.concatenate(tris), K, width, height)
    hit = (stri >= 0) & (sdepth < depth)
    f = stri[hit]
    albedo[hit] = np.concatenate(face_albedo)[f]
    emission[hit] = np.concatenate(face_emission)[f]
    normal[hit] = np.concatenate(face_normal)[f]
    ids[hit] = np.concatenate(face_id)[f]
    depth[hit] = sdepth[hit]
  lamps = np.asarray(lamps, np.float64).reshape(-1, 3)
  return Background(
      albedo=albedo.astype(np.float32),
      normal=normal.astype(np.float32),
      depth=depth.astype(np.float32),
      ids=ids,
      emission=emission,
      lamp_light=_lamp_light(K, depth, normal, lamps),
      sky=np.where(np.isfinite(depth), -1.0, ground.sky).astype(np.float32),
      haze=np.where(np.isfinite(depth), 1.0 - np.exp2(-depth / _HAZE_DISTANCE), 1.0).astype(
          np.float32),
      lamps=lamps,
      static_vertices=tuple(static_vertices),
      points=_pixel_points(K, depth),
  )


def _pixel_points(K: np.ndarray, depth: np.ndarray) -> np.ndarray:
  """(H, W, 3) float32 camera-frame points at depth (H, W); 0 where depth is inf."""
  height, width = depth.shape
  v, u = np.mgrid[0:height, 0:width].astype(np.float64)
  rays = np.stack([u, v, np.ones_like(u)], axis=-1) @ np.linalg.inv(K).T
  return (rays * np.where(np.isfinite(depth), depth, 0.0)[..., None]).astype(np.float32)


def _lamp_light(K: np.ndarray, depth: np.ndarray, normal: np.ndarray,
                lamps: np.ndarray) -> np.ndarray:
  """(H, W) float32 irradiance from all lamps at full output (cosine law, 1/(r^2+1) falloff)."""
  height, width = depth.shape
  light = np.zeros((height, width), np.float32)
  finite = np.isfinite(depth)
  if not len(lamps) or not finite.any():
    return light
  v, u = np.nonzero(finite)
  rays = np.stack([u, v, np.ones_like(u)], axis=-1) @ np.linalg.inv(K).T
  points = rays * depth[v, u][:, None]
  nrm = normal[v, u].astype(np.float64)
  total = np.zeros(len(u))
  for lamp in lamps:
    to_lamp = lamp - points
    r2 = np.einsum("ij,ij->i", to_lamp, to_lamp)
    cos = np.einsum("ij,ij->i", to_lamp, nrm) / np.sqrt(r2 + 1e-9)
    total += LAMP_POWER * np.clip(cos, 0.0, None) / (r2 + 1.0)
  light[v, u] = total
  return light


class _View(NamedTuple):
  """Camera quantities used per frame (numpy float64)."""

  K: np.ndarray
  n: np.ndarray
  d: float
  width: int
  height: int
  R_cg: np.ndarray
  t_cg: np.ndarray

  @classmethod
  def of(cls, camera) -> "_View":
    return cls(*camera_arrays(camera), *ground_frame(camera))


def _shadow_polygons(
    vertex_sets: Sequence[np.ndarray], view: _View, lighting: Lighting
) -> np.ndarray | None:
  """(H, W) bool of ground pixels in the convex sun shadow of each vertex set, or None."""
  K, n, d, width, height, R_cg, t_cg = view
  sun = R_cg @ np.asarray(lighting.sun_direction)
  if n @ sun < 0.05 or not np.any(lighting.sun_color):  # sun too low: shadows reach forever
    return None
  mask = np.zeros((height, width), np.uint8)
  for verts in vertex_sets:
    if len(verts) < 3:
      continue
    # Slide each vertex away from the sun onto the ground plane n.X + d = 0.
    dist = (verts @ n + d) / (n @ sun)
    ground = (verts - dist[:, None] * sun - t_cg) @ R_cg  # ground frame, z ~ 0
    hull = cv2.convexHull(ground[:, :2].astype(np.float32))[:, 0]
    ground_texture.fill_ground_polygon(mask, hull.astype(np.float64), K, R_cg, t_cg, 1)
  return mask.astype(bool)


def _lit_background(background: Background, view: _View, lighting: Lighting):
  """(lit (H, W, 3) float32 without exposure, sun part (H, W, 3)); cached per lighting."""
  key = lighting
  if key in background._cache:
    return background._cache[key]
  sun, n = view.R_cg @ np.asarray(lighting.sun_direction), view.n
  cos_sun = np.clip(background.normal @ sun.astype(np.float32), 0.0, None)
  up = background.normal @ n.astype(np.float32)
  sky_light = (0.55 + 0.45 * up)[..., None] * np.asarray(lighting.ambient_color, np.float32)
  sun_part = background.albedo * (cos_sun[..., None] * np.asarray(lighting.sun_color, np.float32))
  ground = background.ids == BACKGROUND_ID
  shadow = _shadow_polygons(background.static_vertices, view, lighting)
  if shadow is not None:
    # Statics shade the ground; a building's shadow on another building is left out.
    sun_part[shadow & ground] *= 1.0 - _SHADOW_DEPTH
  lamp = background.lamp_light[..., None] * (_LAMP_COLOR * lighting.lamp_intensity)
  lit = background.albedo * (sky_light + lamp) + sun_part
  lit += background.emission * lighting.lamp_intensity
  if lighting.lamp_intensity > 0 and background.emission.any():
    lit += _glow(background.emission * lighting.lamp_intensity)
  haze = background.haze[..., None]
  lit = lit * (1.0 - haze) + haze * np.asarray(lighting.sky_horizon, np.float32)
  is_sky = background.sky >= 0
  t = np.sqrt(np.clip(background.sky[is_sky], 0, 1))[:, None]
  lit[is_sky] = ((1 - t) * np.asarray(lighting.sky_horizon, np.float32)
                 + t * np.asarray(lighting.sky_zenith, np.float32))
  result = (lit.astype(np.float32), sun_part.astype(np.float32))
  if len(background._cache) > 4:
    background._cache.clear()
  background._cache[key] = result
  return result


def _glow(emission: np.ndarray) -> np.ndarray:
  """(H, W, 3) soft halo around bright emitters, computed at quarter resolution."""
  h, w = emission.shape[:2]
  small = cv2.resize(emission, (max(w // 4, 1), max(h // 4, 1)), interpolation=cv2.INTER_AREA)
  small = cv2.GaussianBlur(small, (0, 0), 2.0)
  return 0.8 * cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


class RenderItem(NamedTuple):
  """One agent to draw.

  vertices: (V, 3) metres, camera frame; faces: (F, 3) int vertex indices (CCW from outside);
  albedo: (F, 3) reflectance in [0, 1]; emission: (F, 3) emitted radiance (lights at night);
  object_index: int id written into `ids`, 0 <= object_index < STATIC_ID_BASE.
  """

  vertices: np.ndarray
  faces: np.ndarray
  albedo: np.ndarray
  emission: np.ndarray
  object_index: int


class RenderedFrame(NamedTuple):
  """One rendered frame.

  image: (H, W, 3) uint8 RGB. depth: (H, W) float32 camera z, metres (inf for sky).
  ids: (H, W) int32: object_index of the nearest agent, STATIC_ID_BASE + j for static j, -1
    for ground and sky.
  amodal: per item, (x0, y0, mask (h, w) bool): every pixel the item's triangles cover,
    whatever is in front; the crop's top-left pixel is (x0, y0).
  self_depth: per item, (h, w) float32 crop (same window as amodal) of the item's own nearest
    depth, inf off the item.
  """

  image: np.ndarray
  depth: np.ndarray
  ids: np.ndarray
  amodal: list[tuple[int, int, np.ndarray]]
  self_depth: list[np.ndarray]


def _face_colors(item: RenderItem, view: _View, lighting: Lighting,
                 lamps: np.ndarray) -> np.ndarray:
  """(F, 3) radiance of each face: flat sun + sky + street-lamp shading plus emission."""
  verts = np.asarray(item.vertices, np.float64)
  normals = face_normals(verts, item.faces)
  sun, n = view.R_cg @ np.asarray(lighting.sun_direction), view.n
  cos_sun = np.clip(normals @ sun, 0.0, None)[:, None]
  up = (normals @ n)[:, None]
  light = (0.55 + 0.45 * up) * np.asarray(lighting.ambient_color) + cos_sun * np.asarray(
      lighting.sun_color)
  # A sun glint (Blinn-Phong, per face) on paint and glass: the mirror direction of the ray
  # through the face's centre.
  view = -verts[item.faces].mean(axis=1)
  view /= np.linalg.norm(view, axis=1, keepdims=True)
  half = view + sun
  half /= np.maximum(np.linalg.norm(half, axis=1, keepdims=True), 1e-9)
  glint = _SPECULAR * np.clip(np.einsum("fi,fi->f", normals, half), 0.0, 1.0) ** 40
  specular = (glint * (cos_sun[:, 0] > 0))[:, None] * np.asarray(lighting.sun_color)
  if lighting.lamp_intensity > 0 and len(lamps):
    centre = verts.mean(axis=0)
    r2 = np.sum((lamps - centre) ** 2, axis=1)
    # Lamps hang above: light arrives mostly from above and from the lamp's side.
    to_lamp = (lamps - centre) / np.sqrt(r2)[:, None]
    cos = np.clip(normals @ to_lamp.T, 0.0, None) * 0.7 + 0.3
    light = light + (cos / (r2 + 1.0)).sum(axis=1, keepdims=True) * (
        LAMP_POWER * lighting.lamp_intensity) * _LAMP_COLOR
  return np.asarray(item.albedo) * light + specular + np.asarray(item.emission)


def _headlight_beam(image: np.ndarray, background: Background, view: _View, item: RenderItem,
                    covered: np.ndarray, scratch: np.ndarray) -> None:
  """Adds, in place, the pool of light an item's headlights throw on the ground ahead.

  Headlights are the whitish emissive faces, tail lights the reddish ones; the beam points
  from the tail lights to the headlights (or along the headlights' normals), along the ground.
  covered: (H, W) bool pixels where an agent is in front (not lit).
  scratch: (H, W) uint8 zeros, returned zeroed.
  """
  emission = np.asarray(item.emission, np.float64)
  glowing = emission.max(axis=1) > 0
  if not glowing.any():
    return
  white = glowing & (emission.min(axis=1) > 0.5 * emission.max(axis=1))
  if not white.any():
    return
  verts = np.asarray(item.vertices, np.float64)
  centres = verts[np.asarray(item.faces)].mean(axis=1)
  origin = centres[white].mean(axis=0)
  red = glowing & ~white
  if red.any():
    forward = origin - centres[red].mean(axis=0)
  else:
    forward = face_normals(verts, np.asarray(item.faces))[white].sum(axis=0)
  forward -= (forward @ view.n) * view.n
  if np.linalg.norm(forward) < 1e-6:
    return
  forward /= np.linalg.norm(forward)
  # The beam's reach on the ground: a wedge of +/- 25 degrees out to _BEAM_REACH metres.
  side = np.cross(view.n, forward)
  foot = origin - (origin @ view.n + view.d) * view.n
  spread = np.tan(np.deg2rad(25.0)) * _BEAM_REACH
  wedge_cam = np.array([foot, foot + _BEAM_REACH * forward + spread * side,
                        foot + _BEAM_REACH * forward - spread * side])
  wedge = ((wedge_cam - view.t_cg) @ view.R_cg)[:, :2]
  ground_texture.fill_ground_polygon(scratch, wedge, view.K, view.R_cg, view.t_cg, 1)
  x, y, w, h = cv2.boundingRect(scratch)
  if not w or not h:
    return
  win = (slice(y, y + h), slice(x, x + w))
  lit = scratch[win].astype(bool) & (background.ids[win] == BACKGROUND_ID) & ~covered[win]
  scratch[win] = 0  # reused by the next item
  # Dense over the window (float32): cheaper than gathering the lit pixels.
  to_point = background.points[win] - origin.astype(np.float32)
  r = np.sqrt(np.einsum("hwi,hwi->hw", to_point, to_point)) + 1e-6
  cos = to_point @ forward.astype(np.float32) / r
  irradiance = np.clip(cos, 0.0, 1.0) ** 16 * np.exp(-r / (0.3 * _BEAM_REACH))
  irradiance *= lit * _BEAM_POWER
  image[win] += background.albedo[win] * irradiance[..., None] * _BEAM_COLOR


def _check_item(i: int, item: RenderItem) -> None:
  verts, faces = np.asarray(item.vertices), np.asarray(item.faces)
  if verts.ndim != 2 or verts.shape[1] != 3 or not np.isfinite(verts).all():
    raise ValueError(f"items[{i}].vertices must be finite (V, 3), got shape {verts.shape}")
  if faces.ndim != 2 or faces.shape[1] != 3 or (faces.size and (
      faces.min() < 0 or faces.max() >= len(verts))):
    raise ValueError(f"items[{i}].faces must be (F, 3) indices into vertices")
  for name in ("albedo", "emission"):
    if np.shape(getattr(item, name)) != (len(faces), 3):
      raise ValueError(f"items[{i}].{name} must be (F, 3) = ({len(faces)}, 3), got "
                       f"{np.shape(getattr(item, name))}")
  if not 0 <= int(item.object_index) < STATIC_ID_BASE:
    raise ValueError(f"items[{i}].object_index must be in [0, {STATIC_ID_BASE}), got "
                     f"{item.object_index}")


def render_frame(
    background: Background,
    items: Sequence[RenderItem],
    camera,
    lighting: Lighting,
    rng: np.random.Generator,
    shadows: bool = True,
) -> RenderedFrame:
  """Lights the background, z-buffers the agents over it and adds sensor noise.

  Agents always win over ground pixels (they stand on it) and over static scenery only where
  they are nearer. Shadows darken ground pixels only and never change ids or masks.
  rng: draws the sensor noise (same rng state -> same bytes).
  """
  view = _View.of(camera)
  K, width, height = view.K, view.width, view.height
  if background.ids.shape != (height, width):
    raise ValueError(f"background is {background.ids.shape}, camera is {(height, width)}")
  for i, item in enumerate(items):
    _check_item(i, item)
  lit, sun_part = _lit_background(background, view, lighting)
  image = lit.copy()
  depth = background.depth.copy()
  ids = background.ids.copy()
  # Static occluders only: agents stand on the ground, so the ground never hides them.
  occluder = np.where(ids >= STATIC_ID_BASE, 1.0 / depth, 0.0)

  counts = [len(item.faces) for item in items]
  amodal, self_depth = [], []
  if items:
    tris = np.concatenate([np.asarray(it.vertices, np.float64)[np.asarray(it.faces)]
                           for it in items])
    colors = np.concatenate([_face_colors(it, view, lighting, background.lamps)
                             for it in items]).astype(np.float32)
    emissive = np.concatenate([np.asarray(it.emission, np.float32) for it in items])
    item_of_tri = np.repeat(np.arange(len(items)), counts)
    frags, source = rasterize(tris, K, width, height)
    # Fragments come in triangle order, so each item's fragments are one contiguous slice.
    frag_item = item_of_tri[source[frags.tri]]
    bounds = np.searchsorted(frag_item, np.arange(len(items) + 1))
    best = np.zeros((height, width))
    best_tri = np.full((height, width), -1, np.int64)
    best_item = np.full((height, width), -1, np.int64)
    for k in range(len(items)):
      s, e = bounds[k], bounds[k + 1]
      if s == e:
        amodal.append((0, 0, np.zeros((0, 0), bool)))
        self_depth.append(np.zeros((0, 0), np.float32))
        continue
      part = Fragments(*(f[s:e] for f in frags))
      x0, x1, y0, y1 = part.x.min(), part.x.max(), part.y.min(), part.y.max()
      inv, tri = _resolve(part, x0, y0, x1 - x0 + 1, y1 - y0 + 1)
      cover = inv > 0
      amodal.append((int(x0), int(y0), cover))
      with np.errstate(divide="ignore"):
        self_depth.append(np.where(cover, 1.0 / inv, np.inf).astype(np.float32))
      window = (slice(y0, y1 + 1), slice(x0, x1 + 1))
      nearer = cover & (inv > best[window]) & (inv > occluder[window])
      best[window][nearer] = inv[nearer]
      best_tri[window][nearer] = tri[nearer]
      best_item[window][nearer] = k
    visible = best_item >= 0
    face = source[best_tri[visible]]
    image[visible] = colors[face]
    depth[visible] = 1.0 / best[visible]
    ids[visible] = np.asarray([it.object_index for it in items], np.int32)[best_item[visible]]
    if shadows:
      shadow = _shadow_polygons([np.asarray(it.vertices, np.float64) for it in items], view,
                                lighting)
      if shadow is not None:
        shade = shadow & ~visible & (ids == BACKGROUND_ID)
        image[shade] -= _SHADOW_DEPTH * sun_part[shade]
    if any(np.any(it.emission) for it in items):
      scratch = np.zeros((height, width), np.uint8)
      for item in items:
        _headlight_beam(image, background, view, item, visible, scratch)
    glow_faces = emissive[face]
    if glow_faces.any():
      emission = np.zeros((height, width, 3), np.float32)
      emission[visible] = glow_faces
      image += _glow(emission)
  image *= lighting.exposure
  return RenderedFrame(
      image=add_sensor_noise(image, rng, lighting.noise_level),
      depth=depth.astype(np.float32),
      ids=ids,
      amodal=amodal,
      self_depth=self_depth,
  )
