"""Report text: labels readable on any background, text wrapped to a width by OpenCV's own metrics."""

import cv2
import hypothesis
import numpy as np
from hypothesis import strategies as st

from walt3d_jax.viz import overlays

_words = st.lists(st.text(alphabet="abcdefghij_+0123456789", min_size=1, max_size=12), min_size=1, max_size=40)


def _width(line: str, scale: float) -> int:
  return cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0]


@hypothesis.given(words=_words, width=st.integers(60, 900))
@hypothesis.settings(max_examples=60, deadline=None)
def test_wrap_keeps_every_word_in_order_within_the_width(words, width):
  lines = overlays.wrap(" ".join(words), width, 0.42)
  assert " ".join(lines).split() == words
  # A line is too wide only when it holds one word that alone is.
  assert all(_width(line, 0.42) + 4 <= width or " " not in line for line in lines)
  # Greedy: the next line's first word would not have fitted on the line before.
  assert all(_width(f"{a} {b.split()[0]}", 0.42) + 4 > width for a, b in zip(lines, lines[1:]))


def test_wrap_cuts_at_max_lines_with_an_ellipsis():
  text = ", ".join(f"outcome_{k} {k}" for k in range(60))
  full = overlays.wrap(text, 400, 0.42)
  cut = overlays.wrap(text, 400, 0.42, max_lines=3)
  assert len(full) > 3 and len(cut) == 3
  assert cut[:2] == full[:2] and cut[2].endswith("…") and _width(cut[2], 0.42) + 4 <= 400
  assert overlays.wrap(text, 400, 0.42, max_lines=len(full)) == full


def test_label_darkens_a_band_and_writes_white():
  bright = np.full((30, 200, 3), 240, np.uint8)
  out = overlays.label(bright, "static occluders", origin=(4, 18))
  assert out.max() == 255 and (out < 100).any() and (bright == 240).all()
