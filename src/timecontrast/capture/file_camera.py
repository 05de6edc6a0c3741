"""A camera that plays a video file in real time (``--cameras file:a.mp4,file:b.mp4``).

Frames come out at the file's own frame rate, stamped with the time they are
delivered, like a webcam's; optional jitter shakes the delivery times and ``loop``
restarts the file at its end instead of ending the stream.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from timecontrast.capture.pacing import FramePacer
from timecontrast.capture.sources import CameraInfo, CameraSource, CapturedFrame
from timecontrast.errors import CaptureError, VideoError
from timecontrast.io.video import iter_video_frames, probe_video


class FileCamera(CameraSource):
    """Replays ``path`` at its frame rate; ``read()`` returns ``None`` at the end unless ``loop``."""

    def __init__(self, path: str, jitter_ms: float = 0.0, loop: bool = False, seed: int = 0, spec: str = "") -> None:
        self.path = Path(path)
        self.spec = spec or f"file:{path}"
        self._jitter_ms = jitter_ms
        self._loop = loop
        self._seed = seed
        self._frames: Iterator[np.ndarray] | None = None
        self._pacer: FramePacer | None = None
        self._count = 0
        self._size = (0, 0)

    def open(self) -> CameraInfo:
        try:
            info = probe_video(self.path)
        except VideoError as exc:
            raise CaptureError(f"camera {self.spec!r}: {exc}") from None
        if info.fps <= 0 or info.num_frames <= 0:
            raise CaptureError(
                f"camera {self.spec!r}: {self.path} has no frames or no frame rate; re-encode it, "
                "e.g. ffmpeg -i in.mov -r 30 out.mp4"
            )
        self._size = (info.width, info.height)
        self._frames = iter_video_frames(self.path)
        self._pacer = FramePacer(info.fps, self._jitter_ms, np.random.default_rng(self._seed))
        self._count = 0
        return CameraInfo(
            spec=self.spec,
            description=f"video file {self.path} ({info.num_frames} frames{', looped' if self._loop else ''})",
            requested_width=None,
            requested_height=None,
            requested_fps=None,
            width=info.width,
            height=info.height,
            fps=info.fps,
        )

    def _next_image(self) -> np.ndarray | None:
        assert self._frames is not None
        try:
            return next(self._frames)
        except StopIteration:
            if not self._loop:
                return None
        except VideoError as exc:
            raise CaptureError(f"camera {self.spec!r}: {exc}") from None
        self._frames = iter_video_frames(self.path)
        return next(self._frames, None)

    def read(self) -> CapturedFrame | None:
        if self._pacer is None or self._frames is None:
            raise CaptureError(f"camera {self.spec!r}: read() before open()")
        # Decode first, then wait: the delivery time is the pacing, not the decoder's speed.
        image = self._next_image()
        if image is None:
            return None
        timestamp = self._pacer.wait_next()
        if timestamp is None:
            return None
        frame = CapturedFrame(image, timestamp, self._count)
        self._count += 1
        return frame

    def interrupt(self) -> None:
        if self._pacer is not None:
            self._pacer.interrupt()

    def close(self) -> None:
        self.interrupt()
        frames, self._frames = self._frames, None
        if frames is not None and hasattr(frames, "close"):
            frames.close()  # closes the decoder's container (generator finally)
