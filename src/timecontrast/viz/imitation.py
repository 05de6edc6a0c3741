"""Nearest-neighbour imitation: match every frame of a query video to its nearest frame
in one or more target videos (in embedding space) and show the two side by side.

Works on plain arrays: each sequence is an
:class:`~timecontrast.data.sequence.EmbeddedSequence` (its embeddings ``[V, T, D]`` and,
for rendering, the :class:`~timecontrast.data.sequence.MultiViewSequence` that holds its
frames). The command line (``tcn imitate``) computes the embeddings. The matching itself
(smoothing, nearest neighbours) is :mod:`timecontrast.viz.matching`.

Modes, as the original release's ``generate_videos``:

- ``single``: every query sequence against every target sequence (query view vs target
  view), one video per pair, named ``q<seq>v<view>_im<seq>v<view>.mp4``;
- ``multi``: each query against the pooled frames of many target sequences, named
  ``q<seq>v<view>_multiv<view>.mp4``. Unlike the original, the query's own sequence
  (by name) is left out of the pool, so a match is never the query itself;
- ``same``: one view of a sequence against another view of the same sequence.

Embeddings are smoothed over time before matching: frames ``i - w .. i + w`` inclusive
(``w = smoothing_window``), a fix of the original's off-by-one (see
:mod:`timecontrast.viz.matching`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from timecontrast.data.sequence import EmbeddedSequence
from timecontrast.errors import ConfigError, DataError
from timecontrast.viz.files import safe_name
from timecontrast.viz.matching import ImitationMatch, ImitationPair, SmoothedEmbeddings, match_pair

logger = logging.getLogger(__name__)

MODES = ("single", "multi", "same")


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
    terminal and progress lines elsewhere (:mod:`timecontrast.progress`), True a bar
    always, False neither.
    """
    from timecontrast.progress import Progress
    from timecontrast.viz.panels import ImitationRenderer, write_imitation_gif, write_imitation_video
    from timecontrast.viz.plots import plot_alignment  # matplotlib loads only here

    if fps <= 0:
        raise ConfigError(f"--fps must be positive, got {fps}")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    smoothed = SmoothedEmbeddings(smoothing_window)
    total = sum(p.query.length for p in pairs) if videos else len(pairs)
    results: list[ImitationResult] = []
    mode = "auto" if progress is None else "bar" if progress else "off"
    with Progress(total=total, desc="imitate", unit="frame" if videos else "pair", mode=mode, logger=logger) as bar:
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
