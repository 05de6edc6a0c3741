"""Simulate a world and film it from several cameras at once: one sequence as arrays."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import numpy as np

from timecontrast.data.state import SequenceState
from timecontrast.errors import ConfigError
from timecontrast.sim.appearance import AppearanceRandomizer
from timecontrast.sim.cameras import CameraPlacement, check_model_cameras, check_views, place_cameras
from timecontrast.sim.gl import import_mujoco
from timecontrast.sim.render import SceneRenderer
from timecontrast.sim.worlds import DEFAULT_WORLD, Controller, World, get_world

logger = logging.getLogger(__name__)

POLICIES = ("scripted", "random")
APPEARANCES = ("random", "default")  # a new look per sequence, or the model's own (DM Control's)
MAX_SIZE = 2048
# Coordinates per joint type (mjtJoint: free, ball, slide, hinge) in qpos and in qvel.
_QPOS_WIDTH = (7, 4, 1, 1)
_QVEL_WIDTH = (6, 3, 1, 1)


@dataclass
class SimSequence:
    """One simulated multi-view sequence: frames, true state, labels and camera poses."""

    name: str
    world: str
    frames: np.ndarray  # [V, T, H, W, 3] uint8
    state: SequenceState  # position/velocity [T, *], labels [T], camera poses [V, T, *]

    @property
    def labels(self) -> dict[str, np.ndarray]:
        return self.state.labels

    @property
    def num_views(self) -> int:
        return int(self.frames.shape[0])

    @property
    def length(self) -> int:
        return int(self.frames.shape[1])


def sequence_name(world: str, index: int) -> str:
    return f"{world}_{index:04d}"


def sequence_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of sequence ``index`` of a dataset made with ``seed``."""
    return np.random.default_rng([int(seed), int(index)])


def check_request(length: int, size: int, fps: float, policy: str) -> None:
    """Reject out-of-range arguments with a message naming the valid values."""
    if not isinstance(length, (int, np.integer)) or length < 1:
        raise ConfigError(f"length must be a positive number of frames, got {length!r}")
    if not isinstance(size, (int, np.integer)) or not 8 <= size <= MAX_SIZE:
        raise ConfigError(f"size must be a whole number of pixels from 8 to {MAX_SIZE}, got {size!r}")
    if not (isinstance(fps, (int, float)) and math.isfinite(fps) and 0 < fps <= 1000):
        raise ConfigError(f"fps must be a number of frames per second in (0, 1000], got {fps!r}")
    if policy not in POLICIES:
        raise ConfigError(f"unknown policy {policy!r}: choose one of {', '.join(POLICIES)}")


def _coordinate_names(model: Any, widths: Sequence[int]) -> list[str]:
    """One name per coordinate: the joint's name, indexed when it has several."""
    names: list[str] = []
    for j in range(model.njnt):
        width = widths[int(model.jnt_type[j])]
        name = model.joint(j).name or f"joint{j}"
        names += [name] if width == 1 else [f"{name}[{i}]" for i in range(width)]
    return names


def state_names(model: Any) -> tuple[list[str], list[str], list[str]]:
    """``(position names, velocity names, periodic angles)`` of a model's coordinates, as
    :class:`~timecontrast.data.state.SequenceState` names them."""
    return _coordinate_names(model, _QPOS_WIDTH), _coordinate_names(model, _QVEL_WIDTH), _free_angles(model)


def _free_angles(model: Any) -> list[str]:
    """Names of the hinge joints without limits: their angle is periodic."""
    hinge = 3  # mjtJoint.mjJNT_HINGE
    return [
        model.joint(j).name or f"joint{j}"
        for j in range(model.njnt)
        if int(model.jnt_type[j]) == hinge and not bool(model.jnt_limited[j])
    ]


class WorldSimulator:
    """One world's model, physics and renderer, reused for many sequences.

    The physics step is shortened (never lengthened) so that a whole number of steps
    makes one frame interval: frames are exactly ``1 / fps`` seconds apart. Shadows,
    reflections and anti-aliasing are off by default (see :class:`SceneRenderer`).
    """

    def __init__(
        self,
        world: str | World = DEFAULT_WORLD,
        size: int = 128,
        fps: float = 20.0,
        *,
        width: int | None = None,
        height: int | None = None,
        shadows: bool = False,
        reflections: bool = False,
        antialiasing: bool = False,
    ):
        """``size``: square frames; ``width`` / ``height`` override either side."""
        self.world = get_world(world) if isinstance(world, str) else world
        self.width = int(width if width is not None else size)
        self.height = int(height if height is not None else size)
        for side in (self.width, self.height):
            check_request(1, side, fps, "scripted")
        self._mujoco = import_mujoco()
        self.size, self.fps = max(self.width, self.height), float(fps)
        self.model = self.world.build_model()
        frame_seconds = 1.0 / self.fps
        self.substeps = max(1, math.ceil(frame_seconds / self.model.opt.timestep - 1e-9))
        self.model.opt.timestep = frame_seconds / self.substeps
        self.data = self._mujoco.MjData(self.model)
        self.renderer = SceneRenderer(
            self.model, self.width, self.height, shadows=shadows, reflections=reflections, antialiasing=antialiasing
        )
        self.appearance = AppearanceRandomizer(
            self.model, self.renderer, self.world.body_materials, self.world.contrasting_materials
        )
        self.position_names = _coordinate_names(self.model, _QPOS_WIDTH)
        self.velocity_names = _coordinate_names(self.model, _QVEL_WIDTH)
        self.angles = _free_angles(self.model)

    def simulate(
        self,
        name: str,
        length: int,
        rng: np.random.Generator,
        views: int = 2,
        policy: str = "scripted",
        moving_camera: bool = False,
        cameras: Sequence[int | str] | None = None,
        appearance: str = "random",
    ) -> SimSequence:
        """Simulate and render one sequence; every random choice comes from ``rng``.

        ``cameras`` names the model's own cameras (ids or names) to film with instead of
        the world's rig; there must be ``views`` of them. ``appearance``: ``random`` (a new
        look per sequence) or ``default`` (the model's own colours and lights).
        """
        if appearance not in APPEARANCES:
            raise ConfigError(f"unknown appearance {appearance!r}: choose one of {', '.join(APPEARANCES)}")
        check_request(length, self.height, self.fps, policy)
        check_views(views)
        mj, model, data, world = self._mujoco, self.model, self.data, self.world
        fixed_ids = None
        if cameras is not None:
            fixed_ids = check_model_cameras(model, cameras)
            if len(fixed_ids) != views:
                raise ConfigError(f"{len(fixed_ids)} cameras given for {views} views; give one camera per view")
        # Independent streams: the motion does not change when views are added, and so on.
        rng_state, rng_policy, rng_look, rng_cameras = rng.spawn(4)
        mj.mj_resetData(model, data)
        world.reset(model, data, rng_state)
        mj.mj_forward(model, data)
        controller = world.controller(policy, model, rng_policy, model.opt.timestep)
        labeller = world.label_tracker(model)
        if appearance == "random":
            self.appearance.apply(rng_look)
        else:
            self.appearance.restore()
        placements = place_cameras(world.rig, views, rng_cameras, moving_camera)
        self._advance(controller, round(world.warmup_seconds * self.fps) * self.substeps)

        frames = np.empty((views, length, self.height, self.width, 3), dtype=np.uint8)
        position = np.empty((length, model.nq))
        velocity = np.empty((length, model.nv))
        labels = {a.name: np.empty(length, dtype=np.int64) for a in world.attributes}
        cam_pos = np.empty((views, length, 3))
        cam_rot = np.empty((views, length, 9))
        camera = mj.MjvCamera()
        for t in range(length):
            if t > 0:
                self._advance(controller, self.substeps)
            mj.mj_forward(model, data)  # positions, contacts and the scene all at time t
            position[t], velocity[t] = data.qpos, data.qvel
            for key, value in labeller(model, data).items():
                labels[key][t] = value
            target = world.camera_target(model, data)
            progress = t / max(length - 1, 1)
            for v in range(views):
                if fixed_ids is not None:
                    camera.type, camera.fixedcamid = mj.mjtCamera.mjCAMERA_FIXED, fixed_ids[v]
                else:
                    placements[v].configure(camera, target, progress)
                self.renderer.render(data, camera, out=frames[v, t])
                cam_pos[v, t], cam_rot[v, t] = self.renderer.camera_pose()
        state = SequenceState(
            position=position,
            velocity=velocity,
            position_names=self.position_names,
            velocity_names=self.velocity_names,
            labels=labels,
            camera_positions=cam_pos,
            camera_orientations=cam_rot,
            fps=self.fps,
            angles=self.angles,
        )
        return SimSequence(name=name, world=world.name, frames=frames, state=state)

    def _advance(self, controller: Controller, steps: int) -> None:
        """Run ``steps`` physics steps, asking the controller for an action before each."""
        for _ in range(steps):
            self.data.ctrl[:] = controller(self.data)
            self._mujoco.mj_step(self.model, self.data)

    def close(self) -> None:
        self.renderer.close()

    def __enter__(self) -> WorldSimulator:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def generate_sequence(
    world: str = DEFAULT_WORLD,
    views: int = 2,
    length: int = 120,
    size: int = 128,
    fps: float = 20.0,
    seed: int = 0,
    policy: str = "scripted",
    *,
    index: int = 0,
    moving_camera: bool = False,
    cameras: Sequence[int | str] | None = None,
    width: int | None = None,
    height: int | None = None,
) -> SimSequence:
    """Simulate one multi-view sequence of ``world`` and return it as arrays.

    Sequence ``index`` of a dataset generated with ``seed`` is exactly
    ``generate_sequence(..., seed=seed, index=index)``.

    Example::

        seq = generate_sequence("cartpole", views=2, length=60, size=64, seed=1)
        seq.frames.shape          # (2, 60, 64, 64, 3)
        seq.labels["pole_up"]     # [60] int64
    """
    world_obj = get_world(world)
    check_views(views)
    check_request(length, size, fps, policy)
    with WorldSimulator(world_obj, size, fps, width=width, height=height) as simulator:
        return simulator.simulate(
            sequence_name(world_obj.name, index),
            length,
            sequence_rng(seed, index),
            views=views,
            policy=policy,
            moving_camera=moving_camera,
            cameras=cameras,
        )


__all__ = ["POLICIES", "CameraPlacement", "SimSequence", "WorldSimulator", "generate_sequence", "sequence_rng"]
