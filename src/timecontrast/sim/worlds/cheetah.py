"""Half-cheetah: a planar two-legged runner with a periodic gait (the mfTCN paper's locomotion case)."""

from __future__ import annotations

from typing import Any

import numpy as np

from timecontrast.sim.worlds.base import Attribute, CameraRig, OUNoise, World, joint_index

# An open-loop gait found by a small random search over sinusoidal torques
# (offset + amplitude * sin(phase + shift), one per actuator in model order:
# bthigh, bshin, bfoot, fthigh, fshin, ffoot). It runs forward at about 1.5 m/s with
# the torso within 0.3 rad of level; played backwards (negative frequency) it backs up.
GAIT_OFFSET = np.array([0.28, 0.21, 0.19, -0.02, 0.14, -0.01])
GAIT_AMPLITUDE = np.array([0.99, 0.79, 0.44, 0.72, 0.92, 0.67])
GAIT_SHIFT = np.array([2.94, 4.68, 2.85, 3.98, 0.04, 4.79])
GAIT_HZ = 3.0
# Behaviours of the scripted controller: (probability, frequency scale range, amplitude range, seconds).
BEHAVIOURS = {
    "run": (0.5, (0.7, 1.2), (0.6, 1.0), (1.5, 3.5)),
    "back_up": (0.3, (-0.8, -0.6), (0.6, 0.9), (1.0, 2.5)),
    "stand": (0.2, (0.0, 0.0), (0.0, 0.0), (0.5, 1.5)),
}


class GaitController:
    """Runs, backs up and stands still in turn, with noisy periodic torques.

    A behaviour is drawn every 0.5-3.5 s; the gait frequency and amplitude move towards
    its values smoothly (0.3 s time constant) so switches look like a change of pace.
    """

    def __init__(self, rng: np.random.Generator, dt: float):
        self.rng, self.dt = rng, dt
        self.noise = OUNoise(rng, len(GAIT_OFFSET), dt, sigma=0.2)
        self.phase = rng.uniform(0, 2 * np.pi)
        self.frequency, self.amplitude = 0.0, 0.0
        self.behaviour, self.remaining = "stand", 0.0
        self.target_frequency, self.target_amplitude = 0.0, 0.0

    def _next_behaviour(self) -> None:
        names = list(BEHAVIOURS)
        self.behaviour = names[self.rng.choice(len(names), p=[BEHAVIOURS[n][0] for n in names])]
        _, frequency, amplitude, seconds = BEHAVIOURS[self.behaviour]
        self.target_frequency = GAIT_HZ * self.rng.uniform(*frequency)
        self.target_amplitude = self.rng.uniform(*amplitude)
        self.remaining = self.rng.uniform(*seconds)

    def __call__(self, data: Any) -> np.ndarray:
        self.remaining -= self.dt
        if self.remaining <= 0:
            self._next_behaviour()
        blend = self.dt / 0.3
        self.frequency += blend * (self.target_frequency - self.frequency)
        self.amplitude += blend * (self.target_amplitude - self.amplitude)
        self.phase += 2 * np.pi * self.frequency * self.dt
        scale = min(self.amplitude / 0.6, 1.0)  # standing relaxes the posture offset too
        torque = scale * GAIT_OFFSET + self.amplitude * GAIT_AMPLITUDE * np.sin(self.phase + GAIT_SHIFT)
        return np.clip(torque + self.noise(), -1.0, 1.0)


class CheetahWorld(World):
    name = "cheetah"
    summary = "half-cheetah: a planar runner that runs, backs up and stands, with a periodic gait"
    model_file = "cheetah.xml"
    warmup_seconds = 1.0  # land from the random initial pose and get going
    attributes = (
        Attribute("back_foot_contact", "static", ("air", "ground"), "the back foot touches the ground"),
        Attribute("front_foot_contact", "static", ("air", "ground"), "the front foot touches the ground"),
        Attribute(
            "torso_pitch",
            "static",
            ("nose_down", "nose_up"),
            "the head end of the torso is lower or higher than the tail end (rooty >= 0 or < 0: "
            "MuJoCo's positive pitch about +y tilts the nose down)",
        ),
        Attribute(
            "direction", "motion", ("backward", "forward"), "the torso moves backward (rootx velocity <= 0) or forward"
        ),
        Attribute(
            "pitching",
            "motion",
            ("nose_falling", "nose_rising"),
            "the nose is going down (rooty velocity >= 0) or up (rooty velocity < 0)",
        ),
    )
    rig = CameraRig(azimuth=90.0, azimuth_spread=60.0, elevation=(-25.0, -5.0), distance=2.6)

    def edit_spec(self, spec: Any) -> None:
        # A wider floor, centred at the origin: cameras at an angle would see past the
        # suite's 1.6 m wide strip, and the cheetah may back up beyond its start.
        ground = spec.geom("ground")
        ground.pos = [0.0, 0.0, 0.0]
        ground.size = [100.0, 4.0, 0.5]

    def camera_target(self, model: Any, data: Any) -> np.ndarray:
        x, _ = joint_index(model, "rootx")
        return np.array([data.qpos[x], 0.0, 0.45])  # follow the runner along x

    def reset(self, model: Any, data: Any, rng: np.random.Generator) -> None:
        # Joints from a random pose within their limits, as the suite's own reset does;
        # the root stays at the origin and the first frames show the cheetah landing.
        for j in range(3, model.njnt):
            low, high = model.jnt_range[j]
            data.qpos[model.jnt_qposadr[j]] = rng.uniform(low, high) * 0.5
        data.qpos[joint_index(model, "rootz")[0]] = 0.05

    def scripted_controller(self, model: Any, rng: np.random.Generator, dt: float) -> GaitController:
        return GaitController(rng, dt)

    def labels(self, model: Any, data: Any) -> dict[str, int]:
        ground = model.geom("ground").id
        feet = {model.geom("bfoot").id: "back", model.geom("ffoot").id: "front"}
        touching = set()
        for geom1, geom2 in data.contact.geom[: data.ncon]:
            if ground in (geom1, geom2):
                other = int(geom2 if geom1 == ground else geom1)
                if other in feet:
                    touching.add(feet[other])
        x_vel = data.qvel[joint_index(model, "rootx")[1]]
        pitch_pos, pitch_vel = joint_index(model, "rooty")
        return {
            "back_foot_contact": int("back" in touching),
            "front_foot_contact": int("front" in touching),
            "torso_pitch": int(np.sin(data.qpos[pitch_pos]) < 0),
            "direction": int(x_vel > 0),
            "pitching": int(data.qvel[pitch_vel] < 0),
        }
