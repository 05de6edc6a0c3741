"""Sequences from a path that holds sequence records or videos, whichever it is.

What commands that take "records or videos" (``tcn reward --demo/--episodes``) open:

- a ``.tfrecord`` file, or a folder or glob of them: every sequence in them
  (:class:`~timecontrast.data.records.SequenceRecord`, as ``tcn align`` reads them);
- a video file: a one-view :class:`~timecontrast.data.videos.VideoSequence` of exactly
  that file; ``<seq>_view<k>.mp4`` is named ``<seq>`` (so the ``state/<seq>.npz`` sidecar
  of a ``tcn synth`` dataset is found), a plain ``clip.mp4`` is named ``clip``;
- a glob of video files: each file as above;
- a folder of videos (and no records): every ``<seq>_view<k>.<ext>`` group as one
  multi-view sequence (views ordered by number), and every other video as a one-view
  sequence.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

from timecontrast.data.folders import walk_folder
from timecontrast.data.layout import RECORD_SUFFIX
from timecontrast.data.records import open_sequences
from timecontrast.data.sequence import MultiViewSequence
from timecontrast.data.videos import DEFAULT_VIEW_PATTERN, VideoSequence, compile_view_pattern, scan_video_sequences
from timecontrast.errors import DataError
from timecontrast.io.video import VIDEO_EXTENSIONS


def is_video_file(path: str | os.PathLike) -> bool:
    return str(path).lower().endswith(VIDEO_EXTENSIONS)


def video_file_sequence(path: str | os.PathLike) -> VideoSequence:
    """One video file as a one-view sequence, named without its ``_view<k>`` suffix."""
    p = Path(path)
    match = compile_view_pattern(DEFAULT_VIEW_PATTERN).search(p.name)
    name = p.name[: match.start()] if match is not None and match.start() > 0 else p.stem
    return VideoSequence(name, [p])


def _folder_videos(root: Path) -> list[MultiViewSequence]:
    grouped, problems = scan_video_sequences(root)
    if problems:
        lines = "; ".join(f"{p.name}: {p.message}" for p in problems)
        raise DataError(f"{root}: {len(problems)} video sequence(s) cannot be used ({lines})")
    pattern = compile_view_pattern(DEFAULT_VIEW_PATTERN)
    plain: list[MultiViewSequence] = [
        video_file_sequence(folder / f)
        for folder, names in walk_folder(root)
        for f in names
        if is_video_file(f) and pattern.search(f) is None
    ]
    return [*grouped, *plain]


def open_sequence_source(path_or_glob: str | os.PathLike) -> list[MultiViewSequence]:
    """The sequences a path, folder or glob of records or videos holds (see the module doc).

    Raises:
        DataError: nothing there, nothing usable there, or a folder of videos whose
            ``<seq>_view<k>`` files do not form sequences.
    """
    text = os.path.expanduser(str(path_or_glob))
    p = Path(text)
    if p.is_file():
        return [video_file_sequence(p)] if is_video_file(p) else list(open_sequences(p))
    if p.is_dir():
        has_records = any(f.endswith(RECORD_SUFFIX) for _, names in walk_folder(p) for f in names)
        sequences: list[MultiViewSequence] = list(open_sequences(p)) if has_records else _folder_videos(p)
        if not sequences:
            raise DataError(
                f"{path_or_glob}: holds no {RECORD_SUFFIX} files and no videos ({', '.join(VIDEO_EXTENSIONS)}); "
                "check the path"
            )
        return sequences
    files = sorted(Path(f) for f in glob.glob(text, recursive=True) if Path(f).is_file())
    if not files:
        what = "no file matches this pattern" if any(c in text for c in "*?[") else "no such file or directory"
        raise DataError(f"{path_or_glob}: {what}; check the path")
    videos = [f for f in files if is_video_file(f)]
    if not videos:
        return list(open_sequences(text))
    if len(videos) < len(files):
        other = next(f for f in files if not is_video_file(f))
        raise DataError(
            f"{path_or_glob}: matches both videos ({videos[0].name}) and other files ({other.name}); "
            "give records or videos, not both"
        )
    return [video_file_sequence(f) for f in videos]


__all__ = ["is_video_file", "open_sequence_source", "video_file_sequence"]
