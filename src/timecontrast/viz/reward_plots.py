"""PNG of reward curves: each episode's imitation reward per frame (and its true reward).

Uses matplotlib's object API (``Figure`` + Agg), never pyplot; written atomically.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from timecontrast.io.files import atomic_path

MAX_LEGEND_ENTRIES = 12  # more episodes than this are drawn without a legend


def plot_reward_curves(
    path: str | os.PathLike,
    curves: Sequence[tuple[str, np.ndarray, np.ndarray | None]],
    title: str,
    true_label: str = "true reward",
) -> Path:
    """One line per episode: ``(label, reward [T], true_reward [T] or None)``.

    The imitation reward is drawn on top; when any episode has a true reward, a second
    panel below draws it in the same colour, on the same frame axis.
    """
    from matplotlib.figure import Figure

    with_truth = any(c[2] is not None for c in curves)
    fig = Figure(figsize=(8.0, 6.5 if with_truth else 4.0), layout="constrained")
    axes = fig.subplots(2 if with_truth else 1, 1, sharex=True, squeeze=False)[:, 0]
    colours = [f"C{i % 10}" for i in range(len(curves))]
    for (label, reward, truth), colour in zip(curves, colours):
        axes[0].plot(np.arange(len(reward)), reward, color=colour, lw=1.2, label=label)
        if with_truth and truth is not None:
            axes[1].plot(np.arange(len(truth)), truth, color=colour, lw=1.2, label=label)
    axes[0].set_title(title, fontsize=10)
    axes[0].set_ylabel("imitation reward")
    axes[-1].set_xlabel("frame")
    if with_truth:
        axes[1].set_ylabel(true_label)
    for ax in axes:
        ax.grid(alpha=0.3)
    if 0 < len(curves) <= MAX_LEGEND_ENTRIES:
        axes[0].legend(fontsize=7, loc="best")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    return Path(path)


__all__ = ["plot_reward_curves"]
