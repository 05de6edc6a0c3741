"""The format ``lerobot``: LeRobot datasets (v2.0, v2.1 and v3.0), read without ``lerobot``.

``--input_dir`` is a dataset root (the folder holding ``meta/info.json``), a folder of
dataset roots (one or two levels down: ``<name>/`` or ``<owner>/<name>/``), or a Hub
dataset id ``owner/name[@revision]`` (downloaded once into the Hugging Face cache with
``huggingface_hub``, which is then needed; with ``--cameras``, only those videos).

What maps to what (:mod:`~timecontrast.data.formats.lerobot_meta` reads the files):

- every feature of dtype ``video`` or ``image`` (``observation.images.<name>``) is a view
  called ``<name>``; ``--cameras`` picks and orders them by that name or by the full key;
- every episode is a sequence ``<dataset>_ep<NNNNNN>`` (``<dataset>``: the root's folder
  name, or the Hub repo's name), its frames the episode's data rows: v3.0 decodes the
  episode's time range ``[from_timestamp, to_timestamp)`` of each camera's mp4 (files hold
  several episodes), v2.x the episode's own mp4; each row's frame is the one shown at
  ``timestamp`` (:mod:`~timecontrast.data.formats.lerobot_video`);
- state (``state/<seq>.npz``): ``position`` = ``observation.state`` [T, P] with the names
  of ``features.observation.state.names``; ``velocity`` = ``observation.velocity`` where
  the dataset has one of the same width, else d/dt of ``observation.state`` (central
  differences over the rows' timestamps; its names are the state's); ``extras``:
  ``action`` and every other float feature (``observation.effort``, ``next.reward``, ...);
  ``fps`` from info.json;
- labels (state file and labeled frame records): ``task_index`` (the index of the frame's
  task in ``meta/tasks``) and, where the dataset has it, ``subtask_index`` (into
  ``meta/subtasks.parquet``); ``tcn inspect`` lists the task and subtask strings.

Problems: a missing ``meta/info.json``, an unsupported ``codebase_version``, a damaged
metadata file or a ``--cameras`` name no dataset has stop the run (:class:`DataError`
naming the file). An episode whose files are missing, whose data parquet is truncated, or
whose video is shorter than its rows (or misses a frame) fails alone; the others convert.
A view's fingerprint: its video file (name, bytes, mtime), the camera and the episode's
time range; the sequence's: its data parquet and episode index.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from timecontrast.data.formats.base import (
    SequenceProblem,
    SourceFormat,
    SourceSequence,
    ViewInfo,
    ViewReader,
    file_fingerprint,
)
from timecontrast.data.formats.lerobot_meta import (
    DatasetMeta,
    EpisodeMeta,
    download_dataset,
    feature_names,
    find_datasets,
    looks_like_hub_id,
    read_episodes,
    read_meta,
    read_names,
    read_parquet,
    short_name,
)
from timecontrast.data.formats.lerobot_video import EpisodeImageReader, EpisodeVideoReader
from timecontrast.data.state import SequenceState
from timecontrast.errors import DataError

logger = logging.getLogger(__name__)

STATE_KEY = "observation.state"
VELOCITY_KEY = "observation.velocity"
LABEL_KEYS = ("task_index", "subtask_index")
_ROW_KEYS = {"timestamp", "frame_index", "episode_index", "index", *LABEL_KEYS}
_FLOAT_DTYPES = ("float16", "float32", "float64")


def sequence_name(dataset: str, episode: int) -> str:
    """``<dataset>_ep<NNNNNN>``, the dataset's name made safe for a file name."""
    return f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', dataset)}_ep{episode:06d}"


def numeric_keys(meta: DatasetMeta) -> list[str]:
    """The float features other than the state and velocity (``action`` first): extras."""
    keys = [
        k
        for k, ft in meta.features.items()
        if ft.get("dtype") in _FLOAT_DTYPES and k not in (STATE_KEY, VELOCITY_KEY) and k not in _ROW_KEYS
    ]
    return sorted(keys, key=lambda k: (k != "action", keys.index(k)))


@functools.lru_cache(maxsize=4)
def _episode_rows(data_path: str, mtime_ns: int, episode: int, columns: tuple[str, ...]) -> dict[str, Any]:
    """The rows of one episode (cached: :meth:`LeRobotEpisode.state` and ``labels`` read the same columns)."""
    del mtime_ns  # part of the cache key only: a rewritten file is read again
    return read_parquet(Path(data_path), list(columns), episode=episode)


class LeRobotEpisode(SourceSequence):
    """One episode of a LeRobot dataset, with the cameras ``keys`` as its views, in that order."""

    def __init__(self, meta: DatasetMeta, episode: EpisodeMeta, keys: Sequence[str]) -> None:
        self.meta = meta
        self.episode = episode
        self.keys = list(keys)
        self.name = sequence_name(meta.name, episode.index)
        self.source = f"{meta.root} episode {episode.index}"

    @property
    def view_names(self) -> list[str]:
        return [short_name(k) for k in self.keys]

    def _file_of(self, key: str) -> Path:
        video = self.episode.videos.get(key)
        return video.path if video is not None else self.episode.data_path

    def views(self) -> list[ViewInfo]:
        out = []
        for key in self.keys:
            path = self._file_of(key)
            if not path.is_file():
                raise DataError(f"{path}: no such file; episode {self.episode.index} of {key} needs it")
            height, width = self.meta.frame_size(key)
            extra: dict[str, Any] = {"camera": key, "episode": self.episode.index}
            if key in self.episode.videos:
                video = self.episode.videos[key]
                extra.update(start=video.start, end=video.end if np.isfinite(video.end) else None)
            fingerprint = file_fingerprint(path, **extra)
            out.append(ViewInfo(short_name(key), self.episode.length, height, width, str(path), fingerprint))
        return out

    def reader(self, view: int) -> ViewReader:
        key = self.keys[view]
        video = self.episode.videos.get(key)
        if video is None:
            return EpisodeImageReader(
                str(self.episode.data_path), str(self.meta.root), key, self.episode.index, self.episode.length
            )
        return EpisodeVideoReader(
            str(video.path),
            key,
            self.episode.index,
            video.start,
            str(self.episode.data_path),
            self.episode.length,
            self.meta.fps,
        )

    def fingerprint(self) -> dict[str, Any]:
        return {"data": file_fingerprint(self.episode.data_path, episode=self.episode.index)}

    def _sidecar_rows(self) -> dict[str, Any]:
        """The episode's rows of every column :meth:`state` and :meth:`labels` use: one
        (cached) parquet read for both."""
        keys = [STATE_KEY, VELOCITY_KEY, *numeric_keys(self.meta), *LABEL_KEYS]
        return self._rows(["timestamp", *(k for k in keys if k in self.meta.features)])

    def _rows(self, columns: Sequence[str]) -> dict[str, Any]:
        path = self.episode.data_path
        try:
            mtime = os.stat(path).st_mtime_ns
        except FileNotFoundError:
            raise DataError(f"{path}: no such file; episode {self.episode.index} needs it") from None
        wanted = tuple(c for c in columns if c in self.meta.features or c == "timestamp")
        rows = _episode_rows(str(path), mtime, self.episode.index, wanted)
        n = len(rows["timestamp"])
        if n != self.episode.length:
            raise DataError(
                f"{path}: episode {self.episode.index} has {n} rows, but meta/ says {self.episode.length} frames; "
                "the dataset is inconsistent"
            )
        return rows

    def _vector(self, rows: dict[str, Any], key: str) -> np.ndarray:
        values = np.asarray(rows[key], dtype=np.float64)
        return values.reshape(len(values), -1)  # [T, K]

    def state(self) -> SequenceState | None:
        extras_keys = numeric_keys(self.meta)
        has_state = STATE_KEY in self.meta.features
        if not has_state and not extras_keys:
            return None
        rows = self._sidecar_rows()
        t = self.episode.length
        position = self._vector(rows, STATE_KEY) if has_state else np.zeros((t, 0))
        position_names = feature_names(self.meta, STATE_KEY, position.shape[1]) if has_state else []
        velocity = self._vector(rows, VELOCITY_KEY) if VELOCITY_KEY in rows else None
        if velocity is not None and velocity.shape[1] == position.shape[1]:
            velocity_names = feature_names(self.meta, VELOCITY_KEY, velocity.shape[1])
        else:
            velocity = _time_derivative(position, rows["timestamp"], self.meta.fps)
            velocity_names = list(position_names)
        extras = {k: self._vector(rows, k) for k in extras_keys}
        return SequenceState(
            position=position,
            velocity=velocity,
            position_names=position_names,
            velocity_names=velocity_names,
            fps=self.meta.fps,
            extras=extras,
            extra_names={k: feature_names(self.meta, k, v.shape[1]) for k, v in extras.items()},
        )

    def labels(self) -> dict[str, np.ndarray] | None:
        keys = [k for k in LABEL_KEYS if k in self.meta.features]
        if not keys:
            return None
        rows = self._sidecar_rows()
        return {k: np.asarray(rows[k], dtype=np.int64).reshape(-1) for k in keys}


def _time_derivative(position: np.ndarray, timestamps: Any, fps: float) -> np.ndarray:
    """``[T, P]`` d position / dt by central differences over ``timestamps`` (``1 / fps``
    apart where they are not increasing; zeros when T < 2)."""
    stamps = np.asarray(timestamps, dtype=np.float64).reshape(-1)
    if len(position) < 2 or position.shape[1] == 0:
        return np.zeros_like(position)
    if (np.diff(stamps) <= 0).any() and fps > 0:
        return np.gradient(position, 1.0 / fps, axis=0)
    return np.gradient(position, stamps, axis=0)


class LeRobotFormat(SourceFormat):
    """LeRobot datasets: a root with ``meta/info.json``, a folder of them, or a Hub id."""

    name = "lerobot"
    summary = (
        "LeRobot datasets v2.0/v2.1/v3.0 (a folder with meta/info.json, a folder of them, or a Hub id owner/name): "
        "observation.images.* are views, episodes sequences, observation.state and action state"
    )

    def detect(self, path: Path) -> bool:
        return path.is_dir() and bool(find_datasets(path))

    def datasets(self, path: Path, cameras: Sequence[str] | None = None) -> list[DatasetMeta]:
        """The datasets at ``path`` (a Hub id is downloaded first)."""
        text = os.fspath(path)
        if not Path(os.path.expanduser(text)).exists() and looks_like_hub_id(text):
            root = download_dataset(text, cameras)
            return [read_meta(root, name=text.partition("@")[0].rsplit("/", 1)[-1])]
        root = Path(os.path.expanduser(text))
        if not root.is_dir():
            raise DataError(
                f"{path}: no such folder (a LeRobot dataset root, a folder of them, or a Hub id owner/name)"
            )
        roots = find_datasets(root)
        if not roots:
            read_meta(root)  # raises: names the missing meta/info.json
        return [read_meta(r) for r in roots]

    def scan(
        self, path: Path, cameras: Sequence[str] | None = None
    ) -> tuple[list[SourceSequence], list[SequenceProblem]]:
        sequences: list[SourceSequence] = []
        problems: list[SequenceProblem] = []
        lacking: list[str] = []
        metas = self.datasets(path, cameras)
        for meta in metas:
            keys = _camera_keys(meta, cameras)
            if isinstance(keys, str):
                lacking.append(keys)
                problems.append(SequenceProblem(meta.name, keys))
                continue
            for episode in read_episodes(meta):
                seq = LeRobotEpisode(meta, episode, keys)
                problem = _episode_problem(seq)
                if problem is None:
                    sequences.append(seq)
                else:
                    problems.append(SequenceProblem(seq.name, problem))
        if lacking and len(lacking) == len(metas):
            raise DataError(lacking[0] if len(lacking) == 1 else f"{path}: {'; '.join(lacking)}")
        sequences.sort(key=lambda s: s.name)
        return sequences, problems

    def describe(self, path: Path, cameras: Sequence[str] | None = None) -> dict[str, Any]:
        out = super().describe(path, cameras)
        out["datasets"] = [
            {
                "name": meta.name,
                "root": str(meta.root),
                "codebase_version": meta.version,
                "fps": meta.fps,
                "cameras": meta.cameras,
                "tasks": read_names(meta, "task") or {},
                "subtasks": read_names(meta, "subtask") or {},
            }
            for meta in self.datasets(path, cameras)
        ]
        return out


def _camera_keys(meta: DatasetMeta, cameras: Sequence[str] | None) -> list[str] | str:
    """The feature keys of ``cameras`` (None: every camera) in order, or why not (a message)."""
    if not meta.cameras:
        return (
            f"{meta.info_path}: has no image features (dtype video or image, observation.images.*); nothing to convert"
        )
    if cameras is None:
        return meta.cameras
    keys = [meta.camera_key(c) for c in cameras]
    missing = [c for c, k in zip(cameras, keys, strict=True) if k is None]
    if missing:
        have = ", ".join(f"{short_name(k)} ({k})" for k in meta.cameras)
        return f"{meta.info_path}: has no camera {', '.join(repr(c) for c in missing)}; its cameras are {have} (check --cameras)"
    return [k for k in keys if k is not None]


def _episode_problem(seq: LeRobotEpisode) -> str | None:
    """Why an episode cannot be converted, seen from the file system alone (None: it can be tried)."""
    if seq.episode.length <= 0:
        return f"{seq.source}: has no frames (length {seq.episode.length})"
    if not seq.episode.data_path.is_file():
        return (
            f"{seq.episode.data_path}: no such file; episode {seq.episode.index} needs it (is the download complete?)"
        )
    for key in seq.keys:
        video = seq.episode.videos.get(key)
        if video is not None and not video.path.is_file():
            return (
                f"{video.path}: no such file; episode {seq.episode.index} of {key} needs it (is the download complete?)"
            )
    return None


FORMAT = LeRobotFormat()
