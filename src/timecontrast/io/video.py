"""Video read/write through PyAV (FFmpeg): probe, sequential decode, H.264 mp4 writing."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from timecontrast.io.errors import VideoError
from timecontrast.io.files import temporary_file

logger = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v")


@dataclass(frozen=True)
class VideoInfo:
    num_frames: int
    fps: float
    width: int
    height: int


def _reason(exc: av.FFmpegError) -> str:
    """FFmpeg's message without the errno and file name PyAV adds."""
    return exc.strerror or str(exc)


def _open_input(path: str | os.PathLike):
    if not Path(path).is_file():
        raise VideoError(f"{path}: no such video file; check the path")
    try:
        container = av.open(str(path))
    except av.FFmpegError as exc:
        raise VideoError(f"{path}: cannot open video ({_reason(exc)}); is it a complete video file?") from None
    if not container.streams.video:
        container.close()
        raise VideoError(f"{path}: has no video stream")
    return container


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Frame count, frame rate and size. Counts packets when the header has no count."""
    container = _open_input(path)
    try:
        stream = container.streams.video[0]
        num = stream.frames
        if not num:
            num = sum(1 for p in container.demux(stream) if p.size)
        rate = stream.average_rate or stream.guessed_rate or 0
        return VideoInfo(int(num), float(rate), stream.codec_context.width, stream.codec_context.height)
    except av.FFmpegError as exc:
        raise VideoError(f"{path}: cannot read video ({_reason(exc)})") from None
    finally:
        container.close()


def iter_video_frames(path: str | os.PathLike, size: tuple[int, int] | None = None) -> Iterator[np.ndarray]:
    """Decode every frame once, in order, as ``[H, W, 3]`` uint8 RGB.

    ``size`` = ``(height, width)`` resizes each frame during the colour conversion
    (FFmpeg's area-averaging scaler, the equivalent of OpenCV's INTER_AREA).
    """
    container = _open_input(path)
    resize = {} if size is None else {"height": int(size[0]), "width": int(size[1]), "interpolation": "AREA"}
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            yield frame.to_ndarray(format="rgb24", **resize)
    except av.FFmpegError as exc:
        raise VideoError(f"{path}: decoding failed ({_reason(exc)}); the file is damaged or truncated") from None
    finally:
        container.close()


def read_video(path: str | os.PathLike) -> np.ndarray:
    """All frames, ``[T, H, W, 3]`` uint8 (small videos only)."""
    frames = list(iter_video_frames(path))
    if not frames:
        raise VideoError(f"{path}: holds no frames")
    return np.stack(frames)


class VideoWriter:
    """Write RGB frames to an H.264 mp4 playable in browsers (yuv420p).

    The file is written under a temporary name and renamed by :meth:`close`, so a
    crash never leaves a half-written video at ``path``. Odd frame sizes are padded by
    one black row/column (yuv420p needs even sizes). ``timestamps`` passed to
    :meth:`write` (seconds) give variable-rate presentation times.
    """

    def __init__(
        self, path: str | os.PathLike, fps: float, width: int, height: int, crf: int = 23, preset: str = "veryfast"
    ) -> None:
        if fps <= 0:
            raise VideoError(f"{path}: frame rate must be positive, got {fps}")
        self.path = Path(path)
        self.width, self.height = int(width), int(height)
        fd, self._tmp = temporary_file(self.path, suffix=self.path.suffix)
        os.close(fd)
        self._container = av.open(str(self._tmp), mode="w", format="mp4")
        rate = Fraction(fps).limit_denominator(1001)
        self._stream = self._container.add_stream("libx264", rate=rate)
        self._stream.width = self.width + self.width % 2
        self._stream.height = self.height + self.height % 2
        self._stream.pix_fmt = "yuv420p"
        self._stream.options = {"crf": str(crf), "preset": preset}
        self._time_base = Fraction(1, 90000)
        self._stream.codec_context.time_base = self._time_base
        self._rate = rate
        self.num_frames = 0
        self._last_pts = -1
        self._closed = False

    def write(self, rgb: np.ndarray, timestamp: float | None = None) -> None:
        """Append one ``[H, W, 3]`` uint8 RGB frame (``timestamp`` in seconds from the start)."""
        if rgb.shape != (self.height, self.width, 3) or rgb.dtype != np.uint8:
            raise VideoError(
                f"{self.path}: frame of shape {rgb.shape} {rgb.dtype}, expected ({self.height}, {self.width}, 3) uint8"
            )
        if self.width % 2 or self.height % 2:
            rgb = np.pad(rgb, ((0, self.height % 2), (0, self.width % 2), (0, 0)))
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        seconds = self.num_frames / float(self._rate) if timestamp is None else float(timestamp)
        pts = max(round(seconds / self._time_base), self._last_pts + 1)
        frame.pts, frame.time_base = pts, self._time_base
        self._last_pts = pts
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.num_frames += 1

    def close(self) -> Path:
        """Flush the encoder, finalise the file and move it to ``path``."""
        if self._closed:
            return self.path
        self._closed = True
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
        finally:
            self._container.close()
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        if not self._closed:
            self._closed = True
            with contextlib.suppress(av.FFmpegError):
                self._container.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_video(path: str | os.PathLike, frames: np.ndarray, fps: float) -> Path:
    """Write ``[T, H, W, 3]`` uint8 frames to an H.264 mp4."""
    _, h, w, _ = frames.shape
    with VideoWriter(path, fps, w, h) as writer:
        for frame in frames:
            writer.write(frame)
    return Path(path)
