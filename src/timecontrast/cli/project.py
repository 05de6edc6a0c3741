"""Embedding projector and plots: embed frames drawn at random from sequence records and
write a TensorBoard projector run (tensors, a sprite of thumbnails that keep their aspect
ratio, and a metadata table with sequence, view, timestep, time and every label), plus
pca.png, tsne.png (coloured by time, view and each label) and trajectories.png.

View the run with `tensorboard --logdir OUTDIR` (tab "Projector").

Example:
    tcn project --checkpointdir runs/pouring --outdir runs/pouring/projector \\
        --embedding_records data/val/records --num_embed 1000 --sprite_dim 64
    tensorboard --logdir runs/pouring/projector
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from timecontrast.io.files import remove_stale_temporaries


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from timecontrast.cli.imitate import add_checkpoint_arguments

    add_checkpoint_arguments(parser)
    parser.add_argument("--embedding_records", required=True, help="sequence records to embed (folder or glob)")
    parser.add_argument("--num_sequences", type=int, default=-1, help="the first N sequences (-1: all)")
    parser.add_argument(
        "--num_embed", type=int, default=1000, help="frames drawn at random over all views and sequences (-1: all)"
    )
    parser.add_argument("--sprite_dim", type=int, default=64, help="sprite thumbnail size in pixels (default: 64)")
    parser.add_argument(
        "--tsne", action=argparse.BooleanOptionalAction, default=True, help="draw tsne.png too (default: on)"
    )
    parser.add_argument("--perplexity", type=float, default=30.0, help="t-SNE perplexity (default: 30)")
    parser.add_argument("--num_trajectories", type=int, default=4, help="sequences drawn in trajectories.png (0: none)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the frame draw and plots (default: the run's)")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from timecontrast.cli.imitate import EmbeddingSetup
    from timecontrast.errors import ConfigError
    from timecontrast.viz.plots import write_embedding_plots
    from timecontrast.viz.projector import sample_frames, sample_thumbnails, write_projector

    if args.sprite_dim < 1:
        raise ConfigError(f"--sprite_dim must be positive, got {args.sprite_dim}")
    if args.num_embed == 0:
        raise ConfigError("--num_embed must be positive (or -1 for every frame)")
    start = time.perf_counter()
    setup = EmbeddingSetup.from_args(args)
    print(f"checkpoint: {setup.checkpoint_label}")
    sequences = setup.embed_records(args.embedding_records, args.num_sequences, "embedding")
    seed = int(setup.cfg.seed if args.seed is None else args.seed)
    sample = sample_frames(sequences, args.num_embed, np.random.default_rng(seed))
    thumbnails = sample_thumbnails(sample, sequences, args.sprite_dim)
    outdir = Path(args.outdir)
    remove_stale_temporaries(outdir)  # what a killed earlier run was writing
    config = write_projector(outdir, sample, thumbnails)
    plots = write_embedding_plots(
        outdir,
        sample,
        sequences,
        tsne=args.tsne,
        perplexity=args.perplexity,
        num_trajectories=args.num_trajectories,
        seed=seed,
    )
    print(
        f"projector: {len(sample)} embeddings of {len(sequences)} sequences, labels: {sorted(sample.labels) or 'none'}"
    )
    print(f"  {config}")
    for p in plots:
        print(f"  {p}")
    print(f"done in {time.perf_counter() - start:.1f} s; view it with:\n  tensorboard --logdir {outdir}")
    return 0
