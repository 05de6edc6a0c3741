"""Nearest-neighbour matches between whole sequences, shared by Kendall's τ and cycle consistency.

For sequences ``U`` and ``V`` (per-frame embeddings ``[T_u, D]`` and ``[T_v, D]``) the match
of frame ``i`` of ``U`` is ``j(i) = argmin_j ||u_i - v_j||^2`` (ties to the lower index), as
in TCC's and XIRL's evaluation code (``scipy.spatial.distance.cdist(..., "sqeuclidean")``
then ``argmin``). One distance matrix gives both directions
(:func:`timecontrast.evaluation.neighbors.nearest_frames`), so a table of every ordered pair
costs one matrix per unordered pair.

``stride`` keeps every ``stride``-th frame before matching (TCC's ``KENDALLS_TAU_STRIDE``,
XIRL's ``stride``); indices are then in units of kept frames.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch

from timecontrast.errors import DataError
from timecontrast.evaluation.neighbors import nearest_frames

Matches = dict[tuple[int, int], np.ndarray]  # (i, j) -> [T_i] int64: row of sequence j nearest to each row of i


def strided(embeddings: Sequence[np.ndarray], stride: int = 1) -> list[np.ndarray]:
    """Each ``[T_i, D]`` array with every ``stride``-th row kept, checked for shape and finiteness."""
    if stride < 1:
        raise DataError(f"stride {stride}: must be a positive number of frames")
    out = []
    for i, e in enumerate(embeddings):
        e = np.asarray(e)
        if e.ndim != 2 or e.shape[0] == 0:
            raise DataError(f"sequence {i}: embeddings must be [timesteps, dim] with at least one frame, got {e.shape}")
        if not np.isfinite(e).all():
            raise DataError(f"sequence {i}: embeddings hold NaN or infinite values")
        out.append(e[::stride])
    dims = {e.shape[1] for e in out}
    if len(dims) > 1:
        raise DataError(f"embeddings differ in size: {sorted(dims)}")
    return out


def match_table(
    embeddings: Sequence[np.ndarray],
    pairs: Iterable[tuple[int, int]] | None = None,
    device: str | torch.device | None = None,
) -> Matches:
    """Nearest-neighbour matches ``{(i, j): [T_i] int64}`` for both orders of each pair.

    ``embeddings``: per sequence ``[T_i, D]`` (already strided). ``pairs``: unordered pairs
    ``(i, j)``, i != j (default: all of them).
    """
    n = len(embeddings)
    todo = [(i, j) for i in range(n) for j in range(i + 1, n)] if pairs is None else pairs
    table: Matches = {}
    for i, j in todo:
        if i == j:
            raise ValueError(f"pair ({i}, {j}): a sequence is not matched with itself")
        if (i, j) in table:
            continue
        table[(i, j)], table[(j, i)] = nearest_frames(embeddings[i], embeddings[j], device=device)
    return table
