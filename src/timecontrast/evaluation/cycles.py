"""Cycle consistency of nearest-neighbour matches between sequences (XIRL's 2-way and 3-way).

Source: Zakka et al., "XIRL: Cross-embodiment Inverse Reinforcement Learning", CoRL 2021
(Sec. 5, and its code ``xirl/evaluators/cycle_consistency.py``), after Aytar et al.,
"Playing hard exploration games by watching YouTube", NeurIPS 2018. With ``nn_V(x)`` the
frame of V nearest to ``x`` (:mod:`timecontrast.evaluation.matches`):

- **2-way**, per ordered pair (U, V): frame ``i`` of U is consistent when
  ``nn_U(v_{nn_V(u_i)}) = i`` (U -> V -> back to U lands where it started);
- **3-way**, per ordered triple (U, V, W): frame ``i`` is consistent when both U -> V -> W
  -> U and U -> W -> V -> U return to ``i`` (XIRL requires both directions).

The score of a pair (triple) is the fraction of U's frames that are consistent; the metric
is its mean over every ordered pair (triple) of different sequences. ``exact``: the cycle
returns to frame ``i`` itself; ``within_1``: to ``i - 1``, ``i`` or ``i + 1``, which is
XIRL's own criterion (``|returned - i| <= 1``). With ``stride`` > 1 frames are subsampled
first and indices (and the ±1) are in kept frames, as in XIRL. Over ``max_triples`` ordered
triples, that many are drawn at random (seeded, with replacement) instead of taking all.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from timecontrast.errors import DataError
from timecontrast.evaluation.matches import Matches, match_table, strided

log = logging.getLogger(__name__)


def two_way_returns(table: Matches, u: int, v: int) -> np.ndarray:
    """``[T_u]``: the frame of U each frame of U returns to through V."""
    return table[(v, u)][table[(u, v)]]


def three_way_returns(table: Matches, u: int, v: int, w: int) -> np.ndarray:
    """``[T_u]``: the frame of U each frame returns to through V then W."""
    return table[(w, u)][table[(v, w)][table[(u, v)]]]


def returned_fraction(returned: np.ndarray, tolerance: int = 0) -> float:
    """Fraction of frames ``i`` with ``|returned[i] - i| <= tolerance``."""
    return float(np.mean(np.abs(returned - np.arange(len(returned))) <= tolerance))


@dataclass
class CycleResult:
    """Mean fractions of consistent frames; ``three_way*`` NaN with fewer than 3 sequences."""

    two_way: float
    two_way_within_1: float
    three_way: float
    three_way_within_1: float
    num_pairs: int
    num_triples: int

    def to_dict(self) -> dict:
        return {
            "two_way": self.two_way,
            "two_way_within_1": self.two_way_within_1,
            "three_way": self.three_way,
            "three_way_within_1": self.three_way_within_1,
            "num_pairs": self.num_pairs,
            "num_triples": self.num_triples,
        }


def choose_triples(num_sequences: int, max_triples: int, seed: int = 0) -> list[tuple[int, int, int]]:
    """Every ordered triple of different sequences, or ``max_triples`` drawn at random."""
    total = num_sequences * (num_sequences - 1) * (num_sequences - 2)
    if total <= max_triples:
        return list(itertools.permutations(range(num_sequences), 3))
    rng = np.random.default_rng(seed)
    drawn = [rng.choice(num_sequences, 3, replace=False) for _ in range(max_triples)]
    return [(int(a), int(b), int(c)) for a, b, c in drawn]


def cycle_consistency(
    embeddings: Sequence[np.ndarray],
    stride: int = 1,
    max_triples: int = 2000,
    seed: int = 0,
    device: str | torch.device | None = None,
    table: Matches | None = None,
) -> CycleResult:
    """XIRL's 2-way and 3-way cycle consistency of per-sequence embeddings ``[T_i, D]`` (>= 2).

    ``table``: their :func:`match_table` at ``stride`` when already built."""
    n = len(embeddings)
    if n < 2:
        raise DataError(f"cycle consistency needs at least 2 sequences, got {n}")
    if max_triples < 1:
        raise DataError(f"max_triples {max_triples}: must be at least 1")
    if table is None:
        table = match_table(strided(embeddings, stride), device=device)
    two = [two_way_returns(table, u, v) for u, v in sorted(table)]
    triples = choose_triples(n, max_triples, seed) if n >= 3 else []
    exact, near = [], []
    for u, v, w in triples:
        forward, backward = three_way_returns(table, u, v, w), three_way_returns(table, u, w, v)
        exact.append(float(np.mean((forward == np.arange(len(forward))) & (backward == forward))))
        off_f = np.abs(forward - np.arange(len(forward)))
        off_b = np.abs(backward - np.arange(len(backward)))
        near.append(float(np.mean((off_f <= 1) & (off_b <= 1))))
    nan = float("nan")
    return CycleResult(
        two_way=float(np.mean([returned_fraction(r) for r in two])),
        two_way_within_1=float(np.mean([returned_fraction(r, 1) for r in two])),
        three_way=float(np.mean(exact)) if exact else nan,
        three_way_within_1=float(np.mean(near)) if near else nan,
        num_pairs=len(two),
        num_triples=len(triples),
    )
