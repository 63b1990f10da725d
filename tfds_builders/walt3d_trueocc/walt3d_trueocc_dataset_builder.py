"""TFDS `walt3d_trueocc`: simulated frames with real occlusion and exact amodal truth (test sets).

Where `walt3d_clipart` composites objects (the paper's composited test split is its `test`
split), every example here is a frame rendered by the simulator (`walt3d_jax.sim.simulate`)
with all its agents at once, so occlusions are real (a per-pixel z-buffer over whole scenes,
scenery included) and the labels are exact: amodal masks from the renderer's coverage, visible
masks from the z-buffer, keypoint states, 3D pose and shape of each agent. The features are
walt3d_clipart's (`walt3d_jax.clipart.example.to_features` of a `ClipartExample` built by
`frame_example`), with `mode` = 'true_occlusion', so one evaluation reads both datasets.

Configs (docs/formats.md, "True-occlusion test sets"):
- `heldout_preset_*`: leave one viewpoint out. The `crosswalk` preset (5 m kerb-side mast, wide
  lens, people crossing in front of waiting cars) builds no training data: the clip-art data
  come from the `fit` job's simulated `intersection` (seed 0) or `clipart.truth_bank`'s
  `avenue` (seed 0). The occlusion classifier of the mining stage saw crosswalk scenes of seeds
  1-10; the models these sets evaluate did not.
- `unseen_seeds_*`: the other presets (intersection, avenue, t_junction) with layout and traffic
  seeds 1000+, which no job uses (training: 0; occlusion classifier: 1-10).
Each at 640x360, and `tiny_*` at 160x90 (2 examples) for tests.

Generation is deterministic and needs no manual data: per scene (preset, seed) the simulator
runs `num_bursts` bursts of `frames_per_burst` frames (its capture pattern over days, so day,
dusk and night light), and every frame is an example keyed `<preset>-s<seed>-<frame:06d>`.
Frames of one scene come from one sequential simulation (traffic carries its random state
from burst to burst), so a scene, not a key, is the unit of work: `scene_examples` is the pure
function a Beam pipeline would map over `BuilderConfig.scenes`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterator

import numpy as np
import tensorflow_datasets as tfds

from tfds_builders.walt3d_clipart import walt3d_clipart_dataset_builder as clipart_builder
from walt3d_jax.clipart import example as example_lib

MODE = "true_occlusion"
HELDOUT_PRESET = "crosswalk"
SEEN_PRESETS = ("intersection", "avenue", "t_junction")
UNSEEN_SEEDS = (1000, 1001, 1002, 1003, 1004)

_DESCRIPTION = """\
WALT3D true-occlusion test sets: frames of a simulated stationary-camera time-lapse rendered
with all agents at once (real occlusions by other agents and by scenery, not composited), with
exact amodal and visible masks and boxes, occlusion ratios, keypoints with 4-state visibility,
3D pose, shape and 3D keypoints, and a per-pixel depth map of the visible agents. Same features
as walt3d_clipart (mode 'true_occlusion'). Configs: a scene preset held out of all training
data (leave one viewpoint out) and unseen seeds of the other presets.
"""

# The simulator's settings of a test scene (experiments/simulate.py's defaults); BuilderConfig.sim
# overrides them.
_SIM_DEFAULTS = dict(fps=10.0, num_days=3, num_cars=12, num_people=8, num_shape_components=5)


@dataclasses.dataclass
class BuilderConfig(tfds.core.BuilderConfig):
  """One test set: presets × seeds, each simulated for num_bursts × frames_per_burst frames.

  image_size: (W, H) pixels. sim: overrides of _SIM_DEFAULTS as (name, value) pairs.
  """

  presets: tuple[str, ...] = (HELDOUT_PRESET,)
  seeds: tuple[int, ...] = UNSEEN_SEEDS
  image_size: tuple[int, int] = (640, 360)
  num_bursts: int = 100
  frames_per_burst: int = 1
  sim: tuple[tuple[str, Any], ...] = ()

  @property
  def scenes(self) -> list[tuple[str, int]]:
    """(preset, seed) of every scene, in key order."""
    return [(p, int(s)) for p in self.presets for s in self.seeds]

  @property
  def num_examples(self) -> int:
    return len(self.scenes) * int(self.num_bursts) * int(self.frames_per_burst)

  def simulate_config(self, seed: int):
    """The `sim.simulate` config of one scene."""
    import ml_collections

    return ml_collections.ConfigDict(dict(
        _SIM_DEFAULTS, **dict(self.sim), seed=int(seed), image_size=tuple(self.image_size),
        num_bursts=int(self.num_bursts), frames_per_burst=int(self.frames_per_burst)))


def _config(name: str, presets, seeds, size, num_bursts, description: str) -> BuilderConfig:
  return BuilderConfig(name=name, description=description, presets=tuple(presets), seeds=tuple(seeds),
                       image_size=tuple(size), num_bursts=num_bursts)


BUILDER_CONFIGS = [
    _config("heldout_preset_640x360", [HELDOUT_PRESET], UNSEEN_SEEDS, (640, 360), 100,
            "crosswalk (a viewpoint no training data comes from), 5 seeds x 100 frames, 640x360."),
    _config("unseen_seeds_640x360", SEEN_PRESETS, UNSEEN_SEEDS[:2], (640, 360), 100,
            "intersection, avenue, t_junction with unseen seeds, 3 x 2 scenes x 100 frames, 640x360."),
    _config("tiny_heldout_preset", [HELDOUT_PRESET], UNSEEN_SEEDS[:1], (160, 90), 2,
            "crosswalk, 1 scene x 2 frames at 160x90: tests and smoke runs."),
    _config("tiny_unseen_seeds", SEEN_PRESETS[:2], UNSEEN_SEEDS[:1], (160, 90), 1,
            "intersection and avenue, 1 frame each at 160x90: tests and smoke runs."),
]


def frame_example(scene, frame, key: str, seed: int) -> example_lib.ClipartExample:
  """The `ClipartExample` of one simulated frame (`sim.simulate.SimulatedFrame` of `scene`).

  Objects: the agents whose amodal mask touches the image (as in ground_truth.json), in the
  renderer's order. The amodal mask is clipped to the image; keypoints past the 12 of a car are
  zeros with state 3; the shape of a car is its PCA coefficients (first shape_num), of a
  person zeros; source_frame is the frame index, source_row −1 (no bank). The depth map is the
  z-buffer where an agent is visible, 0 elsewhere (scenery and ground included).
  """
  from walt3d_jax.formats import rle
  from walt3d_jax.formats.coco import KeypointState
  from walt3d_jax.sim import render

  rendered = frame.rendered
  height, width = rendered.ids.shape
  kept = [(a, t) for a, t in zip(frame.agents, frame.truths) if t.amodal_mask.any()]
  n, slots, shape_slots = len(kept), example_lib.MAX_KEYPOINTS, example_lib.NUM_SHAPE_SLOTS
  keypoints = np.zeros((n, slots, 2), np.float32)
  states = np.full((n, slots), int(KeypointState.OUTSIDE_IMAGE), np.int8)
  keypoints_3d = np.zeros((n, slots, 3), np.float32)
  shape = np.zeros((n, shape_slots), np.float32)
  shape_num = np.zeros(n, np.int32)
  for i, (agent, truth) in enumerate(kept):
    p = len(agent.keypoints)
    keypoints[i, :p] = truth.keypoints_uv
    states[i, :p] = truth.keypoint_states
    keypoints_3d[i, :p] = agent.keypoints
    coefficients = agent.extra.get("shape")
    if coefficients is not None:
      coefficients = np.asarray(coefficients)[:shape_slots]
      shape[i, :len(coefficients)] = coefficients
      shape_num[i] = len(coefficients)
  stack = lambda values, dtype, shape_: np.asarray(values, dtype).reshape(shape_)
  amodal = stack([t.amodal_mask for _, t in kept], bool, (n, height, width))
  visible = stack([t.visible_mask for _, t in kept], bool, (n, height, width))
  objects = example_lib.ClipartObjects(
      category=stack([int(a.category) for a, _ in kept], np.int32, (n,)),
      amodal_mask=amodal, visible_mask=visible,
      amodal_box=stack([rle.mask_box(m) for m in amodal], np.float32, (n, 4)),
      visible_box=stack([rle.mask_box(m) for m in visible], np.float32, (n, 4)),
      occlusion=stack([t.occlusion for _, t in kept], np.float32, (n,)),
      keypoints=keypoints, keypoint_states=states,
      num_keypoints=stack([len(a.keypoints) for a, _ in kept], np.int32, (n,)),
      rotation=stack([a.rotation for a, _ in kept], np.float32, (n, 3, 3)),
      translation=stack([a.translation for a, _ in kept], np.float32, (n, 3)),
      ground_pose=stack([a.ground_pose for a, _ in kept], np.float32, (n, 3)),
      dimensions=stack([a.dimensions for a, _ in kept], np.float32, (n, 3)),
      shape=shape, shape_num=shape_num, keypoints_3d=keypoints_3d,
      depth=stack([a.translation[2] for a, _ in kept], np.float32, (n,)),
      track_id=stack([a.track_id for a, _ in kept], np.int64, (n,)),
      source_frame=np.full(n, frame.index, np.int64), source_row=np.full(n, -1, np.int64),
      time_bucket=[frame.lighting.period] * n,
  )
  agent_pixels = (rendered.ids >= 0) & (rendered.ids < render.STATIC_ID_BASE)
  depth = np.where(agent_pixels, rendered.depth, 0.0).astype(np.float32)
  plane = np.concatenate([np.asarray(scene.camera.normal, np.float32).reshape(3),
                          np.asarray(scene.camera.offset, np.float32).reshape(1)])
  return example_lib.ClipartExample(
      image=np.asarray(rendered.image, np.uint8), depth=depth, K=np.asarray(scene.K, np.float32),
      plane=plane, time_bucket=frame.lighting.period, camera=f"{scene.name}-s{seed}", key=key,
      seed=int(seed), mode=MODE, objects=objects)


def scene_examples(preset: str, seed: int, config: BuilderConfig) -> Iterator[tuple[str, dict[str, Any]]]:
  """(key, feature dict) of every frame of one scene: pure in (preset, seed, config)."""
  from walt3d_jax.sim import simulate  # the simulator only when building

  sim_config = config.simulate_config(seed)
  scene = simulate.prepare_scene(sim_config, preset)
  for frame in simulate.simulate_frames(sim_config, scene, 0):
    key = f"{preset}-s{seed}-{frame.index:06d}"
    yield key, example_lib.to_features(frame_example(scene, frame, key, seed), png=True)


class Builder(tfds.core.GeneratorBasedBuilder):
  """DatasetBuilder for walt3d_trueocc."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release: held-out preset and unseen seeds, 640x360 and tiny."}
  BUILDER_CONFIGS = BUILDER_CONFIGS
  DEFAULT_BUILDER_CONFIG_NAME = "heldout_preset_640x360"

  def _example_writer(self) -> tfds.core.ExampleWriter:
    # Records with sorted feature keys, as walt3d_clipart's: the same bytes in every process.
    return clipart_builder.CanonicalExampleWriter(file_format=self.info.file_format)

  def _info(self) -> tfds.core.DatasetInfo:
    # walt3d_clipart's features, so the same decoder, pipeline and evaluation read both.
    return self.dataset_info_from_configs(
        features=clipart_builder._features(tuple(self.builder_config.image_size)),  # pylint: disable=protected-access
        supervised_keys=None,
        homepage="https://www.cs.cmu.edu/~walt3d",
        citation=clipart_builder._CITATION,  # pylint: disable=protected-access
        description=_DESCRIPTION,
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    del dl_manager  # generated: nothing to download
    return {"test": self._generate_examples()}

  def _generate_examples(self) -> Iterator[tuple[str, dict[str, Any]]]:
    for preset, seed in self.builder_config.scenes:
      yield from scene_examples(preset, seed, self.builder_config)
