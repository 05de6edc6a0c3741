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
        while self._times and self._times[0] < timestamp - self.window:
            self._times.popleft()

    @property
    def rate(self) -> float:
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


class CaptureSession:
    """Records opened ``cameras`` into ``writer`` until a stop condition; see the module docstring.

    ``tolerance`` (seconds): views of one multi-view frame lie within it of one instant.
    ``warmup`` (seconds): frames before every camera has delivered for this long are
    discarded (auto exposure settles). ``on_status`` gets a :class:`CaptureStatus` every
    ``status_interval`` seconds; ``on_frame`` gets each multi-view frame (e.g. a preview)
    and may return False to stop.
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

    def request_stop(self) -> None:
        """Ask the recording to end and finalise its files (safe from a signal handler)."""
        self._stop.set()

    def _view_metadata(self, view: int, span: list[float]) -> dict:
        info = self.infos[view]
        received = self.sync.received[view]
        measured = (received - 1) / (span[1] - span[0]) if received > 1 and span[1] > span[0] else 0.0
        return {
            "camera": info.spec,
            "description": info.description,
            "requested": {"width": info.requested_width, "height": info.requested_height, "fps": info.requested_fps},
            "delivered": {"width": info.width, "height": info.height, "fps": info.fps},
            "measured_fps": round(measured, 3),
            "received": received,
            "dropped": self.sync.dropped[view],
            "unmatched_at_stop": self.sync.pending[view],
        }

    def run(
        self,
        duration: float | None = None,
        max_frames: int | None = None,
        on_status: Callable[[CaptureStatus], None] | None = None,
        status_interval: float = 1.0,
        on_frame: Callable[[SyncedFrame], bool | None] | None = None,
        metadata: dict | None = None,
    ) -> CaptureResult:
        num_views = len(self.cameras)
        events: queue.Queue[tuple[int, CapturedFrame | BaseException | None]] = queue.Queue()
        reader_stop = threading.Event()
        readers = [CameraReader(k, cam, events, reader_stop) for k, cam in enumerate(self.cameras)]
        meters = [RateMeter() for _ in self.cameras]
        spans: list[list[float]] = [[0.0, 0.0] for _ in self.cameras]  # first, last timestamp after warm-up
        synced_meter = RateMeter()
        first_seen: list[float | None] = [None] * num_views
        last_arrival = [time.monotonic()] * num_views  # when each camera's latest frame arrived
        stalled = [False] * num_views
        run_start = time.monotonic()
        record_start: float | None = None
        failure: BaseException | None = None
        reason = "interrupted"
        next_status = time.monotonic() + status_interval

        def status() -> CaptureStatus:
            elapsed = time.monotonic() - record_start if record_start is not None else 0.0
            return CaptureStatus(
                elapsed,
                [m.rate for m in meters],
                synced_meter.rate,
                self.writer.num_frames,
                list(self.sync.dropped),
                self.writer.backlog,
            )

        for reader in readers:
            reader.start()
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if on_status is not None and now >= next_status:
                    on_status(status())
                    next_status = now + status_interval
                if record_start is not None and duration is not None and now >= record_start + duration:
                    reason = "duration"
                    break
                if self.writer.error is not None:
                    failure = self.writer.error
                    break
                if record_start is None and now > run_start + START_TIMEOUT_S:
                    silent = [f"{k} ({self.cameras[k].spec})" for k, t in enumerate(first_seen) if t is None]
                    failure = CaptureError(
                        f"camera(s) {', '.join(silent)} delivered no frame in {START_TIMEOUT_S:.0f} s; "
                        "check the cable and that no other program uses them"
                    )
                    break
                for k, arrival in enumerate(last_arrival):
                    if record_start is not None and not stalled[k] and now - arrival > STALL_WARNING_S:
                        stalled[k] = True
                        logger.warning(
                            "camera %d (%s) delivered no frame for %.0f s; nothing is recorded until it does",
                            k, self.cameras[k].spec, now - arrival,
                        )  # fmt: skip
                try:
                    view, item = events.get(timeout=_POLL_S)
                except queue.Empty:
                    continue
                if item is None:
                    reason = "end_of_stream"
                    logger.info("camera %d (%s) ended; stopping", view, self.cameras[view].spec)
                    break
                if isinstance(item, BaseException):
                    failure = item
                    break
                meters[view].add(item.timestamp)
                last_arrival[view], stalled[view] = time.monotonic(), False
                if record_start is None:
                    if first_seen[view] is None:
                        first_seen[view] = item.timestamp
                    if any(t is None for t in first_seen):
                        continue
                    record_start = max(first_seen) + self.warmup
                    logger.info("recording %d cameras (after a %.1f s warm-up); Ctrl-C to stop", num_views, self.warmup)
                if item.timestamp < record_start:
                    continue  # warm-up frame
                if not self.sync.received[view]:
                    spans[view][0] = item.timestamp
                spans[view][1] = item.timestamp
                done = False
                for synced in self.sync.add(view, item):
                    self.writer.write(synced)
                    synced_meter.add(synced.timestamp)
                    if on_frame is not None and on_frame(synced) is False:
                        done, reason = True, "interrupted"
                    if max_frames is not None and self.writer.num_frames >= max_frames:
                        done, reason = True, "max_frames"
                    if done:
                        break
                if done:
                    break
        except BaseException as exc:  # e.g. a second Ctrl-C: still finalise below
            failure = exc
        finally:
            for reader in readers:
                reader.request_stop()
            for reader in readers:
                reader.join(timeout=_JOIN_S)
                if reader.is_alive():
                    logger.warning("camera %s did not stop within %.0f s", reader.camera.spec, _JOIN_S)
        final = status()
        if on_status is not None:
            on_status(final)
        meta = dict(metadata or {})
        meta["stop_reason"] = "camera_error" if failure is not None else reason
        meta["sync_tolerance_ms"] = round(self.tolerance * 1000, 3)
        meta["views"] = [self._view_metadata(k, spans[k]) for k in range(num_views)]
        files = self.writer.close(meta)  # finalise what was recorded, even after a failure
        if failure is not None:
            if isinstance(failure, CaptureError | KeyboardInterrupt):
                raise failure
            raise CaptureError(f"recording stopped: {failure!r}") from failure
        instants = self.writer.num_frames
        return CaptureResult(
            files=files,
            num_frames=instants,
            fps=self.writer.measured_fps,
            duration=(instants - 1) / self.writer.measured_fps if self.writer.measured_fps else 0.0,
            stop_reason=reason,
            received=list(self.sync.received),
            dropped=list(self.sync.dropped),
            unmatched_at_stop=self.sync.pending,
        )
