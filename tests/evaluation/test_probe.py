"""State probe: recovers a state that embeddings encode, fails on noise."""

from __future__ import annotations

import numpy as np
import pytest

from timecontrast.errors import DataError
from timecontrast.evaluation.probe import (
    fit_probes,
    periodic_targets,
    probe_data_of,
    probe_dataset,
    probe_features,
)


def _sequences(n: int, rng: np.random.Generator, encode: bool, maps: list[np.ndarray], length: int = 80):
    """Per sequence (embeddings [2, T, 6], position [T, 1], velocity [T, 1]).

    Embeddings encode the *position* only (two views with different linear maps);
    velocity is recoverable through e_t - e_{t-1}.
    """
    out = []
    for _ in range(n):
        phase, freq = rng.uniform(0, 2 * np.pi), rng.uniform(0.08, 0.15)
        t = np.arange(length)
        x = np.sin(freq * t + phase)[:, None]
        v = (np.sin(freq * t + phase) - np.sin(freq * (t - 1) + phase))[:, None]  # per-frame change
        if encode:
            emb = np.stack([x @ m + 1e-4 * rng.normal(size=(length, 6)) for m in maps])
        else:
            emb = rng.normal(size=(2, length, 6))
        out.append((emb, x, v))
    return out


def test_probe_features_are_embedding_and_difference():
    e = np.arange(12, dtype=float).reshape(4, 3) ** 2
    f = probe_features(e)
    assert f.shape == (3, 6)
    np.testing.assert_array_equal(f[:, :3], e[1:])
    np.testing.assert_array_equal(f[:, 3:], e[1:] - e[:-1])


def test_current_inputs_are_the_embedding_alone_and_cannot_give_the_velocity():
    e = np.arange(12, dtype=float).reshape(4, 3) ** 2
    np.testing.assert_array_equal(probe_features(e, "current"), e[1:])
    with pytest.raises(ValueError, match="change, current"):
        probe_features(e, "both")
    # Embeddings that encode the position only: e_t alone predicts the position but not the
    # velocity, which the change input (the paper's) recovers.
    rng = np.random.default_rng(1)
    maps = [rng.normal(size=(1, 6)), rng.normal(size=(1, 6))]
    train_items, test_items = _sequences(12, rng, True, maps), _sequences(4, rng, True, maps)
    current = fit_probes(
        probe_dataset(train_items, "current"), probe_dataset(test_items, "current"), seed=0, probes=("linear",)
    )
    change = fit_probes(probe_dataset(train_items), probe_dataset(test_items), seed=0, probes=("linear",))
    assert probe_dataset(train_items, "current").features.shape[1] == 6
    assert current.errors["linear"]["position"] < 0.01 and change.errors["linear"]["velocity"] < 0.01
    assert current.errors["linear"]["velocity"] > 0.2


def test_the_cli_offers_the_librarys_inputs():
    from timecontrast.cli.probe import INPUTS as CLI_INPUTS
    from timecontrast.evaluation.probe import INPUTS

    assert CLI_INPUTS == INPUTS  # repeated in the CLI so that tcn --help imports no torch


def test_linear_state_is_recovered_and_noise_is_not():
    rng = np.random.default_rng(0)
    maps = [rng.normal(size=(1, 6)), rng.normal(size=(1, 6))]  # one camera map per view, shared by all sequences
    train = probe_dataset(_sequences(12, rng, True, maps))
    test = probe_dataset(_sequences(4, rng, True, maps))
    assert train.features.shape == (12 * 2 * 79, 12)
    np.testing.assert_array_equal(train.sequence_ids, np.repeat(np.arange(12), 2 * 79))  # both views of a sequence
    res = fit_probes(train, test, seed=0, position_names=["x"], velocity_names=["x"], hidden_sizes=(32,))
    assert res.errors["linear"]["position"] < 0.01
    assert res.errors["linear"]["velocity"] < 0.01  # from the difference input alone
    assert res.errors["mlp"]["position"] < 0.2
    assert set(res.variables["linear"]) == {"position x", "velocity x"}  # a joint: both of one name

    noise = fit_probes(
        probe_dataset(_sequences(12, rng, False, maps)),
        probe_dataset(_sequences(4, rng, False, maps)),
        seed=0,
        hidden_sizes=(32,),
    )
    for probe in ("linear", "mlp"):
        assert noise.errors[probe]["position"] > 0.7
        assert noise.errors[probe]["velocity"] > 0.7
    assert res.scalars()["validation/probe/linear velocity mse"] == res.errors["linear"]["velocity"]


class _NoStateSequence:
    name = "seq_without_state"
    num_views, length, state = 1, 3, None


class _FakeEmbedder:
    def embed_sequences(self, sequences, num_sequences=-1):
        from timecontrast.data.sequence import EmbeddedSequence

        for s in sequences:
            yield EmbeddedSequence(s.name, np.zeros((1, s.length, 2), np.float32), s)


def test_records_without_state_are_a_clear_error():
    with pytest.raises(DataError, match="seq_without_state.*no state"):
        probe_data_of(_FakeEmbedder(), [_NoStateSequence()], "training")


def test_state_length_must_match():
    with pytest.raises(DataError, match="does not belong"):
        probe_dataset([(np.zeros((2, 5, 3)), np.zeros((4, 1)), np.zeros((5, 1)))])


def test_free_angles_are_targets_as_cosine_and_sine():
    """Whole turns of a free angle look the same in an image, so the probe's targets
    must not change by 2 pi: cos and sin replace the raw angle."""
    angle = np.array([0.0, np.pi / 2, 2 * np.pi + np.pi / 2, -np.pi])
    position = np.stack([np.arange(4.0), angle], 1)
    targets, names = periodic_targets(position, ["slider", "hinge"], ["hinge"])
    assert names == ["slider", "hinge (cos)", "hinge (sin)"]
    np.testing.assert_allclose(targets[:, 0], np.arange(4.0))
    np.testing.assert_allclose(targets[1, 1:], targets[2, 1:], atol=1e-12)  # a whole turn apart: the same target
    np.testing.assert_allclose(targets[3, 1:], [-1.0, 0.0], atol=1e-12)
    same, same_names = periodic_targets(position, ["slider", "hinge"], [])
    np.testing.assert_array_equal(same, position)
    assert same_names == ["slider", "hinge"]
