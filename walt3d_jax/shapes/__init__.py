"""Shape models: the parametric car family, its keypoint PCA, and walking people."""

from walt3d_jax.shapes.mesh import Mesh, Part, concatenate, face_normals
from walt3d_jax.shapes.vehicle import (
    BODY_TYPES,
    CAR_KEYPOINT_MIRROR,
    CAR_KEYPOINT_NAMES,
    CAR_PARAM_NAMES,
    NUM_CAR_PARAMS,
    car_dimensions,
    car_keypoints,
    car_mesh,
    roof_length,
    sample_car_params,
    validate_car_params,
)
from walt3d_jax.shapes.car_model import (
    CarShapeModel,
    keypoints_from_shape,
    load_car_model,
    shape_from_keypoints,
)
from walt3d_jax.shapes.person import (
    CLOTHING_COLOURS,
    COCO_KEYPOINT_MIRROR,
    COCO_KEYPOINT_NAMES,
    COCO_SKELETON,
    HAIR_COLOURS,
    NUM_PERSON_PARAMS,
    PERSON_FOOTPRINT_RADIUS,
    PERSON_PARAM_NAMES,
    SHOE_COLOURS,
    SKIN_COLOURS,
    person_colours,
    person_joints,
    person_keypoint_radii,
    person_mesh,
    person_step_length,
    sample_person,
    validate_person_params,
)
from walt3d_jax.shapes.pieces import MeshBuilder
