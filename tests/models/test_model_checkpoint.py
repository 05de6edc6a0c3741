"""Checkpoint files: naming, atomic writes, listing, corrupt files, strict model loading."""

from __future__ import annotations

import errno
import subprocess
import sys

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from timecontrast.errors import CheckpointError
from timecontrast.models import (
    checkpoint_name,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    load_model_state,
    save_checkpoint,
)


def make_state(step: int, model: nn.Module | None = None) -> dict:
    model = model or nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randn(5, 3)).sum().backward()
    opt.step()
    return {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "grad_scaler": torch.amp.GradScaler("cpu", init_scale=512.0).state_dict(),
        "step": step,
        "rng": {"torch": torch.get_rng_state(), "numpy": np.random.default_rng(step).bit_generator.state},
        "config": {"embedding_size": 4, "data": {"batch_size": 2}},
    }


def test_round_trip_layout_and_exact_contents(tmp_path):
    state = make_state(1200)
    path = save_checkpoint(tmp_path / "run", state)
    assert path == tmp_path / "run" / "checkpoints" / "ckpt-000001200.pt"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind
    loaded = load_checkpoint(path)
    assert loaded["step"] == 1200 and loaded["config"] == state["config"]
    assert loaded["grad_scaler"] == state["grad_scaler"] and loaded["grad_scaler"]["scale"] == 512.0
    assert loaded["rng"]["numpy"] == state["rng"]["numpy"]
    for key, value in state["model"].items():
        assert torch.equal(loaded["model"][key], value)
    assert torch.equal(loaded["optimizer"]["state"][0]["exp_avg"], state["optimizer"]["state"][0]["exp_avg"])
    # a checkpoints folder or an explicit .pt path work too
    assert save_checkpoint(path.parent, make_state(7)).name == "ckpt-000000007.pt"
    assert save_checkpoint(tmp_path / "x.pt", make_state(3)) == tmp_path / "x.pt"


def test_listing_ignores_partial_and_foreign_files(tmp_path):
    for step in (30, 5, 1000000000):
        save_checkpoint(tmp_path, make_state(step))
    folder = tmp_path / "checkpoints"
    (folder / ".ckpt-000000040.pt.abc.tmp").write_bytes(b"half")  # a crash during a save
    (folder / "ckpt-000000050.pt.tmp").write_bytes(b"half")
    (folder / "notes.txt").write_text("hi")
    (folder / "ckpt-12.pt").write_bytes(b"")  # not our naming
    expected = [(5, folder / checkpoint_name(5)), (30, folder / checkpoint_name(30))]
    expected.append((1000000000, folder / "ckpt-1000000000.pt"))
    assert list_checkpoints(tmp_path) == expected
    assert list_checkpoints(folder) == expected
    assert latest_checkpoint(tmp_path) == folder / "ckpt-1000000000.pt"
    assert load_checkpoint(tmp_path)["step"] == 1000000000  # a directory means its latest checkpoint
    assert list_checkpoints(tmp_path / "missing") == [] and latest_checkpoint(tmp_path / "missing") is None


def test_failed_save_leaves_no_file(tmp_path, monkeypatch):
    def broken_save(obj, fh):
        fh.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(tmp_path, make_state(2))
    assert not list(tmp_path.rglob("*"))


_LIMITED_SAVE = """
import resource, signal, sys, torch
from timecontrast.models import save_checkpoint
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG
state = {"model": {"w": torch.zeros(100000)}, "optimizer": None, "grad_scaler": {}, "step": 2, "rng": None,
         "config": {}}
resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))
try:
    save_checkpoint(sys.argv[1], state)
except Exception as exc:
    print(type(exc).__name__, getattr(exc, "errno", None), exc)
"""


def test_a_failed_write_is_an_os_error_naming_the_cause_and_leaves_nothing(tmp_path):
    # A real failing write (the file-size limit, as a full disk would): torch's own zip
    # writer turned it into "RuntimeError [enforce fail at inline_container.cc]".
    done = subprocess.run(
        [sys.executable, "-c", _LIMITED_SAVE, str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    target = tmp_path / "checkpoints" / "ckpt-000000002.pt"
    assert done.stdout.strip() == f"OSError {errno.EFBIG} [Errno {errno.EFBIG}] File too large: '{target}'", done.stderr
    assert list((tmp_path / "checkpoints").iterdir()) == []


def test_corrupt_partial_or_foreign_files_are_checkpoint_errors(tmp_path):
    path = save_checkpoint(tmp_path, make_state(4))
    data = path.read_bytes()
    truncated = path.with_name(checkpoint_name(5))
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"ckpt-000000005.pt.*corrupt, partially written"):
        load_checkpoint(truncated)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "checkpoints" / checkpoint_name(99))
    torch.save({"weight": torch.zeros(2)}, tmp_path / "bare.pt")
    with pytest.raises(CheckpointError, match="lacks model, optimizer"):
        load_checkpoint(tmp_path / "bare.pt")
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path / "checkpoints" / ".." / "..")  # a folder without checkpoints


def test_save_refuses_incomplete_or_unreadable_state(tmp_path):
    state = make_state(1)
    del state["rng"]
    with pytest.raises(ValueError, match="lacks rng"):
        save_checkpoint(tmp_path, state)
    bad = make_state(1)
    bad["rng"]["legacy"] = np.zeros(3)  # weights_only loading could not read this back
    with pytest.raises(ValueError, match=r"state.rng.legacy is a numpy.ndarray"):
        save_checkpoint(tmp_path, bad)
    with pytest.raises(ValueError, match="config_to_dict"):  # an OmegaConf tree instead of a plain dict
        save_checkpoint(tmp_path, {**make_state(1), "config": OmegaConf.create({"a": 1})})
    with pytest.raises(ValueError, match="step"):
        save_checkpoint(tmp_path, {**make_state(1), "step": -1})
    with pytest.raises(ValueError, match="unexpected scheduler; it holds exactly model, optimizer, grad_scaler"):
        save_checkpoint(tmp_path, {**make_state(1), "scheduler": None})  # saved but never restored: refused
    assert not (tmp_path / "checkpoints").exists() or not list((tmp_path / "checkpoints").iterdir())


def test_strict_model_loading(tmp_path):
    torch.manual_seed(0)
    source = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    target = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    load_model_state(target, source.state_dict())
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value)

    partial = {k: v for k, v in source.state_dict().items() if not k.startswith("2.")}
    with pytest.raises(CheckpointError, match=r"missing keys \(2\): 2.bias, 2.weight"):
        load_model_state(target, partial)
    extra = {**source.state_dict(), "3.weight": torch.zeros(1)}
    with pytest.raises(CheckpointError, match=r"unexpected keys \(1\): 3.weight"):
        load_model_state(target, extra)
    wide = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 5))
    with pytest.raises(CheckpointError, match=r"shape mismatches.*2.weight: \(5, 4\) in file, \(2, 4\) in model"):
        load_model_state(target, wide.state_dict(), source="ckpt-x.pt")
    wrapped = {f"module.{k}": v for k, v in source.state_dict().items()}
    with pytest.raises(CheckpointError, match="wrapped model"):
        load_model_state(target, wrapped)
    # a wrapped *model* is unwrapped before loading
    load_model_state(nn.DataParallel(target), source.state_dict())


def test_a_checkpoint_of_the_older_layout_loads_with_its_grad_scaler(tmp_path):
    """Before the grad scaler had its own key it was saved inside ``scheduler`` (with the
    schedule's settings, which the config holds), and ``rng`` held a torch RNG state."""
    state = make_state(6)
    scaler = state.pop("grad_scaler")
    schedule = {"kind": "staircase_exponential_decay", "learning_rate": 0.1, "decay_steps": 10, "decay_factor": 0.5}
    old = {**state, "scheduler": {**schedule, "grad_scaler": scaler}}
    old["rng"] = {"scheme": "per_step", "seed": 0, "next_batch": 6, "torch": torch.get_rng_state()}
    torch.save(old, tmp_path / checkpoint_name(6))
    loaded = load_checkpoint(tmp_path / checkpoint_name(6))
    assert sorted(loaded) == sorted(["model", "optimizer", "grad_scaler", "step", "rng", "config"])
    assert loaded["grad_scaler"] == scaler and loaded["rng"]["seed"] == 0
    for key, value in state["model"].items():
        assert torch.equal(loaded["model"][key], value)
    # Without AMP the older layout held an empty scaler state, or no scheduler state at all.
    for scheduler in ({**schedule, "grad_scaler": {}}, None):
        torch.save({**state, "scheduler": scheduler}, tmp_path / checkpoint_name(7))
        assert load_checkpoint(tmp_path / checkpoint_name(7))["grad_scaler"] == {}


def test_a_checkpoint_with_entries_of_another_version_is_refused(tmp_path):
    torch.save({**make_state(2), "ema": {"w": torch.zeros(2)}}, tmp_path / checkpoint_name(2))
    with pytest.raises(CheckpointError, match=r"ckpt-000000002.pt' holds entries this version does not know \(ema\)"):
        load_checkpoint(tmp_path / checkpoint_name(2))
