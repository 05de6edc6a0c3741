"""The file formats of an export: one file per sequence, written atomically.

``npz`` (numpy; one ``.npz`` per sequence, uncompressed)::

    embeddings              [V, T, D] float32  row i is view views[i]
    views                   [V] int64
    timesteps               [T] int64          0 .. T-1
    sequence                str (0-d)          the sequence name
    label_names             [L] str
    labels_<name>           [T] int64          one per label; -1 = no label at that timestep
    state_position          [T, P] float64     the true state, when known
    state_velocity          [T, Q] float64
    state_position_names    [P] str
    state_velocity_names    [Q] str
    metadata                str (0-d)          JSON: the model and this sequence's manifest entry

``parquet`` (one ``.parquet`` per sequence, one row per frame and view, view by view)::

    sequence        string
    view            int64
    timestep        int64
    embedding       fixed_size_list<float32>[D]
    labels_<name>   int64                       one column per label; -1 = no label
    state_position  fixed_size_list<float64>[P] when the true state is known (names in the manifest)
    state_velocity  fixed_size_list<float64>[Q]

and the same JSON under the schema metadata key ``timecontrast_export``.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from timecontrast.errors import DependencyError
from timecontrast.export.content import SequenceExport
from timecontrast.io.files import atomic_path, atomic_write

METADATA_KEY = "timecontrast_export"  # parquet schema metadata; the npz's 'metadata' array
LABEL_PREFIX = "labels_"


def _npz_arrays(item: SequenceExport, metadata: dict[str, Any]) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {
        "embeddings": np.ascontiguousarray(item.embeddings, np.float32),
        "views": np.asarray(item.views, np.int64),
        "timesteps": item.timesteps,
        "sequence": np.array(item.name, np.str_),
        "label_names": np.array(list(item.labels), np.str_).reshape(-1),
    }
    for name, values in item.labels.items():
        arrays[LABEL_PREFIX + name] = values
    if item.state is not None:
        arrays["state_position"] = item.state.position
        arrays["state_velocity"] = item.state.velocity
        arrays["state_position_names"] = np.array(item.state.position_names, np.str_).reshape(-1)
        arrays["state_velocity_names"] = np.array(item.state.velocity_names, np.str_).reshape(-1)
    arrays["metadata"] = np.array(json.dumps(metadata), np.str_)
    return arrays


def write_npz(path: Path, item: SequenceExport, metadata: dict[str, Any]) -> None:
    """One sequence as an uncompressed ``.npz`` (see the module docstring)."""
    with atomic_write(path, "wb") as fh:
        np.savez(fh, **_npz_arrays(item, metadata))  # type: ignore[arg-type]  # numpy's stub wants positional arrays


def read_npz_metadata(path: Path) -> dict[str, Any] | None:
    """The ``metadata`` JSON of an exported ``.npz`` (None: not one of ours or unreadable)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            return json.loads(str(npz["metadata"])) if "metadata" in npz.files else None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None


def _pyarrow():
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise DependencyError("--format parquet needs pyarrow; pip install pyarrow (or use --format npz)") from None
    return pa, pq


def _fixed_size_list(pa: Any, values: np.ndarray) -> Any:
    """``[N, K]`` numpy -> a fixed_size_list<K> array of N rows."""
    return pa.FixedSizeListArray.from_arrays(pa.array(np.ascontiguousarray(values).reshape(-1)), int(values.shape[1]))


def parquet_table(item: SequenceExport, metadata: dict[str, Any]) -> Any:
    """The ``pyarrow.Table`` of one sequence: ``V * T`` rows, view by view."""
    pa, _ = _pyarrow()
    num_views, length, dim = item.embeddings.shape
    rows = num_views * length
    columns: dict[str, Any] = {
        "sequence": pa.array([item.name] * rows, pa.string()),
        "view": pa.array(np.repeat(np.asarray(item.views, np.int64), length)),
        "timestep": pa.array(np.tile(item.timesteps, num_views)),
        "embedding": _fixed_size_list(pa, np.asarray(item.embeddings, np.float32).reshape(rows, dim)),
    }
    for name, values in item.labels.items():
        columns[LABEL_PREFIX + name] = pa.array(np.tile(values, num_views))
    if item.state is not None:
        for key, values in (("state_position", item.state.position), ("state_velocity", item.state.velocity)):
            if values.shape[1] > 0:
                columns[key] = _fixed_size_list(pa, np.tile(values, (num_views, 1)))
    table = pa.table(columns)
    return table.replace_schema_metadata({METADATA_KEY: json.dumps(metadata)})


def write_parquet(path: Path, item: SequenceExport, metadata: dict[str, Any]) -> None:
    """One sequence as a ``.parquet`` file (see the module docstring)."""
    _, pq = _pyarrow()
    table = parquet_table(item, metadata)
    with atomic_path(path) as tmp:
        pq.write_table(table, os.fspath(tmp))


def read_parquet_metadata(path: Path) -> dict[str, Any] | None:
    """The export metadata of a ``.parquet`` file (None: not one of ours or unreadable)."""
    pa, pq = _pyarrow()
    try:
        meta = pq.read_schema(os.fspath(path)).metadata or {}
    except (OSError, pa.ArrowException):
        return None
    raw = meta.get(METADATA_KEY.encode())
    try:
        return json.loads(raw) if raw is not None else None
    except ValueError:
        return None


# format -> (file suffix, writer, metadata reader)
Writer = Callable[[Path, SequenceExport, dict[str, Any]], None]
Reader = Callable[[Path], "dict[str, Any] | None"]
FORMATS: dict[str, tuple[str, Writer, Reader]] = {
    "npz": (".npz", write_npz, read_npz_metadata),
    "parquet": (".parquet", write_parquet, read_parquet_metadata),
}
