"""Progress of long loops: a tqdm bar on a terminal, a log line at a steady interval elsewhere.

The one mechanism every long command uses (``tcn train``, ``synth``, ``convert``, the
evaluations, ...). On a terminal (standard error is a tty) a :class:`Progress` is a tqdm
bar, as it always was. Off a terminal (``nohup``, a batch scheduler, output to a file) the
bar is replaced by a line logged through :mod:`logging` every
:func:`progress_interval` seconds of wall-clock time (default 30; the environment
variable ``TCN_PROGRESS_INTERVAL`` or ``tcn --progress_interval SECONDS`` set it) and
once at the end::

    train: 120/600 steps (20%), 3.21 steps/s, 103 images/s, ETA 2m30s; loss 0.4123, last checkpoint ckpt-000000100.pt
    train: finished 600/600 steps in 3m07s, 3.20 steps/s, 102 images/s; loss 0.2011, last checkpoint ...

``on_report`` is called at the same moments whatever the display (also on a terminal):
:class:`ProgressFile` is such a callback, writing ``progress.json`` for scripts and
notebooks that watch a run. :class:`Ticker` is the interval alone, for loops that wait
rather than count (the checkpoint watchers).

Example::

    import logging
    from timecontrast.progress import Progress, ProgressFile

    log = logging.getLogger(__name__)
    with Progress(total=max_step, initial=step, desc="train", unit="step", logger=log,
                  on_report=ProgressFile(logdir / "progress.json")) as progress:
        while step < max_step:
            loss = train_one_step()
            step += 1
            progress.update(1, counts={"images": batch_size}, loss=loss)
            if step % save_every == 0:
                progress.set(last_checkpoint=save_checkpoint(step))  # a path: its name in the line

Fields passed to :meth:`Progress.update` / :meth:`Progress.set` appear in the line
(``last_checkpoint`` as "last checkpoint ...") and in ``progress.json``; ``counts``
are totals of other things per update, shown as their rate (``images/s``).
Pass ``clock`` (a fake ``time.monotonic``) to test a loop's lines without waiting.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from timecontrast.errors import ConfigError
from timecontrast.io.files import write_text

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_SECS = 30.0
INTERVAL_ENV = "TCN_PROGRESS_INTERVAL"
PROGRESS_FILE_NAME = "progress.json"  # in a run's logdir (tcn train, tcn rl train)
MODES = ("auto", "bar", "log", "off")  # auto: bar on a terminal, log lines elsewhere

_interval_override: float | None = None  # set by `tcn --progress_interval` (progress_interval_set)


# ----------------------------------------------------------------------------- interval
def parse_interval(text: str | float, source: str) -> float:
    """Seconds between progress lines from ``text``; a :class:`ConfigError` naming ``source``."""
    try:
        seconds = float(text)
    except (TypeError, ValueError):
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigError(
            f"{source} is {text!r}; it must be a number of seconds > 0 between progress lines (default "
            f"{DEFAULT_INTERVAL_SECS:.0f})"
        )
    return seconds


def progress_interval() -> float:
    """Seconds between progress lines: ``tcn --progress_interval``, else ``$TCN_PROGRESS_INTERVAL``,
    else 30."""
    if _interval_override is not None:
        return _interval_override
    env = os.environ.get(INTERVAL_ENV, "").strip()
    return parse_interval(env, f"the environment variable {INTERVAL_ENV}") if env else DEFAULT_INTERVAL_SECS


@contextlib.contextmanager
def progress_interval_set(seconds: float | None) -> Iterator[None]:
    """Within the block, progress lines come every ``seconds`` (None: leave the setting as it is)."""
    global _interval_override
    before = _interval_override
    if seconds is not None:
        _interval_override = parse_interval(seconds, "the progress interval")
    try:
        yield
    finally:
        _interval_override = before


def format_duration(seconds: float | None) -> str:
    """``42s``, ``4m05s``, ``2h03m``; ``?`` when unknown."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "?"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def _format_rate(rate: float) -> str:
    return f"{rate:.0f}" if rate >= 100 else f"{rate:.1f}" if rate >= 10 else f"{rate:.2f}"


def _format_value(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, os.PathLike):
        return Path(value).name
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


class Ticker:
    """True once every ``interval`` seconds of ``clock``: ``if ticker.due(): log.info(...)``."""

    def __init__(self, interval: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = progress_interval() if interval is None else interval
        self.clock = clock
        self.last = clock()

    def due(self) -> bool:
        """Whether an interval has passed since the start or the last time this said True."""
        now = self.clock()
        if now - self.last >= self.interval:
            self.last = now
            return True
        return False

    def remaining(self) -> float:
        """Seconds until the next :meth:`due` (0 when it is due now)."""
        return max(0.0, self.interval - (self.clock() - self.last))


# ----------------------------------------------------------------------------- snapshot
@dataclass(frozen=True)
class ProgressSnapshot:
    """Where a loop stands: what :class:`Progress` logs and hands to ``on_report``."""

    desc: str
    unit: str
    units: str  # the unit's plural, for lines
    n: int
    total: int | None
    expected_total: int | None  # an estimate of the final total while ``total`` still grows
    elapsed_secs: float
    rate: float | None  # units/s over the last interval; the whole run's at the end
    rates: dict[str, float]  # counts/s (e.g. images) over the same time
    eta_secs: float | None
    fields: dict[str, Any] = field(default_factory=dict)
    state: str = "running"  # running | finished | stopped

    def line(self) -> str:
        """The progress line logged off a terminal."""
        goal = self.expected_total if self.expected_total is not None else self.total
        if goal is None:
            done = f"{self.n} {self.units}"
        else:
            approx = "~" if self.expected_total is not None and self.expected_total != self.total else ""
            done = f"{self.n}/{approx}{goal} {self.units}"
        if self.state == "running":
            pct = f" ({self.n / goal:.0%})" if goal else ""
            head = f"{self.desc}: {done}{pct}"
        else:
            verb = "finished" if self.state == "finished" else "stopped at"
            head = f"{self.desc}: {verb} {done} {'in' if self.state == 'finished' else 'after'} "
            head += format_duration(self.elapsed_secs)
        parts = [head]
        if self.rate is not None:
            parts.append(f"{_format_rate(self.rate)} {self.units}/s")
        parts += [f"{_format_rate(r)} {name}/s" for name, r in self.rates.items()]
        if self.state == "running" and goal is not None:
            parts.append(f"ETA {format_duration(self.eta_secs)}")
        text = ", ".join(parts)
        if self.fields:
            text += "; " + ", ".join(f"{k.replace('_', ' ')} {_format_value(v)}" for k, v in self.fields.items())
        return text


# ----------------------------------------------------------------------------- progress
class Progress:
    """Progress of a loop of ``total`` units (None: unknown); see the module docstring.

    ``mode``: ``auto`` (a tqdm bar when standard error is a terminal, else log lines),
    ``bar``, ``log`` or ``off`` (neither; ``on_report`` is still called). ``interval``:
    seconds between lines and reports (default :func:`progress_interval`). ``logger``:
    where lines go (the caller's, so they name the module). ``units``: the plural for
    lines (default ``unit + "s"``). ``on_report(snapshot)``: called at the start, every
    interval and at :meth:`close`. ``fields``: the first values to show (their order is the
    line's). Other keyword arguments go to ``tqdm`` (``leave``,
    ``dynamic_ncols``, ...). Thread-safe: workers may call :meth:`update`.
    """

    def __init__(
        self,
        total: int | None = None,
        desc: str = "",
        unit: str = "it",
        *,
        initial: int = 0,
        units: str | None = None,
        mode: str = "auto",
        interval: float | None = None,
        logger: logging.Logger | None = None,
        on_report: Callable[[ProgressSnapshot], None] | None = None,
        fields: dict[str, Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
        **bar_options: Any,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode={mode!r}: choose one of {', '.join(MODES)}")
        if mode == "auto":
            mode = "bar" if sys.stderr is not None and sys.stderr.isatty() else "log"
        self.mode = mode
        self.desc, self.unit, self.units = desc, unit, units or f"{unit}s"
        self.total = total
        self.expected_total: int | None = None
        self.n = self._start_n = self._line_n = int(initial)
        self.fields: dict[str, Any] = dict(fields or {})
        self.counts: dict[str, int] = {}
        self._line_counts: dict[str, int] = {}
        self.logger = logger or log
        self.on_report = on_report
        self.clock = clock
        self.ticker = Ticker(interval, clock)
        self._start = self._line_time = self.ticker.last
        self._lock = threading.Lock()
        self.closed = False
        self.bar = None
        if mode == "bar":
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, desc=desc, unit=unit, **bar_options)
        self._report(self.snapshot())

    # ------------------------------------------------------------------- updates
    def update(self, n: int = 1, *, counts: dict[str, int] | None = None, **fields: Any) -> None:
        """``n`` more units done; ``counts``: how many of other things (``{"images": 64}``);
        ``fields``: values to show (``loss=0.41``). Logs a line when an interval has passed."""
        with self._lock:
            self.n += n
            if counts:
                for name, k in counts.items():
                    self.counts[name] = self.counts.get(name, 0) + k
            self.fields.update(fields)
            if self.bar is not None and n:
                self.bar.update(n)
            if self.ticker.due():
                self._emit()

    def set(self, **fields: Any) -> None:
        """Show ``fields`` from the next line on (``last_checkpoint=path``); counts nothing, logs nothing."""
        with self._lock:
            self.fields.update(fields)

    def set_total(self, total: int | None, expected: int | None = None) -> None:
        """The total grew (or is now known); ``expected``: an estimate of the final total, for the
        line and the ETA while ``total`` only counts the work planned so far."""
        with self._lock:
            self.total = total
            self.expected_total = expected
            if self.bar is not None:
                self.bar.total = total
                self.bar.refresh()

    def set_postfix(self, **values: Any) -> None:
        """Values shown after the bar on a terminal (tqdm's ``set_postfix``); nothing off a terminal."""
        if self.bar is not None:
            self.bar.set_postfix(refresh=False, **values)

    # ------------------------------------------------------------------- reports
    def snapshot(self, state: str = "running") -> ProgressSnapshot:
        """Where the loop stands now; rates over the time since the last line (``running``) or
        the whole run (else)."""
        now = self.clock()
        if state == "running":
            since, done = now - self._line_time, self.n - self._line_n
            counted = {k: v - self._line_counts.get(k, 0) for k, v in self.counts.items()}
        else:
            since, done, counted = now - self._start, self.n - self._start_n, dict(self.counts)
        rate = done / since if since > 0 and done > 0 else None
        rates = {k: v / since for k, v in counted.items()} if since > 0 and done > 0 else {}
        goal = self.expected_total if self.expected_total is not None else self.total
        eta = None
        if goal is not None:
            eta = 0.0 if self.n >= goal else (goal - self.n) / rate if rate else None
        return ProgressSnapshot(
            self.desc, self.unit, self.units, self.n, self.total, self.expected_total, now - self._start,
            rate, rates, eta, dict(self.fields), state,
        )  # fmt: skip

    def _emit(self) -> None:
        snap = self.snapshot()
        if self.mode == "log":
            self.logger.info("%s", snap.line())
        self._line_time, self._line_n, self._line_counts = self.clock(), self.n, dict(self.counts)
        self._report(snap)

    def _report(self, snap: ProgressSnapshot) -> None:
        if self.on_report is not None:
            self.on_report(snap)

    def close(self, finished: bool | None = None) -> None:
        """End the bar, log the last line and report; ``finished`` (default: the total was
        reached, or there is none) says whether the loop completed or stopped early."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            if finished is None:
                goal = self.expected_total if self.expected_total is not None else self.total
                finished = goal is None or self.n >= goal
            if self.bar is not None:
                self.bar.close()
            snap = self.snapshot("finished" if finished else "stopped")
            if self.mode == "log":
                self.logger.info("%s", snap.line())
            self._report(snap)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(finished=None if exc_type is None else False)


# ----------------------------------------------------------------------------- progress.json
class ProgressFile:
    """An ``on_report`` callback writing the snapshot to ``path`` as JSON, atomically.

    ``tcn train`` writes ``<logdir>/progress.json`` (rank 0 only)::

        {"step": 120, "final_step": 600, "steps_per_sec": 3.2, "images_per_sec": 102.7,
         "eta_seconds": 150.0, "elapsed_seconds": 40.1, "loss": 0.41,
         "last_checkpoint": "runs/demo/checkpoints/ckpt-000000100.pt", "state": "running",
         "finished": false, "updated": "2025-01-31T12:00:00+00:00", "updated_unix": 1738324800.0}

    ``step``/``final_step`` count the loop's units (``final_step`` is null when unknown),
    ``<count>_per_sec`` each of its counts, then its fields; ``state`` is ``running``,
    ``finished`` or ``stopped`` (an error or an interrupt). A write that fails (a full disk)
    is logged once as a warning and does not stop the run.
    """

    def __init__(self, path: str | os.PathLike, now: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.now = now
        self._warned = False

    @staticmethod
    def payload(snap: ProgressSnapshot, now: float) -> dict[str, Any]:
        out: dict[str, Any] = {
            "step": snap.n,
            "final_step": snap.total,
            "steps_per_sec": snap.rate,
            **{f"{name}_per_sec": rate for name, rate in snap.rates.items()},
            "eta_seconds": snap.eta_secs,
            "elapsed_seconds": snap.elapsed_secs,
        }
        out.update({k: _json_value(v) for k, v in snap.fields.items()})
        stamp = datetime.fromtimestamp(now).astimezone().isoformat(timespec="seconds")
        out.update(state=snap.state, finished=snap.state == "finished", updated=stamp, updated_unix=now)
        return {k: _json_value(v) for k, v in out.items()}

    def __call__(self, snap: ProgressSnapshot) -> None:
        try:
            write_text(self.path, json.dumps(self.payload(snap, self.now()), indent=1) + "\n")
        except OSError as exc:
            if not self._warned:
                log.warning("cannot write %s (%s); the run goes on without it", self.path, exc.strerror or exc)
                self._warned = True


def read_progress(path: str | os.PathLike) -> dict[str, Any]:
    """The contents of a ``progress.json`` (a run's logdir or the file itself)."""
    p = Path(path).expanduser()
    if p.is_dir():
        p = p / PROGRESS_FILE_NAME
    return json.loads(p.read_text(encoding="utf-8"))


__all__ = [
    "DEFAULT_INTERVAL_SECS",
    "INTERVAL_ENV",
    "PROGRESS_FILE_NAME",
    "Progress",
    "ProgressFile",
    "ProgressSnapshot",
    "Ticker",
    "format_duration",
    "parse_interval",
    "progress_interval",
    "progress_interval_set",
    "read_progress",
]
