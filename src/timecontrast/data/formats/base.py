"""The interface every input format of ``tcn convert`` implements, and helpers they share.

A :class:`SourceFormat` (``videos``, ``frames``, ``tcc``, ``rlds``, ``lerobot``) finds the
sequences a path holds (:meth:`SourceFormat.scan`) and says what it holds
(:meth:`SourceFormat.describe`, for ``tcn inspect``). Each sequence is a
:class:`SourceSequence`: its views (named, in output order), their lengths and sizes, a
fingerprint per view (what a re-run compares to decide whether the records are up to
date), per-frame state and labels, and one :class:`ViewReader` per view.

The conversion (:mod:`timecontrast.data.convert`) sends each view's reader to a worker
(a thread, or a spawned process: readers are pickled, so they hold paths and numbers,
never open files), which decodes the frames front to back and JPEG-encodes them. The
main process asks a sequence for its views, state and labels; a
:class:`~timecontrast.errors.TimeContrastError` or ``OSError`` raised there or by a
reader fails that sequence alone, so messages name the file and the episode.

Shapes: frames ``[H, W, 3]`` uint8 RGB; state ``[T, P]``; labels ``[T]`` int64.
"""

from __future__ import annotations

import io
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image

from timecontrast.data.state import SequenceState
from timecontrast.data.videos import SequenceProblem, short_video_error
from timecontrast.errors import DataError, TimeContrastError
from timecontrast.io.video import iter_video_frames

__all__ = [
    "SequenceProblem",
    "SourceFormat",
    "SourceSequence",
    "VideoFileReader",
    "ViewInfo",
    "ViewReader",
    "decode_image",
    "file_fingerprint",
    "natural_key",
    "pick_views",
    "resize_frame",
    "split_cameras",
]

Size = tuple[int, int]  # (height, width)


class ViewReader(Protocol):
    """One view of one sequence, decoded front to back. Picklable: paths and numbers only.

    ``source`` names where the frames come from in messages (a file, and the episode
    where one file holds several). :meth:`frames` yields every frame in order, ``[H, W, 3]``
    uint8 RGB, resized to ``size`` = ``(height, width)`` (area averaging) when given; a
    damaged frame raises a :class:`~timecontrast.errors.TimeContrastError` naming
    ``source`` and the frame, an ``OSError`` names the file.
    """

    @property
    def source(self) -> str: ...

    def frames(self, size: Size | None = None) -> Iterator[np.ndarray]: ...

    def short_error(self, decoded: int, promised: int) -> Exception:
        """The error for a view that ends after ``decoded`` of the ``promised`` frames."""
        ...


@dataclass(frozen=True)
class ViewInfo:
    """What a sequence says about one view before any frame is decoded."""

    name: str  # the view's name in the source: a camera key, a folder, "view0"
    length: int  # frames
    height: int
    width: int
    path: str  # the file or folder it comes from (what --rotate_if_matching matches)
    # JSON values that change when the source of this view changes (file name, bytes,
    # mtime_ns, episode, ...): stored in the settings record, compared on a re-run.
    fingerprint: dict[str, Any] = field(default_factory=dict)


class SourceSequence(ABC):
    """A multi-view sequence of a source, before conversion.

    ``name`` is the record's name (``<output_dir>/<name>.tfrecord``); ``source`` names the
    episode in messages (``data/ep_3.tfrecord record 2``). :meth:`views` may read headers
    (it probes videos, opens first frames); everything else is read by the workers.
    """

    name: str
    source: str

    @property
    @abstractmethod
    def view_names(self) -> list[str]:
        """The names of the views, in output order (``view0`` of the records first)."""

    @property
    def num_views(self) -> int:
        return len(self.view_names)

    @abstractmethod
    def views(self) -> list[ViewInfo]:
        """Length, size, path and fingerprint of each view (may read headers; raises
        :class:`~timecontrast.errors.DataError` or ``OSError`` naming the file)."""

    @abstractmethod
    def reader(self, view: int) -> ViewReader:
        """The picklable reader of view ``view`` (an index into :attr:`view_names`)."""

    def fingerprint(self) -> dict[str, Any]:
        """JSON values that change when the source of the state or labels changes (a labels
        file, a parquet file): stored in the settings record, compared on a re-run; {} when
        the views' fingerprints say it all."""
        return {}

    def state(self) -> SequenceState | None:
        """Per-frame true state (``position [T, P]``, ``velocity [T, Q]``, ``extras``) and
        ``fps``, or None. Its ``labels`` may be empty: :meth:`labels` gives them."""
        return None

    def labels(self) -> dict[str, np.ndarray] | None:
        """Per-frame integer labels ``{name: [T] int64}`` (task phases, ...), or None."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, views={self.view_names})"


class SourceFormat(ABC):
    """An input format of ``tcn convert --from NAME``."""

    name: str = ""
    summary: str = ""  # one line for --help and docs: the layout it reads

    @abstractmethod
    def detect(self, path: Path) -> bool:
        """Whether ``path`` (a file or folder) looks like this format; cheap (reads a few
        headers at most) and never raises for another format's data."""

    @abstractmethod
    def scan(
        self, path: Path, cameras: Sequence[str] | None = None
    ) -> tuple[list[SourceSequence], list[SequenceProblem]]:
        """The sequences under ``path`` sorted by name, with views picked and ordered by
        ``cameras`` (None: every view, in the source's order), and the episodes that
        cannot be one (each a :class:`SequenceProblem` naming the file and what is wrong).

        Raises :class:`~timecontrast.errors.DataError` when ``path`` as a whole cannot be
        read (a missing or damaged metadata file, an unknown schema version, a camera that
        no episode has), naming the file and the fix."""

    def describe(self, path: Path, cameras: Sequence[str] | None = None) -> dict[str, Any]:
        """What ``path`` holds, JSON-ready, for ``tcn inspect``: the format, the sequences
        with their views, lengths, frame sizes, state and label keys, and the problems."""
        sequences, problems = self.scan(path, cameras)
        rows: list[dict[str, Any]] = []
        found = [f"{p.name}: {p.message}" for p in problems]
        for seq in sequences:
            try:
                infos = seq.views()
                state = seq.state()
                labels = seq.labels()
            except (TimeContrastError, OSError, ValueError) as exc:  # one episode's problem
                found.append(f"{seq.name}: {exc}")
                continue
            rows.append(
                {
                    "name": seq.name,
                    "source": seq.source,
                    "views": [i.name for i in infos],
                    "frames": [i.length for i in infos],
                    "frame_sizes": [[i.height, i.width] for i in infos],
                    "state": None if state is None else _state_keys(state),
                    "labels": sorted(labels) if labels else [],
                }
            )
        view_sets = sorted({tuple(r["views"]) for r in rows})
        return {
            "format": self.name,
            "path": str(path),
            "num_sequences": len(rows),
            "views": [list(v) for v in view_sets],
            "timesteps": sum(min(r["frames"]) for r in rows if r["frames"]),
            "sequences": rows,
            "problems": found,
        }


def _state_keys(state: SequenceState) -> dict[str, Any]:
    return {
        "position": list(state.position_names),
        "velocity": list(state.velocity_names),
        "extras": sorted(state.extras),
        "fps": state.fps,
    }


# ------------------------------------------------------------------------ helpers
def split_cameras(text: str | None) -> list[str] | None:
    """``--cameras a,b,c`` as a list (None or empty: every view)."""
    if not text:
        return None
    names = [name.strip() for name in text.split(",") if name.strip()]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise DataError(f"--cameras {text!r} names {duplicates} more than once; name each view once")
    return names or None


def pick_views(available: Sequence[str], cameras: Sequence[str] | None, where: str) -> list[int]:
    """Indices into ``available`` of ``cameras`` in their order (None: all, in order).

    A camera that ``available`` lacks raises :class:`DataError` naming ``where`` (the
    file or episode) and the views it has."""
    if cameras is None:
        return list(range(len(available)))
    missing = [c for c in cameras if c not in available]
    if missing:
        raise DataError(
            f"{where}: has no camera {', '.join(repr(c) for c in missing)}; its views are {list(available)} "
            "(check --cameras)"
        )
    return [list(available).index(c) for c in cameras]


_NUMBER = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple:
    """Sort key that orders numbers by value: ``frame2`` before ``frame10``."""
    return tuple(int(part) if part.isdigit() else part.lower() for part in _NUMBER.split(name))


def file_fingerprint(path: str | os.PathLike, **extra: Any) -> dict[str, Any]:
    """``{"file": name, "bytes": size, "mtime_ns": ...}`` of a source file, plus ``extra``
    (e.g. the episode it holds): what a re-run compares."""
    st = os.stat(path)
    return {"file": Path(path).name, "bytes": st.st_size, "mtime_ns": st.st_mtime_ns, **extra}


def resize_frame(frame: np.ndarray, size: Size | None) -> np.ndarray:
    """``frame`` ``[H, W, 3]`` resized to ``size`` = ``(height, width)`` by area averaging
    (Pillow's box filter, the equivalent of OpenCV's INTER_AREA), or as it is."""
    if size is None or tuple(frame.shape[:2]) == tuple(size):
        return frame
    image = Image.fromarray(frame, "RGB").resize((int(size[1]), int(size[0])), Image.Resampling.BOX)
    return np.asarray(image)


def decode_image(data: bytes | None, source: str, path: str | os.PathLike | None = None) -> np.ndarray:
    """Encoded image bytes (JPEG, PNG, ...) or the file at ``path`` as ``[H, W, 3]`` uint8
    RGB. Undecodable data raises :class:`DataError` naming ``source``."""
    try:
        with Image.open(io.BytesIO(data) if data is not None else Path(path or source)) as img:
            return np.asarray(img.convert("RGB"))
    except FileNotFoundError:
        raise DataError(f"{source}: no such image file") from None
    except OSError as exc:
        if exc.errno is not None:  # EIO, EACCES: a real I/O error, not a bad image
            raise
        reason = re.sub(r" <_io\.BytesIO object at \w+>", "", str(exc)) or type(exc).__name__
        raise DataError(f"{source}: cannot decode image ({reason}); the file is damaged") from None
    except Exception as exc:  # Pillow raises several types for bad data
        raise DataError(f"{source}: cannot decode image ({type(exc).__name__}: {exc}); the file is damaged") from None


def image_size(data: bytes | None, source: str, path: str | os.PathLike | None = None) -> Size:
    """``(height, width)`` of an encoded image or image file, read from its header only."""
    try:
        with Image.open(io.BytesIO(data) if data is not None else Path(path or source)) as img:
            return img.height, img.width
    except FileNotFoundError:
        raise DataError(f"{source}: no such image file") from None
    except OSError as exc:
        if exc.errno is not None:
            raise
        raise DataError(f"{source}: not an image ({exc}); the file is damaged") from None
    except Exception as exc:
        raise DataError(f"{source}: not an image ({type(exc).__name__}: {exc}); the file is damaged") from None


@dataclass(frozen=True)
class VideoFileReader:
    """A view that is a whole video file (``<seq>_view<k>.mp4``, a LeRobot v2.1 episode)."""

    path: Path

    @property
    def source(self) -> str:
        return str(self.path)

    def frames(self, size: Size | None = None) -> Iterator[np.ndarray]:
        return iter_video_frames(self.path, size)

    def short_error(self, decoded: int, promised: int) -> Exception:
        return short_video_error(self.path, decoded, promised)
