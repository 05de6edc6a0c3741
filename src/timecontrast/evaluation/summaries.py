"""Where evaluation results go: TensorBoard scalars and a JSON file per metric.

``outdir/<metric>.json`` holds every evaluated checkpoint (by step) and the baselines::

    {"metric": "alignment",
     "checkpoints": {"1000": {"step": 1000, "checkpoint": ".../ckpt-000001000.pt",
                              "scalars": {"validation/alignment": 0.08}, "result": {...}}},
     "baselines": {"untrained": {"scalars": {...}, "result": {...}},
                   "pretrained_trunk": {"note": "not available: ..."}}}

It is rewritten atomically after each checkpoint, and its steps tell a restarted watcher
what is already done. TensorBoard scalars go to ``outdir/<metric>_summaries`` at the
checkpoint's step (as in the original); baselines go to the sub-runs
``outdir/<metric>_summaries/baseline_<name>`` at the same steps, so TensorBoard draws them
on the same charts.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from timecontrast.errors import DataError
from timecontrast.io.files import atomic_write


def results_path(outdir: str | os.PathLike, metric: str) -> Path:
    return Path(outdir) / f"{metric}.json"


def _clean(value: Any) -> Any:
    """JSON-safe copy: NaN/inf become None, tuples lists, numpy scalars Python numbers."""
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return _clean(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def read_results(path: str | os.PathLike, metric: str) -> dict[str, Any]:
    """The results file, or an empty one when it does not exist yet."""
    p = Path(path)
    if not p.is_file():
        return {"metric": metric, "checkpoints": {}, "baselines": {}}
    try:
        data = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(
            f"results file '{p}' is not readable JSON ({exc}); move it away or choose another --outdir"
        ) from None
    if not isinstance(data, dict) or data.get("metric") != metric:
        raise DataError(f"'{p}' is not a {metric} results file; choose another --outdir")
    data.setdefault("checkpoints", {})
    data.setdefault("baselines", {})
    return data


def write_json(path: str | os.PathLike, data: Mapping[str, Any]) -> Path:
    """Write JSON atomically (temporary name, then rename)."""
    p = Path(path)
    with atomic_write(p, "w", durable=True) as fh:
        json.dump(_clean(data), fh, indent=1, sort_keys=False)
        fh.write("\n")
    return p


def evaluated_steps(outdir: str | os.PathLike, metric: str) -> set[int]:
    """Steps already in ``outdir/<metric>.json`` (for ``iter_new_checkpoints(skip_steps=...)``)."""
    return {int(s) for s in read_results(results_path(outdir, metric), metric)["checkpoints"]}


def record_checkpoint(
    outdir: str | os.PathLike,
    metric: str,
    step: int,
    checkpoint: str,
    scalars: Mapping[str, float],
    result: Mapping[str, Any],
) -> Path:
    """Add (or replace) one checkpoint's entry in ``outdir/<metric>.json``."""
    path = results_path(outdir, metric)
    data = read_results(path, metric)
    data["checkpoints"][str(int(step))] = {
        "step": int(step),
        "checkpoint": str(checkpoint),
        "evaluated_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "scalars": dict(scalars),
        "result": result,
    }
    data["checkpoints"] = dict(sorted(data["checkpoints"].items(), key=lambda kv: int(kv[0])))
    return write_json(path, data)


def record_baseline(outdir: str | os.PathLike, metric: str, name: str, entry: Mapping[str, Any]) -> Path:
    """Set ``baselines[name]`` in ``outdir/<metric>.json`` (scalars + result, or a note)."""
    path = results_path(outdir, metric)
    data = read_results(path, metric)
    data["baselines"][name] = dict(entry)
    return write_json(path, data)


def write_scalars(
    outdir: str | os.PathLike, metric: str, step: int, scalars: Mapping[str, float], run: str | None = None
) -> Path:
    """Write TensorBoard scalars at ``step`` into ``outdir/<metric>_summaries[/<run>]``."""
    from torch.utils.tensorboard import SummaryWriter

    logdir = Path(outdir) / f"{metric}_summaries"
    if run:
        logdir = logdir / run
    with SummaryWriter(str(logdir)) as writer:
        for tag, value in scalars.items():
            if value is not None and math.isfinite(float(value)):
                writer.add_scalar(tag, float(value), int(step))
    return logdir
