"""Cart-pole swing-up: a cart on a rail swings a hinged pole up, balances it, lets it fall.

The demo's default world: few parts, strong colours, and a state (cart position, pole
angle and their velocities) that a small network learns quickly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from timecontrast.sim.gl import import_mujoco
from timecontrast.sim.worlds.base import Attribute, CameraRig, OUNoise, World, joint_index, lqr_gain

POLE_MASS = 0.1  # kg, from cartpole.xml
POLE_COM = 0.5  # m, hinge to centre of mass (pole length 1 m)
POLE_INERTIA = POLE_MASS * 1.0**2 / 3  # kg m^2 about the hinge (thin rod)
GRAVITY = 9.81
POLE_RADIUS = 0.07  # m (the suite's is 0.045)
HANGING_ENERGY = -2 * POLE_MASS * GRAVITY * POLE_COM
# How long each timed phase of the scripted controller lasts (s): uniform in this range.
PHASE_SECONDS = {"swingup": (0.0, 0.0), "balance": (1.0, 3.0), "release": (0.5, 1.2), "rest": (1.0, 2.5)}


def pole_energy(angle: float, angular_velocity: float) -> float:
    """Mechanical energy of the pole relative to resting upright (J): 0 up, -0.98 hanging."""
    return 0.5 * POLE_INERTIA * angular_velocity**2 + POLE_MASS * GRAVITY * POLE_COM * (np.cos(angle) - 1.0)


class SwingUpController:
    """Energy-based swing-up, LQR balance at a moving cart target, let go, come to rest; repeat.

    Phases: ``swingup`` pumps energy with the classic energy-shaping law (force ~
    (E - E_target) * omega * cos(theta)) until the pole is near upright; ``balance`` holds
    it with an LQR gain for 1-3 s while the cart travels to random targets; ``release``
    shoves the cart and lets go for 0.5-1.2 s so the pole falls; ``rest`` drains the swing with the
    same law aimed at the hanging energy for 1-2.5 s; then swing-up again.
    Ornstein-Uhlenbeck noise is added throughout, so no two attempts look the same.
    """

    def __init__(self, model: Any, gain: np.ndarray, rng: np.random.Generator, dt: float):
        self.rng, self.dt = rng, dt
        self.x, self.v = joint_index(model, "slider")
        self.th, self.w = joint_index(model, "hinge_1")
        self.gain = gain  # [1, 4] on (x, theta, v, omega)
        self.noise = OUNoise(rng, 1, dt, sigma=0.15)
        self.pump = rng.uniform(6.0, 12.0)  # energy-pumping gain, varies the swing style
        self.phase, self.remaining, self.target = "swingup", 0.0, 0.0

    def _next_phase(self, phase: str) -> None:
        self.phase = phase
        self.remaining = self.rng.uniform(*PHASE_SECONDS[phase])
        self.target = self.rng.uniform(-1.0, 1.0)
        self.shove = self.rng.choice([-1.0, 1.0]) * self.rng.uniform(0.5, 1.0)
        self.release_end = self.remaining - 0.15

    def __call__(self, data: Any) -> np.ndarray:
        x, th = data.qpos[self.x], data.qpos[self.th]
        v, w = data.qvel[self.v], data.qvel[self.w]
        th = (th + np.pi) % (2 * np.pi) - np.pi  # wrap to [-pi, pi), 0 = upright
        self.remaining -= self.dt
        if self.phase == "swingup" and np.cos(th) > 0.95 and abs(w) < 2.0:
            self._next_phase("balance")
        elif self.phase == "balance" and (np.cos(th) < 0.8 or self.remaining <= 0):
            self._next_phase("release" if self.remaining <= 0 else "swingup")
        elif self.phase in ("release", "rest") and self.remaining <= 0:
            self._next_phase("rest" if self.phase == "release" else "swingup")
        if self.phase == "balance":
            # Move the set point slowly so the LQR stays within its linear region.
            if self.rng.random() < self.dt / 1.5:
                self.target = self.rng.uniform(-1.0, 1.0)
            error = np.array([x - np.clip(self.target, x - 0.3, x + 0.3), th, v, w])
            u = float(-(self.gain @ error)[0])
        elif self.phase in ("swingup", "rest"):
            target_energy = 0.0 if self.phase == "swingup" else HANGING_ENERGY
            u = self.pump * (pole_energy(th, w) - target_energy) * w * np.cos(th)
            u -= 0.5 * (x - (self.target if self.phase == "rest" else 0.0)) + 0.3 * v
        else:  # release: a short shove of the cart topples the pole, then hands off
            u = self.shove if self.remaining > self.release_end else 0.0
        return np.clip(np.array([u]) + self.noise(), -1.0, 1.0)


class CartpoleWorld(World):
    name = "cartpole"
    summary = "cart-pole swing-up: swing the pole up, balance it while moving the cart, let it fall, repeat"
    model_file = "cartpole.xml"
    attributes = (
        Attribute("pole_up", "static", ("down", "up"), "the pole's tip is above its hinge (|angle| < 90 degrees)"),
        Attribute(
            "cart_side", "static", ("left", "right"), "the cart is left (x < 0) or right (x >= 0) of the rail's centre"
        ),
        Attribute("pole_lean", "static", ("left", "right"), "the pole's tip is left (-x) or right (+x) of its hinge"),
        Attribute(
            "cart_moving", "motion", ("left", "right"), "the cart moves left (velocity <= 0) or right (velocity > 0)"
        ),
        Attribute(
            "pole_swinging",
            "motion",
            ("counterclockwise", "clockwise"),
            "the pole turns counter-clockwise (angular velocity <= 0) or clockwise (> 0), as seen from the "
            "front (from -y, the side of the first camera)",
        ),
    )
    rig = CameraRig(azimuth=90.0, azimuth_spread=55.0, elevation=(-25.0, -5.0), distance=4.3)

    def edit_spec(self, spec: Any) -> None:
        # A thicker pole (same mass): at 64-128 pixels the suite's 9 cm pole is a thread.
        spec.geom("pole_1").size = [POLE_RADIUS, 0.0, 0.0]

    def camera_target(self, model: Any, data: Any) -> np.ndarray:
        return np.array([0.0, 0.0, 1.1])  # above the middle of the rail

    def reset(self, model: Any, data: Any, rng: np.random.Generator) -> None:
        x, v = joint_index(model, "slider")
        th, w = joint_index(model, "hinge_1")
        data.qpos[x] = rng.uniform(-1.0, 1.0)
        # Start hanging most of the time, sometimes already near upright.
        data.qpos[th] = rng.normal(0.0, 0.2) if rng.random() < 0.25 else np.pi + rng.normal(0.0, 0.4)
        data.qvel[v] = rng.normal(0.0, 0.3)
        data.qvel[w] = rng.normal(0.0, 0.5)

    def __init__(self) -> None:
        self._gains: dict[float, np.ndarray] = {}  # LQR gain per physics time step

    def scripted_controller(self, model: Any, rng: np.random.Generator, dt: float) -> SwingUpController:
        if dt not in self._gains:
            mujoco = import_mujoco()
            data = mujoco.MjData(model)
            mujoco.mj_forward(model, data)  # upright, at rest: the balance point
            self._gains[dt] = lqr_gain(model, data, q=np.diag([1.0, 10.0, 0.5, 1.0]), r=np.array([[0.5]]))
        return SwingUpController(model, self._gains[dt], rng, dt)

    def labels(self, model: Any, data: Any) -> dict[str, int]:
        x, v = joint_index(model, "slider")
        th, w = joint_index(model, "hinge_1")
        angle = data.qpos[th]
        return {
            "pole_up": int(np.cos(angle) > 0),
            "cart_side": int(data.qpos[x] >= 0),
            "pole_lean": int(np.sin(angle) > 0),
            "cart_moving": int(data.qvel[v] > 0),
            "pole_swinging": int(data.qvel[w] > 0),
        }
