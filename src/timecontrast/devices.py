"""The one device choice of the project: ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` -> a torch device.

Used by training (one process per GPU under torchrun: ``cuda`` means this process's GPU,
``local_rank``), by ``tcn eval`` and by the :class:`~timecontrast.inference.Embedder`
(where a ``runtime.device`` of ``cuda`` from a run trained on another machine falls back
to the CPU with a warning). Like :mod:`timecontrast.errors`, every layer but ``io`` may
import it.
"""

from __future__ import annotations

import logging

import torch

from timecontrast.errors import ConfigError, DependencyError

log = logging.getLogger(__name__)

DEVICE_CHOICES = "auto, cpu, cuda or cuda:N"


def resolve_device(
    device: str | torch.device | None,
    configured: str | None = None,
    *,
    local_rank: int | None = None,
    fall_back_to_cpu: bool = False,
) -> torch.device:
    """The torch device for ``device``, else ``configured`` (``runtime.device``), else ``auto``.

    ``device``: what the caller asked for (``--device``, an argument); None or ``""``
    leaves the choice to ``configured``, the config's ``runtime.device``.

    - ``auto``: CUDA when available, else the CPU;
    - ``cuda``: with ``local_rank`` (a torchrun process), GPU ``local_rank % count``;
      without, torch's current GPU;
    - ``cuda:N``: GPU N, which must exist.

    CUDA without a GPU is a :class:`DependencyError`, except for a ``configured`` value
    with ``fall_back_to_cpu`` (the config of a run trained elsewhere, e.g. a checkpoint's):
    then a warning and the CPU. Any other name is a :class:`ConfigError`.
    """
    explicit = device is not None and str(device).strip() != ""
    name = str(device if explicit else configured or "auto").strip() or "auto"
    where = "device" if explicit else "runtime.device"
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return torch.device("cpu")
    if name != "cuda" and not (name.startswith("cuda:") and name[5:].isdigit()):
        raise ConfigError(f"{where} is '{name}'; use {DEVICE_CHOICES}")
    if not torch.cuda.is_available():
        if fall_back_to_cpu and not explicit:
            log.warning("runtime.device is '%s' but CUDA is not available; running on the CPU", name)
            return torch.device("cpu")
        raise DependencyError(
            f"{where} is '{name}' but no CUDA GPU is available; use "
            + ("--device cpu" if explicit else "runtime.device=cpu")
        )
    if name == "cuda":  # torchrun: this process's GPU; else torch's current one
        if local_rank is None:
            return torch.device("cuda")
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    index, count = int(name[5:]), torch.cuda.device_count()
    if index >= count:
        raise ConfigError(f"{where} is '{name}' but there are {count} GPU(s) (cuda:0 .. cuda:{count - 1})")
    return torch.device("cuda", index)


__all__ = ["DEVICE_CHOICES", "resolve_device"]
