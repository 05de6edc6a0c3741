"""The state sidecar: round trip, reproducible bytes, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from timecontrast.data.state import SequenceState, load_state, save_state
from timecontrast.errors import DataError


def make_state(length: int = 5, views: int = 2) -> SequenceState:
    rng = np.random.default_rng(0)
    return SequenceState(
        position=rng.normal(size=(length, 2)),
        velocity=rng.normal(size=(length, 2)),
        position_names=["slider", "hinge_1"],
        velocity_names=["slider", "hinge_1"],
        labels={"pole_up": rng.integers(0, 2, length), "cart_moving": rng.integers(0, 2, length)},
        camera_positions=rng.normal(size=(views, length, 3)),
        camera_orientations=rng.normal(size=(views, length, 9)),
        fps=20.0,
        angles=["hinge_1"],
    )


def test_round_trip(tmp_path):
    state = make_state()
    save_state(tmp_path / "s.npz", state)
    loaded = load_state(tmp_path / "s.npz")
    for key in ("position", "velocity", "camera_positions", "camera_orientations"):
        np.testing.assert_array_equal(getattr(loaded, key), getattr(state, key))
    assert loaded.position_names == ["slider", "hinge_1"] and loaded.fps == 20.0
    assert loaded.angles == ["hinge_1"]
    assert sorted(loaded.labels) == ["cart_moving", "pole_up"]
    np.testing.assert_array_equal(loaded.labels["pole_up"], state.labels["pole_up"])
    assert loaded.labels["pole_up"].dtype == np.int64
    assert loaded.length == 5 and loaded.num_views == 2


def test_same_state_same_bytes(tmp_path):
    save_state(tmp_path / "a.npz", make_state())
    save_state(tmp_path / "b.npz", make_state())
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left


def test_files_without_angles_still_load_and_unknown_angles_raise(tmp_path):
    state = make_state()
    state.angles = []
    save_state(tmp_path / "s.npz", state)
    with np.load(tmp_path / "s.npz") as npz:  # an older file: no "angles" entry at all
        arrays = {k: npz[k] for k in npz.files if k != "angles"}
    np.savez(tmp_path / "old.npz", **arrays)
    assert load_state(tmp_path / "old.npz").angles == []
    with pytest.raises(DataError, match=r"angles \['elbow'\] are not position variables"):
        SequenceState(state.position, state.velocity, state.position_names, state.velocity_names, angles=["elbow"])


def test_inconsistent_shapes_raise():
    state = make_state()
    with pytest.raises(DataError, match="velocity has shape"):
        SequenceState(state.position, state.velocity[:3], state.position_names, state.velocity_names)
    with pytest.raises(DataError, match="labels 'x'"):
        SequenceState(state.position, state.velocity, state.position_names, state.velocity_names, {"x": [0]})
    with pytest.raises(DataError, match="camera_orientations"):
        SequenceState(
            state.position,
            state.velocity,
            state.position_names,
            state.velocity_names,
            camera_positions=state.camera_positions,
            camera_orientations=state.camera_orientations[:1],
        )


def test_without_cameras():
    state = make_state()
    bare = SequenceState(state.position, state.velocity, state.position_names, state.velocity_names)
    assert bare.num_views == 0 and bare.camera_orientations.shape == (0, 5, 9)


def test_missing_or_corrupt_file_names_the_file(tmp_path):
    with pytest.raises(DataError, match="no such state file"):
        load_state(tmp_path / "missing.npz")
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="bad.npz"):
        load_state(tmp_path / "bad.npz")
    np.savez(tmp_path / "partial.npz", position=np.zeros((2, 1)))
    with pytest.raises(DataError, match="lacks"):
        load_state(tmp_path / "partial.npz")
