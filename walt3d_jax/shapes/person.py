"""Walking people: anthropometric body, COCO-17 joints over a gait cycle, and a tube mesh.

One person is one (P,) float64 vector named by PERSON_PARAM_NAMES (metres, plus colour
indices into the palettes below). Figures from REFERENCE.md:
- stature: a sex mixture, 1.75 m (men) and 1.62 m (women), standard deviation 0.07 m
  (NCD-RisC compilations);
- segment heights as fractions of stature H (Drillis & Contini, 1966): eye 0.936, shoulder
  0.818, elbow 0.630, wrist 0.485, hip 0.530, knee 0.285, ankle 0.039; shoulder width 0.259 H,
  hip width 0.191 H;
- walking: step length about 0.41 H, cadence 1.8–2.0 steps/s, 1.2–1.5 m/s.

The object frame has its origin on the ground under the pelvis, x forward (walking
direction), y left, z up. The body walks in place: during stance a foot slides back by one
step per half cycle, so a simulator that moves the origin forward by `person_step_length`
per half cycle (phase rate = speed / (2 step length)) keeps the stance foot fixed on the ground.
"""

from __future__ import annotations

import numpy as np

from walt3d_jax.shapes.mesh import Mesh, Part
from walt3d_jax.shapes.pieces import MeshBuilder

COCO_KEYPOINT_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)
# COCO's person skeleton (the 19 edges of the COCO annotations), 0-based keypoint indices.
COCO_SKELETON = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7),
    (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)
# Keypoint i and COCO_KEYPOINT_MIRROR[i] swap under y -> -y.
COCO_KEYPOINT_MIRROR = (0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15)

PERSON_PARAM_NAMES = (
    "height",  # stature, m
    "shoulder_width",  # biacromial, m
    "hip_width",  # m
    "build",  # limb and torso thickness relative to an average adult
    "is_female",  # 1.0 or 0.0; sets the mean stature and proportions
    "skin",  # index into SKIN_COLOURS
    "hair",  # index into HAIR_COLOURS
    "shirt",  # index into CLOTHING_COLOURS
    "trousers",  # index into CLOTHING_COLOURS
    "shoes",  # index into SHOE_COLOURS
    "long_sleeves",  # 1.0: forearms are shirt, 0.0: skin
)
NUM_PERSON_PARAMS = len(PERSON_PARAM_NAMES)
_I = {name: i for i, name in enumerate(PERSON_PARAM_NAMES)}

# Albedo palettes, RGB in [0, 1].
SKIN_COLOURS = np.array([[0.96, 0.80, 0.69], [0.89, 0.67, 0.52], [0.76, 0.54, 0.38],
                         [0.55, 0.37, 0.24], [0.36, 0.22, 0.14]])
HAIR_COLOURS = np.array([[0.06, 0.05, 0.04], [0.25, 0.16, 0.09], [0.55, 0.40, 0.22],
                         [0.80, 0.70, 0.45], [0.60, 0.60, 0.60]])
CLOTHING_COLOURS = np.array([[0.08, 0.08, 0.10], [0.90, 0.90, 0.88], [0.15, 0.22, 0.45],
                             [0.55, 0.10, 0.10], [0.20, 0.40, 0.20], [0.50, 0.50, 0.52],
                             [0.75, 0.62, 0.40], [0.85, 0.55, 0.15], [0.30, 0.20, 0.35]])
SHOE_COLOURS = np.array([[0.05, 0.05, 0.05], [0.85, 0.85, 0.85], [0.35, 0.22, 0.12]])

# Drillis & Contini (1966) heights as fractions of stature (REFERENCE.md).
_EYE, _SHOULDER, _ELBOW, _WRIST, _HIP, _KNEE, _ANKLE = 0.936, 0.818, 0.630, 0.485, 0.530, 0.285, 0.039
_STEP_FRACTION = 0.41  # step length / stature (REFERENCE.md)
_KNEE_STANCE = np.radians(3.0)  # knee flexion at mid-stance
_KNEE_SWING = np.radians(57.0)  # extra flexion at mid-swing, so peak ≈ 60°
_ARM_SWING = np.radians(18.0)
_ELBOW_BEND = np.radians(12.0)

# Radius of a person's ground footprint disc, metres: every sampled person's mesh lies within
# |y| < 0.3 m (shoulders and arms) at every phase. Along the walking direction the swinging
# limbs reach further: hands up to about 0.45 m, feet up to about 0.32 H at heel strike.
PERSON_FOOTPRINT_RADIUS = 0.3


def sample_person(rng: np.random.Generator) -> np.ndarray:
  """Draws one adult: (P,) float64 named by PERSON_PARAM_NAMES.

  Stature from the sex mixture 1.75 / 1.62 m ± 0.07 m (REFERENCE.md), clipped to 1.45–2.05 m;
  shoulder and hip widths around 0.259 H and 0.191 H (Drillis & Contini), broader shoulders
  for men and broader hips for women.
  """
  female = bool(rng.random() < 0.5)
  height = float(np.clip(rng.normal(1.62 if female else 1.75, 0.07), 1.45, 2.05))
  shoulder = height * 0.259 * (0.95 if female else 1.03) * rng.uniform(0.96, 1.04)
  hip = height * 0.191 * (1.06 if female else 0.97) * rng.uniform(0.96, 1.04)
  values = dict(
      height=height, shoulder_width=shoulder, hip_width=hip, build=rng.uniform(0.9, 1.15),
      is_female=float(female), skin=rng.integers(len(SKIN_COLOURS)),
      hair=rng.integers(len(HAIR_COLOURS)), shirt=rng.integers(len(CLOTHING_COLOURS)),
      trousers=rng.integers(len(CLOTHING_COLOURS)), shoes=rng.integers(len(SHOE_COLOURS)),
      long_sleeves=float(rng.random() < 0.5))
  return np.array([float(values[name]) for name in PERSON_PARAM_NAMES], np.float64)


def validate_person_params(params: np.ndarray) -> None:
  """Raises ValueError naming the field when `params` is not a valid person vector."""
  params = np.asarray(params)
  if params.shape != (NUM_PERSON_PARAMS,):
    raise ValueError(f"person params: expected shape ({NUM_PERSON_PARAMS},), got {params.shape}")
  for name in PERSON_PARAM_NAMES:
    if not np.isfinite(params[_I[name]]):
      raise ValueError(f"person params: {name} is not finite")
  p = dict(zip(PERSON_PARAM_NAMES, params))
  if not 0.5 <= p["height"] <= 2.5:
    raise ValueError(f"person params: height must be in [0.5, 2.5] m, got {p['height']}")
  for name in ("shoulder_width", "hip_width"):
    if not 0.1 * p["height"] <= p[name] <= 0.4 * p["height"]:
      raise ValueError(f"person params: {name} must be 0.1–0.4 × height, got {p[name]}")
  if not 0.5 <= p["build"] <= 2.0:
    raise ValueError(f"person params: build must be in [0.5, 2], got {p['build']}")
  for name, palette in (("skin", SKIN_COLOURS), ("hair", HAIR_COLOURS),
                        ("shirt", CLOTHING_COLOURS), ("trousers", CLOTHING_COLOURS),
                        ("shoes", SHOE_COLOURS)):
    if p[name] != int(p[name]) or not 0 <= p[name] < len(palette):
      raise ValueError(f"person params: {name} must be an index below {len(palette)}")


def person_colours(params: np.ndarray) -> dict[Part, np.ndarray]:
  """Albedo (3,) RGB in [0, 1] for each person Part."""
  p = dict(zip(PERSON_PARAM_NAMES, np.asarray(params)))
  return {Part.SKIN: SKIN_COLOURS[int(p["skin"])], Part.HAIR: HAIR_COLOURS[int(p["hair"])],
          Part.SHIRT: CLOTHING_COLOURS[int(p["shirt"])],
          Part.TROUSERS: CLOTHING_COLOURS[int(p["trousers"])],
          Part.SHOES: SHOE_COLOURS[int(p["shoes"])]}


def person_step_length(params: np.ndarray) -> float:
  """Step length, metres: 0.41 × stature (REFERENCE.md); a gait cycle is two steps."""
  return _STEP_FRACTION * float(np.asarray(params)[_I["height"]])


def _head_radii(height: float) -> np.ndarray:
  """Head half-depth, half-width, half-height (3,) metres for an adult of `height`."""
  return np.array([0.100, 0.078, 0.115]) * height / 1.70


def _gait(params: np.ndarray, phase: float) -> dict[str, np.ndarray]:
  """Joint positions (3,) metres for one gait phase, plus the pelvis lift."""
  validate_person_params(params)
  if not np.isfinite(phase):
    raise ValueError(f"phase must be finite, got {phase}")
  p = dict(zip(PERSON_PARAM_NAMES, np.asarray(params, np.float64)))
  h = p["height"]
  thigh, shank = (_HIP - _KNEE) * h, (_KNEE - _ANKLE) * h
  upper_arm, forearm = (_SHOULDER - _ELBOW) * h, (_ELBOW - _WRIST) * h
  hip_y = 0.5 * 0.85 * p["hip_width"]  # joint centres sit inside the hip breadth
  shoulder_y = 0.5 * p["shoulder_width"] - 0.03
  # Hip flexion amplitude that spreads the ankles one step apart at double support.
  swing = np.arcsin(min(0.95, _STEP_FRACTION * h / (2.0 * (thigh + shank))))
  out = {}
  drops = {}
  for side, sign, offset in (("right", -1.0, 0.0), ("left", 1.0, 0.5)):
    angle = 2.0 * np.pi * (phase + offset)
    thigh_angle = swing * np.sin(angle)  # forward of vertical; the leg swings when cos > 0
    knee_flex = _KNEE_STANCE + _KNEE_SWING * max(0.0, np.cos(angle)) ** 2
    shank_angle = thigh_angle - knee_flex
    knee = np.array([thigh * np.sin(thigh_angle), sign * hip_y, -thigh * np.cos(thigh_angle)])
    ankle = knee + np.array([shank * np.sin(shank_angle), 0.0, -shank * np.cos(shank_angle)])
    out[f"{side}_knee"], out[f"{side}_ankle"] = knee, ankle
    out[f"{side}_hip"] = np.array([0.0, sign * hip_y, 0.0])
    drops[side] = -ankle[2]
    # Arms swing opposite to the same-side leg, elbows bending more when forward.
    arm_angle = -_ARM_SWING * np.sin(angle)
    fore_angle = arm_angle + _ELBOW_BEND + 0.5 * max(0.0, arm_angle)
    shoulder = np.array([0.0, sign * shoulder_y, (_SHOULDER - _HIP) * h])
    elbow = shoulder + np.array([upper_arm * np.sin(arm_angle), sign * 0.02,
                                 -upper_arm * np.cos(arm_angle)])
    wrist = elbow + np.array([forearm * np.sin(fore_angle), sign * 0.01,
                              -forearm * np.cos(fore_angle)])
    out[f"{side}_shoulder"], out[f"{side}_elbow"], out[f"{side}_wrist"] = shoulder, elbow, wrist
  # The pelvis rides on the more vertical leg: the lower ankle stays at ankle height.
  pelvis_z = _ANKLE * h + max(drops.values())
  for name in out:
    out[name] = out[name] + np.array([0.0, 0.0, pelvis_z])
  head = _head_radii(h)
  lift = pelvis_z - _HIP * h  # vertical bob relative to standing
  centre = np.array([0.0, 0.0, h - head[2] + lift])

  def on_head(y: float, z: float, forward: bool) -> np.ndarray:
    """Point of the head ellipsoid at (y, z) relative to its centre, front or back."""
    s = 1.0 - (y / head[1]) ** 2 - (z / head[2]) ** 2
    x = head[0] * np.sqrt(max(s, 0.0))
    return centre + np.array([x if forward else -x, y, z])

  eye_dz = (_EYE * h + lift) - centre[2]
  out["nose"] = on_head(0.0, eye_dz - 0.04 * h / 1.70, True) + np.array([0.015, 0.0, 0.0])
  for side, sign in (("right", -1.0), ("left", 1.0)):
    out[f"{side}_eye"] = on_head(sign * 0.032 * h / 1.70, eye_dz, True)
    out[f"{side}_ear"] = centre + np.array([-0.01, sign * head[1], eye_dz - 0.01])
  out["head_centre"] = centre
  out["pelvis"] = np.array([0.0, 0.0, pelvis_z])
  return out


def person_joints(params: np.ndarray, phase: float) -> np.ndarray:
  """COCO-17 joints (17, 3) metres, object frame, at gait phase (period 1).

  Phase 0 is right mid-swing (left mid-stance), 0.5 the mirror image. Feet on z = 0 (the
  supporting ankle at 0.039 H), facing +x.
  """
  g = _gait(params, float(phase) % 1.0)
  return np.stack([g[name] for name in COCO_KEYPOINT_NAMES])


def person_keypoint_radii(params: np.ndarray) -> np.ndarray:
  """(17,) metres: how far under the visible surface each COCO joint lies.

  Face points lie on the head surface; limb joints at the centre of their tube (the tube's
  radius); hips inside the pelvis. The renderer treats a joint as visible when its depth is
  within this radius of the z-buffer.
  """
  p = dict(zip(PERSON_PARAM_NAMES, np.asarray(params, np.float64)))
  r = _limb_radii(p)
  radii = dict(nose=0.0, left_eye=0.0, right_eye=0.0, left_ear=0.0, right_ear=0.0,
               left_shoulder=r["upper_arm"] + 0.02, right_shoulder=r["upper_arm"] + 0.02,
               left_elbow=r["elbow"], right_elbow=r["elbow"], left_wrist=r["wrist"],
               right_wrist=r["wrist"], left_hip=r["hip"], right_hip=r["hip"],
               left_knee=r["knee"], right_knee=r["knee"], left_ankle=r["ankle"],
               right_ankle=r["ankle"])
  return np.array([radii[name] for name in COCO_KEYPOINT_NAMES], np.float64)


def _limb_radii(p: dict[str, float]) -> dict[str, float]:
  """Tube radii (metres) at each joint, scaled by stature and build."""
  s = p["height"] / 1.70 * p["build"]
  return dict(upper_arm=0.045 * s, elbow=0.038 * s, wrist=0.028 * s, thigh=0.075 * s,
              knee=0.052 * s, ankle=0.040 * s, neck=0.055 * s, hip=0.5 * 0.85 * p["hip_width"])


_SIDES = 6  # limb tube cross-section
_RING = 8  # torso and head cross-section


_TUBE_ANGLES = 2.0 * np.pi * np.arange(_SIDES) / _SIDES
_TUBE_COS, _TUBE_SIN = np.cos(_TUBE_ANGLES)[:, None], np.sin(_TUBE_ANGLES)[:, None]


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  """a x b of two (3,) vectors: the products and differences np.cross makes, without its
  generic-shape overhead (this runs for every limb of every person in every frame)."""
  return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2],
                   a[0] * b[1] - a[1] * b[0]])


def _tube_rings(a: np.ndarray, b: np.ndarray, ra: float, rb: float) -> np.ndarray:
  """Two hexagonal rings (2, 6, 3) around the segment a -> b, radii ra and rb."""
  ab = b - a
  d = ab / max(np.sqrt(ab.dot(ab)), 1e-9)  # np.linalg.norm of a vector is sqrt(x . x)
  ref = np.array([0.0, 1.0, 0.0]) if abs(d[1]) < 0.9 else np.array([1.0, 0.0, 0.0])
  u = _cross(d, ref)
  u /= np.sqrt(u.dot(u))
  v = _cross(d, u)
  circle = _TUBE_COS * u + _TUBE_SIN * v
  return np.stack([a + ra * circle, b + rb * circle])


def _ellipse_ring(centre: np.ndarray, half_x: float, half_y: float) -> np.ndarray:
  """An 8-vertex horizontal ring (8, 3) around `centre`."""
  t = 2.0 * np.pi * np.arange(_RING) / _RING
  return centre + np.column_stack([half_x * np.cos(t), half_y * np.sin(t), np.zeros(_RING)])


def person_mesh(params: np.ndarray, phase: float) -> Mesh:
  """Closed tube mesh of a walking person at gait phase (about 310 triangles).

  Pieces: torso (trousers below the waist, shirt above), neck, head (hair on top), upper
  arms, forearms, thighs, shanks, feet; each closed, outward-facing, possibly
  interpenetrating. keypoint_vertices: 17 extra vertices at the COCO joints.
  """
  g = _gait(params, float(phase) % 1.0)
  p = dict(zip(PERSON_PARAM_NAMES, np.asarray(params, np.float64)))
  h, r = p["height"], _limb_radii(p)
  depth = 0.5 * 0.115 * h * p["build"]  # torso half-depth
  build = MeshBuilder()

  # Torso from crotch to shoulders: hip ring, waist, chest, shoulder line.
  pelvis, lift = g["pelvis"], g["pelvis"][2] - _HIP * h
  levels = [(0.47, 0.5 * p["hip_width"] + 0.01, depth * 1.05),
            (0.60, 0.5 * p["hip_width"] * 0.92, depth * 0.95),
            (0.72, 0.5 * p["shoulder_width"] * 0.85, depth * 1.05),
            (_SHOULDER + 0.01, 0.5 * p["shoulder_width"] - 0.02, depth * 0.85)]
  rings = np.stack([_ellipse_ring(np.array([0.0, 0.0, f * h + lift]), dx, dy)
                    for f, dy, dx in levels])
  build.loft(rings, np.array([[Part.TROUSERS] * _RING, [Part.SHIRT] * _RING,
                              [Part.SHIRT] * _RING]), (Part.TROUSERS, Part.SHIRT))

  # Head: ellipsoid from three rings and two apexes; hair on the top cap and upper band.
  head, centre = _head_radii(h), g["head_centre"]
  rings = np.stack([_ellipse_ring(centre + np.array([0.0, 0.0, f * head[2]]),
                                  s * head[0], s * head[1])
                    for f, s in ((-0.6, 0.8), (0.0, 1.05), (0.55, 0.87))])
  build.loft(rings, np.array([[Part.SKIN] * _RING, [Part.HAIR] * _RING]),
             (Part.SKIN, Part.HAIR), apexes=(centre - [0, 0, head[2]], centre + [0, 0, head[2]]))
  neck_bottom = np.array([0.0, 0.0, _SHOULDER * h + lift - 0.02])
  build.loft(_tube_rings(neck_bottom, centre - [0.0, 0.0, 0.6 * head[2]], r["neck"],
                         0.85 * r["neck"]), Part.SKIN, (Part.SKIN, Part.SKIN))

  forearm_part = Part.SHIRT if p["long_sleeves"] > 0.5 else Part.SKIN
  for side in ("right", "left"):
    shoulder, elbow, wrist = (g[f"{side}_{j}"] for j in ("shoulder", "elbow", "wrist"))
    hip, knee, ankle = (g[f"{side}_{j}"] for j in ("hip", "knee", "ankle"))
    hand = wrist + 0.06 * h / 1.70 * (wrist - elbow) / np.linalg.norm(wrist - elbow)
    limbs = ((shoulder, elbow, r["upper_arm"], r["elbow"], Part.SHIRT),
             (elbow, hand, r["elbow"], r["wrist"], forearm_part),
             (hip + [0.0, 0.0, 0.05 * h], knee, r["thigh"], r["knee"], Part.TROUSERS),
             (knee, ankle, r["knee"], r["ankle"], Part.TROUSERS))
    for a, b, ra, rb, part in limbs:
      cap = Part.SKIN if b is hand else part
      build.loft(_tube_rings(a, b, ra, rb), part, (part, cap))
    # Foot: a flat box from heel to toe under the ankle (foot length ≈ 0.15 H).
    foot = 0.152 * h
    build.box(np.array([ankle[0] - 0.25 * foot, ankle[1] - 0.045, ankle[2] - _ANKLE * h]),
              np.array([ankle[0] + 0.75 * foot, ankle[1] + 0.045, ankle[2] + 0.02]), Part.SHOES)

  joints = np.stack([g[name] for name in COCO_KEYPOINT_NAMES])
  start = build.add_points(joints)
  return build.mesh(np.arange(start, start + len(joints)))
