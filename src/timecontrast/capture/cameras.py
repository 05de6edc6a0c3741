"""Cameras from ``--cameras`` entries: ``split_camera_specs`` and the ``make_camera`` factory.

The factory imports every implementation (``opencv_camera``, ``file_camera``,
``synthetic``); they import only the interface in :mod:`timecontrast.capture.sources`,
so the imports go one way. OpenCV itself is imported when a webcam or stream is opened.
"""

from __future__ import annotations

import re

from timecontrast.capture.file_camera import FileCamera
from timecontrast.capture.opencv_camera import OpenCVCamera
from timecontrast.capture.sources import CameraSource
from timecontrast.capture.synthetic import SyntheticCamera
from timecontrast.errors import CaptureError

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
        path = spec[len("file:") :]
        if not path:
            raise CaptureError(f"camera {spec!r}: give the video path after 'file:', e.g. file:clips/a.mp4")
        return FileCamera(path, jitter_ms=jitter_ms, loop=loop, seed=seed, spec=spec)
    match = _SYNTHETIC.match(spec)
    if match:
        w = int(match["w"]) if match["w"] else (width or 320)
        h = int(match["h"]) if match["h"] else (height or 240)
        rate = float(match["fps"]) if match["fps"] else (fps or 30.0)
        return SyntheticCamera(w, h, rate, jitter_ms=jitter_ms, seed=seed, spec=spec)
    if spec.startswith("synthetic"):
        raise CaptureError(f"camera {spec!r}: write synthetic cameras as 'synthetic' or 'synthetic:WxH@FPS'")
    return OpenCVCamera(spec, width=width, height=height, fps=fps, fourcc=fourcc)
