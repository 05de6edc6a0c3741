"""One recording: cameras -> reader threads -> synchroniser -> per-view encoders.

Threads and what they block on (nothing spins):
- one reader per camera, blocked in the camera's ``read()``; it puts each frame on a
  shared queue;
- this loop, blocked on that queue (with a short timeout so a stop request, a
  ``--duration`` deadline and the status line are served even when no frame comes);
- one encoder per view (see :mod:`timecontrast.capture.writer`), blocked on its queue.

A stop (``request_stop()``, safe from a signal handler; ``duration``; ``max_frames``;
a file camera reaching its end) lets the loop fall through to the same ending: the
readers are stopped and joined, the encoders drain their queues and every file is
finalised. A camera that fails ends the recording the same way and the error is
raised after the files are safe.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from timecontrast.capture.sources import CameraInfo, CameraSource, CapturedFrame
from timecontrast.capture.sync import FrameSynchronizer, SyncedFrame
from timecontrast.capture.take import error_line
from timecontrast.capture.writer import SequenceWriter
from timecontrast.errors import CaptureError

logger = logging.getLogger(__name__)

_POLL_S = 0.1  # longest wait on the frame queue before checking stop requests and deadlines
_JOIN_S = 5.0  # how long to wait for a reader thread to notice a stop
START_TIMEOUT_S = 10.0  # every camera must deliver a first frame within this
STALL_WARNING_S = 2.0  # a camera silent this long while recording gets a warning


class RateMeter:
    """Events per second over the last ``window`` seconds of timestamps."""

    def __init__(self, window: float = 2.0) -> None:
        self.window = window
        self._times: deque[float] = deque()

    def add(self, timestamp: float) -> None:
        self._times.append(timestamp)
        self._forget(timestamp)

    def _forget(self, now: float) -> None:
        while self._times and self._times[0] < now - self.window:
            self._times.popleft()

    def rate(self, now: float | None = None) -> float:
        """The rate over the window ending ``now`` (monotonic seconds; default: the last event)."""
        if now is not None:
            self._forget(now)  # a camera that stopped delivering drops to 0
        if len(self._times) < 2:
            return 0.0
        return (len(self._times) - 1) / (self._times[-1] - self._times[0])


@dataclass
class CaptureStatus:
    elapsed: float  # seconds since recording started
    camera_fps: list[float]
    synced_fps: float
    frames: int  # multi-view frames written
    dropped: list[int]  # frames per camera that found no match
    backlog: int  # frames waiting for an encoder

    def line(self) -> str:
        cams = " ".join(f"{fps:5.1f}" for fps in self.camera_fps)
        text = (
            f"{self.elapsed:7.1f}s  cameras fps [{cams}]  synced {self.synced_fps:5.1f} fps  "
            f"frames {self.frames}  dropped {sum(self.dropped)} {self.dropped}"
        )
        return text + (f"  encoder backlog {self.backlog}" if self.backlog > 1 else "")


@dataclass
class CaptureResult:
    files: list[Path]  # videos, then the debug video if any, then the sidecar
    num_frames: int
    fps: float  # measured synchronised rate
    duration: float  # seconds from the first to the last multi-view frame
    stop_reason: str  # "interrupted", "duration", "max_frames", "end_of_stream"
    received: list[int]
    dropped: list[int]
    unmatched_at_stop: list[int] = field(default_factory=list)


class CameraReader(threading.Thread):
    """Reads one camera as fast as it delivers, putting ``(view, frame | None | error)`` on ``events``."""

    def __init__(self, view: int, camera: CameraSource, events: queue.Queue, stop: threading.Event) -> None:
        super().__init__(name=f"camera-{view}", daemon=True)
        self.view, self.camera, self.events, self.stop_event = view, camera, events, stop

    def run(self) -> None:
        try:
            while not self.stop_event.is_set():
                frame = self.camera.read()
                if frame is None:
                    break
                self.events.put((self.view, frame))
            self.events.put((self.view, None))  # end of stream (or stopped)
        except BaseException as exc:  # handed to the recording loop, which stops and re-raises
            self.events.put((self.view, exc))
        finally:
            try:
                self.camera.close()
            except Exception:
                logger.exception("closing camera %s", self.camera.spec)

    def request_stop(self) -> None:
        self.stop_event.set()
        self.camera.interrupt()


def open_cameras(cameras: list[CameraSource]) -> list[CameraInfo]:
    """Open every camera; if one fails, close the ones already open and raise its error."""
    infos: list[CameraInfo] = []
    try:
        for camera in cameras:
            infos.append(camera.open())
    except BaseException:
        for camera in cameras[: len(infos)]:
            camera.close()
        raise
    return infos


class _Stop(Exception):  # noqa: N818 (control flow that ends the loop normally, not an error)
    """Ends the recording loop normally, with the reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CaptureSession:
    """Records opened ``cameras`` into ``writer`` until a stop condition; see the module docstring.

    ``tolerance`` (seconds): views of one multi-view frame lie within it of one instant.
    ``warmup`` (seconds): frames before every camera has delivered for this long are
    discarded (auto exposure settles). When a camera's stream ends (a file camera), the
    frames already received are still matched, then the recording stops.
    """

    def __init__(
        self,
        cameras: list[CameraSource],
        infos: list[CameraInfo],
        writer: SequenceWriter,
        tolerance: float,
        warmup: float = 0.0,
        max_pending: int = 30,
        seqname: str = "",
    ) -> None:
        self.seqname = seqname
        self.cameras = cameras
        self.infos = infos
        self.writer = writer
        self.tolerance = tolerance
        self.sync = FrameSynchronizer(len(cameras), tolerance, max_pending=max_pending)
        self.warmup = warmup
        self._stop = threading.Event()
        n = len(cameras)
        self._meters = [RateMeter() for _ in range(n)]
        self._synced_meter = RateMeter()
        self._spans = [[0.0, 0.0] for _ in range(n)]  # first and last timestamp after the warm-up
        self._first_seen: list[float | None] = [None] * n
        self._early: list[deque[CapturedFrame]] = [deque(maxlen=4) for _ in range(n)]  # frames before the start
        self._last_arrival = [time.monotonic()] * n  # when each camera's latest frame arrived
        self._stalled = [False] * n
        self._ended: set[int] = set()
        self._end_deadline: float | None = None
        self._run_start = time.monotonic()
        self._record_start: float | None = None
        self._ran = False

    def request_stop(self) -> None:
        """Ask the recording to end and finalise its files (safe from a signal handler)."""
        self._stop.set()

    def status(self) -> CaptureStatus:
        start, now = self._record_start, time.monotonic()
        return CaptureStatus(
            elapsed=max(0.0, now - start) if start is not None else 0.0,
            camera_fps=[m.rate(now) for m in self._meters],
            synced_fps=self._synced_meter.rate(now),
            frames=self.writer.num_frames,
            dropped=list(self.sync.dropped),
            backlog=self.writer.backlog,
        )

    def run(
        self,
        duration: float | None = None,
        max_frames: int | None = None,
        on_status: Callable[[CaptureStatus], None] | None = None,
        status_interval: float = 1.0,
        on_frame: Callable[[SyncedFrame], bool | None] | None = None,
        metadata: dict | None = None,
    ) -> CaptureResult:
        """Record until ``request_stop()``, ``duration`` seconds, ``max_frames`` or a stream's end.

        ``on_status`` gets a :class:`CaptureStatus` every ``status_interval`` seconds and
        at the end; ``on_frame`` gets each multi-view frame (e.g. a preview) and may
        return False to stop; ``metadata`` is added to the sidecar.
        """
        if self._ran:
            raise CaptureError("a CaptureSession records once; open a new session for the next sequence")
        self._ran = True
        start_metadata = dict(metadata or {})
        start_metadata["sync_tolerance_ms"] = round(self.tolerance * 1000, 3)
        start_metadata["views"] = [self._camera_metadata(k) for k in range(len(self.cameras))]
        try:
            self.writer.describe(start_metadata)  # journaled: an interrupted take's sidecar gets it
        except BaseException:
            self.writer.abort()
            raise
        events: queue.Queue[tuple[int, CapturedFrame | BaseException | None]] = queue.Queue()
        reader_stop = threading.Event()
        readers = [CameraReader(k, cam, events, reader_stop) for k, cam in enumerate(self.cameras)]
        failure: BaseException | None = None
        reason = "interrupted"
        self._run_start = time.monotonic()
        next_status = self._run_start + status_interval
        for reader in readers:
            reader.start()
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if on_status is not None and now >= next_status:
                    on_status(self.status())
                    next_status = now + status_interval
                self._check(now, duration)
                try:
                    view, item = events.get(timeout=_POLL_S)
                except queue.Empty:
                    continue
                self._handle(view, item, max_frames, on_frame)
        except _Stop as stop:
            reason = stop.reason
        except BaseException as exc:  # a camera or encoder failure, or a second Ctrl-C: finalise first
            failure = exc
        finally:
            for reader in readers:
                reader.request_stop()
            for reader in readers:
                reader.join(timeout=_JOIN_S)
                if reader.is_alive():
                    logger.warning("camera %s did not stop within %.0f s", reader.camera.spec, _JOIN_S)
        if on_status is not None:
            on_status(self.status())
        meta = dict(metadata or {})
        if isinstance(failure, KeyboardInterrupt):
            meta["stop_reason"] = "interrupted"
        else:
            meta["stop_reason"] = "error" if failure is not None else reason
        meta["sync_tolerance_ms"] = round(self.tolerance * 1000, 3)
        meta["views"] = [self._view_metadata(k) for k in range(len(self.cameras))]
        files = self.writer.close(meta)  # finalise what was recorded, even after a failure
        if failure is not None:
            if isinstance(failure, CaptureError | KeyboardInterrupt):
                raise failure
            raise CaptureError(f"recording stopped: {error_line(failure)}") from failure
        fps = self.writer.measured_fps
        return CaptureResult(
            files=files,
            num_frames=self.writer.num_frames,
            fps=fps,
            duration=(self.writer.num_frames - 1) / fps if fps else 0.0,
            stop_reason=reason,
            received=list(self.sync.received),
            dropped=list(self.sync.dropped),
            unmatched_at_stop=self.sync.pending,
        )

    def _check(self, now: float, duration: float | None) -> None:
        """Deadlines and health, between frames: raises ``_Stop`` or the error that ends the run."""
        start = self._record_start
        if start is not None and duration is not None and now >= start + duration:
            raise _Stop("duration")
        if self._end_deadline is not None and now >= self._end_deadline:
            raise _Stop("end_of_stream")
        if self.writer.error is not None:
            raise self.writer.error
        if start is None and now > self._run_start + START_TIMEOUT_S:
            silent = [f"{k} ({self.cameras[k].spec})" for k, t in enumerate(self._first_seen) if t is None]
            raise CaptureError(
                f"camera(s) {', '.join(silent)} delivered no frame in {START_TIMEOUT_S:.0f} s; "
                "check the cable and that no other program uses them"
            )
        for k, arrival in enumerate(self._last_arrival):
            if start is not None and not self._stalled[k] and k not in self._ended and now - arrival > STALL_WARNING_S:
                self._stalled[k] = True
                logger.warning(
                    "camera %d (%s) delivered no frame for %.0f s; nothing is recorded until it does",
                    k, self.cameras[k].spec, now - arrival,
                )  # fmt: skip

    def _handle(self, view: int, item: CapturedFrame | BaseException | None, max_frames, on_frame) -> None:
        if isinstance(item, BaseException):
            raise item
        if item is None:  # the camera's stream ended: match what it sent, then stop
            logger.info("camera %d (%s) ended; stopping", view, self.cameras[view].spec)
            if self._record_start is None:
                raise _Stop("end_of_stream")
            self._ended.add(view)
            self._end_deadline = self._end_deadline or time.monotonic() + 1.0
            self._emit(self.sync.end_view(view), max_frames, on_frame)
        else:
            self._meters[view].add(item.timestamp)
            self._last_arrival[view], self._stalled[view] = time.monotonic(), False
            if self._record_start is not None:
                self._record(view, item, max_frames, on_frame)
            else:
                # Until every camera has started, keep the latest frames: the first ones may match.
                self._early[view].append(item)
                if self._first_seen[view] is None:
                    self._first_seen[view] = item.timestamp
                first_seen = [t for t in self._first_seen if t is not None]
                if len(first_seen) < len(self._first_seen):
                    return
                # A frame up to one spread limit older than the last camera's first can still match it.
                self._record_start = max(first_seen) + self.warmup - 2 * self.tolerance
                logger.info(
                    "recording %d cameras (after a %.1f s warm-up); Ctrl-C to stop", len(self.cameras), self.warmup
                )
                early = sorted(((f.timestamp, v, f) for v, q in enumerate(self._early) for f in q), key=lambda e: e[0])
                self._early = []
                for _, v, frame in early:
                    self._record(v, frame, max_frames, on_frame)
        if any(self.sync.pending[k] == 0 for k in self._ended):
            raise _Stop("end_of_stream")

    def _record(self, view: int, frame: CapturedFrame, max_frames, on_frame) -> None:
        assert self._record_start is not None
        if frame.timestamp < self._record_start:
            return  # a warm-up frame
        if not self.sync.received[view]:
            self._spans[view][0] = frame.timestamp
        self._spans[view][1] = frame.timestamp
        self._emit(self.sync.add(view, frame), max_frames, on_frame)

    def _emit(self, batch: list[SyncedFrame], max_frames, on_frame) -> None:
        for synced in batch:
            self.writer.write(synced)
            self._synced_meter.add(synced.timestamp)
            if on_frame is not None and on_frame(synced) is False:
                raise _Stop("interrupted")
            if max_frames is not None and self.writer.num_frames >= max_frames:
                raise _Stop("max_frames")

    def _camera_metadata(self, view: int) -> dict:
        """What a view's camera is: known before recording, so an interrupted take keeps it."""
        info = self.infos[view]
        return {
            "camera": info.spec,
            "description": info.description,
            "requested": {"width": info.requested_width, "height": info.requested_height, "fps": info.requested_fps},
            "delivered": {"width": info.width, "height": info.height, "fps": info.fps},
        }

    def _view_metadata(self, view: int) -> dict:
        first, last = self._spans[view]
        received = self.sync.received[view]
        measured = (received - 1) / (last - first) if received > 1 and last > first else 0.0
        return {
            **self._camera_metadata(view),
            "measured_fps": round(measured, 3),
            "received": received,
            "dropped": self.sync.dropped[view],
            "unmatched_at_stop": self.sync.pending[view],
        }
