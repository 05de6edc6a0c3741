"""The metadata and per-frame rows of a LeRobot dataset (v2.0, v2.1, v3.0), read with pyarrow.

No ``lerobot`` import: its files are JSON, JSON lines and parquet. A dataset root holds
``meta/info.json`` (``codebase_version``, ``fps``, ``features``, the ``data_path`` and
``video_path`` templates) and:

- v2.0 / v2.1: ``meta/episodes.jsonl`` (``episode_index``, ``tasks``, ``length``),
  ``meta/tasks.jsonl`` (``task_index``, ``task``), one data parquet per episode
  (``data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet``) and one mp4 per
  episode and camera, its frames from time 0;
- v3.0: ``meta/episodes/chunk-*/file-*.parquet`` (per episode: ``length``, the data file
  ``data/chunk_index``, ``data/file_index``, and per camera ``videos/<key>/chunk_index``,
  ``file_index``, ``from_timestamp``, ``to_timestamp``), ``meta/tasks.parquet``
  (``task_index`` and the task string, often the pandas index), optionally
  ``meta/subtasks.parquet`` (``subtask_index`` and the subtask string); data files
  ``data/chunk-*/file-*.parquet`` and mp4 files that hold several episodes each, an
  episode being the time range ``[from_timestamp, to_timestamp)`` of its camera's file.

Data rows (both versions): ``episode_index``, ``frame_index``, ``timestamp`` (seconds from
the episode's start), ``index``, ``task_index``, and one column per non-video feature
(``observation.state`` [T, P], ``action`` [T, A], ``subtask_index``, ...).

Every failure to read one of these files is a :class:`DataError` naming the file.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from timecontrast.errors import DataError, DependencyError

logger = logging.getLogger(__name__)

INFO_FILE = "meta/info.json"
SUPPORTED_VERSIONS = ("v2.0", "v2.1", "v3.0")
IMAGE_DTYPES = ("video", "image")
CAMERA_PREFIX = "observation.images."
_V3_EPISODE_COLUMNS = ("episode_index", "length", "data/chunk_index", "data/file_index")
_VIDEO_COLUMNS = ("chunk_index", "file_index", "from_timestamp", "to_timestamp")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(@[\w./-]+)?$")


@dataclass(frozen=True)
class VideoRange:
    """Where one camera of one episode is: ``path`` from ``start`` to ``end`` seconds."""

    path: Path
    start: float  # seconds, the first frame's presentation time in the file
    end: float  # seconds, past the last frame (v2.x: the file's end, unknown: inf)


@dataclass(frozen=True)
class EpisodeMeta:
    """One episode: its index, number of frames (data rows), data file and videos."""

    index: int
    length: int
    data_path: Path
    videos: dict[str, VideoRange] = field(default_factory=dict)  # camera key -> range
    tasks: tuple[str, ...] = ()


@dataclass(frozen=True)
class DatasetMeta:
    """``meta/info.json`` of a dataset at ``root``; ``name`` names its sequences."""

    root: Path
    name: str
    version: str
    fps: float
    features: dict[str, dict[str, Any]]
    data_path: str  # template
    video_path: str | None  # template, None when no feature is a video
    chunks_size: int

    @property
    def info_path(self) -> Path:
        return self.root / INFO_FILE

    @property
    def cameras(self) -> list[str]:
        """Every image feature (dtype video or image), in info.json's order."""
        return [key for key, ft in self.features.items() if ft.get("dtype") in IMAGE_DTYPES]

    def camera_key(self, name: str) -> str | None:
        """The feature key of a camera given by key (``observation.images.top``) or short name (``top``)."""
        if name in self.cameras:
            return name
        for key in self.cameras:
            if short_name(key) == name:
                return key
        return None

    def frame_size(self, key: str) -> tuple[int, int]:
        """``(height, width)`` of a camera from its feature (``shape`` [H, W, C], names say the order)."""
        ft = self.features[key]
        info = ft.get("info") or ft.get("video_info") or {}
        if "video.height" in info and "video.width" in info:
            return int(info["video.height"]), int(info["video.width"])
        shape = [int(s) for s in ft.get("shape", [])]
        names = ft.get("names") or []
        if len(shape) == 3 and list(names)[:1] in (["channels"], ["channel"]):
            return shape[1], shape[2]  # [C, H, W]
        if len(shape) == 3:
            return shape[0], shape[1]
        raise DataError(f"{self.info_path}: feature {key!r} has shape {shape}, not [H, W, C]; the file is damaged")


def short_name(key: str) -> str:
    """``observation.images.top`` -> ``top``; other keys (``observation.image``) -> the last part."""
    return key[len(CAMERA_PREFIX) :] if key.startswith(CAMERA_PREFIX) else key.rsplit(".", 1)[-1]


def feature_names(meta: DatasetMeta, key: str, width: int) -> list[str]:
    """Column names of a vector feature: ``features.<key>.names`` flattened (a list, or a dict
    of lists such as ``{"motors": [...]}``); ``<key>[i]`` where it has none that fit."""
    names = meta.features.get(key, {}).get("names")
    if isinstance(names, dict):
        names = [n for part in names.values() for n in (part if isinstance(part, list) else [part])]
    if isinstance(names, list) and len(names) == width and all(isinstance(n, str) for n in names):
        return list(names)
    return [f"{key}[{i}]" for i in range(width)]


# ------------------------------------------------------------------------ the dataset
def is_dataset(path: Path) -> bool:
    """Whether ``path`` is a LeRobot dataset root (holds ``meta/info.json``)."""
    return (path / INFO_FILE).is_file()


def find_datasets(path: Path) -> list[Path]:
    """``path`` itself when it is a dataset root, else the dataset roots one or two folders
    below it (a folder of datasets, or of ``<owner>/<name>`` datasets), sorted."""
    if is_dataset(path):
        return [path]
    found: list[Path] = []
    try:
        children = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []
    for child in children:
        if is_dataset(child):
            found.append(child)
            continue
        try:
            found += sorted(g for g in child.iterdir() if g.is_dir() and is_dataset(g))
        except OSError:
            continue
    return found


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not valid JSON ({exc}); the file is damaged") from None


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file; a LeRobot v2 dataset lists its episodes and tasks there") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not text ({exc}); the file is damaged") from None
    rows = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except ValueError as exc:
            raise DataError(f"{path}: line {n} is not valid JSON ({exc}); the file is damaged") from None
    return rows


def read_meta(root: Path, name: str | None = None) -> DatasetMeta:
    """The dataset at ``root``. :class:`DataError` for a missing or damaged info.json or an
    unsupported ``codebase_version``."""
    path = root / INFO_FILE
    if not path.is_file():
        raise DataError(
            f"{path}: no such file; point --input_dir at a LeRobot dataset root (the folder holding meta/info.json, "
            "data/ and videos/)"
        )
    info = read_json(path)
    if not isinstance(info, dict):
        raise DataError(f"{path}: holds {type(info).__name__}, not an object; the file is damaged")
    version = str(info.get("codebase_version", ""))
    if version not in SUPPORTED_VERSIONS:
        raise DataError(
            f"{path}: codebase_version {version or 'missing'!r} is not supported (only {', '.join(SUPPORTED_VERSIONS)}); "
            "convert the dataset with lerobot's conversion script (lerobot.datasets.v30.convert_dataset_v21_to_v30)"
        )
    missing = [k for k in ("fps", "features", "data_path") if k not in info]
    if missing:
        raise DataError(f"{path}: lacks {missing}; the file is damaged")
    features = info["features"]
    if not isinstance(features, dict):
        raise DataError(f"{path}: 'features' is not an object; the file is damaged")
    return DatasetMeta(
        root=root,
        name=name or root.name,
        version=version,
        fps=float(info["fps"]),
        features=features,
        data_path=str(info["data_path"]),
        video_path=info.get("video_path"),
        chunks_size=int(info.get("chunks_size") or 1000),
    )


def read_episodes(meta: DatasetMeta) -> list[EpisodeMeta]:
    """Every episode of the dataset, by index: lengths, data files and video ranges."""
    if meta.version == "v3.0":
        return _v3_episodes(meta)
    return _v2_episodes(meta)


def _format(template: str, path: Path, **values: Any) -> str:
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError) as exc:
        raise DataError(f"{path}: path template {template!r} cannot be filled ({exc!r}); the file is damaged") from None


def _v2_episodes(meta: DatasetMeta) -> list[EpisodeMeta]:
    path = meta.root / "meta" / "episodes.jsonl"
    out = []
    for row in read_jsonl(path):
        try:
            index, length = int(row["episode_index"]), int(row["length"])
        except (KeyError, TypeError, ValueError):
            raise DataError(f"{path}: a line lacks episode_index or length ({row}); the file is damaged") from None
        chunk = index // meta.chunks_size
        data = meta.root / _format(meta.data_path, meta.info_path, episode_chunk=chunk, episode_index=index)
        videos = {}
        for key in meta.cameras:
            if meta.features[key].get("dtype") == "video" and meta.video_path:
                rel = _format(meta.video_path, meta.info_path, episode_chunk=chunk, video_key=key, episode_index=index)
                videos[key] = VideoRange(meta.root / rel, 0.0, float("inf"))
        out.append(EpisodeMeta(index, length, data, videos, tuple(str(t) for t in row.get("tasks") or ())))
    return sorted(out, key=lambda e: e.index)


def _v3_episodes(meta: DatasetMeta) -> list[EpisodeMeta]:
    files = sorted((meta.root / "meta" / "episodes").glob("chunk-*/file-*.parquet"))
    if not files:
        raise DataError(
            f"{meta.root / 'meta' / 'episodes'}: holds no chunk-*/file-*.parquet; a LeRobot v3.0 dataset lists its "
            "episodes there (is the download complete?)"
        )
    videos = [k for k in meta.cameras if meta.features[k].get("dtype") == "video"]
    wanted = list(_V3_EPISODE_COLUMNS) + [f"videos/{k}/{c}" for k in videos for c in _VIDEO_COLUMNS]
    out = []
    for path in files:
        cols = read_parquet(path, wanted, optional=("tasks",))
        for i in range(len(cols["episode_index"])):
            index = int(cols["episode_index"][i])
            data = meta.root / _format(
                meta.data_path,
                meta.info_path,
                chunk_index=int(cols["data/chunk_index"][i]),
                file_index=int(cols["data/file_index"][i]),
            )
            ranges = {}
            for key in videos:
                rel = _format(
                    meta.video_path or "",
                    meta.info_path,
                    video_key=key,
                    chunk_index=int(cols[f"videos/{key}/chunk_index"][i]),
                    file_index=int(cols[f"videos/{key}/file_index"][i]),
                )
                start, end = (
                    float(cols[f"videos/{key}/from_timestamp"][i]),
                    float(cols[f"videos/{key}/to_timestamp"][i]),
                )
                ranges[key] = VideoRange(meta.root / rel, start, end)
            tasks = cols["tasks"][i] if "tasks" in cols else ()
            out.append(EpisodeMeta(index, int(cols["length"][i]), data, ranges, tuple(str(t) for t in tasks or ())))
    return sorted(out, key=lambda e: e.index)


def read_names(meta: DatasetMeta, kind: str) -> dict[int, str] | None:
    """``{index: text}`` of ``kind`` = ``task`` or ``subtask`` (None when the dataset has no such file)."""
    if meta.version != "v3.0":
        if kind != "task":
            return None
        path = meta.root / "meta" / "tasks.jsonl"
        try:
            return {int(r["task_index"]): str(r["task"]) for r in read_jsonl(path)}
        except (KeyError, TypeError, ValueError):
            raise DataError(f"{path}: a line lacks task_index or task; the file is damaged") from None
    path = meta.root / "meta" / f"{kind}s.parquet"
    if not path.is_file():
        return None
    table = _read_table(path, None)
    index_column = f"{kind}_index"
    texts = [n for n in table.column_names if n != index_column and _is_string(table.schema.field(n).type)]
    if index_column not in table.column_names or not texts:
        raise DataError(f"{path}: lacks a {index_column} column or the {kind} strings; the file is damaged")
    text = kind if kind in texts else texts[0]
    return {int(i): str(t) for i, t in zip(table[index_column].to_pylist(), table[text].to_pylist(), strict=True)}


# ------------------------------------------------------------------------ parquet
def _pyarrow():
    try:
        import pyarrow as pa
        import pyarrow.compute
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - a dependency of timecontrast
        raise DependencyError("reading LeRobot datasets needs pyarrow: pip install pyarrow") from None
    return pa, pq


def _is_string(dtype) -> bool:
    pa, _ = _pyarrow()
    return bool(pa.types.is_string(dtype) or pa.types.is_large_string(dtype))


def _parquet_error(path: Path, exc: Exception) -> DataError:
    """What a failure to read a parquet file means (an ``OSError`` with an errno is re-raised)."""
    if isinstance(exc, FileNotFoundError):
        return DataError(f"{path}: no such file (is the download complete?)")
    if isinstance(exc, OSError) and exc.errno is not None:  # EIO, EACCES: a real I/O error
        raise exc
    return DataError(f"{path}: cannot read parquet ({exc}); the file is truncated or damaged")


def _read_table(path: Path, columns: Sequence[str] | None, filters: list | None = None):
    pa, pq = _pyarrow()
    try:
        return pq.read_table(path, columns=list(columns) if columns is not None else None, filters=filters)
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise _parquet_error(path, exc) from None


def read_parquet(
    path: Path,
    columns: Sequence[str],
    optional: Sequence[str] = (),
    episode: int | None = None,
) -> dict[str, Any]:
    """Columns of a parquet file as numpy arrays (``[N]``, or ``[N, K]`` for vectors; lists
    of Python objects for other nested columns), only the rows of ``episode`` when given.
    A column of ``columns`` that the file lacks is a :class:`DataError`; ``optional`` ones
    are left out."""
    pa, pq = _pyarrow()
    try:
        names = set(pq.read_schema(path).names)
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise _parquet_error(path, exc) from None
    missing = [c for c in columns if c not in names]
    if missing:
        raise DataError(f"{path}: lacks the column(s) {missing}; it has {sorted(names)}")
    wanted = list(columns) + [c for c in optional if c in names]
    filters = [("episode_index", "=", episode)] if episode is not None and "episode_index" in names else None
    table = _read_table(path, wanted, filters)
    return {name: column_array(table[name], path, name) for name in wanted}


def column_array(column, path: Path, name: str) -> Any:
    """A pyarrow column as numpy: scalars ``[N]``, fixed or equal-length lists ``[N, K]``,
    structs and strings as a list of Python values."""
    pa, _ = _pyarrow()
    dtype = column.type
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype) or pa.types.is_fixed_size_list(dtype):
        value_type = dtype.value_type
        if pa.types.is_integer(value_type) or pa.types.is_floating(value_type) or pa.types.is_boolean(value_type):
            chunk = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
            lengths = np.asarray(pa.compute.list_value_length(chunk).fill_null(0))
            n = len(lengths)
            if n and (lengths != lengths[0]).any():
                raise DataError(f"{path}: column {name!r} holds vectors of different lengths; the file is damaged")
            values = np.asarray(pa.compute.list_flatten(chunk))
            return values.reshape(n, int(lengths[0]) if n else 0)
        return column.to_pylist()
    if pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_boolean(dtype):
        return np.asarray(column.to_numpy())
    return column.to_pylist()


# ------------------------------------------------------------------------ the Hub
def looks_like_hub_id(text: str) -> bool:
    """``owner/name`` (optionally ``@revision``) that is not an existing local path."""
    return bool(_HUB_ID.match(text)) and not Path(os.path.expanduser(text)).exists()


def download_dataset(repo_id: str, cameras: Sequence[str] | None = None) -> Path:
    """A Hub dataset ``owner/name[@revision]`` in the local Hugging Face cache (downloaded
    once, then reused: ``huggingface_hub.snapshot_download``); with ``cameras``, only their
    videos. :class:`DependencyError` without ``huggingface_hub``, :class:`DataError` when it
    cannot be had (offline and not cached, no such dataset)."""
    try:  # optional: imported by name, so that type checks need not have it
        huggingface_hub = importlib.import_module("huggingface_hub")
    except ImportError:
        raise DependencyError(
            f"{repo_id}: is not a local folder, and downloading it from the Hugging Face Hub needs huggingface_hub "
            "(pip install huggingface_hub); or pass the dataset's local folder"
        ) from None
    repo, _, revision = repo_id.partition("@")
    patterns = ["meta/**", "data/**", "README.md"]
    if cameras:
        names = {c if c.startswith("observation.") else CAMERA_PREFIX + c for c in cameras}
        patterns += [f"videos/**/{n}/**" for n in names] + [f"videos/{n}/**" for n in names]
        patterns += [f"images/{n}/**" for n in names]
    else:
        patterns += ["videos/**", "images/**"]
    try:
        local = huggingface_hub.snapshot_download(
            repo, repo_type="dataset", revision=revision or None, allow_patterns=patterns
        )
    except Exception as exc:  # offline (LocalEntryNotFoundError), no such repo, HTTP errors
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(
            f"{repo_id}: cannot get this dataset from the Hugging Face Hub ({type(exc).__name__}: {reason}); "
            "check the name and the network, or download it once online and pass its folder"
        ) from None
    logger.info("%s: using the Hub snapshot at %s", repo_id, local)
    return Path(local)
