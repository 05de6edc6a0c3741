"""Progress of long loops: log lines at a steady wall-clock interval off a terminal (a fake
clock here), the tqdm bar on one, progress.json, the interval setting, the watcher's
waiting lines."""

from __future__ import annotations

import io
import logging
import re

import pytest

from timecontrast.cli.main import main
from timecontrast.errors import ConfigError
from timecontrast.evaluation.watcher import iter_new_checkpoints
from timecontrast.progress import (
    INTERVAL_ENV,
    Progress,
    ProgressFile,
    Ticker,
    format_duration,
    progress_interval,
    progress_interval_set,
    read_progress,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _lines(caplog, prefix: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(prefix)]


def test_off_a_terminal_a_line_every_interval_with_rate_eta_and_fields(caplog):
    caplog.set_level(logging.INFO)
    clock, reports = FakeClock(), []
    progress = Progress(
        total=600, initial=100, desc="train", unit="step", mode="log", interval=30, clock=clock,
        on_report=reports.append, fields={"loss": None, "last_checkpoint": None},
    )  # fmt: skip
    for step in range(101, 601):  # 2 steps/s, 64 images a step
        clock.sleep(0.5)
        progress.update(1, counts={"images": 64}, loss=1.0 / step)
        if step % 100 == 0:
            progress.set(last_checkpoint=f"/runs/x/checkpoints/ckpt-{step:09d}.pt")
    progress.close()
    lines = _lines(caplog, "train: ")
    # 250 s of training: a line at 30, 60, ..., 240 s (8), then the end.
    assert len(lines) == 9
    assert lines[0] == (
        "train: 160/600 steps (27%), 2.00 steps/s, 128 images/s, ETA 3m40s; loss 0.00625, last checkpoint none"
    )
    assert lines[1].startswith("train: 220/600 steps (37%), 2.00 steps/s, 128 images/s, ETA 3m10s; loss 0.004545")
    assert lines[1].endswith("last checkpoint /runs/x/checkpoints/ckpt-000000200.pt")
    assert lines[-1] == (
        "train: finished 600/600 steps in 4m10s, 2.00 steps/s, 128 images/s; loss 0.001667, "
        "last checkpoint /runs/x/checkpoints/ckpt-000000600.pt"
    )
    # on_report: at the start, at every line and at the end.
    assert [r.n for r in reports] == [100, 160, 220, 280, 340, 400, 460, 520, 580, 600]
    assert reports[0].rate is None and reports[0].eta_secs is None and reports[-1].state == "finished"


def test_a_stalled_loop_says_so_and_a_failed_one_stops(caplog):
    caplog.set_level(logging.INFO)
    clock = FakeClock()
    with pytest.raises(RuntimeError), Progress(total=10, desc="synth", unit="seq", units="sequences",
                                               mode="log", interval=30, clock=clock) as progress:  # fmt: skip
        progress.update(2)
        clock.sleep(31)
        progress.update(0)  # nothing done for 31 s: no rate, no ETA to make up
        raise RuntimeError("boom")
    lines = _lines(caplog, "synth: ")
    assert lines == [
        "synth: 2/10 sequences (20%), 0.06 sequences/s, ETA 2m04s",
        "synth: stopped at 2/10 sequences after 31s, 0.06 sequences/s",
    ]


def test_a_growing_total_shows_its_estimate():
    clock = FakeClock()
    progress = Progress(total=0, desc="convert", unit="frame", mode="log", interval=30, clock=clock)
    progress.set_total(100, expected=400)  # 1 of 4 sequences planned
    clock.sleep(10)
    progress.update(50)
    snap = progress.snapshot()
    assert snap.line() == "convert: 50/~400 frames (12%), 5.00 frames/s, ETA 1m10s"
    progress.set_total(400)
    assert progress.snapshot().line() == "convert: 50/400 frames (12%), 5.00 frames/s, ETA 1m10s"


def test_on_a_terminal_the_tqdm_bar_and_no_lines(caplog):
    caplog.set_level(logging.INFO)
    clock, reports, out = FakeClock(), [], io.StringIO()
    progress = Progress(total=4, desc="train", unit="step", mode="bar", interval=30, clock=clock,
                        on_report=reports.append, file=out)  # fmt: skip
    for _ in range(4):
        clock.sleep(20)
        progress.update(1, loss=0.5)
        progress.set_postfix(loss="0.5000")
    progress.close()
    assert not _lines(caplog, "train")
    assert re.search(r"train: 100%\|.*\| 4/4 .*loss=0.5000", out.getvalue())
    assert [r.n for r in reports] == [0, 2, 4, 4]  # progress.json follows the same interval (40, 80 s, end)


def test_auto_is_the_bar_on_a_terminal_only(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stderr", Tty())
    assert Progress(total=1, mode="auto").mode == "bar"
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert Progress(total=1, mode="auto").mode == "log"
    with pytest.raises(ValueError, match="mode='loud'"):
        Progress(total=1, mode="loud")


def test_progress_file_is_json_a_notebook_can_read(tmp_path, caplog):
    clock = FakeClock()
    path = tmp_path / "run" / "progress.json"
    path.parent.mkdir()
    progress = Progress(total=10, desc="train", unit="step", mode="off", interval=5, clock=clock,
                        on_report=ProgressFile(path, now=lambda: 1_700_000_000.0), fields={"loss": None})  # fmt: skip
    assert read_progress(path.parent) == {
        "step": 0, "final_step": 10, "steps_per_sec": None, "eta_seconds": None, "elapsed_seconds": 0.0,
        "loss": None, "state": "running", "finished": False,
        "updated": read_progress(path)["updated"], "updated_unix": 1_700_000_000.0,
    }  # fmt: skip
    assert re.fullmatch(r"2023-11-1\dT\d\d:\d\d:20[+-]\d\d:\d\d", read_progress(path)["updated"])
    for _ in range(10):
        clock.sleep(1)
        progress.update(1, counts={"images": 8}, loss=0.25, last_checkpoint=tmp_path / "ckpt-000000010.pt")
    progress.close()
    data = read_progress(path)
    assert (data["step"], data["final_step"], data["state"], data["finished"]) == (10, 10, "finished", True)
    assert data["steps_per_sec"] == 1.0 and data["images_per_sec"] == 8.0 and data["eta_seconds"] == 0.0
    assert data["loss"] == 0.25 and data["last_checkpoint"] == str(tmp_path / "ckpt-000000010.pt")
    assert [p.name for p in path.parent.iterdir()] == ["progress.json"]  # written atomically: no temporaries

    # A write that fails (here: a file is where its folder should be) is a warning, once; the loop goes on.
    caplog.set_level(logging.WARNING)
    (tmp_path / "file").write_text("")
    gone = ProgressFile(tmp_path / "file" / "progress.json")
    progress = Progress(total=3, mode="off", interval=1, clock=clock, on_report=gone)
    for _ in range(3):
        clock.sleep(1)
        progress.update(1)
    progress.close()
    assert len([r for r in caplog.records if "cannot write" in r.getMessage()]) == 1


def test_the_interval_comes_from_the_option_the_environment_or_the_default(monkeypatch):
    monkeypatch.delenv(INTERVAL_ENV, raising=False)
    assert progress_interval() == 30.0
    monkeypatch.setenv(INTERVAL_ENV, "12.5")
    assert progress_interval() == 12.5
    with progress_interval_set(3):
        assert progress_interval() == 3.0 and Ticker().interval == 3.0
        with progress_interval_set(None):  # a nested tcn call without the option keeps it
            assert progress_interval() == 3.0
    assert progress_interval() == 12.5
    monkeypatch.setenv(INTERVAL_ENV, "soon")
    with pytest.raises(ConfigError, match=f"environment variable {INTERVAL_ENV} is 'soon'.*seconds > 0"):
        Progress(total=1, mode="off")


def test_tcn_progress_interval_option_applies_to_the_command(monkeypatch, capsys):
    import timecontrast.cli.inspect as inspect_command

    seen = []
    monkeypatch.setattr(inspect_command, "run", lambda args: seen.append(progress_interval()) or 0)
    monkeypatch.delenv(INTERVAL_ENV, raising=False)
    assert main(["--progress_interval", "7", "inspect", "x"]) == 0
    assert main(["inspect", "x"]) == 0
    assert seen == [7.0, 30.0]
    with pytest.raises(SystemExit):
        main(["--progress_interval", "-1", "inspect", "x"])
    assert "--progress_interval is '-1'; it must be a number of seconds > 0" in capsys.readouterr().err
    monkeypatch.setenv(INTERVAL_ENV, "0")
    monkeypatch.setattr(inspect_command, "run", lambda args: Progress(total=1, mode="off") and 0)
    assert main(["inspect", "x"]) == 2
    assert f"environment variable {INTERVAL_ENV} is '0'" in capsys.readouterr().err


def test_format_duration():
    assert [format_duration(s) for s in (None, -1, 0.4, 59.6, 61, 3599, 3600, 7380)] == [
        "?", "?", "0s", "1m00s", "1m01s", "59m59s", "1h00m", "2h03m",
    ]  # fmt: skip


def test_the_watcher_says_what_it_waits_for_every_interval(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="timecontrast.evaluation.watcher")
    ckdir = tmp_path / "run" / "checkpoints"
    ckdir.mkdir(parents=True)
    (ckdir / "ckpt-000000100.pt").write_bytes(b"x")
    clock, sleeps = FakeClock(), []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.sleep(seconds)

    with progress_interval_set(30):
        got = list(
            iter_new_checkpoints(ckdir, 300, timeout_secs=600, sleep=sleep, clock=clock, label="align")
        )  # fmt: skip
    assert got == [(100, ckdir / "ckpt-000000100.pt")]
    waiting = _lines(caplog, "align: waiting")
    # 600 s without a new checkpoint, a poll every 300 s: a line every 30 s, then the timeout's.
    assert len(waiting) == 20 and sleeps == [30.0] * 20
    assert waiting[0] == (
        f"align: waiting for a new checkpoint in {ckdir} (the newest, step 100, is evaluated; 30s without a new "
        "one, looking every 5m00s; stops after 10m00s without one)"
    )
    assert "5m30s without a new one" in waiting[10]
    assert any(f"no new checkpoint in {ckdir} for 600 s; stopping" in m for m in caplog.messages)
