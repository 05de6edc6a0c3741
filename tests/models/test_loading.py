"""A checkpoint's network and the baselines: the one checkpoint-by-step lookup, strict
rebuilding from the checkpoint's own config, seeded untrained networks, pooled trunks."""

from __future__ import annotations

import pytest
import torch

from timecontrast.config import config_to_dict
from timecontrast.errors import CheckpointError, DependencyError
from timecontrast.models import (
    CHECKPOINT_KEYS,
    EmbeddingNetwork,
    PooledTrunk,
    build_embedder,
    build_pretrained_trunk,
    build_untrained_embedder,
    find_checkpoint,
    load_trained_model,
    save_checkpoint,
)


def save_run(logdir, cfg, step: int, seed: int):
    torch.manual_seed(seed)
    model = build_embedder(cfg)
    state = dict.fromkeys(CHECKPOINT_KEYS) | {"model": model.state_dict(), "step": step, "config": config_to_dict(cfg)}
    return save_checkpoint(logdir, state), model


def test_find_checkpoint_by_step_or_latest(tmp_path, tiny_cfg):
    cfg = tiny_cfg("small_conv")
    two, _ = save_run(tmp_path / "run", cfg, 2, seed=0)
    four, _ = save_run(tmp_path / "run", cfg, 4, seed=1)
    assert find_checkpoint(tmp_path / "run") == four
    assert find_checkpoint(tmp_path / "run" / "checkpoints") == four
    assert find_checkpoint(tmp_path / "run", step=2) == two
    assert find_checkpoint(two) == two  # a file is itself
    with pytest.raises(CheckpointError, match=r"no checkpoint of step 3 in '.*run' \(it has \[2, 4\]\)"):
        find_checkpoint(tmp_path / "run", step=3)
    with pytest.raises(CheckpointError, match=r"no checkpoint of step 3 .* \(it has none\)"):
        find_checkpoint(tmp_path / "missing", step=3)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no checkpoint .* under .*empty.*train first"):
        find_checkpoint(tmp_path / "empty")


def test_load_trained_model_rebuilds_from_the_checkpoint_config(tmp_path, tiny_cfg, make_input):
    cfg = tiny_cfg("multi_frame", "multi_frame.num_frames=2", "training_strategy=mftcn")
    path, model = save_run(tmp_path / "run", cfg, 6, seed=3)
    before = torch.get_rng_state()
    trained = load_trained_model(tmp_path / "run")
    assert torch.equal(before, torch.get_rng_state())  # building the network drew nothing from the global RNG
    assert isinstance(trained.model, EmbeddingNetwork)
    assert (trained.step, trained.path, trained.config.multi_frame.num_frames) == (6, path, 2)
    x = make_input(model)
    with torch.no_grad():
        torch.testing.assert_close(trained.model.eval()(x), model.eval()(x))
    # A checkpoint without its config cannot be rebuilt.
    save_checkpoint(tmp_path / "bare", dict.fromkeys(CHECKPOINT_KEYS) | {"model": model.state_dict(), "step": 1})
    with pytest.raises(CheckpointError, match="holds no config"):
        load_trained_model(tmp_path / "bare")


def test_untrained_networks_are_seeded(tiny_cfg, make_input):
    cfg = tiny_cfg("small_conv")
    before = torch.get_rng_state()
    a, b, c = (build_untrained_embedder(cfg, seed) for seed in (5, 5, 6))
    assert torch.equal(before, torch.get_rng_state())
    x = make_input(a)
    with torch.no_grad():
        torch.testing.assert_close(a.eval()(x), b.eval()(x))
        assert not torch.allclose(a(x), c.eval()(x))


def test_pretrained_trunk_is_the_pooled_trunk(tmp_path, tiny_cfg, make_input):
    cfg = tiny_cfg("small_conv")
    with pytest.raises(DependencyError, match="small_conv needs small_conv.pretrained_checkpoint"):
        build_pretrained_trunk(cfg)
    source = build_untrained_embedder(cfg, seed=1).eval()
    torch.save(source.trunk.state_dict(), tmp_path / "trunk.pt")
    pooled = build_pretrained_trunk(tiny_cfg("small_conv", f"small_conv.pretrained_checkpoint={tmp_path / 'trunk.pt'}"))
    assert isinstance(pooled, PooledTrunk)
    assert (pooled.input_size, pooled.embedding_size, pooled.num_frames) == ((64, 48), 16, 1)
    x = make_input(pooled)
    with torch.no_grad():
        torch.testing.assert_close(pooled.eval()(x), source.trunk(x).mean(dim=(2, 3)))
    with pytest.raises(DependencyError, match="not available"):
        build_pretrained_trunk(tiny_cfg("small_conv", f"small_conv.pretrained_checkpoint={tmp_path / 'nope.pt'}"))
