"""Training samplers: which (sequence, view, timestep) items make a batch."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from timecontrast.data.samplers import (
    MultiViewPairSampler,
    SingleViewRunSampler,
    batch_generators,
    clip_indices,
)
from timecontrast.errors import ConfigError, DataError


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_clip_indices_end_at_t_and_clamp_at_zero():
    np.testing.assert_array_equal(clip_indices(9, 3, 2), [5, 7, 9])
    np.testing.assert_array_equal(clip_indices(2, 3, 2), [0, 0, 2])
    np.testing.assert_array_equal(clip_indices(0, 4, 1), [0, 0, 0, 0])
    np.testing.assert_array_equal(clip_indices(7, 1, 5), [7])
    with pytest.raises(ValueError):
        clip_indices(3, 0, 1)


def test_mvtcn_pairs_distinct_timesteps_in_a_window_and_different_views():
    sampler = MultiViewPairSampler([100, 80, 60, 90], num_views=3, batch_size=24, examples_per_sequence=12, window=20)
    for seed in range(30):
        plan = sampler.sample(rng(seed))
        p = plan.num_pairs
        assert len(plan) == 24 and p == 12
        np.testing.assert_array_equal(plan.sequence[:p], plan.sequence[p:])
        np.testing.assert_array_equal(plan.timestep[:p], plan.timestep[p:])
        assert (plan.view[:p] != plan.view[p:]).all()
        assert set(plan.view.tolist()) <= {0, 1, 2}
        seqs = np.unique(plan.sequence)
        assert len(seqs) == 2  # batch_size / examples_per_sequence distinct sequences
        for s in seqs:
            ts = plan.timestep[:p][plan.sequence[:p] == s]
            assert len(ts) == 6 and len(set(ts.tolist())) == 6  # distinct timesteps
            assert ts.max() - ts.min() < 20 and ts.max() < sampler.lengths[s]  # inside one window


def test_mvtcn_labels_are_unique_per_pair_across_sequences():
    sampler = MultiViewPairSampler([30] * 4, num_views=2, batch_size=16, examples_per_sequence=4, window=30)
    plan = sampler.sample(rng())
    p = plan.num_pairs
    assert len(np.unique(plan.sequence)) == 4
    assert len(set(plan.label[:p].tolist())) == p  # no two pairs share a label, even from other sequences
    np.testing.assert_array_equal(plan.label[:p], plan.label[p:])


def test_anchor_view_is_random_and_window_start_reaches_the_last_offset():
    # length 10, window 8, 8 pairs: the window is filled, so min(timesteps) is its start.
    sampler = MultiViewPairSampler([10], num_views=2, batch_size=16, examples_per_sequence=16, window=8)
    starts, anchor_views = set(), set()
    for seed in range(200):
        plan = sampler.sample(rng(seed))
        starts.add(int(plan.timestep.min()))
        anchor_views.add(int(plan.view[0]))
    assert starts == {0, 1, 2}  # 2 = length - window, which the original never drew
    assert anchor_views == {0, 1}


def test_mftcn_clips_of_a_sequence_end_at_least_min_separation_apart():
    sampler = MultiViewPairSampler(
        [200, 200], num_views=2, batch_size=16, examples_per_sequence=8, window=60, min_separation=5
    )
    gaps = []
    for seed in range(50):
        plan = sampler.sample(rng(seed))
        for s in np.unique(plan.sequence):
            ts = np.sort(plan.timestep[: plan.num_pairs][plan.sequence[: plan.num_pairs] == s])
            gaps.append(np.diff(ts).min())
            assert ts.max() - ts.min() < 60
    assert min(gaps) >= 5 and 5 in gaps  # the limit is reached, never crossed
    tight = MultiViewPairSampler([50], 2, 8, 8, window=13, min_separation=4)  # 4 clips need exactly 13 frames
    ts = np.sort(tight.sample(rng()).timestep[:4])
    np.testing.assert_array_equal(np.diff(ts), [4, 4, 4])


def test_svtcn_runs_are_contiguous_single_view_and_labelled_by_time():
    sampler = SingleViewRunSampler([40, 25, 12], num_views=3, batch_size=20, examples_per_sequence=10)
    starts = set()
    for seed in range(200):
        plan = sampler.sample(rng(seed))
        assert plan.num_pairs == 0 and len(plan) == 20
        for run in range(2):
            sl = slice(10 * run, 10 * run + 10)
            np.testing.assert_array_equal(np.diff(plan.timestep[sl]), np.ones(9))
            assert len(set(plan.view[sl].tolist())) == 1 and len(set(plan.sequence[sl].tolist())) == 1
            if plan.sequence[sl][0] == 2:
                starts.add(int(plan.timestep[sl][0]))
        assert plan.sequence[0] != plan.sequence[10]
        np.testing.assert_array_equal(plan.label, plan.timestep)
    assert starts == {0, 1, 2}  # a 12-frame sequence: every start of a 10-frame run, the last included


def test_batches_are_reproducible_per_seed_and_differ_per_batch_rank_and_seed():
    sampler = MultiViewPairSampler([50] * 6, num_views=2, batch_size=8, examples_per_sequence=4, window=50)

    def plan(seed, index, rank):
        sample_rng, _ = batch_generators(seed, index, rank)
        return np.concatenate([sampler.sample(sample_rng).timestep, sampler.sample(sample_rng).sequence])

    base = plan(0, 3, 0)
    np.testing.assert_array_equal(base, plan(0, 3, 0))
    assert not np.array_equal(base, plan(0, 4, 0))  # next batch (another worker's)
    assert not np.array_equal(base, plan(0, 3, 1))  # another DDP rank
    assert not np.array_equal(base, plan(1, 3, 0))  # another seed
    a, b = batch_generators(0, 3, 0)[1], batch_generators(0, 3, 0)[1]
    assert a.initial_seed() == b.initial_seed() != batch_generators(0, 3, 1)[1].initial_seed()


def test_sampler_configuration_errors_name_the_key():
    with pytest.raises(ConfigError, match="multiple of data.examples_per_sequence"):
        MultiViewPairSampler([50], 2, batch_size=10, examples_per_sequence=4, window=50)
    with pytest.raises(ConfigError, match="even"):
        MultiViewPairSampler([50], 2, batch_size=5, examples_per_sequence=5, window=50)
    with pytest.raises(ConfigError, match="num_views"):
        MultiViewPairSampler([50], 1, batch_size=4, examples_per_sequence=4, window=50)
    with pytest.raises(ConfigError, match="mvtcn.window"):
        MultiViewPairSampler([50], 2, batch_size=16, examples_per_sequence=16, window=4)
    with pytest.raises(ConfigError, match="mftcn.window"):
        MultiViewPairSampler([50], 2, batch_size=8, examples_per_sequence=8, window=10, min_separation=4)
    with pytest.raises(DataError, match="distinct sequences"):
        MultiViewPairSampler([50, 50], 2, batch_size=12, examples_per_sequence=4, window=50)
    with pytest.raises(DataError, match="no sequence"):
        SingleViewRunSampler([5, 6], 2, batch_size=8, examples_per_sequence=8)
    with pytest.raises(ConfigError, match="multiple"):
        SingleViewRunSampler([50], 2, batch_size=9, examples_per_sequence=4)


def test_too_short_sequences_are_skipped_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING):
        sampler = MultiViewPairSampler([3, 40, 40], 2, 8, 8, window=40, names=["short", "a", "b"])
    assert "short" in caplog.text
    seen = {int(s) for seed in range(50) for s in sampler.sample(rng(seed)).sequence}
    assert seen == {1, 2}
