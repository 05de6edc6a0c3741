"""Video read/write through PyAV (FFmpeg): probe, sequential decode, H.264 mp4 writing."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np

from timecontrast.io.errors import VideoError
from timecontrast.io.files import PendingFile, name_error

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


def iter_video_frames(
    path: str | os.PathLike, size: tuple[int, int] | None = None
) -> Generator[np.ndarray, None, None]:
    """Decode every frame once, in order, as ``[H, W, 3]`` uint8 RGB (``close()`` the
    generator to release the file before the end).

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


class _H264Stream:
    """An H.264 (yuv420p) stream in an open container: the encoding both writers share.

    Odd frame sizes are padded by one black row/column (yuv420p needs even sizes);
    presentation times come from ``timestamp`` (seconds) or the frame count and rate.
    ``options`` are extra x264 options.
    """

    def __init__(
        self, container, path: Path, fps: float, width: int, height: int, crf: int, preset: str, **options: str
    ) -> None:
        self.container, self.path = container, path
        self.width, self.height = width, height
        self.rate = Fraction(fps).limit_denominator(1001)
        self.stream = container.add_stream("libx264", rate=self.rate)
        self.stream.width = width + width % 2
        self.stream.height = height + height % 2
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = {"crf": str(crf), "preset": preset, **options}
        self.time_base = Fraction(1, 90000)
        self.stream.codec_context.time_base = self.time_base
        self.num_frames = 0
        self._last_pts = -1

    def encode(self, rgb: np.ndarray, timestamp: float | None) -> float:
        """Encode and mux one ``[H, W, 3]`` uint8 frame; returns its time in seconds."""
        if rgb.shape != (self.height, self.width, 3) or rgb.dtype != np.uint8:
            raise VideoError(
                f"{self.path}: frame of shape {rgb.shape} {rgb.dtype}, expected ({self.height}, {self.width}, 3) uint8"
            )
        if self.width % 2 or self.height % 2:
            rgb = np.pad(rgb, ((0, self.height % 2), (0, self.width % 2), (0, 0)))
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        seconds = self.num_frames / float(self.rate) if timestamp is None else float(timestamp)
        pts = max(round(seconds / self.time_base), self._last_pts + 1)
        frame.pts, frame.time_base = pts, self.time_base
        self._last_pts = pts
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self.num_frames += 1
        return seconds

    def finish(self) -> None:
        """Encode what the encoder still holds and close the container (also on failure)."""
        try:
            for packet in self.stream.encode(None):
                self.container.mux(packet)
        finally:
            self.container.close()


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
        self._pending = PendingFile(self.path, suffix=self.path.suffix)
        self._pending.close_fd()
        container = None
        try:
            container = av.open(str(self._pending.tmp), mode="w", format="mp4")
            self._stream = _H264Stream(container, self.path, fps, self.width, self.height, crf, preset)
        except BaseException as exc:
            if container is not None:
                with contextlib.suppress(av.FFmpegError, OSError):
                    container.close()
            self._pending.discard()
            name_error(exc, self.path, self._pending.tmp)
            raise
        self._container = container
        self._closed = False

    @property
    def num_frames(self) -> int:
        return self._stream.num_frames

    def write(self, rgb: np.ndarray, timestamp: float | None = None) -> None:
        """Append one ``[H, W, 3]`` uint8 RGB frame (``timestamp`` in seconds from the start)."""
        try:
            self._stream.encode(rgb, timestamp)
        except OSError as exc:  # FFmpeg names the hidden temporary: name the video instead
            name_error(exc, self.path, self._pending.tmp)
            raise

    def close(self) -> Path:
        """Flush the encoder, finalise the file and move it to ``path``."""
        if self._closed:
            return self.path
        self._closed = True
        try:
            self._stream.finish()
        except BaseException as exc:
            self._pending.discard()
            name_error(exc, self.path, self._pending.tmp)
            raise
        return self._pending.commit()

    def abort(self) -> None:
        if not self._closed:
            self._closed = True
            with contextlib.suppress(av.FFmpegError, OSError):
                self._container.close()
        self._pending.discard()

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


# Fragmented MP4: a video that is readable while it is written and after a crash.

FRAGMENTED_MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof"


def _lookahead_frames(fps: float, seconds: float) -> int:
    """x264's rate-control lookahead (frames the encoder holds back), capped to ``seconds``."""
    return max(1, min(10, int(fps * seconds)))  # 10 is the veryfast preset's own


class FragmentedVideoWriter:
    """Write RGB frames to a fragmented H.264 mp4 that stays readable while it grows.

    Unlike :class:`VideoWriter`, the file is written at ``path`` itself (the caller picks
    an in-progress name): an empty header, then one self-contained fragment per group of
    pictures, handed to the operating system as soon as it is complete and fsynced every
    ``sync_interval`` seconds of video. A process killed while writing leaves every
    complete fragment readable (:func:`fragmented_mp4_extent`): it loses the fragment in
    progress (up to ``keyframe_interval`` seconds) and the frames inside the encoder
    (its lookahead is capped to ~0.2 s), together about a second at most.

    Keyframes come every ``keyframe_interval`` seconds exactly (no scene-cut keyframes)
    and groups of pictures are closed, so the file can be cut without re-encoding at
    every fragment boundary (:func:`remux_video`), at the same frame numbers in every
    video written with the same frame rate. B-frames are kept: dropping them would
    make noisy camera images several times bigger.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        fps: float,
        width: int,
        height: int,
        crf: int = 23,
        preset: str = "veryfast",
        keyframe_interval: float = 0.6,
        sync_interval: float | None = 0.5,
    ) -> None:
        if fps <= 0:
            raise VideoError(f"{path}: frame rate must be positive, got {fps}")
        self.path = Path(path)
        self.width, self.height = int(width), int(height)
        options = {
            "movflags": FRAGMENTED_MOVFLAGS,  # a new fragment at every keyframe
            "flush_packets": "1",  # hand each finished fragment to the OS (PyAV buffers otherwise)
        }
        try:
            self._container = av.open(str(self.path), mode="w", format="mp4", options=options)
        except (av.FFmpegError, OSError) as exc:
            raise VideoError(f"{path}: cannot create video ({exc})") from None
        gop = str(max(1, round(fps * keyframe_interval)))
        self._stream = _H264Stream(
            self._container, self.path, fps, self.width, self.height, crf, preset,
            g=gop,
            keyint_min=gop,
            sc_threshold="0",  # no extra keyframes at scene cuts: the same cut points in every view
            **{"rc-lookahead": str(_lookahead_frames(fps, 0.2))},
        )  # fmt: skip
        self._sync_interval = sync_interval
        self._last_sync = 0.0  # stream seconds: the recording runs in real time
        self._closed = False

    @property
    def num_frames(self) -> int:
        return self._stream.num_frames

    def write(self, rgb: np.ndarray, timestamp: float | None = None) -> None:
        """Append one ``[H, W, 3]`` uint8 RGB frame (``timestamp`` in seconds from the start)."""
        try:
            seconds = self._stream.encode(rgb, timestamp)
        except av.FFmpegError as exc:  # e.g. a full disk
            raise VideoError(f"{self.path}: writing failed ({_reason(exc)})") from None
        if self._sync_interval is not None and seconds - self._last_sync >= self._sync_interval:
            self._last_sync = seconds
            self.sync()

    def sync(self) -> None:
        """fsync what the file holds so far (its complete fragments survive a power loss)."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:  # the header is written with the encoder's first packet
            return
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def close(self) -> Path:
        """Flush the encoder and write the last fragment; ``path`` is then a complete video."""
        if self._closed:
            return self.path
        self._closed = True
        try:
            self._stream.finish()
        except av.FFmpegError as exc:
            raise VideoError(f"{self.path}: finishing failed ({_reason(exc)})") from None
        if self._sync_interval is not None:
            self.sync()
        return self.path

    def abort(self) -> None:
        """Stop writing and remove the file."""
        if not self._closed:
            self._closed = True
            with contextlib.suppress(av.FFmpegError, OSError):
                self._container.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> FragmentedVideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


@dataclass(frozen=True)
class FragmentExtent:
    size: int  # bytes from the start of the file to the end of its last complete fragment
    num_frames: int  # frames (samples) in the complete fragments
    boundaries: tuple[int, ...] = ()  # frame counts at which a fragment ends, ascending (the last: num_frames)


def _boxes(fh: BinaryIO, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """``(type, payload start, box end)`` of the complete ISO-BMFF boxes between ``start`` and ``end``."""
    offset = start
    while offset + 8 <= end:
        fh.seek(offset)
        head = fh.read(16)
        size, kind, header = int.from_bytes(head[:4], "big"), head[4:8], 8
        if size == 1:  # a 64-bit size follows the type
            if len(head) < 16:
                return
            size, header = int.from_bytes(head[8:16], "big"), 16
        if size < header or offset + size > end:  # size 0 ("to the end") or cut short: incomplete
            return
        yield kind, offset + header, offset + size
        offset += size


def _fragment_samples(fh: BinaryIO, start: int, end: int) -> int:
    """The sample count of a ``moof`` box: the sum over its ``traf/trun`` boxes."""
    count = 0
    for kind, payload, box_end in list(_boxes(fh, start, end)):
        if kind == b"traf":
            for sub, sub_payload, sub_end in list(_boxes(fh, payload, box_end)):
                if sub == b"trun" and sub_payload + 8 <= sub_end:
                    fh.seek(sub_payload + 4)  # after version and flags
                    count += int.from_bytes(fh.read(4), "big")
    return count


def fragmented_mp4_extent(path: str | os.PathLike) -> FragmentExtent:
    """How much of a fragmented mp4 (e.g. left by a killed :class:`FragmentedVideoWriter`) is usable.

    Walks the top-level boxes: a fragment counts once its ``moof`` and the ``mdat`` after
    it are both complete; a fragment cut short by the crash is not. With no complete
    fragment, ``size`` covers the header (or is 0) and ``num_frames`` is 0.
    """
    size = frames = pending = 0
    boundaries: list[int] = []
    try:
        with open(path, "rb") as fh:
            end = os.fstat(fh.fileno()).st_size
            for kind, payload, box_end in _boxes(fh, 0, end):
                if kind == b"moof":
                    pending = _fragment_samples(fh, payload, box_end)
                elif kind == b"mdat" and pending:
                    size, frames, pending = box_end, frames + pending, 0
                    boundaries.append(frames)
                elif kind in (b"ftyp", b"moov") and not frames:
                    size = box_end
    except OSError as exc:
        raise VideoError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return FragmentExtent(size, frames, tuple(boundaries))


def remux_video(
    src: str | os.PathLike, dst: str | os.PathLike, max_frames: int | None = None, durable: bool = False
) -> int:
    """Copy the first ``max_frames`` frames (all if None) of ``src`` into an ordinary mp4 at ``dst``.

    No re-encoding: packets are copied in decode order, so a cut must fall just before a
    keyframe that starts a closed group of pictures (a fragment boundary of a
    :class:`FragmentedVideoWriter` file); any other cut raises :class:`VideoError`.
    ``dst`` is written under a temporary name and renamed when complete (fsynced first
    if ``durable``). Returns the number of frames written.
    """
    source = _open_input(src)
    count = 0
    try:
        with PendingFile(dst, durable=durable, suffix=".mp4") as pending:
            pending.close_fd()
            output = av.open(str(pending.tmp), mode="w", format="mp4")
            try:
                stream = source.streams.video[0]
                out_stream = output.add_stream_from_template(stream)
                for packet in source.demux(stream):
                    if packet.dts is None:  # the demuxer's empty end-of-stream packet
                        continue
                    if max_frames is not None and count >= max_frames:
                        if not packet.is_keyframe:
                            raise VideoError(
                                f"{src}: cannot cut after frame {count} without re-encoding (no keyframe follows)"
                            )
                        break
                    packet.stream = out_stream
                    output.mux(packet)
                    count += 1
            finally:
                output.close()
    except av.FFmpegError as exc:
        raise VideoError(f"{src}: copying to {dst} failed ({_reason(exc)})") from None
    finally:
        source.close()
    return count
