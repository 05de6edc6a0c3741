"""The journal of a take: an append-only JSON-lines file written while a sequence is recorded.

One JSON object per line, in this order::

    {"take": 1, "sequence": "3", "views": ["3_view0.mp4", ...], "sidecar": ..., "debug": ..., "fps": ...,
     "pid": ..., "host": ..., "created": ...}                   the header, written first
    {"metadata": {...}}                                         sidecar fields known at the start
    {"t": 1234.5678, "ts": [1234.5601, 1234.5712], "i": [17, 12]}
                                                                one line per multi-view frame: its
                                                                instant, each view's capture time and
                                                                camera frame counter (monotonic seconds)
    {"end": {...}}                                              the final sidecar fields, on a normal stop

Each frame line is handed to the OS at once (a killed process loses none) and the
journal is fsynced every ``sync_interval`` seconds of recording (a power loss costs at
most that much); a line torn by the crash is ignored when the journal is read back. Numbers are written with full precision, so
a sidecar built from the journal is the one the recording would have written.

The recording process holds an exclusive ``flock`` on the journal for as long as the
take exists: the kernel releases it when the process dies, however it dies, which is
how :func:`lock_take_journal` tells an interrupted take from a live one. The journal is
built under a temporary name and renamed to ``journal.jsonl`` only once it is locked and
holds its header, so no other process ever finds it at its name unlocked or empty while
its recorder runs.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import json
import logging
import os
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from timecontrast.errors import CaptureError
from timecontrast.io.files import fsync_directory, name_error, pid_alive

logger = logging.getLogger(__name__)

JOURNAL_VERSION = 1


@dataclass(frozen=True)
class FrameRecord:
    """One multi-view frame as the journal and the sidecar see it (monotonic seconds)."""

    instant: float  # the presentation time shared by all views
    timestamps: tuple[float, ...]  # [V] each view's capture time
    indices: tuple[int, ...]  # [V] each camera's own frame counter

    def to_json(self) -> dict[str, Any]:
        return {"t": self.instant, "ts": list(self.timestamps), "i": list(self.indices)}


@dataclass(frozen=True)
class TakeHeader:
    """What a take is: its sequence, the files it becomes, and who records it."""

    sequence: str
    views: tuple[str, ...]  # final file names of the views, in the sequence folder
    sidecar: str  # final file name of the sidecar, in the sequence folder
    debug: str | None  # the debug video's path relative to the sequence folder, if any
    fps: float  # the nominal rate given to the encoders
    pid: int = field(default_factory=os.getpid)
    host: str = field(default_factory=socket.gethostname)
    created: str = field(default_factory=lambda: datetime.datetime.now(datetime.timezone.utc).isoformat())

    def to_json(self) -> dict[str, Any]:
        return {"take": JOURNAL_VERSION, **asdict(self), "views": list(self.views)}

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> TakeHeader:
        if not isinstance(entry, dict) or not isinstance(entry.get("views"), list) or not entry["views"]:
            raise ValueError("not a take header (an object listing the views)")
        return cls(
            sequence=str(entry["sequence"]),
            views=tuple(str(v) for v in entry["views"]),
            sidecar=str(entry["sidecar"]),
            debug=entry.get("debug"),
            fps=float(entry["fps"]),
            pid=int(entry["pid"]),
            host=str(entry["host"]),
            created=str(entry["created"]),
        )


@dataclass
class JournalContents:
    """A journal read back: every complete line up to the first damaged one."""

    header: TakeHeader
    metadata: dict[str, Any]
    frames: list[FrameRecord]
    end: dict[str, Any] | None  # the final metadata, present when the recording stopped normally
    damaged_line: int | None = None  # 1-based number of the first unreadable line (a torn last line)


# flock's answers meaning "no lock can be taken here" (not "someone holds it"): a file
# system without locks, a lock manager that is not running (NFS: ENOLCK), or a descriptor
# the file system will not lock exclusively (NFS wants write access: EBADF).
_NO_LOCK_ERRNOS = (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS, errno.EBADF)


def _lock(fd: int) -> bool | None:
    """Try to take the exclusive lock: True when taken, False when another process holds it,
    None where no lock can be taken (the caller decides by pid and host)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as exc:
        if exc.errno in _NO_LOCK_ERRNOS:
            return None
        raise
    return True


class TakeJournal:
    """Writes the journal of a new take at ``path`` (which must not exist) and holds its lock.

    ``path``'s folder must belong to this recording (a take folder it created): the journal
    is made, locked and given its header under a temporary name there, then renamed to
    ``path``, so that whoever finds ``path`` finds it locked and with its header.
    """

    def __init__(self, path: Path, header: TakeHeader, sync_interval: float = 0.5) -> None:
        self.path = path
        self.header = header
        self.sync_interval = sync_interval
        self._last_sync: float | None = None
        if os.path.lexists(path):
            raise CaptureError(f"{path} exists: another recording owns this take")
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except OSError as exc:
            name_error(exc, path, tmp)
            raise
        self._fh = os.fdopen(fd, "w", encoding="utf-8")
        try:
            if _lock(fd) is False:  # nobody else knows the temporary: never expected
                raise CaptureError(f"{path} is locked by another process")
            self._append(header.to_json())
            self.sync()
            if os.path.lexists(path):  # the folder is this recording's: only a stray process gets here
                raise CaptureError(f"{path} exists: another recording owns this take")
            os.rename(tmp, path)  # the lock and the open file go with it
        except BaseException as exc:
            with contextlib.suppress(OSError):
                self._fh.close()
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            name_error(exc, path, tmp)
            raise
        fsync_directory(path.parent)

    def _append(self, entry: dict[str, Any]) -> None:
        try:
            self._fh.write(json.dumps(entry, separators=(",", ":")) + "\n")
        except OSError as exc:  # a write on a descriptor names no file
            name_error(exc, self.path)
            raise

    def describe(self, metadata: dict[str, Any]) -> None:
        """Record the sidecar fields known before the first frame (names, cameras, tolerance)."""
        self._append({"metadata": metadata})
        self.sync()

    def add_frame(self, frame: FrameRecord) -> None:
        """Append one frame (to the OS at once); fsync when ``sync_interval`` seconds of frames are pending."""
        self._append(frame.to_json())
        try:
            self._fh.flush()  # a few dozen bytes: cheap, and kill -9 then loses no journaled frame
        except OSError as exc:
            name_error(exc, self.path)
            raise
        if self._last_sync is None:
            self._last_sync = frame.instant
        elif frame.instant - self._last_sync >= self.sync_interval:
            self._last_sync = frame.instant
            self.sync()

    def end(self, metadata: dict[str, Any]) -> None:
        """Record the final sidecar fields: the recording stopped normally."""
        self._append({"end": metadata})
        self.sync()

    def sync(self) -> None:
        """Hand the pending lines to the OS and make them durable."""
        try:
            self._fh.flush()
            os.fsync(self._fh.fileno())
        except OSError as exc:
            name_error(exc, self.path)
            raise

    def close(self) -> None:
        """Close the journal, releasing the lock (the take is finished or abandoned)."""
        with contextlib.suppress(OSError):
            self._fh.close()


class TakeLock:
    """The lock of an existing take's journal, held while it is recovered."""

    def __init__(self, fd: int, locked: bool) -> None:
        self.fd = fd
        self.locked = locked  # False where no lock could be taken: liveness came from pid and host

    def release(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)  # closing the descriptor releases the flock

    def __enter__(self) -> TakeLock:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.release()


def _open_to_lock(path: Path) -> int:
    """A descriptor on ``path`` for the exclusive lock: read-write where allowed (NFS grants an
    exclusive lock only to a writer), else read-only (a local file system locks it anyway)."""
    try:
        return os.open(path, os.O_RDWR)
    except OSError as exc:
        if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
    return os.open(path, os.O_RDONLY)


def lock_take_journal(path: Path, header: TakeHeader | None) -> TakeLock | None:
    """Lock a take's journal for recovery; None when the take is live (its recorder runs).

    Where no lock can be taken (a file system without locks, or NFS with a journal this
    process may not write), a take is live when it was recorded on this host by a process
    that still runs, or on another host (which cannot be checked from here). A journal
    without a ``header`` has no recorder to ask: the caller decides first that it is not
    one being created (see :func:`~timecontrast.capture.recovery.recover_take`).
    """
    try:
        fd = _open_to_lock(path)
    except FileNotFoundError:
        return None  # finished or removed meanwhile
    try:
        taken = _lock(fd)
    except BaseException as exc:
        os.close(fd)
        name_error(exc, path)
        raise
    if taken is True:
        return TakeLock(fd, locked=True)
    if taken is None and (header is None or (header.host == socket.gethostname() and not pid_alive(header.pid))):
        return TakeLock(fd, locked=False)
    os.close(fd)
    return None


def _frame(entry: dict[str, Any], num_views: int) -> FrameRecord:
    timestamps, indices = entry["ts"], entry["i"]
    if len(timestamps) != num_views or len(indices) != num_views:
        raise ValueError(f"{len(timestamps)} views, expected {num_views}")
    return FrameRecord(float(entry["t"]), tuple(float(t) for t in timestamps), tuple(int(i) for i in indices))


def _fields(value: Any) -> dict[str, Any]:
    """Sidecar fields: an object whose ``views``, when present, is a list of objects."""
    if not isinstance(value, dict):
        raise TypeError(f"sidecar fields are a {type(value).__name__}, not an object")
    views = value.get("views")
    if views is not None and not (isinstance(views, list) and all(isinstance(v, dict) for v in views)):
        raise TypeError("'views' is not a list of objects")
    return dict(value)


def _apply(contents: JournalContents, entry: dict[str, Any]) -> None:
    if not isinstance(entry, dict):
        raise TypeError(f"a {type(entry).__name__}, not an object")
    if "t" in entry:
        contents.frames.append(_frame(entry, len(contents.header.views)))
    elif "metadata" in entry:
        contents.metadata = _fields(entry["metadata"])
    elif "end" in entry:
        contents.end = _fields(entry["end"])


def read_journal(path: Path) -> JournalContents | None:
    """The journal at ``path``; None when it has no readable header (nothing was recorded).

    Reading stops at the first line that is not a complete, well-formed entry: after a
    crash that is the torn last line, and everything before it is kept.
    """
    try:
        lines = path.read_bytes().split(b"\n")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CaptureError(f"{path}: cannot read the journal of an interrupted recording ({exc.strerror})") from None
    torn = lines.pop()  # b"" when the journal ends with a newline, else a line the crash cut short
    contents: JournalContents | None = None
    for number, line in enumerate(lines, 1):
        try:
            entry = json.loads(line)
            if contents is None:
                contents = JournalContents(TakeHeader.from_json(entry), {}, [], None)
            else:
                _apply(contents, entry)
        except (ValueError, KeyError, TypeError) as exc:
            logger.warning("%s: line %d is damaged (%s); it and the lines after it are ignored", path, number, exc)
            if contents is not None:
                contents.damaged_line = number
            return contents
    if contents is not None and torn:
        contents.damaged_line = len(lines) + 1
    return contents
