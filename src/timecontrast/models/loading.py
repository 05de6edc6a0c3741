"""Models rebuilt from what a run saved: the checkpoint to use, its network with its weights,
and the same network untrained (the evaluation baseline).

``find_checkpoint(path_or_logdir, step)`` is the one checkpoint-by-step lookup;
``load_trained_model`` rebuilds the network from the checkpoint's own config with
:func:`~timecontrast.models.factory.build_embedder` (no pretrained trunk weights are read:
the checkpoint holds every weight) and loads the weights strictly. Building a model here
leaves the global torch random state untouched.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from timecontrast.config import TCNConfig, config_from_dict
from timecontrast.errors import CheckpointError
from timecontrast.models.checkpoint import list_checkpoints, load_checkpoint, load_model_state
from timecontrast.models.embedders import EmbeddingNetwork
from timecontrast.models.factory import build_embedder


@dataclass(frozen=True)
class TrainedModel:
    """A checkpoint's network with its weights loaded, the run's config, step and file."""

    model: EmbeddingNetwork
    config: TCNConfig
    step: int
    path: Path


def find_checkpoint(path_or_logdir: str | os.PathLike, step: int | None = None) -> Path:
    """The checkpoint file ``path_or_logdir`` names.

    A ``ckpt-<step>.pt`` file is itself; a log directory or checkpoints folder gives its
    checkpoint of ``step``, or its latest with ``step`` None. Raises
    :class:`CheckpointError` when there is no such checkpoint (a missing file is left to
    :func:`~timecontrast.models.checkpoint.load_checkpoint`, which says so).
    """
    path = Path(path_or_logdir).expanduser()
    if path.is_file() or (step is None and not path.is_dir()):
        return path
    found = list_checkpoints(path)
    if step is None:
        if not found:
            raise CheckpointError(f"no checkpoint (ckpt-<step>.pt) under '{path}'; train first or give a file")
        return found[-1][1]
    by_step = dict(found)
    if int(step) not in by_step:
        have = [s for s, _ in found]
        raise CheckpointError(f"no checkpoint of step {step} in '{path}' (it has {have or 'none'})")
    return by_step[int(step)]


def load_trained_model(path_or_logdir: str | os.PathLike, step: int | None = None) -> TrainedModel:
    """Rebuild the network of a checkpoint (see :func:`find_checkpoint`) from its own config
    and load its weights strictly (a missing or unexpected entry is a :class:`CheckpointError`)."""
    path = find_checkpoint(path_or_logdir, step)
    state = load_checkpoint(path)
    if not state.get("config"):
        raise CheckpointError(f"checkpoint '{path}' holds no config; it cannot be rebuilt")
    cfg = config_from_dict(state["config"], f"config of checkpoint '{path}'")
    with torch.random.fork_rng(devices=[]):  # the initial weights are overwritten next
        model = build_embedder(cfg, load_weights=False)
    load_model_state(model, state["model"], source=f"checkpoint '{path}'")
    return TrainedModel(model, cfg, int(state["step"]), path)


def build_untrained_embedder(cfg: TCNConfig, seed: int = 0) -> EmbeddingNetwork:
    """The network of ``cfg`` with random weights everywhere, trunk included (the
    "untrained" baseline), initialised from ``seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_embedder(cfg, load_weights=False)


__all__ = ["TrainedModel", "build_untrained_embedder", "find_checkpoint", "load_trained_model"]
