"""kill -9 at random moments of ``tcn train``, then resume (issue 13, fault injection).

Two run directories, each trained to step 60 by a chain of ``python -m timecontrast train``
processes killed with SIGKILL: one saving every step and keeping every checkpoint, one
saving every 2 steps and keeping 2 (so that removing old checkpoints is also a moment to
be killed in). Kills come from a seeded generator, each of one of these kinds:

- ``startup``: a random delay after the start (imports, lock, clean-up, config, metrics);
- ``holding_lock``: as soon as the lock file names the new process (clean-up, config);
- ``after_start``: a random delay (0-100 ms) after "training ... from step", a few steps;
- ``on_temporary``: as soon as the k-th checkpoint temporary of the process is on disk;
- ``on_checkpoint``: as soon as the j-th new ``ckpt-*.pt`` appears (fsync, removing old ones).

The first run of each directory is killed on its first checkpoint temporary: a resume
from step 0 must drop what the killed run logged too. After every kill: every visible
``ckpt-*.pt`` loads (and no ``*.corrupt`` was ever needed), the lock's owner is dead and
its lock free, metrics.jsonl has each step at most once, and a start that got past its
clean-up left no temporary of an earlier process. At the end the run is resumed to
completion: its final weights and optimiser state equal those of an uninterrupted run,
bit for bit, and metrics.jsonl (and TensorBoard) hold steps 1..60 once each with the same losses.

``pytest -s`` prints where the kills landed (a table for docs/). About 2-3 minutes on
2 cores: the start of a process (importing torch) dominates.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from timecontrast.io.files import stale_temporaries
from timecontrast.models import list_checkpoints, load_checkpoint
from timecontrast.training.lock import LOCK_NAME
from timecontrast.training.summaries import METRICS_NAME, read_metrics

from .tiny import STRATEGY_OVERRIDES, tiny_overrides

MAX_STEP = 60  # enough that no chain of kills reaches it (checked: each kill lands before the end)
SEED = 13
SCENARIOS = {  # name: (save_checkpoints_steps, num_to_keep, kills)
    "save 1, keep all": (1, 0, 11),
    "save 2, keep 2": (2, 2, 11),
}
KINDS = ["startup", "startup", "holding_lock", "after_start", "after_start", "after_start", "on_temporary",
         "on_temporary", "on_checkpoint", "on_checkpoint"]  # fmt: skip
STARTED = re.compile(r"trainer: training \S+ / \S+ from step (\d+)")
REMOVED = re.compile(r"removed (\S+), left by a run that was killed")
TEMPORARY = re.compile(r"^\.(.+)\.(\d+)\.[A-Za-z0-9_]+\.tmp(\.[A-Za-z0-9]+)?$")  # io.files' temporary names
ENV = {**os.environ, "MUJOCO_GL": "egl", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}

# Where a kill landed, from what it left on disk (the rows of the summary table).
STARTUP, LOCKED, TRAINING = (
    "startup (imports, before the lock)",
    "startup (holding the lock)",
    "training step (or just after a save)",
)
SERIALISING, WRITING, PRUNING = "save: serialising", "save: temporary on disk", "save: removing old checkpoints"
LANDINGS = [STARTUP, LOCKED, TRAINING, SERIALISING, WRITING, PRUNING]
SAVING = {SERIALISING, WRITING, PRUNING}


class Child:
    """One ``tcn train`` process, its output in files."""

    def __init__(self, logdir: Path, overrides: list[str], logs: Path, name: str) -> None:
        self.err = logs / f"{name}.stderr"
        with open(self.err, "w") as err, open(logs / f"{name}.stdout", "w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "timecontrast", "train", "--logdir", str(logdir), *overrides],
                stdout=out,
                stderr=err,
                env=ENV,
            )
        self.pid = self.proc.pid
        self.spawned = time.monotonic()
        self.startup_s: float | None = None  # seconds from the spawn to "training ... from step", once seen

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    def started(self) -> bool:
        """Past its clean-up: the trainer logged "training ... from step"."""
        if STARTED.search(self.stderr()) is None:
            return False
        if self.startup_s is None:
            self.startup_s = time.monotonic() - self.spawned
        return True

    def wait_until(self, condition, timeout: float = 120.0) -> bool:
        """Poll ``condition`` until it holds (True) or the process ends by itself (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if condition():
                return True
            time.sleep(0.0005)
        raise AssertionError(f"pid {self.pid}: nothing happened in {timeout} s\n{self.stderr()}")

    def kill(self) -> bool:
        """SIGKILL; True if it was killed, False if it had finished by itself (exit 0)."""
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGKILL)
        rc = self.proc.wait()
        assert rc in (0, -signal.SIGKILL), f"pid {self.pid} failed (exit {rc}):\n{self.stderr()}"
        return rc == -signal.SIGKILL


def temporaries(folder: Path, pid: int | None = None) -> list[Path]:
    found = stale_temporaries(folder, any_owner=True)  # every temporary but this process's own
    return [p for p in found if pid is None or int(TEMPORARY.match(p.name).group(2)) == pid]


def lock_owner_pid(logdir: Path) -> int | None:
    try:
        return json.loads((logdir / LOCK_NAME).read_text() or "{}").get("pid")
    except (FileNotFoundError, ValueError):
        return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def assert_lock_free(logdir: Path) -> None:
    """The lock file, if any, names a dead process and its lock is free (taken and let go here)."""
    path = logdir / LOCK_NAME
    if not path.exists():
        return
    owner = lock_owner_pid(logdir)
    assert owner is None or not pid_alive(owner), f"{path}: owner {owner} is alive"
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if a process still holds it
        fcntl.lockf(fd, fcntl.LOCK_UN)
    except OSError as exc:
        assert exc.errno not in (errno.EACCES, errno.EAGAIN), f"{path} is still locked"
        raise
    finally:
        os.close(fd)


def metric_steps(logdir: Path) -> list[int]:
    return [int(m["step"]) for m in read_metrics(logdir)]


def assert_checkpoints_load(logdir: Path) -> list[int]:
    """Every visible checkpoint loads and holds its step; no ``*.corrupt``; returns the steps."""
    folder = logdir / "checkpoints"
    assert not list(logdir.rglob("*.corrupt")), "a checkpoint was unreadable"
    steps = []
    for step, path in list_checkpoints(folder):
        assert load_checkpoint(path)["step"] == step, path
        steps.append(step)
    return steps


def landing(logdir: Path, child: Child, save_every: int, keep: int) -> str:
    """Where the kill of ``child`` landed, from what it left on disk."""
    if temporaries(logdir / "checkpoints", child.pid):
        return WRITING
    checkpoints = list_checkpoints(logdir / "checkpoints")
    if keep and len(checkpoints) > keep:
        return PRUNING
    if not child.started():
        return LOCKED if lock_owner_pid(logdir) == child.pid else STARTUP
    logged = max(metric_steps(logdir), default=0)
    newest = checkpoints[-1][0] if checkpoints else 0
    if logged > newest and (logged % save_every == 0 or logged == MAX_STEP):
        return SERIALISING  # the step is logged, its checkpoint not yet on disk: torch.save into memory
    return TRAINING


def kill_sometime(child: Child, kind: str, rng: np.random.Generator, startup_s: float, logdir: Path) -> bool:
    """Kill ``child`` at a moment of the ``kind``; False if it finished first."""
    folder = logdir / "checkpoints"
    if kind == "startup":  # at most at the end of the start: a longer delay would let the run finish
        delay = rng.uniform(0.05, 1.0) * startup_s
        if not child.wait_until(lambda: time.monotonic() - child.spawned >= delay or child.started()):
            return child.kill()
    elif kind == "holding_lock":
        if not child.wait_until(lambda: lock_owner_pid(logdir) == child.pid):
            return child.kill()
    else:
        if not child.wait_until(child.started):
            return child.kill()
        if kind == "after_start":
            until = time.monotonic() + rng.uniform(0.0, 0.1)
            child.wait_until(lambda: time.monotonic() >= until)
        elif kind == "on_temporary":
            wanted, seen = int(rng.integers(1, 4)), set()

            def kth_temporary() -> bool:
                now = {p.name for p in temporaries(folder, child.pid)}
                seen.update(now)
                return bool(now) and len(seen) >= wanted

            child.wait_until(kth_temporary)
        elif kind == "on_checkpoint":
            wanted, before = int(rng.integers(1, 3)), {p for _, p in list_checkpoints(folder)}
            seen = set()

            def jth_checkpoint() -> bool:
                seen.update(p for _, p in list_checkpoints(folder) if p not in before)
                return len(seen) >= wanted

            child.wait_until(jth_checkpoint)
        else:  # pragma: no cover
            raise ValueError(kind)
    return child.kill()


def check_after_kill(logdir: Path, child: Child, history: list[Child]) -> None:
    assert_checkpoints_load(logdir)
    assert_lock_free(logdir)
    steps = metric_steps(logdir)
    assert steps == sorted(set(steps)), f"metrics.jsonl repeats steps: {steps}"
    if child.started():  # past its clean-up: no temporary of an earlier process is left
        for folder in (logdir, logdir / "checkpoints"):
            left = [p for p in temporaries(folder) if int(TEMPORARY.match(p.name).group(2)) != child.pid]
            assert not left, f"{left} survived the start of pid {child.pid} (earlier: {[c.pid for c in history]})"


def train_with_kills(logdir: Path, overrides: list[str], logs: Path, kills: int, rng, save_every: int, keep: int):
    """Kill ``kills`` runs of ``logdir``; returns {landing: count} and the temporaries removed at starts."""
    kinds = ["on_temporary", *rng.permutation([KINDS[i % len(KINDS)] for i in range(kills - 1)])]
    landed, history, startup_s = collections.Counter(), [], 5.0
    for i, kind in enumerate(kinds):
        child = Child(logdir, overrides, logs, f"{logdir.name}-{i:02d}-{kind}")
        if kind == "on_temporary" and i == 0:  # the first save of a fresh run, resumed from step 0
            child.wait_until(lambda c=child: bool(temporaries(logdir / "checkpoints", c.pid)))
            killed = child.kill()
        else:
            killed = kill_sometime(child, kind, rng, startup_s, logdir)
        finished = "finished at step" in child.stderr()  # killed while exiting is not a kill that counts
        assert killed and not finished, f"run {i} ({kind}) finished before it was killed: raise MAX_STEP"
        if child.startup_s is not None:  # the next "startup" kills spread over a start as long as this one
            startup_s = child.startup_s
        landed[landing(logdir, child, save_every, keep)] += 1
        check_after_kill(logdir, child, history)
        history.append(child)
    removed = sum(len(REMOVED.findall(c.stderr())) for c in history)
    return landed, removed


def final_state(logdir: Path) -> dict:
    steps = assert_checkpoints_load(logdir)
    assert steps[-1] == MAX_STEP, steps
    return load_checkpoint(list_checkpoints(logdir)[-1][1])


def tensorboard_losses(logdir: Path) -> dict[int, float]:
    """The ``loss`` scalars TensorBoard shows for ``logdir`` (it applies the purges of resumed runs)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(logdir))
    events.Reload()
    scalars = events.Scalars("loss")
    steps = [e.step for e in scalars]
    assert steps == sorted(set(steps)), f"{logdir}: TensorBoard shows steps {steps}"
    return {e.step: e.value for e in scalars}


def assert_equal_states(a, b, where: str) -> None:
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_equal_states(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_equal_states(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


@pytest.mark.slow
def test_kill_9_at_random_moments_then_resume_gives_the_uninterrupted_run(toy_dataset, tmp_path):
    began = time.monotonic()
    base = [*tiny_overrides(toy_dataset), *STRATEGY_OVERRIDES["mvtcn"], f"learning.max_step={MAX_STEP}",
            "runtime.num_threads=1", "runtime.device=cpu"]  # fmt: skip
    logs = tmp_path / "logs"
    logs.mkdir()
    reference_dir = tmp_path / "uninterrupted"
    reference = Child(reference_dir, [*base, f"logging.checkpoint.save_checkpoints_steps={MAX_STEP}"], logs, "ref")
    rng = np.random.default_rng(SEED)
    table = {}
    for name, (save_every, keep, kills) in SCENARIOS.items():
        logdir = tmp_path / name.replace(", ", "_").replace(" ", "")
        overrides = [
            *base,
            f"logging.checkpoint.save_checkpoints_steps={save_every}",
            f"logging.checkpoint.num_to_keep={keep}",
        ]
        landed, removed = train_with_kills(logdir, overrides, logs, kills, rng, save_every, keep)
        final = Child(logdir, overrides, logs, f"{logdir.name}-final")
        assert final.proc.wait(timeout=300) == 0, final.stderr()
        table[name] = (landed, removed)

        # The resumed run finished cleanly: nothing temporary, no lock, no corrupt checkpoint.
        assert not temporaries(logdir) and not temporaries(logdir / "checkpoints")
        assert not (logdir / LOCK_NAME).exists()
        if keep:
            assert len(list_checkpoints(logdir)) == keep
        table[name] += (final_state(logdir),)

    assert reference.proc.wait(timeout=300) == 0, reference.stderr()
    expected = final_state(reference_dir)
    expected_losses = {m["step"]: m["loss"] for m in read_metrics(reference_dir)}
    assert sorted(expected_losses) == list(range(1, MAX_STEP + 1))
    expected_tensorboard = tensorboard_losses(reference_dir)
    assert sorted(expected_tensorboard) == list(range(1, MAX_STEP + 1))
    for name, (_, _, state) in table.items():
        logdir = tmp_path / name.replace(", ", "_").replace(" ", "")
        assert_equal_states(state["model"], expected["model"], f"{name}: model")
        assert_equal_states(state["optimizer"], expected["optimizer"], f"{name}: optimizer")
        steps = metric_steps(logdir)
        assert steps == list(range(1, MAX_STEP + 1)), f"{name}: {METRICS_NAME} steps {steps}"
        assert {m["step"]: m["loss"] for m in read_metrics(logdir)} == expected_losses, name
        assert tensorboard_losses(logdir) == expected_tensorboard, f"{name}: TensorBoard"

    # The table for docs/ (pytest -s).
    total = collections.Counter()
    for landed, _, _ in table.values():
        total.update(landed)
    print(f"\nkill -9 of tcn train ({sum(total.values())} kills, {time.monotonic() - began:.0f} s)")
    print("| landed in | " + " | ".join(table) + " | all |")
    print("|---|" + "---|" * (len(table) + 1))
    for row in LANDINGS:
        print(f"| {row} | " + " | ".join(str(v[0][row]) for v in table.values()) + f" | {total[row]} |")
    saving = {name: sum(v[0][r] for r in SAVING) for name, v in table.items()}
    print("| **during a checkpoint save** | " + " | ".join(map(str, saving.values())) + f" | {sum(saving.values())} |")
    print("| temporaries removed at the next start | " + " | ".join(str(v[1]) for v in table.values()) + " | "
          f"{sum(v[1] for v in table.values())} |")  # fmt: skip
    assert sum(total.values()) >= 20


# Fast, in-process checks of the two defects the kills found (they run without -m slow).


def test_a_run_killed_before_its_first_checkpoint_leaves_no_repeated_metrics(make_config, tmp_path):
    from timecontrast.training import train

    cfg = make_config("mvtcn", "learning.max_step=4")
    (tmp_path / METRICS_NAME).write_text('{"step": 1, "loss": 9.0}\n{"step": 2, "loss": 9.0}\n{"step": 3, "lo')
    train(cfg, tmp_path)  # no checkpoint yet: starts at step 0, so the killed run's lines are stale
    metrics = read_metrics(tmp_path)
    assert [m["step"] for m in metrics] == [1, 2, 3, 4] and all(m["loss"] != 9.0 for m in metrics)
    assert sorted(tensorboard_losses(tmp_path)) == [1, 2, 3, 4]


def test_tensorboard_keeps_the_step_a_run_resumes_from(tmp_path):
    from timecontrast.training.summaries import MetricsLog

    with MetricsLog(tmp_path) as killed:  # checkpoint at step 2, then logged step 3 and was killed
        for step in (1, 2, 3):
            killed.scalars(step, {"loss": float(step)})
    time.sleep(1.1)  # a new event file name (it holds the time in seconds)
    with MetricsLog(tmp_path, purge_step=2) as resumed:
        resumed.scalars(3, {"loss": 30.0})
    assert tensorboard_losses(tmp_path) == {1: 1.0, 2: 2.0, 3: 30.0}
    assert [(m["step"], m["loss"]) for m in read_metrics(tmp_path)] == [(1, 1.0), (2, 2.0), (3, 30.0)]
