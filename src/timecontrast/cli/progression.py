"""Phase progression of checkpoints: R^2 of linear regressions to the normalised time from each key event (TCC).

The key events are the ends of the phases of the per-frame label (--label, default phase),
in label order, but the last phase. For each, the target is (t - last frame of that
phase) / T, T the sequence's length (TCC's code, event_completion.py); a linear regression
from the embedding (one view, --view) is fitted on the frames of the training sequences
(data.training) and scored by R^2 on the validation sequences (data.validation); the score
is the mean over key events (1 = perfect, 0 = no better than the mean). Also shown: the
R^2 of a ridge regression to the fraction of the current phase completed, (t - start of
the phase) / (next key event - start of the phase). Writes TensorBoard scalars
(validation/phase_progression/<label> r2 and ... within-phase r2) to
OUTDIR/progression_summaries and all results to OUTDIR/progression.json (a --label other
than phase: progression_<label>.json). All the per-frame metrics at once: tcn phase-eval.

Example::

    tcn progression --checkpointdir runs/pouring --once --baseline
    tcn progression --checkpointdir runs/demo --once --label pole_up
"""

from __future__ import annotations

import argparse

from timecontrast.cli.phase_eval import add_metric_arguments, run_metrics

METRICS = ("progression",)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_metric_arguments(parser, METRICS)


def run(args: argparse.Namespace) -> int:
    return run_metrics(args, METRICS, "progression")
