"""Multi-view alignment error of checkpoints on the validation sequences.

For every validation sequence and ordered pair of views, each frame's nearest neighbour
in the other view (embedding distance) should be the same moment: the error is the mean
|t - t'| / length (0 = perfect, about 1/3 = random). The headline is the original's
(view i -> j for i < j only); the table also shows each direction. Evaluates one
checkpoint (--checkpoint_iter), the latest (--once), or watches --checkpointdir and
evaluates every new checkpoint once. Writes TensorBoard scalars (validation/alignment)
to OUTDIR/alignment_summaries and all results to OUTDIR/alignment.json.

Example::

    tcn align --checkpointdir runs/demo --once --baseline
    tcn align --checkpointdir runs/demo --checkpoint_iter 2000 data.validation=data/val/records
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from timecontrast.cli.common import add_config_arguments
from timecontrast.errors import ConfigError, DataError

if TYPE_CHECKING:
    from timecontrast.config import TCNConfig


# ----------------------------------------------------------- shared by the metric commands
def add_watch_arguments(parser: argparse.ArgumentParser) -> None:
    """Checkpoint selection, output and baseline flags of align / labeled-eval / probe."""
    parser.add_argument(
        "--checkpointdir",
        required=True,
        help="the training logdir (or its checkpoints/ folder); its final_training_config.yaml is the default config",
    )
    parser.add_argument("--checkpoint_iter", type=int, default=None, help="evaluate the checkpoint of this step only")
    parser.add_argument(
        "--once",
        action="store_true",
        help="evaluate the latest checkpoint and exit; never waits: no checkpoint is an error (exit 2)",
    )
    parser.add_argument(
        "--outdir", default=None, help="where results go (default: CHECKPOINTDIR/evaluation, beside checkpoints/)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="watching: stop after this many seconds without a new checkpoint (default: never)",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=None,
        help="watching: seconds between polls (default: val.eval_interval_secs); while waiting, a line every "
        "tcn --progress_interval seconds (default 30) says what for",
    )
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="also evaluate the same network untrained and, where weights exist, the pretrained trunk",
    )
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: runtime.device)")
    add_config_arguments(parser)


def run_dir(checkpointdir: str) -> Path:
    p = Path(checkpointdir).expanduser()
    return p.parent if p.name == "checkpoints" else p


def load_eval_config(args: argparse.Namespace) -> TCNConfig:
    """``--config_paths`` (+ overrides), by default the run's final_training_config.yaml."""
    from timecontrast.config import load_config
    from timecontrast.evaluation.runner import find_run_config

    paths = args.config_paths
    if not paths:
        found = find_run_config(args.checkpointdir)
        if found is None:
            raise ConfigError(
                f"no final_training_config.yaml in '{args.checkpointdir}' or its parent; pass --config_paths"
            )
        paths = str(found)
    return load_config(paths, args.model_params or None, args.overrides)


def run_metric(
    args: argparse.Namespace,
    cfg: TCNConfig,
    metric: str,
    evaluate: Callable,
    print_report: Callable,
) -> int:
    """Evaluate checkpoints as the flags say; print each report as it comes."""
    import torch

    from timecontrast.evaluation.runner import evaluate_checkpoints

    if cfg.runtime.num_threads > 0:
        torch.set_num_threads(cfg.runtime.num_threads)
    outdir = Path(args.outdir) if args.outdir else run_dir(args.checkpointdir) / "evaluation"
    interval = args.interval if args.interval is not None else float(cfg.val.eval_interval_secs)
    reports = evaluate_checkpoints(
        metric,
        evaluate,
        args.checkpointdir,
        outdir,
        checkpoint_iter=args.checkpoint_iter,
        once=args.once,
        timeout_secs=args.timeout,
        interval_secs=interval,
        baselines=("untrained", "pretrained_trunk") if args.baseline else (),
        device=args.device,
        on_report=print_report,
    )
    if not reports:
        print(f"no checkpoint was evaluated (none found in {args.checkpointdir})")
        return 1
    print(f"results: {outdir / (metric + '.json')}; TensorBoard: tensorboard --logdir {outdir}")
    return 0


def format_table(title: str, columns: Sequence[str], rows: Sequence[tuple[str, Sequence[float | None]]]) -> str:
    """A plain text table: a label column, then one column of numbers per model."""
    width = max([len(r[0]) for r in rows] + [len(title)])
    colw = max([10] + [len(c) for c in columns])
    head = title.ljust(width) + "".join(c.rjust(colw + 2) for c in columns)
    lines = [head, "-" * len(head)]
    for label, values in rows:
        cells = "".join(
            ("-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4f}").rjust(colw + 2)
            for v in values
        )
        lines.append(label.ljust(width) + cells)
    return "\n".join(lines)


def report_columns(report) -> tuple[list[str], list]:
    """Column names and results: the checkpoint, then each baseline (None when skipped)."""
    cols = [report.checkpoint.label] + [b.label for b in report.baselines]
    results = [report.checkpoint.result] + [b.result for b in report.baselines]
    return cols, results


def print_notes(report) -> None:
    for b in report.baselines:
        if b.note:
            print(f"  note: baseline {b.label} {b.note}")


# ------------------------------------------------------------------------------ align
def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_watch_arguments(parser)
    parser.add_argument("--num_sequences", type=int, default=-1, help="evaluate the first N sequences (-1 = all)")


def _print_report(report) -> None:
    cols, results = report_columns(report)
    first = report.checkpoint.result
    rows = [
        ("alignment error (i<j, original)", [r.error if r else None for r in results]),
        ("alignment error (both directions)", [r.error_both_directions if r else None for r in results]),
    ]
    for i, j in sorted(first.pair_errors):
        rows.append((f"  view {i} -> {j}", [r.pair_errors.get((i, j)) if r else None for r in results]))
    print()
    print(format_table(f"{first.num_sequences} validation sequences", cols, rows))
    print_notes(report)


def run(args: argparse.Namespace) -> int:
    from timecontrast.data.records import open_sequences
    from timecontrast.evaluation.alignment import alignment_error

    cfg = load_eval_config(args)
    if not cfg.data.validation:
        raise ConfigError("data.validation is empty; set it to the validation records (data.validation=DIR)")
    if cfg.data.num_views < 2:
        raise ConfigError("alignment needs data.num_views >= 2")
    try:
        sequences = open_sequences(cfg.data.validation, num_views=cfg.data.num_views)
    except DataError as exc:
        raise DataError(f"data.validation: {exc}") from None

    def evaluate(embedder):
        items = embedder.embed_sequences(sequences, num_sequences=args.num_sequences)
        return alignment_error(((it.name, it.embeddings) for it in items), device=embedder.device)

    return run_metric(args, cfg, "alignment", evaluate, _print_report)
