"""The on-disk layout of a dataset as ``tcn synth`` writes it, and everything else reads it.

    DIR/dataset.json                      what the dataset says about itself (world, views, attributes)
    DIR/<split>/records/<seq>.tfrecord    one SequenceExample per sequence (views view0..)
    DIR/<split>/labeled/<seq>.tfrecord    Examples, one per timestep: image/view<k>, task, int64 labels
    DIR/<split>/state/<seq>.npz           SequenceState of the sequence (true state and labels)
    DIR/<split>/videos/<seq>_view<k>.mp4  optional raw videos

This module is the one place that spells these names: writers build paths with the
``*_path`` functions, and a reader holding one file finds its sidecars with
:func:`state_path_of` and :func:`dataset_info_path_of`. Only paths are computed here;
nothing is read or written (the file formats live in ``records``, ``labeled``,
``state`` and ``dataset_info``).
"""

from __future__ import annotations

import os
from pathlib import Path

DATASET_FILE = "dataset.json"
RECORDS = "records"  # sequence records
LABELED = "labeled"  # labeled frame records
STATE = "state"  # SequenceState sidecars
VIDEOS = "videos"  # raw videos
SPLIT_FOLDERS = (RECORDS, LABELED, STATE, VIDEOS)  # the folders of DIR/<split>, in this order
RECORD_SUFFIX = ".tfrecord"
STATE_SUFFIX = ".npz"
VIDEO_SUFFIX = ".mp4"

Pathish = str | os.PathLike


# ------------------------------------------------------------------ from the dataset root
def dataset_info_path(root: Pathish) -> Path:
    """``DIR/dataset.json``."""
    return Path(root) / DATASET_FILE


def split_folders(root: Pathish, split: str) -> tuple[Path, ...]:
    """``DIR/<split>/records``, ``labeled``, ``state`` and ``videos`` (in that order)."""
    return tuple(Path(root) / split / folder for folder in SPLIT_FOLDERS)


def records_dir(root: Pathish, split: str) -> Path:
    """``DIR/<split>/records``: the sequence records of a split (what ``data.training`` names)."""
    return Path(root) / split / RECORDS


def labeled_dir(root: Pathish, split: str) -> Path:
    """``DIR/<split>/labeled``: the labeled frame records (what ``data.labeled.*`` names)."""
    return Path(root) / split / LABELED


def record_path(root: Pathish, split: str, name: str) -> Path:
    """``DIR/<split>/records/<name>.tfrecord``."""
    return records_dir(root, split) / f"{name}{RECORD_SUFFIX}"


def labeled_path(root: Pathish, split: str, name: str) -> Path:
    """``DIR/<split>/labeled/<name>.tfrecord``."""
    return labeled_dir(root, split) / f"{name}{RECORD_SUFFIX}"


def state_path(root: Pathish, split: str, name: str) -> Path:
    """``DIR/<split>/state/<name>.npz``."""
    return Path(root) / split / STATE / f"{name}{STATE_SUFFIX}"


def video_path(root: Pathish, split: str, name: str, view: int) -> Path:
    """``DIR/<split>/videos/<name>_view<view>.mp4``."""
    return Path(root) / split / VIDEOS / f"{name}_view{int(view)}{VIDEO_SUFFIX}"


def sequence_paths(root: Pathish, split: str, name: str) -> list[Path]:
    """The files of sequence ``name``: its record, labeled record and state (whether or not
    they exist), then the videos of it that exist, by view."""
    videos = Path(root) / split / VIDEOS
    found = sorted(videos.glob(f"{name}_view*{VIDEO_SUFFIX}"), key=lambda p: p.name) if videos.is_dir() else []
    return [record_path(root, split, name), labeled_path(root, split, name), state_path(root, split, name), *found]


# ------------------------------------------------------------------------ from one file
def state_path_of(data_file: Pathish, name: str) -> Path | None:
    """The state sidecar of sequence ``name`` read from ``data_file``: for
    ``DIR/<split>/records/<file>.tfrecord`` or ``DIR/<split>/videos/<file>.mp4`` it is
    ``DIR/<split>/state/<name>.npz`` (whether or not it exists); None for a file that is
    not in a ``records/`` or ``videos/`` folder."""
    folder = Path(data_file).parent
    if folder.name not in (RECORDS, VIDEOS):
        return None
    return folder.parent / STATE / f"{name}{STATE_SUFFIX}"


def labeled_path_of(record_file: Pathish, name: str) -> Path | None:
    """The labeled frame records of sequence ``name`` read from ``record_file``: for
    ``DIR/<split>/records/<file>.tfrecord`` it is ``DIR/<split>/labeled/<name>.tfrecord``
    (whether or not it exists); None for a file that is not in a ``records/`` folder."""
    folder = Path(record_file).parent
    if folder.name != RECORDS:
        return None
    return folder.parent / LABELED / f"{name}{RECORD_SUFFIX}"


def dataset_info_path_of(record_file: Pathish) -> Path | None:
    """``DIR/dataset.json`` of ``DIR/<split>/records/<file>.tfrecord`` (whether or not it
    exists); None for a file that is not in a ``records/`` folder."""
    folder = Path(record_file).parent
    if folder.name != RECORDS:
        return None
    return dataset_info_path(folder.parent.parent)


def is_state_file(path: Pathish) -> bool:
    """True for ``.../state/<name>.npz`` (what ``tcn inspect`` lists as state)."""
    p = Path(path)
    return p.name.endswith(STATE_SUFFIX) and p.parent.name == STATE


__all__ = [
    "DATASET_FILE",
    "LABELED",
    "RECORDS",
    "RECORD_SUFFIX",
    "SPLIT_FOLDERS",
    "STATE",
    "STATE_SUFFIX",
    "VIDEOS",
    "VIDEO_SUFFIX",
    "dataset_info_path",
    "dataset_info_path_of",
    "is_state_file",
    "labeled_dir",
    "labeled_path",
    "labeled_path_of",
    "record_path",
    "records_dir",
    "sequence_paths",
    "split_folders",
    "state_path",
    "state_path_of",
    "video_path",
]
