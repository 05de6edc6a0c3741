"""The camera source interface: what every camera implementation is and hands out.

A camera is anything that hands out RGB frames stamped on the ``time.monotonic()``
clock: a V4L2 webcam (``0``, ``/dev/video2``), a network stream (``rtsp://...``), a
video file played back in real time (``file:clip.mp4``) or generated frames
(``synthetic`` or ``synthetic:320x240@15``). The last two make every part of
``tcn collect`` testable without hardware. The implementations import this module;
:mod:`timecontrast.capture.cameras` turns a ``--cameras`` entry into one of them.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

import numpy as np


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
