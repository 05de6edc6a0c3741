"""Training checkpoints: ``<logdir>/checkpoints/ckpt-<step:09d>.pt``, one dict per file.

The dict holds exactly ``model`` (state_dict of the unwrapped model), ``optimizer``
(its state_dict), ``grad_scaler`` (the AMP GradScaler's state_dict; {} without float16
AMP), ``step``, ``rng`` (what the random streams continue from) and ``config`` (the
plain config dict); a missing or unexpected key is an error. There is no scheduler
entry: the learning rate is a function of the step and the config. Checkpoints written
before the scaler had its own key kept it in a ``scheduler`` entry; they load as if
written now. Files are written atomically (temporary name, fsync, rename), so a crash never
leaves a half-written ``ckpt-*.pt``; they are read with ``torch.load(weights_only=True)``,
so a checkpoint may hold only tensors and plain Python values (store numpy arrays as
tensors; numpy Generator states are plain dicts and fine). Model weights load strictly:
a missing, unexpected or mis-shaped entry is an error, never a silent partial load.
"""

from __future__ import annotations

import io
import logging
import os
import re
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from timecontrast.errors import CheckpointError
from timecontrast.io.files import write_bytes

logger = logging.getLogger(__name__)

CHECKPOINT_DIRNAME = "checkpoints"
CHECKPOINT_KEYS = ("model", "optimizer", "grad_scaler", "step", "rng", "config")
_CHECKPOINT_NAME = re.compile(r"^ckpt-(\d{9,})\.pt$")
_PLAIN = (str, int, float, bool, bytes, type(None), torch.dtype, torch.device, torch.Size)


def checkpoint_name(step: int) -> str:
    """``ckpt-000001000.pt`` for step 1000."""
    return f"ckpt-{int(step):09d}.pt"


def checkpoint_dir(logdir_or_dir: str | os.PathLike) -> Path:
    """The checkpoints folder of a log directory (a path already named ``checkpoints`` is kept)."""
    path = Path(logdir_or_dir)
    return path if path.name == CHECKPOINT_DIRNAME else path / CHECKPOINT_DIRNAME


def _check_plain(value: Any, where: str) -> None:
    """Refuse values that ``torch.load(weights_only=True)`` could not read back."""
    if isinstance(value, (Tensor, *_PLAIN)):
        return
    if type(value) in (dict, OrderedDict):
        for key, item in value.items():
            if not isinstance(key, _PLAIN):
                raise ValueError(f"checkpoint entry {where} has a key of type {type(key).__name__}")
            _check_plain(item, f"{where}.{key!s}")
        return
    if type(value) in (list, tuple):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]")
        return
    raise ValueError(
        f"checkpoint entry {where} is a {type(value).__module__}.{type(value).__name__}; store only tensors and "
        "plain Python values (e.g. torch.from_numpy(array), a numpy Generator's bit_generator.state dict, "
        "timecontrast.config.config_to_dict(cfg))"
    )


def save_checkpoint(path_or_dir: str | os.PathLike, state: Mapping[str, Any]) -> Path:
    """Write ``state`` atomically and return the file's path.

    ``path_or_dir``: a ``.pt`` file path, or a log directory / checkpoints folder, in
    which case the file is ``checkpoints/ckpt-<step:09d>.pt`` inside it. ``state`` must
    have exactly the keys of ``CHECKPOINT_KEYS`` (values may be None, ``step`` an int >= 0).
    """
    missing = [k for k in CHECKPOINT_KEYS if k not in state]
    if missing:
        raise ValueError(f"checkpoint state lacks {', '.join(missing)}; it needs {', '.join(CHECKPOINT_KEYS)}")
    unexpected = [str(k) for k in state if k not in CHECKPOINT_KEYS]
    if unexpected:
        raise ValueError(
            f"checkpoint state has unexpected {', '.join(unexpected)}; it holds exactly {', '.join(CHECKPOINT_KEYS)}"
        )
    step = state["step"]
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"checkpoint step must be an int >= 0, got {step!r}")
    _check_plain(dict(state), "state")
    target = Path(path_or_dir)
    if target.suffix != ".pt":
        target = checkpoint_dir(target) / checkpoint_name(step)
    # Serialise in memory first: torch's zip writer turns a failed file write (a full disk)
    # into an opaque RuntimeError from inline_container.cc; our own write raises the OSError.
    buffer = io.BytesIO()
    torch.save(dict(state), buffer)
    write_bytes(target, buffer.getbuffer(), durable=True)
    logger.info("saved checkpoint %s", target)
    return target


def list_checkpoints(dir_or_logdir: str | os.PathLike) -> list[tuple[int, Path]]:
    """``(step, path)`` of every complete checkpoint, by increasing step.

    Looks in ``<dir>/checkpoints`` if that exists, else in ``<dir>`` itself; temporary
    and other files are ignored. A missing directory gives ``[]``.
    """
    base = Path(dir_or_logdir)
    folder = base / CHECKPOINT_DIRNAME if (base / CHECKPOINT_DIRNAME).is_dir() else base
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = _CHECKPOINT_NAME.match(path.name)
        if match and path.is_file():
            found.append((int(match.group(1)), path))
    return sorted(found)


def latest_checkpoint(dir_or_logdir: str | os.PathLike) -> Path | None:
    """The checkpoint with the highest step, or None if there is none."""
    found = list_checkpoints(dir_or_logdir)
    return found[-1][1] if found else None


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device | None = "cpu") -> dict[str, Any]:
    """Read a checkpoint dict (a directory means its latest checkpoint).

    Raises :class:`CheckpointError` for a missing, corrupt, partially written or
    foreign file, naming the file and what to do.
    """
    path = Path(path)
    if path.is_dir():
        latest = latest_checkpoint(path)
        if latest is None:
            raise CheckpointError(f"no checkpoint (ckpt-<step>.pt) in '{path}'; train first or give a checkpoint file")
        path = latest
    if not path.is_file():
        raise CheckpointError(f"checkpoint '{path}' does not exist; give a ckpt-<step>.pt file or a log directory")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"checkpoint '{path}' could not be read ({type(exc).__name__}: {reason}); the file is corrupt, partially "
            "written or not a timecontrast checkpoint. Delete it to fall back to the previous checkpoint"
        ) from None
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint '{path}' holds a {type(state).__name__}, not a checkpoint dict")
    state = _from_older_layout(state)
    missing = [k for k in CHECKPOINT_KEYS if k not in state]
    if missing:
        raise CheckpointError(
            f"checkpoint '{path}' lacks {', '.join(missing)}; it is not a timecontrast training checkpoint "
            "(a bare state_dict can be used as a trunk's pretrained_checkpoint instead)"
        )
    unexpected = [str(k) for k in state if k not in CHECKPOINT_KEYS]
    if unexpected:
        raise CheckpointError(
            f"checkpoint '{path}' holds entries this version does not know ({', '.join(unexpected)}); it was written "
            "by another version of timecontrast: read it with that version"
        )
    return state


def _from_older_layout(state: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint of the older layout (the AMP grad scaler inside a ``scheduler`` entry,
    which held the schedule's settings too) as the current one: the scaler under
    ``grad_scaler``; the settings are dropped (``config`` holds them)."""
    if "scheduler" not in state or "grad_scaler" in state:
        return state
    state = dict(state)
    scheduler = state.pop("scheduler")
    state["grad_scaler"] = (scheduler.get("grad_scaler") if isinstance(scheduler, dict) else None) or {}
    return state


def unwrap_model(model: nn.Module) -> nn.Module:
    """The plain model inside DistributedDataParallel / DataParallel / torch.compile wrappers."""
    while True:
        if isinstance(model, nn.parallel.DistributedDataParallel | nn.DataParallel):
            model = model.module
        elif hasattr(model, "_orig_mod") and isinstance(model._orig_mod, nn.Module):
            model = model._orig_mod
        else:
            return model


def load_model_state(model: nn.Module, state_dict: Mapping[str, Tensor], source: str = "checkpoint") -> None:
    """Load ``state_dict`` into (the unwrapped) ``model``; any mismatch is a :class:`CheckpointError`.

    The message lists missing keys, unexpected keys and shape mismatches, and names
    ``source`` (e.g. the checkpoint path).
    """
    model = unwrap_model(model)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    wrong_shape = [
        f"{k}: {tuple(state_dict[k].shape)} in file, {tuple(v.shape)} in model"
        for k, v in expected.items()
        if k in state_dict and tuple(state_dict[k].shape) != tuple(v.shape)
    ]
    if missing or unexpected or wrong_shape:
        parts = []
        for label, keys in (
            ("missing keys", missing),
            ("unexpected keys", unexpected),
            ("shape mismatches", wrong_shape),
        ):
            if keys:
                parts.append(f"{label} ({len(keys)}): {', '.join(keys[:10])}{' ...' if len(keys) > 10 else ''}")
        hint = ""
        if any(k.startswith(("module.", "_orig_mod.")) for k in unexpected):
            hint = " The file was saved from a wrapped model (DDP/compile); save unwrap_model(model).state_dict()."
        raise CheckpointError(
            f"{source} does not match the model: {'; '.join(parts)}. Build the model from the checkpoint's own "
            f"config (final_training_config.yaml).{hint}"
        )
    model.load_state_dict(state_dict, strict=True)


__all__ = [
    "CHECKPOINT_DIRNAME",
    "CHECKPOINT_KEYS",
    "checkpoint_dir",
    "checkpoint_name",
    "latest_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "load_model_state",
    "save_checkpoint",
    "unwrap_model",
]
