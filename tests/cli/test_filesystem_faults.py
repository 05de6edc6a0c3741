"""File-system faults in every writing command: one line naming the path and the cause, exit 2,
no traceback, nothing half-written.

Three faults per command: the output path is a file; the output folder cannot be written
(``os.open``/``open``/``os.mkdir`` patched to raise EACCES under it, since tests may run as
root); the disk is full (every write of a file under it raises ENOSPC after writing a few
bytes).
"""

from __future__ import annotations

import builtins
import errno
import os
import re
from pathlib import Path

import numpy as np
import pytest

from timecontrast.cli.main import describe_os_error, main
from timecontrast.config import FINAL_CONFIG_NAME, config_to_dict, load_config, save_config
from timecontrast.inference import Embedder
from timecontrast.io.video import write_video
from timecontrast.models import save_checkpoint
from toy_data import SMALL_EMBEDDER

_TEMPORARY = re.compile(r"^\..+\.\d+\.[A-Za-z0-9_]+\.tmp")

SMALL = [*SMALL_EMBEDDER, "data.embed_batch_size=16", "runtime.device=cpu"]


@pytest.fixture(scope="module")
def inputs(toy_dataset, tmp_path_factory):
    """Videos to convert, and a run (config + checkpoint) on the toy dataset."""
    root = tmp_path_factory.mktemp("fs_inputs")
    frames = np.zeros((6, 24, 32, 3), np.uint8)
    frames[:, :, :8] = 200
    for v in range(2):
        write_video(root / "videos" / f"a_view{v}.mp4", frames, fps=10)
    cfg = load_config(
        None,
        None,
        [
            *SMALL,
            f"data.training={toy_dataset / 'train' / 'records'}",
            f"data.validation={toy_dataset / 'val' / 'records'}",
        ],
    )
    run = root / "run"
    save_config(cfg, run)
    state = {"model": Embedder.untrained(cfg, seed=0).model.state_dict(), "optimizer": None, "grad_scaler": {}}
    save_checkpoint(run, {**state, "step": 3, "rng": None, "config": config_to_dict(cfg)})
    return {"videos": root / "videos", "run": run, "records": toy_dataset / "val" / "records", "toy": toy_dataset}


def command(name: str, inputs: dict, out: Path) -> list[str]:
    toy, run, records = inputs["toy"], inputs["run"], inputs["records"]
    tiny_training = [
        *SMALL,
        f"data.training={toy / 'train' / 'records'}",
        "data.batch_size=8",
        "data.examples_per_sequence=4",
        "data.num_workers=0",
        "mvtcn.window=24",
        "learning.max_step=2",
    ]
    return {
        "synth": ["synth", "--sequences", "1", "--length", "2", "--size", "16", "--output_dir", str(out)],
        "convert": ["convert", "--input_dir", str(inputs["videos"]), "--output_dir", str(out), "--workers", "1"],
        "train": ["train", "--logdir", str(out), *tiny_training],
        "imitate": [
            "imitate", "--checkpointdir", str(run), "--outdir", str(out), "--query_records_dir", str(records),
            "--num_query_sequences", "1",
        ],
        "project": [
            "project", "--checkpointdir", str(run), "--outdir", str(out), "--embedding_records", str(records),
            "--sprite_dim", "8", "--num_trajectories", "1", "--perplexity", "5",
        ],
        "align": [
            "align", "--checkpointdir", str(run), "--once", "--outdir", str(out),
            "--config_paths", str(run / FINAL_CONFIG_NAME), f"data.validation={records}",
        ],
    }[name]  # fmt: skip


def _under(path, root: Path) -> bool:
    try:
        return Path(os.path.abspath(os.fsdecode(path))).is_relative_to(root)
    except (TypeError, ValueError):
        return False


def _fd_path(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""


class _FullDisk:
    """A file whose writes fail with ENOSPC after a few bytes, as on a full disk."""

    def __init__(self, fh) -> None:
        self._fh = fh

    def write(self, data) -> int:
        self._fh.write(data[:3])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name):
        return getattr(self._fh, name)

    def __iter__(self):
        return iter(self._fh)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._fh.close()


def inject(monkeypatch, fault: str, root: Path) -> None:
    real_open, real_os_open, real_fdopen, real_mkdir = builtins.open, os.open, os.fdopen, os.mkdir
    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT

    def denied(path):
        return PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fsdecode(path))

    def fake_open(file, mode="r", *args, **kwargs):
        if isinstance(file, int):  # open(fd, ...) on a descriptor of a file under the folder
            fh = real_open(file, mode, *args, **kwargs)
            return _FullDisk(fh) if fault == "full" and set(mode) & set("wa+") and _under(_fd_path(file), root) else fh
        if isinstance(file, str | bytes | os.PathLike) and _under(file, root) and set(mode) & set("wax+"):
            if fault == "readonly":
                raise denied(file)
            return _FullDisk(real_open(file, mode, *args, **kwargs))
        return real_open(file, mode, *args, **kwargs)

    def fake_os_open(path, flags, *args, **kwargs):
        if fault == "readonly" and flags & writing and _under(path, root):
            raise denied(path)
        return real_os_open(path, flags, *args, **kwargs)

    def fake_fdopen(fd, mode="r", *args, **kwargs):
        fh = real_fdopen(fd, mode, *args, **kwargs)
        return _FullDisk(fh) if set(mode) & set("wa+") and _under(_fd_path(fd), root) else fh

    def fake_mkdir(path, *args, **kwargs):
        if fault == "readonly" and _under(path, root) and Path(os.path.abspath(path)) != root:
            raise denied(path)
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(os, "open", fake_os_open)
    monkeypatch.setattr(os, "mkdir", fake_mkdir)
    if fault == "full":
        monkeypatch.setattr(os, "fdopen", fake_fdopen)


CAUSES = {
    "file": ("Not a directory", "File exists"),
    "readonly": ("Permission denied",),
    "full": ("the disk is full",),
}


@pytest.mark.parametrize("fault", ["file", "readonly", "full"])
@pytest.mark.parametrize("name", ["synth", "convert", "train", "imitate", "project", "align"])
def test_a_file_system_fault_is_one_line_exit_2_and_nothing_half_written(
    inputs, tmp_path, monkeypatch, capsys, name, fault
):
    if name == "synth":
        pytest.importorskip("mujoco")
    out = tmp_path / "out"
    if fault == "file":
        out.write_text("my notes")
    else:
        out.mkdir()
        inject(monkeypatch, fault, out)
    code = main(command(name, inputs, out))
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith(f"tcn {name}: error:")]
    assert len(lines) == 1, err
    assert str(out) in lines[0], lines[0]
    assert not re.search(r"/\.[^/']*\.tmp", lines[0]), "names a hidden temporary: " + lines[0]
    assert any(cause in lines[0] for cause in CAUSES[fault]), lines[0]
    if fault == "file":
        assert out.read_text() == "my notes"
    else:
        left = [p for p in out.rglob("*") if _TEMPORARY.match(p.name)]
        assert left == [], left


def test_describe_os_error():
    full = OSError(errno.ENOSPC, "No space left on device", "/data/run/ckpt.pt")
    assert describe_os_error(full) == (
        "'/data/run/ckpt.pt': No space left on device (the disk is full; free some space or write somewhere else)"
    )
    moved = OSError(errno.EXDEV, "Invalid cross-device link", "/a", None, "/b")
    assert describe_os_error(moved) == "'/a' -> '/b': Invalid cross-device link"
    assert describe_os_error(OSError("odd")) == "odd"
