"""What one exported sequence holds: embeddings, views, timesteps, per-frame labels, true state.

Labels come from the two places ``tcn synth`` (and ``tcn convert``) put them beside the
records: the sequence's state file (``state/<seq>.npz``: ``labels/<name>``) and its labeled
frame records (``labeled/<seq>.tfrecord``: one ``tf.train.Example`` per labeled timestep).
A name in both takes the state's values. A timestep the labeled records do not cover gets
:data:`UNLABELED` (-1).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from timecontrast.data.labeled import iter_labeled_frames
from timecontrast.data.layout import labeled_path_of
from timecontrast.data.sequence import MultiViewSequence
from timecontrast.data.state import SequenceState
from timecontrast.errors import DataError

UNLABELED = -1  # the label of a timestep that has none


@dataclass
class SequenceExport:
    """One sequence as it is written: ``embeddings[i]`` (``[V, T, D]`` float32) is view ``views[i]``."""

    name: str
    embeddings: np.ndarray  # [V, T, D] float32
    views: tuple[int, ...]
    labels: dict[str, np.ndarray]  # name -> [T] int64 (UNLABELED where unknown)
    state: SequenceState | None  # the true state, [T] rows, when known
    source: str  # the file the sequence was read from

    @property
    def length(self) -> int:
        return int(self.embeddings.shape[1])

    @property
    def timesteps(self) -> np.ndarray:
        """``[T]`` int64: 0 .. T-1."""
        return np.arange(self.length, dtype=np.int64)


def sequence_source(sequence: MultiViewSequence) -> str:
    """The file(s) a sequence was read from (its name when unknown)."""
    paths = getattr(sequence, "paths", None)
    if paths:
        return ", ".join(str(p) for p in paths)
    return str(getattr(sequence, "path", sequence.name))


def labeled_record_labels(path: Path, name: str, length: int) -> dict[str, np.ndarray]:
    """``{label: [T] int64}`` of sequence ``name`` from its labeled frame records (timesteps
    without a labeled frame: :data:`UNLABELED`). A frame without a ``timestep`` is the record's index."""
    out: dict[str, np.ndarray] = {}
    i = -1  # index among this sequence's frames (a file may hold other sequences' too)
    for frame in iter_labeled_frames(path):
        if frame.task != name:
            continue
        i += 1
        t = i if frame.timestep is None else frame.timestep
        if not 0 <= t < length:
            raise DataError(
                f"{path}: labeled frame {i} of '{name}' is timestep {t}, outside the sequence's {length} frames; "
                "the labeled records do not belong to these sequence records (re-convert them)"
            )
        for key, value in frame.labels.items():
            if key not in out:
                out[key] = np.full(length, UNLABELED, np.int64)
            out[key][t] = value
    return out


def sequence_labels(sequence: MultiViewSequence) -> dict[str, np.ndarray]:
    """Every per-frame label of ``sequence``, sorted by name: ``{label: [T] int64}``: its state
    file's labels, or, for sequences without them, those of its labeled frame records (which
    this project writes from the state's labels: reading both would decode nothing new)."""
    length = sequence.length
    labels = {str(k): np.asarray(v, np.int64) for k, v in (sequence.labels or {}).items()}
    for key, values in labels.items():
        if values.shape != (length,):
            raise DataError(
                f"{sequence_source(sequence)}: label '{key}' of '{sequence.name}' has shape {values.shape}, but the "
                f"sequence has {length} frames; regenerate its state file"
            )
    path = getattr(sequence, "path", None)
    labeled = labeled_path_of(path, sequence.name) if path is not None else None
    if not labels and labeled is not None and labeled.is_file():
        labels = labeled_record_labels(labeled, sequence.name, length)
    return dict(sorted(labels.items()))


def sequence_state(sequence: MultiViewSequence) -> SequenceState | None:
    """The true state of ``sequence`` when known, checked against its length."""
    state = sequence.state
    if state is not None and state.length != sequence.length:
        raise DataError(
            f"{sequence_source(sequence)}: the state of '{sequence.name}' has {state.length} timesteps, the sequence "
            f"{sequence.length}; the state file does not belong to these records (regenerate it)"
        )
    return state
