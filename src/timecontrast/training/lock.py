"""A training run owns its logdir: a lock file naming the owner, released however the run ends.

``<logdir>/.tcn-train.lock`` holds the owner's pid, host and start time (JSON) and is
locked with ``fcntl.lockf`` for as long as the run lives. The kernel (or the NFS lock
manager) drops that lock when the process dies in any way, ``kill -9`` included, so a
lock file whose lock is free is stale and is taken over. On a file system without
working locks (``ENOLCK``), the pid and host decide: a live process on this host, or any
process on another host, owns the logdir (the message says how to remove a dead run's
lock by hand).

Under torchrun only rank 0 takes the lock: the other ranks write nothing into the logdir.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import socket
import time
from pathlib import Path
from typing import Any

from timecontrast.errors import TrainingError
from timecontrast.io.files import pid_alive

log = logging.getLogger(__name__)

LOCK_NAME = ".tcn-train.lock"

_held: set[str] = set()  # logdirs locked by this process (POSIX locks do not exclude the same process)


def _owner_text(owner: dict[str, Any]) -> str:
    started = owner.get("started")
    when = f", started {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(started))}" if started else ""
    return f"pid {owner.get('pid', '?')} on {owner.get('host', '?')}{when}"


def _read_owner(fd: int) -> dict[str, Any]:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        data = json.loads(os.read(fd, 4096).decode("utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class LogdirLock:
    """Hold ``<logdir>/.tcn-train.lock`` from :meth:`acquire` to :meth:`release` (or a ``with`` block).

    A second run on the same logdir gets a :class:`TrainingError` naming the owner.
    """

    def __init__(self, logdir: str | os.PathLike) -> None:
        self.logdir = Path(logdir)
        self.path = self.logdir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> LogdirLock:
        key = str(self.logdir.resolve())
        if key in _held:
            raise TrainingError(f"{self.logdir}: this process is already training in this logdir")
        self.logdir.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                previous = self._lock(fd)
            except BaseException:
                os.close(fd)
                raise
            try:  # the owner may have removed the file between our open and our lock: start over
                if os.fstat(fd).st_ino == os.stat(self.path).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
        try:
            if previous.get("pid"):
                log.warning("%s: taking over the stale lock of %s (that run is gone)", self.path, _owner_text(previous))
            owner = {"pid": os.getpid(), "host": socket.gethostname(), "started": round(time.time(), 3)}
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(owner) + "\n").encode("utf-8"), 0)
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        _held.add(key)
        return self

    def _lock(self, fd: int) -> dict[str, Any]:
        """Lock ``fd``; return the previous owner's record (a stale one if not empty)."""
        previous = _read_owner(fd)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EAGAIN):
                raise self._busy(_read_owner(fd) or previous) from None
            if exc.errno != errno.ENOLCK:
                raise
            self._check_without_locks(previous)  # no locks here: pid and host decide
        return previous

    def _busy(self, owner: dict[str, Any]) -> TrainingError:
        return TrainingError(
            f"{self.logdir} is in use by another tcn train ({_owner_text(owner)}); wait for it to finish, "
            "stop it, or train in another --logdir"
        )

    def _check_without_locks(self, owner: dict[str, Any]) -> None:
        if not owner or owner.get("pid") == os.getpid():
            return
        if owner.get("host") == socket.gethostname():
            pid = owner.get("pid")
            if isinstance(pid, int) and pid > 0 and pid_alive(pid):
                raise self._busy(owner)
            return
        raise TrainingError(
            f"{self.logdir} is in use by another tcn train ({_owner_text(owner)}); this file system cannot tell "
            f"whether that run is still alive: if it is not, delete {self.path} and run again"
        )

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        _held.discard(str(self.logdir.resolve()))
        with contextlib.suppress(OSError):
            self.path.unlink()  # while still locked, so that no other run sees a free, half-gone lock
        os.close(fd)

    def __enter__(self) -> LogdirLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
