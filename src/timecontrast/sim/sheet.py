"""Contact sheets: every view of a sequence at a few timesteps, in one image.

The sheets in docs/img (``sim_<world>.png``) are made with::

    .venv/bin/python -c "from timecontrast.sim.sheet import write_contact_sheets; write_contact_sheets('docs/img')"
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from timecontrast.io.files import atomic_write
from timecontrast.sim.generate import generate_sequence
from timecontrast.sim.worlds import WORLDS


def contact_sheet(frames: np.ndarray, columns: int = 6, gap: int = 2) -> np.ndarray:
    """``frames`` [V, T, H, W, 3] -> one image: a row per view, ``columns`` evenly spaced timesteps."""
    views, length, height, width, _ = frames.shape
    steps = np.linspace(0, length - 1, min(columns, length)).round().astype(int)
    sheet = np.full((views * (height + gap) - gap, len(steps) * (width + gap) - gap, 3), 255, np.uint8)
    for v in range(views):
        for c, t in enumerate(steps):
            y, x = v * (height + gap), c * (width + gap)
            sheet[y : y + height, x : x + width] = frames[v, t]
    return sheet


def write_contact_sheets(
    output_dir: str | os.PathLike, views: int = 4, length: int = 80, size: int = 96, seed: int = 0
) -> list[Path]:
    """Write ``sim_<world>.png`` for every world; returns the paths."""
    paths = []
    for world in WORLDS:
        seq = generate_sequence(world, views=views, length=length, size=size, seed=seed)
        path = Path(output_dir) / f"sim_{world}.png"
        with atomic_write(path, "wb") as fh:
            Image.fromarray(contact_sheet(seq.frames)).save(fh, format="PNG", optimize=True)
        paths.append(path)
    return paths
