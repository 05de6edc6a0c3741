"""State probe: regress the true state (position, velocity) from embeddings.

Per timestep the embedding e_t and its change e_t - e_{t-1} are the input (--inputs current:
e_t alone, what a policy without memory observing the embedding sees); regressors are
fitted on the training sequences (data.training) and scored on held-out sequences
(data.validation). The error is the MSE of each state variable in units of its variance
(1 = no better than the mean). Needs records with state (DIR/<split>/state/<name>.npz, as
tcn synth writes). Two protocols:

- ``project`` (default): a ridge probe and a small scikit-learn MLP, averaged over position
  and velocity variables. TensorBoard scalars validation/probe/<probe> <position|velocity>
  mse in OUTDIR/probe_summaries, results in OUTDIR/probe.json.
- ``paper``: the multi-frame TCN paper's Table I regressor (torch MLP 3x256, Adam 1e-3,
  standardised targets, early stopping on held-out training sequences), on --device.
  Keys position, motion and, for the cart-pole, x_cart, sin_theta, cos_theta, xdot_cart,
  thetadot. Scalars validation/probe/paper <key> mse in OUTDIR/probe_paper_summaries,
  results in OUTDIR/probe_paper.json.

Example::

    tcn probe --checkpointdir runs/demo --once --baseline
    tcn probe --checkpointdir runs/mftcn --checkpoint_iter 4000 --num_train_sequences 20
    tcn probe --checkpointdir runs/mftcn --once --protocol paper --device cuda
    tcn probe --checkpointdir runs/mftcn --once --protocol paper --inputs current
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

PROTOCOLS = ("project", "paper")
METRIC_OF_PROTOCOL = {"project": "probe", "paper": "probe_paper"}  # the results file and summaries folder
INPUTS = ("change", "current")  # timecontrast.evaluation.probe.INPUTS (kept here: tcn --help imports no torch)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_watch_arguments(parser)
    parser.add_argument(
        "--num_train_sequences", type=int, default=-1, help="fit on the first N training sequences (-1 = all)"
    )
    parser.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default="project",
        help="project: ridge + scikit-learn MLP (default); paper: the mfTCN paper's Table I MLP "
        "(3x256, Adam 1e-3), written to probe_paper.json",
    )
    parser.add_argument(
        "--probes",
        default=None,
        help="project protocol: comma-separated probes to fit: linear, mlp (default: both)",
    )
    parser.add_argument(
        "--inputs",
        choices=INPUTS,
        default="change",
        help="change: e_t and e_t - e_{t-1}, as the paper (default); current: e_t alone, what a policy "
        "without memory observing the embedding sees (results in probe_current.json, probe_paper_current.json)",
    )
    parser.add_argument(
        "--max_steps",
        type=int,
        default=None,
        help="paper protocol: most minibatch steps of 256 (default 20000; early stopping usually ends sooner)",
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


def _print_paper_report(report) -> None:
    cols, results = report_columns(report)
    first = report.checkpoint.result
    rows = []
    for part, keys in (("position", first.position_keys), ("motion", first.motion_keys)):
        rows.append((f"{part} mse", [r.errors.get(part) if r else None for r in results]))
        rows += [(f"  {key}", [r.errors.get(key) if r else None for r in results]) for key in keys]
    title = (
        f"state probe (paper protocol), MSE / variance ({first.num_train} train, "
        f"{first.num_validation} early-stopping, {first.num_test} held-out samples; {first.device})"
    )
    print()
    print(format_table(title, cols, rows))
    print_notes(report)


def run(args: argparse.Namespace) -> int:
    from timecontrast.data.records import open_sequences
    from timecontrast.evaluation.paper_probe import paper_state_probe
    from timecontrast.evaluation.probe import PROBES, state_probe

    cfg = load_eval_config(args)
    paper = args.protocol == "paper"
    if paper and args.probes is not None:
        raise ConfigError("--probes chooses the project protocol's probes; the paper protocol has one MLP")
    if not paper and args.max_steps is not None:
        raise ConfigError("--max_steps is for --protocol paper; the project protocol stops by itself")
    if args.max_steps is not None and args.max_steps < 1:
        raise ConfigError(f"--max_steps {args.max_steps}: must be a positive number of steps")
    probes = [p.strip() for p in (args.probes or ",".join(PROBES)).split(",") if p.strip()]
    bad = [p for p in probes if p not in PROBES]
    if bad or not probes:
        raise ConfigError(f"--probes {args.probes!r}: choose from {', '.join(PROBES)}")
    splits = {}
    for key in ("training", "validation"):
        path = getattr(cfg.data, key)
        if not path:
            raise ConfigError(f"data.{key} is empty; the probe fits on data.training and scores on data.validation")
        try:
            splits[key] = open_sequences(path, num_views=cfg.data.num_views)
        except DataError as exc:
            raise DataError(f"data.{key}: {exc}") from None

    def evaluate(embedder):
        if paper:
            options = {} if args.max_steps is None else {"max_steps": args.max_steps}
            return paper_state_probe(
                embedder,
                splits["training"],
                splits["validation"],
                seed=int(cfg.seed),
                num_train_sequences=args.num_train_sequences,
                device=embedder.device,
                inputs=args.inputs,
                **options,
            )
        return state_probe(
            embedder,
            splits["training"],
            splits["validation"],
            seed=int(cfg.seed),
            num_train_sequences=args.num_train_sequences,
            probes=probes,
            inputs=args.inputs,
        )

    report = _print_paper_report if paper else _print_report
    metric = METRIC_OF_PROTOCOL[args.protocol] + ("_current" if args.inputs == "current" else "")
    return run_metric(args, cfg, metric, evaluate, report)
