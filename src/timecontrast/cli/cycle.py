"""Cycle consistency of checkpoints' nearest-neighbour matches (XIRL's 2-way and 3-way).

2-way: a frame of validation sequence U goes to its nearest frame in sequence V and back to
its nearest frame in U; 3-way: U -> V -> W -> U and U -> W -> V -> U. The score is the
fraction of frames that come back to themselves (exactly, and within 1 frame as XIRL
counts), averaged over every ordered pair (triple) of different sequences (at most
--max_triples triples, drawn at random beyond that). One view (--view); needs no labels and
at least 2 sequences (3 for 3-way). Writes TensorBoard scalars (validation/
cycle_consistency/2-way, ... 3-way within 1) to OUTDIR/cycle_summaries and all results to
OUTDIR/cycle.json. All the per-frame metrics at once: tcn phase-eval.

Example::

    tcn cycle --checkpointdir runs/demo --once --baseline
    tcn cycle --checkpointdir runs/demo --once --stride 2 --max_triples 500
"""

from __future__ import annotations

import argparse

from timecontrast.cli.phase_eval import add_metric_arguments, run_metrics

METRICS = ("cycle",)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_metric_arguments(parser, METRICS)


def run(args: argparse.Namespace) -> int:
    return run_metrics(args, METRICS, "cycle")
