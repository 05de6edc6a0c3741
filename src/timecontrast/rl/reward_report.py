"""Checking an imitation reward before RL: per-frame rewards of episodes against a demo.

What ``tcn reward`` computes, as plain functions of embeddings and states:

- :func:`demo_for_episode`: the demonstration embedding the reward compares frame ``t``
  of an episode with: the demo's frame ``t`` (``align="frame"``, the TCN paper's reward;
  an episode longer than the demo is an error), or the demo's frame at the same
  normalised time (``align="time"``: the demo stretched or squeezed to the episode's
  length, nearest frame);
- :func:`true_reward_of`: the task's own reward per frame from the true state, where this
  project knows it (cart-pole swing-up: :func:`~timecontrast.rl.rewards.cartpole_swingup_reward`);
- :func:`rank_correlation`: Spearman's rank correlation of two reward curves;
- :func:`score_episodes`: all of it for a list of episodes, with the overall correlation
  (all episodes' frames pooled).
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from timecontrast.data.state import SequenceState
from timecontrast.errors import DataError
from timecontrast.rl.rewards import ALPHA, BETA, GAMMA, cartpole_swingup_reward, imitation_reward, squared_distances

logger = logging.getLogger(__name__)

ALIGNMENTS = ("frame", "time")

CARTPOLE_TRUE_REWARD = "dm_control cartpole swingup reward from the state (control taken as 0)"


def check_episode_length(
    length: int, demo_length: int, align: str = "frame", *, demo_name: str = "demo", episode_name: str = "episode"
) -> None:
    """Raise :class:`DataError` when ``align="frame"`` and the episode is longer than the demo
    (cheap: call it on the sequences' lengths before embedding them)."""
    if align == "frame" and length > demo_length:
        raise DataError(
            f"episode '{episode_name}' has {length} frames but the demo '{demo_name}' only {demo_length}: "
            "the reward at frame t needs the demo's frame t; use a demo at least as long, or "
            "--align time to stretch the demo over each episode by normalised time"
        )


def demo_for_episode(
    demo: np.ndarray, length: int, align: str = "frame", *, demo_name: str = "demo", episode_name: str = "episode"
) -> np.ndarray:
    """The demo embeddings ``[length, D]`` that frames ``0..length-1`` of an episode are compared with.

    Args:
        demo: ``[T_demo, D]`` embeddings of the demonstration.
        length: the episode's number of frames.
        align: ``frame`` (frame t against the demo's frame t) or ``time`` (against the
            demo's frame at the same fraction of its length).

    Raises:
        DataError: ``align="frame"`` and the episode is longer than the demo.
    """
    if align not in ALIGNMENTS:
        raise ValueError(f"align must be one of {ALIGNMENTS}, got {align!r}")
    demo = np.asarray(demo)
    if demo.ndim != 2 or len(demo) == 0:
        raise DataError(f"demo '{demo_name}' has embeddings of shape {demo.shape}, expected [T >= 1, D]")
    if align == "frame":
        check_episode_length(length, len(demo), align, demo_name=demo_name, episode_name=episode_name)
        return demo[:length]
    if length <= 1:
        return demo[:1].repeat(length, axis=0)
    index = np.rint(np.arange(length) * (len(demo) - 1) / (length - 1)).astype(np.int64)  # [length]
    return demo[index]


def true_reward_of(state: SequenceState | None) -> tuple[np.ndarray, str] | None:
    """``(reward [T], description)`` of the task the state comes from, or None when unknown.

    Cart-pole (positions ``slider`` and ``hinge_1``, velocity ``hinge_1``): the dense
    swing-up reward of dm_control. Other worlds: None.
    """
    if state is None:
        return None
    pos, vel = state.position_names, state.velocity_names
    if {"slider", "hinge_1"} <= set(pos) and "hinge_1" in vel:
        reward = cartpole_swingup_reward(
            state.position[:, pos.index("slider")],
            state.position[:, pos.index("hinge_1")],
            state.velocity[:, vel.index("hinge_1")],
        )
        return reward, CARTPOLE_TRUE_REWARD
    return None


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float | None:
    """Spearman's rank correlation of ``a`` and ``b`` (``[T]`` each); None when it is
    undefined (fewer than 3 values, or one of them constant)."""
    from scipy.stats import spearmanr

    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"rank_correlation: shapes differ ({a.shape} vs {b.shape})")
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rho = float(spearmanr(a, b).statistic)
    return None if math.isnan(rho) else rho


@dataclass
class EpisodeReward:
    """One episode's reward curve against the demo (and the true reward where known)."""

    name: str
    source: str
    reward: np.ndarray  # [T] imitation reward per frame
    true_reward: np.ndarray | None = None  # [T]
    spearman: float | None = None

    @property
    def length(self) -> int:
        return len(self.reward)

    @property
    def mean(self) -> float:
        return float(np.mean(self.reward)) if len(self.reward) else float("nan")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "source": self.source,
            "length": self.length,
            "mean": self.mean,
            "sum": float(np.sum(self.reward)),
            "reward": [float(r) for r in self.reward],
        }
        if self.true_reward is not None:
            out["true_reward"] = [float(r) for r in self.true_reward]
            out["true_mean"] = float(np.mean(self.true_reward))
            out["spearman"] = self.spearman
        return out


@dataclass
class RewardReport:
    """Every episode's rewards, with the settings and the pooled rank correlation."""

    episodes: list[EpisodeReward]
    align: str
    alpha: float
    beta: float
    gamma: float
    true_reward: str | None = None  # what the true reward is, when any episode has one
    spearman_overall: float | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "align": self.align,
            "alpha": self.alpha,
            "beta": self.beta,
            "gamma": self.gamma,
            "true_reward": self.true_reward,
            "spearman_overall": self.spearman_overall,
            "notes": list(self.notes),
            "episodes": [e.to_dict() for e in self.episodes],
        }


def score_episodes(
    demo: np.ndarray,
    episodes: Iterable[tuple[str, str, np.ndarray, SequenceState | None]],
    align: str = "frame",
    alpha: float = ALPHA,
    beta: float = BETA,
    gamma: float = GAMMA,
    demo_name: str = "demo",
) -> RewardReport:
    """The imitation reward of each episode against ``demo``, and its rank correlation with
    the true reward where the state gives one.

    Args:
        demo: ``[T_demo, D]`` demonstration embeddings.
        episodes: ``(name, source, embeddings [T, D], state or None)`` per episode.
        align, alpha, beta, gamma: see :func:`demo_for_episode` and
            :func:`~timecontrast.rl.rewards.imitation_reward`.

    Raises:
        DataError: an episode longer than the demo (``align="frame"``), or embeddings of
            another size than the demo's.
    """
    out: list[EpisodeReward] = []
    notes: list[str] = []
    described: str | None = None
    pooled: list[tuple[np.ndarray, np.ndarray]] = []
    for name, source, embeddings, state in episodes:
        embeddings = np.asarray(embeddings)
        if embeddings.ndim != 2 or embeddings.shape[1] != np.shape(demo)[-1]:
            raise DataError(
                f"episode '{name}' ({source}) has embeddings of shape {embeddings.shape}, "
                f"the demo's are [T, {np.shape(demo)[-1]}]; embed both with the same checkpoint"
            )
        reference = demo_for_episode(demo, len(embeddings), align, demo_name=demo_name, episode_name=name)
        reward = imitation_reward(squared_distances(embeddings, reference), alpha, beta, gamma)
        episode = EpisodeReward(name, source, reward)
        truth = true_reward_of(state)
        if truth is not None and len(truth[0]) != len(reward):
            notes.append(
                f"episode '{name}': its state has {len(truth[0])} frames, the episode {len(reward)}; "
                "no rank correlation for it (regenerate the state file)"
            )
            truth = None
        if truth is not None:
            episode.true_reward, described = truth
            episode.spearman = rank_correlation(reward, truth[0])
            pooled.append((reward, truth[0]))
        out.append(episode)
    overall = None
    if pooled:
        overall = rank_correlation(np.concatenate([p[0] for p in pooled]), np.concatenate([p[1] for p in pooled]))
    for note in notes:
        logger.warning(note)
    return RewardReport(out, align, alpha, beta, gamma, described, overall, notes)


__all__ = [
    "ALIGNMENTS",
    "CARTPOLE_TRUE_REWARD",
    "EpisodeReward",
    "RewardReport",
    "check_episode_length",
    "demo_for_episode",
    "rank_correlation",
    "score_episodes",
    "true_reward_of",
]
