"""A camera that generates frames: for tests, demos and checking a setup without hardware.

Each frame shows the same scene for every synthetic camera at the same instant (a bar
that sweeps across the image once per second, placed by the capture timestamp), tinted
per camera, with the camera's frame counter written as black/white blocks in the top
rows. The blocks survive H.264 compression, so :func:`read_frame_counter` recovers the
counter from a decoded video: tests use it to check that the frames written are
exactly the ones the sidecar lists, in order.
"""

from __future__ import annotations

import numpy as np

from timecontrast.capture.pacing import FramePacer
from timecontrast.capture.sources import CameraInfo, CameraSource, CapturedFrame
from timecontrast.errors import CaptureError

COUNTER_BITS = 16  # two rows of eight blocks; counters wrap at 65536
_BITS_PER_ROW = 8


def _block_size(width: int, height: int) -> tuple[int, int]:
    return width // _BITS_PER_ROW, max(2, height // 8)  # (block width, block height)


def draw_frame_counter(image: np.ndarray, counter: int) -> None:
    """Write ``counter`` (mod 2**16) into the top rows of ``image`` ([H, W, 3] uint8), in place."""
    bw, bh = _block_size(image.shape[1], image.shape[0])
    for bit in range(COUNTER_BITS):
        row, col = divmod(bit, _BITS_PER_ROW)
        value = 255 if (counter >> bit) & 1 else 0
        image[row * bh : (row + 1) * bh, col * bw : (col + 1) * bw] = value


def read_frame_counter(image: np.ndarray) -> int:
    """The counter :func:`draw_frame_counter` wrote, read back from a (decoded) frame."""
    bw, bh = _block_size(image.shape[1], image.shape[0])
    counter = 0
    for bit in range(COUNTER_BITS):
        row, col = divmod(bit, _BITS_PER_ROW)
        # Sample the middle of the block: its edges blur under lossy compression.
        y0, x0 = row * bh + bh // 4, col * bw + bw // 4
        block = image[y0 : y0 + max(1, bh // 2), x0 : x0 + max(1, bw // 2)]
        if block.mean() > 127:
            counter |= 1 << bit
    return counter


def synthetic_background(width: int, height: int, tint: int) -> np.ndarray:
    """The still part of a synthetic frame: a horizontal gradient, one channel dimmed."""
    ramp = np.linspace(40, 200, width).astype(np.uint8)  # [W]
    image = np.repeat(np.repeat(ramp[None, :, None], height, axis=0), 3, axis=2)  # [H, W, 3]
    image[..., tint % 3] //= 2
    return image


def render_synthetic_frame(
    width: int, height: int, timestamp: float, counter: int, tint: int, background: np.ndarray | None = None
) -> np.ndarray:
    """One synthetic frame: ``[height, width, 3]`` uint8 RGB (``background`` from :func:`synthetic_background`)."""
    image = (background if background is not None else synthetic_background(width, height, tint)).copy()
    # The bar sweeps left to right once per second; its place depends only on the time.
    bar_w = max(2, width // 10)
    x = int((timestamp % 1.0) * (width - bar_w))
    top = 2 * _block_size(width, height)[1]
    image[top:, x : x + bar_w] = (255, 220, 0)
    draw_frame_counter(image, counter)
    return image


class SyntheticCamera(CameraSource):
    """Generated frames at ``fps`` (optionally jittered), ``width`` x ``height``, forever."""

    def __init__(
        self, width: int, height: int, fps: float, jitter_ms: float = 0.0, seed: int = 0, spec: str = "synthetic"
    ) -> None:
        if width < 16 or height < 16 or fps <= 0:
            raise CaptureError(f"camera {spec!r}: synthetic cameras need at least 16x16 pixels and fps > 0")
        self.spec = spec
        self.width, self.height, self.fps = width, height, fps
        self._jitter_ms = jitter_ms
        self._seed = seed
        self._pacer: FramePacer | None = None
        self._background: np.ndarray | None = None
        self._count = 0

    def open(self) -> CameraInfo:
        self._pacer = FramePacer(self.fps, self._jitter_ms, np.random.default_rng(self._seed))
        self._count = 0
        self._background = synthetic_background(self.width, self.height, self._seed)
        return CameraInfo(
            spec=self.spec,
            description=f"synthetic camera (seed {self._seed})",
            requested_width=self.width,
            requested_height=self.height,
            requested_fps=self.fps,
            width=self.width,
            height=self.height,
            fps=self.fps,
        )

    def read(self) -> CapturedFrame | None:
        if self._pacer is None:
            raise CaptureError(f"camera {self.spec!r}: read() before open()")
        timestamp = self._pacer.wait_next()
        if timestamp is None:
            return None
        image = render_synthetic_frame(
            self.width, self.height, timestamp, self._count, self._seed, background=self._background
        )
        frame = CapturedFrame(image, timestamp, self._count)
        self._count += 1
        return frame

    def interrupt(self) -> None:
        if self._pacer is not None:
            self._pacer.interrupt()

    def close(self) -> None:
        self.interrupt()
