"""Webcams and network streams through OpenCV (``--cameras 0,2`` or ``/dev/video0``, ``rtsp://...``).

Local devices are opened with the V4L2 backend and asked for MJPG (compressed) frames:
uncompressed YUYV at 640x480@30 fills most of a USB 2.0 controller with one camera.
Each frame is stamped with the driver's capture time when V4L2 gives one on the
``time.monotonic()`` clock (UVC drivers stamp the start of the frame), otherwise with
``time.monotonic()`` right after the frame is grabbed.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from timecontrast.capture.devices import describe_video_devices, device_holders
from timecontrast.capture.sources import CameraInfo, CameraSource, CapturedFrame
from timecontrast.errors import CaptureError, DependencyError

if TYPE_CHECKING:
    import cv2

logger = logging.getLogger(__name__)

# A driver timestamp is trusted only if it is this close behind time.monotonic() (seconds).
_MAX_DRIVER_LAG = 1.0


def _import_cv2() -> ModuleType:
    try:
        import cv2
    except ImportError:
        raise DependencyError(
            "OpenCV is needed for webcams and streams: pip install 'timecontrast[capture]' "
            "(file: and synthetic cameras work without it)"
        ) from None
    return cv2


def _fourcc_text(value: float) -> str:
    code = int(value)
    text = "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4))
    return text if text.isprintable() and text.strip() else "?"


class OpenCVCamera(CameraSource):
    """A V4L2 device (index or path) or any stream URL OpenCV's FFmpeg backend opens."""

    def __init__(
        self,
        spec: str,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
        fourcc: str | None = "MJPG",
    ) -> None:
        self.spec = spec
        self.width, self.height, self.fps = width, height, fps
        self.fourcc = fourcc
        self._cap: cv2.VideoCapture | None = None
        self._cv2: ModuleType | None = None
        self._count = 0
        self._driver_clock = True  # until a driver timestamp proves implausible
        if spec.isdigit():
            self.source: int | str = int(spec)
            self.device: str | None = f"/dev/video{spec}"
        else:
            self.source = spec
            self.device = spec if spec.startswith("/dev/") else None

    def _fail(self, what: str) -> CaptureError:
        lines = [f"camera {self.spec!r}: {what}"]
        if self.device is not None:
            holders = device_holders(self.device)
            if holders:
                names = ", ".join(f"{command} (pid {pid})" for pid, command in holders)
                lines.append(f"{self.device} is in use by {names}; close that program and try again")
            lines.append(describe_video_devices())
            lines.append("choose cameras with --cameras, e.g. --cameras 0,2 or --cameras /dev/video0")
        elif "://" in self.spec:
            lines.append("check the URL in a player (e.g. ffplay) and that this machine can reach it")
        else:
            lines.append("for a video file write file:PATH; for a webcam give its index or /dev/videoN")
        return CaptureError("\n".join(lines))

    def open(self) -> CameraInfo:
        cv2 = self._cv2 = _import_cv2()
        if self.device is not None and not Path(self.device).exists():
            raise self._fail(f"{self.device} does not exist")
        api = cv2.CAP_V4L2 if self.device is not None else cv2.CAP_ANY
        cap = cv2.VideoCapture(self.source, api)
        if not cap.isOpened():
            cap.release()
            raise self._fail("cannot be opened")
        if self.device is not None and self.fourcc:
            cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*self.fourcc))
        if self.width and self.height:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        if self.fps:
            cap.set(cv2.CAP_PROP_FPS, self.fps)
        ok, image = cap.read()
        if not ok or image is None:
            cap.release()
            raise self._fail(
                "opened but delivers no frames (busy, or not enough USB bandwidth: try MJPG, a smaller "
                "--width/--height, a lower --fps or another USB controller)"
            )
        self._cap = cap
        fourcc = _fourcc_text(cap.get(cv2.CAP_PROP_FOURCC))
        backend = cap.getBackendName()
        where = self.device or self.spec
        return CameraInfo(
            spec=self.spec,
            description=f"{where} ({backend} {fourcc})",
            requested_width=self.width,
            requested_height=self.height,
            requested_fps=self.fps,
            width=int(image.shape[1]),
            height=int(image.shape[0]),
            fps=float(cap.get(cv2.CAP_PROP_FPS) or 0.0),
        )

    def _timestamp(self, grabbed_at: float) -> float:
        if self.device is None or not self._driver_clock:
            return grabbed_at
        assert self._cap is not None and self._cv2 is not None, "read() stamps frames only after open()"
        driver = self._cap.get(self._cv2.CAP_PROP_POS_MSEC) / 1000.0
        if 0.0 <= grabbed_at - driver < _MAX_DRIVER_LAG:
            return driver
        self._driver_clock = False
        logger.debug("%s: driver timestamps are not on the monotonic clock; stamping on grab", self.spec)
        return grabbed_at

    def read(self) -> CapturedFrame | None:
        if self._cap is None or self._cv2 is None:
            raise CaptureError(f"camera {self.spec!r}: read() before open()")
        cv2 = self._cv2
        if not self._cap.grab():
            raise CaptureError(f"camera {self.spec!r} stopped delivering frames (unplugged, or USB bandwidth)")
        timestamp = self._timestamp(time.monotonic())
        ok, bgr = self._cap.retrieve()
        if not ok or bgr is None:
            raise CaptureError(f"camera {self.spec!r}: a frame could not be decoded")
        if bgr.ndim == 2:
            rgb = cv2.cvtColor(bgr, cv2.COLOR_GRAY2RGB)
        else:
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        frame = CapturedFrame(rgb, timestamp, self._count)
        self._count += 1
        return frame

    def close(self) -> None:
        cap, self._cap = self._cap, None
        if cap is not None:
            cap.release()
