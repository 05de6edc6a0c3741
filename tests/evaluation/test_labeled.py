"""Labeled frames are embedded like the sequences they come from (clips included)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from timecontrast.config import load_config
from timecontrast.data.records import open_sequences
from timecontrast.errors import DataError
from timecontrast.evaluation.labeled import embed_labeled_set, labeled_eval, load_labeled_set
from timecontrast.inference import Embedder

MULTI = [
    "embedder_strategy=multi_frame",
    "training_strategy=mftcn",
    "data.height=32",
    "data.width=32",
    "small_conv.channels=[8,16]",
    "multi_frame.conv3d_channels=[8]",
    "multi_frame.fc_hidden_sizes=[16]",
    "multi_frame.num_frames=2",
    "embedding_size=8",
    "data.embed_batch_size=6",
]


def test_multi_frame_labeled_embeddings_equal_sequence_embeddings(toy_dataset):
    emb = Embedder.untrained(load_config(None, None, MULTI), seed=0)
    data = load_labeled_set(toy_dataset / "val" / "labeled", ["image/view0", "image/view1"])
    assert data.num_views == 2 and set(data.labels) == {"side", "moving_right"}
    # Shuffle the frames: the clips must follow the timesteps, not the file order.
    perm = np.random.default_rng(0).permutation(len(data))
    shuffled = dataclasses.replace(
        data,
        images=[[v[i] for i in perm] for v in data.images],
        tasks=data.tasks[perm],
        timesteps=data.timesteps[perm],
        labels={k: v[perm] for k, v in data.labels.items()},
    )
    labeled = embed_labeled_set(emb, shuffled)  # [V, N, D]
    for seq in open_sequences(toy_dataset / "val" / "records"):
        expected = emb.embed_sequence(seq)  # [V, T, D]
        rows = np.flatnonzero(shuffled.tasks == seq.name)
        order = shuffled.timesteps[rows]
        np.testing.assert_allclose(labeled[:, rows], expected[:, order], atol=1e-5)

    result = labeled_eval(emb, shuffled, ks=[1])
    assert result.num_queries == 2 * len(data) and result.num_sequences == 2

    gap = dataclasses.replace(data, timesteps=np.where(data.timesteps == 3, 30, data.timesteps))
    with pytest.raises(DataError, match="every timestep"):
        embed_labeled_set(emb, gap)
