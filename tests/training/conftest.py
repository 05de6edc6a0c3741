"""Fixtures of the training tests (helpers in tiny.py)."""

from __future__ import annotations

import pytest

from timecontrast.config import load_config

from .tiny import STRATEGY_OVERRIDES, tiny_overrides


@pytest.fixture
def make_config(toy_dataset):
    """``make_config(strategy='mvtcn', *overrides)``: a validated tiny config."""

    def make(strategy: str = "mvtcn", *overrides: str):
        return load_config(None, None, [*tiny_overrides(toy_dataset), *STRATEGY_OVERRIDES[strategy], *overrides])

    return make
