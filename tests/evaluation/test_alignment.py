"""Alignment error on constructed embeddings with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from timecontrast.errors import DataError
from timecontrast.evaluation.alignment import alignment_error, sequence_alignment_errors
from timecontrast.evaluation.neighbors import nearest_frames, nearest_frames_batched


def _reference_pair(a: np.ndarray, b: np.ndarray) -> float:
    """Straightforward numpy: nearest frame of b for each frame of a (first minimum)."""
    t = len(a)
    nn = [int(np.argmin(np.linalg.norm(b - a[i], axis=1))) for i in range(t)]
    return float(np.mean(np.abs(np.arange(t) - np.array(nn))) / t)


def _trajectory(t: int, d: int, rng: np.random.Generator) -> np.ndarray:
    return np.cumsum(rng.normal(size=(t, d)), axis=0)  # a random walk: distinct, smooth


def test_perfect_alignment_is_zero():
    rng = np.random.default_rng(0)
    seqs = []
    for _ in range(3):
        e = _trajectory(40, 8, rng)
        seqs.append(np.stack([e, e + 1e-6 * rng.normal(size=e.shape), e]))  # 3 views, same moments
    res = alignment_error(seqs)
    assert res.error == 0.0
    assert res.error_both_directions == 0.0
    assert set(res.pair_errors) == {(i, j) for i in range(3) for j in range(3) if i != j}


def test_shuffled_views_score_about_one_third():
    rng = np.random.default_rng(1)
    seqs = []
    for _ in range(20):
        e = _trajectory(150, 16, rng)
        seqs.append(np.stack([e, e[rng.permutation(150)]]))
    res = alignment_error(seqs)
    assert abs(res.error - 1 / 3) < 0.03
    assert abs(res.error_both_directions - 1 / 3) < 0.03


def test_directions_and_headline_match_a_numpy_reference():
    rng = np.random.default_rng(2)
    named = []
    for length in (30, 57):  # different lengths: an unweighted mean over sequences
        e = _trajectory(length, 4, rng)
        v1 = e[np.arange(length) // 2]  # view 1 runs at half speed: the two directions differ
        v2 = e[::-1].copy()
        named.append((f"s{length}", np.stack([e, v1, v2])))
    res = alignment_error(named)
    forward, both = [], []
    for _name, emb in named:
        for i in range(3):
            for j in range(3):
                if i != j:
                    ref = _reference_pair(emb[i], emb[j])
                    both.append(ref)
                    forward += [ref] if i < j else []
                    assert sequence_alignment_errors(emb)[i, j] == pytest.approx(ref, abs=1e-12)
    assert res.error == pytest.approx(np.mean(forward))
    assert res.error_both_directions == pytest.approx(np.mean(both))
    assert res.pair_errors[(0, 1)] != pytest.approx(res.pair_errors[(1, 0)])
    assert res.sequence_errors["s30"].shape == (3, 3)


def test_nearest_frames_chunked_equals_brute_force_with_ties():
    rng = np.random.default_rng(3)
    a = rng.integers(0, 3, size=(50, 2)).astype(float)  # many exact ties
    b = rng.integers(0, 3, size=(35, 2)).astype(float)
    a_to_b, b_to_a = nearest_frames(a, b, chunk_bytes=8 * 35 * 4)  # 4 rows per chunk
    ref_ab = [int(np.argmin(((b - x) ** 2).sum(1))) for x in a]
    ref_ba = [int(np.argmin(((a - y) ** 2).sum(1))) for y in b]
    assert a_to_b.tolist() == ref_ab
    assert b_to_a.tolist() == ref_ba
    # The batched form (many sequences in one product, in chunks of 2) agrees pair by pair.
    a3, b3 = np.stack([a, a[::-1], a + 1]), np.stack([b, b, b[::-1]])
    ab3, ba3 = nearest_frames_batched(a3, b3, chunk_bytes=8 * 50 * 35 * 2)
    for k in range(3):
        assert ab3[k].tolist() == [int(np.argmin(((b3[k] - x) ** 2).sum(1))) for x in a3[k]]
        assert ba3[k].tolist() == [int(np.argmin(((a3[k] - y) ** 2).sum(1))) for y in b3[k]]


def test_bad_shapes_are_errors():
    with pytest.raises(DataError, match="views"):
        alignment_error([np.zeros((1, 5, 3))])
    with pytest.raises(DataError, match="at least one sequence"):
        alignment_error([])
