"""Finger and spinner: a two-link finger flicks a free-turning bar round and round.

The manipulation world, the closest analogue of the original pouring videos: an agent
moves an object, which keeps moving when let go. Built on the suite's ``finger`` model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from timecontrast.sim.gl import import_mujoco
from timecontrast.sim.worlds.base import Attribute, CameraRig, OUNoise, World, joint_index

# Planar geometry of the finger (x, z plane): proximal hinge, link lengths from the
# hinges to the distal hinge and to the centre of the fingertip capsule (finger.xml).
FINGER_BASE = np.array([-0.2, 0.4])
UPPER_LINK, LOWER_LINK = 0.18, 0.145
SPINNER_HINGE = np.array([0.2, 0.4])
# The suite's spinner is damped so hard (0.5 N m s, a 0.02 s time constant) that it stops
# the instant it is let go; we lighten it so a flick keeps it turning for a moment.
SPINNER_DAMPING = 0.05
SPINNER_FRICTIONLOSS = 0.01
# The stroke: the fingertip runs round an ellipse beside the spinner (centre, radii, m);
# each pass flicks the nearer end of the bar. Found by a small search over ellipses.
STROKE_CENTRE = np.array([0.05, 0.43])
STROKE_RADII = np.array([0.06, 0.18])
REST_BOX = (np.array([-0.12, 0.22]), np.array([0.0, 0.5]))  # where the finger waits, clear of the bar
STILL_SPEED = 0.5  # rad/s: the spinner counts as still below this


def finger_ik(target: np.ndarray, elbow: float = -1.0) -> np.ndarray:
    """Joint angles (proximal, distal) [2] that put the fingertip at ``target`` (x, z).

    Positive angles turn counter-clockwise seen from the front; (0, 0) points the finger
    straight at the spinner. Targets out of reach are pulled onto the reachable circle.
    """
    offset = target - FINGER_BASE
    reach = np.clip(np.linalg.norm(offset), abs(UPPER_LINK - LOWER_LINK) + 1e-6, UPPER_LINK + LOWER_LINK - 1e-6)
    cos_distal = (reach**2 - UPPER_LINK**2 - LOWER_LINK**2) / (2 * UPPER_LINK * LOWER_LINK)
    distal = elbow * np.arccos(np.clip(cos_distal, -1.0, 1.0))
    proximal = np.arctan2(offset[1], offset[0]) - np.arctan2(
        LOWER_LINK * np.sin(distal), UPPER_LINK + LOWER_LINK * np.cos(distal)
    )
    return np.array([proximal, distal])


class FlickController:
    """Spins the bar one way, rests, spins it the other way: a turning task with pauses.

    ``spin`` (2-4 s): the fingertip runs round the stroke ellipse at 1-1.6 Hz, in the
    direction that turns the bar the chosen way. ``rest`` (0.8-2 s): it moves to a random
    point clear of the bar and the bar coasts to a stop. Joint-space PD control tracks
    the inverse kinematics of a smoothed target, with Ornstein-Uhlenbeck noise.
    """

    def __init__(self, model: Any, rng: np.random.Generator, dt: float):
        self.rng, self.dt = rng, dt
        self.joints = [joint_index(model, name) for name in ("proximal", "distal")]
        self.noise = OUNoise(rng, 2, dt, sigma=0.1)
        self.stroke = rng.uniform(0, 2 * np.pi)
        self.behaviour, self.remaining = "rest", 0.0
        self.rest_point = REST_BOX[0]
        self.target: np.ndarray | None = None
        self.direction, self.frequency = 1.0, 1.3
        self.radii = STROKE_RADII

    def _next_behaviour(self) -> None:
        if self.behaviour == "rest":
            self.behaviour = "spin"
            self.remaining = self.rng.uniform(2.0, 4.0)
            self.direction = self.rng.choice([-1.0, 1.0])
            self.frequency = self.rng.uniform(1.0, 1.6)
            self.radii = STROKE_RADII * self.rng.uniform(0.9, 1.1, 2)
        else:
            self.behaviour = "rest"
            self.remaining = self.rng.uniform(0.8, 2.0)
            self.rest_point = self.rng.uniform(*REST_BOX)

    def __call__(self, data: Any) -> np.ndarray:
        self.remaining -= self.dt
        if self.remaining <= 0:
            self._next_behaviour()
        if self.behaviour == "spin":
            # Stroke direction +1 flicks the bar's near end upwards: the bar turns clockwise.
            self.stroke += self.direction * 2 * np.pi * self.frequency * self.dt
            goal = STROKE_CENTRE + self.radii * np.array([np.cos(self.stroke), np.sin(self.stroke)])
        else:
            goal = self.rest_point
        if self.target is None:
            self.target = goal.copy()
        self.target += min(self.dt / 0.05, 1.0) * (goal - self.target)
        q = np.array([data.qpos[p] for p, _ in self.joints])
        qd = np.array([data.qvel[d] for _, d in self.joints])
        u = 4.5 * (finger_ik(self.target) - q) - 0.45 * qd
        return np.clip(u + self.noise(), -1.0, 1.0)


class FingerWorld(World):
    name = "finger"
    summary = "finger and spinner: a two-link finger flicks a bar round one way, rests, then the other way"
    model_file = "finger.xml"
    warmup_seconds = 0.5
    body_materials = ("self", "effector", "decoration", "object")
    attributes = (
        Attribute("touching", "static", ("no", "yes"), "the finger is in contact with the spinner"),
        Attribute("tip_up", "static", ("down", "up"), "the spinner's red tip is above its hinge"),
        Attribute(
            "tip_side",
            "static",
            ("left", "right"),
            "the spinner's red tip is left (-x, the finger's side) of its hinge",
        ),
        Attribute(
            "spinner_turning",
            "motion",
            ("still", "counterclockwise", "clockwise"),
            f"the spinner turns slower than {STILL_SPEED} rad/s, counter-clockwise or clockwise, as seen from "
            "the front (from -y, the side of the first camera)",
        ),
        Attribute("finger_moving", "motion", ("down", "up"), "the fingertip moves down (vertical velocity <= 0) or up"),
    )
    rig = CameraRig(azimuth=90.0, azimuth_spread=55.0, elevation=(-25.0, 0.0), distance=0.95)

    def edit_spec(self, spec: Any) -> None:
        hinge = spec.joint("hinge")
        hinge.damping = [SPINNER_DAMPING, 0.0, 0.0]
        hinge.frictionloss = SPINNER_FRICTIONLOSS
        # The bar gets a material of its own, so it can be coloured apart from the finger.
        spec.add_material(name="object", rgba=[0.3, 0.6, 0.3, 1.0])
        for cap in ("cap1", "cap2"):
            spec.geom(cap).material = "object"
        # Hide the suite's turn-task target (a red ball that is not part of this task)
        # and widen the floor, which cameras at an angle would see past.
        target = spec.site("target")
        target.material, target.rgba = "", [0.0, 0.0, 0.0, 0.0]
        spec.geom("ground").size = [1.5, 1.0, 10.0]

    def camera_target(self, model: Any, data: Any) -> np.ndarray:
        return np.array([0.0, 0.0, 0.4])

    def reset(self, model: Any, data: Any, rng: np.random.Generator) -> None:
        proximal, _ = joint_index(model, "proximal")
        distal, _ = joint_index(model, "distal")
        hinge, _ = joint_index(model, "hinge")
        data.qpos[[proximal, distal]] = finger_ik(rng.uniform(*REST_BOX))
        data.qpos[hinge] = rng.uniform(-np.pi, np.pi)

    def scripted_controller(self, model: Any, rng: np.random.Generator, dt: float) -> FlickController:
        return FlickController(model, rng, dt)

    def labels(self, model: Any, data: Any) -> dict[str, int]:
        mujoco = import_mujoco()
        spinner = model.body("spinner").id
        finger = {model.body("proximal").id, model.body("distal").id}
        touching = any(
            {int(model.geom_bodyid[g1]), int(model.geom_bodyid[g2])} & finger
            and spinner in (model.geom_bodyid[g1], model.geom_bodyid[g2])
            for g1, g2 in data.contact.geom[: data.ncon]
        )
        hinge_pos, hinge_vel = joint_index(model, "hinge")
        angle, speed = data.qpos[hinge_pos], data.qvel[hinge_vel]
        velocity = np.zeros(6)  # [angular(3), linear(3)] of the fingertip, world frame
        mujoco.mj_objectVelocity(model, data, mujoco.mjtObj.mjOBJ_GEOM, model.geom("fingertip").id, velocity, 0)
        # The hinge turns about -y: the tip (straight up at angle 0) is at (-sin, cos) * r.
        return {
            "touching": int(touching),
            "tip_up": int(np.cos(angle) > 0),
            "tip_side": int(np.sin(angle) < 0),
            "spinner_turning": 0 if abs(speed) < STILL_SPEED else (1 if speed > 0 else 2),
            "finger_moving": int(velocity[5] > 0),
        }
