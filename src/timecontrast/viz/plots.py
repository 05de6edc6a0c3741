"""PNG plots of embeddings: 2D PCA and t-SNE maps coloured by time, view and labels;
trajectories of whole sequences through the (PCA) embedding space; imitation alignment.

Uses matplotlib's object API (``Figure`` + Agg), never pyplot, so no global figure
state and no display is needed. PCA and t-SNE come from scikit-learn.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from timecontrast.errors import DataError
from timecontrast.io.files import atomic_path

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from sklearn.decomposition import PCA

    from timecontrast.data.sequence import EmbeddedSequence
    from timecontrast.viz.matching import ImitationMatch, ImitationPair
    from timecontrast.viz.projector import FrameSample

logger = logging.getLogger(__name__)

MAX_CATEGORIES = 20  # more distinct values than this are drawn with a continuous colour map


def _save(fig: Figure, path: str | os.PathLike, dpi: int = 100) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    return Path(path)


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


# ------------------------------------------------------------------------ projections
def pca_2d(embeddings: np.ndarray, seed: int = 0) -> tuple[np.ndarray, PCA]:
    """``[N, D] -> [N, 2]`` principal components, and the fitted PCA (to project more points)."""
    from sklearn.decomposition import PCA

    x = np.asarray(embeddings, np.float64)
    if len(x) < 2:
        raise DataError(f"PCA needs at least 2 embeddings, got {len(x)}; embed more frames (--num_embed)")
    pca = PCA(n_components=min(2, x.shape[1]), random_state=seed).fit(x)
    points = pca.transform(x)
    if points.shape[1] == 1:  # 1-D embeddings: a flat second axis
        points = np.concatenate([points, np.zeros_like(points)], axis=1)
    return points, pca


def tsne_2d(embeddings: np.ndarray, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """``[N, D] -> [N, 2]`` t-SNE map (PCA initialisation; perplexity clamped below N / 3)."""
    from sklearn.manifold import TSNE

    x = np.asarray(embeddings, np.float64)
    if len(x) < 4:
        raise DataError(f"t-SNE needs at least 4 embeddings, got {len(x)}; embed more frames (--num_embed)")
    p = min(perplexity, max(1.0, (len(x) - 1) / 3))
    if p != perplexity:
        logger.warning("t-SNE perplexity %.1f is too large for %d points; using %.1f", perplexity, len(x), p)
    tsne = TSNE(n_components=2, perplexity=p, init="pca", learning_rate="auto", random_state=seed)
    return tsne.fit_transform(x)


# -------------------------------------------------------------------------- colourings
@dataclass
class Colouring:
    """Per-point values to colour a scatter by."""

    name: str
    values: np.ndarray  # [N]
    categorical: bool
    missing: int | None = None  # value meaning "unknown" (drawn grey)
    class_names: list[str] | None = None  # legend text of categorical values 0, 1, ...


def sample_colourings(sample: FrameSample) -> list[Colouring]:
    """Normalised time, view, then one colouring per label attribute."""
    out = [
        Colouring("time (normalised)", sample.time, categorical=False),
        Colouring("view", sample.view, categorical=True),
    ]
    for key, values in sorted(sample.labels.items()):
        known = values[values >= 0]
        categorical = len(np.unique(known)) <= MAX_CATEGORIES
        out.append(Colouring(key, values, categorical, missing=-1, class_names=sample.class_names.get(key)))
    return out


def _scatter(fig: Figure, ax, points: np.ndarray, colouring: Colouring) -> None:
    vals = np.asarray(colouring.values)
    known = np.ones(len(vals), bool) if colouring.missing is None else vals != colouring.missing
    if (~known).any():
        ax.scatter(points[~known, 0], points[~known, 1], s=6, c="lightgrey", label="n/a", linewidths=0)
    if colouring.categorical:
        cats = np.unique(vals[known])
        cmap = "tab10" if len(cats) <= 10 else "tab20"
        import matplotlib

        colours = matplotlib.colormaps[cmap]
        for i, c in enumerate(cats):
            sel = known & (vals == c)
            names = colouring.class_names or []
            label = names[int(c)] if 0 <= int(c) < len(names) else str(c)
            ax.scatter(points[sel, 0], points[sel, 1], s=6, color=colours(i % colours.N), label=label, linewidths=0)
        ax.legend(title=colouring.name, fontsize="x-small", title_fontsize="small", markerscale=2, loc="best")
    else:
        sc = ax.scatter(points[known, 0], points[known, 1], s=6, c=vals[known], cmap="viridis", linewidths=0)
        fig.colorbar(sc, ax=ax, shrink=0.8)
    ax.set_title(f"coloured by {colouring.name}", fontsize="medium")
    ax.set_xticks([])
    ax.set_yticks([])


def plot_embedding_2d(path: str | os.PathLike, points: np.ndarray, colourings: Sequence[Colouring], title: str) -> Path:
    """One scatter of ``points [N, 2]`` per colouring, in a grid, saved as a PNG."""
    n = len(colourings)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig = _figure(4.2 * cols, 3.8 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax, colouring in zip(axes, colourings):
        _scatter(fig, ax, points, colouring)
    for ax in axes[n:]:
        ax.set_visible(False)
    fig.suptitle(title)
    return _save(fig, path)


def plot_trajectories(
    path: str | os.PathLike,
    pca: PCA,
    sequences: Sequence[EmbeddedSequence],
    background: np.ndarray | None = None,
    title: str = "trajectories through the embedding space (PCA)",
) -> Path:
    """Each sequence's path through the first two principal components, one panel per
    sequence, one line per view coloured by normalised time (start ``o``, end ``s``)."""
    from matplotlib.collections import LineCollection

    n = len(sequences)
    if n == 0:
        raise DataError("no sequences to draw trajectories of")
    cols = min(2, n)
    rows = math.ceil(n / cols)
    fig = _figure(5.0 * cols, 4.2 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    styles = ["solid", "dashed", "dotted", "dashdot"]
    lc = None
    for ax, seq in zip(axes, sequences):
        if background is not None:
            ax.scatter(background[:, 0], background[:, 1], s=3, c="lightgrey", linewidths=0)
        time = np.linspace(0, 1, seq.length)
        for row, v in enumerate(seq.views):
            pts = pca.transform(np.asarray(seq.embeddings[row], np.float64))  # [T, 2]
            if pts.shape[1] == 1:
                pts = np.concatenate([pts, np.zeros_like(pts)], axis=1)
            segs = np.stack([pts[:-1, :2], pts[1:, :2]], axis=1)  # [T-1, 2, 2]
            # LineCollection documents an [M, N, 2] array of segments; its stubs accept only a Sequence.
            lc = LineCollection(segs, cmap="viridis", linestyles=styles[v % len(styles)], linewidths=1.5)  # type: ignore[arg-type]
            lc.set_array(time[:-1])
            lc.set_clim(0, 1)
            ax.add_collection(lc)
            ax.plot(*pts[0, :2], "o", color="black", markersize=4)
            ax.plot(*pts[-1, :2], "s", color="black", markersize=4)
            ax.plot([], [], linestyle=styles[v % len(styles)], color="grey", label=f"view {v}")  # legend entry
        ax.autoscale()
        ax.set_title(seq.name, fontsize="medium")
        ax.legend(fontsize="x-small", loc="best")
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[n:]:
        ax.set_visible(False)
    if lc is not None:
        fig.colorbar(lc, ax=list(axes[:n]), shrink=0.6, label="time (normalised)")
    fig.suptitle(title + " (o start, s end)")
    return _save(fig, path)


def plot_alignment(path: str | os.PathLike, pair: ImitationPair, match: ImitationMatch) -> Path:
    """Query time against matched target time (both normalised to [0, 1]), diagonal for reference.

    In multi mode the points are coloured by the target sequence they fall in.
    """
    import matplotlib

    tq = pair.query.length
    lengths = np.array([t.length for t in pair.targets])
    x = np.arange(tq) / max(tq - 1, 1)
    y = match.target_frame / np.maximum(lengths[match.target_index] - 1, 1)
    fig = _figure(5.0, 4.6)
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], "--", color="grey", linewidth=1, label="diagonal")
    if len(pair.targets) == 1:
        ax.plot(x, y, "-o", markersize=2.5, linewidth=0.8, color="tab:orange", label=pair.targets[0].name)
    else:
        colours = matplotlib.colormaps["tab20"]
        for k in np.unique(match.target_index):
            sel = match.target_index == k
            label = pair.targets[k].name if len(pair.targets) <= 10 else None
            ax.scatter(x[sel], y[sel], s=8, color=colours(int(k) % colours.N), label=label, linewidths=0)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(f"query time ({pair.query.name} view {pair.query_view}, {tq} frames)")
    ax.set_ylabel(f"matched target time (view {pair.target_view})")
    err = float(np.mean(np.abs(x - y)))
    ax.set_title(f"{pair.name}\nmean |query - match| time {err:.3f}", fontsize="small")
    ax.legend(fontsize="x-small", loc="best")
    return _save(fig, path)


# ------------------------------------------------------------------------------ bundle
def write_embedding_plots(
    outdir: str | os.PathLike,
    sample: FrameSample,
    sequences: Sequence[EmbeddedSequence],
    tsne: bool = True,
    perplexity: float = 30.0,
    num_trajectories: int = 4,
    seed: int = 0,
) -> list[Path]:
    """``pca.png``, ``tsne.png`` (optional) and ``trajectories.png`` (the first
    ``num_trajectories`` sequences that have frames) under ``outdir``."""
    outdir = Path(outdir)
    colourings = sample_colourings(sample)
    points, pca = pca_2d(sample.embeddings, seed)
    ratio = pca.explained_variance_ratio_
    paths = [plot_embedding_2d(outdir / "pca.png", points, colourings, f"PCA ({100 * ratio.sum():.0f}% of variance)")]
    if tsne:
        tpoints = tsne_2d(sample.embeddings, seed, perplexity)
        paths.append(plot_embedding_2d(outdir / "tsne.png", tpoints, colourings, "t-SNE"))
    drawable = [s for s in sequences if s.length > 0]  # a sequence of 0 frames has no path to draw
    if num_trajectories > 0 and drawable:
        paths.append(plot_trajectories(outdir / "trajectories.png", pca, drawable[:num_trajectories], points))
    return paths
