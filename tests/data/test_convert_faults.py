"""`tcn convert` against a failing file system, leftovers of killed runs, and replaced videos."""

from __future__ import annotations

import builtins
import errno
import json
import logging
import os
import subprocess
import sys

import numpy as np
import pytest

import timecontrast.data.convert as convert_module
import timecontrast.data.videos as videos_module
from timecontrast.cli.main import main
from timecontrast.data.convert import convert_videos
from timecontrast.data.records import SequenceRecord
from timecontrast.io.video import write_video


def convert(*args, **kwargs):
    """convert_videos without a progress bar, one worker."""
    return convert_videos(*args, **{"progress": False, "workers": 1, **kwargs})


def make_sequence(root, name: str, length: int = 6, views: int = 2) -> None:
    for v in range(views):
        frames = np.full((length, 16, 16, 3), (30 + 70 * v, 120, 200 - 60 * v), np.uint8)
        frames[:, :, :4] = 250
        write_video(root / f"{name}_view{v}.mp4", frames, fps=10)


def hidden_files(root) -> list[str]:
    return sorted(p.name for p in root.rglob(".*"))


def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


class _FullDisk:
    """A file object whose writes fail as on a full disk: an OSError naming no file."""

    def __init__(self, fh) -> None:
        self._fh = fh

    def write(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name):
        return getattr(self._fh, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._fh.close()


def test_a_full_disk_names_the_record_file(tmp_path, monkeypatch, capsys):
    src, out = tmp_path / "in", tmp_path / "out"
    make_sequence(src, "a")
    real_open = builtins.open

    def full_disk_open(file, mode="r", *args, **kwargs):
        fh = real_open(file, mode, *args, **kwargs)
        return _FullDisk(fh) if isinstance(file, int) and "w" in mode else fh

    monkeypatch.setattr(builtins, "open", full_disk_open)
    code = main(["convert", "--input_dir", str(src), "--output_dir", str(out), "--workers", "1"])
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.startswith("tcn convert: error:")]
    assert lines == [
        f"tcn convert: error: '{out / 'a.tfrecord'}': No space left on device "
        "(the disk is full; free some space or write somewhere else)"
    ], err
    assert hidden_files(out) == [] and list(out.iterdir()) == []


def test_temporaries_of_killed_runs_are_removed(tmp_path, caplog):
    src, out = tmp_path / "in", tmp_path / "out"
    make_sequence(src, "a")
    make_sequence(src / "sub", "b")
    (out / "sub").mkdir(parents=True)
    dead, live = dead_pid(), os.getppid()
    killed = [out / f".a.tfrecord.{dead}.k3_x9q.tmp", out / "sub" / f".b.tfrecord.{dead}.abc123.tmp"]
    killed.append(out / f".a.convert.json.{dead}.zz9.tmp")
    running = out / f".a.tfrecord.{live}.r4nd0m.tmp"  # another conversion, still running
    others = out / f".notes.txt.{dead}.q1.tmp"  # not a file tcn convert writes: not ours to remove
    for path in [*killed, running, others]:
        path.write_bytes(b"half a record")
    with caplog.at_level(logging.INFO, logger="timecontrast.data"):
        result = convert(src, out)
    assert result.ok and len(result.written) == 2
    assert [p for p in killed if p.exists()] == []
    assert running.exists() and others.exists()
    assert hidden_files(out) == sorted([running.name, others.name])
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert all(p.name in logged for p in killed), logged
    assert "left by a killed conversion" in logged, logged


def test_an_os_error_reading_a_video_fails_only_its_sequence(tmp_path, monkeypatch):
    src, out = tmp_path / "in", tmp_path / "out"
    for name in ("a", "b", "c", "d"):
        make_sequence(src, name)
    real_frames, real_probe = convert_module.iter_video_frames, videos_module.probe_video

    def frames(path, size=None):  # b_view1: an I/O error while decoding (names no file)
        for t, frame in enumerate(real_frames(path, size)):
            if path.name == "b_view1.mp4" and t == 2:
                raise OSError(errno.EIO, os.strerror(errno.EIO))
            yield frame

    def probe(path):  # c_view0: no permission to open it
        if os.fspath(path).endswith("c_view0.mp4"):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))
        return real_probe(path)

    monkeypatch.setattr(convert_module, "iter_video_frames", frames)
    monkeypatch.setattr(videos_module, "probe_video", probe)
    result = convert(src, out, workers=2)
    assert sorted(result.failed) == ["b", "c"]
    assert result.failed["b"] == f"{src / 'b_view1.mp4'}: Input/output error"
    assert result.failed["c"] == f"{src / 'c_view0.mp4'}: Permission denied"
    assert sorted(p.name for p in result.written) == ["a.tfrecord", "d.tfrecord"]
    assert sorted(p.name for p in out.iterdir()) == ["a.convert.json", "a.tfrecord", "d.convert.json", "d.tfrecord"]


def test_an_os_error_writing_the_outputs_stops_the_run(tmp_path, monkeypatch):
    src, out = tmp_path / "in", tmp_path / "out"
    for name in ("a", "b"):
        make_sequence(src, name)
    out.mkdir()
    real_open = builtins.open

    def read_only(file, mode="r", *args, **kwargs):
        if isinstance(file, int) and "w" in mode:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", read_only)
    with pytest.raises(OSError) as exc:
        convert(src, out)
    assert exc.value.errno == errno.EROFS and exc.value.filename == os.fspath(out / "a.tfrecord")
    monkeypatch.undo()
    assert list(out.iterdir()) == []


def touch_later(path, seconds: float) -> None:
    """Set ``path``'s modification time ``seconds`` after its current one."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + int(seconds * 1e9)))


def test_a_rerecorded_video_of_the_same_size_is_converted_again(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    make_sequence(src, "a")
    make_sequence(src, "b")
    convert(src, out)
    video = src / "a_view1.mp4"
    data = video.read_bytes()
    video.write_bytes(data)  # recorded again: the same size (here even the same bytes)
    touch_later(video, 2)
    again = convert(src, out)
    assert again.written == [out / "a.tfrecord"] and again.skipped == [out / "b.tfrecord"]
    assert convert(src, out).written == []  # and then it is up to date
    views = json.loads((out / "a.convert.json").read_text())["settings"]["views"]
    assert [view["mtime_ns"] for view in views] == [(src / f"a_view{v}.mp4").stat().st_mtime_ns for v in range(2)]


def test_a_settings_record_without_modification_times(tmp_path):
    """Records of version 1 named each video by name and size only: a video changed after
    its record was written is converted again; one older than its record is not."""
    src, out = tmp_path / "in", tmp_path / "out"
    make_sequence(src, "a")
    make_sequence(src, "b")
    convert(src, out)
    for name in ("a", "b"):
        record_path = out / f"{name}.convert.json"
        record = json.loads(record_path.read_text())
        record["version"] = 1
        for view in record["settings"]["views"]:
            view.pop("mtime_ns", None)
        record_path.write_text(json.dumps(record))
        for v in range(2):  # the videos are older than their records
            video = src / f"{name}_view{v}.mp4"
            touch_later(video, -10)
    kept = convert(src, out)
    assert kept.written == [] and len(kept.skipped) == 2
    record = out / "a.convert.json"
    os.utime(src / "a_view0.mp4", ns=(record.stat().st_atime_ns, record.stat().st_mtime_ns + 10**9))
    redone = convert(src, out)
    assert redone.written == [out / "a.tfrecord"] and redone.skipped == [out / "b.tfrecord"]
    assert "mtime_ns" in json.loads(record.read_text())["settings"]["views"][0]
    assert SequenceRecord(out / "a.tfrecord").length == 6
