"""Tiny multi-view datasets made on the fly (no MuJoCo, no downloads), shared by the tests.

A module rather than conftest.py so that test files can import it by one unambiguous
name (`from toy_data import make_toy_dataset`); several conftest.py files exist.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from timecontrast.config import TCNConfig
    from timecontrast.inference import Embedder
    from timecontrast.models import EmbeddingNetwork

# A small_conv embedder at 32 px: what the tests train and evaluate (add data.* as needed).
SMALL_EMBEDDER = [
    "embedder_strategy=small_conv",
    "data.height=32",
    "data.width=32",
    "small_conv.channels=[8,16]",
    "small_conv.fc_hidden_sizes=[16]",
    "embedding_size=8",
]
# The multi-frame (mfTCN) variant of it: clips of 3 frames, every 2nd frame.
MULTI_FRAME_EMBEDDER = [
    *SMALL_EMBEDDER,
    "embedder_strategy=multi_frame",
    "training_strategy=mftcn",
    "multi_frame.conv3d_channels=[8]",
    "multi_frame.fc_hidden_sizes=[16]",
    "multi_frame.num_frames=3",
    "multi_frame.frame_stride=2",
]


def tiny_config(*overrides: str, multi_frame: bool = False) -> TCNConfig:
    """The config of the tiny embedder (:data:`SMALL_EMBEDDER` or :data:`MULTI_FRAME_EMBEDDER`), then ``overrides``."""
    from timecontrast.config import load_config

    return load_config(None, None, [*(MULTI_FRAME_EMBEDDER if multi_frame else SMALL_EMBEDDER), *overrides])


def tiny_embedder(*overrides: str, multi_frame: bool = False, seed: int = 0) -> Embedder:
    """An untrained tiny :class:`~timecontrast.inference.Embedder` on the CPU (D = 8)."""
    from timecontrast.inference import Embedder

    return Embedder.untrained(tiny_config(*overrides, multi_frame=multi_frame), seed=seed, device="cpu")


def save_tiny_checkpoint(logdir: Path, cfg: TCNConfig, step: int = 3, seed: int = 0) -> tuple[Path, EmbeddingNetwork]:
    """Write ``logdir/checkpoints/ckpt-<step>.pt`` of a fresh network of ``cfg`` (weights from
    ``seed``; the global torch random state is left as it was); return its path and the network."""
    import torch

    from timecontrast.config import config_to_dict
    from timecontrast.models import build_embedder, save_checkpoint

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_embedder(cfg)
    state = {"model": model.state_dict(), "optimizer": None, "grad_scaler": {}, "step": step, "rng": None}
    return save_checkpoint(logdir, {**state, "config": config_to_dict(cfg)}), model


def render_toy_view(x: float, view: int, size: int = 32) -> np.ndarray:
    """A square at position ``x`` in [-1, 1]; each view films it differently.

    view 0: a red square moving horizontally on a dark background;
    view 1: a green square moving vertically (mirrored) on a light background;
    further views: shifted colours and offsets.
    """
    img = np.full((size, size, 3), 30 + 150 * (view % 2), np.uint8)
    img[..., view % 3] = np.uint8(60 + 20 * view)
    s = size // 5
    c = int(round((x + 1) / 2 * (size - s)))
    colour = np.roll(np.array([220, 40, 40], np.uint8), view)
    if view % 2 == 0:
        r0 = size // 2 - s // 2 + (view // 2)
        img[r0 : r0 + s, c : c + s] = colour
    else:
        c = size - s - c
        img[c : c + s, size // 3 : size // 3 + s] = colour
    return img


def toy_trajectory(length: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Position and velocity of a smooth back-and-forth motion."""
    phase = rng.uniform(0, 2 * np.pi)
    freq = rng.uniform(0.08, 0.15)
    t = np.arange(length)
    x = np.sin(freq * t + phase)
    v = freq * np.cos(freq * t + phase)
    return x, v


def make_toy_dataset(
    root: Path, splits: dict[str, int], length: int = 24, views: int = 2, size: int = 32, seed: int = 0
) -> Path:
    """Write ``root/<split>/records`` and ``root/<split>/labeled`` in the synth layout."""
    from timecontrast.data import layout
    from timecontrast.data.labeled import LabeledFrame, write_labeled_records
    from timecontrast.data.records import write_sequence_record
    from timecontrast.io.jpeg import encode_jpeg

    rng = np.random.default_rng(seed)
    k = 0
    for split, n in splits.items():
        for _ in range(n):
            name = f"toy_{k:04d}"
            k += 1
            x, v = toy_trajectory(length, rng)
            jpegs = [
                [encode_jpeg(render_toy_view(float(x[t]), view, size)) for t in range(length)] for view in range(views)
            ]
            write_sequence_record(layout.record_path(root, split, name), name, jpegs)
            labels = {"side": (x > 0).astype(np.int64), "moving_right": (v > 0).astype(np.int64)}
            frames = [
                LabeledFrame(
                    [jpegs[view][t] for view in range(views)],
                    name,
                    {key: int(val[t]) for key, val in labels.items()},
                    t,
                )
                for t in range(length)
            ]
            write_labeled_records(layout.labeled_path(root, split, name), frames)
            np.savez(root / split / f"{name}.toystate.npz", position=x[:, None], velocity=v[:, None])
    return root
