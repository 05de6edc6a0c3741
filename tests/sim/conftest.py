"""Tiny simulated sequences shared by the sim tests (rendered once per session)."""

from __future__ import annotations

import pytest

from timecontrast.sim import SimSequence, generate_sequence

SIZE = 48
LENGTH = 24


@pytest.fixture(scope="session")
def cartpole_sequence() -> SimSequence:
    """Three views of the default world, the last one moving."""
    return generate_sequence("cartpole", views=3, length=LENGTH, size=SIZE, seed=7, moving_camera=True)
