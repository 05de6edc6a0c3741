"""The simulated worlds, by name. ``WORLDS`` is the one registry."""

from __future__ import annotations

from timecontrast.errors import ConfigError
from timecontrast.sim.worlds.base import Attribute, CameraRig, Controller, Labeller, World
from timecontrast.sim.worlds.cartpole import CartpoleWorld
from timecontrast.sim.worlds.cheetah import CheetahWorld
from timecontrast.sim.worlds.finger import FingerWorld
from timecontrast.sim.worlds.pouring import PouringWorld

WORLDS: dict[str, World] = {
    world.name: world for world in (CartpoleWorld(), CheetahWorld(), FingerWorld(), PouringWorld())
}
DEFAULT_WORLD = "cartpole"


def get_world(name: str) -> World:
    """The world called ``name``; a :class:`ConfigError` listing the choices otherwise."""
    try:
        return WORLDS[name]
    except KeyError:
        raise ConfigError(f"unknown world {name!r}: choose one of {', '.join(WORLDS)}") from None


__all__ = ["DEFAULT_WORLD", "WORLDS", "Attribute", "CameraRig", "Controller", "Labeller", "World", "get_world"]
