"""Export embeddings for other tools: one npz or parquet file per sequence, and a manifest.

For every sequence under --records (and each of its views, or --views), the checkpoint's
[T, D] float32 embeddings with the sequence name, view, timestep and every per-frame label
(from the state files and labeled records beside the records, as tcn synth writes them),
and the true state where it is known. OUTDIR/manifest.json (model step, checkpoint,
config and weights hashes, embedding size, per sequence: file, views, length, labels) is
written last: its presence marks a complete export. Every file is written atomically; a
re-run skips the sequences already exported by the same model (--overwrite redoes them).
docs/data-format.md describes the files.

Example::

    tcn export --checkpointdir runs/demo --records data/val/records --format npz --outdir out/embeddings
    tcn export --checkpointdir runs/demo --checkpoint_iter 2000 --records data/val/records \\
        --format parquet --outdir out/parquet --views 0 --device cuda --batch_size 256
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--checkpointdir", required=True, help="a training log directory (or one checkpoint file ckpt-<step>.pt)"
    )
    parser.add_argument(
        "--checkpoint_iter", type=int, default=None, help="the checkpoint step to use (default: the latest)"
    )
    parser.add_argument(
        "--records", required=True, help="the sequence records to embed: a folder (e.g. data/val/records), file or glob"
    )
    parser.add_argument(
        "--format",
        default="npz",
        help="npz (one .npz per sequence) or parquet (one row per frame and view); default npz",
    )
    parser.add_argument("--outdir", required=True, help="where the files and manifest.json go (created if needed)")
    parser.add_argument(
        "--views", default="", help="comma-separated views to export, e.g. 0 or 1,0 (default: every view)"
    )
    parser.add_argument("--num_sequences", type=int, default=-1, help="export the first N sequences (-1 = all)")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="write every file again, also over an export of another model, format or views "
        "(default: skip the sequences already exported by this model; another export in OUTDIR is an error)",
    )
    parser.add_argument(
        "--device",
        default=None,
        help="auto | cpu | cuda | cuda:N (default: the checkpoint's runtime.device; a GPU it names that is not here: the CPU)",
    )
    parser.add_argument(
        "--batch_size", type=int, default=None, help="frames per forward pass (default: data.embed_batch_size)"
    )


def _views(text: str) -> list[int] | None:
    from timecontrast.errors import ConfigError

    if not text.strip():
        return None
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"--views {text!r}: give view numbers separated by commas, e.g. 0,1") from None


def run(args: argparse.Namespace) -> int:
    import torch

    from timecontrast.errors import ConfigError, DataError
    from timecontrast.export import check_format, check_outdir, check_records
    from timecontrast.inference import Embedder

    start = time.perf_counter()
    # Cheap checks first, before loading the model.
    check_format(args.format)
    outdir = Path(os.path.expanduser(args.outdir))
    try:
        check_outdir(outdir)
    except DataError as exc:
        raise DataError(f"--outdir {exc}") from None
    views = _views(args.views)
    if args.num_sequences == 0:
        raise ConfigError("--num_sequences 0 exports nothing; use -1 for all or a positive number")
    if args.batch_size is not None and args.batch_size < 1:
        raise ConfigError(f"--batch_size must be >= 1, got {args.batch_size}")
    try:
        check_records(args.records)
    except DataError as exc:
        raise DataError(f"--records {exc}") from None

    embedder = Embedder.from_checkpoint(args.checkpointdir, args.checkpoint_iter, args.device, args.batch_size)
    if embedder.cfg.runtime.num_threads > 0:
        torch.set_num_threads(embedder.cfg.runtime.num_threads)
    print(f"checkpoint: {embedder.source} (step {embedder.step}) on {embedder.device}")
    result = embedder.export(args.records, outdir, args.format, views, args.overwrite, args.num_sequences)
    count = result.exported + result.skipped
    already = f", {result.skipped} already exported" if result.skipped else ""
    print(
        f"{count} sequences ({result.num_rows} frames x views{already}) as {args.format}: {result.outdir} "
        f"(manifest: {result.manifest}; {time.perf_counter() - start:.1f} s)"
    )
    return 0
