"""The recording loop: a camera failing mid-way, a camera that never starts, warm-up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from timecontrast.capture import session as session_module
from timecontrast.capture.session import CaptureSession, open_cameras
from timecontrast.capture.sources import CapturedFrame
from timecontrast.capture.synthetic import SyntheticCamera
from timecontrast.capture.writer import SequenceWriter
from timecontrast.errors import CaptureError
from timecontrast.io.video import probe_video


class FailingCamera(SyntheticCamera):
    """A synthetic camera whose cable is pulled after ``fail_after`` frames."""

    def __init__(self, fail_after: int, **kwargs) -> None:
        super().__init__(64, 48, 60, **kwargs)
        self.fail_after = fail_after

    def read(self) -> CapturedFrame | None:
        if self._count >= self.fail_after:
            raise CaptureError(f"camera {self.spec!r} stopped delivering frames (test)")
        return super().read()


class UnpluggedCamera(FailingCamera):
    """A camera whose device node answers EIO after ``fail_after`` frames (not one of our errors)."""

    def read(self) -> CapturedFrame | None:
        if self._count >= self.fail_after:
            raise OSError(5, "Input/output error", "/dev/video2")
        return SyntheticCamera.read(self)


class SilentCamera(SyntheticCamera):
    """Opens fine, then blocks without ever delivering a frame (until interrupted)."""

    def read(self) -> CapturedFrame | None:
        self._pacer._wake.wait()
        return None


def _session(tmp_path: Path, cameras, warmup: float = 0.0) -> CaptureSession:
    infos = open_cameras(cameras)
    paths = [tmp_path / f"0_view{k}.mp4" for k in range(len(cameras))]
    writer = SequenceWriter(paths, tmp_path / "0_timestamps.json", fps=60)
    return CaptureSession(cameras, infos, writer, tolerance=0.01, warmup=warmup)


def test_a_failing_camera_keeps_what_was_recorded_and_raises(tmp_path: Path) -> None:
    session = _session(tmp_path, [SyntheticCamera(64, 48, 60), FailingCamera(20, seed=1)])
    with pytest.raises(CaptureError, match="stopped delivering"):
        session.run(duration=30)
    sidecar = json.loads((tmp_path / "0_timestamps.json").read_text())
    assert sidecar["stop_reason"] == "error"
    n = sidecar["num_frames"]
    assert 15 <= n <= 20
    assert [probe_video(tmp_path / f"0_view{k}.mp4").num_frames for k in (0, 1)] == [n, n]


def test_a_camera_failing_with_an_os_error_is_one_line_naming_the_device(tmp_path: Path) -> None:
    session = _session(tmp_path, [SyntheticCamera(64, 48, 60), UnpluggedCamera(10, seed=1)])
    with pytest.raises(CaptureError) as raised:
        session.run(duration=30)
    assert str(raised.value) == "recording stopped: /dev/video2: Input/output error"
    assert json.loads((tmp_path / "0_timestamps.json").read_text())["stop_reason"] == "error"


def test_a_camera_that_never_delivers_is_an_error_not_a_hang(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(session_module, "START_TIMEOUT_S", 0.3)
    session = _session(tmp_path, [SyntheticCamera(64, 48, 60), SilentCamera(64, 48, 60, spec="synthetic:silent")])
    with pytest.raises(CaptureError, match=r"camera\(s\) 1 \(synthetic:silent\) delivered no frame"):
        session.run(duration=30)
    assert not list(tmp_path.iterdir())  # nothing recorded, nothing written


def test_warmup_frames_are_discarded(tmp_path: Path) -> None:
    session = _session(tmp_path, [SyntheticCamera(64, 48, 100), SyntheticCamera(64, 48, 100, seed=1)], warmup=0.1)
    result = session.run(max_frames=5)
    assert result.num_frames == 5
    sidecar = json.loads((tmp_path / "0_timestamps.json").read_text())
    # Each camera's first frame (and about 10 more) falls in the 0.1 s warm-up: not recorded, not counted.
    assert all(v["camera_frame_index"][0] >= 1 for v in sidecar["views"])
    assert all(v["received"] == 5 + v["dropped"] + v["unmatched_at_stop"] for v in sidecar["views"])


def test_rate_meter_reports_the_recent_rate_and_zero_after_a_stall() -> None:
    meter = session_module.RateMeter(window=2.0)
    for i in range(60):  # 3 s at 20 fps
        meter.add(i / 20)
    assert meter.rate() == pytest.approx(20.0)
    assert meter.rate(now=2.96) == pytest.approx(20.0)
    assert meter.rate(now=10.0) == 0.0  # nothing for 7 s
