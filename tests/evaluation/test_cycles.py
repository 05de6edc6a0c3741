"""XIRL's cycle consistency against known answers, a hand-worked case and XIRL's own loops."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from timecontrast.errors import DataError
from timecontrast.evaluation.cycles import choose_triples, cycle_consistency


def _xirl_two_way(embs, tolerance):
    """xirl/evaluators/cycle_consistency.py, _evaluate_two_way (with our tolerance)."""
    ccs = []
    for i, a in enumerate(embs):
        for j, b in enumerate(embs):
            if i != j:
                d = cdist(a, b, "sqeuclidean")
                nns = np.argmin(d[:, np.argmin(d, axis=1)], axis=0)
                ccs.append(np.mean(np.abs(nns - np.arange(len(a))) <= tolerance))
    return float(np.mean(ccs))


def _xirl_three_way(embs, tolerance):
    """xirl/evaluators/cycle_consistency.py, _evaluate_three_way: forward and backward."""

    def returns(cycle):
        query = embs[cycle[0]]
        for k in range(3):
            candidates = embs[cycle[(k + 1) % 3]]
            nns = np.argmin(cdist(query, candidates, "sqeuclidean"), axis=1)
            query = candidates[nns]
        return np.abs(nns - np.arange(len(embs[cycle[0]]))) <= tolerance

    ccs = [np.mean(returns(c) & returns((c[0], c[2], c[1]))) for c in itertools.permutations(range(len(embs)), 3)]
    return float(np.mean(ccs))


def test_identical_sequences_are_fully_consistent():
    a = np.cumsum(np.random.default_rng(0).normal(size=(30, 5)), 0)
    result = cycle_consistency([a, a.copy(), a.copy(), a.copy()])
    assert (result.two_way, result.three_way, result.two_way_within_1, result.three_way_within_1) == (1, 1, 1, 1)
    assert result.num_pairs == 12 and result.num_triples == 24


def test_small_case_by_hand():
    a = np.array([[0.0], [1.0], [2.0]])
    b = np.array([[0.8], [1.3]])
    # a0 -> b0 -> a1 (off by one), a1 -> b0 -> a1, a2 -> b1 -> a1 (off by one): 1/3 exact, 3/3 within 1;
    # b0 -> a1 -> b0, b1 -> a1 -> b0 (off by one): 1/2 exact, 2/2 within 1.
    result = cycle_consistency([a, b])
    assert result.two_way == pytest.approx((1 / 3 + 1 / 2) / 2)
    assert result.two_way_within_1 == pytest.approx(1.0)
    assert np.isnan(result.three_way) and result.num_triples == 0  # two sequences have no triple


def test_equals_xirl_reference_loops():
    rng = np.random.default_rng(2)
    base = np.cumsum(rng.normal(size=(20, 3)), 0)
    embs = [base + rng.normal(scale=0.8, size=base.shape) for _ in range(4)]
    result = cycle_consistency(embs)
    assert result.two_way_within_1 == pytest.approx(_xirl_two_way(embs, 1))
    assert result.two_way == pytest.approx(_xirl_two_way(embs, 0))
    assert result.three_way_within_1 == pytest.approx(_xirl_three_way(embs, 1))
    assert result.three_way == pytest.approx(_xirl_three_way(embs, 0))
    assert 0 < result.three_way < result.three_way_within_1 < 1


def test_random_embeddings_rarely_come_back():
    rng = np.random.default_rng(0)
    result = cycle_consistency([rng.normal(size=(60, 16)) for _ in range(4)])
    assert result.two_way < 0.5 and result.three_way < 0.2


def test_triples_are_capped_by_a_seeded_draw():
    assert len(choose_triples(5, 1000)) == 60
    drawn = choose_triples(10, 50, seed=3)
    assert len(drawn) == 50 and drawn == choose_triples(10, 50, seed=3)
    assert all(len(set(t)) == 3 for t in drawn)
    with pytest.raises(DataError, match="at least 2 sequences"):
        cycle_consistency([np.zeros((3, 2))])
