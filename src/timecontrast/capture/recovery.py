"""Finishing the takes that a crash, ``kill -9`` or a power loss interrupted.

A recording killed before it could finish leaves its take folder
(``<seq_dir>/.<seq>.recording/``, see :mod:`timecontrast.capture.take`): fragmented
videos readable up to their last complete fragment, and a journal of every frame's
timestamps up to its last flush. :func:`recover_interrupted_takes` finds the takes in a
folder whose recorder is gone (its lock on the journal was released by the kernel) and
turns each into a normal sequence: the frames that every view and the journal hold
(frame ``t`` of each view is journal line ``t``) become ``<seq>_view<k>.mp4`` and the
sidecar, with ``stop_reason: "crashed"`` and a ``recovered`` entry saying what was
found. ``tcn collect`` does this before every recording; from Python::

    from timecontrast.capture import recover_interrupted_takes
    for take in recover_interrupted_takes("videos/pouring/train"):
        print(take.line())
"""

from __future__ import annotations

import datetime
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from timecontrast.capture.journal import JournalContents, lock_take_journal, read_journal
from timecontrast.capture.layout import take_dirs, take_sequence_name
from timecontrast.capture.take import (
    debug_file,
    debug_target,
    error_line,
    finalise_take,
    journal_file,
    remove_take,
    view_file,
)
from timecontrast.errors import TimeContrastError
from timecontrast.io.files import remove_stale_temporaries
from timecontrast.io.video import fragmented_mp4_extent

logger = logging.getLogger(__name__)

# A take folder without a journal, or a journal without a header, this young (seconds)
# may be one being created or removed: it is left alone.
_YOUNG_S = 60.0


@dataclass
class RecoveredTake:
    """What became of one interrupted take."""

    take: Path  # the take folder (gone unless ``error``)
    sequence: str
    num_frames: int = 0  # frames in the finished sequence; 0: nothing was recoverable
    journaled: int = 0  # frames the journal lists
    view_frames: list[int] = field(default_factory=list)  # complete frames in each view's file
    duration: float = 0.0  # seconds from the first to the last frame kept
    files: list[Path] = field(default_factory=list)  # views, debug video, sidecar
    error: str | None = None  # why it could not be finished (the take folder is kept)

    def line(self) -> str:
        """One line for the user."""
        where = f"interrupted recording {self.sequence!r} in {self.take.parent}"
        if self.error is not None:
            return f"could not finish {where}: {self.error}; it is kept in {self.take}"
        if not self.num_frames:
            return f"removed {where}: no frame was complete in every view and the journal"
        return (
            f"recovered {where}: {self.num_frames} frames x {len(self.view_frames)} views "
            f"({self.duration:.1f} s; the journal listed {self.journaled}, the views held {self.view_frames})"
        )


def _complete_fragments(path: Path) -> tuple[int, ...]:
    """The fragment boundaries (frame counts) of ``path``; cuts off the fragment a crash left unfinished."""
    if not path.is_file():
        return ()
    extent = fragmented_mp4_extent(path)
    if extent.num_frames:
        os.truncate(path, extent.size)
    return extent.boundaries


def common_cut(limit: int, boundaries: list[tuple[int, ...]]) -> int:
    """The most frames, at most ``limit``, at which every video can be cut (a boundary of each)."""
    common = set.intersection(*(set(b) for b in boundaries)) if boundaries else set()
    return max((n for n in common if n <= limit), default=0)


def _metadata(contents: JournalContents, view_frames: list[int]) -> dict[str, Any]:
    """The sidecar fields of a recovered take: the final ones if the recording had stopped normally."""
    recovered = {
        "at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "frames_in_journal": len(contents.frames),
        "frames_in_views": view_frames,
    }
    if contents.end is not None:  # stopped normally; only the finishing was interrupted
        return {**contents.end, "recovered": recovered}
    start = {k: v for k, v in contents.metadata.items() if k != "views"}
    views = contents.metadata.get("views", [{} for _ in contents.header.views])
    return {**start, "stop_reason": "crashed", "recovered": recovered, "views": views}


def _remove_stale_temporaries(directory: Path) -> None:
    """Remove what an interrupted finishing left; one that cannot be removed is only hidden clutter."""
    try:
        remove_stale_temporaries(directory)
    except OSError as exc:
        logger.warning("%s: could not remove a leftover temporary file (%s)", directory, exc.strerror or exc)


def _young(path: Path) -> bool:
    """Whether ``path`` changed within :data:`_YOUNG_S` seconds (or is gone: being removed)."""
    try:
        return time.time() - path.stat().st_mtime < _YOUNG_S
    except FileNotFoundError:
        return True


def _journal_less_take(take: Path) -> RecoveredTake | None:
    """A take folder without a journal: just created, being removed, or empty leftovers."""
    if _young(take):
        return None
    remove_take(take)
    return RecoveredTake(take, take_sequence_name(take) or take.name)


def recover_take(take: Path) -> RecoveredTake | None:
    """Finish one take folder; None when its recorder still runs, or may be starting (the
    take is left alone).

    Raises what finishing raises (``OSError``, :class:`TimeContrastError`); the take
    folder is then kept as it was.
    """
    path = journal_file(take)
    if not path.exists():
        return _journal_less_take(take)
    first_look = read_journal(path)
    if first_look is None and _young(path):
        # No header yet: a recorder may be starting (an older version that locked the
        # journal only after creating it, e.g. on a shared folder); locking it now would
        # make it fail, and removing the take would delete its recording.
        return None
    lock = lock_take_journal(path, first_look.header if first_look else None)
    if lock is None:
        return None
    with lock:
        contents = read_journal(path)  # now final: its writer is gone
        result = RecoveredTake(take, contents.header.sequence if contents else take_sequence_name(take) or take.name)
        if contents is None:
            remove_take(take)  # the header never reached the disk: nothing was recorded
            return result
        result.journaled = len(contents.frames)
        boundaries = [_complete_fragments(view_file(take, k)) for k in range(len(contents.header.views))]
        result.view_frames = [b[-1] if b else 0 for b in boundaries]
        # Frame t of every view is journal line t; the views' keyframes fall on the same frames.
        num_frames = common_cut(min(result.journaled, *result.view_frames), boundaries)
        if num_frames == 0:
            remove_take(take)
            return result
        frames = contents.frames[:num_frames]
        debug_frames = 0
        if contents.header.debug:
            debug = _complete_fragments(debug_file(take))
            debug_frames = common_cut(num_frames, [debug])
        target = debug_target(take, contents.header)
        if target is not None:
            _remove_stale_temporaries(target.parent)  # of a finishing that was itself interrupted
        result.files = finalise_take(
            take, contents.header, frames, _metadata(contents, result.view_frames), debug_frames
        )
        result.num_frames = num_frames
        result.duration = frames[-1].instant - frames[0].instant
    return result


def recover_interrupted_takes(directory: str | os.PathLike) -> list[RecoveredTake]:
    """Finish every interrupted take in sequence folder ``directory``; returns what became of each.

    Takes whose recorder still runs are left alone. A take that cannot be finished (a
    full disk, a damaged file) is kept and reported with its ``error``; the others go on.
    """
    directory = Path(directory)
    takes = take_dirs(directory)
    if takes:
        _remove_stale_temporaries(directory)  # of a finishing that was itself interrupted
    results = []
    for take in takes:
        try:
            result = recover_take(take)
        except (OSError, TimeContrastError) as exc:
            result = RecoveredTake(take, take_sequence_name(take) or take.name, error=error_line(exc))
        if result is None:
            logger.debug("%s is being recorded by a running process; left alone", take)
            continue
        logger.debug("%s", result.line())  # the caller reports it (tcn collect prints it)
        results.append(result)
    return results
