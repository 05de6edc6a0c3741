"""All of the field's standard per-frame metrics of checkpoints at once, each sequence embedded once.

Kendall's tau of nearest-neighbour alignment (across validation sequences, and across the
views of each sequence on multi-view data; TCC), 2-way and 3-way cycle consistency (XIRL),
linear-SVM phase classification with 10/50/100 % of the labelled training sequences,
few-shot phase classification (k = 1, 5, 10 sequences, repeated draws, mean and 95 %
interval) and phase progression (TCC's: one linear regression per key event to the
normalised time from it, mean R^2; also the R^2 of a ridge regression to the fraction of
the phase completed). Definitions, sources and how they differ from the papers':
docs/evaluation.md.
The same metrics one group at a time: tcn kendall, tcn cycle, tcn phases, tcn progression.

Samples are the frames of one view (--view) of data.validation; the labelled metrics fit
on data.training and read one per-frame label attribute (--label, default phase; the
labels tcn synth writes into DIR/<split>/state/<seq>.npz). Writes TensorBoard scalars
(validation/kendall_tau/..., validation/cycle_consistency/..., validation/phase_classification/
<label> accuracy 10%, validation/few_shot/<label> accuracy k=1, validation/phase_progression/
<label> r2) to OUTDIR/phase_eval_summaries and all results to OUTDIR/phase_eval.json
(a --label other than phase: phase_eval_<label>.json and phase_eval_<label>_summaries).

Example::

    tcn phase-eval --checkpointdir runs/demo --once --baseline --label pole_up
    tcn phase-eval --checkpointdir runs/pouring --checkpoint_iter 2000 --shots 1,5 --draws 20
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from timecontrast.cli.align import (
    add_watch_arguments,
    format_table,
    load_eval_config,
    print_notes,
    report_columns,
    run_metric,
)
from timecontrast.errors import ConfigError, DataError

# evaluation.sequence_metrics' METRICS and LABELLED, repeated so that building the parser
# (tcn --help) does not import torch and scikit-learn; a test checks they agree.
ALL = ("kendall", "cycle", "classification", "few_shot", "progression")
LABELLED = {"classification", "few_shot", "progression"}


def _floats(text: str, flag: str) -> tuple[float, ...]:
    try:
        values = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise ConfigError(f"{flag} {text!r}: give comma-separated numbers, e.g. 0.1,0.5,1.0") from None
    if not values:
        raise ConfigError(f"{flag} {text!r}: give at least one number")
    return values


def _ints(text: str, flag: str) -> tuple[int, ...]:
    try:
        values = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise ConfigError(f"{flag} {text!r}: give comma-separated whole numbers, e.g. 1,5,10") from None
    if not values or min(values) < 1:
        raise ConfigError(f"{flag} {text!r}: give whole numbers of at least 1")
    return values


def add_metric_arguments(parser: argparse.ArgumentParser, metrics: Sequence[str]) -> None:
    """The checkpoint flags of ``tcn align`` and the flags of ``metrics``."""
    add_watch_arguments(parser)
    parser.add_argument(
        "--view",
        type=int,
        default=0,
        help="the view whose frames are the samples (default 0; every metric but Kendall's tau across views)",
    )
    parser.add_argument("--num_sequences", type=int, default=-1, help="the first N validation sequences (-1 = all)")
    if LABELLED & set(metrics):
        parser.add_argument(
            "--label",
            default="phase",
            help="the per-frame label attribute to classify / whose phases to follow (default: phase; e.g. "
            "pole_up on the cart-pole); a name the data lacks is an error that lists the ones it has",
        )
        parser.add_argument(
            "--num_train_sequences", type=int, default=-1, help="the first N training sequences (-1 = all)"
        )
    if "kendall" in metrics:
        parser.add_argument(
            "--across",
            choices=("sequences", "views", "both"),
            default=None,
            help="Kendall's tau across validation sequences (TCC's; needs 2 sequences), across the views of each "
            "sequence (needs 2 views), or both (default: both on multi-view data, sequences on single-view data)",
        )
    if {"kendall", "cycle"} & set(metrics):
        parser.add_argument(
            "--stride",
            type=int,
            default=1,
            help="Kendall's tau and cycle consistency: match every Nth frame only (default 1; TCC used 5 on "
            "long videos)",
        )
    if "cycle" in metrics:
        parser.add_argument(
            "--max_triples",
            type=int,
            default=2000,
            help="3-way cycle consistency: at most this many ordered triples of sequences, drawn at random "
            "when there are more (default 2000)",
        )
    if "classification" in metrics:
        parser.add_argument(
            "--fractions",
            default="0.1,0.5,1.0",
            help="phase classification: fractions of the training sequences to train on, comma separated "
            "(default 0.1,0.5,1.0; at least one sequence each)",
        )
    if {"classification", "few_shot"} & set(metrics):
        parser.add_argument("--svm_c", type=float, default=1.0, help="the linear SVM's C (default 1.0)")
    if "few_shot" in metrics:
        parser.add_argument(
            "--shots",
            default="1,5,10",
            help="few-shot: numbers k of labelled training sequences, comma separated (default 1,5,10; those "
            "above the number of training sequences are skipped)",
        )
        parser.add_argument(
            "--draws", type=int, default=10, help="few-shot: random draws of k sequences per k (default 10)"
        )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_metric_arguments(parser, ALL)


def _row(label: str, results: list, get) -> tuple[str, list[float | None]]:
    return label, [get(r) if r is not None else None for r in results]


def print_report(report) -> None:
    cols, results = report_columns(report)
    first = report.checkpoint.result
    rows = []
    for across, tau in first.kendall.items():
        rows.append(
            _row(
                f"Kendall's tau across {across} (1 = aligned, 0 = chance)",
                results,
                lambda r, a=across: r.kendall[a].tau,
            )
        )
        if tau.num_undefined:
            rows.append(_row(f"  pairs of {tau.num_pairs} without tau (one matched frame)", results,
                             lambda r, a=across: r.kendall[a].num_undefined))  # fmt: skip
    if first.cycle is not None:
        for key, name in (
            ("two_way", "cycle consistency 2-way"),
            ("two_way_within_1", "  within 1 frame (XIRL's)"),
            ("three_way", "cycle consistency 3-way"),
            ("three_way_within_1", "  within 1 frame (XIRL's)"),
        ):
            rows.append(_row(name, results, lambda r, k=key: getattr(r.cycle, k)))
    label = first.label
    for f, (_, n) in first.classification.items():
        rows.append(
            _row(
                f"{label}: accuracy, {100 * f:g}% of training ({n} seq.)",
                results,
                lambda r, f=f: r.classification[f][0],
            )
        )
    for k in first.few_shot:
        rows.append(_row(f"{label}: few-shot accuracy, k={k}", results, lambda r, k=k: r.few_shot[k].mean))
        rows.append(_row("  95% interval low", results, lambda r, k=k: r.few_shot[k].low))
        rows.append(_row("  95% interval high", results, lambda r, k=k: r.few_shot[k].high))
    if first.progression is not None:
        rows.append(_row(f"{label}: phase progression R^2 (TCC)", results, lambda r: r.progression.r2))
        rows.append(_row("  fraction of the phase completed, R^2", results, lambda r: r.progression.within_phase_r2))
    title = f"{first.num_val_sequences} validation sequences (view {first.view})"
    if first.label is not None:
        title += f", {first.num_train_sequences} training sequences"
    print()
    print(format_table(title, cols, rows))
    print_notes(report)


def results_name(command_metric: str, label: str = "phase") -> str:
    """The results file / summaries name: the label is part of it unless it is ``phase``, so
    that results of different labels never mix (nor does a watcher skip one for another)."""
    return command_metric if label == "phase" else f"{command_metric}_{label}"


def run_metrics(args: argparse.Namespace, metrics: Sequence[str], command_metric: str) -> int:
    """Open the data the flags ask for, check it, and evaluate checkpoints with ``metrics``."""
    from timecontrast.data.records import open_sequences
    from timecontrast.evaluation.sequence_metrics import SequenceMetricsOptions, check_labels, sequence_metrics

    cfg = load_eval_config(args)
    labelled = bool(LABELLED & set(metrics))
    num_views = int(cfg.data.num_views)
    if not 0 <= args.view < num_views:
        raise ConfigError(
            f"--view {args.view}: the data has {num_views} view(s) (data.num_views); choose 0..{num_views - 1}"
        )
    across: tuple[str, ...] = ()
    if "kendall" in metrics:
        choice = args.across or ("both" if num_views >= 2 else "sequences")
        across = ("sequences", "views") if choice == "both" else (choice,)
        if "views" in across and num_views < 2:
            raise ConfigError(
                f"--across {choice}: Kendall's tau across views needs 2 views; the data has 1 (data.num_views); "
                "use --across sequences"
            )
    splits = {}
    for key in ("validation", "training") if labelled else ("validation",):
        path = getattr(cfg.data, key)
        if not path:
            raise ConfigError(f"data.{key} is empty; set it to the {key} records (data.{key}=DIR)")
        try:
            splits[key] = open_sequences(path, num_views=num_views)
        except DataError as exc:
            raise DataError(f"data.{key}: {exc}") from None
    val = splits["validation"] if args.num_sequences < 0 else splits["validation"][: args.num_sequences]
    needs_two = [what for what, needed in (
        ("Kendall's tau across sequences", "sequences" in across),
        ("cycle consistency", "cycle" in metrics),
    ) if needed]  # fmt: skip
    if needs_two and len(val) < 2:
        hint = "; --across views compares the views of one sequence" if "kendall" in metrics and num_views >= 2 else ""
        raise DataError(
            f"{needs_two[0]} needs at least 2 validation sequences; data.validation ({cfg.data.validation}) gives "
            f"{len(val)}{hint}"
        )
    options = SequenceMetricsOptions(
        metrics=tuple(m for m in ALL if m in metrics),
        label=getattr(args, "label", "phase"),
        view=args.view,
        across=across or ("sequences",),
        stride=getattr(args, "stride", 1),
        fractions=_floats(args.fractions, "--fractions") if "classification" in metrics else (1.0,),
        shots=_ints(args.shots, "--shots") if "few_shot" in metrics else (1,),
        draws=getattr(args, "draws", 10),
        max_triples=getattr(args, "max_triples", 2000),
        c=getattr(args, "svm_c", 1.0),
        seed=int(cfg.seed),
        num_train_sequences=getattr(args, "num_train_sequences", -1),
        num_val_sequences=args.num_sequences,
    )
    if options.stride < 1:
        raise ConfigError(f"--stride {options.stride}: must be at least 1")
    if options.draws < 1 or options.max_triples < 1:
        raise ConfigError("--draws and --max_triples must be at least 1")
    if any(not 0 < f <= 1 for f in options.fractions):
        raise ConfigError(f"--fractions {args.fractions}: each must be in (0, 1]")
    if labelled:  # before any checkpoint is loaded: a missing label is the user's to fix now
        check_labels(val, options.label, "data.validation")
        train = splits["training"]
        check_labels(train if options.num_train_sequences < 0 else train[: options.num_train_sequences],
                     options.label, "data.training")  # fmt: skip

    def evaluate(embedder):
        return sequence_metrics(embedder, splits.get("training", []), splits["validation"], options)

    name = results_name(command_metric, options.label if labelled else "phase")
    return run_metric(args, cfg, name, evaluate, print_report)


def run(args: argparse.Namespace) -> int:
    return run_metrics(args, ALL, "phase_eval")
