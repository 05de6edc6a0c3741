"""Durable recording: a `tcn collect` killed mid-way keeps all but about its last second,
and the next `tcn collect` into the folder turns what it left into a normal sequence."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from timecontrast.capture.synthetic import read_frame_counter, render_synthetic_frame
from timecontrast.cli.main import main
from timecontrast.data.convert import convert_videos
from timecontrast.data.records import SequenceRecord
from timecontrast.io.video import iter_video_frames, probe_video

FPS = 30
CAMERAS = f"synthetic:64x48@{FPS},synthetic:64x48@{FPS}"


def _collect(viddir: Path, *args: str) -> int:
    return main(["collect", "--viddir", str(viddir), "--dataset", "d", "--mode", "train", *args])


def _journal(path: Path) -> list[dict]:
    """The frame lines of a take's journal (the torn last line, if any, left out)."""
    lines = path.read_bytes().split(b"\n")[:-1]
    return [entry for entry in map(json.loads, lines) if "t" in entry]


def _check_recovered(directory: Path, seq: str, journal: list[dict], debug: Path | None = None) -> dict:
    """The recovered videos and sidecar agree frame for frame, with each other and the journal."""
    sidecar = json.loads((directory / f"{seq}_timestamps.json").read_text())
    n = sidecar["num_frames"]
    assert sidecar["stop_reason"] == "crashed" and 0 < n <= len(journal) == sidecar["recovered"]["frames_in_journal"]
    start = journal[0]["t"]
    assert sidecar["frame_time"] == [round(e["t"] - start, 6) for e in journal[:n]]
    for k, view in enumerate(sidecar["views"]):
        path = directory / view["file"]
        assert path.name == f"{seq}_view{k}.mp4" and view["camera"] == f"synthetic:64x48@{FPS}"
        counters = [read_frame_counter(f) for f in iter_video_frames(path)]
        assert len(counters) == probe_video(path).num_frames == n
        # Frame t of the video is the camera frame the sidecar (and the journal) name at t.
        assert counters == view["camera_frame_index"] == [e["i"][k] for e in journal[:n]]
        assert view["timestamps"] == [round(e["ts"][k] - start, 6) for e in journal[:n]]
    if debug is not None:
        assert probe_video(debug).num_frames == n
    assert not [p.name for p in directory.iterdir() if p.name.startswith(".")]  # nothing hidden left
    return sidecar


def _start_collect(viddir: Path, *extra: str) -> subprocess.Popen:
    cmd = [
        sys.executable, "-m", "timecontrast", "collect", "--viddir", str(viddir), "--dataset", "d",
        "--mode", "train", "--cameras", CAMERAS, "--status_interval", "0.1", *extra,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _frames_written(line: str) -> int:
    match = re.search(r" frames (\d+) ", line)
    return int(match.group(1)) if match else -1


def test_kill_9_loses_at_most_about_a_second_and_the_next_collect_finishes_the_take(tmp_path: Path, capsys) -> None:
    viddir = tmp_path / "videos"
    directory = viddir / "d" / "train"
    proc = _start_collect(viddir, "--debug_video")
    try:
        seen, written = [], -1
        for line in proc.stderr:  # wait on the pipe, not on a clock, until 3 s are recorded
            seen.append(line)
            written = max(written, _frames_written(line))
            if written >= 3 * FPS:
                break
        assert proc.poll() is None, "".join(seen)
        proc.kill()  # SIGKILL: no handler, no cleanup, like a power cut for the process
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert written >= 3 * FPS, "".join(seen)

    # What the killed process left decodes: all but about the last second of every view.
    videos = sorted(p for p in directory.rglob("*view*.mp4") if p.stat().st_size > 1000)
    assert len(videos) == 2, sorted(str(p) for p in directory.rglob("*"))
    from timecontrast.io.video import fragmented_mp4_extent

    for path in videos:
        extent = fragmented_mp4_extent(path)
        assert extent.num_frames >= written - FPS  # at most ~1 s lost (the status line lags the kill)
        complete = tmp_path / f"complete_{path.name}"
        complete.write_bytes(path.read_bytes()[: extent.size])
        counters = [read_frame_counter(f) for f in iter_video_frames(complete)]
        assert len(counters) == extent.num_frames and counters == sorted(set(counters))
    journal = _journal(directory / ".0.recording" / "journal.jsonl")
    assert len(journal) >= written
    assert not list(directory.glob("*.mp4"))  # nothing under a finished name yet: convert sees nothing

    # The next run finishes it (here without recording), says so in one line, and then
    # `tcn convert` reads the sequence like any other.
    assert _collect(viddir, "--recover_only") == 0
    out = capsys.readouterr().out
    assert re.search(r"recovered interrupted recording '0' in .*: \d+ frames x 2 views", out), out
    sidecar = _check_recovered(directory, "0", journal, debug=viddir.with_name("videos_debug") / "d/train/0.mp4")
    assert sidecar["num_frames"] >= written - FPS
    result = convert_videos(directory, tmp_path / "records", workers=1, progress=False)
    assert result.ok and SequenceRecord(result.written[0]).length == sidecar["num_frames"]
    assert _collect(viddir, "--recover_only") == 0
    assert "no interrupted recording" in capsys.readouterr().out
    # The next recording takes the next number.
    assert _collect(viddir, "--cameras", CAMERAS, "--max_frames", "3") == 0
    assert probe_video(directory / "1_view0.mp4").num_frames == 3


# In-process takes: the writer's own pieces, left as a crash leaves them.


def _synced(t: int, num_views: int = 2):
    from timecontrast.capture.sources import CapturedFrame
    from timecontrast.capture.sync import SyncedFrame

    stamp = 100.0 + t / FPS
    frames = tuple(
        CapturedFrame(render_synthetic_frame(64, 48, stamp, t, tint=k), stamp + 0.001 * k, t) for k in range(num_views)
    )
    return SyncedFrame(t, frames)


def _writer(directory: Path, num_views: int = 2):
    from timecontrast.capture.writer import SequenceWriter

    paths = [directory / f"0_view{k}.mp4" for k in range(num_views)]
    writer = SequenceWriter(paths, directory / "0_timestamps.json", fps=FPS)
    writer.describe({"sequence": "0", "views": [{"camera": f"synthetic:{k}"} for k in range(num_views)]})
    return writer


def test_a_live_take_is_left_alone_and_keeps_its_name(tmp_path: Path) -> None:
    from timecontrast.capture import recover_interrupted_takes
    from timecontrast.capture.layout import check_sequence_free, next_sequence_name
    from timecontrast.errors import CaptureError

    writer = _writer(tmp_path)
    for t in range(5):
        writer.write(_synced(t))
    assert recover_interrupted_takes(tmp_path) == []  # its recorder holds the journal's lock
    assert (tmp_path / ".0.recording" / "journal.jsonl").is_file()
    assert next_sequence_name(tmp_path) == "1"
    with pytest.raises(CaptureError, match="being recorded"):
        check_sequence_free(tmp_path, "0")
    assert writer.close({"stop_reason": "max_frames"})[-1].name == "0_timestamps.json"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0_timestamps.json", "0_view0.mp4", "0_view1.mp4"]


def _crashed_take(
    directory: Path, num_frames: int, cut_view1_bytes: int, torn_line: bool, pid: int | None = None
) -> list[dict]:
    """A take as a crash leaves it: view 1's last fragment cut short, a torn journal line.
    ``pid``: the recorder's process (default: this one, which looks alive where locks fail)."""
    from timecontrast.capture.journal import FrameRecord, TakeHeader, TakeJournal
    from timecontrast.capture.take import journal_file, view_file
    from timecontrast.io.video import FragmentedVideoWriter, fragmented_mp4_extent

    take = directory / ".0.recording"
    take.mkdir(parents=True)
    header = TakeHeader("0", ("0_view0.mp4", "0_view1.mp4"), "0_timestamps.json", None, FPS, pid=pid or os.getpid())
    journal = TakeJournal(journal_file(take), header)
    journal.describe({"dataset": "d", "views": [{"camera": "a"}, {"camera": "b"}]})
    writers = [FragmentedVideoWriter(view_file(take, k), FPS, 64, 48, keyframe_interval=0.5) for k in range(2)]
    for t in range(num_frames):
        synced = _synced(t)
        for k, writer in enumerate(writers):
            writer.write(synced.frames[k].image, timestamp=t / FPS)
        journal.add_frame(FrameRecord(synced.timestamp, tuple(f.timestamp for f in synced.frames), (t, t)))
    for writer in writers:
        writer.close()
    journal.sync()
    if torn_line:
        with open(journal_file(take), "a") as fh:
            fh.write('{"t": 123.4, "ts": [12')
    journal.close()
    os.truncate(view_file(take, 1), fragmented_mp4_extent(view_file(take, 1)).size - cut_view1_bytes)
    return _journal(journal_file(take))


def test_views_are_cut_to_the_last_keyframe_they_all_hold(tmp_path: Path) -> None:
    from timecontrast.capture import recover_interrupted_takes

    journal = _crashed_take(tmp_path, num_frames=40, cut_view1_bytes=50, torn_line=True)
    assert len(journal) == 40
    (result,) = recover_interrupted_takes(tmp_path)
    # Keyframes every 15 frames: view 1 lost its last fragment (frames 30-39), so both keep 30.
    assert (result.num_frames, result.journaled, result.view_frames, result.error) == (30, 40, [40, 30], None)
    assert result.files == [tmp_path / "0_view0.mp4", tmp_path / "0_view1.mp4", tmp_path / "0_timestamps.json"]
    sidecar = json.loads((tmp_path / "0_timestamps.json").read_text())
    assert sidecar["dataset"] == "d" and [v["camera"] for v in sidecar["views"]] == ["a", "b"]
    assert sidecar["recovered"]["frames_in_views"] == [40, 30]
    for k in range(2):
        counters = [read_frame_counter(f) for f in iter_video_frames(tmp_path / f"0_view{k}.mp4")]
        assert counters == sidecar["views"][k]["camera_frame_index"] == list(range(30))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0_timestamps.json", "0_view0.mp4", "0_view1.mp4"]


def test_a_take_killed_before_its_first_frame_is_removed(tmp_path: Path, capsys) -> None:
    directory = tmp_path / "d" / "train"
    writer = _writer(directory)
    writer._journal.close()  # the process dies: its lock goes, the take stays
    assert (directory / ".0.recording").is_dir()
    assert _collect(tmp_path, "--recover_only") == 0
    assert "removed interrupted recording '0'" in capsys.readouterr().out
    assert not list(directory.iterdir())


def test_a_full_disk_while_finishing_keeps_the_take_for_the_next_run(tmp_path: Path, monkeypatch) -> None:
    from timecontrast.capture import recover_interrupted_takes, take
    from timecontrast.errors import CaptureError

    writer = _writer(tmp_path)
    for t in range(20):
        writer.write(_synced(t))
    real_remux = take.remux_video
    calls = []

    def remux_then_full(src, dst, **kwargs):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        return real_remux(src, dst, **kwargs)

    monkeypatch.setattr(take, "remux_video", remux_then_full)
    with pytest.raises(CaptureError, match="No space left on device.*kept in .*0.recording"):
        writer.close({"stop_reason": "duration", "views": [{"camera": "a"}, {"camera": "b"}]})
    assert sorted(p.name for p in tmp_path.iterdir()) == [".0.recording"]  # no half sequence, nothing lost
    monkeypatch.setattr(take, "remux_video", real_remux)
    (result,) = recover_interrupted_takes(tmp_path)
    assert result.num_frames == 20
    sidecar = json.loads((tmp_path / "0_timestamps.json").read_text())
    # The recording had stopped normally: its final fields are kept.
    assert sidecar["stop_reason"] == "duration" and sidecar["recovered"]["frames_in_views"] == [20, 20]
    assert [v["camera"] for v in sidecar["views"]] == ["a", "b"]
    assert probe_video(tmp_path / "0_view1.mp4").num_frames == 20


def test_normal_stop_writes_the_sidecar_the_journal_describes(tmp_path: Path) -> None:
    """A normal stop and a recovery build the sidecar from the same records."""
    writer = _writer(tmp_path)
    for t in range(12):
        writer.write(_synced(t))
    journal = _journal(tmp_path / ".0.recording" / "journal.jsonl")
    writer.close({"stop_reason": "max_frames"})
    sidecar = json.loads((tmp_path / "0_timestamps.json").read_text())
    start = journal[0]["t"]
    assert sidecar["frame_time"] == [round(e["t"] - start, 6) for e in journal]
    assert sidecar["views"][1]["timestamps"] == [round(e["ts"][1] - start, 6) for e in journal]
    assert "recovered" not in sidecar and np.isclose(sidecar["fps"], FPS, rtol=1e-3)


def test_a_full_disk_while_recording_keeps_what_was_recorded(tmp_path: Path, monkeypatch) -> None:
    from timecontrast.capture import recover_interrupted_takes
    from timecontrast.errors import CaptureError, VideoError
    from timecontrast.io.video import FragmentedVideoWriter

    real_write = FragmentedVideoWriter.write

    def write_until_full(self, rgb, timestamp=None):
        if self.num_frames == 40:
            raise VideoError(f"{self.path}: writing failed (No space left on device)")
        real_write(self, rgb, timestamp)

    monkeypatch.setattr(FragmentedVideoWriter, "write", write_until_full)
    writer = _writer(tmp_path)
    for t in range(50):
        writer.write(_synced(t))
    with pytest.raises(CaptureError, match="No space left on device.*kept in") as raised:
        writer.close({"stop_reason": "error"})
    # The error names the file the user knows, not the take's own.
    assert f"{tmp_path / '0_view0.mp4'}: writing failed" in str(raised.value)
    assert ".0.recording/view" not in str(raised.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".0.recording"]
    monkeypatch.setattr(FragmentedVideoWriter, "write", real_write)
    (result,) = recover_interrupted_takes(tmp_path)
    assert result.view_frames == [40, 40] and result.num_frames == 40 and result.journaled == 50
    sidecar = json.loads((tmp_path / "0_timestamps.json").read_text())
    assert sidecar["stop_reason"] == "error" and sidecar["num_frames"] == 40


# Locks on NFS, and takes being started while another tcn collect looks.


def _nfs_flock(real):
    """flock as on NFS: an exclusive lock needs a descriptor open for writing (else EBADF)."""

    def flock(fd: int, operation: int) -> None:
        if operation & fcntl.LOCK_EX and fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY:
            raise OSError(errno.EBADF, "Bad file descriptor")
        real(fd, operation)

    return flock


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", ""])
    proc.wait()
    return proc.pid


def test_on_nfs_an_interrupted_take_is_recovered_and_a_live_one_left_alone(tmp_path: Path, monkeypatch, capsys) -> None:
    from timecontrast.capture import recover_interrupted_takes

    directory = tmp_path / "d" / "train"
    _crashed_take(directory, num_frames=40, cut_view1_bytes=0, torn_line=False)
    monkeypatch.setattr(fcntl, "flock", _nfs_flock(fcntl.flock))
    assert _collect(tmp_path, "--recover_only") == 0, capsys.readouterr().err
    assert "recovered interrupted recording '0'" in capsys.readouterr().out
    sidecar = json.loads((directory / "0_timestamps.json").read_text())
    assert sidecar["stop_reason"] == "crashed" and sidecar["num_frames"] == 40
    live = _writer(tmp_path)  # its recorder (this process) holds the lock, NFS or not
    live.write(_synced(0))
    assert recover_interrupted_takes(tmp_path) == []
    assert live.close({"stop_reason": "max_frames"})[-1].name == "0_timestamps.json"


@pytest.mark.parametrize("no_lock", [errno.EBADF, errno.ENOLCK])
def test_where_no_lock_can_be_taken_the_recorders_pid_decides(tmp_path: Path, monkeypatch, no_lock: int) -> None:
    """A journal this process may not write, on NFS (EBADF), or NFS without its lock manager (ENOLCK)."""
    from timecontrast.capture import journal, recover_interrupted_takes

    dead, alive = tmp_path / "dead", tmp_path / "alive"
    _crashed_take(dead, num_frames=20, cut_view1_bytes=0, torn_line=False, pid=_dead_pid())
    _crashed_take(alive, num_frames=20, cut_view1_bytes=0, torn_line=False)  # recorded by this process
    real_open = os.open

    def open_journal_read_only(path, flags, *args, **kwargs):
        if os.path.basename(path) == "journal.jsonl" and flags & os.O_ACCMODE != os.O_RDONLY:
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real_open(path, flags, *args, **kwargs)

    def flock(fd: int, operation: int) -> None:
        raise OSError(no_lock, os.strerror(no_lock))

    monkeypatch.setattr(journal.os, "open", open_journal_read_only)
    monkeypatch.setattr(fcntl, "flock", flock if no_lock == errno.ENOLCK else _nfs_flock(fcntl.flock))
    (result,) = recover_interrupted_takes(dead)
    assert (result.error, result.num_frames) == (None, 20)
    assert recover_interrupted_takes(alive) == [] and (alive / ".0.recording" / "journal.jsonl").is_file()


def test_a_take_being_started_is_not_removed_by_a_concurrent_collect(tmp_path: Path, monkeypatch) -> None:
    """Another tcn collect looking at the folder while the recorder locks its new journal."""
    from timecontrast.capture import journal, recover_interrupted_takes

    real_lock, seen = journal._lock, []

    def lock_while_another_collect_looks(fd: int):
        if not seen:  # the recorder's lock (the other collect's own goes straight through)
            seen.append((tmp_path / ".0.recording" / "journal.jsonl").exists())  # not under its name yet
            seen.append(recover_interrupted_takes(tmp_path))
        return real_lock(fd)

    monkeypatch.setattr(journal, "_lock", lock_while_another_collect_looks)
    writer = _writer(tmp_path)
    assert seen == [False, []] and (tmp_path / ".0.recording").is_dir()
    for t in range(3):
        writer.write(_synced(t))
    assert writer.close({"stop_reason": "max_frames"})[-1].name == "0_timestamps.json"


@pytest.mark.parametrize("content", [b"", b'{"take":1,"sequence":"0","vi'])
def test_a_journal_without_a_header_is_removed_only_once_it_is_old(tmp_path: Path, content: bytes) -> None:
    from timecontrast.capture import recover_interrupted_takes

    take = tmp_path / ".0.recording"
    take.mkdir()
    (take / "journal.jsonl").write_bytes(content)
    assert recover_interrupted_takes(tmp_path) == []  # may be a recorder starting: left alone
    assert (take / "journal.jsonl").is_file()
    old = time.time() - 3600
    os.utime(take / "journal.jsonl", (old, old))
    (result,) = recover_interrupted_takes(tmp_path)
    assert (result.num_frames, result.error) == (0, None) and not take.exists()


def test_a_full_disk_at_the_last_fragment_keeps_the_final_fields(tmp_path: Path, monkeypatch) -> None:
    from timecontrast.capture import recover_interrupted_takes
    from timecontrast.errors import CaptureError
    from timecontrast.io.video import FragmentedVideoWriter

    real_close = FragmentedVideoWriter.close

    def close_on_a_full_disk(self):
        real_close(self)
        if self.path.name == "view1.mp4":  # like an fsync of the last fragment on a full disk
            raise OSError(errno.ENOSPC, "No space left on device", str(self.path))
        return self.path

    monkeypatch.setattr(FragmentedVideoWriter, "close", close_on_a_full_disk)
    writer = _writer(tmp_path)
    for t in range(20):
        writer.write(_synced(t))
    views = [{"camera": "a", "measured_fps": 29.9, "dropped": 3}, {"camera": "b", "measured_fps": 30.0, "dropped": 0}]
    with pytest.raises(CaptureError) as raised:
        writer.close({"stop_reason": "duration", "views": views})
    message = str(raised.value)
    assert f"{tmp_path / '0_view1.mp4'}: No space left on device" in message, message
    assert f"kept in {tmp_path / '.0.recording'}" in message and "recording/view1" not in message
    assert sorted(p.name for p in tmp_path.iterdir()) == [".0.recording"]
    monkeypatch.setattr(FragmentedVideoWriter, "close", real_close)
    (result,) = recover_interrupted_takes(tmp_path)
    assert (result.num_frames, result.error) == (20, None)
    sidecar = json.loads((tmp_path / "0_timestamps.json").read_text())
    # The recording had stopped normally: its final fields, per-view stats included, are kept.
    assert sidecar["stop_reason"] == "duration" and sidecar["recovered"]["frames_in_views"] == [20, 20]
    assert [{k: v[k] for k in ("camera", "measured_fps", "dropped")} for v in sidecar["views"]] == views


class _FillsUp:
    """A journal's file that hits a full disk after ``room`` flushes (a write on a descriptor names no file)."""

    def __init__(self, fh, room: int) -> None:
        self.fh, self.room = fh, room

    def write(self, text: str) -> int:
        return self.fh.write(text)

    def flush(self) -> None:
        self.room -= 1
        if self.room < 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.fh.flush()

    def fileno(self) -> int:
        return self.fh.fileno()

    def close(self) -> None:
        self.fh.close()


def test_a_full_disk_for_the_journal_names_the_sidecar_and_keeps_the_take(tmp_path: Path) -> None:
    from timecontrast.capture import recover_interrupted_takes
    from timecontrast.errors import CaptureError

    writer = _writer(tmp_path)
    writer._journal._fh = _FillsUp(writer._journal._fh, room=10)
    with pytest.raises(CaptureError) as raised:
        for t in range(20):
            writer.write(_synced(t))
    assert str(raised.value) == (
        f"recording sequence '0' failed: {tmp_path / '0_timestamps.json'}: No space left on device"
    )
    with pytest.raises(CaptureError, match=r"0_timestamps.json: No space left on device; .*kept in") as raised:
        writer.close({"stop_reason": "error"})
    assert "journal" not in str(raised.value)
    (result,) = recover_interrupted_takes(tmp_path)
    assert result.error is None and result.num_frames > 0


def test_a_take_that_cannot_be_finished_is_one_line_naming_the_file(tmp_path: Path, monkeypatch, capsys) -> None:
    from timecontrast.capture import take

    directory = tmp_path / "d" / "train"
    _crashed_take(directory, num_frames=20, cut_view1_bytes=0, torn_line=False)

    def full(src, dst, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(dst))

    monkeypatch.setattr(take, "remux_video", full)
    assert _collect(tmp_path, "--recover_only") == 2
    err = capsys.readouterr().err
    assert err == (
        f"could not finish interrupted recording '0' in {directory}: {directory / '0_view0.mp4'}: "
        f"No space left on device; it is kept in {directory / '.0.recording'}\n"
    )


def test_a_failing_recording_is_one_line_naming_the_final_file(tmp_path: Path, monkeypatch, capsys) -> None:
    from timecontrast.errors import VideoError
    from timecontrast.io.video import FragmentedVideoWriter

    real_write = FragmentedVideoWriter.write

    def write_until_full(self, rgb, timestamp=None):
        if self.num_frames == 10:
            raise VideoError(f"{self.path}: writing failed (No space left on device)")
        real_write(self, rgb, timestamp)

    monkeypatch.setattr(FragmentedVideoWriter, "write", write_until_full)
    assert _collect(tmp_path, "--cameras", CAMERAS, "--max_frames", "60") == 2
    err = capsys.readouterr().err
    directory = tmp_path / "d" / "train"
    errors = [line for line in err.splitlines() if line.startswith("tcn collect: error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert re.search(rf"{re.escape(str(directory))}/0_view[01].mp4: writing failed \(No space left", errors[0])
    assert "recording/view" not in errors[0]
    monkeypatch.setattr(FragmentedVideoWriter, "write", real_write)
    assert _collect(tmp_path, "--recover_only") == 0
    assert probe_video(directory / "0_view0.mp4").num_frames > 0


@pytest.mark.parametrize("fails", ["take folder", "journal"])
def test_a_take_that_cannot_be_created_names_the_sequence_folder(
    tmp_path: Path, monkeypatch, capsys, fails: str
) -> None:
    """Not the hidden take folder or the journal's temporary: the folder the user chose."""
    from timecontrast.capture import journal, writer

    directory = tmp_path / "d" / "train"
    if fails == "take folder":
        real_mkdir = os.mkdir

        def mkdir(path, *args, **kwargs):
            if os.path.basename(path).endswith(".recording"):
                raise OSError(errno.ENOSPC, "No space left on device", path)
            real_mkdir(path, *args, **kwargs)

        monkeypatch.setattr(writer.os, "mkdir", mkdir)
    else:

        def fsync(fd: int) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(journal.os, "fsync", fsync)
    assert _collect(tmp_path, "--cameras", CAMERAS, "--max_frames", "3") == 2
    err = capsys.readouterr().err
    assert err.endswith(
        f"tcn collect: error: '{directory}': No space left on device (the disk is full; free some "
        "space or write somewhere else)\n"
    ), err
    monkeypatch.undo()
    assert not list(directory.iterdir())  # nothing half-made left
