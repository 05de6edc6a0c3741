"""Pouring: a hand picks up a bottle, pours its liquid into a cup and puts it back.

The built-in stand-in for the Multiview Pouring data the original TCN was evaluated on,
with its five labels (``contact``, ``distance``, ``liquid_flowing``, ``has_liquid``,
``container_angle``) and TCC's five task phases, every one read from the physics. The
liquid is ``NUM_DROPS`` small frictionless spheres that really flow out of the tilted
bottle. The scene is written here (``pouring_scene``), not taken from dm_control.

Task phases (attribute ``phase``), separated by four key events:

    0 before_contact  -- hand touches bottle -->
    1 reaching        -- liquid starts exiting -->
    2 pouring         -- pouring complete (no liquid left in the bottle) -->
    3 after_pouring   -- bottle back on table -->
    4 bottle_back
"""

from __future__ import annotations

from typing import Any

import numpy as np

from timecontrast.sim.gl import import_mujoco
from timecontrast.sim.worlds.base import Attribute, CameraRig, Labeller, World
from timecontrast.sim.worlds.pouring_scene import (
    CUP_HALF,
    CUP_HEIGHT,
    DROP_RADIUS,
    GRASP_OFFSET,
    NUM_DROPS,
    WALL,
    SceneIndex,
    scene_xml,
)
from timecontrast.sim.worlds.pouring_script import PourScript

PHASES = ("before_contact", "reaching", "pouring", "after_pouring", "bottle_back")
KEY_EVENTS = ("hand touches bottle", "liquid starts exiting", "pouring complete", "bottle back on table")
TOUCH_DISTANCE = 0.005  # m between palm and bottle that counts as contact
FLOW_SPEED = 0.4  # m/s: a drop outside the bottle falling faster than this is flowing
POUR_REACH = CUP_HALF + 0.04  # m: the mouth within this of the cup's axis (horizontally) is within pouring distance
SETTLE_SECONDS = 0.3  # the liquid settles in the bottle before the first frame
# Where things start (m, uniform): the bottle on the left, the cup on the right of the table.
BOTTLE_AREA = ((-0.2, -0.08), (-0.12, 0.08))  # (x low, y low), (x high, y high)
CUP_AREA = ((0.06, -0.1), (0.16, 0.1))


def _yaw_quat(yaw: float) -> np.ndarray:
    return np.array([np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)])


def phase_of_state(touching: bool, inside: int, on_table: bool) -> int:
    """The task phase that the physical state shows (without history).

    Full bottle: before contact (0), or held (1, also once it has left the table). Some
    drops out and some in: pouring (2). Empty: after pouring (3), or back on the table (4).
    """
    if inside == NUM_DROPS:
        return 1 if touching or not on_table else 0
    if inside > 0:
        return 2
    return 4 if on_table else 3


class PouringLabeller:
    """Labels of one sequence, frame after frame: the phase never goes back.

    A drop can bounce back into the emptied bottle, or a bottle put down be knocked
    off the table again; the state alone would then show an earlier phase. The phase is
    the latest one the state has shown so far, so the key events happen once each, in order.
    """

    def __init__(self, world: PouringWorld, model: Any):
        self.world, self.index = world, SceneIndex(model)
        self.phase = 0

    def __call__(self, model: Any, data: Any) -> dict[str, int]:
        labels = self.world.state_labels(self.index, model, data)
        self.phase = max(self.phase, labels["phase"])
        labels["phase"] = self.phase
        return labels


class PouringWorld(World):
    name = "pouring"
    summary = (
        "pouring: a hand picks up a bottle, pours its liquid (small spheres) into a cup, puts the bottle back; "
        "labels as in the Multiview Pouring data, and TCC's task phases"
    )
    body_materials = ("bottle", "cup", "liquid", "hand")
    contrasting_materials = (("cup", "liquid"), ("bottle", "liquid"))
    attributes = (
        Attribute("contact", "static", ("no", "yes"), f"the hand touches the bottle (palm within {TOUCH_DISTANCE} m)"),
        Attribute(
            "distance",
            "static",
            ("far", "near"),
            f"the bottle is within pouring distance of the cup: its mouth above the cup's rim and within "
            f"{POUR_REACH:.3f} m of the cup's axis, horizontally",
        ),
        Attribute(
            "liquid_flowing",
            "motion",
            ("no", "yes"),
            f"liquid is flowing: a drop outside the bottle falls faster than {FLOW_SPEED} m/s above the table",
        ),
        Attribute("has_liquid", "static", ("no", "yes"), "the bottle still holds liquid (a drop inside it)"),
        Attribute(
            "container_angle",
            "static",
            ("0", "45", "90", "135"),
            "the bottle's tilt from upright to the nearest 45 degrees (135: 112.5 degrees or more, mouth down); "
            "the original's 90/45/0/-45 degrees above the horizontal",
        ),
        Attribute(
            "tilting",
            "motion",
            ("still", "forward", "back"),
            "the bottle's tilt grows (forward) or shrinks (back) faster than 0.5 rad/s, or neither (still)",
        ),
        Attribute(
            "phase",
            "static",
            PHASES,
            "TCC's pouring phases, in order, separated by the key events: " + ", ".join(KEY_EVENTS),
        ),
    )
    rig = CameraRig(azimuth=90.0, azimuth_spread=50.0, elevation=(-45.0, -15.0), distance=0.75)

    def build_model(self) -> Any:
        """Compile the scene's own MJCF (no dm_control model)."""
        return import_mujoco().MjModel.from_xml_string(scene_xml())

    def camera_target(self, model: Any, data: Any) -> np.ndarray:
        return np.array([-0.03, 0.0, 0.13])  # above the table, between the bottle and the cup

    def reset(self, model: Any, data: Any, rng: np.random.Generator) -> None:
        mujoco = import_mujoco()
        index = SceneIndex(model)
        bottle_xy = rng.uniform(*BOTTLE_AREA)
        cup_xy = rng.uniform(*CUP_AREA)
        toward_cup = cup_xy - bottle_xy
        yaw = float(np.arctan2(toward_cup[1], toward_cup[0]) + rng.uniform(-0.05, 0.05))
        free = {name: int(model.joint(name).qposadr[0]) for name in ("bottle", "cup")}
        data.qpos[free["bottle"] : free["bottle"] + 7] = [*bottle_xy, 0.0005, *_yaw_quat(yaw)]
        data.qpos[free["cup"] : free["cup"] + 7] = [*cup_xy, 0.0005, *_yaw_quat(rng.uniform(-np.pi / 4, np.pi / 4))]
        # The liquid: layers of 3 x 3 drops in the bottle, jittered; they settle below.
        spacing = 2 * DROP_RADIUS + 0.0012
        c, s = np.cos(yaw), np.sin(yaw)
        for i in range(NUM_DROPS):
            layer, cell = divmod(i, 9)
            local = np.array(
                [(cell % 3 - 1) * spacing, (cell // 3 - 1) * spacing, WALL + DROP_RADIUS + layer * spacing]
            )
            local[:2] += rng.uniform(-0.0005, 0.0005, size=2)
            world_xy = bottle_xy + np.array([c * local[0] - s * local[1], s * local[0] + c * local[1]])
            address = int(model.joint(f"drop_{i:02d}").qposadr[0])
            data.qpos[address : address + 7] = [*world_xy, local[2] + 0.0005, 1.0, 0.0, 0.0, 0.0]
        # The hand starts behind the bottle (away from the cup), higher up and a little aside.
        grasp = np.array([*bottle_xy, 0.0]) - np.array([c, s, 0.0]) * GRASP_OFFSET[0] + [0.0, 0.0, -GRASP_OFFSET[2]]
        back, aside, up = rng.uniform(0.08, 0.14), rng.uniform(-0.06, 0.06), rng.uniform(0.1, 0.18)
        start = grasp + np.array([-c * back - s * aside, -s * back + c * aside, up])
        hand = [*start, yaw + rng.uniform(-0.3, 0.3), rng.uniform(0.0, 0.3)]
        data.qpos[index.hand_qpos] = hand
        data.ctrl[:] = hand
        for _ in range(round(SETTLE_SECONDS / model.opt.timestep)):
            mujoco.mj_step(model, data)
        data.time = 0.0

    def scripted_controller(self, model: Any, rng: np.random.Generator, dt: float) -> PourScript:
        return PourScript(model, rng, dt)

    def labels(self, model: Any, data: Any) -> dict[str, int]:
        """The labels the state shows; ``phase`` without history (see :class:`PouringLabeller`)."""
        return self.state_labels(SceneIndex(model), model, data)

    def label_tracker(self, model: Any) -> Labeller:
        return PouringLabeller(self, model)

    def state_labels(self, index: SceneIndex, model: Any, data: Any) -> dict[str, int]:
        """Every attribute's class in the state of ``data`` (after ``mj_forward``), ``phase`` from
        :func:`phase_of_state`."""
        inside = index.drops_inside(data)  # [N]
        touching = index.hand_gap(model, data, limit=0.02) <= TOUCH_DISTANCE
        on_table = index.bottle_on_table(data)
        mouth = index.mouth(data)
        cup = data.xpos[index.cup]
        near = np.hypot(*(mouth[:2] - cup[:2])) < POUR_REACH and mouth[2] > cup[2] + CUP_HEIGHT
        drop_z = data.xpos[index.drops, 2]
        drop_vz = data.qvel[index.drop_dof + 2]  # free joints: linear velocity first, world frame
        flowing = (~inside & (drop_z > DROP_RADIUS) & (drop_vz < -FLOW_SPEED)).any()
        tilt, tilt_rate = index.tilt(data), index.tilt_rate(model, data)
        return {
            "contact": int(touching),
            "distance": int(near),
            "liquid_flowing": int(flowing),
            "has_liquid": int(inside.any()),
            "container_angle": int(min(3, round(np.degrees(tilt) / 45.0))),
            "tilting": 0 if abs(tilt_rate) < 0.5 else (1 if tilt_rate > 0 else 2),
            "phase": phase_of_state(bool(touching), int(inside.sum()), on_table),
        }


__all__ = ["KEY_EVENTS", "PHASES", "PouringLabeller", "PouringWorld", "phase_of_state"]
