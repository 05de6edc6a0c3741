"""Tiny untrained embedders for the rl tests (32x32 frames, no checkpoint on disk)."""

from __future__ import annotations

import pytest

from timecontrast.inference import Embedder
from toy_data import SMALL_EMBEDDER, tiny_embedder

SIZE = 32  # frames and model input: the untrained embedders fit 32x32 environments
BATCH = "data.embed_batch_size=6"  # several forward passes for a long demonstration
SINGLE = [*SMALL_EMBEDDER, BATCH]  # the config of single_embedder


@pytest.fixture(scope="session")
def single_embedder() -> Embedder:
    """A single-frame small_conv embedder, D = 8."""
    return tiny_embedder(BATCH, seed=1)


@pytest.fixture(scope="session")
def multi_embedder() -> Embedder:
    """A multi-frame embedder: clips of 3 frames, every 2nd frame, D = 8."""
    return tiny_embedder(BATCH, multi_frame=True, seed=2)
