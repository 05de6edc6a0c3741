"""JPEG encode/decode of RGB uint8 frames (Pillow, which bundles libjpeg-turbo)."""

from __future__ import annotations

import io
import re

import numpy as np
from PIL import Image

from timecontrast.io.errors import TimeContrastError

DEFAULT_QUALITY = 90  # the original converter's quality


def encode_jpeg(rgb: np.ndarray, quality: int = DEFAULT_QUALITY) -> bytes:
    """``[H, W, 3]`` uint8 RGB into JPEG bytes."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"encode_jpeg needs an [H, W, 3] uint8 array, got {rgb.dtype} {rgb.shape}")
    buf = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def decode_jpeg(data: bytes, source: str = "JPEG data") -> np.ndarray:
    """JPEG (or PNG) bytes into ``[H, W, 3]`` uint8 RGB."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            return np.asarray(img.convert("RGB"))
    except Exception as exc:  # Pillow raises several types for bad data
        reason = re.sub(r" <_io\.BytesIO object at \w+>", "", str(exc)) or type(exc).__name__
        raise TimeContrastError(f"{source}: cannot decode image ({reason}); the record is damaged") from None
