"""The pouring world: task phases and key events where the physics puts them, and its dataset.

One scripted episode (16 px, one view) is simulated once; its labels are checked against
the true state written beside them (bottle and drop positions, hand joints), recomputed
here with plain geometry rather than with the world's own queries.
"""

from __future__ import annotations

import numpy as np
import pytest

from timecontrast.data.labeled import iter_labeled_frames
from timecontrast.data.state import load_state
from timecontrast.sim import generate_dataset, generate_sequence, get_world
from timecontrast.sim.worlds.pouring import PHASES, PouringLabeller, phase_of_state
from timecontrast.sim.worlds.pouring_scene import (
    BOTTLE_HALF,
    BOTTLE_INNER,
    BOTTLE_TOP,
    DROP_RADIUS,
    NUM_DROPS,
    PALM_HALF,
)

LENGTH = 80  # frames at 20 fps: every scripted episode has put the bottle back by frame ~80


@pytest.fixture(scope="module")
def episode():
    seq = generate_sequence("pouring", views=1, length=LENGTH, size=16, seed=2)
    return seq.state, seq.labels


def _rotation(quat: np.ndarray) -> np.ndarray:
    """[T, 4] (w, x, y, z) -> [T, 3, 3], columns the body's axes in world coordinates."""
    w, x, y, z = quat.T
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        axis=1,
    )


def _columns(state, prefix: str, width: int) -> np.ndarray:
    start = state.position_names.index(f"{prefix}[0]")
    return state.position[:, start : start + width]


def _first(mask: np.ndarray) -> int:
    assert mask.any()
    return int(np.argmax(mask))


def _drops_outside(state) -> np.ndarray:
    """[T] number of drops whose centre is outside the bottle, from the true state."""
    bottle = _columns(state, "bottle", 7)  # [T, 7] position, quaternion
    rotation = _rotation(bottle[:, 3:])
    drops = np.stack([_columns(state, f"drop_{i:02d}", 3) for i in range(NUM_DROPS)], axis=1)  # [T, N, 3]
    local = np.einsum("tnj,tjk->tnk", drops - bottle[:, None, :3], rotation)  # in the bottle's frame
    inside = (np.abs(local[..., :2]).max(-1) < BOTTLE_INNER + DROP_RADIUS / 4) & (local[..., 2] > 0)
    inside &= local[..., 2] < BOTTLE_TOP
    return (~inside).sum(axis=1)


def test_phases_run_in_order_once_each(episode):
    _, labels = episode
    phase = labels["phase"]
    assert phase[0] == 0 and phase[-1] == len(PHASES) - 1
    assert set(np.diff(phase)) <= {0, 1}, "a phase was skipped or went back"
    assert all((phase == p).sum() >= 3 for p in range(len(PHASES))), np.bincount(phase)


def test_hand_touches_bottle_starts_reaching(episode):
    state, labels = episode
    touch = _first(labels["phase"] == 1)
    assert touch == _first(labels["contact"] == 1)
    # The palm's face against the bottle's, from the hand's joints and the bottle's position.
    names = state.position_names
    palm = state.position[:, [names.index(n) for n in ("hand_x", "hand_y", "hand_z")]]
    yaw = state.position[:, names.index("hand_yaw")]
    facing = np.stack([np.cos(yaw), np.sin(yaw)], -1)
    gap = ((_columns(state, "bottle", 2) - palm[:, :2]) * facing).sum(-1) - PALM_HALF - BOTTLE_HALF
    assert gap[touch] < 0.006 and gap[touch - 1] > 0.004
    assert gap[:touch].min() > 0.004


def test_liquid_starts_exiting_when_a_drop_leaves(episode):
    state, labels = episode
    outside = _drops_outside(state)
    exiting = _first(labels["phase"] == 2)
    assert outside[:exiting].max() == 0 and outside[exiting] > 0
    flowing = _first(labels["liquid_flowing"] == 1)
    assert exiting <= flowing <= exiting + 2  # the first drop is falling within a frame or two
    assert labels["liquid_flowing"][:exiting].max() == 0


def test_pouring_completes_when_the_bottle_is_empty(episode):
    state, labels = episode
    outside = _drops_outside(state)
    complete = _first(labels["phase"] == 3)
    assert outside[complete] == NUM_DROPS and outside[complete - 1] < NUM_DROPS
    assert labels["has_liquid"][0] == 1 and labels["has_liquid"][-1] == 0
    assert complete == _first(labels["has_liquid"] == 0)


def test_container_angle_grows_while_pouring(episode):
    state, labels = episode
    angle, phase = labels["container_angle"], labels["phase"]
    tilt = np.degrees(np.arccos(_rotation(_columns(state, "bottle", 7)[:, 3:])[:, 2, 2]))
    np.testing.assert_array_equal(angle, np.minimum(3, np.round(tilt / 45)).astype(int))
    assert angle[phase == 0].max() == 0 and angle[phase == 4].max() == 0  # upright on the table
    rising = angle[: _first(phase == 2) + 1]
    assert np.all(np.diff(rising) >= 0) and rising[-1] >= 2  # tilts forward until the liquid exits
    assert angle[phase == 2].max() == 3  # poured mouth down
    assert (labels["tilting"][phase <= 2] != 2).all() and (labels["tilting"][phase == 3] == 2).any()


def test_bottle_back_on_table_ends_the_task(episode):
    state, labels = episode
    back = _first(labels["phase"] == 4)
    height = _columns(state, "bottle", 3)[:, 2]
    assert height[back] < 0.002 and height[back - 3 : back].max() > height[back]  # it has just come down
    assert height[_first(labels["phase"] == 3) : back - 3].min() > 0.01  # held above the table before
    assert labels["contact"][-1] == 0  # the hand has let go


def test_phase_of_state_without_history():
    full, some, empty = NUM_DROPS, NUM_DROPS // 2, 0
    assert phase_of_state(touching=False, inside=full, on_table=True) == 0
    assert phase_of_state(touching=True, inside=full, on_table=True) == 1
    assert phase_of_state(touching=True, inside=full, on_table=False) == 1
    assert phase_of_state(touching=True, inside=some, on_table=False) == 2
    assert phase_of_state(touching=True, inside=empty, on_table=False) == 3
    assert phase_of_state(touching=True, inside=empty, on_table=True) == 4
    assert phase_of_state(touching=False, inside=empty, on_table=True) == 4


def test_labeller_never_goes_back():
    """A drop bouncing back into the bottle, or the hand letting go early, shows an earlier
    phase in the state; the sequence's labeller keeps the latest one reached."""
    world = get_world("pouring")
    shown = iter([0, 1, 2, 3, 2, 3, 4, 3])

    class Replay:
        def state_labels(self, index, model, data):
            return {"phase": next(shown)}

    labeller = PouringLabeller(Replay(), world.build_model())  # type: ignore[arg-type]
    assert [labeller(None, None)["phase"] for _ in range(8)] == [0, 1, 2, 3, 3, 3, 4, 4]


def test_other_worlds_keep_stateless_labels():
    world = get_world("cartpole")
    assert world.label_tracker(None) == world.labels


def test_dataset_writes_and_repeats_from_its_seed(tmp_path):
    args = dict(world="pouring", views=2, length=4, size=16, splits={"train": 1, "val": 1})
    first = generate_dataset(tmp_path / "a", seed=5, **args)
    generate_dataset(tmp_path / "b", seed=5, **args)
    generate_dataset(tmp_path / "c", seed=6, **args)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files) == 7  # 2 x (records, labeled, state) + dataset.json
    for path in files:
        assert (tmp_path / "a" / path).read_bytes() == (tmp_path / "b" / path).read_bytes(), path
    assert (tmp_path / "a" / files[-1]).read_bytes() != (tmp_path / "c" / files[-1]).read_bytes()
    names = [a["name"] for a in first["attributes"]]
    assert names[:5] == ["contact", "distance", "liquid_flowing", "has_liquid", "container_angle"]
    assert "phase" in names
    frames = list(iter_labeled_frames(tmp_path / "a" / "val" / "labeled" / "pouring_0001.tfrecord"))
    assert len(frames) == 4 and set(names) <= set(frames[0].labels)
    state = load_state(tmp_path / "a" / "val" / "state" / "pouring_0001.npz")
    assert state.position_names[:5] == ["hand_x", "hand_y", "hand_z", "hand_yaw", "hand_tilt"]
    assert state.position.shape == (4, 5 + 7 * (2 + NUM_DROPS))
    np.testing.assert_array_equal(state.labels["has_liquid"], 1)  # 0.2 s in: nothing poured yet
