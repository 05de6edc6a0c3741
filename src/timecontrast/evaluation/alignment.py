"""Multi-view alignment error (the original's ``alignment``).

For a sequence filmed from V views, embed every frame of every view. For an ordered pair
of views (i, j) and each frame t of view i, find the nearest frame t' of view j
(Euclidean distance). The pair's error is ``mean_t |t - t'| / T`` (T: the sequence
length): 0 when every frame finds its own moment in the other view; about 1/3 when the
match is random.

The headline ``error`` is the original's definition: one direction (i -> j, i < j),
averaged over all (sequence, view pair) entries without weighting by length. We also
report the mean over both directions and a per ordered pair table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import torch

from timecontrast.errors import DataError
from timecontrast.evaluation.neighbors import DEFAULT_CHUNK_BYTES, nearest_frames, nearest_frames_batched


def _check(embeddings: np.ndarray, name: str) -> np.ndarray:
    e = np.asarray(embeddings)
    if e.ndim != 3:
        raise DataError(f"{name}: alignment needs embeddings [views, T, D], got shape {e.shape}")
    if e.shape[0] < 2 or e.shape[1] < 1:
        raise DataError(
            f"{name}: alignment needs at least 2 views and 1 frame, got {e.shape[0]} views of {e.shape[1]} frames"
        )
    return e


def batch_alignment_errors(embeddings: np.ndarray, device: str | torch.device | None = None) -> np.ndarray:
    """``[S, V, V]`` errors of S sequences of equal shape ``[S, V, T, D]``; ``[s, i, j]``
    matches view i's frames in view j (diagonal NaN)."""
    e = np.asarray(embeddings)
    s, v, t, _ = e.shape
    steps = np.arange(t)
    out = np.full((s, v, v), np.nan)
    for i in range(v):
        for j in range(i + 1, v):
            if t * t * 8 > DEFAULT_CHUNK_BYTES:  # long sequences: row chunks of one pair at a time
                pairs = [nearest_frames(e[k, i], e[k, j], device=device) for k in range(s)]
                i_to_j, j_to_i = np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
            else:
                i_to_j, j_to_i = nearest_frames_batched(e[:, i], e[:, j], device=device)  # [S, T] each
            out[:, i, j] = np.abs(steps - i_to_j).mean(axis=1) / t
            out[:, j, i] = np.abs(steps - j_to_i).mean(axis=1) / t
    return out


def sequence_alignment_errors(embeddings: np.ndarray, device: str | torch.device | None = None) -> np.ndarray:
    """``[V, V]`` errors of one sequence ``[V, T, D]``; ``[i, j]`` matches view i's frames in
    view j (diagonal NaN)."""
    return batch_alignment_errors(_check(embeddings, "sequence")[None], device)[0]


@dataclass
class AlignmentResult:
    error: float  # the original's headline: i < j, one direction, mean over (sequence, pair)
    error_both_directions: float  # mean over (sequence, ordered pair)
    pair_errors: dict[tuple[int, int], float]  # (i, j) -> mean over sequences
    sequence_errors: dict[str, np.ndarray] = field(default_factory=dict)  # name -> [V, V]

    @property
    def num_sequences(self) -> int:
        return len(self.sequence_errors)

    def scalars(self, prefix: str = "validation") -> dict[str, float]:
        return {f"{prefix}/alignment": self.error, f"{prefix}/alignment_both_directions": self.error_both_directions}

    def to_dict(self) -> dict:
        return {
            "error": self.error,
            "error_both_directions": self.error_both_directions,
            "num_sequences": self.num_sequences,
            "pairs": {f"{i}->{j}": e for (i, j), e in sorted(self.pair_errors.items())},
            "sequences": {name: _pairs_dict(m) for name, m in self.sequence_errors.items()},
        }


def _pairs_dict(m: np.ndarray) -> dict[str, float]:
    v = m.shape[0]
    return {f"{i}->{j}": float(m[i, j]) for i in range(v) for j in range(v) if i != j}


def alignment_error(
    sequences: Iterable[tuple[str, np.ndarray]] | Iterable[np.ndarray], device: str | torch.device | None = None
) -> AlignmentResult:
    """Alignment error over sequences given as ``(name, [V, T, D])`` pairs or bare ``[V, T, D]`` arrays.

    Sequences may differ in length; the view count may differ too (pairs average over
    the sequences that have both views).
    """
    per_seq: dict[str, np.ndarray | None] = {}
    # Sequences of one shape are batched; a bucket is flushed once its distances would
    # fill DEFAULT_CHUNK_BYTES, which also bounds the embeddings held in memory.
    buckets: dict[tuple[int, ...], list[tuple[str, np.ndarray]]] = {}

    def flush(shape: tuple[int, ...]) -> None:
        items = buckets.pop(shape)
        errors = batch_alignment_errors(np.stack([emb for _, emb in items]), device)
        for (name, _), err in zip(items, errors):
            per_seq[name] = err

    for idx, item in enumerate(sequences):
        name, emb = item if isinstance(item, tuple) else (f"sequence_{idx}", item)
        if name in per_seq:
            name = f"{name}#{idx}"
        emb = _check(emb, name)
        per_seq[name] = None  # keeps the input order
        bucket = buckets.setdefault(emb.shape, [])
        bucket.append((name, emb))
        if len(bucket) * emb.shape[1] ** 2 * 8 >= DEFAULT_CHUNK_BYTES:
            flush(emb.shape)
    for shape in list(buckets):
        flush(shape)
    if not per_seq:
        raise DataError("alignment needs at least one sequence; check the records path (data.validation)")
    sequence_errors: dict[str, np.ndarray] = {}
    for name, err in per_seq.items():
        assert err is not None  # every bucket was flushed above
        sequence_errors[name] = err
    forward, both = [], []
    pair_values: dict[tuple[int, int], list[float]] = {}
    for m in sequence_errors.values():
        v = m.shape[0]
        for i in range(v):
            for j in range(v):
                if i == j:
                    continue
                pair_values.setdefault((i, j), []).append(float(m[i, j]))
                both.append(m[i, j])
                if i < j:
                    forward.append(m[i, j])
    return AlignmentResult(
        error=float(np.mean(forward)),
        error_both_directions=float(np.mean(both)),
        pair_errors={p: float(np.mean(vals)) for p, vals in sorted(pair_values.items())},
        sequence_errors=sequence_errors,
    )
