"""Gymnasium environments of the simulated worlds, filmed as ``tcn synth`` films them.

Each environment runs a DeepMind Control Suite task (:mod:`timecontrast.rl.tasks`: its
initial states, observations and reward) on the world's model, and films it with the
same cameras, renderer and look as ``tcn synth`` (:class:`~timecontrast.sim.render.SceneRenderer`,
shadows, reflections and anti-aliasing off; the model's own cameras or the world's rig;
``appearance`` ``default`` or ``random``), so a TCN trained on ``tcn synth`` data sees the
same images. The Table I recipe's data (``--cameras fixed,lookatcart --appearance default
--width 96 --height 48 --fps 50``) matches ``make_env("cartpole", "swingup")``'s defaults.

**Time.** The suite's tasks step the physics at 100 Hz (0.01 s control timestep, one
physics step each) for 10 s (1000 steps). An environment step is one *frame*: at ``fps``
frames per second the action is repeated ``100 / fps`` control steps (2 at the default 50
fps) and the rewards of those control steps are summed, so an episode is ``10 * fps``
steps (500) and its return is on dm_control's scale (0 to 1000, as the multi-frame TCN
paper's Table II). Frames are ``1 / fps`` s apart, exactly as in ``tcn synth --fps``, so a
multi-frame model's clip stride spans the same time as in training. ``fps`` must divide 100.

**Observations** (``obs``): ``state`` (dm_control's observation dict, flattened to
float32: cart-pole position [x, cos θ, sin θ] and velocity [ẋ, θ̇], 5 values; cheetah 17),
``position`` (its position part only, without the velocities: what one frame can show;
cart-pole 3 values, cheetah 8), ``pixels`` (the frame of camera ``view``, ``[height,
width, 3]`` uint8), ``random`` (standard normal noise the size of the state: the "random state" baseline) and, through
:func:`make_env`, ``embedding`` (:class:`~timecontrast.rl.wrappers.EmbeddingObservation`).
Actions are ``Box(-1, 1, [nu])``. Episodes end by time limit only (``truncated``).
``reset(seed=...)`` makes an episode reproducible: the initial state, the look and the
rig's jitter all derive from it; ``render()`` returns the frame of camera ``view``.

Example::

    env = make_env("cartpole", "swingup", obs="embedding", embedder="runs/mftcn")
    venv = make_vec_env(8, seed=0, world="cartpole", task="swingup", obs="embedding", embedder="runs/mftcn")
"""

from __future__ import annotations

import atexit
import math
import os
import weakref
from collections.abc import Callable
from functools import partial
from typing import Any, SupportsFloat

import numpy as np
import torch

from timecontrast.errors import ConfigError, DataError
from timecontrast.inference import Embedder
from timecontrast.rl.cameras import CameraChoice, resolve_cameras
from timecontrast.rl.compatibility import check_embedder_fits, load_embedder
from timecontrast.rl.dependencies import missing_rl_extra
from timecontrast.rl.wrappers import EmbeddingObservation, VecEmbeddingObservation
from timecontrast.sim.appearance import AppearanceRandomizer
from timecontrast.sim.cameras import CameraPlacement, place_cameras
from timecontrast.sim.generate import APPEARANCES, MAX_SIZE
from timecontrast.sim.gl import import_mujoco
from timecontrast.sim.render import SceneRenderer
from timecontrast.sim.worlds import get_world

try:
    import gymnasium as gym
    from gymnasium import spaces
    from gymnasium.envs.registration import EnvSpec
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv
except ImportError as exc:
    raise missing_rl_extra(exc) from None

# The tasks of each world (timecontrast.rl.tasks builds them).
WORLD_TASKS: dict[str, tuple[str, ...]] = {"cartpole": ("swingup", "balance"), "cheetah": ("run", "walk")}
OBS_MODES = ("state", "position", "pixels", "embedding", "random")
SIM_OBS_MODES = tuple(m for m in OBS_MODES if m != "embedding")  # SimWorldEnv's own; make_env adds the embedding
DEFAULT_FPS = 50.0  # the Table I recipe's frame rate (tcn synth --fps 50)
VEC_ENVS = ("dummy", "subproc")


def check_world_task(world: str, task: str) -> None:
    """:class:`ConfigError` naming the choices for an unknown world or task."""
    if world not in WORLD_TASKS:
        raise ConfigError(f"unknown world {world!r}: choose one of {', '.join(WORLD_TASKS)}")
    if task not in WORLD_TASKS[world]:
        raise ConfigError(f"unknown task {task!r} for {world}: choose one of {', '.join(WORLD_TASKS[world])}")


def action_repeat_for(fps: float, control_timestep: float) -> int:
    """Control steps per frame at ``fps``; :class:`ConfigError` unless that is a whole number."""
    if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise ConfigError(f"fps must be a positive number of frames per second, got {fps!r}")
    repeat = round(1.0 / (fps * control_timestep))
    if repeat < 1 or abs(repeat * control_timestep - 1.0 / fps) > 1e-9:
        rate = 1.0 / control_timestep
        divisors = [f"{rate / n:g}" for n in range(1, 11) if (rate / n) == int(rate / n)]
        raise ConfigError(
            f"fps={fps:g} is not a whole fraction of the task's {rate:g} Hz control rate; use one of "
            f"{', '.join(divisors)} (and the same --fps for tcn synth)"
        )
    return repeat


class SimWorldEnv(gym.Env):
    """A simulated world's dm_control task as a Gymnasium environment (see the module doc).

    ``obs``: ``state`` | ``position`` | ``pixels`` | ``random`` (``embedding`` is :func:`make_env`'s).
    ``cameras``: model camera names or ids (default the world's DM Control pair, e.g.
    ``("fixed", "lookatcart")``), or a number of views of the world's randomised rig;
    ``view`` picks the one of the ``pixels`` observation and ``render()``.
    ``max_episode_steps``: steps (frames) per episode, default ``10 s * fps``.
    ``seed``: the seed of the first ``reset()`` without one.
    """

    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "render_fps": DEFAULT_FPS}  # noqa: RUF012 - gym.Env's

    def __init__(
        self,
        world: str = "cartpole",
        task: str = "swingup",
        *,
        obs: str = "state",
        width: int = 96,
        height: int = 48,
        cameras: CameraChoice | None = None,
        view: int = 0,
        appearance: str = "default",
        fps: float = DEFAULT_FPS,
        max_episode_steps: int | None = None,
        seed: int | None = None,
        render_mode: str | None = "rgb_array",
    ) -> None:
        check_world_task(world, task)
        if obs not in SIM_OBS_MODES:
            raise ConfigError(
                f"SimWorldEnv observes one of {', '.join(SIM_OBS_MODES)}, got {obs!r}; "
                "for 'embedding' use make_env(..., obs='embedding', embedder=...)"
            )
        if appearance not in APPEARANCES:
            raise ConfigError(f"unknown appearance {appearance!r}: choose one of {', '.join(APPEARANCES)}")
        for name, side in (("width", width), ("height", height)):
            if not isinstance(side, (int, np.integer)) or not 8 <= side <= MAX_SIZE:
                raise ConfigError(f"{name} must be a whole number of pixels from 8 to {MAX_SIZE}, got {side!r}")
        if render_mode not in (None, "rgb_array"):
            raise ConfigError(f"render_mode must be 'rgb_array' (or None), got {render_mode!r}")
        self.cameras = resolve_cameras(world, cameras)
        self.num_views = self.cameras if isinstance(self.cameras, int) else len(self.cameras)
        if not isinstance(view, (int, np.integer)) or not 0 <= view < self.num_views:
            raise ConfigError(f"view must be one of 0..{self.num_views - 1} (the cameras' indices), got {view!r}")
        from timecontrast.rl.tasks import build_task_environment, task_spec

        self._mujoco = import_mujoco()
        self.world_name, self.task_name, self.obs = world, task, obs
        self.width, self.height, self.view, self.appearance = int(width), int(height), int(view), appearance
        self.world = get_world(world)
        self.model = self.world.build_model()
        self._task_random = np.random.RandomState(0)  # reseeded at every reset
        self._dm_env = build_task_environment(world, task, self.model, self._task_random)
        self.physics = self._dm_env.physics
        self.control_timestep = float(self.physics.timestep())
        self.action_repeat = action_repeat_for(fps, self.control_timestep)
        self.fps = float(fps)
        steps = round(task_spec(world, task).seconds * self.fps)
        if max_episode_steps is not None and (not isinstance(max_episode_steps, int) or max_episode_steps < 1):
            raise ConfigError(f"max_episode_steps must be a whole number >= 1, got {max_episode_steps!r}")
        self.max_episode_steps = int(max_episode_steps or steps)
        spec = self._dm_env.action_spec()
        self._action_low, self._action_high = np.asarray(spec.minimum, float), np.asarray(spec.maximum, float)
        self.action_space = spaces.Box(-1.0, 1.0, spec.shape, np.float32)
        self._state_size = int(sum(np.size(v) for v in self._dm_env.task.get_observation(self.physics).values()))
        if obs == "pixels":
            self.observation_space = spaces.Box(0, 255, (self.height, self.width, 3), np.uint8)
        else:
            size = self.position().size if obs == "position" else self._state_size
            self.observation_space = spaces.Box(-np.inf, np.inf, (size,), np.float32)
        self.render_mode = render_mode
        self.metadata = {**self.metadata, "render_fps": self.fps}
        self.spec = EnvSpec(
            id=f"timecontrast/{world}-{task}-v0",
            entry_point=f"{__name__}:SimWorldEnv",
            max_episode_steps=self.max_episode_steps,
            kwargs={
                "world": world, "task": task, "obs": obs, "width": self.width, "height": self.height,
                "cameras": self.cameras if isinstance(self.cameras, int) else list(self.cameras), "view": self.view,
                "appearance": appearance, "fps": self.fps, "max_episode_steps": self.max_episode_steps,
            },
        )  # fmt: skip
        self._first_seed = seed
        self._steps: int | None = None  # None until the first reset
        self._episode_seed = 0
        self._placements: list[CameraPlacement] = []
        self._noise = np.random.default_rng(0)
        self._renderer: SceneRenderer | None = None
        self._look: AppearanceRandomizer | None = None
        self._camera = self._mujoco.MjvCamera()
        self._camera_ids = [] if isinstance(self.cameras, int) else [self.model.camera(n).id for n in self.cameras]
        self._frame_id = 0  # changes whenever the state does
        self._frame: tuple[int, np.ndarray] | None = None

    # ------------------------------------------------------------------ episodes
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        if seed is None and self._first_seed is not None:
            seed = self._first_seed
        self._first_seed = None
        super().reset(seed=seed)
        self._episode_seed = int(self.np_random.integers(2**31 - 1))
        self._task_random.seed(self._episode_seed)
        self._dm_env.reset()
        camera_rng, noise_rng = np.random.default_rng(self._episode_seed).spawn(2)
        if isinstance(self.cameras, int):
            self._placements = place_cameras(self.world.rig, self.cameras, camera_rng)
        self._noise = noise_rng
        if self._renderer is not None:
            self._apply_look()
        self._steps = 0
        self._frame_id += 1
        return self._observation(), {}

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        if self._steps is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        if self._steps >= self.max_episode_steps:
            raise gym.error.ResetNeeded(f"the episode ended after {self._steps} steps: call reset()")
        a = np.asarray(action, dtype=np.float64).reshape(self.action_space.shape)
        if not np.all(np.isfinite(a)):
            raise DataError(f"the action must be finite, got {a}")
        control = self._action_low + (np.clip(a, -1.0, 1.0) + 1.0) / 2.0 * (self._action_high - self._action_low)
        reward = 0.0
        for _ in range(self.action_repeat):
            reward += float(self._dm_env.step(control).reward)
        self._steps += 1
        self._frame_id += 1
        return self._observation(), reward, False, self._steps >= self.max_episode_steps, {}

    @property
    def elapsed_steps(self) -> int:
        """Steps taken in the current episode (0 before the first)."""
        return self._steps or 0

    def state(self) -> np.ndarray:
        """dm_control's observation of the current state, flattened: ``[state_size]`` float32."""
        observation = self._dm_env.task.get_observation(self.physics)
        return np.concatenate([np.ravel(v) for v in observation.values()]).astype(np.float32)

    def position(self) -> np.ndarray:
        """The ``position`` part of dm_control's observation (no velocities): ``[P]`` float32."""
        return np.ravel(self._dm_env.task.get_observation(self.physics)["position"]).astype(np.float32)

    def set_state(self, position: np.ndarray, velocity: np.ndarray) -> None:
        """Put the physics into ``qpos = position``, ``qvel = velocity`` (e.g. a recorded
        sequence's true state, :class:`~timecontrast.data.state.SequenceState`)."""
        with self.physics.reset_context():
            self.physics.data.qpos[:] = position
            self.physics.data.qvel[:] = velocity
        self._frame_id += 1

    def _observation(self) -> np.ndarray:
        if self.obs == "pixels":
            return self.render()
        if self.obs == "random":
            return self._noise.standard_normal(self._state_size).astype(np.float32)
        if self.obs == "position":
            return self.position()
        return self.state()

    # ----------------------------------------------------------------- rendering
    def _apply_look(self) -> None:
        assert self._look is not None
        if self.appearance == "random":
            self._look.apply(np.random.default_rng([self._episode_seed, 1]))
        else:
            self._look.restore()
        self._mujoco.mj_camlight(self.model, self.physics.data.ptr)  # the lights' world positions follow

    def _render_view(self, view: int) -> np.ndarray:
        if self._steps is None:
            raise gym.error.ResetNeeded("call reset() before render()")
        if self._renderer is None:
            self._renderer = SceneRenderer(self.model, self.width, self.height)
            # An env nobody closed frees its GL context at exit, before MuJoCo's EGL display goes.
            self._exit_hook = partial(_close_renderer, weakref.ref(self._renderer))
            atexit.register(self._exit_hook)
            self._look = AppearanceRandomizer(self.model, self._renderer, self.world.body_materials)
            self._apply_look()
        camera, data = self._camera, self.physics.data.ptr
        if isinstance(self.cameras, int):
            self._placements[view].configure(camera, self.world.camera_target(self.model, data), 0.0)
        else:
            camera.type, camera.fixedcamid = self._mujoco.mjtCamera.mjCAMERA_FIXED, self._camera_ids[view]
        return self._renderer.render(data, camera)

    def render(self) -> np.ndarray:
        """The current frame of camera ``view``: ``[height, width, 3]`` uint8 (rendered once per state)."""
        if self._frame is None or self._frame[0] != self._frame_id:
            self._frame = (self._frame_id, self._render_view(self.view))
        return self._frame[1]

    def true_state(self) -> tuple[np.ndarray, np.ndarray]:
        """The physics' ``(qpos, qvel)`` now, copies (named by :meth:`state_names`)."""
        return self.physics.data.qpos.copy(), self.physics.data.qvel.copy()

    def state_names(self) -> tuple[list[str], list[str], list[str]]:
        """``(position names, velocity names, periodic angles)``, as ``tcn synth``'s state files name them."""
        from timecontrast.sim.generate import state_names

        return state_names(self.model)

    def render_views(self) -> np.ndarray:
        """The current frame of every camera: ``[views, height, width, 3]`` uint8."""
        return np.stack([self.render() if v == self.view else self._render_view(v) for v in range(self.num_views)])

    def close(self) -> None:
        if self._renderer is not None:
            atexit.unregister(self._exit_hook)
            self._renderer.close()
            self._renderer = None
        super().close()


def _close_renderer(renderer: weakref.ref[SceneRenderer]) -> None:
    alive = renderer()
    if alive is not None:
        alive.close()


def make_env(
    world: str = "cartpole",
    task: str = "swingup",
    *,
    obs: str = "state",
    width: int = 96,
    height: int = 48,
    cameras: CameraChoice | None = None,
    view: int = 0,
    appearance: str = "default",
    seed: int | None = None,
    embedder: Embedder | str | os.PathLike | None = None,
    frames: int | None = None,
    device: str | torch.device | None = None,
    max_episode_steps: int | None = None,
    fps: float = DEFAULT_FPS,
) -> gym.Env:
    """A :class:`SimWorldEnv` of ``world/task`` observing ``obs``.

    ``obs="embedding"``: the frames of camera ``view`` through ``embedder`` (an
    :class:`~timecontrast.inference.Embedder`, or a checkpoint / run directory loaded on
    ``device``), checked to fit the environment first (frame size, cameras, frame rate:
    :func:`~timecontrast.rl.compatibility.check_embedder_fits`); ``frames`` as in
    :class:`~timecontrast.rl.wrappers.EmbeddingObservation`. Other arguments: see
    :class:`SimWorldEnv`.
    """
    if obs not in OBS_MODES:
        raise ConfigError(f"unknown observation {obs!r}: choose one of {', '.join(OBS_MODES)}")
    check_world_task(world, task)
    base = {
        "obs": obs, "width": width, "height": height, "cameras": cameras, "view": view, "appearance": appearance,
        "seed": seed, "max_episode_steps": max_episode_steps, "fps": fps,
    }  # fmt: skip
    if obs != "embedding":
        if embedder is not None or frames is not None:
            raise ConfigError(f"embedder= and frames= are for obs='embedding', not obs={obs!r}")
        return SimWorldEnv(world, task, **base)  # type: ignore[arg-type]
    loaded = _checked_embedder(embedder, device, world, task, base)
    env = SimWorldEnv(world, task, **{**base, "obs": "pixels"})  # type: ignore[arg-type]
    return EmbeddingObservation(env, loaded, frames=frames, source="observation")


def _checked_embedder(
    embedder: Embedder | str | os.PathLike | None,
    device: str | torch.device | None,
    world: str,
    task: str,
    kwargs: dict[str, Any],
) -> Embedder:
    """The embedder, loaded and checked against the environment ``kwargs`` describe."""
    loaded = load_embedder(embedder, device)
    check_embedder_fits(
        loaded,
        world=world,
        task=task,
        width=int(kwargs.get("width", 96)),
        height=int(kwargs.get("height", 48)),
        cameras=resolve_cameras(world, kwargs.get("cameras")),
        view=int(kwargs.get("view", 0)),
        fps=float(kwargs.get("fps", DEFAULT_FPS)),
        appearance=str(kwargs.get("appearance", "default")),
    )
    return loaded


def _build_env(kwargs: dict[str, Any], wrapper: Callable[[gym.Env], gym.Env] | None, monitor: bool) -> gym.Env:
    """One environment of :func:`make_vec_env` (a module-level function: subprocesses pickle it)."""
    env: gym.Env = make_env(**kwargs)
    if wrapper is not None:
        env = wrapper(env)
    return Monitor(env) if monitor else env


def make_vec_env(
    n_envs: int,
    seed: int | None = 0,
    *,
    vec_env: str = "dummy",
    start_method: str | None = None,
    wrapper: Callable[[gym.Env], gym.Env] | None = None,
    monitor: bool = True,
    **make_env_kwargs: Any,
) -> VecEnv:
    """``n_envs`` environments of :func:`make_env` as a stable-baselines3 ``VecEnv``.

    Environment ``i`` is seeded ``seed + i`` at the first reset (stable-baselines3's
    ``VecEnv.seed``). ``vec_env``: ``dummy`` (one process) or ``subproc`` (one process per
    environment, ``start_method`` as ``SubprocVecEnv``'s). ``wrapper`` is applied to each
    environment (a module-level function or ``functools.partial`` for ``subproc``), then
    stable-baselines3's ``Monitor`` (episode returns and lengths for its logs) unless
    ``monitor=False``. With ``obs="embedding"`` the environments render pixels and one
    :class:`~timecontrast.rl.wrappers.VecEmbeddingObservation` embeds all their frames in
    one batch per step, in this process, on the embedder's device.
    """
    if not isinstance(n_envs, (int, np.integer)) or n_envs < 1:
        raise ConfigError(f"n_envs must be a whole number >= 1, got {n_envs!r}")
    if vec_env not in VEC_ENVS:
        raise ConfigError(f"unknown vec_env {vec_env!r}: choose one of {', '.join(VEC_ENVS)}")
    kwargs = dict(make_env_kwargs)
    obs = kwargs.get("obs", "state")
    embedder, frames, device = kwargs.pop("embedder", None), kwargs.pop("frames", None), kwargs.pop("device", None)
    loaded = None
    if obs == "embedding":
        world, task = kwargs.get("world", "cartpole"), kwargs.get("task", "swingup")
        check_world_task(world, task)
        loaded = _checked_embedder(embedder, device, world, task, kwargs)
        kwargs["obs"] = "pixels"
    elif embedder is not None or frames is not None:
        raise ConfigError(f"embedder= and frames= are for obs='embedding', not obs={obs!r}")
    factories = [partial(_build_env, kwargs, wrapper, monitor) for _ in range(int(n_envs))]
    venv: VecEnv = (
        DummyVecEnv(factories)  # type: ignore[arg-type]
        if vec_env == "dummy"
        else SubprocVecEnv(factories, start_method=start_method)  # type: ignore[arg-type]
    )
    venv.seed(seed)
    if loaded is not None:
        venv = VecEmbeddingObservation(venv, loaded, frames=frames)
    return venv


__all__ = [
    "DEFAULT_FPS",
    "OBS_MODES",
    "VEC_ENVS",
    "WORLD_TASKS",
    "SimWorldEnv",
    "action_repeat_for",
    "check_world_task",
    "make_env",
    "make_vec_env",
]
