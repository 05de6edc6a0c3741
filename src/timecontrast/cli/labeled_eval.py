"""Cross-sequence kNN classification error of checkpoints on labeled frames.

Every labeled frame of every view is embedded; its k nearest neighbours are searched
among frames of *other* sequences only, and it counts as a hit when its label is among
theirs. Error = 1 - recall@k (k from val.recall_at_k_list) per label attribute and on
average, class-balanced (classes with no hit count as 0, unlike the original) and plain
(micro). Labeled records: data.labeled.validation or data.labeled.test (--mode); keys
from data.labeled.image_attr_keys / label_attr_keys ([] = every int64 key). Writes
TensorBoard scalars (validation/classification/<attr> error@top<k>) to
OUTDIR/labeled_eval_summaries and all results to OUTDIR/labeled_eval.json (--mode test:
test/classification/... in labeled_eval_test_summaries and labeled_eval_test.json).

Example::

    tcn labeled-eval --checkpointdir runs/demo --once --baseline
    tcn labeled-eval --checkpointdir runs/demo --mode test val.recall_at_k_list=[1,5]
"""

from __future__ import annotations

import argparse

from timecontrast.cli.align import add_watch_arguments, format_table, load_eval_config, print_notes, report_columns
from timecontrast.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_watch_arguments(parser)
    parser.add_argument(
        "--mode",
        choices=("validation", "test"),
        default="validation",
        help="which labeled records: data.labeled.validation or data.labeled.test",
    )


def _print_report(report, title: str) -> None:
    cols, results = report_columns(report)
    first = report.checkpoint.result
    rows = []
    for k in first.ks:
        for attr in first.recalls:
            rows.append((f"{attr} error@top{k}", [r.recalls[attr][k].error if r else None for r in results]))
            rows.append(("  micro", [r.recalls[attr][k].micro_error if r else None for r in results]))
            rows.append(
                (
                    "  original (zero-hit classes dropped)",
                    [1 - r.recalls[attr][k].original_recall if r else None for r in results],
                )
            )
        rows.append((f"average error@top{k}", [r.average_error(k) if r else None for r in results]))
        rows.append((f"average micro error@top{k}", [r.average_micro_error(k) if r else None for r in results]))
    print()
    print(format_table(f"{title}: {first.num_queries} queries, {first.num_sequences} sequences", cols, rows))
    print_notes(report)


def run(args: argparse.Namespace) -> int:
    from timecontrast.cli.align import run_metric
    from timecontrast.data.labeled import split_image_attr_keys
    from timecontrast.evaluation.labeled import labeled_eval, load_labeled_set

    cfg = load_eval_config(args)
    path = getattr(cfg.data.labeled, args.mode)
    if not path:
        raise ConfigError(f"data.labeled.{args.mode} is empty; set it to the directory of labeled frame records")
    image_keys, task_key = split_image_attr_keys(list(cfg.data.labeled.image_attr_keys))
    data = load_labeled_set(path, image_keys, list(cfg.data.labeled.label_attr_keys) or None, task_key)
    ks = list(cfg.val.recall_at_k_list)

    def evaluate(embedder):
        result = labeled_eval(embedder, data, ks)
        if args.mode == "test":  # tags follow the split
            result.scalars = lambda prefix="test/classification", r=result: type(r).scalars(r, prefix)
        return result

    # Each split has its own results file and TensorBoard run: test results never overwrite
    # validation results, nor does a watcher skip a checkpoint scored on the other split.
    metric = "labeled_eval_test" if args.mode == "test" else "labeled_eval"
    return run_metric(args, cfg, metric, evaluate, lambda rep: _print_report(rep, f"{args.mode} labeled frames"))
