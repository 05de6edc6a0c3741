"""Camera sources without hardware: spec parsing, synthetic and file cameras, device errors."""

from __future__ import annotations

import itertools
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

from timecontrast.capture.cameras import make_camera, split_camera_specs
from timecontrast.capture.devices import device_holders, list_video_devices
from timecontrast.capture.file_camera import FileCamera
from timecontrast.capture.opencv_camera import OpenCVCamera
from timecontrast.capture.pacing import FramePacer
from timecontrast.capture.synthetic import SyntheticCamera, read_frame_counter, render_synthetic_frame
from timecontrast.errors import CaptureError
from timecontrast.io.video import iter_video_frames, write_video


def test_camera_specs_pick_the_right_source() -> None:
    assert split_camera_specs(" 0, /dev/video2 ,file:a.mp4") == ["0", "/dev/video2", "file:a.mp4"]
    with pytest.raises(CaptureError, match="comma-separated"):
        split_camera_specs("0,,1")
    cam = make_camera("synthetic:80x60@12", width=640, height=480, fps=30)
    assert isinstance(cam, SyntheticCamera) and (cam.width, cam.height, cam.fps) == (80, 60, 12.0)
    cam = make_camera("synthetic", width=64, height=48, fps=15)
    assert (cam.width, cam.height, cam.fps) == (64, 48, 15.0)
    assert isinstance(make_camera("file:x.mp4"), FileCamera)
    assert isinstance(make_camera("2"), OpenCVCamera)
    with pytest.raises(CaptureError, match="synthetic:WxH@FPS"):
        make_camera("synthetic:big")
    with pytest.raises(CaptureError, match="after 'file:'"):
        make_camera("file:")


def test_frame_counter_survives_h264(tmp_path: Path) -> None:
    counters = [0, 1, 255, 1000, 40000, 65535]
    frames = np.stack([render_synthetic_frame(64, 48, 0.1 * i, c, tint=i) for i, c in enumerate(counters)])
    write_video(tmp_path / "c.mp4", frames, fps=10)
    decoded = [read_frame_counter(im) for im in iter_video_frames(tmp_path / "c.mp4")]
    assert decoded == counters


def test_synthetic_camera_reports_and_delivers_increasing_frames() -> None:
    cam = SyntheticCamera(64, 48, fps=200)
    info = cam.open()
    assert (info.width, info.height, info.fps) == (64, 48, 200)
    frames = [cam.read() for _ in range(5)]
    cam.close()
    assert [f.index for f in frames] == list(range(5))
    assert all(b.timestamp > a.timestamp for a, b in itertools.pairwise(frames))
    assert [read_frame_counter(f.image) for f in frames] == list(range(5))
    assert cam.read() is None  # closed: no more frames


def test_interrupt_wakes_a_blocked_read() -> None:
    pacer = FramePacer(fps=0.01)  # the second frame is due in 100 s
    pacer.wait_next()
    result: list[float | None] = []
    thread = threading.Thread(target=lambda: result.append(pacer.wait_next()))
    thread.start()
    pacer.interrupt()
    thread.join(timeout=10)
    assert not thread.is_alive() and result == [None]


def _clip(path: Path, num: int, fps: float) -> Path:
    frames = np.stack([render_synthetic_frame(64, 48, i / fps, i, tint=0) for i in range(num)])
    return write_video(path, frames, fps=fps)


def test_file_camera_plays_every_frame_then_ends_or_loops(tmp_path: Path) -> None:
    clip = _clip(tmp_path / "a.mp4", 4, fps=100)
    cam = FileCamera(str(clip))
    info = cam.open()
    assert (info.width, info.height, info.fps) == (64, 48, 100)
    frames = []
    while (frame := cam.read()) is not None:
        frames.append(frame)
    cam.close()
    assert [read_frame_counter(f.image) for f in frames] == [0, 1, 2, 3]
    assert all(b.timestamp > a.timestamp for a, b in itertools.pairwise(frames))

    looped = FileCamera(str(clip), loop=True)
    looped.open()
    counters = [read_frame_counter(looped.read().image) for _ in range(10)]
    looped.close()
    assert counters == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]


def test_file_camera_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video")
    for path in (tmp_path / "missing.mp4", bad):
        with pytest.raises(CaptureError, match=path.name):
            FileCamera(str(path)).open()


def test_missing_webcam_error_lists_the_devices() -> None:
    with pytest.raises(CaptureError) as err:
        OpenCVCamera("/dev/video97").open()
    message = str(err.value)
    assert "/dev/video97" in message and "--cameras" in message
    existing = list_video_devices()
    assert all(d.path in message for d in existing)
    if not existing:
        assert "no /dev/video* devices" in message


def test_list_video_devices_in_numeric_order_with_names(tmp_path: Path) -> None:
    dev, sys_dir = tmp_path / "dev", tmp_path / "sys"
    for n in (10, 2, 0):
        (dev / f"video{n}").parent.mkdir(exist_ok=True)
        (dev / f"video{n}").touch()
    (sys_dir / "video2").mkdir(parents=True)
    (sys_dir / "video2" / "name").write_text("HD Pro Webcam C920\n")
    devices = list_video_devices(str(dev), str(sys_dir))
    assert [Path(d.path).name for d in devices] == ["video0", "video2", "video10"]
    assert [d.name for d in devices] == ["", "HD Pro Webcam C920", ""]


def test_device_holders_names_the_process_holding_a_device(tmp_path: Path) -> None:
    device = tmp_path / "video0"
    device.touch()
    with open(device) as held:
        proc = subprocess.Popen(["sleep", "30"], stdin=held)
    try:
        holders = device_holders(str(device))
        assert (proc.pid, "sleep") in holders
    finally:
        proc.terminate()
        proc.wait()
    assert device_holders(str(device)) == []


def test_opencv_camera_reads_rgb_frames_from_a_stream(tmp_path: Path) -> None:
    # A video path (not /dev/...) goes through OpenCV's FFmpeg backend: the same code as a stream URL.
    clip = _clip(tmp_path / "s.mp4", 3, fps=30)
    cam = OpenCVCamera(str(clip), width=640, height=480, fps=30)
    info = cam.open()  # reads the first frame to learn the real size
    assert (info.width, info.height) == (64, 48) and info.requested_width == 640
    frames = [cam.read() for _ in range(2)]
    with pytest.raises(CaptureError, match="stopped delivering"):
        cam.read()
    cam.close()
    expected = list(iter_video_frames(clip))[1:]
    assert [f.index for f in frames] == [0, 1]
    for frame, rgb in zip(frames, expected):
        assert np.abs(frame.image.astype(int) - rgb.astype(int)).mean() < 3  # RGB order, not BGR
