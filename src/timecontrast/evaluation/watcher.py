"""Wait for new checkpoints and hand each one over exactly once.

The original's evaluation binaries used ``tf.contrib.training.checkpoints_iterator``
(latest checkpoint only, so a checkpoint could be skipped) or re-evaluated the latest
checkpoint in a loop with no sleep. Here every checkpoint file that appears is yielded
once, in step order, also across a restart when the caller passes the steps it has
already evaluated (``skip_steps``, e.g. read from its results JSON with
:func:`timecontrast.evaluation.summaries.evaluated_steps`).

While it waits, a line is logged every :func:`timecontrast.progress.progress_interval`
seconds (``tcn --progress_interval``) saying what it waits for, so a log file shows a
watcher that is alive.

Only complete checkpoint files count: ``ckpt-<step:09d>.pt`` as listed by
:func:`timecontrast.models.checkpoint.list_checkpoints`. Temporary files written while a
checkpoint is saved (``.ckpt-...tmp`` and the like) and empty files never count.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from timecontrast.errors import CheckpointError
from timecontrast.models.checkpoint import list_checkpoints
from timecontrast.progress import Ticker, format_duration

log = logging.getLogger(__name__)


def find_checkpoints(checkpoint_dir: str | os.PathLike) -> list[tuple[int, Path]]:
    """``(step, path)`` of every complete, non-empty checkpoint in a folder (or logdir), by step."""
    found = []
    for step, path in list_checkpoints(Path(checkpoint_dir).expanduser()):
        try:
            if path.stat().st_size > 0:
                found.append((step, path))
        except FileNotFoundError:  # removed between listing and stat
            continue
    return found


def describe_folder(checkpoint_dir: str | os.PathLike, limit: int = 6) -> str:
    """What a folder holds, for an error message: missing, empty, or its first entries."""
    p = Path(checkpoint_dir).expanduser()
    if not p.exists():
        return "it does not exist"
    if not p.is_dir():
        return "it is a file, not a folder"
    try:
        names = sorted(e.name + ("/" if e.is_dir() else "") for e in os.scandir(p) if not e.name.startswith("."))
    except OSError as exc:
        return f"it cannot be read ({exc.strerror})"
    if not names:
        return "it is empty"
    shown = ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")
    return f"it holds {shown}"


def latest_checkpoint(checkpoint_dir: str | os.PathLike) -> tuple[int, Path]:
    """``(step, path)`` of the newest complete checkpoint; a :class:`CheckpointError` naming the
    folder and what it holds when there is none (never waits)."""
    found = find_checkpoints(checkpoint_dir)
    if not found:
        p = Path(checkpoint_dir).expanduser()
        where = p if p.name == "checkpoints" or not (p / "checkpoints").is_dir() else p / "checkpoints"
        raise CheckpointError(
            f"no checkpoint (ckpt-<step>.pt) in '{where}': {describe_folder(where)}; "
            "check the path, or train first (tcn train --logdir ...)"
        )
    return found[-1]


def iter_new_checkpoints(
    checkpoint_dir: str | os.PathLike,
    interval_secs: float,
    timeout_secs: float | None = None,
    once: bool = False,
    skip_steps: Iterable[int] = (),
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    label: str = "",
) -> Iterator[tuple[int, Path]]:
    """Yield ``(step, path)`` of each new checkpoint in ``checkpoint_dir``, once each.

    ``checkpoint_dir`` is a checkpoints folder or a logdir holding ``checkpoints/``; it
    may not exist yet. Checkpoints present at the start are yielded first (in step order),
    except the steps in ``skip_steps``; then the folder is polled every ``interval_secs``.
    ``timeout_secs``: stop after waiting this long with no new checkpoint (None: never).
    ``once``: yield the latest checkpoint (even if it is in ``skip_steps``: it was asked for
    explicitly) and stop; never waits: no checkpoint is a :class:`CheckpointError` naming
    the folder and what it holds. While waiting, a line every progress interval says for
    what, starting with ``label`` (e.g. the metric); ``sleep`` and ``clock`` are injectable
    for tests.
    """
    if interval_secs < 0:
        raise CheckpointError(f"the poll interval must be >= 0 seconds, got {interval_secs}")
    if once:
        yield latest_checkpoint(checkpoint_dir)
        return
    done = {int(s) for s in skip_steps}
    last_new = clock()
    ticker = Ticker(clock=clock)
    newest: int | None = None
    first_poll = True
    while True:
        found = find_checkpoints(checkpoint_dir)
        new = [(step, path) for step, path in found if step not in done]
        if first_poll and done and found:
            log.info("%s: skipping %d checkpoint(s) already evaluated", checkpoint_dir, len(found) - len(new))
        if first_poll and not found:  # not silent: a misspelled folder shows here
            log.info("waiting for checkpoints in %s (%s)", checkpoint_dir, describe_folder(checkpoint_dir))
        first_poll = False
        for step, path in new:
            done.add(step)
            if not path.is_file():  # removed meanwhile (e.g. by checkpoint.num_to_keep)
                log.warning("checkpoint %s disappeared before it could be evaluated; skipping it", path)
                continue
            yield step, path
            last_new = clock()
            ticker.last = last_new  # the next waiting line one interval after this checkpoint
        if found:
            newest = found[-1][0]
        if timeout_secs is not None and clock() - last_new >= timeout_secs:
            log.info("no new checkpoint in %s for %.0f s; stopping", checkpoint_dir, timeout_secs)
            return
        log.debug("waiting %.1f s for new checkpoints in %s", interval_secs, checkpoint_dir)
        line = functools.partial(_waiting_line, label, checkpoint_dir, newest, last_new, interval_secs, timeout_secs)
        _wait(interval_secs, sleep, ticker, line)


def _wait(seconds: float, sleep: Callable[[float], None], ticker: Ticker, line: Callable[[float], str]) -> None:
    """Sleep ``seconds`` in parts no longer than the ticker's interval, logging ``line(now)``
    whenever it is due."""
    if seconds <= 0:
        sleep(seconds)
        return
    left = seconds
    while left > 0:
        part = min(left, max(ticker.remaining(), 1e-3))
        sleep(part)
        left -= part
        if ticker.due():
            log.info("%s", line(ticker.last))


def _waiting_line(
    label: str,
    checkpoint_dir: str | os.PathLike,
    newest: int | None,
    since: float,
    interval: float,
    timeout: float | None,
    now: float,
) -> str:
    """What a watcher waits for, for the log."""
    have = "none yet" if newest is None else f"the newest, step {newest}, is evaluated"
    stop = "" if timeout is None else f"; stops after {format_duration(timeout)} without one"
    return (
        f"{label + ': ' if label else ''}waiting for a new checkpoint in {checkpoint_dir} ({have}; "
        f"{format_duration(now - since)} without a new one, looking every {format_duration(interval)}{stop})"
    )
