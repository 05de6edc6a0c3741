"""Session-wide fixtures: tiny multi-view datasets made on the fly (no MuJoCo, no downloads)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("MUJOCO_GL", "egl")
torch.set_num_threads(1)


from toy_data import make_toy_dataset  # noqa: E402 - after the environment settings


@pytest.fixture(scope="session")
def toy_dataset(tmp_path_factory) -> Path:
    """A tiny 2-view dataset: train (4 sequences) and val (2 sequences) of 24 frames at 32x32."""
    return make_toy_dataset(tmp_path_factory.mktemp("toy"), {"train": 4, "val": 2})


@pytest.fixture(scope="session")
def chromium() -> str:
    """Headless Chromium for the report checks: installed with apt-get (Debian's ``chromium``)
    when missing and the tests run as root; skipped, saying why, where it cannot be."""
    from report_browser import ensure_chromium

    path, why_not = ensure_chromium()
    if path is None:
        pytest.skip(why_not)
    return path
