"""Encoding multi-view frames to one H.264 mp4 per view while recording, plus the sidecar.

Each view has its own encoder thread fed by a queue, so views encode in parallel and
the synchroniser never waits for the encoder. Frames are written with their real
presentation times (the multi-view frame's instant, shared by all views), so the file's
average frame rate is the measured synchronised rate: nothing has to be guessed before
the recording starts or re-encoded after it ends. All views of a sequence get the same
frames in the same order; files are written under temporary names and renamed only
when complete, and the timestamp sidecar is written last, the same way.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

from timecontrast.capture.sync import SyncedFrame
from timecontrast.errors import CaptureError
from timecontrast.io.video import VideoWriter

logger = logging.getLogger(__name__)


def side_by_side(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """``[H, W1 + W2, 3]``: two frames next to each other, the shorter padded with black below."""
    height = max(left.shape[0], right.shape[0])
    parts = [np.pad(im, ((0, height - im.shape[0]), (0, 0), (0, 0))) for im in (left, right)]
    return np.concatenate(parts, axis=1)


class _EncoderThread(threading.Thread):
    """Encodes the frames put on its queue into one file; ``None`` on the queue ends it."""

    def __init__(self, path: Path, fps: float, crf: int, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.path, self.fps, self.crf = path, fps, crf
        self.frames: queue.Queue[tuple[np.ndarray, float] | None] = queue.Queue()
        self.error: BaseException | None = None
        self.writer: VideoWriter | None = None

    def run(self) -> None:
        try:
            while (item := self.frames.get()) is not None:
                image, seconds = item
                if self.writer is None:
                    self.writer = VideoWriter(self.path, self.fps, image.shape[1], image.shape[0], crf=self.crf)
                self.writer.write(image, timestamp=seconds)
        except BaseException as exc:  # reported to the recording loop, which stops and re-raises
            self.error = exc
            # Keep draining so put() never blocks and close() can finish.
            while self.frames.get() is not None:
                pass


class SequenceWriter:
    """Writes one multi-view sequence: ``paths[k]`` gets view ``k``.

    ``debug_path`` and ``debug_views`` add a side-by-side video of two views.
    ``fps`` is the nominal rate given to the encoder (rate control only); the files'
    timing comes from the frames' timestamps.
    """

    def __init__(
        self,
        paths: list[Path],
        sidecar: Path,
        fps: float,
        crf: int = 20,
        debug_path: Path | None = None,
        debug_views: tuple[int, int] = (0, 1),
    ) -> None:
        if debug_path is not None and any(not 0 <= v < len(paths) for v in debug_views):
            raise CaptureError(f"--debug_views {debug_views}: views are numbered 0..{len(paths) - 1}")
        self.paths = list(paths)
        self.sidecar = sidecar
        self.debug_path = debug_path
        self.debug_views = debug_views
        self._start: float | None = None
        self.num_frames = 0
        self._timestamps: list[list[float]] = [[] for _ in paths]  # [V][T] monotonic seconds
        self._indices: list[list[int]] = [[] for _ in paths]  # [V][T] camera frame counters
        self._instants: list[float] = []  # [T] the presentation time of each multi-view frame
        self._encoders = [_EncoderThread(p, fps, crf, f"encoder-view{k}") for k, p in enumerate(paths)]
        if debug_path is not None:
            self._encoders.append(_EncoderThread(debug_path, fps, crf, "encoder-debug"))
        for encoder in self._encoders:
            encoder.start()
        self._closed = False

    @property
    def error(self) -> BaseException | None:
        return next((e.error for e in self._encoders if e.error is not None), None)

    @property
    def backlog(self) -> int:
        """Frames waiting for an encoder (grows when encoding is slower than capture)."""
        return max(e.frames.qsize() for e in self._encoders)

    def write(self, synced: SyncedFrame) -> None:
        """Queue one multi-view frame for encoding (returns at once)."""
        if self._closed:
            raise CaptureError("SequenceWriter.write() after close()")
        if len(synced.frames) != len(self.paths):
            raise CaptureError(f"a multi-view frame with {len(synced.frames)} views for {len(self.paths)} files")
        if self._start is None:
            self._start = synced.timestamp
        seconds = synced.timestamp - self._start
        for k, frame in enumerate(synced.frames):
            self._encoders[k].frames.put((frame.image, seconds))
            self._timestamps[k].append(frame.timestamp)
            self._indices[k].append(frame.index)
        if self.debug_path is not None:
            left, right = (synced.frames[v].image for v in self.debug_views)
            self._encoders[-1].frames.put((side_by_side(left, right), seconds))
        self._instants.append(synced.timestamp)
        self.num_frames += 1

    @property
    def measured_fps(self) -> float:
        """Multi-view frames per second over the recording (0 with fewer than two frames)."""
        if len(self._instants) < 2:
            return 0.0
        return (len(self._instants) - 1) / (self._instants[-1] - self._instants[0])

    def _finish_encoders(self) -> None:
        for encoder in self._encoders:
            encoder.frames.put(None)
        for encoder in self._encoders:
            encoder.join()

    def close(self, metadata: dict[str, Any] | None = None) -> list[Path]:
        """Finish every file and write the sidecar; returns the files written.

        With no frame written, nothing is written. If an encoder failed, every file of the
        sequence is removed and the error is raised: a sequence is complete or absent.
        """
        if self._closed:
            return []
        self._closed = True
        self._finish_encoders()
        if self.error is not None:
            self._abort()
            raise CaptureError(f"writing {self.paths[0].parent} failed: {self.error}") from self.error
        written: list[Path] = []
        try:
            for encoder in self._encoders:
                if encoder.writer is not None:
                    written.append(encoder.writer.close())
        except Exception as exc:
            for path in written:
                path.unlink(missing_ok=True)
            self._abort()
            raise CaptureError(f"finishing the videos in {self.paths[0].parent} failed: {exc}") from exc
        if self.num_frames:
            self._write_sidecar(metadata or {})
            written.append(self.sidecar)
        return written

    def abort(self) -> None:
        """Stop and remove everything of this sequence (used when recording fails)."""
        if not self._closed:
            self._closed = True
            self._finish_encoders()
        self._abort()

    def _abort(self) -> None:
        for encoder in self._encoders:
            if encoder.writer is not None:
                with contextlib.suppress(Exception):
                    encoder.writer.abort()

    def _write_sidecar(self, metadata: dict[str, Any]) -> None:
        start = self._instants[0]
        views = metadata.pop("views", [{} for _ in self.paths])
        for k, view in enumerate(views):
            view["file"] = self.paths[k].name
            view["timestamps"] = [round(t - start, 6) for t in self._timestamps[k]]
            view["camera_frame_index"] = self._indices[k]
        document = {
            "num_views": len(self.paths),
            "num_frames": self.num_frames,
            "fps": round(self.measured_fps, 4),
            "clock": "seconds; frame_time and each view's timestamps are relative to start_monotonic",
            "start_monotonic": round(start, 6),
            **metadata,
            "frame_time": [round(t - start, 6) for t in self._instants],
            "views": views,
        }
        self.sidecar.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.sidecar.parent, prefix=f".{self.sidecar.stem}.", suffix=".json")
        with os.fdopen(fd, "w") as fh:
            json.dump(document, fh, indent=1)
            fh.write("\n")
        os.chmod(tmp, 0o644)  # mkstemp makes files private; a sidecar is as readable as the videos
        os.replace(tmp, self.sidecar)
