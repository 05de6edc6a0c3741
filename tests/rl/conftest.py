"""Tiny untrained embedders for the rl tests (32x32 frames, no checkpoint on disk)."""

from __future__ import annotations

import pytest

from timecontrast.config import load_config
from timecontrast.inference import Embedder

SIZE = 32  # frames and model input: the untrained embedders fit 32x32 environments
SINGLE = [
    "embedder_strategy=small_conv",
    f"data.height={SIZE}",
    f"data.width={SIZE}",
    "small_conv.channels=[8,16]",
    "small_conv.fc_hidden_sizes=[16]",
    "embedding_size=8",
    "data.embed_batch_size=6",  # several forward passes for a long demonstration
]
MULTI = [
    *SINGLE,
    "embedder_strategy=multi_frame",
    "training_strategy=mftcn",
    "multi_frame.conv3d_channels=[8]",
    "multi_frame.fc_hidden_sizes=[16]",
    "multi_frame.num_frames=3",
    "multi_frame.frame_stride=2",
]


@pytest.fixture(scope="session")
def single_embedder() -> Embedder:
    """A single-frame small_conv embedder, D = 8."""
    return Embedder.untrained(load_config(None, None, SINGLE), seed=1, device="cpu")


@pytest.fixture(scope="session")
def multi_embedder() -> Embedder:
    """A multi-frame embedder: clips of 3 frames, every 2nd frame, D = 8."""
    return Embedder.untrained(load_config(None, None, MULTI), seed=2, device="cpu")
