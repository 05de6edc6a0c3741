"""The DeepMind Control Suite tasks of the environments, run on the simulated worlds' models.

Each task is dm_control's own (``dm_control.suite``): its initial states, observations
and reward, on the model :meth:`timecontrast.sim.World.build_model` compiles (the suite's
model with the world's small edits, e.g. the cart-pole's thicker pole), so that the
physics is dm_control's and the pictures are those of ``tcn synth``.

- ``cartpole/swingup`` and ``cartpole/balance``: ``suite.cartpole.Balance`` with the
  dense reward (``swing_up`` True / False), 10 s episodes.
- ``cheetah/run``: ``suite.cheetah.Cheetah``, reward ``tolerance(speed, bounds=(10, inf),
  margin=10, sigmoid="linear")``: 0 standing, 1 at 10 m/s or faster; 10 s episodes.
- ``cheetah/walk``: the same task with the target speed lowered to :data:`WALK_SPEED`
  (2 m/s), as the ``walk`` task of the custom dm_control cheetah used by the unsupervised
  and zero-shot RL benchmarks (``custom_dmc_tasks/cheetah.py``: ``_WALK_SPEED = 2``); the
  multi-frame TCN paper's "cheetah walk" names no speed. dm_control has no cheetah walk.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from timecontrast.errors import ConfigError
from timecontrast.sim.gl import import_mujoco

import_mujoco()  # MUJOCO_GL is chosen before dm_control imports mujoco
from dm_control.mujoco import wrapper  # type: ignore[import-untyped]  # noqa: E402
from dm_control.rl import control  # type: ignore[import-untyped]  # noqa: E402
from dm_control.suite import cartpole, cheetah  # type: ignore[import-untyped]  # noqa: E402
from dm_control.utils import rewards  # type: ignore[import-untyped]  # noqa: E402

WALK_SPEED = 2.0  # m/s: the reward of cheetah/walk is 1 at this speed or faster
EPISODE_SECONDS = 10.0  # every suite task here: dm_control's _DEFAULT_TIME_LIMIT


class CheetahWalk(cheetah.Cheetah):
    """dm_control's cheetah ``run`` task with the target speed lowered to :data:`WALK_SPEED`."""

    def get_reward(self, physics: Any) -> float:
        return float(
            rewards.tolerance(
                physics.speed(),
                bounds=(WALK_SPEED, float("inf")),
                margin=WALK_SPEED,
                value_at_margin=0,
                sigmoid="linear",
            )
        )


@dataclass(frozen=True)
class TaskSpec:
    """How to build one task: dm_control's ``Physics`` class for the domain and the task."""

    physics_class: Any  # a dm_control.mujoco.Physics subclass
    make_task: Callable[[np.random.RandomState], Any]
    summary: str
    seconds: float = EPISODE_SECONDS


TASKS: dict[tuple[str, str], TaskSpec] = {
    ("cartpole", "swingup"): TaskSpec(
        cartpole.Physics,
        lambda random: cartpole.Balance(swing_up=True, sparse=False, random=random),
        "swing the pole up from hanging and balance it (dm_control cartpole swingup, dense reward)",
    ),
    ("cartpole", "balance"): TaskSpec(
        cartpole.Physics,
        lambda random: cartpole.Balance(swing_up=False, sparse=False, random=random),
        "keep the pole up from a near-upright start (dm_control cartpole balance, dense reward)",
    ),
    ("cheetah", "run"): TaskSpec(
        cheetah.Physics,
        lambda random: cheetah.Cheetah(random=random),
        "run forward; reward 1 at 10 m/s or faster (dm_control cheetah run)",
    ),
    ("cheetah", "walk"): TaskSpec(
        cheetah.Physics,
        lambda random: CheetahWalk(random=random),
        f"move forward; reward 1 at {WALK_SPEED:g} m/s or faster (cheetah run with a walking target speed)",
    ),
}


def task_spec(world: str, task: str) -> TaskSpec:
    try:
        return TASKS[(world, task)]
    except KeyError:
        tasks = ", ".join(f"{w}/{t}" for w, t in TASKS)
        raise ConfigError(f"unknown task {world}/{task}: choose one of {tasks}") from None


def build_task_environment(world: str, task: str, model: Any, random: np.random.RandomState) -> Any:
    """dm_control's ``control.Environment`` of ``world/task`` on ``model`` (an ``MjModel``).

    No time limit (the Gymnasium environment counts its own steps); one physics step per
    control step, as the suite's tasks; ``random`` draws the initial states.
    """
    spec = task_spec(world, task)
    physics = spec.physics_class.from_model(wrapper.MjModel(model))
    return control.Environment(physics, spec.make_task(random), time_limit=float("inf"))


__all__ = ["EPISODE_SECONDS", "TASKS", "WALK_SPEED", "CheetahWalk", "TaskSpec", "build_task_environment", "task_spec"]
