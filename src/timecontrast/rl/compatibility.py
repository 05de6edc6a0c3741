"""Does a trained embedder fit an environment? The images it was trained on against the env's.

A TCN only gives meaningful embeddings of images like those it was trained on: the same
frame size, the same cameras and the same frame rate (a multi-frame model's clip spans
``(K-1) * frame_stride`` frame intervals, so another rate changes the motion it sees).
The checkpoint's config says how many views it was trained on (``data.num_views``) and
its input size (``data.height`` x ``data.width``); its training data's ``dataset.json``
(written by ``tcn synth``, found from ``data.training``) says the world, frame size,
cameras and frame rate. :func:`check_embedder_fits` compares what is known with the
environment and raises one :class:`ConfigError` listing every mismatch with its fix.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch

from timecontrast.data.dataset_info import read_dataset_info
from timecontrast.data.layout import dataset_info_path_of
from timecontrast.data.records import find_record_files
from timecontrast.devices import resolve_device
from timecontrast.errors import ConfigError, DataError
from timecontrast.inference import Embedder
from timecontrast.rl.cameras import describe_cameras, resolve_cameras

log = logging.getLogger(__name__)


def load_embedder(embedder: Embedder | str | os.PathLike | None, device: str | torch.device | None = None) -> Embedder:
    """An :class:`Embedder`: the one given, or the checkpoint at a path (a ``ckpt-*.pt``
    file or a run's logdir) loaded on ``device``.

    Raises:
        ConfigError: no embedder, or ``device`` differs from a given Embedder's device.
    """
    if embedder is None:
        raise ConfigError(
            "obs='embedding' needs a trained embedder: pass embedder= a checkpoint or run directory "
            "(e.g. embedder='runs/mftcn') or a timecontrast.inference.Embedder"
        )
    if isinstance(embedder, (str, os.PathLike)):
        return Embedder.from_checkpoint(embedder, device=device)
    if not isinstance(embedder, Embedder):
        raise ConfigError(
            f"embedder must be a checkpoint path or a timecontrast.inference.Embedder, got {type(embedder).__name__}"
        )
    if device is not None and resolve_device(device) != embedder.device:
        raise ConfigError(
            f"device={device!s} but the embedder runs on {embedder.device}; build the Embedder with "
            f"device={device!s} or leave device unset"
        )
    return embedder


def training_dataset_info(cfg: Any) -> tuple[dict[str, Any] | None, Path | None]:
    """``(dataset.json content, its path)`` of the config's ``data.training`` records, as far
    as they can be found from here; ``(None, path or None)`` otherwise (moved data, records
    outside the ``tcn synth`` layout, a damaged file: logged)."""
    training = str(cfg.data.get("training", "") or "")
    if not training:
        return None, None
    try:
        files = find_record_files(training)
    except (DataError, OSError):
        return None, None
    path = dataset_info_path_of(files[0])
    if path is None or not path.is_file():
        return None, path
    try:
        return read_dataset_info(path), path
    except (DataError, OSError) as exc:
        log.warning("cannot read the training data's description (%s); checking the image size only", exc)
        return None, path


def _dataset_problems(
    info: dict[str, Any], path: Path, num_views: int, *, world: str, width: int, height: int,
    cameras: tuple[str, ...] | int, fps: float, appearance: str,
) -> list[str]:  # fmt: skip
    """The mismatches between a training dataset's ``dataset.json`` and the environment."""
    data = f"its training data ({path})"
    problems = []
    if info.get("world") not in (None, world):
        problems.append(f"{data} shows the {info['world']} world, not {world}: use world={info['world']!r}")
    size = (info.get("width"), info.get("height"))
    if None not in size and size != (width, height):
        problems.append(
            f"{data} has {size[0]}x{size[1]} frames but the environment renders {width}x{height}: "
            f"pass width={size[0]}, height={size[1]}"
        )
    trained = info.get("cameras")
    if isinstance(trained, list) and info.get("world") in (None, world):
        try:
            trained_names = resolve_cameras(world, trained[:num_views])
        except ConfigError:
            trained_names = tuple(str(c) for c in trained[:num_views])
        if trained_names != cameras:
            problems.append(
                f"{data} was filmed by cameras {describe_cameras(trained_names)}, the environment by "
                f"{describe_cameras(cameras)}: pass cameras={trained_names!r}"
            )
    elif trained is None and "views" in info and not isinstance(cameras, int):
        problems.append(
            f"{data} was filmed from the world's randomised camera rig, the environment by cameras "
            f"{describe_cameras(cameras)}: pass cameras={num_views} (that many rig views)"
        )
    trained_fps = info.get("fps")
    if isinstance(trained_fps, (int, float)) and abs(float(trained_fps) - fps) > 1e-6:
        problems.append(
            f"{data} was recorded at {trained_fps:g} fps but the environment gives {fps:g} frames per second, "
            f"so the clips' frame stride would span another time: pass fps={trained_fps:g}"
        )
    if info.get("appearance") not in (None, appearance):
        log.warning(
            "%s has the %r appearance, the environment the %r one; pass appearance=%r to film it as in training",
            data,
            info["appearance"],
            appearance,
            info["appearance"],
        )
    return problems


def check_embedder_fits(
    embedder: Embedder,
    *,
    world: str,
    task: str,
    width: int,
    height: int,
    cameras: tuple[str, ...] | int,
    view: int,
    fps: float,
    appearance: str = "default",
) -> None:
    """Raise :class:`ConfigError` when ``embedder`` was trained on other images than the
    environment's: its view count (``data.num_views``) against the environment's cameras
    (``cameras``: resolved model camera names, or a number of rig views), and, from its
    training data's ``dataset.json`` when found, the world, frame size, cameras and frame
    rate; without it, the frame size against the model's input size."""
    cfg = embedder.cfg
    num_views = int(cfg.data.num_views)
    env_views = cameras if isinstance(cameras, int) else len(cameras)
    problems = []
    if env_views != num_views:
        problems.append(
            f"it was trained on {num_views} views (data.num_views) but the environment films {env_views} "
            f"({describe_cameras(cameras)}): pass cameras= with the {num_views} cameras of its training data"
        )
    if not 0 <= view < env_views:
        problems.append(f"view={view} is not one of the environment's views 0..{env_views - 1}")
    info, path = training_dataset_info(cfg)
    if info is not None and path is not None:
        problems += _dataset_problems(
            info, path, num_views, world=world, width=width, height=height, cameras=cameras, fps=fps,
            appearance=appearance,
        )  # fmt: skip
    elif (height, width) != (int(cfg.data.height), int(cfg.data.width)):
        where = f" (looked for {path})" if path is not None else ""
        problems.append(
            f"its model takes {cfg.data.width}x{cfg.data.height} frames (data.width x data.height) and the "
            f"description of its training data{where} is not found, so the environment must render that size, "
            f"not {width}x{height}: pass width={cfg.data.width}, height={cfg.data.height}"
        )
    if problems:
        raise ConfigError(
            f"the embedder ({embedder.source}) does not fit the {world}/{task} environment: " + "; ".join(problems)
        )


__all__ = ["check_embedder_fits", "load_embedder", "training_dataset_info"]
