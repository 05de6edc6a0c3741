"""Phase classification and few-shot phase classification of checkpoints (TCC's protocol).

A linear SVM (scikit-learn LinearSVC on standardised embeddings) learns a per-frame label
(--label, default phase) from the frames of the first 10 %, 50 % and 100 % of the training
sequences (data.training; --fractions, at least one sequence each) and is scored by its
accuracy on every frame of the validation sequences (data.validation). Few-shot: the same
with k = 1, 5, 10 training sequences (--shots) drawn at random --draws times; the mean
accuracy and the 95 % confidence interval of that mean. One view (--view). Labels come from
DIR/<split>/state/<seq>.npz, as tcn synth writes them. Writes TensorBoard scalars
(validation/phase_classification/<label> accuracy 10%, validation/few_shot/<label>
accuracy k=1, ...) to OUTDIR/phases_summaries and all results to OUTDIR/phases.json (a
--label other than phase: phases_<label>.json). All the per-frame metrics at once: tcn
phase-eval.

Example::

    tcn phases --checkpointdir runs/pouring --once --baseline
    tcn phases --checkpointdir runs/demo --once --label pole_up --shots 1,5 --draws 20
"""

from __future__ import annotations

import argparse

from timecontrast.cli.phase_eval import add_metric_arguments, run_metrics

METRICS = ("classification", "few_shot")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_metric_arguments(parser, METRICS)


def run(args: argparse.Namespace) -> int:
    return run_metrics(args, METRICS, "phases")
