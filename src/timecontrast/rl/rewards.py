"""Rewards from the embedding (pure functions of numpy arrays) and true task rewards.

**Imitation reward** (TCN paper, Sermanet et al. 2018, "Time-Contrastive Networks:
Self-Supervised Learning from Video", section "Learning with reinforcement learning"): with
``v_t`` the embedding of the demonstration at time ``t`` and ``w_t`` the embedding of what
the robot sees at time ``t``, ``d²_t = ||w_t - v_t||²`` and

    R(v_t, w_t) = -α·d²_t - β·sqrt(γ + d²_t)

a Huber-style loss (quadratic far from the demonstration, like |d| close to it, smooth at
0 within a radius of about sqrt(γ)) taken from the guided-policy-search cost the paper's
PILQR experiments use. The paper gives the formula but no values for α, β, γ. The
defaults here, ``ALPHA = 0.5``, ``BETA = 0.5``, ``GAMMA = 1e-3``, are those of a public
PyTorch reimplementation of the TCN imitation experiments (its ``RewardHelper``: alpha
0.5, beta 0.5, gamma 1e-3, on squared distances of unnormalised embeddings, as here).
The reward is at most ``-β·sqrt(γ)`` (≈ -0.016, at the demonstration) and falls without
bound. Scale: this project's embeddings are unnormalised (the triplet loss normalises
only inside the loss), so ``d²`` depends on the model: for the cart-pole multi-frame
model of ``configs/table1*.yaml`` (2000 steps), ``d²`` between frames of two different
validation sequences is about 20-120 (10th-90th percentile), so there the L2 term
dominates (R ≈ -0.5·d²) and the square-root term shapes the reward only within
``d² ≲ 1`` of the demonstration, where it keeps a slope that the L2 term lacks. For RL,
normalise the reward (e.g. stable-baselines3's ``VecNormalize``) or pass smaller
weights; change the three numbers with the functions' arguments (``tcn reward --alpha
--beta --gamma``).

**Goal reward** (XIRL, Zakka et al. 2021, google-research/xirl: ``compute_goal_embedding``
and the ``DistanceToGoalLearnedVisualReward`` wrapper): the goal is the mean embedding of
the demonstrations' final frames; the reward is minus the distance to it, times
``scale = 1 / mean distance of the demonstrations' first frames to the goal``, so that a
demonstration starts near -1 and ends near 0 (:func:`goal_from_demonstrations`).

**True cart-pole swing-up reward**: :func:`cartpole_swingup_reward` is the dense
``swingup`` reward of dm_control's ``suite/cartpole.py`` computed from the state sidecar
(``state/<seq>.npz``: slider position, pole angle, pole angular velocity), for checking
an embedding reward against the task's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ALPHA = 0.5  # weight of the squared distance d² (reimplementation's value; the paper gives none)
BETA = 0.5  # weight of the smoothed distance sqrt(γ + d²)
GAMMA = 1e-3  # smoothing of |d| near 0 (a radius of about sqrt(γ) ≈ 0.03 in embedding units)


def imitation_reward(
    squared_distances: np.ndarray | float,
    alpha: float = ALPHA,
    beta: float = BETA,
    gamma: float = GAMMA,
) -> np.ndarray:
    """The TCN paper's imitation reward ``-α·d² - β·sqrt(γ + d²)`` of squared distances ``d²``.

    Args:
        squared_distances: ``d²`` (any shape, e.g. ``[T]`` or ``[num_envs]``), >= 0.
        alpha, beta, gamma: the formula's weights (module defaults ``ALPHA``, ``BETA``,
            ``GAMMA``; see the module docstring for where they come from), all >= 0.

    Returns:
        float64 array of the same shape as ``squared_distances`` (0-d for a scalar).
    """
    for name, value in (("alpha", alpha), ("beta", beta), ("gamma", gamma)):
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"imitation_reward: {name} must be a finite number >= 0, got {value}")
    d2 = np.asarray(squared_distances, dtype=np.float64)
    if np.any(d2 < 0) or not np.all(np.isfinite(d2)):
        raise ValueError("imitation_reward: squared distances must be finite and >= 0")
    return np.asarray(-alpha * d2 - beta * np.sqrt(gamma + d2))


def squared_distances(embeddings: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``||embeddings[t] - reference[t]||²`` per row: ``[T, D]``, ``[T, D]`` (or ``[D]``) -> ``[T]``."""
    embeddings = np.asarray(embeddings, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if embeddings.shape[-1] != reference.shape[-1]:
        raise ValueError(f"squared_distances: embedding sizes differ ({embeddings.shape[-1]} vs {reference.shape[-1]})")
    return np.sum((embeddings - reference) ** 2, axis=-1)


def goal_reward(embeddings: np.ndarray, goal_mean: np.ndarray, scale: float) -> np.ndarray:
    """XIRL's goal reward ``-scale · ||embedding - goal_mean||``: ``[..., D]`` -> ``[...]`` float64."""
    if not np.isfinite(scale) or scale <= 0:
        raise ValueError(f"goal_reward: scale must be a finite number > 0, got {scale}")
    return -float(scale) * np.sqrt(squared_distances(embeddings, goal_mean))


def goal_from_demonstrations(demonstrations: Sequence[np.ndarray]) -> tuple[np.ndarray, float]:
    """The goal embedding and distance scale of :func:`goal_reward` from demonstrations, as XIRL.

    Args:
        demonstrations: one ``[T_i, D]`` embedding array per demonstration.

    Returns:
        ``(goal_mean [D], scale)``: the mean of the final frames' embeddings, and 1 over the
        mean distance of the first frames' embeddings to it.
    """
    if len(demonstrations) == 0:
        raise ValueError("goal_from_demonstrations: no demonstrations given")
    arrays = [np.asarray(d, dtype=np.float64) for d in demonstrations]
    for i, demo in enumerate(arrays):
        if demo.ndim != 2 or demo.shape[0] < 1:
            raise ValueError(f"goal_from_demonstrations: demonstration {i} has shape {demo.shape}, expected [T, D]")
    goal = np.mean(np.stack([d[-1] for d in arrays]), axis=0)
    spread = float(np.mean(np.sqrt(squared_distances(np.stack([d[0] for d in arrays]), goal))))
    if not spread > 0:
        raise ValueError(
            "goal_from_demonstrations: the demonstrations start at their goal (mean distance 0); "
            "use demonstrations whose first and last frames differ"
        )
    return goal, 1.0 / spread


def tolerance(
    x: np.ndarray | float,
    margin: float,
    sigmoid: str = "gaussian",
    value_at_margin: float = 0.1,
) -> np.ndarray:
    """dm_control's ``rewards.tolerance`` with ``bounds=(0, 0)``: 1 at 0, ``value_at_margin`` at ``margin``.

    Only the two sigmoids the cart-pole reward uses: ``gaussian`` (``exp(-(x·s)²/2)``,
    ``s = sqrt(-2 ln value_at_margin)``) and ``quadratic`` (``1 - (x·s)²`` clipped at 0,
    ``s = sqrt(1 - value_at_margin)``), with ``x`` in units of ``margin``.
    """
    x = np.abs(np.asarray(x, dtype=np.float64)) / margin
    if sigmoid == "gaussian":
        scale = np.sqrt(-2.0 * np.log(value_at_margin))
        return np.exp(-0.5 * (x * scale) ** 2)
    if sigmoid == "quadratic":
        scaled = x * np.sqrt(1.0 - value_at_margin)
        return np.where(np.abs(scaled) < 1.0, 1.0 - scaled**2, 0.0)
    raise ValueError(f"tolerance: unknown sigmoid {sigmoid!r} (gaussian, quadratic)")


def cartpole_swingup_reward(
    cart_position: np.ndarray,
    pole_angle: np.ndarray,
    pole_angular_velocity: np.ndarray,
    control: np.ndarray | None = None,
) -> np.ndarray:
    """dm_control's dense cart-pole ``swingup`` reward from the state, per frame, in [0, 1].

    ``upright · centered · small_control · small_velocity`` with ``upright = (cos θ + 1)/2``,
    ``centered = (1 + tolerance(x, margin=2))/2``, ``small_control = (4 + tolerance(u,
    margin=1, value_at_margin=0, quadratic))/5`` and ``small_velocity = (1 + tolerance(ω,
    margin=5))/2`` (θ = 0 upright). Recorded sequences do not store the control ``u``;
    without ``control`` it is taken as 0 (``small_control = 1``), so the value is the
    state-dependent part of the reward, at most 25% above the true one.

    Args:
        cart_position, pole_angle, pole_angular_velocity: ``[T]`` each (slider position in m,
            hinge angle in rad, hinge velocity in rad/s).
        control: ``[T]`` actions in [-1, 1], optional.
    """
    upright = (np.cos(np.asarray(pole_angle, dtype=np.float64)) + 1.0) / 2.0
    centered = (1.0 + tolerance(cart_position, margin=2.0)) / 2.0
    if control is None:
        small_control = np.ones_like(upright)
    else:
        small_control = (4.0 + tolerance(control, margin=1.0, sigmoid="quadratic", value_at_margin=0.0)) / 5.0
    small_velocity = (1.0 + tolerance(pole_angular_velocity, margin=5.0)) / 2.0
    return upright * centered * small_control * small_velocity
