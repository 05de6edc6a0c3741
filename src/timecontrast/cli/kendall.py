"""Kendall's tau of nearest-neighbour alignment of checkpoints (TCC's definition).

For every ordered pair of different validation sequences, each frame of the first (one
view, --view) is matched to its nearest frame of the second in embedding space; the pair's
tau is Kendall's rank correlation of frame index and matched index (1 = the matches advance
with time, -1 = reversed, about 0 = unrelated); the result is the mean over pairs
(Dwibedi et al., Temporal Cycle-Consistency Learning, CVPR 2019). Works on single-view
data. On multi-view data also across views: view i against view j of the same sequence,
mean over sequences and view pairs. Needs no labels. Writes TensorBoard scalars
(validation/kendall_tau/across sequences, .../across views) to OUTDIR/kendall_summaries and
all results to OUTDIR/kendall.json. All the per-frame metrics at once: tcn phase-eval.

Example::

    tcn kendall --checkpointdir runs/demo --once --baseline
    tcn kendall --checkpointdir runs/demo --checkpoint_iter 2000 --across views --stride 2
"""

from __future__ import annotations

import argparse

from timecontrast.cli.phase_eval import add_metric_arguments, run_metrics

METRICS = ("kendall",)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_metric_arguments(parser, METRICS)


def run(args: argparse.Namespace) -> int:
    return run_metrics(args, METRICS, "kendall")
