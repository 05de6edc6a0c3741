"""Kendall's tau of nearest-neighbour alignment against known answers and TCC's own loop."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from scipy.stats import kendalltau

from timecontrast.errors import DataError
from timecontrast.evaluation.kendall import (
    kendalls_tau_across_sequences,
    kendalls_tau_across_views,
    matched_tau,
)


def _curve(length: int, dim: int = 4, seed: int = 0) -> np.ndarray:
    """``[T, D]``: a smooth path that never comes back near itself (each frame unique in time)."""
    t = np.linspace(0, 1, length)[:, None]
    w = np.random.default_rng(seed).normal(size=(1, dim))
    return np.concatenate([t, np.sin(3 * t * w[:, 1:])], 1)


def _tcc_reference(embs: list[np.ndarray], stride: int = 1) -> float:
    """TCC's tcc/evaluation/kendalls_tau.py loop (sqeuclidean, NaN pairs dropped)."""
    taus = []
    for i, a in enumerate(embs):
        for j, b in enumerate(embs):
            if i != j:
                nns = np.argmin(cdist(a[::stride], b[::stride], "sqeuclidean"), axis=1)
                taus.append(kendalltau(np.arange(len(nns)), nns).statistic)
    taus = np.asarray(taus)
    return float(np.mean(taus[~np.isnan(taus)]))


def test_perfect_alignment_is_one_and_reversed_is_minus_one():
    a = _curve(30)
    noisy = a + np.random.default_rng(1).normal(scale=1e-4, size=a.shape)
    assert kendalls_tau_across_sequences([a, noisy, a.copy()]).tau == pytest.approx(1.0)
    result = kendalls_tau_across_sequences([a, a[::-1].copy()])
    assert result.tau == pytest.approx(-1.0) and result.num_pairs == 2 and result.num_undefined == 0


def test_unrelated_sequences_are_near_zero():
    rng = np.random.default_rng(0)
    result = kendalls_tau_across_sequences([rng.normal(size=(80, 8)) for _ in range(6)])
    assert result.num_pairs == 30
    assert abs(result.tau) < 0.05


def test_small_case_by_hand_and_scipy():
    # Matches [0, 2, 1, 3]: of the 6 pairs of frames one is discordant: tau = (5 - 1) / 6.
    query = np.array([[0.0], [2.0], [1.0], [3.0]])
    candidates = np.array([[0.0], [1.0], [2.0], [3.0]])
    assert matched_tau(np.array([0, 2, 1, 3])) == pytest.approx(4 / 6)
    result = kendalls_tau_across_sequences([query, candidates])
    assert result.tau == pytest.approx(4 / 6)  # both directions give the same matches
    # With ties in the matches: tau-b, as scipy computes it.
    ties = np.array([0, 0, 1, 1, 3])
    assert matched_tau(ties) == pytest.approx(kendalltau(np.arange(5), ties).statistic)
    assert matched_tau(ties) < 1.0


def test_equals_tcc_reference_loop_with_stride_and_different_lengths():
    rng = np.random.default_rng(3)
    embs = [_curve(n, seed=k) + rng.normal(scale=0.05, size=(n, 4)) for k, n in enumerate((25, 31, 40))]
    for stride in (1, 3):
        assert kendalls_tau_across_sequences(embs, stride=stride).tau == pytest.approx(_tcc_reference(embs, stride))


def test_pairs_with_one_matched_frame_are_dropped_as_in_tcc():
    a = _curve(20)
    flat = np.zeros((20, 4))  # every frame of any sequence matches the same frame of this one
    assert np.isnan(matched_tau(np.zeros(7, np.int64)))
    result = kendalls_tau_across_sequences([a, a.copy(), flat])
    assert result.num_pairs == 6
    assert result.num_undefined == 4  # a -> flat, a' -> flat, flat -> a, flat -> a' (all one frame)
    assert result.tau == pytest.approx(1.0)


def test_across_views():
    a = _curve(25)
    views = np.stack([a, a + 1e-3, a[::-1]])  # [V, T, D]: two synchronised views and a reversed one
    result = kendalls_tau_across_views([views[:2], views[:2]])
    assert result.tau == pytest.approx(1.0) and result.num_pairs == 4
    # 6 ordered view pairs: (0,1), (1,0) agree; the 4 with the reversed view disagree.
    assert kendalls_tau_across_views([views]).tau == pytest.approx((2 - 4) / 6)


def test_needs_two_sequences_or_two_views():
    with pytest.raises(DataError, match="at least 2 sequences"):
        kendalls_tau_across_sequences([_curve(10)])
    with pytest.raises(DataError, match="views >= 2"):
        kendalls_tau_across_views([_curve(10)[None]])
    with pytest.raises(DataError, match="stride 0"):
        kendalls_tau_across_sequences([_curve(10), _curve(10)], stride=0)
