"""Frame readers for stationary-camera footage: a video file, an image folder, a simulated sequence.

Every reader is a streaming iterator of `Frame`s (one decoded image in memory at a time) with a
`report` (`ReadReport`) that counts what was read, what sampling dropped and which frames were
unreadable and why. An unreadable frame (zero-byte or truncated file, decode failure, a size that
differs from the first frame's) is skipped and recorded, never fatal; only a source that cannot
be opened at all raises `FrameSourceError`.

Sampling (`Sampling`) is decided from a frame's index and time before it is decoded:
  1. `windows`: keep times t in any [t0, t1) (seconds, in the reader's time base);
  2. `every`: keep reader index % every == 0;
  3. bursts, on the frames that passed 1 and 2 — either
     `burst_gap`: the footage already comes in bursts (WALT's raw time-lapse); a time step larger
       than `burst_gap` seconds starts a new burst; keep the first `burst_length` frames of each
       (all when None), or
     `burst_period`: continuous footage cut into bursts: a burst of `burst_length` consecutive
       frames starts at the first frame at least `burst_period` seconds after the previous
       burst's start.

Resuming: every reader keeps a `ReadPosition` (entries or grabs consumed, the report, the
sampler, the frame size so far); `position()` after a frame was yielded is a copy of it, and
`iterate(start=position)`, in this process or another, continues the same pass exactly: the same
frames, the same report. Image readers skip the consumed entries without reading them; a video
grabs its consumed frames again without decoding their pixels (no seeking, see `VideoFrames`).

Time bases: video — container timestamps in seconds from the start (CAP_PROP_POS_MSEC, or
index / fps when the backend gives none); image folder — the timestamp parsed from the file name
(seconds since the Unix epoch, UTC), else index / fps; simulated sequence — `timestamp` of
ground_truth.json (seconds since the start of the capture).
"""

from __future__ import annotations

import calendar
import copy
import dataclasses
import json
import math
import os
import pathlib
import re
from typing import Iterator

import cv2
import numpy as np

from walt3d_jax.errors import UserError
from walt3d_jax.timelapse.types import Frame

# FFmpeg's own decoder messages ("[mpeg4 @ 0x…] ac-tex damaged at 5 7", lines per damaged frame)
# stay off the console: the reader reports every skipped frame itself. OpenCV reads this when its
# FFmpeg backend first opens a file; a value set by the user wins.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
# Reasons are kept for this many skipped frames; beyond it only the count grows (bounded memory).
MAX_LISTED_SKIPS = 10_000

# Calendar timestamps in a file name, e.g. 20240601T120000.123, 2024-06-01_12-00-00,
# 2024-06-01T12:00:00,5, 20240601120000 (UTC).
_CALENDAR = re.compile(
    r"(?<!\d)(\d{4})-?(\d{2})-?(\d{2})[T_ -]?(\d{2})[-:]?(\d{2})[-:]?(\d{2})(?:[.,](\d{1,9}))?(?!\d)"
)
# Unix time in a file name: 10 digits of seconds (optionally .fraction) or 13 digits of ms.
_UNIX = re.compile(r"(?<![\d.])(\d{10}(?:\.\d{1,9})?|\d{13})(?![\d.])")


class FrameSourceError(UserError):
  """A frame source that cannot be read at all (missing, not a video, no images)."""


@dataclasses.dataclass
class ReadReport:
  """What a reader did: frames yielded, dropped by sampling, and skipped as unreadable.

  skipped: (name, reason) of the first MAX_LISTED_SKIPS unreadable frames.
  notes: how the source was read where it differed from what it announced (a video whose
    container states another frame rate than its timestamps keep).
  """

  source: str
  yielded: int = 0
  sampled_out: int = 0
  num_skipped: int = 0
  skipped: list[tuple[str, str]] = dataclasses.field(default_factory=list)
  notes: list[str] = dataclasses.field(default_factory=list)

  def skip(self, name: str, reason: str) -> None:
    self.num_skipped += 1
    if len(self.skipped) < MAX_LISTED_SKIPS:
      self.skipped.append((name, reason))

  def lost_share(self) -> float:
    """Unreadable frames (decode failures, frames a cut-short video never delivered) as a share
    of the frames offered after sampling, in [0, 1]; 0 when nothing was offered."""
    offered = self.yielded + self.num_skipped
    return self.num_skipped / offered if offered else 0.0

  def summary(self) -> str:
    """One line for logs, plus a line per listed skip."""
    lines = [f"{self.source}: {self.yielded} frames read, {self.sampled_out} dropped by sampling, "
             f"{self.num_skipped} unreadable"]
    lines += [f"  {note}" for note in self.notes]
    lines += [f"  skipped {name}: {reason}" for name, reason in self.skipped]
    return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class Sampling:
  """Which frames to keep (see the module docstring for the order of the rules).

  every: keep reader index % every == 0.
  windows: ((t0, t1), ...) seconds; keep t in any [t0, t1); empty keeps all.
  burst_gap: seconds; split existing bursts at larger time steps.
  burst_period: seconds between burst starts when cutting bursts out of continuous footage.
  burst_length: frames kept per burst (None: all, only with burst_gap).
  """

  every: int = 1
  windows: tuple[tuple[float, float], ...] = ()
  burst_gap: float | None = None
  burst_period: float | None = None
  burst_length: int | None = None

  def __post_init__(self):
    if int(self.every) < 1:
      raise UserError(f"Sampling.every must be >= 1, got {self.every}")
    for w in self.windows:
      if len(w) != 2 or not (math.isfinite(w[0]) and math.isfinite(w[1])) or not w[0] < w[1]:
        raise UserError(f"Sampling.windows: each window must be finite (t0, t1) with t0 < t1, got {w}")
    if self.burst_gap is not None and self.burst_period is not None:
      raise UserError("Sampling: give burst_gap (existing bursts) or burst_period (cut bursts), not both")
    if self.burst_gap is not None and not self.burst_gap > 0:
      raise UserError(f"Sampling.burst_gap must be > 0 seconds, got {self.burst_gap}")
    if self.burst_period is not None and (not self.burst_period > 0 or self.burst_length is None):
      raise UserError("Sampling.burst_period needs a positive period and a burst_length")
    if self.burst_length is not None:
      if self.burst_gap is None and self.burst_period is None:
        raise UserError("Sampling.burst_length needs burst_gap or burst_period")
      if int(self.burst_length) < 1:
        raise UserError(f"Sampling.burst_length must be >= 1, got {self.burst_length}")


class FrameSampler:
  """Stateful decision `keep(index, time)` for frames offered in stream order."""

  def __init__(self, sampling: Sampling):
    self.sampling = sampling
    self._last_time: float | None = None  # last frame that passed windows and every
    self._burst_start: float | None = None
    self._in_burst = 0  # frames kept in the current burst

  def keep(self, index: int, time: float) -> bool:
    s = self.sampling
    if s.windows and not any(t0 <= time < t1 for t0, t1 in s.windows):
      return False
    if index % s.every:
      return False
    if s.burst_gap is not None:
      if self._last_time is None or time - self._last_time > s.burst_gap:
        self._in_burst = 0
      self._last_time = time
      self._in_burst += 1
      return s.burst_length is None or self._in_burst <= s.burst_length
    if s.burst_period is not None:
      if self._burst_start is None or time - self._burst_start >= s.burst_period:
        self._burst_start, self._in_burst = time, 0
      self._in_burst += 1
      return self._in_burst <= s.burst_length
    return True


# Timestamps of this many frames are read at a video's start to check its stated frame rate.
CLOCK_PROBE_FRAMES = 16
# The stated rate is kept unless the timestamps' median step differs from it by more than this.
CLOCK_TOLERANCE = 0.1
# A first timestamp at most this many frames in is the stream's start delay (H.264 reorders
# frames: OpenCV's vtest.avi starts 1 frame in, a 10 fps campus video 2), not frames lost.
MAX_START_DELAY_FRAMES = 3.5


@dataclasses.dataclass(frozen=True)
class StreamClock:
  """How a video's timestamps map to frame indices: index = round((msec - origin_ms) * fps / 1000).

  fps: frames per second (0: the stream gives none; indices then count the frames delivered).
  origin_ms: the first frame's timestamp (H.264 with reordered frames starts a frame or two late).
  count: frames the stream should deliver at that rate (None: not announced).
  """

  fps: float
  origin_ms: float = 0.
  count: int | None = None


def stream_clock(stated_fps: float, stated_count: int, first_ms: list[float],
                 fps: float | None = None) -> tuple[StreamClock, str]:
  """The clock of a video from what its container states and the timestamps (ms) of its first
  frames; and a note ("" when the stated rate holds) saying why another rate was used.

  A container can state a rate its stream does not keep (an AVI saying 50 fps whose H.264 frames
  are 40 ms apart): counted by the stated rate every other frame would look lost. The median step
  between the first timestamps decides when it differs from the stated one by more than
  CLOCK_TOLERANCE; the frame count is scaled alike. fps: the user's rate, which always wins.
  """
  steps = [b - a for a, b in zip(first_ms, first_ms[1:]) if b > a]
  step = float(np.median(steps)) if len(steps) >= 3 else None
  rate, note = (fps or stated_fps or 0.), ""
  count = int(stated_count) if stated_count > 0 else None
  if not fps and step is not None and (stated_fps <= 0 or abs(step * stated_fps / 1000. - 1.) > CLOCK_TOLERANCE):
    rate = 1000. / step
    if stated_fps > 0:
      note = (f"the container states {stated_fps:g} fps but its frames' timestamps are {step:g} ms apart: "
              f"read at {rate:g} fps")
      count = int(round(stated_count * rate / stated_fps)) if count else None
  frame_ms = step if step is not None else (1000. / rate if rate > 0 else 0.)
  origin = first_ms[0] if first_ms and 0. < first_ms[0] <= MAX_START_DELAY_FRAMES * frame_ms else 0.
  return StreamClock(rate, origin, count), note


@dataclasses.dataclass
class ReadPosition:
  """How far a reader's pass went, and the state that reading so far left (see module docstring).

  consumed: entries taken from the listing (image readers) or grabs made (video).
  size: (W, H) every later frame must have (the first readable frame's, or the expected size).
  next_index: video only: the frame index the next grab should bring.
  clock: video only: how its timestamps map to indices (`StreamClock`), fixed at the pass's start.
  """

  report: ReadReport
  sampler: FrameSampler
  consumed: int = 0
  size: tuple[int, int] | None = None
  next_index: int = 0
  clock: StreamClock | None = None


def sample_frames(frames: Iterator[Frame], sampling: Sampling) -> Iterator[Frame]:
  """Applies `sampling` to an already decoded stream of frames."""
  sampler = FrameSampler(sampling)
  return (f for f in frames if sampler.keep(f.index, f.time))


def timestamp_from_name(name: str) -> float | None:
  """Seconds since the Unix epoch (UTC) from a file name, or None when it holds no timestamp.

  Accepted: calendar stamps YYYYMMDD[T_ -]HHMMSS[.frac] with optional '-' in the date and '-'/':'
  in the time (e.g. cam3_20240601T120000.123.jpg, 2024-06-01_12-00-00.jpg), or Unix time as 10
  digits of seconds with an optional fraction (1717243200.5.jpg) or 13 digits of milliseconds.
  A calendar stamp wins over a Unix number; an impossible date (month 13) counts as none.
  """
  stem = pathlib.Path(name).stem
  m = _CALENDAR.search(stem)
  if m:
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    if 1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 61:
      try:
        whole = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
      except (OverflowError, ValueError):
        return None
      fraction = float("0." + m.group(7)) if m.group(7) else 0.0
      return whole + fraction
  m = _UNIX.search(stem)
  if m:
    digits = m.group(1)
    return int(digits) / 1000.0 if "." not in digits and len(digits) == 13 else float(digits)
  return None


def _natural_key(name: str) -> list:
  # frame_2 before frame_10: digit runs compare as numbers.
  return [(0, int(part), part) if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name)]


def decode_image_file(path: pathlib.Path) -> tuple[np.ndarray | None, str]:
  """(H, W, 3) uint8 RGB image of `path`, or (None, reason) when it cannot be read in full."""
  try:
    data = path.read_bytes()
  except OSError as e:
    return None, f"cannot read file ({e.strerror or e})"
  if not data:
    return None, "empty file (0 bytes)"
  suffix = path.suffix.lower()
  if suffix in (".jpg", ".jpeg"):
    # libjpeg decodes a truncated JPEG with a warning and grey fill, so check the markers.
    if not data.startswith(b"\xff\xd8"):
      return None, "not a JPEG (no start-of-image marker)"
    if not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
      return None, "truncated JPEG (no end-of-image marker)"
  elif suffix == ".png" and b"IEND" not in data[-12:]:
    return None, "truncated PNG (no IEND chunk)"
  bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
  if bgr is None:
    return None, "decode failure"
  return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), ""


def _size_mismatch(image: np.ndarray, size: tuple[int, int] | None) -> str:
  if size is None or (image.shape[1], image.shape[0]) == size:
    return ""
  return f"size {image.shape[1]}x{image.shape[0]} differs from the expected {size[0]}x{size[1]}"


class _FileFrames:
  """Frames from a list of (index, time, name, path): sampling first, then decode and check size."""

  def __init__(self, source: str, entries: list[tuple[int, float, str, pathlib.Path]],
               sampling: Sampling, image_size: tuple[int, int] | None,
               listing_skips: tuple[tuple[str, str], ...] = ()):
    self._source = source
    self._entries = entries
    self._sampling = sampling
    self._image_size = image_size
    self._listing_skips = listing_skips
    self._pos = self._start_position()
    self.report = self._pos.report

  def __len__(self) -> int:
    """Frames listed (before sampling and skips)."""
    return len(self._entries)

  def expected(self) -> int:
    """Frames a pass will offer after sampling (before decode failures): a progress total."""
    sampler = FrameSampler(self._sampling)
    return sum(sampler.keep(index, time) for index, time, _, _ in self._entries)

  def _start_position(self) -> ReadPosition:
    report = ReadReport(self._source)
    for name, reason in self._listing_skips:
      report.skip(name, reason)
    return ReadPosition(report, FrameSampler(self._sampling), size=self._image_size)

  def position(self) -> ReadPosition:
    """A copy of the pass's position after the last frame yielded."""
    return copy.deepcopy(self._pos)

  def __iter__(self) -> Iterator[Frame]:
    return self.iterate()

  def iterate(self, start: ReadPosition | None = None) -> Iterator[Frame]:
    """One pass, from the beginning or from `start` (a `position()` of an earlier pass)."""
    pos = self._pos = copy.deepcopy(start) if start is not None else self._start_position()
    self.report = pos.report  # one report per pass
    for index, time, name, path in self._entries[pos.consumed:]:
      pos.consumed += 1
      if not pos.sampler.keep(index, time):
        pos.report.sampled_out += 1
        continue
      image, reason = decode_image_file(path)
      reason = reason or _size_mismatch(image, pos.size)
      if reason:
        pos.report.skip(name, reason)
        continue
      pos.size = pos.size or (image.shape[1], image.shape[0])  # the first readable frame sets the size
      pos.report.yielded += 1
      yield Frame(index, time, image, name)


class FolderFrames(_FileFrames):
  """Frames of an image folder (files with IMAGE_SUFFIXES, other files ignored).

  order: "name" — natural order of file names (frame_2 before frame_10); "timestamp" — by the
    time parsed from the name (`timestamp_from_name`, ties broken by name); a file with no
    timestamp is skipped and reported.
  time: the parsed timestamp when every listed file has one, else index / fps.
  index: position in that order (before sampling).
  image_size: (W, H) every frame must have; default: the first readable frame's.
  """

  def __init__(self, folder: str | pathlib.Path, sampling: Sampling = Sampling(), order: str = "name",
               fps: float = 1.0, image_size: tuple[int, int] | None = None):
    folder = pathlib.Path(folder)
    if order not in ("name", "timestamp"):
      raise UserError(f"FolderFrames.order must be 'name' or 'timestamp', got {order!r}")
    if not fps > 0:
      raise UserError(f"FolderFrames.fps must be > 0, got {fps}")
    if not folder.is_dir():
      raise FrameSourceError(f"{folder}: not a folder")
    names = [p.name for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    if not names:
      raise FrameSourceError(f"{folder}: no image files ({', '.join(IMAGE_SUFFIXES)})")
    stamps = {n: timestamp_from_name(n) for n in names}
    skips = ()
    if order == "timestamp":
      skips = tuple((n, "no timestamp in the file name") for n in sorted(names, key=_natural_key)
                    if stamps[n] is None)
      names = sorted((n for n in names if stamps[n] is not None), key=lambda n: (stamps[n], _natural_key(n)))
    else:
      names = sorted(names, key=_natural_key)
    use_stamps = bool(names) and all(stamps[n] is not None for n in names)
    entries = [(i, stamps[n] if use_stamps else i / fps, n, folder / n) for i, n in enumerate(names)]
    super().__init__(str(folder), entries, sampling, image_size, skips)


class SequenceFrames(_FileFrames):
  """Frames of a simulated sequence (docs/formats.md): frames/ listed in ground_truth.json.

  index = image id = frame index; time = the image's `timestamp` (seconds since capture start).
  """

  def __init__(self, root: str | pathlib.Path, sampling: Sampling = Sampling()):
    root = pathlib.Path(root)
    path = root / "ground_truth.json"
    try:
      with open(path) as f:
        images = json.load(f)["images"]
      listed = sorted((int(im["id"]), float(im["timestamp"]), str(im["file_name"])) for im in images)
      size = (int(images[0]["width"]), int(images[0]["height"])) if images else None
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
      raise FrameSourceError(f"{path}: cannot read the images list ({type(e).__name__}: {e})") from e
    entries = [(i, t, name, root / name) for i, t, name in listed]
    super().__init__(str(root), entries, sampling, size)


class VideoFrames:
  """Frames of a video file (cv2.VideoCapture), RGB.

  time: container timestamp in seconds (CAP_PROP_POS_MSEC) from the first frame's, or index /
  fps when the backend reports none. index: round(time * fps), so a frame the decoder drops
  leaves a gap that is reported as skipped (constant frame rate assumed, as stationary cameras
  record); fps is the container's unless its first frames' timestamps keep another
  (`stream_clock`: the reader's `report.notes` says so). Containers
  without per-frame timestamps (MJPG in AVI) make OpenCV count positions itself, so after a
  decode failure later indices may be early by the frames lost; the counts stay right. A failed
  grab is retried (no seeking: OpenCV's seeks land on wrong frames in damaged files); after
  `max_consecutive_failures` in a row the stream ends, and frames the container announced but
  never delivered are reported.
  """

  def __init__(self, path: str | pathlib.Path, sampling: Sampling = Sampling(),
               fps: float | None = None, max_consecutive_failures: int = 25):
    self.path = pathlib.Path(path)
    if not self.path.is_file():
      raise FrameSourceError(f"{self.path}: no such video file")
    self._sampling = sampling
    self._fps = fps
    self._max_failures = int(max_consecutive_failures)
    self._clock: tuple[StreamClock, str] | None = None
    self._pos = self._start_position()
    self.report = self._pos.report

  def _start_position(self) -> ReadPosition:
    return ReadPosition(ReadReport(str(self.path)), FrameSampler(self._sampling))

  def position(self) -> ReadPosition:
    """A copy of the pass's position after the last frame yielded."""
    return copy.deepcopy(self._pos)

  def expected(self) -> int | None:
    """About how many frames a pass offers after sampling (the stream's clock, `clock`; None
    when it announces no frame count): a progress total."""
    clock, _ = self.clock()
    if not clock.count:
      return None
    sampler = FrameSampler(self._sampling)
    return sum(sampler.keep(i, i / clock.fps if clock.fps > 0 else float(i)) for i in range(clock.count))

  def clock(self) -> tuple[StreamClock, str]:
    """The stream's clock (`stream_clock`: the container's rate and count, checked against the
    timestamps of the first CLOCK_PROBE_FRAMES frames) and its note; probed once per reader
    (`expected` and every pass ask for it)."""
    if self._clock is None:
      self._clock = self._probe_clock()
    return self._clock

  def _probe_clock(self) -> tuple[StreamClock, str]:
    cap = cv2.VideoCapture(str(self.path))
    try:
      stated_fps = cap.get(cv2.CAP_PROP_FPS) or 0.
      stated_count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
      first_ms = []
      while len(first_ms) < CLOCK_PROBE_FRAMES and cap.grab():
        first_ms.append(cap.get(cv2.CAP_PROP_POS_MSEC))
    finally:
      cap.release()
    return stream_clock(stated_fps, stated_count, first_ms, self._fps)

  def __iter__(self) -> Iterator[Frame]:
    return self.iterate()

  def iterate(self, start: ReadPosition | None = None) -> Iterator[Frame]:
    """One pass, from the beginning or from `start` (a `position()` of an earlier pass)."""
    pos = self._pos = copy.deepcopy(start) if start is not None else self._start_position()
    self.report = pos.report
    cap = cv2.VideoCapture(str(self.path))
    try:
      if not cap.isOpened():
        # An MP4 written front to back keeps its index (moov) at the end: cut short, it does not open.
        raise FrameSourceError(f"{self.path}: OpenCV cannot open this video: not a video file, or one cut short "
                               "before its index was written (e.g. an MP4 whose recording was interrupted)")
      yield from self._frames(cap, pos)
    finally:
      cap.release()

  def _frames(self, cap: cv2.VideoCapture, pos: ReadPosition) -> Iterator[Frame]:
    if getattr(pos, "clock", None) is None:  # a position saved before clocks were kept has none
      pos.clock, note = self.clock()
      if note:
        pos.report.notes.append(note)
    fps, origin, count = pos.clock.fps, pos.clock.origin_ms, pos.clock.count or 0
    stem = self.path.name
    for _ in range(pos.consumed):  # resuming: the same grabs again, pixels not decoded
      cap.grab()
    failures = 0
    while failures < self._max_failures:
      pos.consumed += 1
      if not cap.grab():
        if count <= 0 or pos.next_index >= count:
          break  # the normal end of the stream
        failures += 1
        continue
      failures = 0
      msec = cap.get(cv2.CAP_PROP_POS_MSEC)
      if fps > 0 and (msec > 0 or pos.next_index == 0):
        msec = max(msec - origin, 0.)
        index, time = max(int(round(msec * fps / 1000.0)), pos.next_index), msec / 1000.0
      else:
        index = pos.next_index
        time = index / fps if fps > 0 else float(index)
      for lost in range(pos.next_index, index):
        pos.report.skip(f"{stem}#{lost}", "frame does not decode")
      pos.next_index = index + 1
      if not pos.sampler.keep(index, time):
        pos.report.sampled_out += 1
        continue
      ok, bgr = cap.retrieve()
      name = f"{stem}#{index}"
      if not ok or bgr is None:
        pos.report.skip(name, "frame does not decode")
        continue
      image = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
      reason = _size_mismatch(image, pos.size)
      if reason:
        pos.report.skip(name, reason)
        continue
      pos.size = pos.size or (image.shape[1], image.shape[0])
      pos.report.yielded += 1
      yield Frame(index, time, image, name)
    for lost in range(pos.next_index, count):
      pos.report.skip(f"{stem}#{lost}", "not delivered by the decoder (stream ended early)")


def open_frames(source: str | pathlib.Path, sampling: Sampling = Sampling(), order: str = "name",
                fps: float = 1.0) -> VideoFrames | FolderFrames | SequenceFrames:
  """The reader for `source`: a simulated sequence folder (has ground_truth.json), an image
  folder, or a video file. `order` and `fps` apply to image folders."""
  source = pathlib.Path(source)
  if source.is_dir():
    if (source / "ground_truth.json").is_file():
      return SequenceFrames(source, sampling)
    return FolderFrames(source, sampling, order=order, fps=fps)
  return VideoFrames(source, sampling)
