"""The one atomic-write helper: nothing half-written, no temporary left, usual permissions."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from timecontrast.io import files
from timecontrast.io.files import (
    PendingFile,
    atomic_path,
    atomic_write,
    remove_stale_temporaries,
    stale_temporaries,
    write_text,
)


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("error", [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()])
def test_a_failure_inside_the_block_keeps_the_old_file_and_leaves_no_temporary(tmp_path, error):
    target = tmp_path / "results.json"
    target.write_text("old")
    with pytest.raises(type(error)), atomic_write(target, "w", durable=True) as fh:
        fh.write("new, half")
        raise error
    assert target.read_text() == "old"
    assert _names(tmp_path) == ["results.json"]
    if isinstance(error, OSError):
        assert error.filename == str(target)  # a write on a descriptor names no file: the helper adds it


@pytest.mark.parametrize("fails", ["fsync", "replace"])
def test_a_failure_while_committing_removes_the_temporary(tmp_path, monkeypatch, fails):
    target = tmp_path / "ckpt.pt"

    def broken(*args, **kwargs):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(files.os, fails, broken)
    with pytest.raises(OSError) as info:
        files.write_bytes(target, b"x" * 100, durable=True)
    assert info.value.filename == str(target)
    assert _names(tmp_path) == []


def test_atomic_path_for_libraries_that_write_by_name(tmp_path):
    target = tmp_path / "plot.png"
    with atomic_path(target) as tmp:
        assert tmp.name.startswith(".plot.png.") and tmp.suffix == ".png"
        assert not target.exists()
        tmp.write_bytes(b"png")
    assert target.read_bytes() == b"png"
    with pytest.raises(ValueError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise ValueError("library failed")
    assert target.read_bytes() == b"png" and _names(tmp_path) == ["plot.png"]


def test_files_get_the_permissions_of_the_umask_not_mkstemps_0600(tmp_path):
    # In a child process with a known umask (the helper reads it once, at import).
    code = (
        "import os, sys; os.umask(0o002); from pathlib import Path; from timecontrast.io.files import write_text; "
        "write_text(Path(sys.argv[1]) / 'a.txt', 'x', durable=True)"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, timeout=60)
    assert _mode(tmp_path / "a.txt") == 0o664
    write_text(tmp_path / "b.txt", "x")
    assert _mode(tmp_path / "b.txt") == files.FILE_MODE


def test_pending_file_discard_and_commit(tmp_path):
    pending = PendingFile(tmp_path / "sub" / "seq.tfrecord", durable=True)
    os.write(pending.fd, b"records")
    assert stale_temporaries(tmp_path / "sub") == []  # our own, still being written
    pending.commit()
    assert (tmp_path / "sub" / "seq.tfrecord").read_bytes() == b"records"
    other = PendingFile(tmp_path / "sub" / "seq2.tfrecord")
    other.discard()
    assert _names(tmp_path / "sub") == ["seq.tfrecord"]


def test_stale_temporaries_are_those_of_dead_processes(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    live_other = os.getppid()
    stale = tmp_path / f".ckpt-000000004.pt.{dead.pid}.k2j4h5g6.tmp"
    live = tmp_path / f".ckpt-000000006.pt.{live_other}.a1b2c3d4.tmp"
    mine = tmp_path / f".ckpt-000000008.pt.{os.getpid()}.zz99yy88.tmp"
    ordinary = tmp_path / ".hidden.tmp"
    for p in (stale, live, mine, ordinary):
        p.write_bytes(b"x")
    assert stale_temporaries(tmp_path) == [stale]
    assert stale_temporaries(tmp_path, any_owner=True) == sorted([stale, live])
    assert remove_stale_temporaries(tmp_path) == [stale]
    assert not stale.exists() and live.exists() and mine.exists() and ordinary.exists()
    assert stale_temporaries(tmp_path / "missing") == []


def test_contact_sheet_write_failure_leaves_no_temporary(tmp_path, monkeypatch):
    pytest.importorskip("mujoco")
    from PIL import Image

    from timecontrast.sim import sheet

    def broken_save(self, fp, *args, **kwargs):
        fp.write(b"\x89PNG half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    monkeypatch.setattr(sheet, "WORLDS", ["cartpole"])
    with pytest.raises(OSError):
        sheet.write_contact_sheets(tmp_path, views=1, length=2, size=16)
    assert _names(tmp_path) == []


def test_temporary_directories_of_killed_processes_are_removed(tmp_path):
    from timecontrast.io.files import temporary_directory

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    left = tmp_path / f".projector.{dead.pid}.abcd1234.tmp"
    (left / "00000").mkdir(parents=True)
    live = tmp_path / f".projector.{os.getppid()}.efgh5678.tmp"
    live.mkdir()
    made = temporary_directory(tmp_path, "projector")
    assert made.is_dir() and made.name.startswith(f".projector.{os.getpid()}.")
    assert not left.exists() and live.exists()


def test_a_failed_rename_names_the_target_not_the_hidden_temporary(tmp_path):
    target = tmp_path / "out.json"
    target.mkdir()  # a folder where the file should go
    with pytest.raises(OSError) as info:
        write_text(target, "{}")
    assert info.value.filename == str(target) and info.value.filename2 is None
    assert _names(tmp_path) == ["out.json"]


def test_record_and_video_writers_name_their_file_when_the_disk_is_full(tmp_path, monkeypatch):
    import numpy as np

    from timecontrast.io.tfrecord import TFRecordWriter
    from timecontrast.io.video import VideoWriter

    writer = TFRecordWriter(tmp_path / "seq.tfrecord")
    writer.write(b"x" * 10)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(writer._fh, "close", full)  # the buffered write reaches the disk at close
    with pytest.raises(OSError) as info:
        writer.close()
    assert info.value.filename == str(tmp_path / "seq.tfrecord")
    monkeypatch.undo()

    video = VideoWriter(tmp_path / "v.mp4", 10, 16, 16)
    tmp = video._pending.tmp

    def ffmpeg_full(*args, **kwargs):  # FFmpeg's error names the file it writes: our temporary
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp))

    monkeypatch.setattr(video._stream, "encode", ffmpeg_full)
    with pytest.raises(OSError) as info:
        video.write(np.zeros((16, 16, 3), np.uint8))
    assert info.value.filename == str(tmp_path / "v.mp4")
    video.abort()
    assert _names(tmp_path) == []
