"""The simulated worlds as Gymnasium environments: tcn synth's pictures, dm_control's tasks."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("gymnasium")
pytest.importorskip("stable_baselines3")

import gymnasium as gym

from timecontrast.config import config_to_dict, load_config
from timecontrast.errors import CheckpointError, ConfigError
from timecontrast.inference import Embedder
from timecontrast.models import save_checkpoint
from timecontrast.rl.envs import WORLD_TASKS, make_env, make_vec_env
from timecontrast.rl.tasks import TASKS, WALK_SPEED
from timecontrast.rl.wrappers import EmbeddingObservation
from timecontrast.sim import WorldSimulator, sequence_rng

from .conftest import SINGLE

SMALL = {"width": 32, "height": 32}  # the untrained embedders' input size


def episode(env, actions, seed):
    obs, _ = env.reset(seed=seed)
    out, rewards = [obs], []
    for a in actions:
        obs, reward, terminated, _, _ = env.step(a)
        out.append(obs)
        rewards.append(reward)
        assert not terminated
    return np.stack(out), np.array(rewards)


def test_spaces_time_and_rewards():
    env = make_env("cartpole", "swingup", obs="state")
    assert env.action_space == gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    assert env.observation_space.shape == (5,) and env.observation_space.dtype == np.float32
    # 100 Hz control, 50 frames per second: every step repeats the action twice; 10 s episodes.
    assert (env.action_repeat, env.max_episode_steps, env.spec.max_episode_steps) == (2, 500, 500)
    obs, _ = env.reset(seed=0)
    assert obs.dtype == np.float32 and obs[1] < -0.99  # cos(pole angle): swing-up starts hanging
    rewards = [env.step(np.array([1.0]))[1] for _ in range(20)]
    assert all(0.0 <= r <= 2.0 for r in rewards)  # two dm_control rewards in [0, 1] summed
    pixels = make_env("cartpole", "swingup", obs="pixels", **SMALL, max_episode_steps=3)
    frame, _ = pixels.reset(seed=0)
    assert frame.shape == (32, 32, 3) and frame.dtype == np.uint8 and pixels.observation_space.contains(frame)
    np.testing.assert_array_equal(frame, pixels.render())
    for step in range(1, 4):
        frame, _, terminated, truncated, _ = pixels.step(np.zeros(1))
        assert not terminated and truncated == (step == 3)
    with pytest.raises(gym.error.ResetNeeded):
        pixels.step(np.zeros(1))
    assert pixels.unwrapped.render_views().shape == (2, 32, 32, 3)
    noise = make_env("cartpole", "swingup", obs="random")
    a, _ = noise.reset(seed=1)
    b = noise.step(np.zeros(1))[0]
    assert a.shape == (5,) and not np.allclose(a, b)


def test_position_observation_is_the_state_without_its_velocities():
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, size=(30, 1))
    for world, task, positions in (("cartpole", "swingup", 3), ("cheetah", "walk", 8)):
        state = make_env(world, task, obs="state")
        position = make_env(world, task, obs="position")
        assert position.observation_space.shape == (positions,)
        a, _ = state.reset(seed=3)
        b, _ = position.reset(seed=3)
        for action in actions:
            np.testing.assert_array_equal(b, a[:positions])  # dm_control puts the position first
            assert b.dtype == np.float32 and position.observation_space.contains(b)
            a = state.step(np.resize(action, state.action_space.shape))[0]
            b = position.step(np.resize(action, position.action_space.shape))[0]
        assert not np.allclose(a[positions:], 0)  # the velocities it leaves out are there


def test_seeding_gives_the_same_episode():
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, size=(15, 1))
    one = make_env("cartpole", "swingup", obs="pixels", **SMALL)
    two = make_env("cartpole", "swingup", obs="pixels", **SMALL)
    frames_a, rewards_a = episode(one, actions, seed=4)
    frames_b, rewards_b = episode(two, actions, seed=4)
    np.testing.assert_array_equal(frames_a, frames_b)
    np.testing.assert_array_equal(rewards_a, rewards_b)
    frames_c, _ = episode(two, actions, seed=5)
    assert not np.array_equal(frames_a, frames_c)
    # Resets without a seed continue one reproducible stream; the constructor's seed starts it.
    first = make_env("cartpole", "balance", seed=9)
    second = make_env("cartpole", "balance")
    assert np.array_equal(first.reset()[0], second.reset(seed=9)[0])
    assert np.array_equal(first.reset()[0], second.reset()[0])


def test_frames_are_those_of_tcn_synth():
    """The Table I recipe's cameras and look: the env renders a state exactly as tcn synth does."""
    with WorldSimulator("cartpole", fps=50.0, width=32, height=32) as simulator:
        seq = simulator.simulate(
            "s", 4, sequence_rng(0, 0), views=2, policy="random", cameras=["fixed", "lookatcart"], appearance="default"
        )
    env = make_env("cartpole", "swingup", obs="pixels", **SMALL).unwrapped
    env.reset(seed=0)
    for t in range(seq.length):
        env.set_state(seq.state.position[t], seq.state.velocity[t])
        np.testing.assert_array_equal(env.render_views(), seq.frames[:, t])


def test_rig_cameras_and_random_look_follow_the_seed():
    env = make_env("cartpole", "swingup", obs="pixels", cameras=2, view=1, appearance="random", **SMALL)
    a = env.reset(seed=3)[0]
    b = env.reset(seed=4)[0]
    c = env.reset(seed=3)[0]
    np.testing.assert_array_equal(a, c)
    assert np.abs(a.astype(int) - b).mean() > 5  # another look and camera jitter


def test_cheetah_run_and_walk_rewards():
    assert set(WORLD_TASKS) == {w for w, _ in TASKS} and all(
        (w, t) in TASKS for w in WORLD_TASKS for t in WORLD_TASKS[w]
    )
    run = make_env("cheetah", "run").unwrapped
    walk = make_env("cheetah", "walk").unwrapped
    assert run.observation_space.shape == (17,) and run.action_space.shape == (6,)
    for env in (run, walk):
        env.reset(seed=0)
        velocity = np.zeros(env.physics.model.nv)
        velocity[0] = 1.0  # rootx: forward at 1 m/s
        env.set_state(env.physics.data.qpos.copy(), velocity)
    speed = float(run.physics.speed())
    assert 0.5 < speed < WALK_SPEED
    # dm_control's run reward is linear up to 10 m/s; walk's up to 2 m/s.
    assert run._dm_env.task.get_reward(run.physics) == pytest.approx(speed / 10.0, rel=1e-6)
    assert walk._dm_env.task.get_reward(walk.physics) == pytest.approx(speed / WALK_SPEED, rel=1e-6)


def test_bad_input_names_the_choices():
    with pytest.raises(ConfigError, match="unknown world 'pendulum': choose one of cartpole, cheetah"):
        make_env("pendulum")
    with pytest.raises(ConfigError, match="unknown task 'fly' for cheetah: choose one of run, walk"):
        make_env("cheetah", "fly")
    with pytest.raises(ConfigError, match="unknown observation 'depth': choose one of state, position, pixels"):
        make_env(obs="depth")
    with pytest.raises(ConfigError, match=r"fps=30 .* use one of 100, 50, 25, 20"):
        make_env(fps=30)
    with pytest.raises(ConfigError, match="camera 'top' is not in the model; it has cameras 0 \\(fixed\\)"):
        make_env(obs="pixels", cameras=("fixed", "top"))
    with pytest.raises(ConfigError, match="view must be one of 0..1"):
        make_env(obs="pixels", view=2)
    with pytest.raises(ConfigError, match="obs='embedding' needs a trained embedder"):
        make_env(obs="embedding")
    with pytest.raises(ConfigError, match="for obs='embedding', not obs='state'"):
        make_env(obs="state", frames=3)


def test_an_embedder_that_does_not_fit_the_env(single_embedder, tmp_path):
    with pytest.raises(ConfigError, match=r"takes 32x32 frames .* not 96x48: pass width=32, height=32"):
        make_env(obs="embedding", embedder=single_embedder)
    with pytest.raises(ConfigError, match=r"trained on 2 views \(data.num_views\) but the environment films 1"):
        make_env(obs="embedding", embedder=single_embedder, cameras=("fixed",), **SMALL)
    # With its training data's dataset.json (tcn synth's layout): cameras and frame rate too.
    records = tmp_path / "data" / "train" / "records"
    records.mkdir(parents=True)
    (records / "cartpole_0000.tfrecord").write_bytes(b"")
    info = {"world": "cartpole", "width": 32, "height": 32, "views": 2, "cameras": ["fixed", "lookatcart"],
            "fps": 100.0, "appearance": "default"}  # fmt: skip
    (tmp_path / "data" / "dataset.json").write_text(json.dumps(info))
    cfg = load_config(None, None, [*SINGLE, f"data.training={records}"])
    embedder = Embedder(single_embedder.model, cfg)
    with pytest.raises(ConfigError, match=r"recorded at 100 fps .* pass fps=100"):
        make_env(obs="embedding", embedder=embedder, **SMALL)
    with pytest.raises(ConfigError, match=r"filmed by cameras fixed,lookatcart, the environment by 2 rig views"):
        make_env(obs="embedding", embedder=embedder, cameras=2, fps=100, **SMALL)
    env = make_env(obs="embedding", embedder=embedder, fps=100, **SMALL)
    assert isinstance(env, EmbeddingObservation) and env.unwrapped.action_repeat == 1
    obs, _ = env.reset(seed=0)
    assert obs.shape == (8,) and obs.dtype == np.float32
    np.testing.assert_allclose(obs, embedder.embed_images(env.unwrapped.render()[None])[0], atol=1e-5)


def test_embedder_from_a_checkpoint(single_embedder, tmp_path):
    state = {"model": single_embedder.model.state_dict(), "optimizer": None, "grad_scaler": {}, "step": 5, "rng": None}
    save_checkpoint(tmp_path / "run", {**state, "config": config_to_dict(single_embedder.cfg)})
    env = make_env(obs="embedding", embedder=str(tmp_path / "run"), device="cpu", **SMALL)
    obs, _ = env.reset(seed=1)
    np.testing.assert_allclose(obs, single_embedder.embed_images(env.unwrapped.render()[None])[0], atol=1e-5)
    with pytest.raises(CheckpointError):
        make_env(obs="embedding", embedder=str(tmp_path / "missing"), **SMALL)


def test_vec_env_embeds_in_one_batch_like_single_envs(multi_embedder):
    venv = make_vec_env(2, seed=7, obs="embedding", embedder=multi_embedder, max_episode_steps=3, **SMALL)
    assert venv.num_envs == 2 and venv.observation_space.shape == (8,)
    obs = venv.reset()
    singles = [make_env(obs="embedding", embedder=multi_embedder, max_episode_steps=3, **SMALL) for _ in range(2)]
    expected = np.stack([s.reset(seed=7 + i)[0] for i, s in enumerate(singles)])
    np.testing.assert_allclose(obs, expected, atol=1e-5)
    actions = np.array([[0.5], [-0.5]], np.float32)
    for step in range(1, 4):
        obs, rewards, dones, infos = venv.step(actions)
        for i, single in enumerate(singles):
            single_obs, single_reward, _, truncated, _ = single.step(actions[i])
            assert dones[i] == truncated == (step == 3) and rewards[i] == pytest.approx(single_reward)
            if truncated:
                np.testing.assert_allclose(infos[i]["terminal_observation"], single_obs, atol=1e-5)
                assert infos[i]["episode"]["l"] == 3  # stable-baselines3's Monitor
                single_obs = single.reset()[0]
            np.testing.assert_allclose(obs[i], single_obs, atol=1e-5)
    venv.close()
    state = make_vec_env(3, seed=0, world="cheetah", task="run")
    assert state.reset().shape == (3, 17)
    state.close()
    with pytest.raises(ConfigError, match="n_envs must be a whole number >= 1"):
        make_vec_env(0)
    with pytest.raises(ConfigError, match="unknown vec_env 'threads'"):
        make_vec_env(2, vec_env="threads")
