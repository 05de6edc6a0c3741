"""Nearest-neighbour imitation: match every frame of a query video to its nearest frame
in one or more target videos (in embedding space) and show the two side by side.

Works on plain arrays: each sequence is an :class:`EmbeddedSequence` (its embeddings
``[V, T, D]`` and, for rendering, the :class:`~timecontrast.data.sequence.MultiViewSequence`
that holds its frames). The command line (``tcn imitate``) computes the embeddings.

Modes, as the original release's ``generate_videos``:

- ``single``: every query sequence against every target sequence (query view vs target
  view), one video per pair, named ``q<seq>v<view>_im<seq>v<view>.mp4``;
- ``multi``: each query against the pooled frames of many target sequences, named
  ``q<seq>v<view>_multiv<view>.mp4``. Unlike the original, the query's own sequence
  (by name) is left out of the pool, so a match is never the query itself;
- ``same``: one view of a sequence against another view of the same sequence.

Smoothing (a fix of the original's off-by-one): embedding ``i`` is replaced by the mean
of frames ``i - w .. i + w`` inclusive (``w = smoothing_window``; ``2w + 1`` frames,
clipped at the ends; ``0`` = no smoothing). The original averaged ``[i - w, i + w)``,
a window of ``2w`` frames that is not centred on ``i``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from timecontrast.errors import ConfigError, DataError
from timecontrast.viz.files import safe_name

logger = logging.getLogger(__name__)

MODES = ("single", "multi", "same")


@dataclass
class EmbeddedSequence:
    """A sequence's embeddings and, optionally, its frames (for rendering).

    ``embeddings[i]`` holds view ``views[i]``; ``views`` defaults to ``0 .. V-1``. Passing
    only some views (e.g. ``views=(1, 0)``) avoids embedding cameras nobody looks at.
    """

    name: str
    embeddings: np.ndarray  # [V, T, D]
    sequence: object | None = None  # a MultiViewSequence with frame(view, t); None = no rendering
    views: tuple[int, ...] | None = None  # the view of each row of embeddings

    def __post_init__(self) -> None:
        self.embeddings = np.asarray(self.embeddings)
        if self.embeddings.ndim != 3:
            raise DataError(
                f"sequence '{self.name}': embeddings must be [views, timesteps, dim], got shape {self.embeddings.shape}"
            )
        self.views = tuple(range(self.embeddings.shape[0])) if self.views is None else tuple(int(v) for v in self.views)
        if len(self.views) != self.embeddings.shape[0] or len(set(self.views)) != len(self.views):
            raise DataError(
                f"sequence '{self.name}': views {self.views} do not label the {self.embeddings.shape[0]} embedding rows"
            )

    @property
    def length(self) -> int:
        return self.embeddings.shape[1]

    def view_embeddings(self, view: int) -> np.ndarray:
        """``[T, D]`` embeddings of ``view``."""
        if view not in self.views:
            raise DataError(f"sequence '{self.name}': view {view} was not embedded (embedded views: {self.views})")
        return self.embeddings[self.views.index(view)]


@dataclass
class ImitationPair:
    """One output video: a query view matched against the pooled ``target_view`` frames of ``targets``."""

    name: str  # file stem, e.g. q<seq>v1_im<seq>v0
    mode: str
    query: EmbeddedSequence
    query_view: int
    targets: list[EmbeddedSequence]
    target_view: int


@dataclass
class ImitationMatch:
    """The nearest target frame of every query frame."""

    target_index: np.ndarray  # [Tq] int64: which of pair.targets
    target_frame: np.ndarray  # [Tq] int64: timestep within that target
    distance: np.ndarray  # [Tq] float64: Euclidean distance of the smoothed embeddings


# --------------------------------------------------------------------------- numerics
def smooth_embeddings(embeddings: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average over time: ``[T, D] -> [T, D]`` (float64).

    Row ``i`` is the mean of rows ``max(0, i - window) .. min(T - 1, i + window)``
    inclusive; ``window = 0`` returns the embeddings unchanged.
    """
    emb = np.asarray(embeddings, np.float64)  # [T, D]
    if window < 0:
        raise ConfigError(f"smoothing_window must be >= 0, got {window}")
    if window == 0 or len(emb) == 0:
        return emb.copy()
    t = np.arange(len(emb))
    lo = np.maximum(t - window, 0)
    hi = np.minimum(t + window + 1, len(emb))
    csum = np.concatenate([np.zeros((1, emb.shape[1])), np.cumsum(emb, axis=0)])  # [T + 1, D]
    return (csum[hi] - csum[lo]) / (hi - lo)[:, None]


def nearest_neighbours(
    query: np.ndarray, target: np.ndarray, max_elements: int = 1 << 23
) -> tuple[np.ndarray, np.ndarray]:
    """Index and Euclidean distance of the nearest ``target`` row of every ``query`` row.

    ``query [Q, D]``, ``target [N, D]`` -> ``(index [Q] int64, distance [Q] float64)``.
    The nearest row minimises ``|t|^2 - 2 q.t`` (``|q|^2`` is the same for every
    candidate), computed in float64 by blocks of query rows with at most
    ``max_elements`` values in memory; the reported distance is recomputed exactly from
    the chosen pair.
    """
    q = np.asarray(query, np.float64)
    t = np.asarray(target, np.float64)
    if t.shape[0] == 0:
        raise DataError("no target frames to match against")
    if q.shape[1] != t.shape[1]:
        raise DataError(f"query embeddings have dimension {q.shape[1]} but target embeddings {t.shape[1]}")
    t_sq = np.einsum("nd,nd->n", t, t)  # [N]
    block = max(1, max_elements // t.shape[0])
    index = np.empty(len(q), np.int64)
    for s in range(0, len(q), block):
        score = q[s : s + block] @ t.T  # [B, N], then in place: |t|^2 - 2 q.t
        score *= -2.0
        score += t_sq
        index[s : s + block] = score.argmin(axis=1)
    distance = np.linalg.norm(q - t[index], axis=1) if len(q) else np.zeros(0)
    return index, distance


# ------------------------------------------------------------------------ pair plans
def imitation_name(query: str, query_view: int, target: str | None, target_view: int) -> str:
    """File stem as the original: ``q<seq>v<view>_im<seq>v<view>`` or ``q<seq>v<view>_multiv<view>``."""
    if target is None:
        return f"q{safe_name(query)}v{query_view}_multiv{target_view}"
    return f"q{safe_name(query)}v{query_view}_im{safe_name(target)}v{target_view}"


def _check_view(seq: EmbeddedSequence, view: int, flag: str) -> None:
    if view not in seq.views:
        raise ConfigError(
            f"{flag} {view}: sequence '{seq.name}' has (embedded) views {list(seq.views)}; choose one of them"
        )


def plan_imitations(
    queries: Sequence[EmbeddedSequence],
    targets: Sequence[EmbeddedSequence],
    mode: str,
    query_view: int = 1,
    target_view: int = 0,
    num_multi_targets: int = -1,
) -> list[ImitationPair]:
    """The videos to make, in order. ``targets`` is ignored in ``same`` mode.

    ``num_multi_targets`` (multi mode, -1 = all): the first that many target sequences
    other than the query itself are pooled.
    """
    if mode not in MODES:
        raise ConfigError(f"--mode {mode!r}: choose one of {', '.join(MODES)}")
    if not queries:
        raise DataError("no query sequences; check --query_records_dir")
    if mode != "same" and not targets:
        raise DataError("no target sequences; check --target_records_dir")
    if mode == "same" and query_view == target_view:
        raise ConfigError(
            f"--query_view and --target_view are both {query_view} in mode 'same': every frame would match itself; "
            "choose two different views"
        )
    for q in queries:
        _check_view(q, query_view, "--query_view")
    for t in queries if mode == "same" else targets:
        _check_view(t, target_view, "--target_view")

    pairs: list[ImitationPair] = []
    for q in queries:
        if mode == "single":
            for t in targets:
                name = imitation_name(q.name, query_view, t.name, target_view)
                pairs.append(ImitationPair(name, mode, q, query_view, [t], target_view))
        elif mode == "same":
            name = imitation_name(q.name, query_view, q.name, target_view)
            pairs.append(ImitationPair(name, mode, q, query_view, [q], target_view))
        else:
            pool = [t for t in targets if t.name != q.name]
            if num_multi_targets > 0:
                pool = pool[:num_multi_targets]
            if not pool:
                raise DataError(
                    f"multi mode: no target sequence other than the query '{q.name}' itself; "
                    "give --target_records_dir more sequences"
                )
            name = imitation_name(q.name, query_view, None, target_view)
            pairs.append(ImitationPair(name, mode, q, query_view, pool, target_view))
    return pairs


class SmoothedEmbeddings:
    """Smoothed embeddings of (sequence, view), computed once and reused across pairs."""

    def __init__(self, window: int) -> None:
        self.window = window
        self._cache: dict[tuple[int, int], np.ndarray] = {}

    def __call__(self, seq: EmbeddedSequence, view: int) -> np.ndarray:
        key = (id(seq), view)
        if key not in self._cache:
            self._cache[key] = smooth_embeddings(seq.view_embeddings(view), self.window)  # [T, D]
        return self._cache[key]


def match_pair(
    pair: ImitationPair, smoothing_window: int = 5, smoothed: SmoothedEmbeddings | None = None
) -> ImitationMatch:
    """Match each query frame (smoothed) to its nearest smoothed frame among the pooled targets."""
    smoothed = smoothed or SmoothedEmbeddings(smoothing_window)
    query = smoothed(pair.query, pair.query_view)  # [Tq, D]
    parts = [smoothed(t, pair.target_view) for t in pair.targets]  # each [Ti, D]
    lengths = np.array([len(p) for p in parts])
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    owner = np.repeat(np.arange(len(parts)), lengths)  # [N]
    index, distance = nearest_neighbours(query, np.concatenate(parts))
    target_index = owner[index]
    return ImitationMatch(target_index.astype(np.int64), (index - offsets[target_index]).astype(np.int64), distance)


# -------------------------------------------------------------------------- outputs
@dataclass
class ImitationResult:
    pair: ImitationPair
    match: ImitationMatch
    video: Path | None
    alignment_plot: Path | None


def write_imitations(
    pairs: Sequence[ImitationPair],
    outdir: str | os.PathLike,
    smoothing_window: int = 5,
    fps: float = 15.0,
    min_panel_height: int = 128,
    videos: bool = True,
    alignment_plots: bool = True,
    progress: bool | None = None,
    gifs: bool = False,
) -> list[ImitationResult]:
    """Match every pair and write ``<outdir>/<pair.name>.mp4`` and ``<pair.name>_alignment.png``
    (``gifs``: also ``<pair.name>.gif``, an animated GIF for pages that cannot play video).

    One video frame per query frame at ``fps``. ``progress``: None shows a tqdm bar on a
    terminal only, True always, False never.
    """
    from tqdm.auto import tqdm

    from timecontrast.viz.panels import ImitationRenderer, write_imitation_gif, write_imitation_video
    from timecontrast.viz.plots import plot_alignment

    if fps <= 0:
        raise ConfigError(f"--fps must be positive, got {fps}")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    smoothed = SmoothedEmbeddings(smoothing_window)
    total = sum(p.query.length for p in pairs) if videos else len(pairs)
    results: list[ImitationResult] = []
    with tqdm(
        total=total,
        desc="imitate",
        unit="frame" if videos else "pair",
        disable=not progress if progress is not None else None,
    ) as bar:
        for pair in pairs:
            match = match_pair(pair, smoothing_window, smoothed)
            video = plot = None
            if alignment_plots:
                plot = plot_alignment(outdir / f"{pair.name}_alignment.png", pair, match)
            if videos:
                renderer = ImitationRenderer(pair, match, min_panel_height=min_panel_height)
                video = write_imitation_video(
                    outdir / f"{pair.name}.mp4", renderer, fps, on_frame=lambda: bar.update(1)
                )
                if gifs:
                    write_imitation_gif(outdir / f"{pair.name}.gif", renderer, fps=fps)
            else:
                bar.update(1)
            logger.info(
                "%s: %d frames, mean distance %.4f", pair.name, pair.query.length, float(np.mean(match.distance))
            )
            results.append(ImitationResult(pair, match, video, plot))
    return results
