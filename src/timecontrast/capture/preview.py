"""A live window showing the views side by side while recording (``tcn collect --preview``)."""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from timecontrast.capture.sync import SyncedFrame
from timecontrast.errors import DependencyError


def display_available() -> bool:
    """Whether a window can be shown: always on macOS/Windows, with X11 or Wayland on Linux."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class PreviewWindow:
    """Shows at most ``max_rate`` multi-view frames per second; ``q`` or Esc asks to stop."""

    def __init__(self, title: str = "tcn collect", height: int = 240, max_rate: float = 15.0) -> None:
        try:
            import cv2

            cv2.namedWindow(title, cv2.WINDOW_NORMAL)
        except Exception as exc:  # ImportError, or cv2.error from a build without a GUI (-headless)
            raise DependencyError(
                f"--preview needs OpenCV with a GUI (pip install opencv-python, not -headless): {exc}"
            ) from None
        self._cv2, self.title, self.height = cv2, title, height
        self._period = 1.0 / max_rate
        self._last = 0.0

    def show(self, synced: SyncedFrame) -> bool:
        """Draw the views; False once the user pressed q or Esc."""
        now = time.monotonic()
        if now - self._last < self._period:
            return True
        self._last = now
        cv2 = self._cv2
        tiles = []
        for frame in synced.frames:
            h, w = frame.image.shape[:2]
            width = max(1, round(w * self.height / h))
            tiles.append(cv2.resize(frame.image, (width, self.height), interpolation=cv2.INTER_AREA))
        canvas = np.concatenate(tiles, axis=1)  # [height, sum of widths, 3] RGB
        cv2.imshow(self.title, cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
        return cv2.waitKey(1) & 0xFF not in (ord("q"), 27)

    def close(self) -> None:
        self._cv2.destroyWindow(self.title)
