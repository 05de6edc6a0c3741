"""The format ``frames``: folders of image files, one folder per view.

Layouts (frame files ``*.png``, ``*.jpg``, ``*.jpeg``, sorted naturally: ``2.png`` before
``10.png``; hidden files skipped):

- ``INPUT/<seq>/<view>/*.png``: a sequence folder holding one folder per view (XIRL,
  X-MAGICAL style). Views are named by their folders and ordered naturally
  (``--cameras`` picks and orders them). Deeper folders work too
  (``INPUT/train/<seq>/<view>/``: the sequence is named ``train/<seq>``).
- ``INPUT/<seq>_view<k>/*.png``: the original release's ``images_to_videos`` input; views
  ``view0``, ``view1``, ... ordered by number.
- ``INPUT/<seq>/*.png`` (frames right under a folder of ``INPUT``): a one-view sequence
  ``<seq>`` with view ``view0`` (X-MAGICAL's ``<embodiment>/<video>/*.png``: point
  ``--input_dir`` at the embodiment).

Labels (optional): ``labels.csv`` in the sequence folder (``<seq>/labels.csv``; for
``<seq>_view<k>/`` folders ``<seq>_labels.csv`` beside them): a header row, a ``frame``
column (the 0-based index of the frame in the sorted order) and one integer column per
label (e.g. ``phase``); one row per frame, every frame once. They become the sequence's
labels (state file and labeled frame records).

Problems, each failing its sequence alone: a camera that other sequences have (without
``--cameras``), a frame number missing from a numbered run (``0.png 1.png 3.png``), a view
folder without frames, an unreadable image, a frame of
another size than the view's first. A view's fingerprint: its folder, frame count, total
bytes and latest modification time.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from timecontrast.data.folders import walk_folder
from timecontrast.data.formats.base import (
    SequenceProblem,
    SourceFormat,
    SourceSequence,
    ViewInfo,
    decode_image,
    file_fingerprint,
    image_size,
    natural_key,
    pick_views,
    resize_frame,
)
from timecontrast.errors import DataError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
LABELS_FILE = "labels.csv"
FRAME_COLUMN = "frame"
_VIEW_FOLDER = re.compile(r"^(.*?)_view_*(\d+)$")
_LAST_NUMBER = re.compile(r"(\d+)(?!.*\d)")


@dataclass(frozen=True)
class FrameFolderReader:
    """One view: the image files ``files`` of ``folder``, each ``height`` x ``width``."""

    folder: str
    files: tuple[str, ...]
    height: int
    width: int

    @property
    def source(self) -> str:
        return self.folder

    def frames(self, size: tuple[int, int] | None = None) -> Iterator[np.ndarray]:
        for name in self.files:
            path = os.path.join(self.folder, name)
            frame = decode_image(None, path, path)
            if frame.shape[:2] != (self.height, self.width):
                raise DataError(
                    f"{path}: is {frame.shape[1]}x{frame.shape[0]}, the view's first frame is "
                    f"{self.width}x{self.height}; every frame of a view must have the same size"
                )
            yield resize_frame(frame, size)

    def short_error(self, decoded: int, promised: int) -> Exception:
        return DataError(f"{self.folder}: {decoded} frames read of {promised}; files vanished meanwhile")


def _missing_numbers(files: Sequence[str]) -> list[int]:
    """Frame numbers missing from the run of numbered ``files`` (sorted naturally); [] when
    complete or when not every name carries a number."""
    numbers = []
    for name in files:
        match = _LAST_NUMBER.search(Path(name).stem)
        if match is None:
            return []
        numbers.append(int(match.group(1)))
    present = set(numbers)
    return [n for n in range(min(numbers), max(numbers) + 1) if n not in present] if numbers else []


def _ranges(numbers: list[int], limit: int = 6) -> str:
    shown = ", ".join(str(n) for n in numbers[:limit])
    return shown if len(numbers) <= limit else f"{shown} and {len(numbers) - limit} more"


class FrameFolderSequence(SourceSequence):
    """A sequence whose views are folders of frames; ``labels_file`` optional."""

    def __init__(self, name: str, source: str, views: list[tuple[str, Path]], labels_file: Path | None) -> None:
        self.name = name
        self.source = source
        self._views = views  # (view name, folder)
        self.labels_file = labels_file
        self._files: list[tuple[str, ...]] | None = None
        self._infos: list[ViewInfo] | None = None

    @property
    def view_names(self) -> list[str]:
        return [name for name, _ in self._views]

    def _frame_files(self) -> list[tuple[str, ...]]:
        if self._files is None:
            files = []
            for _, folder in self._views:
                names = sorted(
                    (n for n in os.listdir(folder) if n.lower().endswith(IMAGE_EXTENSIONS) and not n.startswith(".")),
                    key=natural_key,
                )
                missing = _missing_numbers(names)
                if missing:
                    raise DataError(
                        f"{folder}: frame(s) {_ranges(missing)} missing from {names[0]} .. {names[-1]}; "
                        "restore them or renumber the frames"
                    )
                files.append(tuple(names))
            self._files = files
        return self._files

    def views(self) -> list[ViewInfo]:
        if self._infos is None:
            infos = []
            for (name, folder), files in zip(self._views, self._frame_files(), strict=True):
                if not files:
                    raise DataError(f"{folder}: holds no frames (*.png, *.jpg)")
                height, width = image_size(None, str(folder / files[0]), folder / files[0])
                stats = [os.stat(folder / f) for f in files]
                fingerprint = {
                    "folder": folder.name,
                    "frames": len(files),
                    "bytes": sum(st.st_size for st in stats),
                    "mtime_ns": max(st.st_mtime_ns for st in stats),
                }
                infos.append(ViewInfo(name, len(files), height, width, str(folder), fingerprint))
            self._infos = infos
        return self._infos

    def reader(self, view: int) -> FrameFolderReader:
        info = self.views()[view]
        return FrameFolderReader(info.path, self._frame_files()[view], info.height, info.width)

    def fingerprint(self) -> dict[str, Any]:
        return {"labels": file_fingerprint(self.labels_file)} if self.labels_file is not None else {}

    def labels(self) -> dict[str, np.ndarray] | None:
        if self.labels_file is None:
            return None
        return read_labels_csv(self.labels_file, min(info.length for info in self.views()))


def read_labels_csv(path: Path, length: int) -> dict[str, np.ndarray]:
    """``{column: [length] int64}`` from a labels CSV (see the module docstring)."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text CSV file") from None
    if not rows or FRAME_COLUMN not in [c.strip() for c in rows[0]]:
        raise DataError(f"{path}: needs a header row with a '{FRAME_COLUMN}' column and one integer column per label")
    header = [c.strip() for c in rows[0]]
    columns = [c for c in header if c != FRAME_COLUMN]
    if not columns:
        raise DataError(f"{path}: has a '{FRAME_COLUMN}' column but no label column")
    values = np.full((len(columns), length), -1, np.int64)
    seen = np.zeros(length, bool)
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise DataError(f"{path}: line {line} has {len(row)} cells, the header {len(header)}")
        cells = dict(zip(header, (c.strip() for c in row), strict=True))
        try:
            t = int(cells[FRAME_COLUMN])
            labels = [int(cells[c]) for c in columns]
        except ValueError:
            raise DataError(f"{path}: line {line}: frame and labels must be integers, got {row}") from None
        if not 0 <= t < length:
            continue  # a frame beyond the converted length (views cut to the shortest)
        if seen[t]:
            raise DataError(f"{path}: line {line}: frame {t} is labelled twice")
        seen[t] = True
        values[:, t] = labels
    if not seen.all():
        missing = [int(t) for t in np.flatnonzero(~seen)]
        raise DataError(f"{path}: frame(s) {_ranges(missing)} have no labels; label every frame 0..{length - 1}")
    return {c: values[i] for i, c in enumerate(columns)}


def _image_folders(root: Path) -> list[Path]:
    """Every folder under ``root`` (``root`` excluded) that holds frame files."""
    found = []
    for folder, filenames in walk_folder(root):
        if folder != root and any(f.lower().endswith(IMAGE_EXTENSIONS) for f in filenames):
            found.append(folder)
    return found


class FramesFormat(SourceFormat):
    name = "frames"
    summary = "frame folders <seq>/<view>/*.png|jpg (or <seq>_view<k>/, or <seq>/*.png for one view); labels.csv"

    def detect(self, path: Path) -> bool:
        if not path.is_dir():
            return False
        for folder, filenames in walk_folder(path, warn=lambda _: None, on_error=lambda _: None):
            if folder != path and any(f.lower().endswith(IMAGE_EXTENSIONS) for f in filenames):
                return True
        return False

    def scan(
        self, path: Path, cameras: Sequence[str] | None = None
    ) -> tuple[list[SourceSequence], list[SequenceProblem]]:
        if not path.exists():
            raise DataError(f"{path}: no such file or directory")
        if not path.is_dir():
            raise DataError(f"{path}: not a folder; --from frames reads folders of frames (<seq>/<view>/*.png)")
        groups: dict[str, dict[str, Path]] = {}  # sequence name -> view name -> folder
        numbered: set[str] = set()  # sequences of <seq>_view<k> folders
        labels: dict[str, Path | None] = {}
        for folder in _image_folders(path):
            rel = folder.relative_to(path)
            match = _VIEW_FOLDER.match(folder.name)
            if match is not None:
                name = (rel.parent / match.group(1)).as_posix()
                view = f"view{int(match.group(2))}"
                numbered.add(name)
                labels_file = folder.parent / f"{match.group(1)}_{LABELS_FILE}"
            elif len(rel.parts) == 1:  # INPUT/<seq>/*.png: one view
                name, view = rel.as_posix(), "view0"
                labels_file = folder / LABELS_FILE
            else:  # INPUT/.../<seq>/<view>/*.png
                name, view = rel.parent.as_posix(), folder.name
                labels_file = folder.parent / LABELS_FILE
            groups.setdefault(name, {})[view] = folder
            labels[name] = labels_file if labels_file.is_file() else None
        sequences: list[SourceSequence] = []
        problems: list[SequenceProblem] = []
        every = sorted({v for views in groups.values() for v in views}, key=natural_key)
        for name in sorted(groups, key=natural_key):
            views = groups[name]
            order = sorted(views, key=natural_key)
            where = str(path / name)
            lacking = [v for v in (every if cameras is None else []) if v not in views]
            if lacking:
                message = (
                    f"{where}: has no camera {', '.join(repr(v) for v in lacking)} (the sequences have {every}); "
                    "add its frames, or pick the views to convert with --cameras"
                )
                problems.append(SequenceProblem(name, message))
                continue
            if name in numbered:
                missing = sorted(set(range(len(order))) - {int(v[4:]) for v in order})
                if missing:
                    problems.append(SequenceProblem(name, f"{where}_view*: view folder(s) {missing} missing"))
                    continue
            try:
                picked = [order[i] for i in pick_views(order, cameras, where)]
            except DataError as exc:
                problems.append(SequenceProblem(name, str(exc)))
                continue
            sequences.append(FrameFolderSequence(name, where, [(v, views[v]) for v in picked], labels[name]))
        if cameras is not None and groups and not sequences:
            names = sorted({v for views in groups.values() for v in views}, key=natural_key)
            raise DataError(f"{path}: no sequence has the views {list(cameras)} (--cameras); they have {names}")
        return sequences, problems


FORMAT = FramesFormat()
