"""Tiny configurations for the model tests (small inputs, narrow heads)."""

from __future__ import annotations

import pytest
import torch
from omegaconf import DictConfig

from timecontrast.config import load_config

# Narrow versions of each embedder that still exercise every layer type.
TINY: dict[str, list[str]] = {
    "inception_conv_ss_fc": [
        "data.height=79",
        "data.width=91",
        "inception_conv_ss_fc.additional_conv_sizes=[8,8]",
        "inception_conv_ss_fc.fc_hidden_sizes=[16]",
    ],
    "resnet": ["data.height=64", "data.width=64", "resnet.depth=18", "resnet.adaptation_channels=[16]"],
    "small_conv": [
        "data.height=64",
        "data.width=48",
        "small_conv.channels=[8,16]",
        "small_conv.fc_hidden_sizes=[16]",
    ],
    "multi_frame": [
        "data.height=32",
        "data.width=32",
        "small_conv.channels=[8,16]",
        "multi_frame.conv3d_channels=[8]",
        "multi_frame.fc_hidden_sizes=[16]",
    ],
}


@pytest.fixture
def tiny_cfg():
    """``tiny_cfg(strategy, *overrides)``: a validated config for a small embedder."""

    def make(strategy: str, *overrides: str) -> DictConfig:
        return load_config(overrides=[f"embedder_strategy={strategy}", "embedding_size=8", *TINY[strategy], *overrides])

    return make


@pytest.fixture
def make_input():
    """``make_input(model, batch=2, seed=0)``: normalised random input of the model's expected shape."""

    def make(model, batch: int = 2, seed: int = 0) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        h, w = model.input_size
        multi = hasattr(model, "video_trunk")
        shape = (batch, model.num_frames, 3, h, w) if multi else (batch, 3, h, w)
        return torch.randn(shape, generator=g)

    return make
