"""The state and labels of a converted sequence, written beside its records as ``tcn synth`` does.

For records in ``DIR/<split>/records/``, a sequence (or each shard of it) whose source has
per-frame state or labels gets ``DIR/<split>/state/<name>.npz`` (a
:class:`~timecontrast.data.state.SequenceState`; its ``labels`` hold the labels, where
:class:`~timecontrast.data.records.SequenceRecord` finds them) and, when it has labels,
``DIR/<split>/labeled/<name>.tfrecord`` (one labeled frame per timestep: the JPEGs of every
view, ``task`` = the name, the int64 labels and ``timestep``). Records written elsewhere
get no sidecars (nothing would find them): a warning says so once.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from timecontrast.data.formats.base import SourceSequence
from timecontrast.data.labeled import LabeledFrame, write_labeled_records
from timecontrast.data.layout import labeled_path_of, state_path_of
from timecontrast.data.state import SequenceState, save_state
from timecontrast.errors import DataError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sidecars:
    """The state of a sequence cut to its ``length`` frames, labels included in it."""

    state: SequenceState
    has_labels: bool

    def sliced(self, start: int, stop: int) -> SequenceState:
        """The state of timesteps ``[start, stop)`` (a shard)."""
        st = self.state
        return replace(
            st,
            position=st.position[start:stop],
            velocity=st.velocity[start:stop],
            labels={k: v[start:stop] for k, v in st.labels.items()},
            camera_positions=st.camera_positions[:, start:stop],
            camera_orientations=st.camera_orientations[:, start:stop],
            extras={k: v[start:stop] for k, v in st.extras.items()},
        )


def _cut(values: np.ndarray, length: int, what: str, source: str) -> np.ndarray:
    """``values [T, ...]`` cut to ``length`` rows (views may be cut to the shortest); fewer is an error."""
    if len(values) < length:
        raise DataError(f"{source}: {what} has {len(values)} rows for {length} frames; the episode is inconsistent")
    return values[:length]


def read_sidecars(seq: SourceSequence, length: int) -> Sidecars | None:
    """The state and labels of ``seq`` for its first ``length`` frames, or None when it has
    neither. Raises :class:`DataError` naming the episode when they are shorter than its frames."""
    state = seq.state()
    labels = seq.labels()
    if state is None and not labels:
        return None
    where = seq.source
    if state is None:
        state = SequenceState(np.zeros((length, 0)), np.zeros((length, 0)), [], [])
    state = replace(
        state,
        position=_cut(state.position, length, "the state", where),
        velocity=_cut(state.velocity, length, "the velocity", where),
        labels={k: _cut(v, length, f"label '{k}'", where) for k, v in state.labels.items()},
        camera_positions=state.camera_positions[:, :length],
        camera_orientations=state.camera_orientations[:, :length],
        extras={k: _cut(v, length, f"'{k}'", where) for k, v in state.extras.items()},
    )
    for key, values in (labels or {}).items():
        values = np.asarray(values)
        if values.ndim != 1 or not np.issubdtype(values.dtype, np.integer):
            raise DataError(f"{where}: label '{key}' must be one integer per frame, got {values.dtype} {values.shape}")
        state.labels[key] = _cut(values.astype(np.int64), length, f"label '{key}'", where)
    return Sidecars(state, bool(state.labels))


def sidecar_paths(record_path: Path, name: str, has_labels: bool) -> list[Path]:
    """The state file and, with labels, the labeled records of record ``name`` at
    ``record_path``; [] when the record is not in a ``records/`` folder."""
    state = state_path_of(record_path, name)
    labeled = labeled_path_of(record_path, name)
    if state is None or labeled is None:
        return []
    return [state, labeled] if has_labels else [state]


def write_sidecars(
    sidecars: Sidecars, shards: Sequence[tuple[str, int, int, Path]], views: list[list[bytes]]
) -> list[Path]:
    """Write the state (and labeled frames) of each shard ``(name, start, stop, record path)``;
    ``views[v][t]`` are the sequence's JPEGs. Each file is written atomically. Returns the files."""
    written = []
    for name, start, stop, record in shards:
        paths = sidecar_paths(record, name, sidecars.has_labels)
        if not paths:
            continue
        state = sidecars.sliced(start, stop)
        written.append(save_state(paths[0], state))
        if sidecars.has_labels:
            frames = (
                LabeledFrame(
                    images=[view[t] for view in views],
                    task=name,
                    labels={key: int(values[t - start]) for key, values in state.labels.items()},
                    timestep=t - start,
                )
                for t in range(start, stop)
            )
            written.append(write_labeled_records(paths[1], frames))
    return written


def relative_names(paths: Sequence[Path], folder: Path) -> list[str]:
    """``paths`` relative to ``folder`` as POSIX strings (what a settings record stores)."""
    return [Path(os.path.relpath(p, folder)).as_posix() for p in paths]
