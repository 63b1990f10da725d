"""Exactness of clip-art labels, checked against the simulator's own renderer.

Compose a scene from simulated objects, then re-render the same agents (same meshes, same
poses) together with the simulator's z-buffer renderer and read its exact truth: the
compositor's visible masks and keypoint states should be what the renderer says. With objects
taken from the simulator's truth (exact masks and 3D) this isolates the compositor (its depth
proxies and its per-pixel test); with objects as the pipeline delivers them (detector masks,
fitted 3D) it measures what mining and fitting errors cost the labels.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Sequence

import ml_collections
import numpy as np

from walt3d_jax.clipart import compose
from walt3d_jax.clipart import pool as pool_lib
from walt3d_jax.clipart import truth_bank
from walt3d_jax.clipart.config import ClipartConfig
from walt3d_jax.formats.coco import KeypointState
from walt3d_jax.metrics import detection as detection_metrics
from walt3d_jax.sim import lighting as lighting_lib
from walt3d_jax.sim import render
from walt3d_jax.sim import simulate
from walt3d_jax.timelapse import background as background_lib
from walt3d_jax.timelapse import bank as bank_lib

@dataclasses.dataclass
class SimulatedPool:
  """A pool of simulated objects and, per pool object, the agent that was rendered for it."""

  scene: simulate.Scene
  pool: pool_lib.ObjectPool
  agents: list[simulate.Agent]


def _truth_object(agent: simulate.Agent, truth, image: np.ndarray, frame_index: int, row: int,
                  bucket: str) -> pool_lib.SourceObject:
  height, width = truth.amodal_mask.shape
  window = bank_lib.crop_box_of(np.asarray(truth.amodal_box), (width, height)).astype(np.int64)
  x, y, w, h = (int(v) for v in window)
  count = len(truth.keypoint_states)
  keypoints = np.zeros((17, 2))
  keypoints[:count] = truth.keypoints_uv
  score = np.zeros(17)
  score[:count] = [truth_bank.SCORE_OF_STATE[KeypointState(s)] for s in truth.keypoint_states]
  kp3d = np.zeros((17, 3))
  kp3d[:count] = agent.keypoints
  alpha = np.asarray(agent.extra.get("shape", np.zeros(0)), np.float64)
  shape = np.zeros(10)
  shape[:len(alpha)] = alpha
  return pool_lib.SourceObject(
      category=int(agent.category), window=window, pixels=np.ascontiguousarray(image[y:y + h, x:x + w]),
      mask=truth.amodal_mask[y:y + h, x:x + w].copy(), keypoints=keypoints, keypoint_score=score,
      derived=False, rotation=np.asarray(agent.rotation), translation=np.asarray(agent.translation),
      ground_pose=np.asarray(agent.ground_pose), dimensions=np.asarray(agent.dimensions),
      shape=shape, shape_num=len(alpha), keypoints_3d=kp3d, track_id=int(agent.track_id),
      frame_index=frame_index, row=row, bucket=bucket)


def _empty_street(scene: simulate.Scene) -> np.ndarray:
  return render.render_frame(scene.background, [], scene.camera, lighting_lib.lighting_at(12.0),
                             np.random.default_rng(0)).image


def simulated_pool(sim_config: ml_collections.ConfigDict, preset: str, config: ClipartConfig) -> SimulatedPool:
  """Every truly unoccluded, untruncated agent of a simulated sequence, with exact masks and 3D,
  as a pool (one background: the empty street at noon, under every bucket name)."""
  scene = simulate.prepare_scene(sim_config, preset)
  buckets = background_lib.BackgroundModel(background_lib.BackgroundConfig())
  objects, agents = [], []
  for frame in simulate.simulate_frames(sim_config, scene, 0):
    for agent, truth in zip(frame.agents, frame.truths):
      if truth.occlusion == 0 and not truth.truncated and truth.amodal_mask.any():
        objects.append(_truth_object(agent, truth, frame.rendered.image, frame.index, len(objects),
                                     buckets.bucket_of(frame.time)))
        agents.append(agent)
  street = _empty_street(scene)
  pool = pool_lib.build_pool(objects, scene.camera, {b: street for b in buckets.bucket_names}, config,
                             f"simulated-{preset}", source=f"simulated {preset}")
  kept = [agents[int(r)] for r in pool.row]
  return SimulatedPool(scene, pool, kept)


def _mask_iou(a: np.ndarray, b: np.ndarray) -> float:
  union = np.count_nonzero(a | b)
  return 1.0 if union == 0 else np.count_nonzero(a & b) / union


@dataclasses.dataclass
class Agreement:
  """Per-object comparisons of composites with their re-renders.

  mask_iou: (N,) visible-mask IoU; state_agreement: (N,) fraction of keypoints whose state is
  the re-render's; occlusion: (N,) the re-render's occlusion ratio of each object.
  """

  mask_iou: np.ndarray
  state_agreement: np.ndarray
  occlusion: np.ndarray

  def summary(self) -> dict[str, float]:
    occluded = self.occlusion > 0
    return {
        "objects": int(len(self.mask_iou)),
        "mean_visible_iou": float(self.mask_iou.mean()) if len(self.mask_iou) else float("nan"),
        "mean_visible_iou_occluded": float(self.mask_iou[occluded].mean()) if occluded.any() else float("nan"),
        "keypoint_state_agreement": float(self.state_agreement.mean()) if len(self.state_agreement) else float("nan"),
        "occluded_objects": int(occluded.sum()),
    }


def compare_with_render(sim: SimulatedPool, keys: Sequence[str], config: ClipartConfig,
                        agents_of: Sequence[simulate.Agent] | None = None) -> Agreement:
  """Composes `keys` from `sim.pool` and compares each with a re-render of the same agents.

  agents_of: the agent of each pool object (default sim.agents).
  """
  agents_of = sim.agents if agents_of is None else agents_of
  light = lighting_lib.lighting_at(12.0)
  ious, agreement, occlusion = [], [], []
  for key in keys:
    example = compose.make_example(sim.pool, key, dataclasses.replace(config, image_size=None))
    slots = [int(np.flatnonzero(sim.pool.row == r)[0]) for r in example.objects.source_row]
    agents = [agents_of[s] for s in slots]
    items = [render.RenderItem(a.mesh_vertices, a.mesh_faces, a.albedo, a.emission, i)
             for i, a in enumerate(agents)]
    rendered = render.render_frame(sim.scene.background, items, sim.scene.camera, light,
                                   np.random.default_rng(0), shadows=False)
    truths = simulate.frame_truth(agents, rendered, sim.scene.K)
    o = example.objects
    for i, truth in enumerate(truths):
      count = int(o.num_keypoints[i])
      ious.append(_mask_iou(o.visible_mask[i], truth.visible_mask))
      agreement.append(float(np.mean(o.keypoint_states[i, :count] == truth.keypoint_states[:count])))
      occlusion.append(truth.occlusion)
  return Agreement(np.array(ious), np.array(agreement), np.array(occlusion))


def pipeline_pool(bank_path: pathlib.Path, sim_config: ml_collections.ConfigDict, preset: str,
                  config: ClipartConfig, min_iou: float = 0.5) -> tuple[SimulatedPool, dict]:
  """The pool of a mined and fitted bank of a simulated sequence (made with `sim_config`),
  restricted to rows matched (visible-box IoU ≥ min_iou, same class) to a truly unoccluded
  agent of their frame, with those agents for re-rendering. Also returns match counts."""
  pool = pool_lib.load_pool(bank_path, config)
  scene = simulate.prepare_scene(sim_config, preset)
  by_frame: dict[int, list[int]] = {}
  for i, frame_index in enumerate(pool.frame_index):
    by_frame.setdefault(int(frame_index), []).append(i)
  agent_of: dict[int, simulate.Agent] = {}
  for frame in simulate.simulate_frames(sim_config, scene, 0):
    rows = by_frame.get(frame.index)
    if not rows:
      continue
    clean = [(a, t) for a, t in zip(frame.agents, frame.truths)
             if t.occlusion == 0 and not t.truncated and t.amodal_mask.any()]
    if not clean:
      continue
    truth_boxes = np.array([t.visible_box for _, t in clean])
    for i in rows:
      iou = detection_metrics.box_iou(pool.amodal_box[i][None], truth_boxes)[0]
      best = int(np.argmax(iou))
      if iou[best] >= min_iou and int(clean[best][0].category) == int(pool.category[i]):
        agent_of[i] = clean[best][0]
  matched = sorted(agent_of)
  counts = {"pool_objects": len(pool), "matched_to_unoccluded_truth": len(matched)}
  if not matched:
    raise pool_lib.ClipartError(f"{bank_path}: no bank object matches a truly unoccluded simulated agent")
  return SimulatedPool(scene, pool.select(matched), [agent_of[i] for i in matched]), counts
