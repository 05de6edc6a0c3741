"""Video helpers (PyAV): probe, sequential decode (optionally resized), atomic and fragmented H.264 writing."""

from __future__ import annotations

import numpy as np
import pytest

from timecontrast.io.errors import VideoError
from timecontrast.io.video import (
    FragmentedVideoWriter,
    VideoWriter,
    fragmented_mp4_extent,
    iter_video_frames,
    probe_video,
    read_video,
    remux_video,
    write_video,
)


def moving_square(num_frames: int, h: int = 24, w: int = 32) -> np.ndarray:
    frames = np.full((num_frames, h, w, 3), 40, np.uint8)
    for t in range(num_frames):
        frames[t, 6:14, t : t + 8] = (220, 60, 30)
    return frames


def test_write_probe_and_decode(tmp_path):
    frames = moving_square(12)
    path = write_video(tmp_path / "v.mp4", frames, fps=15)
    info = probe_video(path)
    assert (info.num_frames, info.width, info.height) == (12, 32, 24)
    assert info.fps == pytest.approx(15)
    decoded = read_video(path)
    assert decoded.shape == frames.shape
    assert np.abs(decoded.astype(int) - frames).mean() < 6  # H.264 is lossy but close
    # Each decoded frame matches its own source frame better than the neighbouring one.
    err = lambda a, b: np.abs(a.astype(int) - b).mean()  # noqa: E731
    assert all(err(decoded[t], frames[t]) < err(decoded[t], frames[t + 1]) for t in range(11))


def test_decode_resized(tmp_path):
    path = write_video(tmp_path / "v.mp4", moving_square(4), fps=10)
    frames = list(iter_video_frames(path, size=(12, 16)))
    assert len(frames) == 4 and frames[0].shape == (12, 16, 3)
    full = read_video(path)
    # Area averaging: a resized frame is the 2x2 mean of the full one (up to rounding and chroma).
    pooled = full[0].reshape(12, 2, 16, 2, 3).mean(axis=(1, 3))
    assert np.abs(frames[0].astype(float) - pooled).mean() < 6


def test_odd_sizes_are_padded_to_even(tmp_path):
    frames = np.full((3, 7, 9, 3), 200, np.uint8)
    path = write_video(tmp_path / "odd.mp4", frames, fps=10)
    info = probe_video(path)
    assert (info.height, info.width) == (8, 10)
    first = read_video(path)[0]
    assert first[:7, :9].mean() > 190 and first[7].mean() < 20  # the pad row is black


def test_writer_is_atomic_and_checks_frames(tmp_path):
    path = tmp_path / "out.mp4"
    with pytest.raises(VideoError, match=r"frame of shape \(4, 4, 3\)"), VideoWriter(path, 10, 32, 24) as w:
        w.write(np.zeros((24, 32, 3), np.uint8))
        w.write(np.zeros((4, 4, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []  # neither the video nor its temporary file
    with pytest.raises(VideoError, match="frame rate must be positive"):
        VideoWriter(path, 0, 32, 24)


def test_bad_inputs_name_the_file(tmp_path):
    with pytest.raises(VideoError, match=r"nope\.mp4: no such video file"):
        probe_video(tmp_path / "nope.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 1000)
    with pytest.raises(VideoError, match=r"junk\.mp4: cannot open video"):
        probe_video(junk)
    with pytest.raises(VideoError, match=r"junk\.mp4"):
        list(iter_video_frames(junk))
    # A video cut short (the index at its end is lost) cannot be opened either.
    good = write_video(tmp_path / "good.mp4", moving_square(10), fps=10)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(VideoError, match=r"cut\.mp4"):
        probe_video(cut)


def _counter_frames(num_frames: int, h: int = 48, w: int = 64) -> list[np.ndarray]:
    from timecontrast.capture.synthetic import render_synthetic_frame

    return [render_synthetic_frame(w, h, t / 10, t, tint=0) for t in range(num_frames)]


def _counters(path) -> list[int]:
    from timecontrast.capture.synthetic import read_frame_counter

    return [read_frame_counter(f) for f in iter_video_frames(path)]


def test_fragmented_writer_is_readable_while_written_and_cuts_at_fragments(tmp_path):
    path = tmp_path / "growing.mp4"
    writer = FragmentedVideoWriter(path, fps=10, width=64, height=48, keyframe_interval=1.0)
    for t, frame in enumerate(_counter_frames(55)):
        writer.write(frame, timestamp=t / 10)
    # Not closed (as if the process were killed now): the complete fragments are on disk.
    extent = fragmented_mp4_extent(path)
    assert extent.boundaries == tuple(range(10, extent.num_frames + 1, 10))  # one fragment per keyframe interval
    assert extent.num_frames >= 55 - 10 - 2 - 3  # the fragment in progress, lookahead, B-frames
    snapshot = tmp_path / "snapshot.mp4"
    snapshot.write_bytes(path.read_bytes()[: extent.size])
    assert _counters(snapshot) == list(range(extent.num_frames))
    writer.close()
    assert fragmented_mp4_extent(path).num_frames == 55 == probe_video(path).num_frames
    # Cut without re-encoding at every fragment boundary; anywhere else is refused.
    for cut in (10, 30, None):
        out = tmp_path / f"cut{cut}.mp4"
        assert remux_video(path, out, max_frames=cut) == (cut or 55)
        assert _counters(out) == list(range(cut or 55)) and probe_video(out).fps == pytest.approx(10)
    with pytest.raises(VideoError, match="cannot cut after frame 25"):
        remux_video(path, tmp_path / "bad.mp4", max_frames=25)
    assert not (tmp_path / "bad.mp4").exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_fragment_extent_of_a_file_cut_anywhere(tmp_path):
    """Whatever byte a crash stops at, the complete fragments before it decode, frame for frame."""
    full = tmp_path / "full.mp4"
    with FragmentedVideoWriter(full, fps=10, width=64, height=48, keyframe_interval=0.5) as writer:
        for t, frame in enumerate(_counter_frames(30)):
            writer.write(frame, timestamp=t / 10)
    data = full.read_bytes()
    cut_file = tmp_path / "cut.mp4"
    seen = set()
    for size in range(0, len(data), max(1, len(data) // 40)):
        cut_file.write_bytes(data[:size])
        extent = fragmented_mp4_extent(cut_file)
        assert extent.size <= size
        if extent.num_frames and extent.num_frames not in seen:
            seen.add(extent.num_frames)
            cut_file.write_bytes(data[: extent.size])
            assert _counters(cut_file) == list(range(extent.num_frames))
    assert len(seen) >= 3
