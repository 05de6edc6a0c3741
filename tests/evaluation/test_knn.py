"""Cross-sequence kNN classification: recall on constructed embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from timecontrast.errors import DataError
from timecontrast.evaluation.knn import knn_classification, recall_at_k
from timecontrast.evaluation.neighbors import cross_sequence_neighbors


def _reference_neighbors(x: np.ndarray, groups: np.ndarray, k: int) -> np.ndarray:
    out = []
    for i in range(len(x)):
        d = ((x - x[i]) ** 2).sum(1)
        d[groups == groups[i]] = np.inf
        out.append(np.argsort(d, kind="stable")[:k])
    return np.array(out)


def test_neighbours_never_come_from_the_same_sequence():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 5))
    groups = rng.integers(0, 8, size=64)  # interleaved, not contiguous
    nbrs = cross_sequence_neighbors(x, groups, k=2, chunk_bytes=4 * 64 * 5)  # 5 query rows per chunk
    assert nbrs.shape == (64, 2)
    assert (groups[nbrs] != groups[:, None]).all()


def test_neighbours_equal_a_brute_force_search():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 6)).astype(np.float32)
    groups = np.array([f"seq{g}" for g in rng.integers(0, 7, size=300)])
    ref = _reference_neighbors(x.astype(np.float64), groups, 5)
    for block in (4, 128):  # the two-stage block selection, and one plain topk over short rows
        nbrs = cross_sequence_neighbors(x, groups, k=5, chunk_bytes=4 * 300 * 16, block=block)
        np.testing.assert_array_equal(nbrs, ref)


def test_perfect_cross_sequence_recall():
    base = np.random.default_rng(2).normal(size=(5, 4))
    x = np.concatenate([base, base + 1e-5])
    tasks = np.array([0] * 5 + [1] * 5)
    labels = np.tile(np.arange(5), 2)
    res = knn_classification(x, tasks, {"phase": labels}, ks=[1, 2])
    for k in (1, 2):
        assert res.recalls["phase"][k].recall == 1.0
        assert res.recalls["phase"][k].micro_recall == 1.0
        assert res.average_error(k) == 0.0


def test_zero_hit_class_counts_as_a_miss():
    # Class 2 is never found among the neighbours: the original dropped it from the mean.
    labels = np.array([0, 0, 1, 1, 2, 2])
    neighbor_labels = np.array([[0], [0], [1], [1], [0], [1]])
    r = recall_at_k(neighbor_labels, labels, 1)
    assert r.recall == pytest.approx(2 / 3)
    assert r.original_recall == 1.0
    assert r.micro_recall == pytest.approx(4 / 6)
    assert r.error == pytest.approx(1 / 3)
    assert r.class_hits == {0: 2, 1: 2, 2: 0}


def test_class_balanced_and_micro_differ_on_imbalanced_classes():
    labels = np.array([0] * 8 + [1] * 2)
    neighbor_labels = np.array([[0]] * 8 + [[0]] * 2)  # everything predicted as class 0
    r = recall_at_k(neighbor_labels, labels, 1)
    assert r.micro_recall == pytest.approx(0.8)
    assert r.recall == pytest.approx(0.5)


def test_recall_never_decreases_with_k():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(100, 8))
    tasks = rng.integers(0, 10, size=100)
    labels = rng.integers(0, 5, size=100)
    ks = [1, 2, 4, 8, 16, 32, 64]
    res = knn_classification(x, tasks, {"a": labels}, ks=ks)
    balanced = [res.recalls["a"][k].recall for k in ks]
    micro = [res.recalls["a"][k].micro_recall for k in ks]
    assert balanced == sorted(balanced) and micro == sorted(micro)
    assert balanced[0] < balanced[-1]


def test_scalars_and_errors():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(20, 3))
    tasks = np.repeat(np.arange(4), 5)
    res = knn_classification(x, tasks, {"a": rng.integers(0, 2, 20), "b": rng.integers(0, 3, 20)}, ks=[1, 3])
    s = res.scalars()
    assert s["validation/classification/a error@top3"] == pytest.approx(1 - res.recalls["a"][3].recall)
    mean_recall = (res.recalls["a"][1].recall + res.recalls["b"][1].recall) / 2
    assert s["validation/classification/average error@top1"] == pytest.approx(1 - mean_recall)
    with pytest.raises(DataError, match="recall_at_k_list"):
        knn_classification(x, tasks, {"a": np.zeros(20, int)}, ks=[16])  # only 15 frames of other sequences
    with pytest.raises(DataError, match="other sequences"):
        cross_sequence_neighbors(x, np.zeros(20), k=1)
