"""The reward formulas: TCN imitation reward, XIRL goal reward, dm_control's cart-pole reward;
and the per-episode report of ``tcn reward`` (alignment to the demo, rank correlation)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from timecontrast.data.state import SequenceState
from timecontrast.errors import DataError
from timecontrast.rl.reward_report import (
    CARTPOLE_TRUE_REWARD,
    check_episode_length,
    demo_for_episode,
    rank_correlation,
    score_episodes,
    true_reward_of,
)
from timecontrast.rl.rewards import (
    ALPHA,
    BETA,
    GAMMA,
    cartpole_swingup_reward,
    goal_from_demonstrations,
    goal_reward,
    imitation_reward,
    squared_distances,
    tolerance,
)


# ------------------------------------------------------------------ imitation reward
def test_imitation_reward_against_a_hand_computation():
    assert (ALPHA, BETA, GAMMA) == (0.5, 0.5, 1e-3)
    got = imitation_reward(np.array([0.0, 1.0, 4.0]))
    # -0.5*d² - 0.5*sqrt(0.001 + d²), worked out by hand
    want = [-0.5 * math.sqrt(0.001), -0.5 - 0.5 * math.sqrt(1.001), -2.0 - 0.5 * math.sqrt(4.001)]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(want, [-0.0158114, -1.0002499, -3.0001250], atol=1e-7)
    # other weights: -2*0.75 - 3*sqrt(0.25 + 0.75) = -4.5
    assert imitation_reward(0.75, alpha=2.0, beta=3.0, gamma=0.25) == pytest.approx(-4.5, abs=1e-12)
    scalar = imitation_reward(2.0)
    assert isinstance(scalar, np.ndarray) and scalar.shape == () and scalar.dtype == np.float64


def test_imitation_reward_is_highest_at_the_demo_and_keeps_shape():
    d2 = np.linspace(0.0, 5.0, 12).reshape(3, 4)
    r = imitation_reward(d2)
    assert r.shape == (3, 4)
    assert np.all(np.diff(r.ravel()) < 0)  # strictly decreasing in the distance
    assert r.max() == pytest.approx(-BETA * math.sqrt(GAMMA))


@pytest.mark.parametrize(
    "kwargs", [{"squared_distances": -0.1}, {"squared_distances": np.nan}, {"squared_distances": 1.0, "alpha": -1.0}]
)
def test_imitation_reward_rejects_bad_input(kwargs):
    with pytest.raises(ValueError):
        imitation_reward(**kwargs)


def test_squared_distances_per_row():
    a = np.array([[0.0, 0.0], [1.0, 2.0]])
    b = np.array([[3.0, 4.0], [1.0, 0.0]])
    np.testing.assert_allclose(squared_distances(a, b), [25.0, 4.0])
    with pytest.raises(ValueError, match="embedding sizes differ"):
        squared_distances(a, np.zeros((2, 3)))


# ---------------------------------------------------------------------- goal reward
def test_goal_from_demonstrations_follows_xirl():
    demos = [np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]]), np.array([[0.0, 2.0], [2.0, 2.0]])]
    goal, scale = goal_from_demonstrations(demos)
    np.testing.assert_allclose(goal, [2.0, 1.0])  # mean of the final frames
    assert scale == pytest.approx(1.0 / math.sqrt(5.0))  # first frames are sqrt(5) from the goal
    np.testing.assert_allclose(goal_reward(np.array([[2.0, 1.0], [0.0, 0.0], [0.0, 2.0]]), goal, scale), [0, -1, -1])
    with pytest.raises(ValueError, match="start at their goal"):
        goal_from_demonstrations([np.ones((3, 2))])
    with pytest.raises(ValueError, match="scale"):
        goal_reward(np.zeros((1, 2)), goal, 0.0)


# ------------------------------------------------------------- cart-pole true reward
def test_tolerance_matches_dm_control():
    rewards = pytest.importorskip("dm_control.utils.rewards")
    x = np.linspace(-7.0, 7.0, 57)
    for margin, sigmoid, at_margin in [(2.0, "gaussian", 0.1), (5.0, "gaussian", 0.1), (1.0, "quadratic", 0.0)]:
        want = rewards.tolerance(x, margin=margin, sigmoid=sigmoid, value_at_margin=at_margin)
        np.testing.assert_allclose(tolerance(x, margin, sigmoid, at_margin), want, atol=1e-12)


def test_cartpole_swingup_reward_by_hand():
    # upright, centred, still, no control: every factor is 1
    assert cartpole_swingup_reward(np.array([0.0]), np.array([0.0]), np.array([0.0]))[0] == pytest.approx(1.0)
    # hanging: upright = 0
    assert cartpole_swingup_reward(np.array([0.0]), np.array([math.pi]), np.array([0.0]))[0] == pytest.approx(0.0)
    # horizontal pole (upright 1/2), cart at the margin (centered (1 + 0.1)/2), control 1 (4/5)
    r = cartpole_swingup_reward(np.array([2.0]), np.array([math.pi / 2]), np.array([0.0]), control=np.array([1.0]))
    assert r[0] == pytest.approx(0.5 * 0.55 * 0.8)


def test_cartpole_swingup_reward_matches_dm_controls_own(monkeypatch):
    monkeypatch.setenv("MUJOCO_GL", "egl")
    suite = pytest.importorskip("dm_control.suite")
    env = suite.load("cartpole", "swingup", task_kwargs={"random": 0})
    env.reset()
    physics, task = env.physics, env.task
    rng = np.random.default_rng(0)
    for _ in range(12):
        x, theta = rng.uniform(-2.5, 2.5), rng.uniform(-np.pi, np.pi)
        v, omega, u = rng.normal(0, 2), rng.normal(0, 6), rng.uniform(-1, 1)
        with physics.reset_context():
            physics.named.data.qpos["slider"] = x
            physics.named.data.qpos["hinge_1"] = theta
            physics.named.data.qvel["slider"] = v
            physics.named.data.qvel["hinge_1"] = omega
            physics.data.ctrl[:] = u
        want = task.get_reward(physics)
        got = cartpole_swingup_reward(np.array([x]), np.array([theta]), np.array([omega]), control=np.array([u]))[0]
        assert got == pytest.approx(want, abs=1e-9)
        # without the control: small_control taken as 1, never below the true reward
        no_control = cartpole_swingup_reward(np.array([x]), np.array([theta]), np.array([omega]))[0]
        assert want <= no_control + 1e-12 <= want * 1.25 + 1e-9


def _cartpole_state(x: np.ndarray, theta: np.ndarray, omega: np.ndarray) -> SequenceState:
    t = len(x)
    return SequenceState(
        np.stack([x, theta], 1), np.stack([np.zeros(t), omega], 1), ["slider", "hinge_1"], ["slider", "hinge_1"]
    )


def test_true_reward_of_knows_cartpole_only():
    theta = np.linspace(np.pi, 0.0, 10)
    reward, what = true_reward_of(_cartpole_state(np.zeros(10), theta, np.zeros(10)))
    assert what == CARTPOLE_TRUE_REWARD
    np.testing.assert_allclose(reward, (np.cos(theta) + 1) / 2)  # centred and still: upright alone
    other = SequenceState(np.zeros((4, 1)), np.zeros((4, 1)), ["x"], ["v"])
    assert true_reward_of(other) is None
    assert true_reward_of(None) is None


# ------------------------------------------------------------------ the episode report
def test_demo_for_episode_by_frame_and_by_time():
    demo = np.arange(10, dtype=np.float64)[:, None]  # [10, 1], value = frame index
    np.testing.assert_array_equal(demo_for_episode(demo, 4, "frame")[:, 0], [0, 1, 2, 3])
    np.testing.assert_array_equal(demo_for_episode(demo, 4, "time")[:, 0], [0, 3, 6, 9])
    np.testing.assert_array_equal(demo_for_episode(demo, 19, "time")[:, 0], np.rint(np.arange(19) / 2))
    assert demo_for_episode(demo, 1, "time").shape == (1, 1)
    with pytest.raises(DataError, match=r"episode 'ep' has 11 frames but the demo 'dm' only 10.*--align time"):
        demo_for_episode(demo, 11, "frame", demo_name="dm", episode_name="ep")
    check_episode_length(11, 10, "time")  # stretching needs no length


def test_rank_correlation():
    a = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert rank_correlation(a, a**3) == pytest.approx(1.0)
    assert rank_correlation(a, -a) == pytest.approx(-1.0)
    assert rank_correlation(a, np.ones(5)) is None
    assert rank_correlation(a[:2], a[:2]) is None


def test_score_episodes_rewards_the_demo_and_correlates_with_the_truth():
    rng = np.random.default_rng(0)
    theta = np.linspace(np.pi, 0.0, 20)  # a swing-up: the true reward rises
    demo = rng.normal(size=(20, 4))
    # an episode that approaches the demo: distance shrinks as the pole rises
    near = demo + np.linspace(2.0, 0.0, 20)[:, None]
    state = _cartpole_state(np.zeros(20), theta, np.zeros(20))
    report = score_episodes(demo, [("same", "a", demo.copy(), None), ("near", "b", near, state)])
    same, approach = report.episodes
    assert same.length == 20 and approach.length == 20
    assert same.mean == pytest.approx(-BETA * math.sqrt(GAMMA))
    assert approach.mean < same.mean
    assert same.true_reward is None and same.spearman is None
    assert approach.spearman == pytest.approx(1.0)
    assert report.spearman_overall == pytest.approx(1.0)
    assert report.true_reward == CARTPOLE_TRUE_REWARD
    d = report.to_dict()
    assert d["episodes"][1]["spearman"] == pytest.approx(1.0) and len(d["episodes"][1]["true_reward"]) == 20
    assert "spearman" not in d["episodes"][0]
    with pytest.raises(DataError, match="shape"):
        score_episodes(demo, [("bad", "c", np.zeros((5, 3)), None)])
