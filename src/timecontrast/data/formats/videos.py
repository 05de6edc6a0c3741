"""The format ``videos``: ``<seq>_view<k>.<ext>`` files, one video per view (the default).

The original release's layout and what ``tcn collect`` records. Views are ordered by
number and named ``view0``, ``view1``, ... (what ``--cameras view1,view0`` picks); the
sequence name is the path relative to the input folder without the view suffix.
:mod:`timecontrast.data.videos` finds the files; this module presents them as a
:class:`~timecontrast.data.formats.base.SourceSequence`. A view's fingerprint is the
video's file name, size in bytes and modification time.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from timecontrast.data.folders import walk_folder
from timecontrast.data.formats.base import (
    SequenceProblem,
    SourceFormat,
    SourceSequence,
    VideoFileReader,
    ViewInfo,
    natural_key,
    pick_views,
)
from timecontrast.data.videos import DEFAULT_VIEW_PATTERN, VideoSequence, compile_view_pattern, scan_video_sequences
from timecontrast.errors import DataError
from timecontrast.io.video import VIDEO_EXTENSIONS


class VideoSource(SourceSequence):
    """A :class:`VideoSequence` as a conversion source (``video`` is the sequence itself)."""

    def __init__(self, video: VideoSequence) -> None:
        self.video = video
        self.name = video.name
        self.source = str(video.paths[0].parent / f"{Path(video.name).name}_view*")

    @property
    def view_names(self) -> list[str]:
        return [f"view{v}" for v in range(self.video.num_views)]

    def views(self) -> list[ViewInfo]:
        infos = self.video.infos  # probes every video: an unreadable one fails here
        out = []
        for path, info in zip(self.video.paths, infos, strict=True):
            st = path.stat()
            fingerprint = {"video": path.name, "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}
            out.append(ViewInfo(path.stem, info.num_frames, info.height, info.width, str(path), fingerprint))
        return out

    def reader(self, view: int) -> VideoFileReader:
        return VideoFileReader(self.video.paths[view])


class VideosFormat(SourceFormat):
    """``<seq>_view<k>.<ext>`` videos anywhere under a folder; ``view_pattern`` finds the view
    number in a file name, ``expected_views`` (None: any) is the number every sequence needs."""

    name = "videos"
    summary = "<seq>_view<k>.mp4 (mov, avi, mkv, webm, m4v) videos, one per view, anywhere under the folder"

    def __init__(self, view_pattern: str = DEFAULT_VIEW_PATTERN, expected_views: int | None = None) -> None:
        self.view_pattern = view_pattern
        self.expected_views = expected_views

    def detect(self, path: Path) -> bool:
        if not path.is_dir():
            return False
        pattern = compile_view_pattern(self.view_pattern)
        for _, filenames in walk_folder(path, warn=lambda _: None, on_error=lambda _: None):
            if any(f.lower().endswith(VIDEO_EXTENSIONS) and pattern.search(f) for f in filenames):
                return True
        return False

    def scan(
        self, path: Path, cameras: Sequence[str] | None = None
    ) -> tuple[list[SourceSequence], list[SequenceProblem]]:
        found, problems = scan_video_sequences(path, self.expected_views, self.view_pattern)
        sequences: list[SourceSequence] = []
        for seq in found:
            if cameras is not None:
                names = [f"view{v}" for v in range(seq.num_views)]
                try:
                    picked = pick_views(names, cameras, f"{seq.paths[0].parent / seq.name}")
                except DataError as exc:  # this sequence lacks a view
                    problems.append(SequenceProblem(seq.name, str(exc)))
                    continue
                seq = VideoSequence(seq.name, [seq.paths[v] for v in picked])
            sequences.append(VideoSource(seq))
        if cameras is not None and found and not sequences:
            views = sorted({f"view{v}" for seq in found for v in range(seq.num_views)}, key=natural_key)
            raise DataError(f"{path}: no sequence has the views {list(cameras)} (--cameras); they have {views}")
        return sequences, problems


FORMAT = VideosFormat()
