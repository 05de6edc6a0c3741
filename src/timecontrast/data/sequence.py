"""The one interface for a multi-view sequence, whatever stores it, and a sequence with
its embeddings (what :meth:`timecontrast.inference.Embedder.embed_sequences` yields and
:mod:`timecontrast.viz` draws)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from timecontrast.errors import DataError

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


@dataclass
class EmbeddedSequence:
    """A sequence's embeddings and, optionally, the sequence itself (its frames, labels).

    ``embeddings[i]`` (``[V, T, D]``) holds view ``views[i]``; ``views`` defaults
    (empty or None) to ``0 .. V-1``. Passing only some views (e.g. ``views=(1, 0)``) avoids embedding
    cameras nobody looks at. ``sequence`` (a :class:`MultiViewSequence`, None = no
    frames) gives the raw frames: ``sequence.frame(view, t)``.
    """

    name: str
    embeddings: np.ndarray  # [V, T, D]
    sequence: MultiViewSequence | None = None
    views: tuple[int, ...] = ()  # the view of each row of embeddings; () = 0 .. V-1

    def __post_init__(self) -> None:
        self.embeddings = np.asarray(self.embeddings)
        if self.embeddings.ndim != 3:
            raise DataError(
                f"sequence '{self.name}': embeddings must be [views, timesteps, dim], got shape {self.embeddings.shape}"
            )
        self.views = tuple(int(v) for v in self.views) if self.views else tuple(range(self.embeddings.shape[0]))
        if len(self.views) != self.embeddings.shape[0] or len(set(self.views)) != len(self.views):
            raise DataError(
                f"sequence '{self.name}': views {self.views} do not label the {self.embeddings.shape[0]} embedding rows"
            )

    @property
    def length(self) -> int:
        return self.embeddings.shape[1]

    def view_embeddings(self, view: int) -> np.ndarray:
        """``[T, D]`` embeddings of ``view``."""
        if view not in self.views:
            raise DataError(f"sequence '{self.name}': view {view} was not embedded (embedded views: {self.views})")
        return self.embeddings[self.views.index(view)]
