"""What the input-format tests share: the TensorFlow-made fixtures and a JPEG-tolerant frame check."""

from __future__ import annotations

from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).parent / "data" / "fixtures"  # made by make_tfrecord_fixtures.py


def tensorflow_expected() -> dict[str, np.ndarray]:
    """What TensorFlow decoded from the TCC and RLDS fixtures (see make_tfrecord_fixtures.py)."""
    with np.load(FIXTURES / "tfrecord_expected.npz") as npz:
        return {k: npz[k] for k in npz.files}


def assert_same_frames(got: np.ndarray, want: np.ndarray) -> None:
    """``got`` [T, H, W, 3] are ``want`` after a JPEG round trip (and another decoder: TensorFlow's
    and Pillow's chroma upsampling differ by a few levels): close on average, and each frame
    closest to its own."""
    got, want = got.astype(float), want.astype(float)
    assert got.shape == want.shape
    assert np.abs(got - want).mean() < 4, np.abs(got - want).mean()
    distances = np.abs(got[:, None] - want[None]).mean(axis=(2, 3, 4))  # [T, T]
    np.testing.assert_array_equal(distances.argmin(axis=1), np.arange(len(got)))
