"""Nearest-neighbour imitation videos: each frame of a query video beside its nearest frame
(in embedding space) in a target video, as the original release's generate_videos.

Modes: single (every query sequence against every target sequence, --query_view vs
--target_view), multi (each query against the pooled frames of many target sequences,
its own sequence left out), same (two views of one sequence). Embeddings are smoothed
over frames i-W..i+W (W = --smoothing_window, centred; 0 = off). Writes
<outdir>/q<seq>v<view>_im<seq>v<view>.mp4 (multi: q<seq>v<view>_multiv<view>.mp4), H.264
playable in a browser, one video frame per query frame at --fps, and beside each video
<name>_alignment.png (query time against matched target time); --gif adds <name>.gif.

Example:
    tcn imitate --checkpointdir runs/pouring --outdir runs/pouring/imitation \\
        --query_records_dir data/val/records --mode single --num_query_sequences 2
    tcn imitate --checkpointdir runs/demo --checkpoint_iter 2000 --outdir out/multi \\
        --mode multi --query_records_dir data/val/records --target_records_dir data/train/records \\
        --num_multi_targets 5 --fps 10 runtime.device=cpu
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from timecontrast.cli.common import add_config_arguments
from timecontrast.data.sequence import EmbeddedSequence
from timecontrast.io.files import remove_stale_temporaries
from timecontrast.viz.imitation import MODES

if TYPE_CHECKING:
    from timecontrast.config import TCNConfig
    from timecontrast.inference import Embedder


def add_checkpoint_arguments(parser: argparse.ArgumentParser) -> None:
    """``--checkpointdir``, ``--checkpoint_iter``, ``--outdir`` and the config options (shared with ``tcn project``)."""
    parser.add_argument(
        "--checkpointdir", required=True, help="a training log directory (or one checkpoint file ckpt-<step>.pt)"
    )
    parser.add_argument(
        "--checkpoint_iter", type=int, default=None, help="the checkpoint step to use (default: the latest)"
    )
    parser.add_argument("--outdir", required=True, help="where outputs are written (created if needed)")
    parser.add_argument(
        "--device", default="", help="cpu | cuda | cuda:N (default: runtime.device when given, else auto)"
    )
    add_config_arguments(parser)


def _user_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The keys set by --config_paths, --model_params and key=value, as one nested dict
    (the original release's keys mapped or ignored with a warning, as ``tcn train`` does)."""
    from timecontrast.config.loader import load_user_settings

    return load_user_settings(args.config_paths, args.model_params or None, args.overrides)


@dataclass
class EmbeddingSetup:
    """A checkpoint's embedder, with the command line's settings applied to its config."""

    embedder: Embedder
    checkpoint_label: str

    @property
    def cfg(self) -> TCNConfig:
        return self.embedder.cfg

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> EmbeddingSetup:
        """Load ``--checkpointdir`` (``--checkpoint_iter``); the run's own config, then the
        user's files and overrides (e.g. ``data.embed_batch_size``, ``runtime.device``)."""
        from omegaconf import OmegaConf

        from timecontrast.config import config_from_dict, config_to_dict
        from timecontrast.inference import Embedder
        from timecontrast.models import load_trained_model

        trained = load_trained_model(args.checkpointdir, args.checkpoint_iter)
        user = _user_settings(args)
        cfg = trained.config
        if user:
            merged = OmegaConf.merge(OmegaConf.create(config_to_dict(cfg)), OmegaConf.create(user))
            # A merge of two dict configs with string keys: a dict with string keys.
            cfg = config_from_dict(cast(dict[str, Any], OmegaConf.to_container(merged)), "--config_paths / overrides")
        device = args.device or user.get("runtime", {}).get("device") or "auto"
        embedder = Embedder(trained.model, cfg, device, step=trained.step, source=str(trained.path))
        return cls(embedder, f"{trained.path} (step {trained.step}) on {embedder.device}")

    def embed_records(
        self, records: str | os.PathLike, num_sequences: int, role: str, views: list[int] | None = None
    ) -> list[EmbeddedSequence]:
        """Embed ``views`` (None: every view) of the first ``num_sequences`` sequences
        (-1: all) under ``records``, with a progress bar on a terminal (progress lines elsewhere)."""
        from timecontrast.data.records import open_sequences
        from timecontrast.errors import ConfigError
        from timecontrast.progress import Progress

        sequences = open_sequences(records)
        if num_sequences >= 0:
            sequences = sequences[:num_sequences]
        out = []
        with Progress(total=len(sequences), desc=f"embed {role}", unit="seq", units="sequences") as bar:
            for seq in sequences:
                wanted = list(range(seq.num_views)) if views is None else views
                bad = [v for v in wanted if not 0 <= v < seq.num_views]
                if bad:
                    raise ConfigError(
                        f"{seq.path}: sequence '{seq.name}' has {seq.num_views} views (0..{seq.num_views - 1}), "
                        f"no view {bad[0]}; choose other --query_view / --target_view"
                    )
                out.append(EmbeddedSequence(seq.name, self.embedder.embed_sequence(seq, wanted), seq, tuple(wanted)))
                bar.update(1)
        print(f"{role}: {len(out)} sequences from {records}")
        return out

    @staticmethod
    def same_records(a: str | os.PathLike, b: str | os.PathLike) -> bool:
        return os.path.realpath(os.path.expanduser(str(a))) == os.path.realpath(os.path.expanduser(str(b)))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_checkpoint_arguments(parser)
    parser.add_argument("--mode", choices=MODES, default="single", help="single | multi | same (default: single)")
    parser.add_argument("--query_records_dir", required=True, help="sequence records of the query videos")
    parser.add_argument(
        "--target_records_dir", default="", help="sequence records of the target videos (default: the query records)"
    )
    parser.add_argument("--query_view", type=int, default=1, help="view of the query sequences (default: 1)")
    parser.add_argument("--target_view", type=int, default=0, help="view of the target sequences (default: 0)")
    parser.add_argument(
        "--smoothing_window",
        type=int,
        default=5,
        help="average embeddings over frames i-W..i+W before matching (default: 5; 0 = no smoothing)",
    )
    parser.add_argument("--num_query_sequences", type=int, default=-1, help="the first N query sequences (-1: all)")
    parser.add_argument("--num_target_sequences", type=int, default=-1, help="the first N target sequences (-1: all)")
    parser.add_argument(
        "--num_multi_targets",
        type=int,
        default=-1,
        help="multi mode: pool the first N target sequences other than the query (-1: all)",
    )
    parser.add_argument("--fps", type=float, default=15.0, help="frame rate of the videos (default: 15)")
    parser.add_argument(
        "--min_panel_height",
        type=int,
        default=128,
        help="frames are scaled to at least this height in pixels so captions stay legible (default: 128)",
    )
    parser.add_argument("--no_alignment_plots", action="store_true", help="do not write <name>_alignment.png")
    parser.add_argument(
        "--gif", action="store_true", help="also write <name>.gif (animated GIF, for pages that cannot play mp4)"
    )


def run(args: argparse.Namespace) -> int:
    from timecontrast.errors import ConfigError
    from timecontrast.viz.imitation import plan_imitations, write_imitations

    # Cheap checks first, before minutes of embedding.
    if args.fps <= 0:
        raise ConfigError(f"--fps must be positive, got {args.fps}")
    if args.smoothing_window < 0:
        raise ConfigError(f"--smoothing_window must be >= 0, got {args.smoothing_window}")
    if args.mode == "same" and args.query_view == args.target_view:
        raise ConfigError(
            f"--mode same matches two views of one sequence; --query_view and --target_view are both {args.query_view}"
        )
    start = time.perf_counter()
    setup = EmbeddingSetup.from_args(args)
    print(f"checkpoint: {setup.checkpoint_label}")
    target_dir = args.target_records_dir or args.query_records_dir
    # The original reused the query embeddings when both sets are the same; then the
    # queries also need the target view. Only the views looked at are embedded.
    reuse = args.mode == "same" or (
        setup.same_records(target_dir, args.query_records_dir) and args.num_target_sequences == args.num_query_sequences
    )
    query_views = sorted({args.query_view, args.target_view}) if reuse else [args.query_view]
    queries = setup.embed_records(args.query_records_dir, args.num_query_sequences, "query", query_views)
    if args.mode == "same":
        targets = []
    elif reuse:
        targets = queries
    else:
        targets = setup.embed_records(target_dir, args.num_target_sequences, "target", [args.target_view])
    pairs = plan_imitations(queries, targets, args.mode, args.query_view, args.target_view, args.num_multi_targets)
    remove_stale_temporaries(args.outdir)  # what a killed earlier run was writing
    results = write_imitations(
        pairs,
        args.outdir,
        smoothing_window=args.smoothing_window,
        fps=args.fps,
        min_panel_height=args.min_panel_height,
        alignment_plots=not args.no_alignment_plots,
        gifs=args.gif,
    )
    for r in results:
        print(f"{r.video}  ({r.pair.query.length} frames, mean distance {r.match.distance.mean():.4f})")
    print(f"{len(results)} imitation videos in {Path(args.outdir)} ({time.perf_counter() - start:.1f} s)")
    return 0
