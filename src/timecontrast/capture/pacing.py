"""Real-time pacing for cameras that are not hardware: files and generated frames."""

from __future__ import annotations

import threading
import time

import numpy as np


class FramePacer:
    """Releases frame ``i`` at ``start + i / fps``, plus optional uniform jitter.

    Waiting happens on an :class:`threading.Event`, so :meth:`interrupt` wakes a
    blocked :meth:`wait_next` at once (no busy-waiting, no sleep that cannot be cut short).
    The jitter is clipped to less than half a frame period, so frames keep their order.
    """

    def __init__(self, fps: float, jitter_ms: float = 0.0, rng: np.random.Generator | None = None) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.period = 1.0 / fps
        self._jitter = min(max(jitter_ms, 0.0) / 1000.0, 0.49 * self.period)
        self._rng = rng if rng is not None else np.random.default_rng(0)
        self._wake = threading.Event()
        self._start: float | None = None
        self._next = 0

    def wait_next(self) -> float | None:
        """Block until the next frame is due; its capture time, or ``None`` once interrupted."""
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._next * self.period
        if self._jitter:
            due += float(self._rng.uniform(-self._jitter, self._jitter))
        self._next += 1
        if self._wake.wait(max(0.0, due - time.monotonic())):
            return None
        return time.monotonic()

    def interrupt(self) -> None:
        self._wake.set()
