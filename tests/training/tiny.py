"""The tiny training setup shared by these tests: small_conv at 32 px, a few steps."""

from __future__ import annotations

from pathlib import Path

STRATEGY_OVERRIDES: dict[str, list[str]] = {
    "mvtcn": ["training_strategy=mvtcn", "loss_strategy=triplet_semihard"],
    "mvtcn_npairs": ["training_strategy=mvtcn", "loss_strategy=npairs"],
    "svtcn": ["training_strategy=svtcn", "data.batch_size=16", "data.examples_per_sequence=8",
              "svtcn.pos_radius=1", "svtcn.neg_radius=3"],
    "mftcn": ["training_strategy=mftcn", "embedder_strategy=multi_frame", "multi_frame.num_frames=2",
              "multi_frame.frame_stride=2", "multi_frame.conv3d_channels=[8]", "multi_frame.fc_hidden_sizes=[16]",
              "mftcn.min_separation=2"],
}  # fmt: skip


def tiny_overrides(root: Path) -> list[str]:
    return [
        "embedder_strategy=small_conv",
        "embedding_size=8",
        "small_conv.channels=[8,16]",
        "small_conv.fc_hidden_sizes=[16]",
        f"data.training={root / 'train' / 'records'}",
        f"data.validation={root / 'val' / 'records'}",
        "data.height=32",
        "data.width=32",
        "data.batch_size=8",
        "data.examples_per_sequence=4",
        "data.num_workers=0",
        "mvtcn.window=24",
        "mftcn.window=24",
        "learning.max_step=4",
        "logging.checkpoint.save_checkpoints_steps=2",
        "logging.summary.save_summaries_steps=1",
        "val.num_eval_samples=16",
    ]
