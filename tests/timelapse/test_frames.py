"""Frame readers: order, times, sampling, and unreadable frames skipped and counted."""

import pathlib

import cv2
import numpy as np
import pytest

from walt3d_jax.timelapse import frames as frames_lib
from walt3d_jax.timelapse.frames import Sampling

W, H = 64, 48


def _image(i: int, size=(W, H)) -> np.ndarray:
  """RGB frame whose red channel encodes `i` (survives lossy codecs to ±4) and green is fixed."""
  image = np.zeros((size[1], size[0], 3), np.uint8)
  image[..., 0] = 10 * i + 5
  image[..., 1] = 200
  return image


def _index_of(image: np.ndarray) -> int:
  assert abs(float(image[..., 1].mean()) - 200) < 6, "channels swapped (BGR vs RGB)"
  return int(round((float(image[..., 0].mean()) - 5) / 10))


def _write_video(path: pathlib.Path, n: int, fourcc: str, fps: float = 10.0) -> None:
  writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (W, H))
  assert writer.isOpened()
  for i in range(n):
    writer.write(cv2.cvtColor(_image(i), cv2.COLOR_RGB2BGR))
  writer.release()


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> pathlib.Path:
  path = tmp_path_factory.mktemp("video") / "clip.mp4"
  _write_video(path, 20, "mp4v")
  return path


def test_video_frames_in_order_with_times(video):
  reader = frames_lib.VideoFrames(video)
  frames = list(reader)
  assert [f.index for f in frames] == list(range(20))
  assert [_index_of(f.image) for f in frames] == list(range(20))
  np.testing.assert_allclose([f.time for f in frames], np.arange(20) / 10.0, atol=1e-6)
  assert frames[0].image.shape == (H, W, 3) and frames[0].image.dtype == np.uint8
  assert (reader.report.yielded, reader.report.sampled_out, reader.report.num_skipped) == (20, 0, 0)


def test_video_sampling_every_and_window(video):
  reader = frames_lib.VideoFrames(video, Sampling(every=3, windows=((0.5, 1.5),)))
  got = [f.index for f in reader]
  assert got == [6, 9, 12]  # times 0.5 <= t < 1.5 are frames 5..14; of those, index % 3 == 0
  assert [_index_of(f.image) for f in frames_lib.VideoFrames(video, Sampling(every=3, windows=((0.5, 1.5),)))] == got
  assert reader.report.sampled_out == 17


def test_video_bursts_cut_from_continuous_footage(video):
  got = [f.index for f in frames_lib.VideoFrames(video, Sampling(burst_period=0.7, burst_length=2))]
  assert got == [0, 1, 7, 8, 14, 15]


def test_video_with_a_corrupt_frame_skips_it_and_goes_on(tmp_path):
  path = tmp_path / "clip.avi"
  _write_video(path, 8, "MJPG")
  data = bytearray(path.read_bytes())
  # Each MJPG frame is one JPEG: wipe the start of the 4th so it no longer decodes.
  starts = [i for i in range(len(data) - 2) if data[i:i + 3] == b"\xff\xd8\xff"]
  assert len(starts) == 8
  data[starts[3]:starts[3] + 300] = bytes(300)
  path.write_bytes(bytes(data))
  reader = frames_lib.VideoFrames(path)
  frames = list(reader)
  # OpenCV's decoder loses one more frame after the failure, and (no per-frame timestamps in
  # MJPG/AVI) counts positions with its own counter; what matters: nothing fatal, nothing
  # duplicated, and every lost frame counted.
  content = [_index_of(f.image) for f in frames]
  assert content[:3] == [0, 1, 2] and len(content) == 6
  assert all(a < b for a, b in zip(content, content[1:])) and set(content) <= set(range(8))
  assert [f.index for f in frames][:3] == [0, 1, 2]
  assert reader.report.yielded == 6 and reader.report.num_skipped == 2
  assert reader.report.skipped[0] == ("clip.avi#3", "frame does not decode")
  assert "clip.avi#3" in reader.report.summary()
  assert reader.report.lost_share() == 2 / 8 and frames_lib.ReadReport("none").lost_share() == 0.0


def test_missing_video_is_an_error(tmp_path):
  with pytest.raises(frames_lib.FrameSourceError, match="no such video"):
    frames_lib.VideoFrames(tmp_path / "none.mp4")
  (tmp_path / "text.mp4").write_text("not a video")
  with pytest.raises(frames_lib.FrameSourceError, match="cannot open"):
    list(frames_lib.VideoFrames(tmp_path / "text.mp4"))


def test_an_mp4_cut_short_before_its_index_names_the_likely_cause(video, tmp_path):
  data = video.read_bytes()
  (tmp_path / "half.mp4").write_bytes(data[:len(data) // 2])  # OpenCV writes the index (moov) last
  with pytest.raises(frames_lib.FrameSourceError, match=r"half\.mp4: OpenCV cannot open this video: not a video "
                     r"file, or one cut short before its index was written"):
    list(frames_lib.VideoFrames(tmp_path / "half.mp4"))


def _write_jpeg(path: pathlib.Path, image: np.ndarray) -> None:
  assert cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])


@pytest.fixture
def folder(tmp_path) -> pathlib.Path:
  """frame_0 .. frame_11 (natural order differs from lexicographic), with three bad frames."""
  for i in range(12):
    _write_jpeg(tmp_path / f"frame_{i}.jpg", _image(i))
  good = (tmp_path / "frame_4.jpg").read_bytes()
  (tmp_path / "frame_4.jpg").write_bytes(good[: len(good) // 2])  # truncated JPEG
  (tmp_path / "frame_6.jpg").write_bytes(b"")  # zero bytes
  _write_jpeg(tmp_path / "frame_9.jpg", _image(9, size=(W + 2, H)))  # wrong size
  (tmp_path / "notes.txt").write_text("ignored")
  return tmp_path


def test_folder_in_natural_name_order_with_bad_frames_skipped(folder):
  reader = frames_lib.FolderFrames(folder, fps=4.0)
  frames = list(reader)
  assert [f.name for f in frames] == [f"frame_{i}.jpg" for i in (0, 1, 2, 3, 5, 7, 8, 10, 11)]
  assert [_index_of(f.image) for f in frames] == [0, 1, 2, 3, 5, 7, 8, 10, 11]
  assert [f.index for f in frames] == [0, 1, 2, 3, 5, 7, 8, 10, 11]
  np.testing.assert_allclose([f.time for f in frames], np.array([f.index for f in frames]) / 4.0)
  report = reader.report
  assert (report.yielded, report.num_skipped) == (9, 3)
  reasons = dict(report.skipped)
  assert "truncated JPEG" in reasons["frame_4.jpg"]
  assert "0 bytes" in reasons["frame_6.jpg"]
  assert "66x48" in reasons["frame_9.jpg"]
  # A second pass reports afresh instead of accumulating.
  list(reader)
  assert reader.report.num_skipped == 3


def test_folder_sampling_does_not_decode_dropped_frames(folder):
  reader = frames_lib.FolderFrames(folder, Sampling(every=2))
  assert [f.index for f in reader] == [0, 2, 8, 10]  # 4 and 6 are even but unreadable
  assert reader.report.sampled_out == 6 and reader.report.num_skipped == 2


def test_folder_ordered_by_timestamp_not_name(tmp_path):
  # Names sort one way, timestamps the other; one name has no timestamp.
  stamps = {"a_20240601T120002.500.jpg": 2, "b_20240601T120001.jpg": 1, "c_1717243200.jpg": 0}
  for name, i in stamps.items():
    _write_jpeg(tmp_path / name, _image(i))
  _write_jpeg(tmp_path / "d_nostamp.jpg", _image(9))
  by_name = [f.name for f in frames_lib.FolderFrames(tmp_path, order="name")]
  assert by_name == ["a_20240601T120002.500.jpg", "b_20240601T120001.jpg", "c_1717243200.jpg", "d_nostamp.jpg"]
  reader = frames_lib.FolderFrames(tmp_path, order="timestamp")
  frames = list(reader)
  assert [_index_of(f.image) for f in frames] == [0, 1, 2]
  np.testing.assert_allclose([f.time for f in frames], [1717243200.0, 1717243201.0, 1717243202.5])
  assert reader.report.skipped == [("d_nostamp.jpg", "no timestamp in the file name")]


def test_folder_bursts_split_at_time_gaps(tmp_path):
  # Three bursts of 4 frames 0.1 s apart, bursts 60 s apart: keep the first 2 of each.
  for burst in range(3):
    for k in range(4):
      t = 1717243200 + 60 * burst + 0.1 * k
      _write_jpeg(tmp_path / f"cam_{t:.1f}.jpg", _image(4 * burst + k))
  reader = frames_lib.FolderFrames(tmp_path, Sampling(burst_gap=5.0, burst_length=2), order="timestamp")
  assert [_index_of(f.image) for f in reader] == [0, 1, 4, 5, 8, 9]


@pytest.mark.parametrize("name, seconds", [
    ("cam3_20240601T120000.123.jpg", 1717243200.123),
    ("2024-06-01_12-00-00.png", 1717243200.0),
    ("2024-06-01T12:00:00,5.jpg", 1717243200.5),
    ("20240601120000.jpg", 1717243200.0),
    ("1717243200.25.jpg", 1717243200.25),
    ("x_1717243200500.jpg", 1717243200.5),
    ("000123.jpg", None),
    ("20241301T120000.jpg", None),  # month 13
])
def test_timestamp_from_name(name, seconds):
  got = frames_lib.timestamp_from_name(name)
  if seconds is None:
    assert got is None
  else:
    assert got == pytest.approx(seconds, abs=1e-6)


def test_sample_frames_on_a_decoded_stream():
  stream = [frames_lib.Frame(i, 0.1 * i, np.zeros((1, 1, 3), np.uint8), str(i)) for i in range(10)]
  kept = frames_lib.sample_frames(iter(stream), Sampling(windows=((0.0, 0.25), (0.6, 2.0)), every=2))
  assert [f.index for f in kept] == [0, 2, 6, 8]


@pytest.mark.parametrize("kwargs, message", [
    ({"every": 0}, "every"),
    ({"windows": ((2.0, 1.0),)}, "windows"),
    ({"burst_gap": 1.0, "burst_period": 2.0, "burst_length": 1}, "not both"),
    ({"burst_length": 2}, "needs burst_gap or burst_period"),
    ({"burst_period": 2.0}, "burst_length"),
])
def test_bad_sampling_is_rejected(kwargs, message):
  with pytest.raises(ValueError, match=message):
    Sampling(**kwargs)


def test_open_frames_dispatches(tmp_path, video):
  _write_jpeg(tmp_path / "a.jpg", _image(0))
  assert isinstance(frames_lib.open_frames(tmp_path), frames_lib.FolderFrames)
  assert isinstance(frames_lib.open_frames(video), frames_lib.VideoFrames)
  (tmp_path / "empty").mkdir()
  with pytest.raises(frames_lib.FrameSourceError, match="no image files"):
    frames_lib.open_frames(tmp_path / "empty")


def _resumed_pass(make_reader, stop_after: int):
  """A pass stopped after `stop_after` frames, its position pickled (as the mine job keeps it)
  and continued by a fresh reader: the frames' indices of both parts, and the final report."""
  import pickle

  reader = make_reader()
  frames = reader.iterate()
  head = [next(frames).index for _ in range(stop_after)]
  position = pickle.loads(pickle.dumps(reader.position()))
  frames.close()
  resumed = make_reader()
  tail = [f.index for f in resumed.iterate(start=position)]
  return head + tail, resumed.report


@pytest.mark.parametrize("stop_after", [1, 3])
def test_a_video_pass_resumes_from_its_position(tmp_path, stop_after):
  path = tmp_path / "clip.avi"
  _write_video(path, 8, "MJPG")
  data = bytearray(path.read_bytes())
  starts = [i for i in range(len(data) - 2) if data[i:i + 3] == b"\xff\xd8\xff"]
  data[starts[5]:starts[5] + 300] = bytes(300)  # a frame lost after the resume point
  path.write_bytes(bytes(data))
  make = lambda: frames_lib.VideoFrames(path, Sampling(every=2))
  whole = make()
  want = [f.index for f in whole]
  got, report = _resumed_pass(make, stop_after)
  assert got == want
  assert report == whole.report and report.num_skipped >= 1 and report.sampled_out > 0


def test_an_image_folder_pass_resumes_from_its_position(tmp_path):
  for i in range(7):
    _write_jpeg(tmp_path / f"{i:03d}.jpg", _image(i))
  (tmp_path / "004.jpg").write_bytes(b"")  # unreadable, after the resume point
  make = lambda: frames_lib.FolderFrames(tmp_path, Sampling(every=2))
  whole = make()
  want = [f.index for f in whole]
  got, report = _resumed_pass(make, 2)
  assert got == want == [0, 2, 6] and report == whole.report and report.num_skipped == 1
  assert make().expected() == len(want) + whole.report.num_skipped


def test_stream_clock_trusts_the_timestamps_over_a_wrong_stated_rate():
  # OpenCV's vtest.avi: the AVI states 50 fps and 682 frames; its H.264 frames are 40 ms apart,
  # 341 of them, the first stamped 40 ms (the decoder's reordering delay).
  clock, note = frames_lib.stream_clock(50., 682, [40. * (k + 1) for k in range(16)])
  assert clock == frames_lib.StreamClock(25., 40., 341)
  assert "states 50 fps" in note and "40 ms apart" in note and "read at 25 fps" in note
  # Within the tolerance the stated rate holds, and nothing is said.
  assert frames_lib.stream_clock(10., 20, [0., 100., 200., 305., 400.]) == (frames_lib.StreamClock(10., 0., 20), "")
  # The user's rate always wins; too few timestamps to judge keep the stated one.
  assert frames_lib.stream_clock(50., 682, [40., 80., 120., 160.], fps=2.) == (frames_lib.StreamClock(2., 40., 682), "")
  assert frames_lib.stream_clock(50., 682, [0., 40., 80.]) == (frames_lib.StreamClock(50., 0., 682), "")
  # No stated rate: the timestamps' own, without a note; none at all: 0.
  assert frames_lib.stream_clock(0., 0, [0., 100., 200., 300.]) == (frames_lib.StreamClock(10., 0., None), "")
  assert frames_lib.stream_clock(0., 0, []) == (frames_lib.StreamClock(0., 0., None), "")
  # Two frames in is a start delay (a 10 fps H.264 campus video); five frames in, frames were lost.
  assert frames_lib.stream_clock(10., 795, [200., 300., 400., 500.])[0].origin_ms == 200.
  assert frames_lib.stream_clock(10., 20, [500., 600., 700., 800.])[0].origin_ms == 0.


class _Capture:
  """cv2.VideoCapture of a stream whose container states 50 fps and 20 frames while its 10
  frames are stamped 40, 80, … 400 ms (a start delay of one frame)."""

  def __init__(self, path):
    self._next = 0

  def isOpened(self):
    return True

  def get(self, prop):
    return {cv2.CAP_PROP_FPS: 50., cv2.CAP_PROP_FRAME_COUNT: 20.,
            cv2.CAP_PROP_POS_MSEC: 40. * self._next}.get(prop, 0.)

  def grab(self):
    self._next += 1
    return self._next <= 10

  def retrieve(self):
    return True, cv2.cvtColor(_image(self._next - 1), cv2.COLOR_RGB2BGR)

  def release(self):
    pass


def test_a_video_whose_container_states_twice_its_rate_loses_no_frame(tmp_path, monkeypatch):
  monkeypatch.setattr(frames_lib.cv2, "VideoCapture", _Capture)
  (tmp_path / "clip.avi").write_bytes(b"")
  reader = frames_lib.VideoFrames(tmp_path / "clip.avi", Sampling(every=2))
  assert reader.expected() == 5
  frames = list(reader)
  assert [f.index for f in frames] == [0, 2, 4, 6, 8]
  assert [_index_of(f.image) for f in frames] == [0, 2, 4, 6, 8]
  np.testing.assert_allclose([f.time for f in frames], [0., 0.08, 0.16, 0.24, 0.32])
  assert reader.report.num_skipped == 0 and reader.report.lost_share() == 0.
  assert len(reader.report.notes) == 1 and "read at 25 fps" in reader.report.summary()
