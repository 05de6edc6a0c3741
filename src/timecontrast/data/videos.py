"""Multi-view sequences stored as videos: ``<seq>_view<k>.<ext>``, one file per view.

Views are ordered by their number (``view10`` after ``view2``; the original sorted
file names, so ``view10`` came before ``view2``). The sequence name is the video path
relative to the input directory without the view suffix, e.g. ``train/pour_03`` for
``INPUT/train/pour_03_view1.mp4``.

Videos are decoded sequentially (no per-frame seeking). :class:`VideoSequence` gives
random access by decoding forward from the last frame read, restarting when asked for
an earlier frame: fine for conversion and inspection, too slow for training (convert
to records first).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np

from timecontrast.data.folders import walk_folder
from timecontrast.data.layout import state_path_of
from timecontrast.data.sequence import check_index
from timecontrast.errors import DataError, VideoError
from timecontrast.io.jpeg import encode_jpeg
from timecontrast.io.video import VIDEO_EXTENSIONS, VideoInfo, iter_video_frames, probe_video

logger = logging.getLogger(__name__)

# Searched in each file name; group 1 is the view number. The rest of the name before
# the match is the sequence name. Accepts _view0, _view_0, _view00 (the original's
# default `_view[_]*[0]+[.].*` matched the view-0 file name the same way).
DEFAULT_VIEW_PATTERN = r"_view_*(\d+)\.[^.]+$"


def compile_view_pattern(view_pattern: str) -> re.Pattern[str]:
    """The compiled ``--view_pattern``; it must capture the view number in a group."""
    try:
        pattern = re.compile(view_pattern)
    except re.error as exc:
        raise DataError(f"--view_pattern {view_pattern!r} is not a valid regular expression ({exc})") from None
    if pattern.groups < 1:
        raise DataError(
            f"--view_pattern {view_pattern!r} must capture the view number in a group, e.g. {DEFAULT_VIEW_PATTERN!r}"
        )
    return pattern


def short_video_error(path: Path, decoded: int, promised: int) -> VideoError:
    """The error for a video that decodes to fewer frames than its container promises."""
    return VideoError(
        f"{path}: ends after {decoded} decodable frames, but its header promises {promised}; "
        "the file is damaged or truncated, re-encode it"
    )


class VideoSequence:
    """A multi-view sequence made of one video file per view (``paths[v]`` films view v).

    ``length`` is the shortest view's frame count (views are cut to a common length).
    """

    def __init__(self, name: str, paths: Sequence[str | os.PathLike]) -> None:
        if not paths:
            raise DataError(f"sequence '{name}': no view videos given")
        self.name = name
        self.paths = [Path(p) for p in paths]
        self._cursors: dict[int, tuple[Generator[np.ndarray, None, None], int, np.ndarray | None]] = {}

    @property
    def num_views(self) -> int:
        return len(self.paths)

    @cached_property
    def infos(self) -> list[VideoInfo]:
        """Frame count, fps and size of each view (read from the containers, not decoded)."""
        return [probe_video(p) for p in self.paths]

    @property
    def view_lengths(self) -> list[int]:
        return [info.num_frames for info in self.infos]

    @property
    def length(self) -> int:
        return min(self.view_lengths)

    @property
    def fps(self) -> float:
        return self.infos[0].fps

    @property
    def frame_size(self) -> tuple[int, int]:
        """``(height, width)`` of view 0."""
        return self.infos[0].height, self.infos[0].width

    # ------------------------------------------------------------------ random access
    def frame(self, view: int, t: int) -> np.ndarray:
        """Frame ``t`` of ``view``, ``[H, W, 3]`` uint8 (decodes forward from the last read)."""
        check_index(self, view, t)
        it, pos, last = self._cursors.get(view, (None, 0, None))
        if it is not None and t == pos - 1 and last is not None:
            return last
        if it is None or t < pos:
            if it is not None:
                it.close()
            it, pos, last = iter_video_frames(self.paths[view]), 0, None
        try:
            while pos <= t:
                last = next(it)
                pos += 1
        except StopIteration:
            self._cursors.pop(view, None)
            raise short_video_error(self.paths[view], pos, self.view_lengths[view]) from None
        assert last is not None  # the loop ran: frame t was decoded
        self._cursors[view] = (it, pos, last)
        return last

    def frames(self, view: int, timesteps) -> np.ndarray:
        """``[N, H, W, 3]`` uint8; ascending ``timesteps`` decode each frame once."""
        return np.stack([self.frame(view, int(t)) for t in timesteps])

    def jpeg(self, view: int, t: int, quality: int = 90) -> bytes:
        """Frame ``t`` of ``view`` encoded as JPEG (videos store no JPEGs; this encodes one)."""
        return encode_jpeg(self.frame(view, t), quality)

    def close(self) -> None:
        for it, _, _ in self._cursors.values():
            it.close()
        self._cursors.clear()

    # ------------------------------------------------------------ labels and state
    @cached_property
    def state(self):
        """The ``../state/<name>.npz`` sidecar of a ``tcn synth`` dataset's ``videos/`` folder."""
        path = state_path_of(self.paths[0], Path(self.name).name)
        if path is None or not path.is_file():
            return None
        from timecontrast.data.state import load_state

        return load_state(path)

    @property
    def labels(self) -> dict[str, np.ndarray] | None:
        state = self.state
        return dict(state.labels) if state is not None and state.labels else None

    def __repr__(self) -> str:
        return f"VideoSequence({self.name!r}, views={self.num_views}, paths={[str(p) for p in self.paths]})"

    def __del__(self) -> None:
        for it, _, _ in getattr(self, "_cursors", {}).values():
            it.close()


@dataclass(frozen=True)
class SequenceProblem:
    """A group of view files that does not form a usable sequence, and why."""

    name: str
    message: str


def scan_video_sequences(
    input_dir: str | os.PathLike,
    expected_views: int | None = None,
    view_pattern: str = DEFAULT_VIEW_PATTERN,
) -> tuple[list[VideoSequence], list[SequenceProblem]]:
    """The video sequences under ``input_dir`` (recursively, following links), sorted by
    name, and the groups of files that do not form one (a missing view, a duplicate
    view, a wrong number of views). Nothing is decoded."""
    root = Path(os.path.expanduser(str(input_dir)))
    if not root.is_dir():
        raise DataError(f"{input_dir}: no such directory; --input_dir must be a folder of <seq>_view<k>.mp4 videos")
    pattern = compile_view_pattern(view_pattern)
    groups: dict[str, dict[int, list[Path]]] = {}
    # Each real folder once (a link loop must not multiply sequences); hidden files and
    # folders (temporaries, recordings in progress) are skipped.
    for dirpath, filenames in walk_folder(root):
        for fname in filenames:
            if not fname.lower().endswith(VIDEO_EXTENSIONS):
                continue
            match = pattern.search(fname)
            if match is None:
                continue
            path = Path(dirpath) / fname
            prefix = fname[: match.start()]
            name = (path.parent / prefix).relative_to(root).as_posix()
            groups.setdefault(name, {}).setdefault(int(match.group(1)), []).append(path)

    sequences: list[VideoSequence] = []
    problems: list[SequenceProblem] = []
    for name in sorted(groups):
        views = groups[name]
        duplicates = {v: ps for v, ps in views.items() if len(ps) > 1}
        missing = sorted(set(range(max(views) + 1)) - set(views))
        if duplicates:
            v, ps = min(duplicates.items())
            msg = f"view {v} is given by several files {sorted(p.name for p in ps)}; keep one of them"
        elif missing:
            msg = (
                f"view(s) {missing} missing (found views {sorted(views)} in {views[max(views)][0].parent}); "
                "views must be numbered 0..N-1; add the missing videos or remove the sequence"
            )
        elif expected_views is not None and len(views) != expected_views:
            msg = (
                f"has {len(views)} views but --expected_views is {expected_views} "
                f"(files: {[views[v][0].name for v in sorted(views)]})"
            )
        else:
            sequences.append(VideoSequence(name, [views[v][0] for v in sorted(views)]))
            continue
        problems.append(SequenceProblem(name, msg))
    if not groups:
        logger.warning("%s: no videos named <seq>_view<k>.<ext> (pattern %r)", root, view_pattern)
    return sequences, problems


def _some(names: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"


class _Counted(Protocol):
    """A sequence as :func:`common_view_count` sees it (a video sequence or any conversion source)."""

    name: str

    @property
    def num_views(self) -> int: ...


def common_view_count(input_dir: str | os.PathLike, sequences: Sequence[_Counted]) -> int | None:
    """The number of views every one of ``sequences`` has (None when there is none).

    Raises :class:`DataError` naming the sequences of each count when they disagree: a
    dataset whose sequences film different numbers of views is a mistake more often than
    not, and ``--expected_views`` (0: any number) says what to do with it.
    """
    names_by_count: dict[int, list[str]] = {}
    for seq in sequences:
        names_by_count.setdefault(seq.num_views, []).append(seq.name)
    if len(names_by_count) <= 1:
        return next(iter(names_by_count), None)
    counts = "; ".join(f"{n} views: {_some(names)}" for n, names in sorted(names_by_count.items()))
    raise DataError(
        f"{input_dir}: the sequences do not all have the same number of views ({counts}); "
        "add the missing videos, or set --expected_views N to convert only the sequences with N views "
        "(0: each with the views it has)"
    )


def find_video_sequences(
    input_dir: str | os.PathLike,
    expected_views: int | None = None,
    view_pattern: str = DEFAULT_VIEW_PATTERN,
) -> list[VideoSequence]:
    """Every video sequence under ``input_dir`` sorted by name; raises :class:`DataError`
    listing every group of files that does not form a sequence, or when there is none."""
    sequences, problems = scan_video_sequences(input_dir, expected_views, view_pattern)
    if problems:
        lines = "\n".join(f"  {p.name}: {p.message}" for p in problems)
        raise DataError(f"{input_dir}: {len(problems)} sequence(s) cannot be used:\n{lines}")
    if not sequences:
        raise DataError(
            f"{input_dir}: holds no videos named <seq>_view<k>.<ext> ({', '.join(VIDEO_EXTENSIONS)}); "
            "check --input_dir and --view_pattern"
        )
    return sequences
