"""Gymnasium and stable-baselines3 wrappers that put a TCN between an environment and an agent.

They work on any environment with an image: its observation when that is an RGB frame
``[H, W, 3]`` uint8 (or a dict observation with a ``"pixels"`` entry, as
``gymnasium.wrappers.AddRenderObservation`` makes), else its ``render()``
(``render_mode="rgb_array"``); ``source=`` forces one. The embedder is the user API,
:class:`timecontrast.inference.Embedder`: its evaluation preprocessing, no gradients, its
device. A multi-frame model sees the clip ending at the current frame exactly as in
training (:mod:`timecontrast.rl.clips`).

- :class:`EmbeddingObservation`: the observation becomes the embedding ``[D]`` float32.
- :class:`VecEmbeddingObservation`: the same for a stable-baselines3 ``VecEnv`` of image
  observations, one embedder call per step for all its environments (terminal
  observations of finished episodes included).
- :class:`ImitationReward`: the TCN paper's reward ``-α·d² - β·sqrt(γ + d²)`` from the
  distance ``d`` to a demonstration's embedding at the same timestep.
- :class:`GoalReward`: XIRL's reward, minus the scaled distance to the demonstrations' goal.

Example::

    env = make_env("cartpole", "swingup", obs="pixels")
    env = EmbeddingObservation(env, Embedder.from_checkpoint("runs/mftcn"))
    obs, info = env.reset(seed=0)   # [32] float32
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, SupportsFloat

import numpy as np

from timecontrast.errors import ConfigError, DataError
from timecontrast.inference import Embedder
from timecontrast.rl.clips import EmbeddingClips, check_frame
from timecontrast.rl.dependencies import missing_rl_extra
from timecontrast.rl.rewards import ALPHA, BETA, GAMMA, goal_from_demonstrations, goal_reward, imitation_reward

try:
    import gymnasium as gym
    from gymnasium import spaces
    from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper
    from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs, VecEnvStepReturn
except ImportError as exc:
    raise missing_rl_extra(exc) from None

SOURCES = ("auto", "observation", "render")
REWARD_MODES = ("replace", "add")
DEMO_CHUNK = 256  # demonstration frames embedded per embedder call


def is_image_space(space: Any) -> bool:
    """An RGB frame space: ``Box`` of uint8 ``[H, W, 3]``."""
    return isinstance(space, spaces.Box) and space.dtype == np.uint8 and len(space.shape) == 3 and space.shape[-1] == 3


def _has_pixels(space: Any) -> bool:
    return isinstance(space, spaces.Dict) and "pixels" in space.spaces and is_image_space(space.spaces["pixels"])


def frame_reader(env: gym.Env, source: str = "auto") -> Callable[[Any], np.ndarray]:
    """A function from ``env``'s observation to its current RGB frame (see the module doc)."""
    if source not in SOURCES:
        raise ConfigError(f"unknown frame source {source!r}: choose one of {', '.join(SOURCES)}")
    space = env.observation_space
    if source == "auto":
        source = "observation" if is_image_space(space) or _has_pixels(space) else "render"
    if source == "observation":
        if is_image_space(space):
            return lambda obs: check_frame(obs, "the observation")
        if _has_pixels(space):
            return lambda obs: check_frame(obs["pixels"], "the observation's 'pixels'")
        raise ConfigError(
            f"source='observation' needs RGB image observations [H, W, 3] uint8, but the observation space is "
            f"{space}; use source='render'"
        )
    if env.render_mode != "rgb_array":
        raise ConfigError(
            f"the environment's observations are not images ({space}) and its render_mode is {env.render_mode!r}; "
            "create it with render_mode='rgb_array' so that render() returns the frame"
        )
    return lambda obs: check_frame(env.render(), "env.render()")  # type: ignore[arg-type]


def episode_step_limit(env: gym.Env) -> int | None:
    """The most steps an episode of ``env`` takes, where it says (its spec, a ``TimeLimit``
    wrapper or a ``max_episode_steps`` attribute); None when unknown."""
    spec = getattr(env, "spec", None)
    if spec is not None and spec.max_episode_steps is not None:
        return int(spec.max_episode_steps)
    for name in ("max_episode_steps", "_max_episode_steps"):
        try:
            value = env.get_wrapper_attr(name)
        except AttributeError:
            continue
        if isinstance(value, (int, np.integer)):
            return int(value)
    return None


class EmbeddingObservation(gym.Wrapper):
    """The observation is the TCN embedding of the current frame (of the clip ending at it
    for a multi-frame model): ``Box(-inf, inf, [D], float32)``.

    ``frames``: None = the model's clip length; a single-frame model with ``frames=K``
    observes the concatenated embeddings of the last K frames (``[K*D]``).
    ``source``: ``auto`` | ``observation`` | ``render`` (where the frame comes from).
    The latest raw frame is kept in :attr:`frame`.
    """

    def __init__(self, env: gym.Env, embedder: Embedder, frames: int | None = None, source: str = "auto") -> None:
        super().__init__(env)
        self.embedder = embedder
        self.clips = EmbeddingClips(embedder, 1, frames)
        self._read = frame_reader(env, source)
        self.observation_space = spaces.Box(-np.inf, np.inf, (self.clips.size,), np.float32)
        self.frame: np.ndarray | None = None

    def _observe(self, obs: Any, starts: bool) -> np.ndarray:
        self.frame = self._read(obs)
        return self.clips.embed([(0, self.frame, starts)])[0]

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        return self._observe(obs, True), info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self._observe(obs, False), reward, terminated, truncated, info


def _as_demonstrations(demos: Any) -> list[np.ndarray]:
    """One array per demonstration: ``[T, D]`` embeddings or ``[T, H, W, 3]`` frames."""
    if isinstance(demos, np.ndarray):
        if demos.ndim in (2, 4):
            return [demos]
        if demos.ndim in (3, 5):
            return list(demos)
        raise DataError(f"demonstrations must be [T, D] embeddings or [T, H, W, 3] frames, got shape {demos.shape}")
    return [np.asarray(d) for d in demos]


def embed_demonstration(
    embedder: Embedder, demo: np.ndarray, frames: int | None = None, expected_size: int | None = None
) -> np.ndarray:
    """``[T, size]`` float32 embeddings of one demonstration, as an environment wrapped with
    the same ``embedder`` and ``frames`` would observe it (same clips, same start padding).

    ``demo``: ``[T, H, W, 3]`` uint8 frames at the environment's frame rate, or ``[T, size]``
    embeddings already made (checked against ``expected_size``).
    """
    demo = np.asarray(demo)
    if demo.ndim == 2:
        size = expected_size if expected_size is not None else EmbeddingClips(embedder, 1, frames).size
        if demo.shape[1] != size or len(demo) == 0:
            raise DataError(
                f"demonstration embeddings must be [T, {size}] (T >= 1) to match the embedder's observations, "
                f"got shape {demo.shape}"
            )
        return demo.astype(np.float32)
    if demo.ndim != 4 or demo.shape[-1] != 3 or demo.dtype != np.uint8 or len(demo) == 0:
        raise DataError(
            f"a demonstration must be [T, H, W, 3] uint8 frames or [T, D] embeddings (T >= 1), got "
            f"{demo.dtype} {demo.shape}"
        )
    clips = EmbeddingClips(embedder, 1, frames)
    chunks = [
        clips.embed([(0, demo[t], t == 0) for t in range(s, min(s + DEMO_CHUNK, len(demo)))])
        for s in range(0, len(demo), DEMO_CHUNK)
    ]
    return np.concatenate(chunks)


class _EmbeddingReward(gym.Wrapper):
    """A reward from the embedding of the current frame, replacing or added to the env's.

    The env's own reward goes to ``info["env_reward"]``. Wrapping an
    :class:`EmbeddingObservation` of the same embedder reuses its observation (no second
    embedding).
    """

    def __init__(self, env: gym.Env, embedder: Embedder, mode: str, frames: int | None, source: str) -> None:
        super().__init__(env)
        if mode not in REWARD_MODES:
            raise ConfigError(f"unknown reward mode {mode!r}: choose one of {', '.join(REWARD_MODES)}")
        self.embedder, self.mode = embedder, mode
        self.shared = (
            isinstance(env, EmbeddingObservation) and env.embedder is embedder and frames in (None, env.clips.frames)
        )
        if isinstance(env, EmbeddingObservation) and self.shared:
            self.frames = env.clips.frames
        else:
            self.clips = EmbeddingClips(embedder, 1, frames)
            self.frames = self.clips.frames
            self._read = frame_reader(env, source)
        self.timestep = -1
        self.embedding: np.ndarray | None = None

    def _embed(self, obs: Any, starts: bool) -> np.ndarray:
        if self.shared:
            return np.asarray(obs, dtype=np.float32)
        return self.clips.embed([(0, self._read(obs), starts)])[0]

    def _reward(self, embedding: np.ndarray, timestep: int) -> tuple[float, dict[str, float]]:
        raise NotImplementedError

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        self.embedding, self.timestep = self._embed(obs, True), 0
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        if self.timestep < 0:
            raise gym.error.ResetNeeded("call reset() before step()")
        obs, env_reward, terminated, truncated, info = self.env.step(action)
        self.timestep += 1
        self.embedding = self._embed(obs, False)
        learned, extra = self._reward(self.embedding, self.timestep)
        info = {**info, "env_reward": float(env_reward), **extra}
        reward = learned if self.mode == "replace" else float(env_reward) + learned
        return obs, reward, terminated, truncated, info


class ImitationReward(_EmbeddingReward):
    """The TCN paper's imitation reward against one demonstration (Sermanet et al. 2018).

    At step ``t`` (the frame reached after ``t`` actions; 0 is the reset's), with ``d`` the
    distance between the embedding of the current frame and the demonstration's embedding
    at ``t``: ``R = -alpha·d² - beta·sqrt(gamma + d²)``
    (:func:`timecontrast.rl.rewards.imitation_reward`; its module documents the defaults
    ``ALPHA``, ``BETA``, ``GAMMA``). ``mode``: ``replace`` the env's reward or ``add`` to it.
    ``info`` gets ``env_reward``, ``imitation_reward`` and ``embedding_distance``.

    ``demo``: ``[T, H, W, 3]`` uint8 frames at the environment's frame rate (embedded here,
    with the same clips as the observations), or ``[T, D]`` embeddings. An episode of ``N``
    steps needs ``T >= N + 1``: checked here when the env's step limit is known, else at the
    step that runs past the demonstration (:class:`DataError`).
    """

    def __init__(
        self,
        env: gym.Env,
        embedder: Embedder,
        demo: np.ndarray,
        alpha: float = ALPHA,
        beta: float = BETA,
        gamma: float = GAMMA,
        mode: str = "replace",
        frames: int | None = None,
        source: str = "auto",
    ) -> None:
        super().__init__(env, embedder, mode, frames, source)
        try:
            imitation_reward(0.0, alpha, beta, gamma)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        self.alpha, self.beta, self.gamma = float(alpha), float(beta), float(gamma)
        size = self.observation_space.shape[0] if self.shared else self.clips.size  # type: ignore[index]
        self.demo = embed_demonstration(embedder, demo, self.frames, expected_size=size)  # [T, size]
        limit = episode_step_limit(env)
        if limit is not None and len(self.demo) < limit + 1:
            raise DataError(
                f"the demonstration has {len(self.demo)} frames but an episode of this environment takes up to "
                f"{limit} steps, rewarded at frames 1..{limit}: it needs {limit + 1} frames; record a longer "
                f"demonstration or limit the episode to {len(self.demo) - 1} steps (max_episode_steps)"
            )

    def _reward(self, embedding: np.ndarray, timestep: int) -> tuple[float, dict[str, float]]:
        if timestep >= len(self.demo):
            raise DataError(
                f"step {timestep}: the demonstration has only {len(self.demo)} frames (0..{len(self.demo) - 1}); "
                "record a longer demonstration or end episodes earlier (max_episode_steps)"
            )
        d2 = float(np.sum((embedding.astype(np.float64) - self.demo[timestep]) ** 2))
        reward = float(imitation_reward(d2, self.alpha, self.beta, self.gamma))
        return reward, {"imitation_reward": reward, "embedding_distance": float(np.sqrt(d2))}


class GoalReward(_EmbeddingReward):
    """XIRL's goal reward (Zakka et al. 2021): ``-scale · ||embedding - goal||``.

    ``goal`` is the mean embedding of the demonstrations' final frames and ``scale`` is 1
    over the mean distance of their first frames to it, so a demonstration goes from about
    -1 to 0 (google-research/xirl ``compute_goal_embedding.py`` computes both and
    ``sac/wrappers.py`` ``DistanceToGoalLearnedVisualReward`` applies them;
    :func:`timecontrast.rl.rewards.goal_from_demonstrations` here).
    ``demos``: the demonstrations, each ``[T, H, W, 3]`` uint8 frames or ``[T, D]``
    embeddings (one array, a list of arrays, or a stacked ``[N, T, ...]`` array).
    ``info`` gets ``env_reward``, ``goal_reward`` and ``goal_distance``.
    """

    def __init__(
        self,
        env: gym.Env,
        embedder: Embedder,
        demos: np.ndarray | Sequence[np.ndarray],
        mode: str = "replace",
        frames: int | None = None,
        source: str = "auto",
    ) -> None:
        super().__init__(env, embedder, mode, frames, source)
        size = self.observation_space.shape[0] if self.shared else self.clips.size  # type: ignore[index]
        embedded = [
            embed_demonstration(embedder, d, self.frames, expected_size=size) for d in _as_demonstrations(demos)
        ]
        try:
            goal, scale = goal_from_demonstrations(embedded)
        except ValueError as exc:
            raise DataError(str(exc)) from None
        self.goal, self.scale = goal.astype(np.float32), float(scale)

    def _reward(self, embedding: np.ndarray, timestep: int) -> tuple[float, dict[str, float]]:
        reward = float(goal_reward(embedding, self.goal, self.scale))
        return reward, {"goal_reward": reward, "goal_distance": -reward / self.scale}


class VecEmbeddingObservation(VecEnvWrapper):
    """:class:`EmbeddingObservation` for a stable-baselines3 ``VecEnv`` of image observations.

    One embedder call per step for all environments; when an episode ends, the VecEnv's
    ``info["terminal_observation"]`` (its last frame) is embedded in the same call and
    replaced by its embedding, so bootstrapping on a time limit sees the right value.
    """

    def __init__(self, venv: VecEnv, embedder: Embedder, frames: int | None = None) -> None:
        space = venv.observation_space
        if not (is_image_space(space) or _has_pixels(space)):
            raise ConfigError(
                f"VecEmbeddingObservation embeds image observations [H, W, 3] uint8, but this VecEnv's are {space}; "
                "build its environments with obs='pixels' (or wrap each in gymnasium.wrappers.AddRenderObservation)"
            )
        self.embedder = embedder
        self.clips = EmbeddingClips(embedder, venv.num_envs, frames)
        self._pixels = _has_pixels(space)
        super().__init__(venv, observation_space=spaces.Box(-np.inf, np.inf, (self.clips.size,), np.float32))

    def _frame(self, obs: Any) -> np.ndarray:
        return np.asarray(obs["pixels"] if self._pixels else obs)

    def reset(self) -> VecEnvObs:
        frames = self._frame(self.venv.reset())  # [n, H, W, 3]
        return self.clips.embed([(i, frames[i], True) for i in range(self.num_envs)])

    def step_wait(self) -> VecEnvStepReturn:
        obs, rewards, dones, infos = self.venv.step_wait()
        frames = self._frame(obs)
        updates: list[tuple[int, np.ndarray, bool]] = []
        terminal: list[bool] = []  # per update: the last frame of a finished episode
        for i in range(self.num_envs):
            last = infos[i].get("terminal_observation") if dones[i] else None
            if last is not None:
                updates.append((i, self._frame(last), False))
                terminal.append(True)
            updates.append((i, frames[i], bool(dones[i])))
            terminal.append(False)
        embedded = self.clips.embed(updates)
        out = np.empty((self.num_envs, self.clips.size), np.float32)
        for (i, _, _), is_terminal, row in zip(updates, terminal, embedded):
            if is_terminal:
                infos[i]["terminal_observation"] = row
            else:
                out[i] = row
        return out, rewards, dones, infos


__all__ = [
    "REWARD_MODES",
    "SOURCES",
    "EmbeddingObservation",
    "GoalReward",
    "ImitationReward",
    "VecEmbeddingObservation",
    "embed_demonstration",
    "episode_step_limit",
    "frame_reader",
    "is_image_space",
]
