"""A street scene as data: the contract between the scene presets, the traffic and the renderer.

Everything is in the ground frame of the camera's plane (`walt3d_jax.geometry.plane`): metres,
origin on the ground right below the camera, x along the camera's viewing direction projected
on the ground, y to the left, z up.
"""

from __future__ import annotations

import dataclasses
import enum

import numpy as np


class Surface(enum.IntEnum):
  """Ground materials, painted in the order they are listed in a layout (later wins)."""

  GRASS = 0
  ASPHALT = 1
  SIDEWALK = 2
  CROSSWALK = 3  # white zebra stripes; `stripe_direction` says their orientation
  MARKING = 4  # painted line on asphalt
  PARKING = 5


@dataclasses.dataclass(frozen=True)
class GroundPatch:
  """A polygon of one ground material.

  polygon: (N, 2) metres, ground frame, counter-clockwise.
  stripe_direction: for crosswalks, the unit (2,) direction the stripes run along (the
    direction people walk); None otherwise.
  """

  surface: Surface
  polygon: np.ndarray
  stripe_direction: np.ndarray | None = None


@dataclasses.dataclass(frozen=True)
class LaneMarking:
  """A painted line: polyline (N, 2) metres, width metres, dashed as (on, off) metres or None."""

  polyline: np.ndarray
  width: float = 0.12
  dashes: tuple[float, float] | None = None
  color: tuple[float, float, float] = (0.92, 0.92, 0.88)


@dataclasses.dataclass(frozen=True)
class Lane:
  """A driving lane: centreline (N, 2) metres in the direction of travel, width metres.

  successors: indices of the lanes a car may continue on at the lane's end (straight or turns);
  empty means the lane leaves the scene (cars despawn there).
  spawn: whether cars enter the scene at the lane's start.
  """

  centreline: np.ndarray
  width: float
  successors: tuple[int, ...] = ()
  spawn: bool = True
  speed_limit: float = 12.0  # m/s


@dataclasses.dataclass(frozen=True)
class Walkway:
  """A path people walk along, either way: polyline (N, 2) metres, usable width metres.

  crossing: True for a crosswalk over a road (people wait for cars, cars yield to people).
  connects: indices of walkways reachable at either end.
  """

  polyline: np.ndarray
  width: float
  crossing: bool = False
  connects: tuple[int, ...] = ()


class StaticKind(enum.IntEnum):
  BUILDING = 0
  TREE = 1
  POLE = 2  # street light or traffic-light pole
  SIGN = 3
  PARKED_CAR = 4
  BUS_SHELTER = 5


@dataclasses.dataclass(frozen=True)
class StaticObject:
  """Scenery that never moves and occludes agents.

  position: (2,) metres, ground frame (centre of its footprint); yaw radians about z.
  size: (length, width, height) metres of its bounding box.
  color: albedo in [0, 1].
  seed: makes the procedural detail (windows, foliage, a parked car's shape) reproducible.
  """

  kind: StaticKind
  position: np.ndarray
  yaw: float
  size: tuple[float, float, float]
  color: tuple[float, float, float] = (0.6, 0.6, 0.6)
  seed: int = 0


@dataclasses.dataclass(frozen=True)
class CameraRig:
  """How the camera is mounted: above the ground-frame origin, looking along +x.

  height: metres above the ground (4–15 for traffic cameras).
  pitch: radians below the horizon (positive looks down).
  roll: radians about the optical axis.
  hfov: horizontal field of view, radians.
  image_size: (width, height) pixels.
  """

  height: float
  pitch: float
  hfov: float
  image_size: tuple[int, int] = (640, 360)
  roll: float = 0.0


@dataclasses.dataclass(frozen=True)
class SceneLayout:
  """One street scene: the camera, the ground, the paths and the scenery."""

  name: str
  rig: CameraRig
  ground: tuple[GroundPatch, ...]
  markings: tuple[LaneMarking, ...]
  lanes: tuple[Lane, ...]
  walkways: tuple[Walkway, ...]
  statics: tuple[StaticObject, ...]
  grass_color: tuple[float, float, float] = (0.33, 0.42, 0.25)
