"""Encoding multi-view frames to one H.264 mp4 per view while recording, plus the sidecar.

Each view has its own encoder thread fed by a queue, so views encode in parallel and
the synchroniser never waits for the encoder. Frames are written with their real
presentation times (the multi-view frame's instant, shared by all views), so the file's
average frame rate is the measured synchronised rate: nothing has to be guessed before
the recording starts or re-encoded after it ends. All views of a sequence get the same
frames in the same order.

Recording is durable: the take lives in a hidden folder (:mod:`timecontrast.capture.take`)
as fragmented mp4 files and a journal of every frame's timestamps, both made durable
every :data:`~timecontrast.capture.take.SYNC_INTERVAL_S` seconds, so a crash, ``kill -9``
or a power loss costs at most about the last second; the next ``tcn collect`` finishes
such a take (:mod:`timecontrast.capture.recovery`). A normal stop finishes it at once:
the views are copied into ordinary mp4 files under their final names and the sidecar
is written last, each under a temporary name and renamed when complete.

An error names the finished file it concerns (``<seq>_view1.mp4``), not the take's own
(``.<seq>.recording/view1.mp4``), and says where what was recorded is kept.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
from pathlib import Path
from typing import Any

import numpy as np

from timecontrast.capture.journal import FrameRecord, TakeHeader, TakeJournal
from timecontrast.capture.layout import take_dir_for_sidecar, take_sequence_name
from timecontrast.capture.sync import SyncedFrame
from timecontrast.capture.take import (
    SYNC_INTERVAL_S,
    debug_file,
    error_line,
    finalise_take,
    journal_file,
    measured_fps,
    remove_take,
    view_file,
)
from timecontrast.errors import CaptureError, TimeContrastError
from timecontrast.io.files import fsync_directory, name_error
from timecontrast.io.video import FragmentedVideoWriter

logger = logging.getLogger(__name__)


def side_by_side(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """``[H, W1 + W2, 3]``: two frames next to each other, the shorter padded with black below."""
    height = max(left.shape[0], right.shape[0])
    parts = [np.pad(im, ((0, height - im.shape[0]), (0, 0), (0, 0))) for im in (left, right)]
    return np.concatenate(parts, axis=1)


class _EncoderThread(threading.Thread):
    """Encodes the frames put on its queue into one fragmented mp4; ``None`` on the queue ends it."""

    def __init__(self, path: Path, fps: float, crf: int, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.path, self.fps, self.crf = path, fps, crf
        self.frames: queue.Queue[tuple[np.ndarray, float] | None] = queue.Queue()
        self.error: BaseException | None = None
        self.writer: FragmentedVideoWriter | None = None

    def run(self) -> None:
        try:
            while (item := self.frames.get()) is not None:
                image, seconds = item
                if self.writer is None:
                    self.writer = FragmentedVideoWriter(
                        self.path, self.fps, image.shape[1], image.shape[0], crf=self.crf, sync_interval=SYNC_INTERVAL_S
                    )
                self.writer.write(image, timestamp=seconds)
        except BaseException as exc:  # reported to the recording loop, which stops and re-raises
            name_error(exc, self.path)  # an fsync names no file
            self.error = exc
            # Keep draining so put() never blocks and close() can finish.
            while self.frames.get() is not None:
                pass


class SequenceWriter:
    """Writes one multi-view sequence: ``paths[k]`` gets view ``k``.

    ``debug_path`` and ``debug_views`` add a side-by-side video of two views.
    ``fps`` is the nominal rate given to the encoder (rate control only); the files'
    timing comes from the frames' timestamps. Creating the writer claims the sequence
    name by creating its take folder (default: ``.<seq>.recording`` beside ``sidecar``);
    :meth:`close` finishes the files, :meth:`abort` removes everything.
    """

    def __init__(
        self,
        paths: list[Path],
        sidecar: Path,
        fps: float,
        crf: int = 20,
        debug_path: Path | None = None,
        debug_views: tuple[int, int] = (0, 1),
        take: Path | None = None,
    ) -> None:
        if debug_path is not None and any(not 0 <= v < len(paths) for v in debug_views):
            raise CaptureError(f"--debug_views {debug_views}: views are numbered 0..{len(paths) - 1}")
        if any(p.parent != sidecar.parent for p in paths):
            raise CaptureError(f"the views of a sequence go to one folder with its sidecar ({sidecar.parent})")
        self.paths = list(paths)
        self.sidecar = sidecar
        self.debug_path = debug_path
        self.debug_views = debug_views
        self.take = take if take is not None else take_dir_for_sidecar(sidecar)
        self._start: float | None = None
        self._frames: list[FrameRecord] = []  # [T] what the journal holds, kept for the sidecar
        self._journal = self._create_take(fps)
        self._entries_synced = False
        self._encoders = [
            _EncoderThread(view_file(self.take, k), fps, crf, f"encoder-view{k}") for k in range(len(paths))
        ]
        if debug_path is not None:
            self._encoders.append(_EncoderThread(debug_file(self.take), fps, crf, "encoder-debug"))
        for encoder in self._encoders:
            encoder.start()
        self._closed = False

    def _create_take(self, fps: float) -> TakeJournal:
        """Claim the sequence: make its take folder and journal (refused if either exists)."""
        self.take.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.mkdir(self.take)
        except FileExistsError:
            raise CaptureError(
                f"{self.take} exists: this sequence is being recorded, or its recording was interrupted "
                f"(the next tcn collect into {self.take.parent} finishes it); choose another --seqname"
            ) from None
        except OSError as exc:  # the folder the user chose, not the hidden take folder
            exc.filename, exc.filename2 = str(self.take.parent), None
            raise
        debug = os.path.relpath(self.debug_path, self.take.parent) if self.debug_path is not None else None
        header = TakeHeader(self._sequence, tuple(p.name for p in self.paths), self.sidecar.name, debug, fps)
        try:
            journal = TakeJournal(journal_file(self.take), header, sync_interval=SYNC_INTERVAL_S)
        except BaseException as exc:
            self._remove_take()
            if isinstance(exc, OSError):
                exc.filename, exc.filename2 = str(self.take.parent), None
            raise
        fsync_directory(self.take.parent)
        return journal

    @property
    def _sequence(self) -> str:
        return take_sequence_name(self.take) or self.take.name

    def _explain(self, exc: BaseException) -> str:
        """``exc`` in one line, naming the finished files the user knows rather than the take's own."""
        text = error_line(exc)
        finished = {str(view_file(self.take, k)): str(path) for k, path in enumerate(self.paths)}
        if self.debug_path is not None:
            finished[str(debug_file(self.take))] = str(self.debug_path)
        finished[str(journal_file(self.take))] = str(self.sidecar)  # the journal becomes the sidecar
        for own, final in finished.items():
            if final not in text:  # "<take>/view0.mp4: copying to <seq>_view0.mp4 failed" names it already
                text = text.replace(own, final)
        return text

    @property
    def num_frames(self) -> int:
        return len(self._frames)

    @property
    def error(self) -> BaseException | None:
        return next((e.error for e in self._encoders if e.error is not None), None)

    @property
    def backlog(self) -> int:
        """Frames waiting for an encoder (grows when encoding is slower than capture)."""
        return max(e.frames.qsize() for e in self._encoders)

    def describe(self, metadata: dict[str, Any]) -> None:
        """Sidecar fields known before the first frame (journaled, for a take finished after a crash)."""
        try:
            self._journal.describe(metadata)
        except OSError as exc:
            raise CaptureError(f"starting sequence {self._sequence!r} failed: {self._explain(exc)}") from exc

    def write(self, synced: SyncedFrame) -> None:
        """Queue one multi-view frame for encoding and journal it (returns at once)."""
        if self._closed:
            raise CaptureError("SequenceWriter.write() after close()")
        if len(synced.frames) != len(self.paths):
            raise CaptureError(f"a multi-view frame with {len(synced.frames)} views for {len(self.paths)} files")
        if self._start is None:
            self._start = synced.timestamp
        seconds = synced.timestamp - self._start
        for k, frame in enumerate(synced.frames):
            self._encoders[k].frames.put((frame.image, seconds))
        if self.debug_path is not None:
            left, right = (synced.frames[v].image for v in self.debug_views)
            self._encoders[-1].frames.put((side_by_side(left, right), seconds))
        record = FrameRecord(
            synced.timestamp, tuple(f.timestamp for f in synced.frames), tuple(f.index for f in synced.frames)
        )
        self._frames.append(record)
        try:
            self._journal.add_frame(record)
        except OSError as exc:
            raise CaptureError(f"recording sequence {self._sequence!r} failed: {self._explain(exc)}") from exc
        if not self._entries_synced and all(view_file(self.take, k).exists() for k in range(len(self.paths))):
            fsync_directory(self.take)  # the video files' names are durable too
            self._entries_synced = True

    @property
    def measured_fps(self) -> float:
        """Multi-view frames per second over the recording (0 with fewer than two frames)."""
        return measured_fps(self._frames)

    def _finish_encoders(self) -> None:
        for encoder in self._encoders:
            encoder.frames.put(None)
        for encoder in self._encoders:
            encoder.join()

    def close(self, metadata: dict[str, Any] | None = None) -> list[Path]:
        """Finish every file and write the sidecar; returns the files written.

        With no frame written, nothing is written. If an encoder or the finishing fails,
        the take folder is kept (the next ``tcn collect`` into the folder, or
        :func:`~timecontrast.capture.recovery.recover_interrupted_takes`, finishes what it
        holds) and the error is raised: the finished names are complete or absent.
        """
        if self._closed:
            return []
        self._closed = True
        self._finish_encoders()
        if not self._frames:
            self._discard()
            return []
        if self.error is not None:
            self._keep_for_recovery(metadata)
            error = self._explain(self.error)
            raise CaptureError(f"recording sequence {self._sequence!r} failed: {error}; {self._kept}") from self.error
        ended = False  # whether the journal holds the final metadata
        try:
            debug_frames = self._close_encoders()
            self._journal.end(dict(metadata or {}))
            ended = True
            header = self._journal.header
            files = finalise_take(self.take, header, self._frames, metadata or {}, debug_frames=debug_frames)
        except (OSError, TimeContrastError) as exc:
            self._keep_for_recovery(None if ended else metadata)
            error = self._explain(exc)
            raise CaptureError(f"finishing sequence {self._sequence!r} failed: {error}; {self._kept}") from exc
        finally:
            self._journal.close()
        return files

    @property
    def _kept(self) -> str:
        return (
            f"what was recorded is kept in {self.take} and the next tcn collect into {self.take.parent} "
            "finishes it (once the cause is fixed, e.g. space freed)"
        )

    def _close_encoders(self) -> int:
        """Write every file's last fragment; returns the debug video's frame count (0 without one)."""
        for encoder in self._encoders:
            assert encoder.writer is not None  # every encoder got the first frame
            try:
                encoder.writer.close()
            except OSError as exc:  # an fsync names no file
                name_error(exc, encoder.path)
                raise
        if self.debug_path is None:
            return 0
        debug = self._encoders[-1].writer
        assert debug is not None  # checked in the loop above
        return debug.num_frames

    def _keep_for_recovery(self, metadata: dict[str, Any] | None) -> None:
        """Leave the take whole for recovery: last fragments written, final fields journaled
        (``metadata``, unless the journal holds them already)."""
        for encoder in self._encoders:
            if encoder.writer is not None:
                with contextlib.suppress(Exception):
                    encoder.writer.close()
        with contextlib.suppress(OSError):
            if metadata is not None:
                self._journal.end(dict(metadata))
            self._journal.sync()
        self._journal.close()

    def abort(self) -> None:
        """Stop and remove everything of this sequence."""
        if not self._closed:
            self._closed = True
            self._finish_encoders()
        self._discard()

    def _discard(self) -> None:
        for encoder in self._encoders:
            if encoder.writer is not None:
                with contextlib.suppress(Exception):
                    encoder.writer.abort()
        self._journal.close()
        self._remove_take()

    def _remove_take(self) -> None:
        """Remove the take folder; if it cannot be, the next tcn collect into the folder does."""
        try:
            remove_take(self.take)
        except OSError as exc:
            logger.warning("%s: could not remove the empty recording (%s)", self.take, exc.strerror or exc)
