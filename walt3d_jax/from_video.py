"""The `from_video` job: one command from a stationary-camera video to a clip-art dataset
(experiments/from_video.py).

  config.video (or config.frames), optional config.camera and config.detections
    1. calibrate, only without config.camera: the mine job with no camera into
       <workdir>/calibration/mine (tracked, whole, unoccluded objects: the people whose boxes
       run from head to feet, the cars driving by), the background's straight lines
       (`geometry.vanishing`: focal length, tilt and roll from the vertical and horizontal
       vanishing points; config.scene_lines), then `geometry.calibrate` on the tracks (people
       and cars together when both are there) with the lines as a prior → <workdir>/camera.json
       with its uncertainty, and calibration.png (horizon, a metric ground grid, 1.7 m people and
       the lines drawn over the background)
    2. mine + fit with that camera: the fit job into <workdir>/fit (it mines into fit/mine;
       classes by metric size, cars' shapes and poses, people placed on the ground)
    3. compose: the clipart job on the fitted bank into <workdir>/clipart (TFDS walt3d_clipart),
       with report.png (composites, labels, depth) and ground.png (the composites' objects'
       footprints drawn on the calibrated ground grid)
  → <workdir>/summary.json, and a headline per stage with the paths it wrote.

Each stage is a job that resumes or skips finished work (their own markers), so rerunning the
same command after a kill goes on. A user's mistake ends in one line naming the reason (a
`UserError`), not a traceback: no such video, frames or detections file; a video that does not
open (e.g. an MP4 cut short before its index); no moving objects (nothing the detector finds, or
nothing mining keeps, with its reasons); a detections file whose image ids match no frame or that
holds no detections; no ground in view (a featureless background, or a calibrated horizon with
nothing below it: a camera pointed at the sky); tracks that cannot calibrate a camera (e.g. no
people, too few tracks). What runs but is weak is flagged in summary.json's `flags` and on the
console: the calibration's flags (uncertain focal length, car-only calibration, ...) and frames
lost to decoding (at least `mine.WARN_LOST_FRAMES` of the video).
"""

from __future__ import annotations

import math
import pathlib
import time
from typing import Any

import cv2
import ml_collections
import numpy as np

from walt3d_jax.errors import UserError
from walt3d_jax.formats import coco
from walt3d_jax.geometry import calibrate as calibrate_lib
from walt3d_jax.geometry import calibration_report
from walt3d_jax.geometry import vanishing
from walt3d_jax.timelapse import bank as bank_lib
from walt3d_jax.timelapse import detect as detect_lib


class FromVideoError(UserError):
  """A from_video input that cannot make a dataset (a missing file, no moving objects, no ground
  in view); the message names the field or the file and the reason."""


def mine_config(config: ml_collections.ConfigDict, camera: str) -> ml_collections.ConfigDict:
  """config.mine with the job's source (video or frames, detections, camera, working width)
  filled in."""
  c = ml_collections.ConfigDict(config.mine.to_dict())
  c.source.video, c.source.frames = config.video, config.frames
  c.source.detections = config.detections or "builtin"
  c.source.camera = camera
  c.source.fps = config.fps
  c.source.max_width = config.max_width
  c.progress = config.progress
  return c


def check_inputs(config: ml_collections.ConfigDict) -> None:
  """FromVideoError naming the field when a given file or folder is missing (before any work)."""
  if bool(config.video) == bool(config.frames):
    raise FromVideoError("config.video or config.frames: give exactly one (a video file, or an image folder)")
  if config.video and pathlib.Path(config.video).is_dir():
    raise FromVideoError(f"config.video: {config.video} is a folder (an image folder is config.frames)")
  if config.video and not pathlib.Path(config.video).is_file():
    raise FromVideoError(f"config.video: no video file {config.video}")
  if config.frames and not pathlib.Path(config.frames).is_dir():
    raise FromVideoError(f"config.frames: no folder {config.frames}")
  if config.detections and not pathlib.Path(config.detections).is_file():
    raise FromVideoError(f"config.detections: no file {config.detections} (COCO results; '' for the built-in detector)")
  if config.camera and not pathlib.Path(config.camera).is_file():
    raise FromVideoError(f"config.camera: no file {config.camera}")


def nothing_mined_message(summary: dict[str, Any], config: ml_collections.ConfigDict,
                          calibration: dict[str, Any] | None = None) -> str:
  """Why a mine job (its summary) kept no object, in the user's terms: no detections at all, or
  detections that mining rejected (its most common outcomes). calibration: the calibration
  stage's summary when the job ran with the camera it calibrated: when mining without a camera
  kept objects there, the camera is the likelier cause than the footage."""
  footage = config.video or config.frames
  frames = summary["read"]["frames"]
  if summary["detections"] == 0 and config.detections:
    return (f"config.detections: {config.detections} holds no detection for the {frames} frames of {footage}: "
            "nothing to mine (an empty results file, or every score below the detector's threshold)")
  if summary["detections"] == 0:
    return (f"{footage}: no moving objects: the built-in detector found nothing that differs from the "
            f"background in {frames} frames (a static scene, or a video too short to learn the background)")
  outcomes = sorted(summary["outcomes"].items(), key=lambda kv: -kv[1])
  reasons = ", ".join(f"{name} {count}" for name, count in outcomes[:3])
  kept_without = ((calibration or {}).get("mine") or {}).get("mined", 0)
  if kept_without and not config.detections:
    # OpenCV's vtest.avi (a steep view of a crowd): the calibration put the camera 79 m up, the
    # detector's metric rules then classed people as cars and cut them up, and the classifier
    # rejected every piece.
    u = (calibration.get("uncertainty") or {})
    est = u.get("estimate", {})
    camera = (f"focal length {est['focal_px']:.0f} px, height {est['height_m']:.1f} m, tilt "
              f"{math.degrees(est['pitch_rad']):.1f}°; " if est else "")
    moved = camera_moved(summary["read"].get("shake"))
    return (f"{footage}: with the calibrated camera mining kept none of the {summary['detections']} detections "
            f"({reasons}), where without a camera it kept {kept_without}: the calibration is the likely cause "
            f"({camera}{len(u.get('flags', []))} flags in camera.json); check calibration.png, or give a "
            "camera.json (--config.camera)" + (f"; and {moved}" if moved else ""))
  return (f"{footage}: no whole, unoccluded object to use: mining kept none of the {summary['detections']} "
          f"detections in {summary['tracks']} track{'' if summary['tracks'] == 1 else 's'} ({reasons}); give a "
          "longer or busier video"
          + (", or better detections" if config.detections else ""))


def mine_stage(config: ml_collections.ConfigDict, camera: str, workdir: pathlib.Path,
               calibration: dict[str, Any] | None = None) -> dict[str, Any]:
  """The mine job (or its finished result) in `workdir` with `camera` ('' for none); its summary.
  FromVideoError when it kept no object: nothing downstream could use the bank. calibration: the
  calibration stage's summary when `camera` is the one it made (`nothing_mined_message`)."""
  from walt3d_jax.timelapse import mine

  summary = mine.run(mine_config(config, camera), workdir)
  if summary["mined"] == 0:
    raise FromVideoError(nothing_mined_message(summary, config, calibration))
  return summary


# Mean gradient magnitude (grey levels per pixel, Sobel / 8 on the channel mean) below which a
# background shows no ground. Measured on mined backgrounds: a uniform sky 0.02; simulated streets
# 6.8 and 7.4 (320x180); a coarse synthetic ground texture 7.0 and 26 (160x96, 96x64). Those were
# taken on the luma grey; the channel mean reads about 2 % lower (5.43 → 5.30 on a 640x360 street).
MIN_GROUND_TEXTURE = 1.0


def ground_texture(background: np.ndarray, horizon_row: float | None = None) -> float:
  """Mean gradient magnitude (grey levels per pixel) of a background (H, W, 3) uint8 RGB, over
  the rows below `horizon_row` (pixels; None: all rows); 0 when no row lies below it."""
  # The detector's edge strength (Sobel 3×3 on the channel mean), / 8 for grey levels per pixel.
  edges = detect_lib.edge_strength(np.asarray(background)) / 8
  first = 0 if horizon_row is None else int(np.clip(np.ceil(horizon_row + 1), 0, edges.shape[0]))
  below = edges[first:]
  return float(below.mean()) if below.size else 0.0


def check_ground_visible(background: np.ndarray, source: pathlib.Path, horizon_row: float | None = None) -> None:
  """FromVideoError when the background (H, W, 3) shows no ground: featureless over all of it, or
  (with a calibrated `horizon_row`, pixels) below the horizon: a camera pointed at the sky, fog,
  a covered lens. People or cars "calibrated" there give a camera of nothing."""
  texture = ground_texture(background, horizon_row)
  if texture >= MIN_GROUND_TEXTURE:
    return
  where = "" if horizon_row is None else f" below the calibrated horizon (row {horizon_row:.0f} of {background.shape[0]})"
  raise FromVideoError(
      f"{source}: no ground visible: the background{where} is featureless (texture {texture:.2f} < "
      f"{MIN_GROUND_TEXTURE} grey levels per pixel), e.g. a camera pointed at the sky; point the camera "
      "at the ground, or give config.camera")


def observations(bank_path: pathlib.Path) -> calibrate_lib.Observations:
  """The calibration's observations: every mined (tracked, unoccluded) row of a bank."""
  with bank_lib.ObjectBank.open(bank_path) as bank:
    if len(bank) == 0:
      raise calibrate_lib.CalibrationError(
          f"{bank_path}: mining kept no tracked, unoccluded object: nothing moves enough to calibrate from "
          "(give a longer video, or a camera.json)")
    rows = bank.read(slice(None), ("frame_index", "time", "track_id", "category", "box", "keypoints"))
    size = bank.image_size
  keypoints = rows["keypoints"] if np.any(rows["keypoints"][..., 2] > 0) else None
  return calibrate_lib.Observations(rows["track_id"].astype(np.int64), rows["frame_index"].astype(np.int64),
                                    rows["time"].astype(np.float64), rows["category"].astype(np.int64),
                                    rows["box"].astype(np.float64), keypoints, tuple(size))


def background_image(bank_path: pathlib.Path) -> np.ndarray:
  """(H, W, 3) uint8 RGB: the bank's first stored background (median) image."""
  with bank_lib.ObjectBank.open(bank_path) as bank:
    names = bank.background_names()
    if not names:
      raise FromVideoError(f"{bank_path}: the bank holds no background image")
    return bank.background(names[0])


def calibrate_stage(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> tuple[pathlib.Path, dict]:
  """Mines without a camera, calibrates from the mined tracks; (camera.json, summary). The
  summary's `mine` is the mine job's summary."""
  camera_path = workdir / "camera.json"
  mine_dir = workdir / "calibration" / "mine"
  mined = mine_stage(config, "", mine_dir)
  bank = mine_dir / "bank.h5"
  if camera_path.is_file():  # calibrated by an earlier run of this command
    return camera_path, {"camera": str(camera_path), "uncertainty": calibrate_lib.load_uncertainty(camera_path),
                         "resumed": True, "mine": mined}
  source = pathlib.Path(config.video or config.frames)
  background = background_image(bank)
  check_ground_visible(background, source)  # the clearer reason, before the calibration's own refusals
  obs = observations(bank)
  lines = prior = lines_summary = None
  if config.get("scene_lines", True):
    try:
      lines = vanishing.scene_lines(background)
      prior, lines_summary = lines.prior(), lines.summary()
    except calibrate_lib.CalibrationError as e:  # no usable lines: the tracks calibrate alone
      lines, lines_summary = None, {"refused": str(e)}
      print(f"from_video: {e}; calibrating from the tracks alone")
  result = calibrate_lib.calibrate(obs, calibrate_lib.CalibrationConfig(**config.calibration.to_dict()),
                                   seed=config.seed, prior=prior)
  drawn = {} if lines is None else {"segments": lines.segments, "family": lines.family}
  calibration_report.write_calibration_report(background, result, workdir / "calibration.png", **drawn)
  check_ground_visible(background, source, result.horizon_row)
  tmp = workdir / "camera.tmp.json"
  calibrate_lib.save_calibration(result, tmp)
  tmp.rename(camera_path)  # camera.json exists only once it is whole
  return camera_path, {"camera": str(camera_path), "uncertainty": result.uncertainty(), "resumed": False,
                       "scene_lines": lines_summary, "mine": mined}


def draw_ground_grid(image: np.ndarray, K: np.ndarray, plane: np.ndarray, step_m: float = 2.0,
                     extent_m: float = 40.0) -> np.ndarray:
  """A copy of `image` (H, W, 3) uint8 RGB with a metric grid of `step_m` squares on the ground
  plane [n, d] (camera frame, metres) seen through K (3, 3), out to `extent_m`."""
  from walt3d_jax.geometry import plane as plane_lib

  R, t = (np.asarray(a, np.float64) for a in plane_lib.ground_frame(np.asarray(plane[:3], np.float32),
                                                                      np.asarray(plane[3], np.float32)))
  out = np.ascontiguousarray(image.copy())
  h, w = out.shape[:2]
  ticks = np.arange(-extent_m, extent_m + 1e-6, step_m)
  s = np.linspace(-extent_m, extent_m, 200)
  lines = [np.stack([np.full_like(s, a), s, 0 * s], 1) for a in ticks]
  lines += [np.stack([s, np.full_like(s, a), 0 * s], 1) for a in ticks]
  for ground in lines:
    cam = ground @ R.T + t
    front = cam[:, 2] > 0.5
    uv = (cam @ np.asarray(K, np.float64).T)[:, :2] / np.where(front, cam[:, 2], 1.0)[:, None]
    for a, b, fa, fb in zip(uv[:-1], uv[1:], front[:-1], front[1:]):
      if fa and fb and np.all(np.abs(np.concatenate([a, b])) < 4 * max(w, h)):
        cv2.line(out, tuple(int(round(v)) for v in a), tuple(int(round(v)) for v in b), (80, 255, 80), 1, cv2.LINE_AA)
  return out


def ground_picture(clipart_summary: dict, path: pathlib.Path, images: int = 2) -> None:
  """The first composites of the built test split with their camera's metric ground grid and each
  object's ground point (the origin of its fitted pose) marked: objects that stand on the ground
  have their point on the grid, under their feet or wheels."""
  from walt3d_jax.data import pipeline
  from walt3d_jax.viz import overlays

  build = clipart_summary["builds"]["array_record"]
  source = pipeline.data_source(clipart_summary["dataset"], build["data_dir"], "test")
  tiles = []
  for i in range(min(images, len(source))):
    record = source[i]
    image = np.asarray(record["image"], np.uint8)
    scale = max(1, 640 // image.shape[1])  # drawn at ≥ 640 pixels wide, so the grid reads
    image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    S = np.array([[scale, 0, 0.5 * scale - 0.5], [0, scale, 0.5 * scale - 0.5], [0, 0, 1]])  # centres at integers
    K = S @ np.asarray(record["camera"]["K"], np.float64)
    tile = draw_ground_grid(image, K, np.asarray(record["camera"]["plane"]))
    for t in np.asarray(record["objects"]["translation"], np.float64).reshape(-1, 3):
      if t[2] > 0:
        u, v, z = K @ t
        cv2.drawMarker(tile, (int(round(u / z)), int(round(v / z))), (255, 40, 40), cv2.MARKER_TILTED_CROSS, 8, 2)
    tiles.append(overlays.label(tile, "ground grid 2 m; x: each object's ground point"))
  if tiles:
    cv2.imwrite(str(path), cv2.cvtColor(overlays.grid(tiles, columns=1), cv2.COLOR_RGB2BGR))


def simulated_video(simulate_config: ml_collections.ConfigDict, directory: pathlib.Path) -> pathlib.Path:
  """A simulated sequence's video.mp4 (made once): only the video is used, as a user's footage
  would come, with no camera.json and no detections."""
  from walt3d_jax.sim import simulate

  preset = simulate_config.presets[0]
  files = simulate.SequenceFiles(directory / preset)
  if not files.video.is_file():
    c = ml_collections.ConfigDict(simulate_config.to_dict())
    c.write_video = True
    tmp = directory / f"{preset}.tmp"
    simulate.simulate_sequence(c, preset, 0, tmp)
    tmp.rename(directory / preset)
  return files.video


def run(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> dict[str, Any]:
  """The `from_video` job (module docstring); returns the summary it writes."""
  from walt3d_jax.data import build
  from walt3d_jax.fit import fit_job

  tic = time.perf_counter()
  workdir = pathlib.Path(workdir)
  if not config.video and not config.frames and config.get("simulate"):
    config = ml_collections.ConfigDict(config.to_dict())
    config.video = str(simulated_video(config.simulate, workdir / "source"))
  check_inputs(config)
  summary: dict[str, Any] = {"video": config.video or config.frames}
  if config.camera:
    camera = pathlib.Path(config.camera)
    summary["calibration"] = {"camera": str(camera), "given": True}
  else:
    camera, summary["calibration"] = calibrate_stage(config, workdir)
  # The fit job mines into fit/mine itself; mined here first, so that a bank with nothing in it
  # ends with the reason, not in the fit or the clip-art builder.
  mined = mine_stage(config, str(camera), workdir / "fit" / "mine",
                     None if config.camera else summary["calibration"])
  summary["mine"] = {k: mined[k] for k in ("detections", "tracks", "mined")} | {
      "frames": mined["read"]["frames"], "image_size": mined["read"]["image_size"],
      "lost_share": mined["read"].get("lost_share", 0.0)}
  summary["flags"] = run_flags(summary["calibration"], mined)
  fit_config = ml_collections.ConfigDict(config.fit.to_dict())
  fit_config.mine = mine_config(config, str(camera))
  fit_config.progress = config.progress
  summary["fit"] = fit_job.run(fit_config, workdir / "fit")
  bank = workdir / "fit" / "mine" / "bank.h5"
  clip_config = ml_collections.ConfigDict(config.clipart.to_dict())
  clip_config.bank = str(bank)
  clip_config.progress = config.progress
  clip = build.run(clip_config, workdir / "clipart")
  summary["clipart"] = {k: clip[k] for k in ("dataset", "examples", "pool")}
  ground_picture(clip, workdir / "clipart" / "ground.png")
  summary["seconds"] = round(time.perf_counter() - tic, 1)
  coco.write_json(summary, workdir / "summary.json")
  print_headlines(summary, workdir)
  return summary


# Frames further from the first than a shake (stabilize.StabilizeConfig.max_shift_px), as a share
# of those read, from which the camera is flagged as moving. A 640x360 telephoto video of a
# bridge drifted 0.1-1.5 px every 4 frames and up to 120 px in all: 207 of 231 frames.
MOVED_CAMERA_SHARE = 0.1


def run_flags(calibration: dict[str, Any], mined: dict[str, Any]) -> list[str]:
  """What ran but is weak, for summary.json and the console: the calibration's flags and the
  mine job's (`mined`, its summary) decode-loss warning (the calibration's mining read the same
  frames and warned the same), a camera that moved rather than shook (its `read.shake`), and its
  class-mix warnings (a category the footage shows but the bank hardly holds)."""
  flags = [f"calibration: {f}" for f in (calibration.get("uncertainty") or {}).get("flags", [])]
  flags += [mined["read"]["warning"]] if mined["read"].get("warning") else []
  moved = camera_moved(mined["read"].get("shake"))
  flags += [moved] if moved else []
  return flags + [f"mine: {line}" for line in mined.get("class_mix_warnings", [])]


def camera_moved(shake: dict[str, int] | None) -> str:
  """A line saying that the camera moved rather than shook (a mine summary's `read.shake`: at
  least MOVED_CAMERA_SHARE of its frames further from the first than a shake), else ""."""
  shake = shake or {}
  if not (shake.get("frames") and shake.get("too_large", 0) >= MOVED_CAMERA_SHARE * shake["frames"]):
    return ""
  return (f"the camera moved: {shake['too_large']} of {shake['frames']} frames lie beyond a shake from the first "
          "(left as they are); a stationary camera is assumed")


def print_headlines(summary: dict[str, Any], workdir: pathlib.Path) -> None:
  cal = summary["calibration"]
  print(f"\nfrom_video finished in {summary['seconds']:.0f} s. Everything is under {workdir}/:")
  if cal.get("given"):
    print(f"  camera        given: {cal['camera']}")
  else:
    u = cal.get("uncertainty") or {}
    est, std = u.get("estimate", {}), u.get("std", {})
    source = u.get("source", "")
    tracks = source.removesuffix("+scene lines")
    lines = " and the scene lines" if tracks != source else ""
    what = (f"the scene lines, scaled by {u.get('num_tracks', '?')} people tracks" if tracks == "people scale"
            else f"{u.get('num_tracks', '?')} {tracks} tracks{lines}")
    print(f"  calibration   from {what}: focal "
          f"{est.get('focal_px', float('nan')):.0f} ± {std.get('focal_px', float('nan')):.0f} px, height "
          f"{est.get('height_m', float('nan')):.2f} ± {std.get('height_m', float('nan')):.2f} m, horizon row "
          f"{est.get('horizon_row', float('nan')):.1f}")  # its flags: the `flag` lines below
    for name in ("camera.json", "calibration.png"):
      print(f"      {name:<13} {workdir / name}")
  for flag in summary.get("flags", []):
    print(f"  flag          {flag}")
  fit = summary["fit"]
  width, height = summary["mine"]["image_size"]
  print(f"  mine + fit    {summary['mine']['frames']} frames read at {width}x{height}; {fit['tracks']} tracks, "
        f"{fit['rows']} rows; fitted {fit['fitted']}")
  print(f"      {'fit report':<13} {workdir / 'fit' / 'report.png'}")
  clip = summary["clipart"]
  print(f"  clip-art      {clip['dataset']}: {clip['examples']} from {clip['pool']['objects']} objects")
  for name in ("report.png", "ground.png", "summary.json"):
    print(f"      {name:<13} {workdir / 'clipart' / name}")
