"""Check an imitation reward before RL: the per-frame reward of episodes against a demo.

The TCN paper's reward at frame t of an episode is R = -alpha*d² - beta*sqrt(gamma + d²),
with d² the squared distance between the episode's embedding at frame t and the demo's
embedding at frame t (defaults alpha 0.5, beta 0.5, gamma 0.001; docs/rl.md says where they
come from). DEMO and EPISODES are sequence records (a .tfrecord file, a folder or a glob of
them) or videos (a folder of <seq>_view<k>.mp4, a video file, a glob of videos); --view
picks the view of records and of <seq>_view<k> folders (a single video file has one). A
multi-frame model embeds the clip ending at each frame, as in training.

An episode longer than the demo is an error with --align frame (the default: frame t
against the demo's frame t); --align time compares frame t with the demo's frame at the
same fraction of its length (the demo stretched or squeezed to each episode). Where the
true state is known (the state/<seq>.npz of a tcn synth cart-pole dataset), the task's
own reward (dm_control's swing-up reward from the state) is computed too, with the
Spearman rank correlation between it and the TCN reward per episode and over all frames.

Writes OUTDIR/reward.json (per episode: per-frame reward, mean, sum, length; true reward
and rank correlation where known) and OUTDIR/reward.png (the curves), and prints a table.

Example::

    tcn reward --checkpointdir runs/mvtcn --demo data/val/records/cartpole_0000.tfrecord \\
        --episodes data/val/records --outdir runs/mvtcn/reward
    tcn reward --checkpointdir runs/mvtcn --demo demo.mp4 --episodes 'episodes/*.mp4' \\
        --outdir out/reward --align time --device cuda
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Any

from timecontrast.cli.imitate import add_checkpoint_arguments
from timecontrast.rl.rewards import ALPHA, BETA, GAMMA

log = logging.getLogger(__name__)

JSON_NAME = "reward.json"
PNG_NAME = "reward.png"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_checkpoint_arguments(parser)
    parser.add_argument(
        "--demo",
        required=True,
        help="the demonstration: records (a .tfrecord file, folder or glob) or videos (a video file or folder)",
    )
    parser.add_argument(
        "--episodes", required=True, help="the episodes to score: records or videos, as --demo (a folder, glob, file)"
    )
    parser.add_argument("--view", type=int, default=0, help="the view of the episodes (default: 0)")
    parser.add_argument("--demo_view", type=int, default=None, help="the view of the demo (default: --view)")
    parser.add_argument(
        "--demo_sequence",
        default="",
        help="the demo's sequence name when --demo holds several (default: --demo must hold exactly one)",
    )
    parser.add_argument(
        "--align",
        choices=("frame", "time"),
        default="frame",
        help="frame: frame t against the demo's frame t (an episode longer than the demo is an error); "
        "time: against the demo's frame at the same fraction of its length (default: frame)",
    )
    parser.add_argument("--num_episodes", type=int, default=-1, help="score the first N episodes (-1: all)")
    parser.add_argument("--alpha", type=float, default=ALPHA, help=f"weight of d² (default: {ALPHA})")
    parser.add_argument("--beta", type=float, default=BETA, help=f"weight of sqrt(gamma + d²) (default: {BETA})")
    parser.add_argument(
        "--gamma", type=float, default=GAMMA, help=f"smoothing inside the square root (default: {GAMMA})"
    )


def _source(seq: Any) -> str:
    """The file(s) a sequence was read from."""
    if hasattr(seq, "paths"):  # VideoSequence
        return ", ".join(str(p) for p in seq.paths)
    return str(getattr(seq, "path", seq.name))


def _view_of(seq: Any, view: int, flag: str) -> int:
    """``view``, checked against the sequence; a single video file has only view 0."""
    from timecontrast.data.videos import VideoSequence
    from timecontrast.errors import ConfigError

    if isinstance(seq, VideoSequence) and seq.num_views == 1:
        return 0
    if not 0 <= view < seq.num_views:
        raise ConfigError(
            f"{_source(seq)}: sequence '{seq.name}' has {seq.num_views} view(s) (0..{seq.num_views - 1}), "
            f"no view {view}; choose another {flag}"
        )
    return view


def _pick_demo(sequences: list, args: argparse.Namespace) -> Any:
    from timecontrast.errors import ConfigError

    if args.demo_sequence:
        found = [s for s in sequences if s.name == args.demo_sequence]
        if not found:
            names = ", ".join(s.name for s in sequences[:8]) + (" ..." if len(sequences) > 8 else "")
            raise ConfigError(f"--demo {args.demo}: no sequence named '{args.demo_sequence}' (it holds: {names})")
        return found[0]
    if len(sequences) > 1:
        names = ", ".join(s.name for s in sequences[:8]) + (" ..." if len(sequences) > 8 else "")
        raise ConfigError(
            f"--demo {args.demo} holds {len(sequences)} sequences ({names}); pass one file, or choose one "
            "with --demo_sequence NAME"
        )
    return sequences[0]


def _check_settings(args: argparse.Namespace) -> None:
    from timecontrast.errors import ConfigError

    for flag in ("alpha", "beta", "gamma"):
        value = getattr(args, flag)
        if not math.isfinite(value) or value < 0:
            raise ConfigError(f"--{flag} must be a finite number >= 0, got {value}")
    if args.num_episodes == 0:
        raise ConfigError("--num_episodes 0 scores nothing; use -1 for all or a positive number")


def _format_number(value: float | None, width: int) -> str:
    return ("-" if value is None or math.isnan(value) else f"{value:.4f}").rjust(width)


def _print_table(report: Any) -> None:
    width = max([7] + [len(e.name) for e in report.episodes])
    head = f"{'episode'.ljust(width)}  {'frames':>6}  {'mean reward':>12}  {'true mean':>10}  {'spearman':>9}"
    print(head)
    print("-" * len(head))
    for e in report.episodes:
        true_mean = float(e.true_reward.mean()) if e.true_reward is not None else None
        print(
            f"{e.name.ljust(width)}  {e.length:>6}  {_format_number(e.mean, 12)}  "
            f"{_format_number(true_mean, 10)}  {_format_number(e.spearman, 9)}"
        )
    if report.true_reward is not None:
        print(f"rank correlation over all frames (spearman): {_format_number(report.spearman_overall, 0).strip()}")
        print(f"true reward: {report.true_reward}")


def run(args: argparse.Namespace) -> int:
    from timecontrast.cli.imitate import EmbeddingSetup
    from timecontrast.data.sources import open_sequence_source
    from timecontrast.errors import DataError
    from timecontrast.io.files import remove_stale_temporaries, write_text
    from timecontrast.progress import Progress
    from timecontrast.rl.reward_report import check_episode_length, score_episodes
    from timecontrast.viz.reward_plots import plot_reward_curves

    start = time.perf_counter()
    # Cheap checks first, before loading the model and embedding.
    _check_settings(args)
    try:
        demo_seq = _pick_demo(open_sequence_source(args.demo), args)
    except DataError as exc:
        raise DataError(f"--demo: {exc}") from None
    try:
        episodes = open_sequence_source(args.episodes)
    except DataError as exc:
        raise DataError(f"--episodes: {exc}") from None
    if args.demo_view is None:
        demo_view = _view_of(demo_seq, args.view, "--view (or set --demo_view)")
    else:
        demo_view = _view_of(demo_seq, args.demo_view, "--demo_view")
    # The demo itself among the episodes (same file, same sequence, same view) would score perfectly.
    skipped = [
        s
        for s in episodes
        if s.name == demo_seq.name and _source(s) == _source(demo_seq) and _view_of(s, args.view, "--view") == demo_view
    ]
    episodes = [s for s in episodes if s not in skipped]
    if args.num_episodes > 0:
        episodes = episodes[: args.num_episodes]
    if not episodes:
        raise DataError(f"--episodes {args.episodes}: no episode left to score (the only sequence is the demo)")
    views = [_view_of(s, args.view, "--view") for s in episodes]
    for s in episodes:
        check_episode_length(s.length, demo_seq.length, args.align, demo_name=demo_seq.name, episode_name=s.name)

    setup = EmbeddingSetup.from_args(args)
    embedder = setup.embedder
    print(f"checkpoint: {setup.checkpoint_label}")
    print(f"demo: '{demo_seq.name}' view {demo_view}, {demo_seq.length} frames ({_source(demo_seq)})")
    for s in skipped:
        print(f"  note: '{s.name}' is the demo itself; not scored")
    demo_embeddings = embedder.embed_sequence(demo_seq, [demo_view])[0]  # [T_demo, D]
    scored = []
    with Progress(total=len(episodes), desc="embed episodes", unit="episode", logger=log) as progress:
        for seq, view in zip(episodes, views, strict=True):
            embeddings = embedder.embed_sequence(seq, [view])[0]  # [T, D]
            scored.append((seq.name, _source(seq), embeddings, seq.state))
            progress.update(1)
    report = score_episodes(
        demo_embeddings, scored, args.align, args.alpha, args.beta, args.gamma, demo_name=demo_seq.name
    )

    outdir = Path(os.path.expanduser(args.outdir))
    outdir.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(outdir)  # what a killed earlier run was writing
    result = {
        "checkpoint": str(embedder.source),
        "step": embedder.step,
        "frames_per_clip": embedder.num_frames,
        "demo": {"name": demo_seq.name, "source": _source(demo_seq), "view": demo_view, "length": demo_seq.length},
        "view": args.view,
        **report.to_dict(),
    }
    write_text(outdir / JSON_NAME, json.dumps(result, indent=1) + "\n")
    curves = [(e.name, e.reward, e.true_reward) for e in report.episodes]
    title = f"imitation reward against '{demo_seq.name}' (align {args.align})"
    plot_reward_curves(outdir / PNG_NAME, curves, title, true_label="true reward")
    print()
    _print_table(report)
    for note in report.notes:
        print(f"  note: {note}")
    print(
        f"{len(report.episodes)} episodes: {outdir / JSON_NAME}, {outdir / PNG_NAME} "
        f"({time.perf_counter() - start:.1f} s)"
    )
    return 0
