"""The synchroniser on made-up timestamps: what it keeps, what it drops, and why."""

from __future__ import annotations

import numpy as np
import pytest

from timecontrast.capture.sources import CapturedFrame
from timecontrast.capture.sync import FrameSynchronizer

_IMAGE = np.zeros((2, 2, 3), np.uint8)


def _stream(fps: float, phase: float, duration: float, jitter: float = 0.0, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed)
    times = np.arange(phase, duration, 1.0 / fps)
    return list(times + rng.uniform(-jitter, jitter, len(times)))


def _feed(sync: FrameSynchronizer, streams: list[list[float]]):
    """Feed frames of all views in arrival (timestamp) order; returns the emitted sets."""
    events = sorted((t, view, i) for view, times in enumerate(streams) for i, t in enumerate(times))
    out = []
    for t, view, i in events:
        out.extend(sync.add(view, CapturedFrame(_IMAGE, t, i)))
    return out


def test_different_rates_follow_the_slowest_camera_with_nearest_frames() -> None:
    fast, slow = _stream(30, 0.004, 3.0, 0.002, seed=1), _stream(20, 0.019, 3.0, 0.002, seed=2)
    tol = 0.020
    sync = FrameSynchronizer(2, tol)
    out = _feed(sync, [fast, slow])
    # Every slow frame but the last (which waits for a next fast frame) is matched.
    assert len(out) >= len(slow) - 2
    used_slow = [s.frames[1].index for s in out]
    assert used_slow == sorted(set(used_slow))
    fast_arr = np.array(fast)
    for s in out:
        assert s.spread <= 2 * tol
        # The fast frame chosen is the one nearest the slow frame.
        assert s.frames[0].index == int(np.argmin(np.abs(fast_arr - s.frames[1].timestamp)))
    # Unused fast frames are counted, nothing is counted twice.
    assert sync.dropped[0] + len(out) + sync.pending[0] == len(fast)
    assert sync.dropped[1] + len(out) + sync.pending[1] == len(slow)
    assert sync.dropped[0] >= len(fast) - len(slow) - 2


def test_equal_rates_with_phase_offsets_lose_nothing() -> None:
    # Three 30 fps cameras 11 ms apart: a greedy "latest head" matcher drops frames here.
    streams = [_stream(30, 0.011 * k, 2.0) for k in range(3)]
    sync = FrameSynchronizer(3, tolerance=0.5 / 30)
    out = _feed(sync, streams)
    assert sync.dropped == [0, 0, 0]
    assert len(out) == min(len(s) for s in streams) - 1
    assert all(len({f.index for f in s.frames}) == 1 for s in out)  # same frame number on every view


def test_a_stalled_camera_drops_the_unmatched_frames() -> None:
    a = _stream(30, 0.0, 2.0)
    b = [t for t in _stream(30, 0.005, 2.0) if not 0.5 < t < 1.0]  # camera 1 delivers nothing for 0.5 s
    tol = 0.010
    sync = FrameSynchronizer(2, tol)
    out = _feed(sync, [a, b])
    assert all(s.spread <= 2 * tol for s in out)
    assert not any(0.5 < s.frames[0].timestamp < 1.0 for s in out)
    assert sync.dropped[0] >= 14  # the ~15 frames of camera 0 in the gap
    assert sync.dropped[1] == 0


def test_pending_frames_are_bounded_when_a_camera_never_delivers() -> None:
    sync = FrameSynchronizer(2, 0.01, max_pending=5)
    out = _feed(sync, [_stream(30, 0.0, 1.0), []])
    assert out == []
    assert sync.pending == [5, 0]
    assert sync.dropped[0] == 30 - 5


def test_single_view_emits_every_frame() -> None:
    sync = FrameSynchronizer(1, 0.01)
    out = _feed(sync, [_stream(10, 0.0, 1.0)])
    assert [s.frames[0].index for s in out] == list(range(10))


def test_timestamps_must_increase() -> None:
    sync = FrameSynchronizer(2, 0.01)
    sync.add(0, CapturedFrame(_IMAGE, 1.0, 0))
    with pytest.raises(ValueError, match="increase"):
        sync.add(0, CapturedFrame(_IMAGE, 1.0, 1))


def test_an_ended_camera_does_not_hold_back_its_last_frames() -> None:
    a, b = _stream(30, 0.0, 0.5), _stream(20, 0.002, 0.5)  # 15 and 10 frames
    sync = FrameSynchronizer(2, 0.02)
    out = _feed(sync, [a, b])
    assert len(out) == 9  # b's last frame waits: its next frame might match a's last one better
    out += sync.end_view(1)  # b ended: its last frame is the best there is
    assert [s.frames[1].index for s in out] == list(range(10))
    assert sync.pending[1] == 0


def test_the_other_camera_finishes_matching_after_one_ends() -> None:
    a, b = _stream(30, 0.0, 0.5), _stream(20, 0.002, 0.55)  # b goes on after a's last frame
    sync = FrameSynchronizer(2, 0.02)
    out = _feed(sync, [a, b[:10]])
    out += sync.end_view(0)
    assert len(out) == 9
    out += sync.add(1, CapturedFrame(_IMAGE, b[10], 10))  # b's next frame settles its last match
    assert [(s.frames[0].index, s.frames[1].index) for s in out][-1] == (14, 9)
    assert sync.pending[0] == 0
