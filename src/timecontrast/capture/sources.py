"""The camera source interface and the factory that turns a ``--cameras`` entry into one.

A camera is anything that hands out RGB frames stamped on the ``time.monotonic()``
clock: a V4L2 webcam (``0``, ``/dev/video2``), a network stream (``rtsp://...``), a
video file played back in real time (``file:clip.mp4``) or generated frames
(``synthetic`` or ``synthetic:320x240@15``). The last two make every part of
``tcn collect`` testable without hardware.
"""

from __future__ import annotations

import abc
import re
from dataclasses import dataclass

import numpy as np

from timecontrast.errors import CaptureError


@dataclass(frozen=True)
class CapturedFrame:
    """One frame of one camera."""

    image: np.ndarray  # [H, W, 3] uint8 RGB
    timestamp: float  # seconds on the time.monotonic() clock, when the frame was captured
    index: int  # 0, 1, 2, ... in the order this camera delivered frames


@dataclass(frozen=True)
class CameraInfo:
    """What was asked of a camera and what it actually delivers (after opening it)."""

    spec: str  # the --cameras entry
    description: str  # e.g. "/dev/video0 (HD Pro Webcam C920), V4L2 MJPG"
    requested_width: int | None
    requested_height: int | None
    requested_fps: float | None
    width: int
    height: int
    fps: float  # nominal rate the source reports (0 when unknown); measured rates are in the status

    def summary(self) -> str:
        fps = f"{round(self.fps, 2):g}" if self.fps else "?"
        delivers = f"{self.width}x{self.height}@{fps}"
        if self.requested_width is None and self.requested_height is None and self.requested_fps is None:
            return f"{self.description}: {delivers}"
        asked = "camera default size"
        if self.requested_width and self.requested_height:
            asked = f"{self.requested_width}x{self.requested_height}"
        if self.requested_fps:
            asked += f"@{round(self.requested_fps, 2):g}"
        return f"{self.description}: requested {asked}, delivers {delivers}"


class CameraSource(abc.ABC):
    """A source of timestamped frames.

    ``open()`` is called once (it raises :class:`CaptureError` with the fix when the
    camera cannot be used), then ``read()`` repeatedly from one reader thread, then
    ``close()``. ``interrupt()`` may be called from any thread to make a blocked
    ``read()`` return soon.
    """

    spec: str

    @abc.abstractmethod
    def open(self) -> CameraInfo:
        """Start the camera; returns what it delivers."""

    @abc.abstractmethod
    def read(self) -> CapturedFrame | None:
        """Block until the next frame; ``None`` at the end of the stream or after ``interrupt()``."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the device or file. Safe to call twice."""

    def interrupt(self) -> None:  # noqa: B027 (optional hook: sources that never block long need nothing)
        """Ask a ``read()`` blocked in another thread to return early."""

    def __enter__(self) -> CameraSource:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_SYNTHETIC = re.compile(r"^synthetic(?::(?:(?P<w>\d+)x(?P<h>\d+))?(?:@(?P<fps>\d+(?:\.\d+)?))?)?$")


def split_camera_specs(cameras: str) -> list[str]:
    """``"0,2,file:a.mp4"`` -> ``["0", "2", "file:a.mp4"]`` (empty entries are an error)."""
    specs = [s.strip() for s in cameras.split(",")]
    if not cameras.strip() or any(not s for s in specs):
        raise CaptureError(
            f"--cameras {cameras!r}: give a comma-separated list of cameras, e.g. '0,2' (V4L2 indices), "
            "'/dev/video0,rtsp://host/stream', 'file:a.mp4,file:b.mp4' or 'synthetic,synthetic'"
        )
    return specs


def make_camera(
    spec: str,
    *,
    width: int | None = None,
    height: int | None = None,
    fps: float | None = None,
    fourcc: str | None = "MJPG",
    jitter_ms: float = 0.0,
    loop: bool = False,
    seed: int = 0,
) -> CameraSource:
    """The camera for one ``--cameras`` entry (not opened yet).

    ``width``/``height``/``fps`` are requests: a webcam picks the closest mode it has,
    a file plays at its own size and rate, a synthetic camera uses them unless its spec
    says otherwise (``synthetic:WxH@FPS``). ``jitter_ms`` (file and synthetic cameras)
    adds uniform noise of that many milliseconds to each delivery time; ``seed`` seeds it.
    """
    if spec.startswith("file:"):
        from timecontrast.capture.file_camera import FileCamera

        path = spec[len("file:") :]
        if not path:
            raise CaptureError(f"camera {spec!r}: give the video path after 'file:', e.g. file:clips/a.mp4")
        return FileCamera(path, jitter_ms=jitter_ms, loop=loop, seed=seed, spec=spec)
    match = _SYNTHETIC.match(spec)
    if match:
        from timecontrast.capture.synthetic import SyntheticCamera

        w = int(match["w"]) if match["w"] else (width or 320)
        h = int(match["h"]) if match["h"] else (height or 240)
        rate = float(match["fps"]) if match["fps"] else (fps or 30.0)
        return SyntheticCamera(w, h, rate, jitter_ms=jitter_ms, seed=seed, spec=spec)
    if spec.startswith("synthetic"):
        raise CaptureError(f"camera {spec!r}: write synthetic cameras as 'synthetic' or 'synthetic:WxH@FPS'")
    from timecontrast.capture.opencv_camera import OpenCVCamera

    return OpenCVCamera(spec, width=width, height=height, fps=fps, fourcc=fourcc)
