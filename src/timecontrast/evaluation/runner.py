"""Evaluate checkpoints with one metric: once, or every new checkpoint as it appears.

The loop behind ``tcn align``, ``tcn labeled-eval`` and ``tcn probe``: for each
checkpoint (``--checkpoint_iter`` or the watcher), rebuild the :class:`Embedder`, run the
metric, write TensorBoard scalars at the checkpoint's step and the JSON results, and
evaluate the baselines once (the same network untrained; the pretrained trunk where its
weights exist) so that every number has context. Each checkpoint is logged when its
evaluation starts and ends (with its scalars and the time it took); while waiting, the
watcher logs what for at the progress interval (:mod:`timecontrast.progress`).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from timecontrast.config import FINAL_CONFIG_NAME
from timecontrast.errors import CheckpointError, DependencyError
from timecontrast.evaluation import summaries
from timecontrast.evaluation.watcher import iter_new_checkpoints
from timecontrast.inference import Embedder
from timecontrast.io.files import remove_stale_temporaries
from timecontrast.models import find_checkpoint
from timecontrast.progress import format_duration

log = logging.getLogger(__name__)

BASELINES = ("untrained", "pretrained_trunk")


class MetricResult(Protocol):
    def scalars(self) -> dict[str, float]: ...

    def to_dict(self) -> dict[str, Any]: ...


@dataclass
class Evaluation:
    """One model's result: a checkpoint (``step``) or a baseline (``step`` None)."""

    label: str  # "step 1000", "untrained", "pretrained_trunk"
    step: int | None
    result: MetricResult | None
    note: str = ""  # why a baseline is missing


@dataclass
class CheckpointReport:
    """A checkpoint's evaluation and the baselines beside it."""

    checkpoint: Evaluation
    baselines: list[Evaluation] = field(default_factory=list)


def find_run_config(checkpointdir: str | os.PathLike) -> Path | None:
    """``final_training_config.yaml`` of the run that ``checkpointdir`` (a logdir or its
    ``checkpoints`` folder) belongs to, if there is one."""
    p = Path(checkpointdir).expanduser()
    for d in (p, p.parent):
        if (d / FINAL_CONFIG_NAME).is_file():
            return d / FINAL_CONFIG_NAME
    return None


def _checkpoint_of_step(checkpointdir: str | os.PathLike, step: int) -> Path:
    try:
        return find_checkpoint(checkpointdir, step)
    except CheckpointError as exc:
        raise CheckpointError(f"{exc}; check --checkpoint_iter") from None


def evaluate_checkpoints(
    metric: str,
    evaluate: Callable[[Embedder], MetricResult],
    checkpointdir: str | os.PathLike,
    outdir: str | os.PathLike,
    *,
    checkpoint_iter: int | None = None,
    once: bool = False,
    timeout_secs: float | None = None,
    interval_secs: float = 300.0,
    baselines: Sequence[str] = (),
    device: str | None = None,
    on_report: Callable[[CheckpointReport], None] | None = None,
) -> list[CheckpointReport]:
    """Run ``evaluate`` on checkpoints and record every result; return the reports.

    ``checkpoint_iter``: that step only. Otherwise watch ``checkpointdir`` and evaluate
    each new checkpoint once (steps already in ``outdir/<metric>.json`` are skipped),
    or the latest one with ``once``. ``baselines``: names from ``BASELINES``, evaluated
    with the first checkpoint's config and reported beside every checkpoint.
    """
    for name in baselines:
        if name not in BASELINES:
            raise ValueError(f"unknown baseline '{name}'; choose from {', '.join(BASELINES)}")
    removed = remove_stale_temporaries(outdir)  # a killed earlier evaluation's
    if removed:
        log.info("removed %d temporary file(s) of a killed evaluation in %s", len(removed), outdir)
    if checkpoint_iter is not None:
        todo = iter([(int(checkpoint_iter), _checkpoint_of_step(checkpointdir, int(checkpoint_iter)))])
    else:
        done = set() if once else summaries.evaluated_steps(outdir, metric)
        todo = iter_new_checkpoints(
            checkpointdir, interval_secs, timeout_secs, once=once, skip_steps=done, label=metric
        )

    reports: list[CheckpointReport] = []
    baseline_results: list[Evaluation] | None = None
    for step, path in todo:
        log.info("%s: evaluating step %d (%s)", metric, step, path)
        started = time.monotonic()
        try:
            embedder = Embedder.from_checkpoint(path, device=device)
        except CheckpointError as exc:
            if checkpoint_iter is None and not Path(path).exists():  # removed meanwhile (checkpoint.num_to_keep)
                log.warning("skipping %s: %s", path, exc)
                continue
            raise
        result = evaluate(embedder)
        scalars = result.scalars()
        log.info(
            "%s: step %d evaluated in %s: %s", metric, step, format_duration(time.monotonic() - started),
            ", ".join(f"{k} {v:.4g}" for k, v in scalars.items()),
        )  # fmt: skip
        summaries.write_scalars(outdir, metric, step, scalars)
        summaries.record_checkpoint(outdir, metric, step, str(path), scalars, result.to_dict())
        if baseline_results is None:
            baseline_results = [_baseline(name, embedder, evaluate, device) for name in baselines]
            for b in baseline_results:
                entry = (
                    {"note": b.note}
                    if b.result is None
                    else {"scalars": b.result.scalars(), "result": b.result.to_dict()}
                )
                summaries.record_baseline(outdir, metric, b.label, entry)
        for b in baseline_results:
            if b.result is not None:
                summaries.write_scalars(outdir, metric, step, b.result.scalars(), run=f"baseline_{b.label}")
        report = CheckpointReport(Evaluation(f"step {step}", step, result), list(baseline_results))
        reports.append(report)
        if on_report is not None:
            on_report(report)
        del embedder
    return reports


def _baseline(
    name: str, trained: Embedder, evaluate: Callable[[Embedder], MetricResult], device: str | None
) -> Evaluation:
    cfg = trained.cfg
    try:
        if name == "untrained":
            embedder = Embedder.untrained(cfg, seed=int(cfg.seed), device=device)
        else:
            embedder = Embedder.pretrained_trunk(cfg, device=device)
    except DependencyError as exc:
        log.info("baseline %s skipped: %s", name, exc)
        return Evaluation(name, None, None, note=f"not available: {exc}")
    log.info("%s baseline: %s", name, embedder)
    return Evaluation(name, None, evaluate(embedder))
