"""State probe: regress the true state (position, velocity) from embeddings.

The mfTCN protocol: per timestep the embedding e_t and its change e_t - e_{t-1} are the
input; a linear probe (ridge) and a small MLP are fitted on the training sequences
(data.training) and scored on held-out sequences (data.validation). The error is the MSE
of each state variable in units of its variance (1 = no better than the mean),
averaged separately over position and velocity variables. Needs records with state
(DIR/<split>/state/<name>.npz, as tcn synth writes). Writes TensorBoard scalars
(validation/probe/<probe> <position|velocity> mse) to OUTDIR/probe_summaries and all
results to OUTDIR/probe.json.

Example::

    tcn probe --checkpointdir runs/demo --once --baseline
    tcn probe --checkpointdir runs/mftcn --checkpoint_iter 4000 --num_train_sequences 20
"""

from __future__ import annotations

import argparse

from timecontrast.cli.align import (
    add_watch_arguments,
    format_table,
    load_eval_config,
    print_notes,
    report_columns,
    run_metric,
)
from timecontrast.errors import ConfigError, DataError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_watch_arguments(parser)
    parser.add_argument(
        "--num_train_sequences", type=int, default=-1, help="fit on the first N training sequences (-1 = all)"
    )
    parser.add_argument(
        "--probes", default="linear,mlp", help="comma-separated probes to fit: linear, mlp (default: both)"
    )


def _print_report(report) -> None:
    cols, results = report_columns(report)
    first = report.checkpoint.result
    rows = []
    for probe in first.errors:
        for part in ("position", "velocity"):
            rows.append((f"{probe} {part} mse", [r.errors[probe][part] if r else None for r in results]))
            for name in first.variables[probe]:
                if name.startswith(part + " "):
                    rows.append(
                        (f"  {name[len(part) + 1 :]}", [r.variables[probe].get(name) if r else None for r in results])
                    )
    title = f"state probe, MSE / variance ({first.num_train} train, {first.num_test} held-out samples)"
    print()
    print(format_table(title, cols, rows))
    print_notes(report)


def run(args: argparse.Namespace) -> int:
    from timecontrast.data.records import open_sequences
    from timecontrast.evaluation.probe import PROBES, state_probe

    cfg = load_eval_config(args)
    probes = [p.strip() for p in args.probes.split(",") if p.strip()]
    bad = [p for p in probes if p not in PROBES]
    if bad or not probes:
        raise ConfigError(f"--probes {args.probes!r}: choose from {', '.join(PROBES)}")
    splits = {}
    for key in ("training", "validation"):
        path = cfg.data[key]
        if not path:
            raise ConfigError(f"data.{key} is empty; the probe fits on data.training and scores on data.validation")
        try:
            splits[key] = open_sequences(path, num_views=cfg.data.num_views)
        except DataError as exc:
            raise DataError(f"data.{key}: {exc}") from None

    def evaluate(embedder):
        return state_probe(
            embedder,
            splits["training"],
            splits["validation"],
            seed=int(cfg.seed),
            num_train_sequences=args.num_train_sequences,
            probes=probes,
        )

    return run_metric(args, cfg, "probe", evaluate, _print_report)
