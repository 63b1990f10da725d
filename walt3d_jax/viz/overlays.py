"""Drawing ground truth and predictions over frames: masks, boxes, keypoints, 3D wireframes.

Images are uint8 RGB (H, W, 3); every function returns a new image.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from walt3d_jax.formats.coco import KeypointState

# Keypoint marker colour (RGB) by visibility state.
STATE_COLORS = {
    KeypointState.VISIBLE: (40, 230, 40),
    KeypointState.SELF_OCCLUDED: (250, 200, 30),
    KeypointState.OCCLUDED_BY_OTHERS: (240, 40, 40),
    KeypointState.OUTSIDE_IMAGE: (160, 160, 160),
}


def instance_color(track_id: int) -> tuple[int, int, int]:
  """A bright colour that stays the same for a track across frames."""
  hue = (track_id * 47) % 180
  hsv = np.uint8([[[hue, 200, 255]]])
  return tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0])


def draw_mask(image: np.ndarray, mask: np.ndarray, color, alpha: float = 0.45) -> np.ndarray:
  """Tints `mask` (H, W) bool with `color` over `image`."""
  out = image.astype(np.float32)
  out[mask] = (1 - alpha) * out[mask] + alpha * np.asarray(color, np.float32)
  return out.astype(np.uint8)


def draw_outline(image: np.ndarray, mask: np.ndarray, color, thickness: int = 1) -> np.ndarray:
  """Draws the border of `mask` (H, W) bool, e.g. an amodal mask around its visible part."""
  contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
  out = image.copy()
  cv2.drawContours(out, contours, -1, color, thickness, lineType=cv2.LINE_AA)
  return out


def draw_box(image: np.ndarray, box_xywh: Sequence[float], color, thickness: int = 1) -> np.ndarray:
  out = image.copy()
  x, y, w, h = (int(round(v)) for v in box_xywh)
  cv2.rectangle(out, (x, y), (x + w - 1, y + h - 1), color, thickness)
  return out


def draw_keypoints(
    image: np.ndarray, uv: np.ndarray, states: np.ndarray, edges: Sequence[tuple[int, int]] = (),
    edge_color=(255, 255, 255), radius: int = 2,
) -> np.ndarray:
  """Keypoints (P, 2) pixels coloured by state (P,), with skeleton `edges` (0-based pairs)."""
  out = image.copy()
  pts = np.rint(uv).astype(int)
  for a, b in edges:
    if states[a] != KeypointState.OUTSIDE_IMAGE and states[b] != KeypointState.OUTSIDE_IMAGE:
      cv2.line(out, tuple(pts[a]), tuple(pts[b]), edge_color, 1, lineType=cv2.LINE_AA)
  for p, s in zip(pts, states):
    if s != KeypointState.OUTSIDE_IMAGE:
      cv2.circle(out, tuple(p), radius, STATE_COLORS[KeypointState(s)], -1, lineType=cv2.LINE_AA)
  return out


def box_corners(dimensions: Sequence[float]) -> np.ndarray:
  """(8, 3) corners, object frame, of the box length × width × height standing on z = 0."""
  length, width, height = dimensions
  x = np.array([1, 1, -1, -1, 1, 1, -1, -1]) * length / 2
  y = np.array([1, -1, -1, 1, 1, -1, -1, 1]) * width / 2
  z = np.array([0, 0, 0, 0, 1, 1, 1, 1]) * height
  return np.stack([x, y, z], axis=-1)


BOX_EDGES = ((0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4), (0, 4), (1, 5), (2, 6), (3, 7))


def draw_wireframe(
    image: np.ndarray, points_cam: np.ndarray, edges: Sequence[tuple[int, int]], K: np.ndarray,
    color, thickness: int = 1,
) -> np.ndarray:
  """Projects camera-frame points (N, 3) with K and draws `edges`; edges behind the camera skip."""
  out = image.copy()
  front = points_cam[:, 2] > 1e-3
  uvw = points_cam @ np.asarray(K).T
  uv = uvw[:, :2] / np.where(front, uvw[:, 2], 1.0)[:, None]
  for a, b in edges:
    if front[a] and front[b]:
      pa, pb = (tuple(int(round(c)) for c in uv[i]) for i in (a, b))
      cv2.line(out, pa, pb, color, thickness, lineType=cv2.LINE_AA)
  return out


# Pixels the darkened band of a `label` reaches past its text on each side.
_BAND_PAD = 2


def label(image: np.ndarray, text: str, origin=(4, 14), scale: float = 0.45) -> np.ndarray:
  """White text (origin: its baseline's left end, pixels) on a darkened band, readable on any
  background: a dark outline alone smears small text on a bright one (a sunlit concourse)."""
  out = image.copy()
  (w, h), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
  x, y = origin
  y0, y1 = max(0, y - h - _BAND_PAD), min(out.shape[0], y + baseline + 1)
  x0, x1 = max(0, x - _BAND_PAD), min(out.shape[1], x + w + _BAND_PAD)
  out[y0:y1, x0:x1] = (out[y0:y1, x0:x1] * 0.35).astype(out.dtype)
  cv2.putText(out, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
  return out


def wrap(text: str, width: int, scale: float = 0.45, max_lines: int | None = None) -> list[str]:
  """`text` broken at spaces into lines that `label` draws at most `width` pixels wide (a word
  wider alone gets a line of its own); past `max_lines`, the last line ends in "…"."""
  fits = lambda line: cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] + 2 * _BAND_PAD <= width
  lines: list[str] = []
  for word in text.split():
    if lines and fits(f"{lines[-1]} {word}"):
      lines[-1] = f"{lines[-1]} {word}"
    else:
      lines.append(word)
  if max_lines is not None and len(lines) > max_lines:
    lines = lines[:max_lines]
    while lines[-1] and not fits(f"{lines[-1]} …"):
      lines[-1] = lines[-1].rsplit(" ", 1)[0] if " " in lines[-1] else ""
    lines[-1] = f"{lines[-1]} …".strip()
  return lines


def grid(tiles: Sequence[np.ndarray], columns: int, pad: int = 4) -> np.ndarray:
  """Tiles (all the same size, uint8 RGB) laid out in rows of `columns` on a dark canvas."""
  h, w = tiles[0].shape[:2]
  rows = -(-len(tiles) // columns)
  canvas = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad, 3), 24, np.uint8)
  for i, tile in enumerate(tiles):
    r, c = divmod(i, columns)
    canvas[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + c * (w + pad) : pad + c * (w + pad) + w] = tile
  return canvas
