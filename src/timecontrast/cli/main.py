"""The ``tcn`` entry point: dispatches to one module per subcommand.

Each subcommand module defines ``add_arguments(parser)`` and ``run(args) -> int``,
and is imported only when its command runs, so ``tcn --help`` stays fast.

Example::

    tcn --help
    tcn convert --input_dir videos/train --output_dir records/train
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from timecontrast import __version__
from timecontrast.errors import TimeContrastError

# (command, module under timecontrast.cli, one-line help), in pipeline order.
COMMANDS: list[tuple[str, str, str]] = [
    ("collect", "collect", "record synchronised videos from several cameras"),
    ("convert", "convert", "convert multi-view videos, frame folders, TCC, RLDS or LeRobot data into sequence records"),
    ("synth", "synth", "generate a multi-view dataset from a simulated world"),
    ("inspect", "inspect", "show what a record file, dataset or directory holds"),
    ("train", "train", "train a TCN embedder (multi-view, single-view or multi-frame)"),
    ("eval", "eval", "running validation loss of new checkpoints"),
    ("align", "align", "multi-view alignment error of checkpoints"),
    ("labeled-eval", "labeled_eval", "cross-sequence kNN classification error of checkpoints"),
    ("probe", "probe", "regress the true state from embeddings (position, velocity)"),
    ("kendall", "kendall", "Kendall's tau of nearest-neighbour alignment across sequences and views (TCC)"),
    ("cycle", "cycle", "2-way and 3-way cycle consistency of nearest-neighbour matches (XIRL)"),
    ("phases", "phases", "phase classification (linear SVM) and few-shot phase classification"),
    ("progression", "progression", "phase progression: R^2 of regressions to the time from each key event (TCC)"),
    ("phase-eval", "phase_eval", "kendall, cycle, phases and progression at once, each sequence embedded once"),
    ("imitate", "imitate", "nearest-neighbour imitation videos"),
    ("project", "project", "TensorBoard projector run and PCA/t-SNE plots of embeddings"),
    ("export", "export", "embeddings of every sequence to npz or parquet files, with labels and a manifest"),
    ("reward", "reward", "per-frame imitation reward of episodes against a demo (check a reward before RL)"),
    ("rl", "rl", "reinforcement learning on the embedding: tcn rl train / tcn rl eval"),
    ("demo", "demo", "the whole chain on a simulated world, with a report"),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tcn",
        description="Time-Contrastive Networks: self-supervised embeddings from multi-view video.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run 'tcn <command> --help' for the options of one command.\n\n"
        "Long commands show a progress bar on a terminal; with output to a file or a batch job they log a\n"
        "progress line (done/total, rate, ETA) every --progress_interval seconds instead, default 30\n"
        "(or set the environment variable TCN_PROGRESS_INTERVAL). tcn train also keeps <logdir>/progress.json.",
    )
    parser.add_argument("--version", action="version", version=f"timecontrast {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument(
        "--progress_interval",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help="seconds between progress lines off a terminal and progress.json updates (default: "
        "$TCN_PROGRESS_INTERVAL, else 30); give it before the command: tcn --progress_interval 60 train ...",
    )
    sub = parser.add_subparsers(dest="command", metavar="<command>", title="commands")
    for name, _module, help_line in COMMANDS:
        # add_help=False: the real parser is built by the module when the command runs.
        sub.add_parser(name, help=help_line, add_help=False)
    return parser


def _seconds(text: str) -> float:
    from timecontrast.progress import parse_interval

    try:
        return parse_interval(text, "--progress_interval")
    except TimeContrastError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _command_parser(name: str, module_name: str, help_line: str):
    module = importlib.import_module(f"timecontrast.cli.{module_name}")
    parser = argparse.ArgumentParser(
        prog=f"tcn {name}",
        description=(module.__doc__ or help_line).strip(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    module.add_arguments(parser)
    return module, parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    top = build_parser()
    # Split global options from the command and its own arguments.
    names = {c[0]: c for c in COMMANDS}
    idx = next((i for i, a in enumerate(argv) if a in names), None)
    if idx is None:
        args = top.parse_args(argv)
        top.print_help()
        return 0 if not argv else 2
    top_args = top.parse_args(argv[:idx])
    name, module_name, help_line = names[argv[idx]]
    logging.basicConfig(
        level=logging.DEBUG if top_args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    module, parser = _command_parser(name, module_name, help_line)
    args = parser.parse_args(argv[idx + 1 :])
    from timecontrast.progress import progress_interval_set

    try:
        with progress_interval_set(top_args.progress_interval):
            return int(module.run(args) or 0)
    except TimeContrastError as exc:
        print(f"tcn {name}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"tcn {name}: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # the file system said no: one line with the path and the cause
        print(f"tcn {name}: error: {describe_os_error(exc)}", file=sys.stderr)
        return 2


# What to do about the file-system errors a user can fix, by errno.
_OS_ERROR_HINTS = {
    errno.ENOSPC: "the disk is full; free some space or write somewhere else",
    errno.EDQUOT: "the disk quota is used up; free some space or write somewhere else",
    errno.EFBIG: "the file is larger than this system allows (see ulimit -f)",
    errno.EACCES: "no permission; choose a folder you can write to, or change its permissions",
    errno.EPERM: "not permitted; choose a folder you can write to, or change its permissions",
    errno.EROFS: "the file system is read-only; write somewhere else",
    errno.ENOTDIR: "a part of the path is a file, not a folder; choose another path",
    errno.EEXIST: "a file is in the way where a folder is needed; choose another path",
    errno.EISDIR: "a folder is in the way where a file is needed; choose another path",
    errno.ENOENT: "no such file or folder; check the path",
    errno.EMFILE: "too many open files (see ulimit -n)",
}


def describe_os_error(exc: OSError) -> str:
    """``<path>: <cause> (<what to do>)`` for an ``OSError``, without a traceback."""
    cause = exc.strerror or str(exc) or type(exc).__name__
    paths = [p for p in (exc.filename, exc.filename2) if p is not None]
    where = " -> ".join(f"'{os.fsdecode(p)}'" for p in paths)
    hint = _OS_ERROR_HINTS.get(exc.errno or -1)
    text = f"{where}: {cause}" if where else cause
    return f"{text} ({hint})" if hint else text


if __name__ == "__main__":
    raise SystemExit(main())
