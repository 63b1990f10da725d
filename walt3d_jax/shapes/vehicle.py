"""A parametric family of passenger cars: sedan, hatchback, SUV, van and pickup.

One car is one (P,) float64 vector, named by `CAR_PARAM_NAMES`, metres throughout. Every part
is described by a half-width, so a car is mirror-symmetric about y = 0 by construction.

Body types differ only in the distributions their parameters are drawn from. The overall sizes
come from the REFERENCE.md table of current models (length × width without mirrors × height):

  | type      | length m  | width m   | height m  | ground clearance m |
  |-----------|-----------|-----------|-----------|--------------------|
  | sedan     | 4.40–4.95 | 1.75–1.86 | 1.40–1.50 | 0.13–0.16          |
  | hatchback | 3.60–4.20 | 1.65–1.78 | 1.40–1.55 | 0.13–0.16          |
  | suv       | 4.30–5.10 | 1.80–2.00 | 1.60–1.80 | 0.17–0.22          |
  | van       | 4.80–5.30 | 1.90–2.00 | 1.70–2.00 | 0.15–0.19          |
  | pickup    | 5.30–5.90 | 2.00–2.10 | 1.80–2.00 | 0.19–0.22          |

and, for all types (REFERENCE.md): wheelbase 0.59–0.61 × length (reference 0.58–0.62), track
0.85 × width, tyre diameter 0.60–0.75 m (here growing with the height: SUVs, vans and pickups
ride on bigger wheels), ground clearance 0.13–0.22 m.

The 12 keypoints depend (up to millimetre jitter) linearly on five latent quantities: length,
width, height and the two cabin offsets (front face to roof front, roof back to rear face, each
an affine function of the length plus a body-type term). That keeps the keypoint population
close to a 5-dimensional affine family, which is what lets a 5-component PCA
(`walt3d_jax.shapes.car_model`) describe every body type to a couple of centimetres. Quantities
that move no keypoint (windscreen rake, hood height, beltline, bumpers, clearance) vary freely.
"""

from __future__ import annotations

import numpy as np

from walt3d_jax.shapes.mesh import Mesh, Part
from walt3d_jax.shapes.pieces import MeshBuilder

BODY_TYPES = ("sedan", "hatchback", "suv", "van", "pickup")

CAR_KEYPOINT_NAMES = (
    "right_front_wheel",
    "left_front_wheel",
    "right_back_wheel",
    "left_back_wheel",
    "right_front_light",
    "left_front_light",
    "right_back_light",
    "left_back_light",
    "right_front_roof",
    "left_front_roof",
    "right_back_roof",
    "left_back_roof",
)

# Keypoint i and CAR_KEYPOINT_MIRROR[i] swap under y -> -y.
CAR_KEYPOINT_MIRROR = (1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10)

CAR_PARAM_NAMES = (
    "length",  # bumper to bumper, m
    "width",  # body, without mirrors, m
    "height",  # ground to roof, m
    "wheelbase",  # front axle to back axle, m
    "front_overhang",  # front bumper to front axle, m
    "wheel_diameter",  # tyre outer diameter, m
    "tyre_width",  # m
    "track",  # tyre centre to tyre centre across the car, m
    "ground_clearance",  # underbody height, m
    "bumper_height",  # top of the bumpers, m
    "hood_height",  # front edge of the hood, m
    "belt_height",  # beltline: bottom of the side windows, top of the boot or bed, m
    "hood_length",  # front face to windscreen base, m
    "windscreen_run",  # horizontal run of the windscreen, m
    "rear_window_run",  # horizontal run of the rear window or tailgate glass, m
    "boot_length",  # rear-window base to the back face (sedans; a lip on others), m
    "bed_length",  # open cargo bed behind the cab (pickups; 0 otherwise), m
    "roof_width",  # full width of the roof, m
    "headlight_height",  # top edge of the headlights, m
    "taillight_height",  # top edge of the tail lights, m
    "light_inset",  # body side to the outer edge of each light, m
    "light_width",  # m
    "light_size",  # vertical size of each light, m
)
NUM_CAR_PARAMS = len(CAR_PARAM_NAMES)
_I = {name: i for i, name in enumerate(CAR_PARAM_NAMES)}

# Per body type: (length, width, height, ground clearance) ranges in metres (see the table
# above), then the body-type term of the cabin offsets (front: added to 0.25 × length, back:
# added to 0.20 × length) and the windscreen / rear-window runs that split them.
_TYPE_RANGES = {
    "sedan": dict(length=(4.40, 4.95), width=(1.75, 1.86), height=(1.40, 1.50),
                  clearance=(0.13, 0.16), front=(0.73, 0.82), back=(0.60, 0.68),
                  windscreen=(0.60, 0.80), rear_window=(0.50, 0.70)),
    "hatchback": dict(length=(3.60, 4.20), width=(1.65, 1.78), height=(1.40, 1.55),
                      clearance=(0.13, 0.16), front=(0.68, 0.78), back=(-0.42, -0.32),
                      windscreen=(0.60, 0.80), rear_window=(0.20, 0.32)),
    "suv": dict(length=(4.30, 5.10), width=(1.80, 2.00), height=(1.60, 1.80),
                clearance=(0.17, 0.22), front=(0.52, 0.62), back=(-0.66, -0.58),
                windscreen=(0.50, 0.70), rear_window=(0.12, 0.20)),
    "van": dict(length=(4.80, 5.30), width=(1.90, 2.00), height=(1.70, 2.00),
                clearance=(0.15, 0.19), front=(0.05, 0.15), back=(-0.86, -0.80),
                windscreen=(0.60, 0.85), rear_window=(0.05, 0.09)),
    "pickup": dict(length=(5.30, 5.90), width=(2.00, 2.10), height=(1.80, 2.00),
                   clearance=(0.19, 0.22), front=(0.60, 0.70), back=(0.58, 0.68),
                   windscreen=(0.50, 0.65), rear_window=(0.05, 0.09)),
}
_CABIN_FRONT_SLOPE = 0.25  # front face to roof front = 0.25 L + type term
_CABIN_BACK_SLOPE = 0.20  # roof back to back face = 0.20 L + type term
_BODY_INSET = 0.03  # bumpers and lights stand out of the body's end faces by up to this
_MIN_LIP = 0.06  # boot lip behind a tailgate, so glass and body ends never share a plane


def sample_car_params(rng: np.random.Generator, body_type: str | None = None) -> np.ndarray:
  """Draws one car.

  rng: the random source (the same state gives the same bytes).
  body_type: one of BODY_TYPES, or None for a uniformly chosen one.
  Returns the (P,) float64 parameter vector, metres, named by CAR_PARAM_NAMES.
  """
  if body_type is None:
    body_type = BODY_TYPES[int(rng.integers(len(BODY_TYPES)))]
  if body_type not in _TYPE_RANGES:
    raise ValueError(f"body_type must be one of {BODY_TYPES}, got {body_type!r}")
  r = _TYPE_RANGES[body_type]
  u = lambda lo_hi: float(rng.uniform(*lo_hi))
  length, width, height = u(r["length"]), u(r["width"]), u(r["height"])

  # Keypoint-bearing quantities: affine in (length, width, height, cabin terms) with only
  # millimetre jitter, so the keypoint population stays low-dimensional (module docstring).
  wheelbase = length * u((0.597, 0.603))
  front_overhang = 0.45 * (length - wheelbase) + u((-0.005, 0.005))
  wheel_diameter = 0.605 + 0.22 * (height - 1.40) + u((-0.004, 0.004))
  track = 0.85 * width + u((-0.004, 0.004))
  tyre_width = 0.10 * width + 0.02 + u((-0.004, 0.004))
  headlight_height = 0.50 * height + u((-0.004, 0.004))
  taillight_height = 0.61 * height + u((-0.004, 0.004))
  light_inset = 0.06 + u((-0.004, 0.004))
  roof_width = width - 2.0 * (0.21 - 0.18 * (height - 1.40)) + u((-0.006, 0.006))
  cabin_front = _CABIN_FRONT_SLOPE * length + u(r["front"])
  cabin_back = _CABIN_BACK_SLOPE * length + u(r["back"])

  # Quantities no keypoint depends on: free to vary for looks.
  windscreen_run = u(r["windscreen"])
  hood_length = cabin_front - windscreen_run
  # A tailgate's glass stops a lip short of the back face (short hatchbacks, vans).
  rear_window_run = min(u(r["rear_window"]), cabin_back - _MIN_LIP)
  rear_deck = cabin_back - rear_window_run
  if body_type == "pickup":
    boot_length, bed_length = _MIN_LIP, rear_deck - _MIN_LIP
  else:
    boot_length, bed_length = rear_deck, 0.0
  light_size = u((0.09, 0.13))
  light_width = u((0.22, 0.32))
  ground_clearance = u(r["clearance"])
  belt_height = u((0.64, 0.67)) * height
  hood_height = headlight_height + u((0.04, 0.08))
  bumper_height = headlight_height - light_size - u((0.03, 0.08))

  values = dict(
      length=length, width=width, height=height, wheelbase=wheelbase,
      front_overhang=front_overhang, wheel_diameter=wheel_diameter, tyre_width=tyre_width,
      track=track, ground_clearance=ground_clearance, bumper_height=bumper_height,
      hood_height=hood_height, belt_height=belt_height, hood_length=hood_length,
      windscreen_run=windscreen_run, rear_window_run=rear_window_run, boot_length=boot_length,
      bed_length=bed_length, roof_width=roof_width, headlight_height=headlight_height,
      taillight_height=taillight_height, light_inset=light_inset, light_width=light_width,
      light_size=light_size)
  params = np.array([values[name] for name in CAR_PARAM_NAMES], np.float64)
  validate_car_params(params)
  return params


def validate_car_params(params: np.ndarray) -> None:
  """Raises ValueError naming the offending field when `params` (P,) is not a buildable car."""
  params = np.asarray(params)
  if params.shape != (NUM_CAR_PARAMS,):
    raise ValueError(f"car params: expected shape ({NUM_CAR_PARAMS},), got {params.shape}")
  for name in CAR_PARAM_NAMES:
    v = params[_I[name]]
    if not np.isfinite(v):
      raise ValueError(f"car params: {name} is not finite ({v})")
    if v < 0.0 or (v == 0.0 and name != "bed_length"):
      raise ValueError(f"car params: {name} must be positive, got {v}")
  p = {name: float(params[_I[name]]) for name in CAR_PARAM_NAMES}
  checks = (
      ("roof_length", roof_length(params) > 0.2, "cabin pieces leave less than 0.2 m of roof"),
      ("wheelbase", p["wheelbase"] + p["front_overhang"] + p["wheel_diameter"] / 2 + 0.1
       < p["length"], "rear wheel reaches past the back"),
      ("front_overhang", p["front_overhang"] > p["wheel_diameter"] / 2 + 0.15,
       "front wheel reaches past the front"),
      ("track", p["track"] + p["tyre_width"] < p["width"], "tyres stick out of the body"),
      ("roof_width", p["roof_width"] < p["width"] - 0.12, "roof as wide as the body"),
      ("belt_height", p["hood_height"] <= p["belt_height"] < p["height"] - 0.2,
       "beltline must lie between the hood and 0.2 m under the roof"),
      ("headlight_height", p["bumper_height"] + 0.02 < p["headlight_height"] - p["light_size"]
       and p["headlight_height"] + 0.02 < p["hood_height"],
       "headlights must fit between the bumper and the hood"),
      ("taillight_height", p["bumper_height"] + 0.02 < p["taillight_height"] - p["light_size"]
       and p["taillight_height"] + 0.02 < p["belt_height"],
       "tail lights must fit between the bumper and the beltline"),
      ("bumper_height", p["bumper_height"] > p["ground_clearance"] + 0.08,
       "bumper lower than the underbody"),
      ("boot_length", p["boot_length"] >= 0.5 * _MIN_LIP, "boot shorter than the body inset"),
      ("light_inset", p["light_inset"] + p["light_width"] < p["width"] / 2 - 0.05,
       "lights cross the centre line"),
  )
  for name, ok, why in checks:
    if not ok:
      raise ValueError(f"car params: {name}: {why}")


def roof_length(params: np.ndarray) -> float:
  """Roof length, metres: what the cabin pieces leave of the car's length."""
  p = np.asarray(params)
  return float(p[_I["length"]] - p[_I["hood_length"]] - p[_I["windscreen_run"]]
               - p[_I["rear_window_run"]] - p[_I["boot_length"]] - p[_I["bed_length"]])


def car_dimensions(params: np.ndarray) -> tuple[float, float, float]:
  """(length, width, height) in metres: the car's bounding box (footprint and roof)."""
  p = np.asarray(params)
  return float(p[_I["length"]]), float(p[_I["width"]]), float(p[_I["height"]])


def _cabin_x(p: dict[str, float]) -> tuple[float, float, float, float]:
  """x of the windscreen base, roof front, roof back and rear-window base (metres)."""
  x_ws = p["length"] / 2 - p["hood_length"]
  x_rf = x_ws - p["windscreen_run"]
  x_rw = -p["length"] / 2 + p["boot_length"] + p["bed_length"]
  x_rb = x_rw + p["rear_window_run"]
  return x_ws, x_rf, x_rb, x_rw


def car_keypoints(params: np.ndarray) -> np.ndarray:
  """The 12 keypoints (CAR_KEYPOINT_NAMES order), (12, 3) metres, object frame.

  Wheels: centre of the hub on the tyre's outer face. Lights: outer top corner of the light's
  outward face. Roof: corners of the flat roof. Identical to `car_mesh(params).keypoints`.
  """
  p = {name: float(v) for name, v in zip(CAR_PARAM_NAMES, np.asarray(params, np.float64))}
  half_l, half_w = p["length"] / 2, p["width"] / 2
  x_front_axle = half_l - p["front_overhang"]
  x_back_axle = x_front_axle - p["wheelbase"]
  wheel_y = p["track"] / 2 + p["tyre_width"] / 2
  hub_z = p["wheel_diameter"] / 2
  light_x = half_l - _BODY_INSET / 2
  light_y = half_w - p["light_inset"]
  _, x_rf, x_rb, _ = _cabin_x(p)
  roof_y = p["roof_width"] / 2
  rows = []
  for x, y, z in ((x_front_axle, wheel_y, hub_z), (x_back_axle, wheel_y, hub_z),
                  (light_x, light_y, p["headlight_height"]),
                  (-light_x, light_y, p["taillight_height"]),
                  (x_rf, roof_y, p["height"]), (x_rb, roof_y, p["height"])):
    rows += [(x, -y, z), (x, y, z)]  # right (-y) first, as CAR_KEYPOINT_NAMES
  return np.array(rows, np.float64)


_TYRE_SEGMENTS = 8


def car_mesh(params: np.ndarray) -> Mesh:
  """A closed, outward-facing triangle mesh of the car (about 300 triangles).

  Pieces: the lower body (hood sloping up to the beltline, wheel arches), the tapered cabin
  (windscreen, side and rear glass, roof), four tyres (octagonal cylinders whose outer cap
  centre is the wheel keypoint), head and tail lights, front and rear bumpers. Each piece is
  closed on its own; pieces may interpenetrate. keypoint_vertices follow CAR_KEYPOINT_NAMES.
  """
  validate_car_params(params)
  p = {name: float(v) for name, v in zip(CAR_PARAM_NAMES, np.asarray(params, np.float64))}
  half_l, half_w = p["length"] / 2, p["width"] / 2
  x_ws, x_rf, x_rb, x_rw = _cabin_x(p)
  x_face = half_l - _BODY_INSET
  r = p["wheel_diameter"] / 2
  axles = (half_l - p["front_overhang"], half_l - p["front_overhang"] - p["wheelbase"])
  build = MeshBuilder()

  # Lower body: one ring per station along x, front to back. The hood rises from its front
  # edge to the beltline at the windscreen base; the underside lifts over each wheel.
  top_x = np.array([-x_face, x_ws, x_face])
  top_z = np.array([p["belt_height"], p["belt_height"], p["hood_height"]])
  bottom_x, bottom_z = [x_face, -x_face], [p["ground_clearance"]] * 2
  for x_axle in axles:
    raised = min(2 * r + 0.05, float(np.interp(x_axle, top_x, top_z)) - 0.10)
    bottom_x += [x_axle + r + 0.10, x_axle + 0.7 * r, x_axle - 0.7 * r, x_axle - r - 0.10]
    bottom_z += [p["ground_clearance"], raised, raised, p["ground_clearance"]]
  order = np.argsort(bottom_x)
  bottom_x, bottom_z = np.array(bottom_x)[order], np.array(bottom_z)[order]
  # Stations: every breakpoint of either profile, front to back, closer ones merged.
  stations = np.sort(np.concatenate([bottom_x, [x_ws, x_rw]]))[::-1]
  stations = stations[np.concatenate([[True], -np.diff(stations) > 0.01])]
  z_top = np.interp(stations, top_x, top_z)
  z_bottom = np.interp(stations, bottom_x, bottom_z)
  w_bottom = half_w - 0.04
  n = len(stations)
  rings = np.stack([
      np.repeat(stations[:, None], 4, 1),
      np.tile([-w_bottom, w_bottom, half_w, -half_w], (n, 1)),
      np.stack([z_bottom, z_bottom, z_top, z_top], -1),
  ], -1)
  side = np.full((len(stations) - 1, 4), Part.BODY)
  side[:, 0] = Part.TRIM  # underside
  if p["bed_length"] > 0:
    in_bed = 0.5 * (stations[:-1] + stations[1:]) < x_rw
    side[in_bed, 2] = Part.TRIM  # dark bed liner between the cab and the tailgate
  build.loft(rings, side, (Part.BODY, Part.BODY))

  # Cabin: starts just inside the body below the beltline so no faces of the two pieces
  # share a plane; a 4 cm cowl and a 4 cm rear lip keep its end caps non-degenerate.
  belt, low_w = p["belt_height"], half_w - 0.02
  ends = [(x_ws, belt + 0.04, half_w - 0.06), (x_rf, p["height"], p["roof_width"] / 2),
          (x_rb, p["height"], p["roof_width"] / 2), (x_rw, belt + 0.04, half_w - 0.06)]
  rings = np.array([[(x, -low_w, belt - 0.02), (x, low_w, belt - 0.02), (x, w, z), (x, -w, z)]
                    for x, z, w in ends])
  side = np.full((3, 4), Part.WINDOW)
  side[:, 0] = Part.BODY
  side[1, 2] = Part.BODY  # roof
  cabin = build.loft(rings, side, (Part.BODY, Part.WINDOW))
  roof_vertices = [cabin + 4 * 1 + 3, cabin + 4 * 1 + 2, cabin + 4 * 2 + 3, cabin + 4 * 2 + 2]

  # Tyres: octagonal cylinders around the axle; the outer cap's centre is the keypoint.
  angles = 2 * np.pi * (np.arange(_TYRE_SEGMENTS) + 0.5) / _TYRE_SEGMENTS
  # Circumradius chosen so the flat bottom segment rests on the ground (and the top at 2 r).
  r_corner = r / np.cos(np.pi / _TYRE_SEGMENTS)
  y_in, y_out = p["track"] / 2 - p["tyre_width"] / 2, p["track"] / 2 + p["tyre_width"] / 2
  wheel_vertices = []
  for x_axle in axles:
    circle_x, circle_z = x_axle + r_corner * np.cos(angles), r + r_corner * np.sin(angles)
    for sign in (-1.0, 1.0):
      rings = np.array([np.column_stack([circle_x, np.full(_TYRE_SEGMENTS, sign * y), circle_z])
                        for y in (y_in, y_out)])
      start = build.loft(rings, np.full((1, _TYRE_SEGMENTS), Part.TYRE), (Part.TYRE, Part.TYRE),
                         apexes=(None, rings[-1].mean(0)))
      wheel_vertices.append(start + 2 * _TYRE_SEGMENTS)

  # Lights: thin boxes standing 1.5 cm out of the end faces; the keypoint is the outer top
  # corner of the outward face.
  y_outer = half_w - p["light_inset"]
  y_inner = y_outer - p["light_width"]
  light_vertices = []
  for x_sign, z_top_light, part in ((1.0, p["headlight_height"], Part.HEADLIGHT),
                                    (-1.0, p["taillight_height"], Part.TAILLIGHT)):
    x_in, x_out = sorted([x_sign * (x_face - 0.03), x_sign * (half_l - _BODY_INSET / 2)])
    z_lo = z_top_light - p["light_size"]
    for y_sign in (-1.0, 1.0):
      y_lo, y_hi = sorted([y_sign * y_inner, y_sign * y_outer])
      start = build.box(np.array([x_in, y_lo, z_lo]), np.array([x_out, y_hi, z_top_light]),
                        part)
      ring = 1 if x_sign > 0 else 0  # the box ring at the outward face
      corner = 2 if y_sign > 0 else 3  # (y_hi, z_hi) on the left, (y_lo, z_hi) on the right
      light_vertices.append(start + 4 * ring + corner)

  # Bumpers: full-width dark boxes that wrap round the body's corners.
  for x_sign in (1.0, -1.0):
    x_lo, x_hi = sorted([x_sign * (x_face - 0.10), x_sign * half_l])
    build.box(np.array([x_lo, -(half_w - 0.015), p["ground_clearance"] + 0.04]),
              np.array([x_hi, half_w - 0.015, p["bumper_height"]]), Part.TRIM)

  keypoints = wheel_vertices + light_vertices + roof_vertices
  return build.mesh(keypoints)
