"""Scanning data folders as users leave them: links followed, each real folder and file once.

A link loop (``a/loop -> ..``) or two links to one folder must not multiply the data, and
a file reached through several links counts once; hidden files (temporaries) are skipped.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

log = logging.getLogger(__name__)


def _file_key(path: str | os.PathLike) -> tuple[int, int]:
    """``(st_dev, st_ino)``: one key per real file or folder, whatever links lead to it."""
    st = os.stat(path)
    return st.st_dev, st.st_ino


def walk_folder(
    root: str | os.PathLike,
    *,
    skip_hidden_folders: bool = True,
    warn: Callable[[str], None] | None = None,
    on_error: Callable[[OSError], None] | None = None,
) -> Iterator[tuple[Path, list[str]]]:
    """``(folder, sorted file names)`` of every folder under ``root``, top-down, following
    links, each real folder once.

    A link to a folder already scanned (a link loop, or a second link to one folder) is
    not followed again: ``warn`` (default: the log) says so. Hidden files (names starting
    with ``.``: temporaries) are left out, hidden folders too unless ``skip_hidden_folders``
    is False. A folder that cannot be listed raises its OSError, or goes to ``on_error``.
    """
    warn = warn or log.warning
    seen = {_file_key(root)}

    def fail(exc: OSError) -> None:
        if on_error is None:
            raise exc
        on_error(exc)

    for dirpath, dirnames, filenames in os.walk(Path(root), followlinks=True, onerror=fail):
        here = Path(dirpath)
        kept = []
        for name in sorted(dirnames):
            if skip_hidden_folders and name.startswith("."):
                continue
            try:
                key = _file_key(here / name)
            except OSError as exc:
                fail(exc)
                continue
            if key in seen:
                warn(
                    f"{here / name}: leads to {os.path.realpath(here / name)}, a folder already scanned "
                    "(a link loop or a second link to one folder); not followed again"
                )
                continue
            seen.add(key)
            kept.append(name)
        dirnames[:] = kept
        yield here, sorted(f for f in filenames if not f.startswith("."))


def _is_direct(path: Path) -> bool:
    """Whether ``path`` reaches its file without going through a link."""
    return os.path.realpath(path) == os.path.abspath(path)


def unique_files(paths: Iterable[Path], warn: Callable[[str], None] | None = None) -> list[Path]:
    """``paths`` (in their order) without a second path to the same file: of the paths to
    one file the direct one (no link on the way) is kept, else the first, and ``warn``
    (default: the log) names those dropped, one line per file. A path that cannot be
    examined (a dangling link) is kept, for its reader to report."""
    warn = warn or log.warning
    paths = list(paths)
    groups: dict[tuple[int, int] | Path, list[Path]] = {}
    for path in paths:
        try:
            key: tuple[int, int] | Path = _file_key(path)
        except OSError:
            key = path
        groups.setdefault(key, []).append(path)
    kept = set()
    for group in groups.values():
        keep = next((p for p in group if _is_direct(p)), group[0])
        kept.add(keep)
        others = [p for p in group if p is not keep]
        if len(others) == 1:
            warn(f"{others[0]}: the same file as {keep} (reached through a link); counted once")
        elif others:
            warn(f"{keep}: reached {len(others)} more times through links ({others[0]}, ...); counted once")
    return [p for p in paths if p in kept]
