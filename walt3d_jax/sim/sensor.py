"""What the camera does to the light: lens blur, vignetting, shot and read noise, 8-bit output."""

from __future__ import annotations

import functools

import cv2
import numpy as np

# Noise model sigma(x) = level * sqrt(SHOT * x + READ**2), x in [0, 1] display units. At level 1
# (a daytime traffic camera) mid-grey gets about 3 of 255 levels of noise; the lighting's
# auto-exposure gain raises the level at night.
SHOT = 2.5e-4
READ = 4e-3
# Relative brightness lost in the image corners (a cos^4-like falloff of a wide lens).
VIGNETTING = 0.22
# Gaussian sigma in pixels: optics and demosaicing soften the image slightly.
BLUR_SIGMA = 0.6


@functools.lru_cache(maxsize=8)
@functools.lru_cache(maxsize=8)
def vignetting_map(height: int, width: int) -> np.ndarray:
  """(H, W, 1) float32 gain: 1 at the centre, 1 - VIGNETTING in the corners."""
  v, u = np.mgrid[0:height, 0:width].astype(np.float32)
  r2 = ((u - (width - 1) / 2) ** 2 + (v - (height - 1) / 2) ** 2) / (
      ((width - 1) / 2) ** 2 + ((height - 1) / 2) ** 2)
  gain = 1.0 - VIGNETTING * r2 ** 1.5
  gain.flags.writeable = False
  return gain[..., None]


def add_sensor_noise(image: np.ndarray, rng: np.random.Generator, level: float) -> np.ndarray:
  """Blur, vignette, add shot + read noise and quantise.

  image: (H, W, 3) float, display units (0 black, 1 white), values outside are clipped.
  level: noise scale, >= 0 (0 gives a noise-free image; 1 daylight; 3–4 night gain).
  Returns (H, W, 3) uint8 RGB.
  """
  if image.ndim != 3 or image.shape[2] != 3:
    raise ValueError(f"image must be (H, W, 3), got shape {image.shape}")
  if not np.isfinite(level) or level < 0:
    raise ValueError(f"level must be finite and >= 0, got {level}")
  x = cv2.GaussianBlur(np.asarray(image, np.float32), (0, 0), BLUR_SIGMA)
  x *= vignetting_map(*x.shape[:2])
  # In place, in float32, the same operations as sigma = level * sqrt(SHOT * max(x, 0) +
  # READ^2) and x * 255 + 0.5 written out: each full-image temporary costs ~0.5 ms.
  if level > 0:
    sigma = np.maximum(x, 0.0)
    sigma *= SHOT
    sigma += READ ** 2
    np.sqrt(sigma, out=sigma)
    sigma *= level
    noise = rng.standard_normal(x.shape, dtype=np.float32)
    noise *= sigma
    x += noise
  x *= 255.0
  x += 0.5
  np.clip(x, 0, 255, out=x)
  return x.astype(np.uint8)
