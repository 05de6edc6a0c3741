"""Camera placement: up to eight views around a world, jittered per sequence.

View ``k`` always starts from the same slot of the world's rig (so the first two views
of a three-view dataset are placed like those of a two-view one), then takes a random
offset in azimuth, elevation, distance and aim from the sequence's generator. Slots 0-4
look from the front half; 5-7 from behind, where a planar world is seen mirrored.
Optionally the last view moves: it sweeps in azimuth and elevation over the sequence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from timecontrast.errors import ConfigError
from timecontrast.sim.worlds.base import CameraRig

MAX_VIEWS = 8
# Per slot: azimuth offset (in units of the rig's spread; 2.0 means behind), elevation
# (fraction of the rig's range, 0 = lowest) and distance factor.
_SLOTS = (
    (-0.5, 0.5, 1.0),
    (0.5, 0.1, 1.15),
    (0.0, 0.9, 0.9),
    (-1.0, 0.3, 1.1),
    (1.0, 0.7, 0.95),
    (None, 0.5, 1.05),
    (None, 0.2, 1.2),
    (None, 0.8, 0.9),
)
_BEHIND_OFFSETS = {5: -0.5, 6: 0.5, 7: 0.0}
AZIMUTH_JITTER = 10.0  # degrees, uniform +-
ELEVATION_JITTER = 5.0  # degrees, uniform +-
DISTANCE_JITTER = 0.08  # relative, uniform +-
AIM_JITTER = 0.04  # fraction of the distance, uniform +- along x and z


@dataclass(frozen=True)
class CameraPlacement:
    """A free camera aimed at the world's camera target plus ``aim_offset``.

    ``azimuth_sweep`` / ``elevation_sweep`` (degrees) move it linearly over the sequence,
    from -sweep/2 at the first frame to +sweep/2 at the last; zero for a still camera.
    """

    azimuth: float
    elevation: float
    distance: float
    aim_offset: tuple[float, float, float] = (0.0, 0.0, 0.0)
    azimuth_sweep: float = 0.0
    elevation_sweep: float = 0.0

    @property
    def moving(self) -> bool:
        return bool(self.azimuth_sweep or self.elevation_sweep)

    def configure(self, camera: Any, target: np.ndarray, progress: float) -> None:
        """Set an ``MjvCamera`` (free type) for the frame at ``progress`` in [0, 1]."""
        camera.type = 0  # mjCAMERA_FREE
        camera.lookat[:] = target + np.asarray(self.aim_offset)
        camera.distance = self.distance
        camera.azimuth = self.azimuth + self.azimuth_sweep * (progress - 0.5)
        camera.elevation = self.elevation + self.elevation_sweep * (progress - 0.5)


def check_views(views: int) -> None:
    if not isinstance(views, (int, np.integer)) or not 1 <= views <= MAX_VIEWS:
        raise ConfigError(f"views must be a whole number from 1 to {MAX_VIEWS}, got {views!r}")


def place_cameras(
    rig: CameraRig, views: int, rng: np.random.Generator, moving_camera: bool = False
) -> list[CameraPlacement]:
    """``views`` jittered placements from the rig's slots; the last one moves if asked."""
    check_views(views)
    low, high = rig.elevation
    placements = []
    for k in range(views):
        spread, height, distance = _SLOTS[k]
        base = rig.azimuth + (
            180.0 + _BEHIND_OFFSETS[k] * rig.azimuth_spread if spread is None else spread * rig.azimuth_spread
        )
        jitter = rng.uniform(-1.0, 1.0, size=5)  # always five draws per view: later views never shift
        d = rig.distance * distance * (1.0 + DISTANCE_JITTER * jitter[2])
        placements.append(
            CameraPlacement(
                azimuth=base + AZIMUTH_JITTER * jitter[0],
                elevation=float(np.clip(low + (high - low) * height + ELEVATION_JITTER * jitter[1], -80.0, 10.0)),
                distance=d,
                aim_offset=(AIM_JITTER * d * jitter[3], 0.0, AIM_JITTER * d * jitter[4]),
            )
        )
    if moving_camera:
        sweep = rng.choice([-1.0, 1.0]) * rng.uniform(30.0, 60.0)
        last = placements[-1]
        placements[-1] = CameraPlacement(
            last.azimuth, last.elevation, last.distance, last.aim_offset, sweep, rng.uniform(-10.0, 10.0)
        )
    return placements


def check_model_cameras(model: Any, cameras: Sequence[int | str]) -> list[int]:
    """Ids of the model's own cameras named by id or name; raises before MuJoCo can abort.

    Raises:
        ConfigError: a camera the model lacks, with the list of those it has.
    """
    names = [model.camera(i).name for i in range(model.ncam)]
    available = ", ".join(f"{i} ({n})" for i, n in enumerate(names)) or "none"
    ids = []
    for camera in cameras:
        if isinstance(camera, str) and not camera.lstrip("-").isdigit():
            if camera not in names:
                raise ConfigError(f"camera {camera!r} is not in the model; it has cameras {available}")
            ids.append(names.index(camera))
            continue
        index = int(camera)
        if not 0 <= index < model.ncam:
            raise ConfigError(f"camera id {index} is not in the model; it has cameras {available}")
        ids.append(index)
    return ids
