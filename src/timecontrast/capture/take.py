"""A take: one sequence while it is recorded, and how it becomes the finished files.

While recording, everything of sequence ``<seq>`` lives in a hidden folder beside where
its files will go (hidden, so ``tcn convert`` never reads a recording in progress)::

    <seq_dir>/.<seq>.recording/
        journal.jsonl   header, metadata and one line per multi-view frame (journal.py)
        view0.mp4 ...   one fragmented mp4 per view, readable up to its last complete fragment
        debug.mp4       the side-by-side video of --debug_video

:func:`finalise_take` turns it into the finished sequence, the same way after a normal
stop and after a crash: each view's first N frames are copied (not re-encoded) into an
ordinary mp4 ``<seq>_view<k>.mp4``, the sidecar ``<seq>_timestamps.json`` is written
from the frames' records, each file atomically and durably, and the take folder is
removed, journal first. If it is interrupted, the take is still whole and the next
attempt starts over.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from timecontrast.capture.journal import FrameRecord, TakeHeader
from timecontrast.errors import CaptureError, TimeContrastError
from timecontrast.io.files import fsync_directory, write_text
from timecontrast.io.video import remux_video

logger = logging.getLogger(__name__)

SYNC_INTERVAL_S = 0.5  # journal and videos are made durable this often while recording (seconds)
JOURNAL_NAME = "journal.jsonl"


def journal_file(take: Path) -> Path:
    return take / JOURNAL_NAME


def view_file(take: Path, view: int) -> Path:
    """The fragmented mp4 of ``view`` while it is recorded."""
    return take / f"view{view}.mp4"


def debug_file(take: Path) -> Path:
    return take / "debug.mp4"


def debug_target(take: Path, header: TakeHeader) -> Path | None:
    """Where the finished debug video goes (``header.debug`` is relative to the sequence folder)."""
    if header.debug is None:
        return None
    return Path(os.path.normpath(take.parent / header.debug))


def error_line(exc: BaseException) -> str:
    """What went wrong, in one line for the user: ``<path>: <cause>`` for the file system's
    errors (without ``[Errno N]``), the message of ours, the type and message of others."""
    if isinstance(exc, OSError) and exc.strerror:
        names = [name for name in (exc.filename, exc.filename2) if name is not None]
        where = [os.fsdecode(name) if isinstance(name, str | bytes) else str(name) for name in names]
        return f"{' -> '.join(where)}: {exc.strerror}" if where else exc.strerror
    if isinstance(exc, TimeContrastError):
        return str(exc) or type(exc).__name__
    return repr(exc)


def measured_fps(frames: Sequence[FrameRecord]) -> float:
    """Multi-view frames per second from the first to the last (0 with fewer than two)."""
    if len(frames) < 2 or frames[-1].instant <= frames[0].instant:
        return 0.0
    return (len(frames) - 1) / (frames[-1].instant - frames[0].instant)


def build_sidecar(view_names: Sequence[str], frames: Sequence[FrameRecord], metadata: dict[str, Any]) -> dict:
    """The sidecar document of ``frames`` (at least one); ``metadata`` adds fields and per-view entries."""
    start = frames[0].instant
    metadata = dict(metadata)
    views = [dict(v) for v in metadata.pop("views", [{} for _ in view_names])]
    if len(views) != len(view_names):
        raise CaptureError(f"the sidecar fields describe {len(views)} views of a sequence of {len(view_names)}")
    for k, view in enumerate(views):
        view["file"] = view_names[k]
        view["timestamps"] = [round(f.timestamps[k] - start, 6) for f in frames]
        view["camera_frame_index"] = [f.indices[k] for f in frames]
    return {
        "num_views": len(view_names),
        "num_frames": len(frames),
        "fps": round(measured_fps(frames), 4),
        "clock": "seconds; frame_time and each view's timestamps are relative to start_monotonic",
        "start_monotonic": round(start, 6),
        **metadata,
        "frame_time": [round(f.instant - start, 6) for f in frames],
        "views": views,
    }


def _copy_video(src: Path, dst: Path, num_frames: int) -> Path:
    """``src``'s first ``num_frames`` frames into the ordinary mp4 ``dst``; all of them must be there."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    copied = remux_video(src, dst, max_frames=num_frames, durable=True)
    if copied != num_frames:
        dst.unlink(missing_ok=True)
        raise CaptureError(
            f"{dst} was not written: {src} holds {copied} frames where {num_frames} were expected "
            "(it is kept for inspection)"
        )
    return dst


def finalise_take(
    take: Path,
    header: TakeHeader,
    frames: Sequence[FrameRecord],
    metadata: dict[str, Any],
    debug_frames: int = 0,
) -> list[Path]:
    """Turn take folder ``take`` into the finished sequence of its first ``len(frames)`` frames.

    Returns the files written: the views, the debug video (its first ``debug_frames``
    frames, when it has any), then the sidecar. On failure the take folder is left as
    it was (a later attempt starts over) and the error is raised.
    """
    directory = take.parent
    written: list[Path] = []
    try:
        for k, name in enumerate(header.views):
            written.append(_copy_video(view_file(take, k), directory / name, len(frames)))
        target = debug_target(take, header)
        if target is not None and debug_frames > 0:
            written.append(_copy_video(debug_file(take), target, debug_frames))
        document = build_sidecar(header.views, frames, metadata)
        written.append(write_text(directory / header.sidecar, json.dumps(document, indent=1) + "\n", durable=True))
    except BaseException:
        for path in written:  # a sequence's finished files are all there or none
            path.unlink(missing_ok=True)
        raise
    remove_take(take)
    return written


def remove_take(take: Path) -> None:
    """Delete a take folder, its journal first (a take without a journal holds nothing to recover)."""
    journal_file(take).unlink(missing_ok=True)
    shutil.rmtree(take, ignore_errors=True)
    fsync_directory(take.parent)
