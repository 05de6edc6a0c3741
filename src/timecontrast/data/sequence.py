"""The one interface for a multi-view sequence, whatever stores it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from timecontrast.data.state import SequenceState


@runtime_checkable
class MultiViewSequence(Protocol):
    """A time-synchronised multi-view sequence: ``num_views`` views of ``length`` frames.

    Frames are ``[H, W, 3]`` uint8 RGB. Implementations decode only the frames asked for.
    """

    name: str

    @property
    def num_views(self) -> int: ...

    @property
    def length(self) -> int: ...

    def frame(self, view: int, t: int) -> np.ndarray:
        """Frame ``t`` of ``view``: ``[H, W, 3]`` uint8."""
        ...

    def frames(self, view: int, timesteps) -> np.ndarray:
        """Frames at ``timesteps`` of ``view``: ``[N, H, W, 3]`` uint8."""
        ...

    @property
    def labels(self) -> dict[str, np.ndarray] | None:
        """Per-frame integer labels ``{attribute: [T] int64}``, when known."""
        ...

    @property
    def state(self) -> SequenceState | None:
        """The true physical state, when known (simulated data)."""
        ...


def check_index(seq: MultiViewSequence, view: int, t: int) -> None:
    """Raise IndexError naming the sequence when (view, t) is out of range."""
    if not 0 <= view < seq.num_views:
        raise IndexError(f"{seq.name}: view {view} out of range (the sequence has {seq.num_views} views)")
    if not 0 <= t < seq.length:
        raise IndexError(f"{seq.name}: timestep {t} out of range (the sequence has {seq.length} frames)")
