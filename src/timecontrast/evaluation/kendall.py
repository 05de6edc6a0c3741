"""Kendall's τ of nearest-neighbour alignment (TCC's definition), across sequences and across views.

Source: Dwibedi et al., "Temporal Cycle-Consistency Learning", CVPR 2019, Sec. 5
(evaluation metrics), and its code (``tcc/evaluation/kendalls_tau.py``). For an ordered
pair of *different* sequences (U, V) of the same task, every frame ``u_i`` of U is matched
to its nearest neighbour in V, ``j(i) = argmin_j ||u_i - v_j||^2``
(:mod:`timecontrast.evaluation.matches`); the pair's τ is Kendall's rank correlation of
``(i, j(i))`` over the frames of U, computed as :func:`scipy.stats.kendalltau` does (τ-b,
which corrects for ties; ties are common, as several frames can match the same frame):

    τ_b = (P - Q) / sqrt((P + Q + T_i) (P + Q + T_j))

with P concordant and Q discordant pairs of frames, T_i / T_j pairs tied only in ``i`` /
only in ``j(i)``. τ = 1: the matches advance with time (aligned); -1: reversed; about 0:
unrelated. A pair whose matches are all the same frame has no τ (0/0): TCC drops such pairs
from the mean, and so do we (counted in ``num_undefined``). The reported value is the mean
over ordered pairs.

- **across sequences**: every ordered pair of different sequences (one view of each, e.g.
  view 0): works on single-view data, and is what TCC reports.
- **across views**: view i against view j (i != j) of the *same* sequence, every ordered
  pair of views, mean over sequences and pairs: how synchronised the views' embeddings are
  (the multi-view counterpart; not in TCC).

Every split is taken to be one task (as every dataset ``tcn synth`` writes is).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import kendalltau

from timecontrast.errors import DataError
from timecontrast.evaluation.matches import Matches, match_table, strided

log = logging.getLogger(__name__)


def matched_tau(matches: np.ndarray) -> float:
    """τ-b of (frame index, matched index) for ``matches [T]``; NaN when undefined (constant)."""
    m = np.asarray(matches)
    if len(m) < 2 or (m == m[0]).all():
        return float("nan")  # scipy returns NaN here too (and warns)
    return float(kendalltau(np.arange(len(m)), m).statistic)


@dataclass
class TauResult:
    """Mean τ over the pairs where it is defined; NaN when none is."""

    tau: float
    num_pairs: int  # ordered pairs evaluated
    num_undefined: int  # pairs whose matches were all one frame (dropped, as in TCC)

    def to_dict(self) -> dict:
        return {"tau": self.tau, "num_pairs": self.num_pairs, "num_undefined": self.num_undefined}


def _mean(taus: list[float]) -> TauResult:
    t = np.asarray(taus, np.float64)
    defined = t[~np.isnan(t)]
    return TauResult(float(defined.mean()) if defined.size else float("nan"), len(t), int(np.isnan(t).sum()))


def kendalls_tau_across_sequences(
    embeddings: Sequence[np.ndarray],
    stride: int = 1,
    device: str | torch.device | None = None,
    table: Matches | None = None,
) -> TauResult:
    """TCC's Kendall's τ over every ordered pair of different sequences.

    ``embeddings``: one ``[T_i, D]`` array per sequence (lengths may differ); at least two.
    ``table``: their :func:`match_table` at ``stride`` when already built (cycle consistency
    uses the same one).
    """
    if len(embeddings) < 2:
        raise DataError(f"Kendall's tau across sequences needs at least 2 sequences, got {len(embeddings)}")
    if table is None:
        table = match_table(strided(embeddings, stride), device=device)
    return _mean([matched_tau(table[pair]) for pair in sorted(table)])


def kendalls_tau_across_views(
    embeddings: Sequence[np.ndarray], stride: int = 1, device: str | torch.device | None = None
) -> TauResult:
    """Kendall's τ between the views of each sequence: ``embeddings`` holds ``[V, T, D]`` per
    sequence (V >= 2); every ordered pair of views (i, j), i != j, of every sequence."""
    taus: list[float] = []
    for n, emb in enumerate(embeddings):
        emb = np.asarray(emb)
        if emb.ndim != 3 or emb.shape[0] < 2:
            raise DataError(
                f"sequence {n}: Kendall's tau across views needs [views >= 2, timesteps, dim] embeddings, "
                f"got shape {emb.shape}"
            )
        table = match_table(strided(list(emb), stride), device=device)
        taus += [matched_tau(table[pair]) for pair in sorted(table)]
    if not taus:
        raise DataError("Kendall's tau across views needs at least one sequence")
    return _mean(taus)
