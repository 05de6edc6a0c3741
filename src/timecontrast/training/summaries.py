"""Training and evaluation logs: TensorBoard event files and a ``metrics.jsonl`` beside them.

``MetricsLog(directory)`` writes scalars (and images) at a step to both. Resuming from
step ``s`` (0 included: a run killed before its first checkpoint) first drops what a
killed run logged after ``s`` (``purge_step=s``): the TensorBoard writer's purge of steps
``> s`` (TensorBoard's own ``purge_step`` is the first step it hides, so ``s + 1``), and a
rewrite of ``metrics.jsonl`` keeping lines up to ``s``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from pathlib import Path

import torch

from timecontrast.io.files import name_error, write_text

log = logging.getLogger(__name__)

METRICS_NAME = "metrics.jsonl"


def _truncate_jsonl(path: Path, last_step: int) -> None:
    """Keep the lines of ``path`` whose step is at most ``last_step`` (atomic rewrite)."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            if int(json.loads(line).get("step", 0)) <= last_step:
                kept.append(line)
        except (ValueError, AttributeError):
            continue  # a line cut short by a killed run
    write_text(path, "".join(line + "\n" for line in kept), durable=True)


def read_metrics(directory: str | os.PathLike) -> list[dict]:
    """Every complete line of ``directory/metrics.jsonl``."""
    path = Path(directory) / METRICS_NAME
    out = []
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


class MetricsLog:
    """Scalars and images of one run directory: TensorBoard events plus ``metrics.jsonl``."""

    def __init__(self, directory: str | os.PathLike, purge_step: int | None = None, flush_secs: int = 120) -> None:
        from torch.utils.tensorboard import SummaryWriter  # imported here: slow, and only rank 0 needs it

        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        if purge_step is not None:
            _truncate_jsonl(self.directory / METRICS_NAME, purge_step)
        # TensorBoard hides steps >= its purge_step; step purge_step itself was logged before the checkpoint.
        first_purged = None if purge_step is None else purge_step + 1
        self.writer = SummaryWriter(str(self.directory), purge_step=first_purged, flush_secs=flush_secs)
        self._jsonl = open(self.directory / METRICS_NAME, "a")  # noqa: SIM115 - kept open for the run

    def scalars(self, step: int, values: dict[str, float]) -> None:
        """Write ``{tag: value}`` at ``step``; non-finite values are kept in TensorBoard, null in JSON."""
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, step)
        record: dict[str, float | None] = {"step": int(step), "time": round(time.time(), 3)}
        record.update({k: (float(v) if math.isfinite(float(v)) else None) for k, v in values.items()})
        try:
            self._jsonl.write(json.dumps(record) + "\n")
            self._jsonl.flush()
        except OSError as exc:  # a full disk: name the file
            name_error(exc, self.directory / METRICS_NAME)
            raise

    def image(self, step: int, tag: str, image: torch.Tensor) -> None:
        """A ``[3, H, W]`` uint8 or [0, 1] float image."""
        self.writer.add_image(tag, image, step)

    def flush(self) -> None:
        self.writer.flush()
        try:
            self._jsonl.flush()
        except OSError as exc:
            name_error(exc, self.directory / METRICS_NAME)
            raise

    def close(self) -> None:
        self.writer.close()
        try:
            self._jsonl.close()
        except OSError as exc:
            name_error(exc, self.directory / METRICS_NAME)
            raise

    def __enter__(self) -> MetricsLog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
