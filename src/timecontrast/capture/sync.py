"""Matching frames of several free-running cameras into multi-view frames by timestamp.

Cameras without hardware sync tick at their own rates and phases. The synchroniser
keeps each camera's recent frames in order and emits a multi-view frame when every
camera has a frame within ``tolerance`` of the same instant, i.e. when the spread
(latest minus earliest timestamp) of the chosen frames is at most ``2 * tolerance``.
Among the candidates it takes the tightest: the oldest frame of the set is given up
for the same camera's next frame whenever that makes the spread smaller. So each
emitted set is as close in time as the streams allow, the output rate follows the
slowest camera, and every frame of a faster camera that is not used is counted as
dropped. It is a plain object fed from one thread (no threads or clocks inside), so
it is tested on made-up timestamps.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from timecontrast.capture.sources import CapturedFrame


@dataclass(frozen=True)
class SyncedFrame:
    """One multi-view frame: ``frames[k]`` is view ``k``'s frame."""

    index: int  # 0, 1, 2, ... in emission order
    frames: tuple[CapturedFrame, ...]

    @property
    def timestamp(self) -> float:
        """The instant the views show: the middle of their timestamps (monotonic seconds)."""
        stamps = [f.timestamp for f in self.frames]
        return (min(stamps) + max(stamps)) / 2

    @property
    def spread(self) -> float:
        stamps = [f.timestamp for f in self.frames]
        return max(stamps) - min(stamps)


class FrameSynchronizer:
    """Feed frames with :meth:`add`; it returns the multi-view frames that became complete.

    ``max_pending`` bounds the frames kept per camera (a stalled camera must not make
    the others' frames pile up); the oldest frame past the bound is dropped.
    """

    def __init__(self, num_views: int, tolerance: float, max_pending: int = 30) -> None:
        if num_views < 1:
            raise ValueError("num_views must be >= 1")
        if tolerance < 0:
            raise ValueError("tolerance must be >= 0")
        self.num_views = num_views
        self.tolerance = tolerance
        self.max_pending = max(2, max_pending)
        self._pending: list[deque[CapturedFrame]] = [deque() for _ in range(num_views)]
        self.received = [0] * num_views
        self.dropped = [0] * num_views  # frames given up because no match was close enough or better
        self.emitted = 0
        self._ended = [False] * num_views

    def end_view(self, view: int) -> list[SyncedFrame]:
        """``view`` will deliver no more frames: its last frames need not wait for a next one."""
        self._ended[view] = True
        return self._match()

    @property
    def pending(self) -> list[int]:
        """Frames per view received but not yet emitted or dropped."""
        return [len(q) for q in self._pending]

    def _drop_oldest(self, view: int) -> None:
        self._pending[view].popleft()
        self.dropped[view] += 1

    def add(self, view: int, frame: CapturedFrame) -> list[SyncedFrame]:
        queue = self._pending[view]
        if queue and frame.timestamp <= queue[-1].timestamp:
            raise ValueError(f"view {view}: timestamps must increase ({frame.timestamp} after {queue[-1].timestamp})")
        queue.append(frame)
        self.received[view] += 1
        if len(queue) > self.max_pending:
            self._drop_oldest(view)
        return self._match()

    def _better_next(self, view: int, heads: list[float], spread: float) -> bool | None:
        """Would ``view``'s next frame make the set tighter? ``None``: not known yet."""
        queue = self._pending[view]
        if self.num_views == 1:
            return False
        if len(queue) < 2:
            return False if self._ended[view] else None
        others = heads[:view] + heads[view + 1 :]
        next_ts = queue[1].timestamp
        return max(max(others), next_ts) - min(min(others), next_ts) < spread

    def _match(self) -> list[SyncedFrame]:
        out = []
        limit = 2 * self.tolerance
        while all(self._pending):
            heads = [q[0].timestamp for q in self._pending]
            oldest_view = min(range(self.num_views), key=heads.__getitem__)
            spread = max(heads) - heads[oldest_view]
            if spread > limit:
                # Every other camera's frames are already too late for this one: it has no match.
                self._drop_oldest(oldest_view)
                continue
            better = self._better_next(oldest_view, heads, spread)
            if better is None:
                break  # wait for that camera's next frame
            if better:
                self._drop_oldest(oldest_view)
                continue
            out.append(SyncedFrame(self.emitted, tuple(q.popleft() for q in self._pending)))
            self.emitted += 1
        return out
