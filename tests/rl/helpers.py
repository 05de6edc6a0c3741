"""A Gymnasium environment that is not one of ours, and the frames it draws (import after
``pytest.importorskip("gymnasium")``)."""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from .conftest import SIZE


def pattern(t: int, position: float = 0.0) -> np.ndarray:
    """A 32x32 frame that differs at every timestep: a square moving with ``t`` and ``position``."""
    frame = np.full((SIZE, SIZE, 3), 30, np.uint8)
    x = int(t * 3 + position * 4) % (SIZE - 8)
    y = int(t * 5) % (SIZE - 8)
    frame[y : y + 8, x : x + 8] = (255, 80 + (t * 20) % 170, 40)
    return frame


class Blinker(gym.Env):
    """A vector state ``[t, position]`` and a render() that draws it (with ``image_obs``,
    that frame is the observation). The reward is the action."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"]}

    def __init__(self, render_mode: str | None = "rgb_array", image_obs: bool = False) -> None:
        self.render_mode = render_mode
        self.image_obs = image_obs
        self.action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
        if image_obs:
            self.observation_space = gym.spaces.Box(0, 255, (SIZE, SIZE, 3), np.uint8)
        else:
            self.observation_space = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)
        self.t, self.position = 0, 0.0

    def _obs(self) -> np.ndarray:
        return pattern(self.t, self.position) if self.image_obs else np.array([self.t, self.position], np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.t, self.position = 0, float(self.np_random.uniform(0, 3))
        return self._obs(), {}

    def step(self, action):
        self.t += 1
        self.position += float(action[0])
        return self._obs(), float(action[0]), False, False, {}

    def render(self):
        return pattern(self.t, self.position)

    def frames_of(self, actions, seed: int) -> np.ndarray:
        """The frames ``[len(actions) + 1, 32, 32, 3]`` of an episode from ``reset(seed)``."""
        self.reset(seed=seed)
        out = [self.render()]
        for a in actions:
            self.step(np.array([a], np.float32))
            out.append(self.render())
        return np.stack(out)
