"""A run owns its logdir: one tcn train at a time, a finished run's files left as they are,
what a killed run left behind cleaned up, result files readable by colleagues."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys

import pytest

from timecontrast.cli.main import main
from timecontrast.config import FINAL_CONFIG_NAME
from timecontrast.io.files import FILE_MODE
from timecontrast.models import list_checkpoints
from timecontrast.training.lock import LOCK_NAME, LogdirLock
from timecontrast.training.summaries import METRICS_NAME

from .tiny import STRATEGY_OVERRIDES, tiny_overrides

_HOLD = """
import sys, time
from timecontrast.training.lock import LogdirLock
LogdirLock(sys.argv[1]).acquire()
print("locked", flush=True)
time.sleep(120)
"""


@pytest.fixture
def overrides(toy_dataset):
    return [*tiny_overrides(toy_dataset), *STRATEGY_OVERRIDES["mvtcn_npairs"]]


def _hold_lock(logdir) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(logdir)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_a_second_run_on_a_logdir_exits_2_naming_the_owner_until_the_owner_dies(overrides, tmp_path, capsys):
    logdir = tmp_path / "run"
    holder = _hold_lock(logdir)
    try:
        assert main(["train", "--logdir", str(logdir), *overrides]) == 2
        err = capsys.readouterr().err
        assert f"pid {holder.pid} on " in err and "in use by another tcn train" in err
        assert not (logdir / "checkpoints").exists() and not (logdir / FINAL_CONFIG_NAME).exists()
    finally:
        holder.send_signal(signal.SIGKILL)  # no cleanup: the lock file stays, its lock goes
        holder.wait()
    assert json.loads((logdir / LOCK_NAME).read_text())["pid"] == holder.pid
    assert main(["train", "--logdir", str(logdir), *overrides]) == 0  # the stale lock is taken over
    assert [s for s, _ in list_checkpoints(logdir)] == [2, 4]
    assert not (logdir / LOCK_NAME).exists()  # released at the end


def test_the_lock_excludes_a_second_holder_in_the_same_process(tmp_path):
    with LogdirLock(tmp_path), pytest.raises(Exception, match="already training"):
        LogdirLock(tmp_path).acquire()
    with LogdirLock(tmp_path):  # released: free again
        pass


def test_a_finished_run_keeps_its_config_and_metrics(overrides, tmp_path, capsys):
    logdir = tmp_path / "run"
    assert main(["train", "--logdir", str(logdir), *overrides]) == 0
    config = (logdir / FINAL_CONFIG_NAME).read_text()
    metrics = (logdir / METRICS_NAME).read_text()
    assert main(["train", "--logdir", str(logdir), "learning.max_step=2"]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert (logdir / FINAL_CONFIG_NAME).read_text() == config
    assert (logdir / METRICS_NAME).read_text() == metrics


def test_temporaries_of_a_killed_run_are_removed_and_results_are_readable_by_others(overrides, tmp_path):
    logdir = tmp_path / "run"
    assert main(["train", "--logdir", str(logdir), *overrides, "learning.max_step=2"]) == 0
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    leftovers = [
        logdir / "checkpoints" / f".ckpt-000000004.pt.{dead.pid}.abcd1234.tmp",  # kill -9 during a save
        logdir / f".{METRICS_NAME}.{os.getppid()}.efgh5678.tmp",  # even if that pid is alive now
    ]
    for path in leftovers:
        path.write_bytes(b"partial")
    assert main(["train", "--logdir", str(logdir), *overrides]) == 0  # resumes 2 -> 4, rewriting metrics.jsonl
    assert not any(p.exists() for p in leftovers)
    for path in (list_checkpoints(logdir)[-1][1], logdir / FINAL_CONFIG_NAME, logdir / METRICS_NAME):
        assert stat.S_IMODE(path.stat().st_mode) == FILE_MODE, path  # not mkstemp's 0600


def test_a_full_disk_while_logging_names_metrics_jsonl(tmp_path, monkeypatch):
    import errno

    from timecontrast.training.summaries import MetricsLog

    log = MetricsLog(tmp_path)

    class Full:
        def write(self, text):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def flush(self):
            pass

        def close(self):
            pass

    log._jsonl = Full()
    with pytest.raises(OSError) as info:
        log.scalars(1, {"loss": 1.0})
    assert info.value.filename == str(tmp_path / METRICS_NAME)
    log.close()
