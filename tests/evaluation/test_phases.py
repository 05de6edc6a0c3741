"""Phase classification, few-shot and progression on synthetic embeddings with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from timecontrast.errors import DataError
from timecontrast.evaluation.phases import (
    LabelledSequence,
    classification_accuracy,
    event_progress,
    few_shot_classification,
    key_events,
    mean_interval,
    phase_classification,
    phase_progress,
    phase_progression,
)


def _phased(n: int, rng: np.random.Generator, length: int = 40, separable: bool = True) -> list[LabelledSequence]:
    """Sequences of 3 ordered phases of random lengths; embeddings hold the phase (one-hot)
    and the progress through it, plus noise, when ``separable``; pure noise otherwise."""
    out = []
    for i in range(n):
        cuts = np.sort(rng.choice(np.arange(5, length - 5), 2, replace=False))
        labels = np.searchsorted(cuts, np.arange(length), side="right")  # 0 | 1 | 2
        if separable:
            emb = np.concatenate([np.eye(3)[labels], phase_progress(labels)[:, None]], 1)
            emb = emb + rng.normal(scale=0.01, size=emb.shape)
        else:
            emb = rng.normal(size=(length, 4))
        out.append(LabelledSequence(f"s{i}", emb, labels))
    return out


def test_tcc_event_progress_by_hand():
    labels = np.array([0, 0, 0, 1, 1, 2])
    # TCC's task_utils: (t - last frame of class k) / T, one column per event; NaN where absent.
    np.testing.assert_allclose(
        event_progress(labels, [0, 1, 3]),
        np.array([[-2, -1, 0, 1, 2, 3], [-4, -3, -2, -1, 0, 1], [np.nan] * 6]).T / 6,
    )


def test_tcc_progression_is_perfect_on_time_and_near_zero_on_noise():
    rng = np.random.default_rng(3)

    def seq(name, noise):
        length = int(rng.integers(30, 50))
        cuts = np.sort(rng.choice(np.arange(5, length - 5), 2, replace=False))
        labels = np.searchsorted(cuts, np.arange(length), side="right")
        ends = [np.flatnonzero(labels == c)[-1] for c in (0, 1)]
        t = np.arange(length)
        # The embedding holds the normalised time from each event (what a linear map can read).
        emb = np.stack([(t - e) / length for e in ends], 1) if not noise else rng.normal(size=(length, 2))
        return LabelledSequence(name, emb, labels)

    exact = phase_progression([seq(f"a{i}", False) for i in range(6)], [seq(f"b{i}", False) for i in range(3)])
    assert exact.r2 == pytest.approx(1.0) and sorted(exact.event_r2) == [0, 1]
    noise = phase_progression([seq(f"c{i}", True) for i in range(6)], [seq(f"d{i}", True) for i in range(3)])
    assert noise.r2 < 0.2


def test_key_events_and_progress_by_hand():
    labels = np.array([0, 0, 0, 1, 1, 2])
    assert key_events(labels).tolist() == [3, 5]
    np.testing.assert_allclose(phase_progress(labels), [0, 1 / 3, 2 / 3, 0, 1 / 2, 0])
    # Labels that come back (a non-monotonic attribute, e.g. pole_up): each run is a segment.
    np.testing.assert_allclose(phase_progress(np.array([1, 1, 0, 1, 1, 1, 1])), [0, 0.5, 0, 0, 0.25, 0.5, 0.75])
    assert phase_progress(np.array([4, 4, 4, 4])).tolist() == [0, 0.25, 0.5, 0.75]


def test_separable_phases_are_classified_perfectly_and_noise_is_near_chance():
    rng = np.random.default_rng(0)
    train, val = _phased(10, rng), _phased(4, rng)
    scores = phase_classification(train, val)
    assert scores == {0.1: (1.0, 1), 0.5: (1.0, 5), 1.0: (1.0, 10)}
    noise = phase_classification(_phased(10, rng, separable=False), _phased(4, rng, separable=False))
    majority = max(np.mean(np.concatenate([s.labels for s in val]) == c) for c in range(3))
    assert noise[1.0][0] < majority + 0.1


def test_fractions_take_the_first_sequences_as_tcc_does():
    rng = np.random.default_rng(1)
    train, val = _phased(4, rng), _phased(2, rng)
    # The first sequence alone is all phase 0 here: whatever the other sequences hold.
    train[0] = LabelledSequence("zero", np.zeros((10, 4)), np.zeros(10, np.int64))
    scores = phase_classification(train, val, fractions=(0.1, 0.25, 0.5))
    val_labels = np.concatenate([s.labels for s in val])
    assert scores[0.1] == scores[0.25] == (float(np.mean(val_labels == 0)), 1)  # one class: predicted everywhere
    assert scores[0.5][1] == 2
    with pytest.raises(DataError, match="fraction 0"):
        phase_classification(train, val, fractions=(0.0,))


def test_svm_matches_a_hand_checkable_case():
    # Phase = sign of the first coordinate (the second is small noise): every validation frame is right.
    x = np.array([[-2.0, 0.3], [-1.0, -0.2], [1.0, 0.1], [2.0, -0.4]])
    train = [LabelledSequence("a", x, np.array([0, 0, 1, 1]))]
    val = [LabelledSequence("b", np.array([[-0.5, 0.2], [0.7, -0.3], [3.0, 0.0]]), np.array([0, 1, 1]))]
    assert classification_accuracy(train, val) == 1.0


def test_few_shot_draws_skip_large_k_and_are_seeded():
    rng = np.random.default_rng(2)
    train, val = _phased(6, rng), _phased(3, rng)
    scores = few_shot_classification(train, val, shots=(1, 5, 10), draws=4, seed=7)
    assert sorted(scores) == [1, 5]  # 10 > 6 training sequences
    assert scores[5].mean == 1.0 and (scores[5].low, scores[5].high) == (1.0, 1.0)
    noisy = _phased(6, rng, separable=False)
    a = few_shot_classification(noisy, val, shots=(2,), draws=5, seed=7)[2]
    b = few_shot_classification(noisy, val, shots=(2,), draws=5, seed=7)[2]
    assert a.accuracies == b.accuracies and len(a.accuracies) == 5
    assert a.low <= a.mean <= a.high


def test_mean_interval_is_students_t():
    values = [0.5, 0.7, 0.6, 0.9]
    mean, low, high = mean_interval(values)
    half = stats.t.ppf(0.975, 3) * np.std(values, ddof=1) / 2
    assert mean == pytest.approx(0.675) and (low, high) == pytest.approx((0.675 - half, 0.675 + half))
    assert np.isnan(mean_interval([0.4])[1])


def test_within_phase_progress_is_linear_in_a_progress_embedding_and_not_in_noise():
    rng = np.random.default_rng(3)
    score = phase_progression(_phased(8, rng), _phased(4, rng))
    assert score.within_phase_r2 > 0.99 and score.num_val_frames == 160
    noise = phase_progression(_phased(8, rng, separable=False), _phased(4, rng, separable=False))
    assert noise.within_phase_r2 < 0.1 and noise.r2 < 0.2
    with pytest.raises(DataError, match="labels do not belong"):
        LabelledSequence("bad", np.zeros((5, 2)), np.zeros(4))
