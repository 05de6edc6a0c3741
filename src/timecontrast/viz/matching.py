"""Nearest-neighbour matching of embedded frames: the types an imitation pair is made of,
centred smoothing over time, and the match of every query frame to its nearest target frame.

Smoothing (a fix of the original's off-by-one): embedding ``i`` is replaced by the mean
of frames ``i - w .. i + w`` inclusive (``w = smoothing_window``; ``2w + 1`` frames,
clipped at the ends; ``0`` = no smoothing). The original averaged ``[i - w, i + w)``,
a window of ``2w`` frames that is not centred on ``i``.

:mod:`timecontrast.viz.imitation` plans the pairs and writes the outputs;
:mod:`timecontrast.viz.panels` and :mod:`timecontrast.viz.plots` draw them. All of them
import this module, which imports none of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from timecontrast.data.sequence import EmbeddedSequence
from timecontrast.errors import ConfigError, DataError


@dataclass
class ImitationPair:
    """One output video: a query view matched against the pooled ``target_view`` frames of ``targets``."""

    name: str  # file stem, e.g. q<seq>v1_im<seq>v0
    mode: str
    query: EmbeddedSequence
    query_view: int
    targets: list[EmbeddedSequence]
    target_view: int


@dataclass
class ImitationMatch:
    """The nearest target frame of every query frame."""

    target_index: np.ndarray  # [Tq] int64: which of pair.targets
    target_frame: np.ndarray  # [Tq] int64: timestep within that target
    distance: np.ndarray  # [Tq] float64: Euclidean distance of the smoothed embeddings


# --------------------------------------------------------------------------- numerics
def smooth_embeddings(embeddings: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average over time: ``[T, D] -> [T, D]`` (float64).

    Row ``i`` is the mean of rows ``max(0, i - window) .. min(T - 1, i + window)``
    inclusive; ``window = 0`` returns the embeddings unchanged.
    """
    emb = np.asarray(embeddings, np.float64)  # [T, D]
    if window < 0:
        raise ConfigError(f"smoothing_window must be >= 0, got {window}")
    if window == 0 or len(emb) == 0:
        return emb.copy()
    t = np.arange(len(emb))
    lo = np.maximum(t - window, 0)
    hi = np.minimum(t + window + 1, len(emb))
    csum = np.concatenate([np.zeros((1, emb.shape[1])), np.cumsum(emb, axis=0)])  # [T + 1, D]
    return (csum[hi] - csum[lo]) / (hi - lo)[:, None]


def nearest_neighbours(
    query: np.ndarray, target: np.ndarray, max_elements: int = 1 << 23
) -> tuple[np.ndarray, np.ndarray]:
    """Index and Euclidean distance of the nearest ``target`` row of every ``query`` row.

    ``query [Q, D]``, ``target [N, D]`` -> ``(index [Q] int64, distance [Q] float64)``.
    The nearest row minimises ``|t|^2 - 2 q.t`` (``|q|^2`` is the same for every
    candidate), computed in float64 by blocks of query rows with at most
    ``max_elements`` values in memory; the reported distance is recomputed exactly from
    the chosen pair.
    """
    q = np.asarray(query, np.float64)
    t = np.asarray(target, np.float64)
    if t.shape[0] == 0:
        raise DataError("no target frames to match against")
    if q.shape[1] != t.shape[1]:
        raise DataError(f"query embeddings have dimension {q.shape[1]} but target embeddings {t.shape[1]}")
    t_sq = np.einsum("nd,nd->n", t, t)  # [N]
    block = max(1, max_elements // t.shape[0])
    index = np.empty(len(q), np.int64)
    for s in range(0, len(q), block):
        score = q[s : s + block] @ t.T  # [B, N], then in place: |t|^2 - 2 q.t
        score *= -2.0
        score += t_sq
        index[s : s + block] = score.argmin(axis=1)
    distance = np.linalg.norm(q - t[index], axis=1) if len(q) else np.zeros(0)
    return index, distance


class SmoothedEmbeddings:
    """Smoothed embeddings of (sequence, view), computed once and reused across pairs."""

    def __init__(self, window: int) -> None:
        self.window = window
        self._cache: dict[tuple[int, int], np.ndarray] = {}

    def __call__(self, seq: EmbeddedSequence, view: int) -> np.ndarray:
        key = (id(seq), view)
        if key not in self._cache:
            self._cache[key] = smooth_embeddings(seq.view_embeddings(view), self.window)  # [T, D]
        return self._cache[key]


def match_pair(
    pair: ImitationPair, smoothing_window: int = 5, smoothed: SmoothedEmbeddings | None = None
) -> ImitationMatch:
    """Match each query frame (smoothed) to its nearest smoothed frame among the pooled targets."""
    smoothed = smoothed or SmoothedEmbeddings(smoothing_window)
    query = smoothed(pair.query, pair.query_view)  # [Tq, D]
    parts = [smoothed(t, pair.target_view) for t in pair.targets]  # each [Ti, D]
    lengths = np.array([len(p) for p in parts])
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    owner = np.repeat(np.arange(len(parts)), lengths)  # [N]
    index, distance = nearest_neighbours(query, np.concatenate(parts))
    target_index = owner[index]
    return ImitationMatch(target_index.astype(np.int64), (index - offsets[target_index]).astype(np.int64), distance)


__all__ = [
    "ImitationMatch",
    "ImitationPair",
    "SmoothedEmbeddings",
    "match_pair",
    "nearest_neighbours",
    "smooth_embeddings",
]
