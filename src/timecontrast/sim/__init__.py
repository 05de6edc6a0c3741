"""Simulated multi-camera worlds (MuJoCo: the DeepMind Control Suite models, and a pouring scene of our own).

Each world is filmed by up to eight cameras at once and gives, per frame, its true
state (positions, velocities), the camera poses and integer labels of static and
motion attributes. Nothing here imports mujoco until a world is built, and mujoco is
imported with ``MUJOCO_GL=egl`` unless the variable is set (see :mod:`timecontrast.sim.gl`).

Example::

    from timecontrast import sim

    seq = sim.generate_sequence("cartpole", views=2, length=60, size=64, seed=0)
    seq.frames            # [2, 60, 64, 64, 3] uint8
    seq.state.position    # [60, 2]: slider, hinge_1
    seq.labels["pole_up"] # [60] int64
    sim.generate_dataset("data/cartpole", views=2, splits={"train": 16, "val": 4}, length=100, size=96)
"""

from timecontrast.sim.cameras import MAX_VIEWS, CameraPlacement
from timecontrast.sim.dataset import DATASET_FILE, generate_dataset, parse_splits
from timecontrast.sim.generate import POLICIES, SimSequence, WorldSimulator, generate_sequence, sequence_rng
from timecontrast.sim.worlds import DEFAULT_WORLD, WORLDS, Attribute, World, get_world

__all__ = [
    "DATASET_FILE",
    "DEFAULT_WORLD",
    "MAX_VIEWS",
    "POLICIES",
    "WORLDS",
    "Attribute",
    "CameraPlacement",
    "SimSequence",
    "World",
    "WorldSimulator",
    "generate_dataset",
    "generate_sequence",
    "get_world",
    "parse_splits",
    "sequence_rng",
]
