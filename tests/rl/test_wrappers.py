"""The wrappers on any Gymnasium env with an image: clips as in training, rewards by hand."""

from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest

pytest.importorskip("gymnasium")
pytest.importorskip("stable_baselines3")

import gymnasium as gym
import torch
from stable_baselines3.common.vec_env import DummyVecEnv

from timecontrast.data.loaders import SequenceBatches
from timecontrast.data.samplers import BatchPlan, clip_indices
from timecontrast.errors import ConfigError, DataError, DependencyError
from timecontrast.rl.wrappers import (
    EmbeddingObservation,
    GoalReward,
    ImitationReward,
    VecEmbeddingObservation,
)

from .helpers import Blinker, pattern

ACTIONS = [0.5, -0.3, 1.0, 0.2, -1.0, 0.7, 0.1, -0.4]


def run(env, actions, seed=0):
    """Observations [T+1, ...], rewards [T] and infos of one episode."""
    obs, _ = env.reset(seed=seed)
    observations, rewards, infos = [obs], [], []
    for a in actions:
        obs, reward, _, _, info = env.step(np.array([a], np.float32))
        observations.append(obs)
        rewards.append(reward)
        infos.append(info)
    return np.stack(observations), np.array(rewards), infos


class _Frames:
    """A one-view sequence of given frames, as the training loader reads sequences."""

    def __init__(self, frames):
        self._frames = frames

    def frame(self, view, t):
        assert view == 0
        return self._frames[t]


class _EveryTimestep:
    """A sampler planning one item per timestep of sequence 0, view 0."""

    def __init__(self, length):
        self.length = length

    def sample(self, rng):
        t = np.arange(self.length, dtype=np.int64)
        zeros = np.zeros_like(t)
        return BatchPlan(sequence=zeros, view=zeros, timestep=t, label=t, num_pairs=0)


def test_multi_frame_observation_is_the_training_clip(multi_embedder):
    emb = multi_embedder
    env = EmbeddingObservation(Blinker(), emb)
    assert env.observation_space.shape == (8,) and env.observation_space.dtype == np.float32
    obs, _ = env.reset(seed=3)
    frames, observations, clips = [env.frame], [obs], [env.clips.clip()]
    for a in ACTIONS:
        obs, *_ = env.step(np.array([a], np.float32))
        frames.append(env.frame)
        observations.append(obs)
        clips.append(env.clips.clip())
    frames, observations = np.stack(frames), np.stack(observations)  # [9, 32, 32, 3], [9, 8]
    assert observations.dtype == np.float32 and observations.shape == (9, 8)
    np.testing.assert_array_equal(frames, Blinker().frames_of(ACTIONS, seed=3))  # the frames render() gave

    # The clip ending at t: frames t-4, t-2, t, the first frame repeated at the start.
    expected = {0: [0, 0, 0], 1: [0, 0, 1], 2: [0, 0, 2], 3: [0, 1, 3], 4: [0, 2, 4], 8: [4, 6, 8]}
    for t, indices in expected.items():
        assert clip_indices(t, 3, 2).tolist() == indices
        np.testing.assert_array_equal(clips[t], frames[indices])

    # Training's loader builds the same clips from the same frames: same embeddings.
    batches = SequenceBatches(
        [_Frames(frames)], _EveryTimestep(len(frames)), emb.transform, seed=0, num_frames=3, frame_stride=2
    )
    batch = batches.batch(0)
    assert batch["images"].shape == (9, 3, 3, 32, 32)
    trained_view = next(emb.embed_loader([batch]))["embeddings"]
    np.testing.assert_allclose(observations, trained_view, atol=1e-5)
    # And the evaluation path (tcn embed: a stream of frames) agrees too.
    np.testing.assert_allclose(observations, emb.embed_images(frames), atol=1e-5)
    # The clip matters: embedding frame t alone repeated would differ.
    alone = emb.embed_images(np.stack([np.repeat(f[None], 3, 0) for f in frames]))
    assert np.abs(alone[4:] - observations[4:]).max() > 1e-4


def test_a_new_episode_starts_a_new_clip(multi_embedder):
    env = EmbeddingObservation(Blinker(), multi_embedder)
    run(env, ACTIONS, seed=1)
    first, _ = env.reset(seed=5)
    np.testing.assert_array_equal(env.frame, Blinker().frames_of([], seed=5)[0])
    np.testing.assert_array_equal(env.clips.clip(), np.repeat(env.frame[None], 3, axis=0))  # nothing from before
    np.testing.assert_allclose(first, multi_embedder.embed_images(env.frame[None])[0], atol=1e-5)


def test_single_frame_observation_and_frame_stacking(single_embedder):
    emb = single_embedder
    frames = Blinker().frames_of(ACTIONS, seed=2)
    each = emb.embed_images(frames)  # [9, 8]
    observations, _, _ = run(EmbeddingObservation(Blinker(), emb), ACTIONS, seed=2)
    np.testing.assert_allclose(observations, each, atol=1e-5)

    stacked_env = EmbeddingObservation(Blinker(), emb, frames=3)
    assert stacked_env.observation_space.shape == (24,)
    stacked, _, _ = run(stacked_env, ACTIONS, seed=2)
    for t in range(len(frames)):
        np.testing.assert_allclose(stacked[t], each[clip_indices(t, 3, 1)].reshape(-1), atol=1e-5)
    assert np.allclose(stacked[0], np.tile(each[0], 3), atol=1e-5)


def test_frame_sources(single_embedder, multi_embedder):
    emb = single_embedder
    from_render, _, _ = run(EmbeddingObservation(Blinker(), emb), ACTIONS[:3], seed=4)
    from_obs, _, _ = run(EmbeddingObservation(Blinker(image_obs=True), emb), ACTIONS[:3], seed=4)
    np.testing.assert_allclose(from_render, from_obs, atol=1e-6)
    pixels = gym.wrappers.AddRenderObservation(Blinker(), render_only=False)  # {"state", "pixels"}
    from_dict, _, _ = run(EmbeddingObservation(pixels, emb), ACTIONS[:3], seed=4)
    np.testing.assert_allclose(from_dict, from_obs, atol=1e-6)
    with pytest.raises(ConfigError, match="render_mode"):
        EmbeddingObservation(Blinker(render_mode=None), emb)
    with pytest.raises(ConfigError, match="source='render'"):
        EmbeddingObservation(Blinker(), emb, source="observation")
    with pytest.raises(ConfigError, match="multi-frame model"):
        EmbeddingObservation(Blinker(), multi_embedder, frames=2)


class _GreyRender(Blinker):
    def render(self):
        return np.zeros((32, 32), np.float32)


def test_a_frame_that_is_not_rgb_is_a_clear_error(single_embedder):
    env = EmbeddingObservation(_GreyRender(), single_embedder)
    with pytest.raises(DataError, match=r"RGB frame \[H, W, 3\] uint8, got float32 \(32, 32\)"):
        env.reset(seed=0)


def hand_reward(d2, alpha, beta, gamma):
    return -alpha * d2 - beta * (gamma + d2) ** 0.5


def test_imitation_reward_against_a_hand_computation(single_embedder):
    emb = single_embedder
    rng = np.random.default_rng(0)
    demo = rng.normal(size=(len(ACTIONS) + 1, 8)).astype(np.float32)  # demonstration embeddings [T, D]
    frames = Blinker().frames_of(ACTIONS, seed=6)
    seen = emb.embed_images(frames)  # what the wrapper sees at each timestep
    env = ImitationReward(Blinker(), emb, demo, alpha=0.25, beta=2.0, gamma=0.01)
    _, rewards, infos = run(env, ACTIONS, seed=6)
    for t in range(1, len(frames)):
        d2 = float(((seen[t].astype(np.float64) - demo[t]) ** 2).sum())
        assert rewards[t - 1] == pytest.approx(hand_reward(d2, 0.25, 2.0, 0.01), rel=1e-5)
        assert infos[t - 1]["embedding_distance"] == pytest.approx(d2**0.5, rel=1e-5)
        assert infos[t - 1]["env_reward"] == pytest.approx(ACTIONS[t - 1])
    # "add" keeps the env's reward (the action here) and adds the imitation reward.
    added = ImitationReward(Blinker(), emb, demo, alpha=0.25, beta=2.0, gamma=0.01, mode="add")
    _, added_rewards, _ = run(added, ACTIONS, seed=6)
    np.testing.assert_allclose(added_rewards, rewards + np.array(ACTIONS), rtol=1e-5)


def test_imitating_its_own_frames_gives_the_best_reward(multi_embedder):
    frames = Blinker().frames_of(ACTIONS, seed=8)  # the demonstration: this very episode, as frames
    env = ImitationReward(Blinker(), multi_embedder, frames)
    _, rewards, infos = run(env, ACTIONS, seed=8)
    best = hand_reward(0.0, env.alpha, env.beta, env.gamma)  # -beta * sqrt(gamma)
    np.testing.assert_allclose(rewards, best, atol=1e-5)
    assert max(i["embedding_distance"] for i in infos) < 1e-3
    # Another episode is further from the demonstration.
    _, other, _ = run(env, ACTIONS, seed=9)
    assert other.mean() < best - 1e-4
    # Over an EmbeddingObservation of the same embedder the observation is reused: same rewards.
    shared = ImitationReward(EmbeddingObservation(Blinker(), multi_embedder), multi_embedder, frames)
    assert shared.shared
    _, shared_rewards, _ = run(shared, ACTIONS, seed=9)
    np.testing.assert_allclose(shared_rewards, other, atol=1e-6)


def test_a_demonstration_shorter_than_the_episode(single_embedder):
    demo = np.zeros((4, 8), np.float32)
    limited = gym.wrappers.TimeLimit(Blinker(), max_episode_steps=5)
    with pytest.raises(DataError, match="has 4 frames .* up to 5 steps.* needs 6 frames"):
        ImitationReward(limited, single_embedder, demo)
    env = ImitationReward(Blinker(), single_embedder, demo)  # no known limit: the step says it
    env.reset(seed=0)
    for _ in range(3):
        env.step(np.array([0.1], np.float32))
    with pytest.raises(DataError, match="step 4: the demonstration has only 4 frames"):
        env.step(np.array([0.1], np.float32))
    with pytest.raises(DataError, match=r"\[T, 8\]"):
        ImitationReward(Blinker(), single_embedder, np.zeros((10, 5), np.float32))
    with pytest.raises(ConfigError, match="alpha"):
        ImitationReward(Blinker(), single_embedder, np.zeros((10, 8), np.float32), alpha=-1.0)
    with pytest.raises(ConfigError, match="reward mode"):
        ImitationReward(Blinker(), single_embedder, np.zeros((10, 8), np.float32), mode="swap")


def test_goal_reward_xirl(single_embedder):
    rng = np.random.default_rng(1)
    demos = [rng.normal(size=(6, 8)), rng.normal(size=(9, 8)), rng.normal(size=(4, 8))]
    goal = np.mean([d[-1] for d in demos], axis=0)
    scale = 1.0 / np.mean([np.linalg.norm(d[0] - goal) for d in demos])
    env = GoalReward(Blinker(), single_embedder, [d.astype(np.float32) for d in demos])
    np.testing.assert_allclose(env.goal, goal, atol=1e-6)
    assert env.scale == pytest.approx(scale, rel=1e-5)
    seen = single_embedder.embed_images(Blinker().frames_of(ACTIONS, seed=2))
    _, rewards, infos = run(env, ACTIONS, seed=2)
    for t in range(1, len(seen)):
        distance = np.linalg.norm(seen[t] - goal)
        assert rewards[t - 1] == pytest.approx(-scale * distance, rel=1e-5)
        assert infos[t - 1]["goal_distance"] == pytest.approx(distance, rel=1e-5)
    # Demonstrations as frames: one that ends where it starts has no scale.
    still = np.repeat(pattern(0)[None], 5, axis=0)
    with pytest.raises(DataError, match="start at their goal"):
        GoalReward(Blinker(), single_embedder, still)
    frames_env = GoalReward(Blinker(), single_embedder, Blinker().frames_of(ACTIONS, seed=2))
    _, frame_rewards, _ = run(frames_env, ACTIONS, seed=2)
    assert frame_rewards[-1] == pytest.approx(0.0, abs=1e-5)  # the last frame is the goal
    assert frame_rewards[0] < frame_rewards[-1]


def test_vec_wrapper_embeds_every_env_in_one_call(multi_embedder, monkeypatch):
    venv = DummyVecEnv([lambda: gym.wrappers.TimeLimit(Blinker(image_obs=True), 3) for _ in range(2)])
    venv.seed(10)
    wrapped = VecEmbeddingObservation(venv, multi_embedder)
    assert wrapped.observation_space.shape == (8,)
    calls = []
    original = multi_embedder.embed_images
    monkeypatch.setattr(multi_embedder, "embed_images", lambda x: calls.append(len(x)) or original(x))
    obs = wrapped.reset()
    assert obs.shape == (2, 8) and obs.dtype == np.float32 and calls == [2]
    singles = [
        EmbeddingObservation(gym.wrappers.TimeLimit(Blinker(image_obs=True), 3), multi_embedder) for _ in range(2)
    ]
    expected = [s.reset(seed=10 + i)[0] for i, s in enumerate(singles)]
    np.testing.assert_allclose(obs, expected, atol=1e-5)
    for step in range(1, 4):
        calls.clear()
        obs, _, dones, infos = wrapped.step(np.full((2, 1), 0.3, np.float32))
        ends = step == 3
        assert calls == [4 if ends else 2]  # the finished episodes' last frames in the same call
        for i, single in enumerate(singles):
            single_obs, _, _, truncated, _ = single.step(np.array([0.3], np.float32))
            assert dones[i] == truncated == ends
            if ends:
                np.testing.assert_allclose(infos[i]["terminal_observation"], single_obs, atol=1e-5)
                single_obs = single.reset()[0]  # the VecEnv reset it: a new clip
            np.testing.assert_allclose(obs[i], single_obs, atol=1e-5)
    with pytest.raises(ConfigError, match="obs='pixels'"):
        VecEmbeddingObservation(DummyVecEnv([Blinker]), multi_embedder)


def test_missing_rl_extra_is_a_dependency_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "gymnasium", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "timecontrast.rl.wrappers")
    with pytest.raises(DependencyError, match=r"pip install -e '\.\[rl\]'"):
        importlib.import_module("timecontrast.rl.wrappers")


def test_embedding_runs_without_gradients_on_the_embedders_device(single_embedder):
    seen = []
    hook = single_embedder.model.register_forward_hook(
        lambda module, inputs, output: seen.append((torch.is_grad_enabled(), inputs[0].device, module.training))
    )
    try:
        env = EmbeddingObservation(Blinker(), single_embedder)
        with torch.enable_grad():
            env.reset(seed=0)
            env.step(np.array([0.2], np.float32))
    finally:
        hook.remove()
    assert seen == [(False, single_embedder.device, False)] * 2
