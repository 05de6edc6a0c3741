"""Simulated sequences: views, state, labels and camera poses line up and follow the physics."""

from __future__ import annotations

import numpy as np
import pytest

from timecontrast.errors import ConfigError
from timecontrast.sim import WORLDS, WorldSimulator, generate_sequence, get_world, sequence_rng

SIZE, LENGTH = 48, 24  # of the cartpole_sequence fixture (conftest.py)


def test_shapes_line_up(cartpole_sequence):
    seq = cartpole_sequence
    assert seq.frames.shape == (3, LENGTH, SIZE, SIZE, 3) and seq.frames.dtype == np.uint8
    state = seq.state
    assert state.position.shape == (LENGTH, 2) and state.velocity.shape == (LENGTH, 2)
    assert state.position_names == ["slider", "hinge_1"]
    assert set(seq.labels) == {a.name for a in get_world("cartpole").attributes}
    for attribute in get_world("cartpole").attributes:
        values = seq.labels[attribute.name]
        assert values.shape == (LENGTH,) and values.dtype == np.int64
        assert values.min() >= 0 and values.max() < len(attribute.classes)
    assert state.camera_positions.shape == (3, LENGTH, 3)
    assert state.camera_orientations.shape == (3, LENGTH, 9)
    assert state.fps == 20.0


def test_views_differ(cartpole_sequence):
    frames = cartpole_sequence.frames.astype(np.int16)
    for a in range(3):
        for b in range(a + 1, 3):
            assert np.abs(frames[a] - frames[b]).mean() > 5, f"views {a} and {b} look the same"


def test_frames_change_over_time(cartpole_sequence):
    frames = cartpole_sequence.frames[0].astype(np.int16)
    assert np.abs(frames[0] - frames[-1]).mean() > 0.5


def test_cartpole_labels_follow_state(cartpole_sequence):
    state, labels = cartpole_sequence.state, cartpole_sequence.labels
    x, angle = state.position[:, 0], state.position[:, 1]
    v, omega = state.velocity[:, 0], state.velocity[:, 1]
    np.testing.assert_array_equal(labels["cart_moving"], (v > 0).astype(int))  # 1 = right
    np.testing.assert_array_equal(labels["pole_swinging"], (omega > 0).astype(int))
    np.testing.assert_array_equal(labels["cart_side"], (x >= 0).astype(int))
    np.testing.assert_array_equal(labels["pole_up"], (np.cos(angle) > 0).astype(int))
    np.testing.assert_array_equal(labels["pole_lean"], (np.sin(angle) > 0).astype(int))


def test_free_hinges_are_marked_as_angles(cartpole_sequence):
    assert cartpole_sequence.state.angles == ["hinge_1"]  # the pole turns freely; the slider is not an angle


def test_velocity_is_the_derivative_of_position(cartpole_sequence):
    """State rows belong to frame times: finite differences at 1/fps match the velocities."""
    state = cartpole_sequence.state
    slope = np.diff(state.position[:, 0]) * state.fps
    mean_velocity = (state.velocity[1:, 0] + state.velocity[:-1, 0]) / 2
    np.testing.assert_allclose(slope, mean_velocity, atol=0.15)


def test_camera_poses_look_at_the_scene(cartpole_sequence):
    state = cartpole_sequence.state
    rotation = state.camera_orientations.reshape(3, LENGTH, 3, 3)
    identity = np.einsum("vtji,vtjk->vtik", rotation, rotation)
    np.testing.assert_allclose(identity, np.broadcast_to(np.eye(3), identity.shape), atol=1e-6)
    forward = -rotation[..., :, 2]  # [V, T, 3], the camera looks along -z
    to_rail = np.array([0.0, 0.0, 1.1]) - state.camera_positions
    cosine = (forward * to_rail).sum(-1) / np.linalg.norm(to_rail, axis=-1)
    assert cosine.min() > 0.99  # aimed at the rail's middle (up to the aim jitter)
    # Still cameras stay put; the last, moving one sweeps round.
    assert np.ptp(state.camera_positions[:2], axis=1).max() < 1e-5
    assert np.linalg.norm(state.camera_positions[2, 0] - state.camera_positions[2, -1]) > 0.5


def test_same_seed_same_bytes_other_seed_differs():
    a = generate_sequence("cartpole", views=2, length=6, size=32, seed=3)
    b = generate_sequence("cartpole", views=2, length=6, size=32, seed=3)
    c = generate_sequence("cartpole", views=2, length=6, size=32, seed=4)
    assert a.frames.tobytes() == b.frames.tobytes()
    assert a.state.position.tobytes() == b.state.position.tobytes()
    assert a.frames.tobytes() != c.frames.tobytes()


def test_adding_a_view_keeps_the_others():
    """Random streams are split: a third camera changes neither the motion nor views 0-1."""
    with WorldSimulator("cartpole", 32, 20.0) as sim:
        two = sim.simulate("a", 5, sequence_rng(1, 0), views=2)
        three = sim.simulate("a", 5, sequence_rng(1, 0), views=3)
    np.testing.assert_array_equal(two.frames, three.frames[:2])
    np.testing.assert_array_equal(two.state.position, three.state.position)


@pytest.mark.parametrize("world", sorted(WORLDS))
def test_every_world_renders(world):
    with WorldSimulator(world, 32, 20.0) as sim:
        seq = sim.simulate(f"{world}_0000", 6, sequence_rng(0, 0), views=2)
        other = sim.simulate(f"{world}_0001", 6, sequence_rng(0, 1), views=2)
    assert seq.frames.shape == (2, 6, 32, 32, 3)
    assert seq.frames.reshape(-1, 3).std(axis=0).min() > 5  # not a blank image
    assert np.abs(seq.frames[0].astype(int) - seq.frames[1]).mean() > 5
    # Per-sequence appearance: another sequence of the same world looks different.
    assert np.abs(seq.frames[0, 0].astype(int) - other.frames[0, 0]).mean() > 5
    assert len([a for a in sim.world.attributes if a.kind == "static"]) >= 3
    assert len([a for a in sim.world.attributes if a.kind == "motion"]) >= 2


def test_cheetah_labels_follow_state():
    seq = generate_sequence("cheetah", views=1, length=30, size=16, seed=2)
    names = seq.state.position_names
    rootx, rooty = names.index("rootx"), names.index("rooty")
    np.testing.assert_array_equal(seq.labels["direction"], (seq.state.velocity[:, rootx] > 0).astype(int))
    np.testing.assert_array_equal(seq.labels["pitching"], (seq.state.velocity[:, rooty] < 0).astype(int))
    np.testing.assert_array_equal(seq.labels["torso_pitch"], (np.sin(seq.state.position[:, rooty]) < 0).astype(int))
    # The camera follows the runner along x.
    cam_x = seq.state.camera_positions[0, :, 0]
    np.testing.assert_allclose(np.diff(cam_x), np.diff(seq.state.position[:, rootx]), atol=1e-5)


def test_finger_labels_follow_state():
    seq = generate_sequence("finger", views=1, length=40, size=16, seed=5)
    hinge = seq.state.position_names.index("hinge")
    angle, speed = seq.state.position[:, hinge], seq.state.velocity[:, hinge]
    expected = np.where(np.abs(speed) < 0.5, 0, np.where(speed > 0, 1, 2))
    np.testing.assert_array_equal(seq.labels["spinner_turning"], expected)
    np.testing.assert_array_equal(seq.labels["tip_up"], (np.cos(angle) > 0).astype(int))
    assert seq.labels["touching"].max() == 1  # the finger does reach the bar


def test_scripted_cartpole_swings_up():
    """The scripted controller performs the task: the pole gets from hanging to upright."""
    seq = generate_sequence("cartpole", views=1, length=120, size=8, seed=0)
    up = np.cos(seq.state.position[:, 1]) > 0.95
    down = np.cos(seq.state.position[:, 1]) < -0.9
    assert up.any() and down.any()


def test_random_policy_differs_from_scripted():
    scripted = generate_sequence("cartpole", views=1, length=40, size=8, seed=0)
    random = generate_sequence("cartpole", views=1, length=40, size=8, seed=0, policy="random")
    assert not np.allclose(scripted.state.position, random.state.position)


def test_model_cameras_by_name_and_id():
    seq = generate_sequence("cartpole", views=2, length=2, size=16, cameras=["fixed", 1])
    # The suite's "fixed" camera sits at (0, -4, 1) (the model's own camera, not the rig).
    np.testing.assert_allclose(seq.state.camera_positions[0, 0], [0.0, -4.0, 1.0], atol=1e-6)


@pytest.mark.parametrize("camera", [2, -1, "nope"])
def test_missing_model_camera_raises(camera):
    with pytest.raises(ConfigError, match=r"it has cameras 0 \(fixed\), 1 \(lookatcart\)"):
        generate_sequence("cartpole", views=1, length=2, size=16, cameras=[camera])


def test_bad_requests_list_the_choices():
    with pytest.raises(ConfigError, match="cartpole, cheetah, finger"):
        generate_sequence("pendulum")
    for views in (0, 9):
        with pytest.raises(ConfigError, match="from 1 to 8"):
            generate_sequence("cartpole", views=views)
    with pytest.raises(ConfigError, match="scripted, random"):
        generate_sequence("cartpole", policy="greedy")
    with pytest.raises(ConfigError, match="length"):
        generate_sequence("cartpole", length=0)
    with pytest.raises(ConfigError, match="one camera per view"):
        generate_sequence("cartpole", views=2, length=2, size=16, cameras=["fixed"])


def test_contact_sheet_places_views_in_rows(cartpole_sequence):
    from timecontrast.sim.sheet import contact_sheet

    sheet = contact_sheet(cartpole_sequence.frames, columns=4, gap=2)
    assert sheet.shape == (3 * SIZE + 2 * 2, 4 * SIZE + 3 * 2, 3)
    # Row 2 (the third view), column 3 (the last timestep).
    np.testing.assert_array_equal(sheet[2 * (SIZE + 2) :, 3 * (SIZE + 2) :], cartpole_sequence.frames[2, LENGTH - 1])
