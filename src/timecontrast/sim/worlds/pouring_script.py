"""The pouring world's scripted hand: reach, grasp, carry, pour, tilt back, put down, let go.

The hand's five joints (x, y, z, yaw, tilt) follow minimum-jerk moves between poses that
are computed from the physical state when the script starts (where the bottle and the
cup are). Stage durations, the tilt speed and the final tilt are drawn per sequence from
``STAGE_SECONDS`` and ``TILT_RANGE``; the only closed loop is the pour, which holds the
bottle tilted until no drop is left inside (or ``MAX_HOLD`` passes), then a random while
longer. The bottle is back on the table 3.2-4.1 s after the first frame (frames 65-81 at
20 fps in 100 sequences), so every sequence of 100 frames at 20 fps shows all five task
phases.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from timecontrast.sim.worlds.pouring_scene import GRASP_OFFSET, SERVO, SceneIndex

# Seconds per stage, uniform in the range.
STAGE_SECONDS = {
    "wait": (0.0, 0.15),
    "approach": (0.45, 0.65),
    "carry": (0.6, 0.8),
    "tilt": (0.45, 0.7),  # up to the final tilt: the tilt speed
    "hold": (0.05, 0.2),  # after the last drop has left
    "tilt_back": (0.35, 0.5),
    "place": (0.55, 0.75),
    "retreat": (0.4, 0.6),
}
TILT_RANGE = (2.5, 2.8)  # rad (143-160 degrees): past 135, the shoulder drains too
MAX_HOLD = 1.0  # s at the final tilt before tilting back, empty or not
POUR_HEIGHT = (0.22, 0.25)  # m: the palm's height while pouring
POUR_SETBACK = (0.04, 0.06)  # m: the palm this far short of the cup's centre, along the pouring direction
PLACE_JITTER = 0.02  # m: the bottle is put down within this of where it stood
PRESS = 0.003  # m: the place pose is this far below the table, so the bottle surely lands
# Each stage moves the hand from one pose to another (the same pose: it holds still).
MOVES = {
    "wait": ("start", "start"),
    "approach": ("start", "grasp"),
    "carry": ("grasp", "pour"),
    "tilt": ("pour", "tilted"),
    "hold": ("tilted", "tilted"),
    "tilt_back": ("tilted", "pour"),
    "place": ("pour", "place"),
    "retreat": ("place", "away"),
    "rest": ("away", "away"),
}
STAGES = tuple(MOVES)
# Feed-forward lead (s): position targets run ahead by damping / kp times the velocity, so
# the servos track a moving target without lag.
_LEAD = np.array([SERVO["slide"][1] / SERVO["slide"][0]] * 3 + [SERVO["yaw"][1] / SERVO["yaw"][0]] * 2)


def min_jerk(start: np.ndarray, end: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Position and d/d(fraction) of the minimum-jerk path from ``start`` to ``end`` at ``fraction`` in [0, 1]."""
    s = float(np.clip(fraction, 0.0, 1.0))
    shape = 10 * s**3 - 15 * s**4 + 6 * s**5
    slope = 30 * s**2 - 60 * s**3 + 30 * s**4
    return start + (end - start) * shape, (end - start) * slope


class PourScript:
    """The scripted controller of one pouring sequence (called once per physics step).

    Each stage moves the joint targets [5] from one pose to the next; ``carry`` lifts
    faster than it travels (z over the first 60 % of the stage) and ``place`` lowers late
    (z over the last 60 %), so the bottle clears the cup and lands straight. It switches
    the weld ``grasp`` on when the hand reaches the bottle and off once the bottle is
    down, and reads the physics for the pour (drops inside the bottle).
    """

    def __init__(self, model: Any, rng: np.random.Generator, dt: float):
        self.index = SceneIndex(model)
        self.dt = dt
        self.seconds = {stage: float(rng.uniform(*span)) for stage, span in STAGE_SECONDS.items()}
        self.final_tilt = float(rng.uniform(*TILT_RANGE))
        self.pour_height = float(rng.uniform(*POUR_HEIGHT))
        self.setback = float(rng.uniform(*POUR_SETBACK))
        self.place_offset = rng.uniform(-PLACE_JITTER, PLACE_JITTER, size=2)
        self.stage, self.elapsed, self.empty_for = "wait", 0.0, -1.0
        self.poses: dict[str, np.ndarray] = {}

    def _plan(self, data: Any) -> None:
        """The poses of the task, from where the hand, the bottle and the cup are now."""
        index = self.index
        start = data.qpos[index.hand_qpos].copy()
        origin, rotation = index.bottle_pose(data)
        yaw = float(np.arctan2(rotation[1, 0], rotation[0, 0]))
        c, s = np.cos(yaw), np.sin(yaw)
        turn = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        grasp_xyz = origin - turn @ GRASP_OFFSET
        cup = data.xpos[index.cup]
        pour_xy = cup[:2] - self.setback * np.array([c, s])
        place_xyz = grasp_xyz + np.array([*self.place_offset, -PRESS])
        away = place_xyz + np.array([-0.1 * c, -0.1 * s, 0.12])
        self.poses = {
            "start": start,
            "grasp": np.array([*grasp_xyz, yaw, 0.0]),
            "pour": np.array([*pour_xy, self.pour_height, yaw, 0.0]),
            "tilted": np.array([*pour_xy, self.pour_height, yaw, self.final_tilt]),
            "place": np.array([*place_xyz, yaw, 0.0]),
            "away": np.array([*away, yaw, 0.0]),
        }

    def _move(self, stage: str) -> tuple[np.ndarray, np.ndarray]:
        """Joint targets [5] and their velocities [5] (per second) in ``stage``."""
        frm, to = MOVES[stage]
        duration = max(self.seconds.get(stage, 1.0), self.dt)
        fraction = self.elapsed / duration
        target, rate = min_jerk(self.poses[frm], self.poses[to], fraction)
        velocity = rate / duration
        if stage in ("carry", "place"):  # z on its own schedule: up early, down late
            z_fraction = fraction / 0.6 if stage == "carry" else (fraction - 0.4) / 0.6
            z, z_rate = min_jerk(self.poses[frm][2:3], self.poses[to][2:3], z_fraction)
            target[2] = z[0]
            velocity[2] = z_rate[0] / (0.6 * duration) if 0.0 < z_fraction < 1.0 else 0.0
        if fraction >= 1.0:
            velocity[:] = 0.0
        return target, velocity

    def _advance_stage(self, data: Any) -> None:
        """Go to the next stage when this one is done (by time, or by the physics for the pour)."""
        index, stage = self.index, self.stage
        if stage == "hold":
            empty = not index.drops_inside(data).any()
            if empty and self.empty_for < 0:
                self.empty_for = 0.0
            if self.empty_for >= 0:
                self.empty_for += self.dt
            done = self.empty_for >= self.seconds["hold"] or self.elapsed >= MAX_HOLD
        elif stage == "rest":
            done = False
        else:
            done = self.elapsed >= self.seconds[stage]
        if not done:
            return
        self.stage, self.elapsed = STAGES[STAGES.index(stage) + 1], 0.0
        if self.stage == "carry":
            data.eq_active[index.grasp] = 1  # the hand has reached the bottle: hold it
        if self.stage == "retreat":
            data.eq_active[index.grasp] = 0  # the bottle stands on the table: let go

    def __call__(self, data: Any) -> np.ndarray:
        if not self.poses:
            self._plan(data)
        self._advance_stage(data)
        target, velocity = self._move(self.stage)
        self.elapsed += self.dt
        return target + _LEAD * velocity


__all__ = ["MAX_HOLD", "STAGE_SECONDS", "TILT_RANGE", "PourScript", "min_jerk"]
