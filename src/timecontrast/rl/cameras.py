"""Which cameras film an environment: the world model's own, or the world's randomised rig.

``tcn synth --cameras fixed,lookatcart`` films with cameras of the model (the DM Control
cart-pole's front camera and the one following the cart); without ``--cameras`` it films
from the world's rig, jittered per sequence (:func:`timecontrast.sim.cameras.place_cameras`).
An environment takes the same choice: a sequence of model camera names or ids, or a
number of rig views. :data:`DEFAULT_CAMERAS` are the DM Control defaults of each world.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from timecontrast.errors import ConfigError
from timecontrast.sim.cameras import check_model_cameras, check_views
from timecontrast.sim.worlds import get_world

CameraChoice = Sequence[str | int] | int  # model cameras (names or ids), or a number of rig views

# The model's own cameras of each world (DM Control's): what the multi-frame TCN paper filmed.
DEFAULT_CAMERAS: dict[str, tuple[str, ...]] = {
    "cartpole": ("fixed", "lookatcart"),
    "cheetah": ("side", "back"),
}


@lru_cache(maxsize=8)
def _world_model(world: str) -> Any:
    """``world``'s compiled model, for looking up its cameras (no OpenGL needed)."""
    return get_world(world).build_model()


def resolve_cameras(world: str, cameras: CameraChoice | None) -> tuple[str, ...] | int:
    """The model camera names of ``cameras`` (None: the world's :data:`DEFAULT_CAMERAS`), or
    the number of rig views when ``cameras`` is a number. Raises :class:`ConfigError` for a
    camera the model lacks (naming those it has) or an empty choice."""
    if cameras is None:
        cameras = DEFAULT_CAMERAS.get(world, 2)
    if isinstance(cameras, bool):
        raise ConfigError(f"cameras must be camera names or ids, or a number of rig views, got {cameras!r}")
    if isinstance(cameras, (int, np.integer)):
        check_views(int(cameras))
        return int(cameras)
    if isinstance(cameras, str):
        cameras = [c.strip() for c in cameras.split(",") if c.strip()]
    chosen = list(cameras)
    if not chosen:
        raise ConfigError(f"no cameras given for {world}; name the model's cameras, e.g. {DEFAULT_CAMERAS.get(world)}")
    model = _world_model(world)
    ids = check_model_cameras(model, chosen)
    check_views(len(ids))
    return tuple(model.camera(i).name for i in ids)


def describe_cameras(cameras: tuple[str, ...] | int) -> str:
    """``fixed,lookatcart`` or ``2 rig views``, for messages."""
    return f"{cameras} rig views" if isinstance(cameras, int) else ",".join(cameras)


__all__ = ["DEFAULT_CAMERAS", "CameraChoice", "describe_cameras", "resolve_cameras"]
