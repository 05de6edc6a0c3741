"""The input formats of ``tcn convert --from FORMAT`` and ``tcn inspect``: an explicit registry.

Each module defines one :class:`~timecontrast.data.formats.base.SourceFormat` as ``FORMAT``;
:data:`FORMATS` maps its name to it. :func:`detect_format` finds the format of a path when
exactly one of them recognises it. The interface is :mod:`timecontrast.data.formats.base`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from timecontrast.data.formats import frames, lerobot, rlds, tcc, videos
from timecontrast.data.formats.base import SequenceProblem, SourceFormat, SourceSequence
from timecontrast.data.formats.videos import VideosFormat
from timecontrast.data.videos import DEFAULT_VIEW_PATTERN
from timecontrast.errors import DataError

FORMATS: dict[str, SourceFormat] = {
    "videos": videos.FORMAT,
    "frames": frames.FORMAT,
    "tcc": tcc.FORMAT,
    "rlds": rlds.FORMAT,
    "lerobot": lerobot.FORMAT,
}
DEFAULT_FORMAT = "videos"


def get_format(name: str) -> SourceFormat:
    """The format called ``name``; :class:`DataError` listing the known ones otherwise."""
    try:
        return FORMATS[name]
    except KeyError:
        raise DataError(f"--from {name!r}: unknown input format; use one of {', '.join(FORMATS)}") from None


def detected_formats(path: str | os.PathLike) -> list[str]:
    """The names of every format that recognises ``path`` (each :meth:`SourceFormat.detect`
    returns False for a path that does not exist, unless it recognises something else, such
    as a Hub repository id)."""
    root = Path(os.path.expanduser(str(path)))
    return [name for name, fmt in FORMATS.items() if fmt.detect(root)]


def detect_format(path: str | os.PathLike, default: str | None = DEFAULT_FORMAT) -> str:
    """The format of ``path``: the one format that recognises it; ``default`` when none does
    (None: a :class:`DataError`). Several at once is a :class:`DataError` asking for ``--from``."""
    root = Path(os.path.expanduser(str(path)))
    found = detected_formats(root)  # a format may recognise what is not a local path (a Hub id)
    if not found and not root.exists():
        raise DataError(f"{path}: no such file or directory")
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise DataError(
            f"{path}: looks like several input formats ({', '.join(found)}); say which with --from {found[0]}"
        )
    if default is None:
        raise DataError(
            f"{path}: is none of the input formats ({', '.join(FORMATS)}); see docs/data-format.md for each layout"
        )
    return default


def source_format(
    input_path: str | os.PathLike,
    input_format: str | SourceFormat | None,
    view_pattern: str = DEFAULT_VIEW_PATTERN,
    expected_views: int | None = None,
) -> SourceFormat:
    """The format to read ``input_path`` with: the one given (a name or a format), or the one
    detected (``videos`` when none is); ``videos`` with the view pattern and expected views."""
    if isinstance(input_format, SourceFormat):
        return input_format
    name = input_format or detect_format(input_path)
    if name == "videos":
        return VideosFormat(view_pattern, expected_views or None)
    return get_format(name)


def scan_source(
    source: SourceFormat,
    input_path: str | os.PathLike,
    cameras: Sequence[str] | None = None,
    expected_views: int | None = None,
) -> tuple[list[SourceSequence], list[SequenceProblem]]:
    """The sequences of ``input_path`` and those that cannot be converted (a sequence without
    ``expected_views`` views among them); :class:`DataError` when it holds none."""
    root = Path(os.path.expanduser(str(input_path)))
    sequences, problems = source.scan(root, cameras)
    if not sequences and not problems:
        if isinstance(source, VideosFormat):
            raise DataError(
                f"{input_path}: holds no videos named <seq>_view<k>.<ext>; check --input_dir and --view_pattern"
            )
        raise DataError(f"{input_path}: holds no {source.name} sequences ({source.summary}); check --input_dir")
    if expected_views and not isinstance(source, VideosFormat):  # the videos format checks it itself
        kept = []
        for seq in sequences:
            if seq.num_views == expected_views:
                kept.append(seq)
            else:
                message = f"has {seq.num_views} views {seq.view_names} but --expected_views is {expected_views}"
                problems.append(SequenceProblem(seq.name, message))
        sequences = kept
    return sequences, problems


__all__ = [
    "DEFAULT_FORMAT",
    "FORMATS",
    "SourceFormat",
    "detect_format",
    "detected_formats",
    "get_format",
    "scan_source",
    "source_format",
]
