"""Atomic output files: the one way this project writes a file that must never be seen half done.

Every output is written under a hidden temporary name in the target's folder and renamed
over the target only when complete (a rename within a folder is atomic on POSIX). On any
failure -- an exception, a full disk, Ctrl-C -- the temporary file is removed and the
target is untouched. ``durable=True`` (results: checkpoints, records, evaluation JSON,
configs) also fsyncs the file before the rename and the folder after it, so that a power
loss leaves either the old file or the new one.

Temporary names are ``.<target name>.<pid>.<random>.tmp[<suffix>]``: hidden, so directory
scans skip them, and carrying the writer's pid, so that :func:`remove_stale_temporaries`
can tell the leftovers of a killed process (``kill -9`` runs no cleanup) from the files of
a live one.

Three forms, for three kinds of writer::

    with atomic_write(path, "w") as fh:          # we write the bytes ourselves
        fh.write(text)
    with atomic_path(path) as tmp:               # a library writes by file name
        figure.savefig(tmp)
    pending = PendingFile(path, durable=True)    # a writer that stays open (records, videos)
    ...; pending.commit()   or   pending.discard()
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

_UMASK = os.umask(0o022)  # the process umask (there is no getter); restored at once
os.umask(_UMASK)

FILE_MODE = 0o666 & ~_UMASK
"""The permissions of a file made by an ordinary ``open()`` (mkstemp's own are 0600)."""

_TEMPORARY = re.compile(r"^\.(?P<target>.+)\.(?P<pid>\d+)\.[A-Za-z0-9_]+\.tmp(\.[A-Za-z0-9]+)?$")


def fsync_directory(directory: str | os.PathLike) -> None:
    """Make the entries of ``directory`` (a rename, a new file) durable."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory descriptors
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - file systems that do not support it
        pass
    finally:
        os.close(fd)


def name_error(exc: BaseException, path: str | os.PathLike, temporary: str | os.PathLike | None = None) -> None:
    """Make an ``OSError`` raised while writing ``path`` name ``path``, for the message a user
    sees: a write on a descriptor names no file ("[Errno 28] No space left on device"), and
    a library writing to the hidden ``temporary`` names that."""
    if not isinstance(exc, OSError):
        return
    name = None if exc.filename is None else os.fsdecode(exc.filename)
    tmp = None if temporary is None else os.fspath(temporary)
    if name is None or name == tmp:
        exc.filename = os.fspath(path)
    elif tmp is not None and name.startswith(tmp + os.sep):  # inside a temporary folder
        exc.filename = os.path.join(os.fspath(path), name[len(tmp) + 1 :])
    else:
        return
    if exc.filename2 is not None:  # a rename's second path: the target, now named first
        exc.filename2 = None


class PendingFile:
    """A new hidden temporary file beside ``path`` that becomes ``path`` on :meth:`commit`.

    ``tmp`` is the temporary's path; ``fd`` an open descriptor on it (closed by
    :meth:`close_fd`, :meth:`commit` or :meth:`discard`). ``suffix`` is appended after
    ``.tmp`` for libraries that pick a format from the extension. The parent folder is
    created if needed. Usable as a context manager: commit on success, discard on any
    exception.
    """

    def __init__(self, path: str | os.PathLike, *, durable: bool = False, suffix: str = "") -> None:
        self.path = Path(path)
        self.durable = durable
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd, tmp = tempfile.mkstemp(
                dir=self.path.parent, prefix=f".{self.path.name}.{os.getpid()}.", suffix=".tmp" + suffix
            )
        except OSError as exc:  # name the file the user asked for, not our temporary
            exc.filename = os.fspath(self.path)
            raise
        self.tmp = Path(tmp)
        self.fd: int | None = fd
        try:
            os.fchmod(fd, FILE_MODE)
        except BaseException:
            self.discard()
            raise
        self.done = False

    def take_fd(self) -> int:
        """Hand the open descriptor over to the caller, who closes it (``fd`` becomes None)."""
        if self.fd is None:
            raise ValueError(f"{self.path}: the temporary file's descriptor was already closed or handed over")
        fd, self.fd = self.fd, None
        return fd

    def close_fd(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)

    def commit(self) -> Path:
        """Rename the temporary file to ``path`` (fsyncing first if durable); remove it on failure."""
        if self.done:
            return self.path
        try:
            self.close_fd()
            if self.durable:
                fd = os.open(self.tmp, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            os.replace(self.tmp, self.path)
        except BaseException as exc:
            self.discard()
            name_error(exc, self.path, self.tmp)
            raise
        self.done = True
        if self.durable:
            fsync_directory(self.path.parent)
        return self.path

    def discard(self) -> None:
        """Remove the temporary file; ``path`` is left as it was."""
        self.done = True
        with contextlib.suppress(OSError):
            self.close_fd()
        with contextlib.suppress(OSError):
            self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> PendingFile:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()
            name_error(exc, self.path, self.tmp)


@contextmanager
def atomic_path(path: str | os.PathLike, *, durable: bool = False, keep_suffix: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``, renamed to ``path`` when the block succeeds.

    For libraries that write by file name. ``keep_suffix``: the temporary name ends with
    ``path``'s suffix (``.png``, ``.mp4``), for libraries that choose the format from it.
    """
    target = Path(path)
    with PendingFile(target, durable=durable, suffix=target.suffix if keep_suffix else "") as pending:
        pending.close_fd()
        yield pending.tmp


@contextmanager
def atomic_write(
    path: str | os.PathLike, mode: str = "wb", *, durable: bool = False, encoding: str | None = None
) -> Iterator[IO[Any]]:
    """Yield a file object open on a temporary beside ``path``; renamed to ``path`` on success."""
    if "b" not in mode and encoding is None:
        encoding = "utf-8"
    with PendingFile(path, durable=durable) as pending, os.fdopen(pending.take_fd(), mode, encoding=encoding) as fh:
        yield fh
        fh.flush()


def write_bytes(path: str | os.PathLike, data: bytes | bytearray | memoryview, *, durable: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_write(path, "wb", durable=durable) as fh:
        fh.write(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str, *, durable: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_write(path, "w", durable=durable) as fh:
        fh.write(text)
    return Path(path)


def temporary_directory(parent: str | os.PathLike, label: str) -> Path:
    """A new hidden folder ``.<label>.<pid>.<random>.tmp`` in ``parent``, for outputs that are
    whole folders (moved into place by the caller, removed by it on failure). Those a killed
    process left behind are removed first."""
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    for entry in os.scandir(parent):
        match = _TEMPORARY.match(entry.name)
        stale = match and match.group("target") == label and not pid_alive(int(match.group("pid")))
        if stale and entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
    try:
        return Path(tempfile.mkdtemp(dir=parent, prefix=f".{label}.{os.getpid()}.", suffix=".tmp"))
    except OSError as exc:  # name the folder the user gave, not our temporary
        exc.filename, exc.filename2 = os.fspath(parent), None
        raise


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (this process counts)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def stale_temporaries(directory: str | os.PathLike, *, any_owner: bool = False) -> list[Path]:
    """The temporaries in ``directory`` left by processes that died before renaming them.

    A temporary of a live process on this machine is not stale; ``any_owner=True`` (for a
    caller that owns the folder, e.g. a training run holding its logdir lock) counts
    every temporary except this process's own.
    """
    found = []
    try:
        entries = list(os.scandir(Path(directory)))
    except (FileNotFoundError, NotADirectoryError):
        return []
    for entry in entries:
        match = _TEMPORARY.match(entry.name)
        if not match or not entry.is_file(follow_symlinks=False):
            continue
        pid = int(match.group("pid"))
        if pid == os.getpid():
            continue
        if any_owner or not pid_alive(pid):
            found.append(Path(entry.path))
    return sorted(found)


def remove_stale_temporaries(directory: str | os.PathLike, *, any_owner: bool = False) -> list[Path]:
    """Remove :func:`stale_temporaries` of ``directory``; returns what was removed."""
    removed = []
    for path in stale_temporaries(directory, any_owner=any_owner):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed
