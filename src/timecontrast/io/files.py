"""Temporary files for atomic writes: written beside the target, renamed over it when complete."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_UMASK = os.umask(0o022)  # the process umask (there is no getter); restored at once
os.umask(_UMASK)


def temporary_file(path: Path, suffix: str = ".tmp") -> tuple[int, Path]:
    """An open descriptor and the name of a new hidden file beside ``path``.

    Hidden (a leading dot) so that directory scans skip it; created with the permissions
    an ordinary ``open()`` would give (mkstemp's own are 0600).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.fchmod(fd, 0o666 & ~_UMASK)
    return fd, Path(tmp)
