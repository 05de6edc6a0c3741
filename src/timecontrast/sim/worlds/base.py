"""What a simulated world is: a MuJoCo model, behaviours, labels and a camera rig.

A world keeps no per-sequence state (at most a cache of values derived from the model):
everything that varies per sequence comes in through the seeded ``numpy.random.Generator``
its methods receive, and the physics lives in the ``MjModel`` / ``MjData`` pair the
simulator owns; what a sequence needs to remember lives in the objects made for it (its
controller, its label tracker). Models are the ones of the DeepMind Control Suite
(``dm_control.suite``), read from the installed package, so our physics is theirs; the
pouring world writes its own (simple geoms) and overrides :meth:`World.build_model`.
"""

from __future__ import annotations

import importlib.util
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from timecontrast.errors import DependencyError
from timecontrast.sim.gl import import_mujoco

# A controller maps the current MjData to an action [nu] within the actuators' ranges.
# It is called once per physics step and may keep its own state (phase, noise).
Controller = Callable[[Any], np.ndarray]
# A labeller maps (MjModel, MjData) to the integer class of every attribute. It is called
# once per frame, in order, and may keep the history of one sequence (e.g. task phases).
Labeller = Callable[[Any, Any], dict[str, int]]


@dataclass(frozen=True)
class Attribute:
    """One per-frame label: its name, whether it needs motion to be seen, its classes."""

    name: str
    kind: str  # "static": visible in one frame; "motion": needs several frames (a velocity)
    classes: tuple[str, ...]  # class names; the integer label is the index into this tuple
    doc: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "classes": list(self.classes), "doc": self.doc}


@dataclass(frozen=True)
class CameraRig:
    """Where a world's cameras are placed (MuJoCo free-camera angles, in degrees).

    ``azimuth`` is the direction the front camera looks from; views are spread over
    ``azimuth_spread`` degrees either side of it, from ``elevation`` (a range, negative
    looks down) and ``distance`` metres (times a per-view factor) from the camera target.
    """

    azimuth: float
    azimuth_spread: float
    elevation: tuple[float, float]
    distance: float


def suite_dir() -> Path:
    """The folder of the DeepMind Control Suite models in the installed dm_control."""
    spec = importlib.util.find_spec("dm_control")
    if spec is None or not spec.submodule_search_locations:
        raise DependencyError(
            "dm_control is not installed. Install the simulation extras: pip install 'timecontrast[sim]'"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "suite"


class World(ABC):
    """A simulated scene: model, initial states, behaviours and per-frame labels."""

    name: ClassVar[str]
    summary: ClassVar[str]
    model_file: ClassVar[str]  # file name in dm_control/suite (a world that writes its own MJCF overrides build_model)
    attributes: ClassVar[tuple[Attribute, ...]]
    rig: ClassVar[CameraRig]
    # Materials recoloured per sequence (the floor and sky textures always are).
    body_materials: ClassVar[tuple[str, ...]] = ("self", "effector", "decoration")
    # Pairs of those materials (a, b) kept apart in hue: b turns when a's colour is too close.
    contrasting_materials: ClassVar[tuple[tuple[str, str], ...]] = ()
    # Seconds simulated (with the policy running, nothing rendered) before the first frame.
    warmup_seconds: ClassVar[float] = 0.0

    def build_model(self) -> Any:
        """Compile the suite model with this world's edits; returns an ``MjModel``."""
        mujoco = import_mujoco()
        root = suite_dir()
        assets = {f"./common/{p.name}": p.read_bytes() for p in (root / "common").glob("*.xml")}
        spec = mujoco.MjSpec.from_string((root / self.model_file).read_text(), assets)
        # A smaller sky texture: recoloured per sequence, the stars need no more pixels.
        for texture in spec.textures:
            if texture.name == "skybox":
                texture.width = texture.height = 256
        self.edit_spec(spec)
        with warnings.catch_warnings():
            # cheetah.xml uses the (deprecated, still working) compiler attribute settotalmass.
            warnings.filterwarnings("ignore", message=".*settotalmass.*")
            return spec.compile()

    def edit_spec(self, spec: Any) -> None:
        """Change the suite model before compiling (e.g. a wider floor). Default: none."""
        del spec

    def camera_target(self, model: Any, data: Any) -> np.ndarray:
        """The point [3] the cameras look at (before per-view jitter)."""
        return np.zeros(3)

    @abstractmethod
    def reset(self, model: Any, data: Any, rng: np.random.Generator) -> None:
        """Put ``data`` into a random initial state (``mj_forward`` is called after)."""

    @abstractmethod
    def scripted_controller(self, model: Any, rng: np.random.Generator, dt: float) -> Controller:
        """A noisy scripted behaviour that performs the world's task; ``dt`` is the physics step."""

    @abstractmethod
    def labels(self, model: Any, data: Any) -> dict[str, int]:
        """The integer class of every attribute, for the current state of ``data``."""

    def label_tracker(self, model: Any) -> Labeller:
        """The labeller of one sequence, called once per frame in order. Default: :meth:`labels`
        (no history); a world whose labels need the past (task phases) returns one that keeps it."""
        del model
        return self.labels

    def controller(self, policy: str, model: Any, rng: np.random.Generator, dt: float) -> Controller:
        if policy == "scripted":
            return self.scripted_controller(model, rng, dt)
        return RandomController(model.actuator_ctrlrange.copy(), rng, dt)


class OUNoise:
    """Ornstein-Uhlenbeck noise: temporally correlated, so actions wobble instead of buzz."""

    def __init__(self, rng: np.random.Generator, size: int, dt: float, sigma: float, tau: float = 0.3):
        self.rng, self.dt, self.sigma, self.tau = rng, dt, sigma, tau
        self.value = np.zeros(size)

    def __call__(self) -> np.ndarray:
        decay = self.dt / self.tau
        self.value += -decay * self.value + self.sigma * np.sqrt(2 * decay) * self.rng.standard_normal(self.value.size)
        return self.value


class RandomController:
    """The ``random`` policy: uniform random actions, each held for 0.1-0.6 s."""

    def __init__(self, ctrl_range: np.ndarray, rng: np.random.Generator, dt: float):
        self.low, self.high = ctrl_range[:, 0], ctrl_range[:, 1]  # [nu] each
        self.rng, self.dt = rng, dt
        self.remaining = 0.0
        self.action = np.zeros(len(ctrl_range))

    def __call__(self, data: Any) -> np.ndarray:
        if self.remaining <= 0:
            self.action = self.rng.uniform(self.low, self.high)
            self.remaining = self.rng.uniform(0.1, 0.6)
        self.remaining -= self.dt
        return self.action


def lqr_gain(model: Any, data: Any, q: np.ndarray, r: np.ndarray, iterations: int = 2000) -> np.ndarray:
    """Discrete-time LQR gain [nu, 2*nv] of the system linearised at the current ``data``.

    The linearisation is MuJoCo's finite-differenced transition (``mjd_transitionFD``);
    the Riccati equation is iterated to convergence here to avoid a SciPy dependency.
    """
    mujoco = import_mujoco()
    nx, nu = 2 * model.nv + model.na, model.nu
    a, b = np.zeros((nx, nx)), np.zeros((nx, nu))
    integrator = model.opt.integrator
    if integrator == mujoco.mjtIntegrator.mjINT_RK4:  # not supported by mjd_transitionFD
        model.opt.integrator = mujoco.mjtIntegrator.mjINT_EULER
    try:
        mujoco.mjd_transitionFD(model, data, 1e-6, True, a, b, None, None)
    finally:
        model.opt.integrator = integrator
    p = q.copy()
    for _ in range(iterations):
        k = np.linalg.solve(r + b.T @ p @ b, b.T @ p @ a)
        p_next = q + a.T @ p @ (a - b @ k)
        if np.allclose(p_next, p, rtol=1e-10, atol=1e-10):
            break
        p = p_next
    return np.linalg.solve(r + b.T @ p @ b, b.T @ p @ a)


def joint_index(model: Any, name: str) -> tuple[int, int]:
    """(qpos address, dof address) of a one-dof joint."""
    joint = model.joint(name)
    return int(joint.qposadr[0]), int(joint.dofadr[0])
