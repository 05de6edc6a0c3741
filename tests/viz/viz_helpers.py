"""Helpers for the visualisation tests: in-memory sequences with synthetic embeddings."""

from __future__ import annotations

import numpy as np

from timecontrast.data.sequence import EmbeddedSequence


class ArraySequence:
    """A MultiViewSequence held in memory: ``frames [V, T, H, W, 3]`` uint8, optional labels."""

    def __init__(self, name: str, frames: np.ndarray, labels: dict[str, np.ndarray] | None = None) -> None:
        self.name = name
        self._frames = frames
        self.labels = labels
        self.state = None

    @property
    def num_views(self) -> int:
        return self._frames.shape[0]

    @property
    def length(self) -> int:
        return self._frames.shape[1]

    def frame(self, view: int, t: int) -> np.ndarray:
        return self._frames[view, t]

    def frames(self, view: int, timesteps) -> np.ndarray:
        return self._frames[view, list(timesteps)]


def make_embedded(
    name: str,
    views: int,
    length: int,
    dim: int,
    rng: np.random.Generator,
    size: tuple[int, int] = (16, 24),
    labels=None,
) -> EmbeddedSequence:
    """Random embeddings; frame (v, t) is a flat colour encoding (v, t) so a test can read it back."""
    frames = np.zeros((views, length, *size, 3), np.uint8)
    for v in range(views):
        for t in range(length):
            frames[v, t] = (40 + 100 * v, (7 * t) % 256, 200)
    return EmbeddedSequence(name, rng.normal(size=(views, length, dim)), ArraySequence(name, frames, labels))
