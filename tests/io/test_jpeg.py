"""JPEG encode/decode of RGB frames."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from timecontrast.io.errors import TimeContrastError
from timecontrast.io.jpeg import decode_jpeg, encode_jpeg


def smooth_image(h: int = 24, w: int = 40) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([xx * 255 // w, yy * 255 // h, (xx + yy) * 255 // (h + w)], -1).astype(np.uint8)


def test_round_trip_is_close_and_keeps_shape():
    img = smooth_image()
    data = encode_jpeg(img)
    assert data[:2] == b"\xff\xd8"  # JPEG start-of-image marker
    out = decode_jpeg(data)
    assert out.shape == img.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - img).mean() < 3


def test_quality_changes_size():
    img = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    assert len(encode_jpeg(img, quality=50)) < len(encode_jpeg(img, quality=95))


def test_encode_rejects_wrong_arrays():
    with pytest.raises(ValueError, match=r"\[H, W, 3\] uint8"):
        encode_jpeg(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="float32"):
        encode_jpeg(np.zeros((4, 4, 3), np.float32))


def test_decode_other_modes_gives_rgb():
    gray = Image.fromarray(np.full((6, 5), 128, np.uint8), "L")
    buf = io.BytesIO()
    gray.save(buf, format="JPEG")
    out = decode_jpeg(buf.getvalue())
    assert out.shape == (6, 5, 3) and abs(int(out[0, 0, 0]) - 128) <= 2

    buf = io.BytesIO()
    Image.fromarray(smooth_image(), "RGB").save(buf, format="PNG")
    assert np.array_equal(decode_jpeg(buf.getvalue()), smooth_image())  # PNG is lossless


def test_decode_garbage_names_the_source():
    with pytest.raises(TimeContrastError, match="seq.tfrecord \\(view 1, frame 3\\): cannot decode image"):
        decode_jpeg(b"not an image", "seq.tfrecord (view 1, frame 3)")
    truncated = encode_jpeg(smooth_image())[:40]
    with pytest.raises(TimeContrastError, match="cannot decode image"):
        decode_jpeg(truncated)
