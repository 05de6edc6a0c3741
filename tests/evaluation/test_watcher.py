"""The checkpoint watcher yields every complete checkpoint exactly once."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from timecontrast.errors import CheckpointError
from timecontrast.evaluation.watcher import find_checkpoints, iter_new_checkpoints


def _touch(d: Path, name: str) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    p = d / name
    p.write_bytes(b"x")
    return p


def test_each_checkpoint_once_including_one_appearing_while_watching(tmp_path):
    ckdir = tmp_path / "logdir" / "checkpoints"
    _touch(ckdir, "ckpt-000000002.pt")
    _touch(ckdir, "ckpt-000000004.pt")
    _touch(ckdir, ".ckpt-000000006.pt.tmp")  # a checkpoint being written
    _touch(ckdir, "ckpt-000000008.pt.tmp")
    _touch(ckdir, "ckpt-000000010.pt")
    (ckdir / "ckpt-000000010.pt").write_bytes(b"")  # empty file: not complete

    seen: list[int] = []
    polls = {"n": 0}

    def sleep(_secs: float) -> None:
        # Between polls a new checkpoint appears (once), as a trainer would write it.
        polls["n"] += 1
        if polls["n"] == 2:
            _touch(ckdir, "ckpt-000000006.pt")

    for step, path in iter_new_checkpoints(tmp_path / "logdir", interval_secs=0.0, timeout_secs=0.3, sleep=sleep):
        assert path.is_file()
        seen.append(step)
    assert seen == [2, 4, 6]
    assert polls["n"] >= 3  # kept polling after the last one until the timeout


def test_skip_steps_survive_a_restart(tmp_path):
    ckdir = tmp_path / "checkpoints"
    for s in (1, 2, 3):
        _touch(ckdir, f"ckpt-{s:09d}.pt")
    got = [s for s, _ in iter_new_checkpoints(ckdir, 0.0, timeout_secs=0.0, skip_steps=[1, 2])]
    assert got == [3]


def test_once_yields_latest_only(tmp_path):
    ckdir = tmp_path / "checkpoints"
    for s in (5, 50, 7):
        _touch(ckdir, f"ckpt-{s:09d}.pt")
    got = [s for s, _ in iter_new_checkpoints(ckdir, 0.0, once=True, skip_steps=[50])]
    assert got == [50]


def test_waits_for_a_missing_directory_with_a_real_clock(tmp_path):
    ckdir = tmp_path / "later" / "checkpoints"
    timer = threading.Timer(0.1, lambda: _touch(ckdir, "ckpt-000000001.pt"))
    timer.start()
    try:
        got = [s for s, _ in iter_new_checkpoints(tmp_path / "later", 0.02, timeout_secs=0.5)]
    finally:
        timer.cancel()
    assert got == [1]
    assert [s for s, _ in find_checkpoints(tmp_path / "later")] == [1]


def test_timeout_without_any_checkpoint_stops(tmp_path):
    assert list(iter_new_checkpoints(tmp_path / "none", 0.01, timeout_secs=0.05)) == []


@pytest.mark.parametrize("layout", ["missing", "empty", "other files"])
def test_once_never_waits_and_names_the_folder(tmp_path, layout):
    run = tmp_path / "run"
    if layout != "missing":
        (run / "checkpoints").mkdir(parents=True)
    if layout == "other files":
        _touch(run / "checkpoints", "notes.txt")
        _touch(run / "checkpoints", ".ckpt-000000004.pt.123.abc.tmp")  # a save that never finished

    def sleep(_secs: float) -> None:
        raise AssertionError("--once must not wait")

    with pytest.raises(CheckpointError) as info:
        list(iter_new_checkpoints(run, 0.01, once=True, sleep=sleep))
    message = str(info.value)
    assert str(run) in message
    expected = {"missing": "does not exist", "empty": "is empty", "other files": "holds notes.txt"}[layout]
    assert expected in message
    assert not (layout == "missing" and run.exists())
