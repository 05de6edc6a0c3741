"""Trunks: torchvision networks cut at a chosen layer, the small CPU CNN, video networks.

Each builder returns a :class:`Trunk`: the module, its output channels and the input
normalisation it expects. Trunk modules keep torchvision's parameter names (``Mixed_5b.*``,
``layer1.*``, ``stem.*``), so a torchvision state_dict file loads into them directly.

Weights: ``pretrained='imagenet'`` takes torchvision's pretrained weights (ImageNet for
the image networks, Kinetics-400 for the video networks) through its weights API, which
downloads once into the torch hub cache; ``pretrained_checkpoint`` loads a local state_dict file. Without
either the trunk is randomly initialised. A TensorFlow ``pretrained_checkpoint`` (the original
release's TF-slim ``inception_v3.ckpt`` / ``resnet_v2_50.ckpt``) cannot be read: torchvision's
weights for the same trunk are used instead, with a warning.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torchvision
from torch import Tensor, nn
from torchvision.models import video as tv_video

from timecontrast.errors import CheckpointError, ConfigError, DependencyError
from timecontrast.models.layers import conv_bn_relu, dropout

logger = logging.getLogger(__name__)

Triple = tuple[float, float, float]
# The original scaled [0, 1] images to [-1, 1]. torchvision's Inception-v3 ImageNet weights
# are a port of the TensorFlow ones and expect the same: their `transform_input` option maps
# ImageNet-normalised input back to [-1, 1], and our trunk skips that step and takes [-1, 1].
UNIT_MEAN: Triple = (0.5, 0.5, 0.5)
UNIT_STD: Triple = (0.5, 0.5, 0.5)
IMAGENET_MEAN: Triple = (0.485, 0.456, 0.406)
IMAGENET_STD: Triple = (0.229, 0.224, 0.225)
KINETICS_MEAN: Triple = (0.43216, 0.394666, 0.37645)
KINETICS_STD: Triple = (0.22803, 0.22145, 0.216989)

# Inception-v3 blocks in forward order (max-pools included) and their output channels.
INCEPTION_LAYERS: dict[str, int] = {
    "Conv2d_1a_3x3": 32,
    "Conv2d_2a_3x3": 32,
    "Conv2d_2b_3x3": 64,
    "maxpool1": 64,
    "Conv2d_3b_1x1": 80,
    "Conv2d_4a_3x3": 192,
    "maxpool2": 192,
    "Mixed_5b": 256,
    "Mixed_5c": 288,
    "Mixed_5d": 288,
    "Mixed_6a": 768,
    "Mixed_6b": 768,
    "Mixed_6c": 768,
    "Mixed_6d": 768,
    "Mixed_6e": 768,
    "Mixed_7a": 1280,
    "Mixed_7b": 2048,
    "Mixed_7c": 2048,
}
RESNET_DEPTHS = (18, 34, 50)
VIDEO_BACKBONES = ("r3d_18", "r2plus1d_18")
PRETRAINED_CHOICES = ("none", "imagenet")


@dataclass
class Trunk:
    """A feature extractor and what its input must look like.

    ``module``: ``[B, 3, H, W] -> [B, C, h, w]`` (``video``: ``[B, 3, T, H, W] -> [B, C, T', h, w]``).
    ``mean``/``std``: normalisation of [0, 1] RGB input, ``(x - mean) / std``.
    ``min_size``: the smallest input side it supports. ``pretrained``: weights were loaded.
    """

    module: nn.Module
    out_channels: int
    mean: Triple
    std: Triple
    min_size: int = 1
    video: bool = False
    pretrained: bool = False


def download_weights(weights: torchvision.models.WeightsEnum) -> dict[str, Tensor]:
    """torchvision weights through its API (cached in the torch hub dir), or a clear error."""
    try:
        return weights.get_state_dict(progress=False)
    except Exception as exc:  # network, HTTP, disk or hash errors all end the same way for the user
        cache = Path(torch.hub.get_dir()) / "checkpoints"
        raise DependencyError(
            f"could not get torchvision's pretrained weights {weights} from {weights.url} "
            f"({type(exc).__name__}: {exc}). This machine may have no internet access. Either run once where "
            f"there is internet (torchvision caches the file in {cache}), or download {weights.url} yourself "
            "and set pretrained_checkpoint to that file (with pretrained: none)."
        ) from None


# TensorFlow checkpoints: name.ckpt, name.ckpt-<step>, and the .index/.meta/.data-* files of one.
_TF_CHECKPOINT_NAME = re.compile(r"\.ckpt(-\d+)?(\.index|\.meta|\.data-\d+-of-\d+)?$")
_TORCH_SAVE_MAGIC = (b"PK\x03\x04", b"\x80")  # torch.save's zip format; its legacy pickle format


def is_tensorflow_checkpoint(path: str | Path) -> bool:
    """Whether ``path`` names a TensorFlow checkpoint, such as the original release's TF-slim
    ``pretrained_checkpoints/inception/inception_v3.ckpt``, rather than a ``torch.save`` file.

    True for ``*.ckpt`` / ``*.ckpt-<step>`` names (and their ``.index``/``.meta``/``.data-*``
    files) and for a prefix with an ``.index`` file beside it, unless the file exists and is a
    ``torch.save`` file (PyTorch Lightning names its checkpoints ``.ckpt`` too).
    """
    p = Path(path).expanduser()
    if not (_TF_CHECKPOINT_NAME.search(p.name) or p.with_name(p.name + ".index").is_file()):
        return False
    if p.is_file():
        with open(p, "rb") as fh:
            return not fh.read(4).startswith(_TORCH_SAVE_MAGIC)
    return True


def read_state_dict(path: str | Path) -> dict[str, Tensor]:
    """A state_dict from a ``torch.save`` file: a plain state_dict, an embedder's, or a checkpoint's.

    From a timecontrast checkpoint (a dict with ``model``) or an embedder's state_dict
    only the ``trunk.*`` entries are used, with that prefix removed.
    """
    path = Path(path).expanduser()
    if is_tensorflow_checkpoint(path):
        raise CheckpointError(
            f"pretrained_checkpoint '{path}' is a TensorFlow checkpoint, which cannot be read here (there is no "
            "TensorFlow); give a state_dict saved with torch.save(model.state_dict(), path)"
        )
    if not path.is_file():
        raise CheckpointError(f"pretrained_checkpoint '{path}' does not exist; give the path of a state_dict file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(
            f"pretrained_checkpoint '{path}' could not be read as a torch.save file ({type(exc).__name__}: {exc}); "
            "it must hold a state_dict saved with torch.save(model.state_dict(), path)"
        ) from None
    if isinstance(obj, Mapping) and isinstance(obj.get("model"), Mapping):
        obj = obj["model"]
    if not isinstance(obj, Mapping) or not all(isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items()):
        raise CheckpointError(f"pretrained_checkpoint '{path}' does not hold a state_dict (a dict of name -> tensor)")
    if any(k.startswith("trunk.") for k in obj):
        obj = {k[len("trunk.") :]: v for k, v in obj.items() if k.startswith("trunk.")}
    return dict(obj)


def load_trunk_state(
    module: nn.Module, state: Mapping[str, Tensor], ignorable: Iterable[str] = (), source: str = "state_dict"
) -> None:
    """Load ``state`` into ``module`` strictly, except keys in ``ignorable`` (layers past the cut).

    A missing trunk key, a key that belongs to no layer of the network, or a shape
    mismatch raises :class:`CheckpointError` naming them.
    """
    expected = module.state_dict()
    ignorable = set(ignorable)
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected) - ignorable)
    wrong_shape = [
        f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    problems = []
    if missing:
        problems.append(f"missing keys ({len(missing)}): {', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''}")
    if unexpected:
        problems.append(
            f"unexpected keys ({len(unexpected)}): {', '.join(unexpected[:8])}{' ...' if len(unexpected) > 8 else ''}"
        )
    if wrong_shape:
        problems.append(f"shape mismatches: {'; '.join(wrong_shape[:8])}")
    if problems:
        raise CheckpointError(
            f"{source} does not fit the trunk: {'; '.join(problems)}. Use weights of the same architecture "
            "(torchvision parameter names) and the same depth/layer settings"
        )
    skipped = len(set(state) - set(expected))
    if skipped:
        logger.info("%s: ignored %d entries of layers after the cut", source, skipped)
    module.load_state_dict({k: state[k] for k in expected}, strict=True)


def _check_pretrained(pretrained: str, pretrained_checkpoint: str | Path | None) -> None:
    if pretrained not in PRETRAINED_CHOICES:
        raise ConfigError(f"pretrained is '{pretrained}'; choose one of: {', '.join(PRETRAINED_CHOICES)}")
    if pretrained != "none" and pretrained_checkpoint:
        raise ConfigError(
            f"both pretrained: {pretrained} and pretrained_checkpoint '{pretrained_checkpoint}' are set; "
            "set pretrained: none to use the local file, or clear pretrained_checkpoint"
        )


def _replace_tensorflow_checkpoint(
    pretrained: str, pretrained_checkpoint: str | Path | None, weights: torchvision.models.WeightsEnum
) -> tuple[str, str | Path | None, str]:
    """A TensorFlow ``pretrained_checkpoint`` (as the original release's configs name) cannot be
    read: warn and take torchvision's ``weights`` for the same trunk instead.

    Returns ``(pretrained, pretrained_checkpoint, why)``, ``why`` saying what was replaced ('' if nothing).
    """
    if not pretrained_checkpoint or not is_tensorflow_checkpoint(pretrained_checkpoint):
        return pretrained, pretrained_checkpoint, ""
    why = f"pretrained_checkpoint '{pretrained_checkpoint}' is a TensorFlow checkpoint, which cannot be read here"
    if pretrained != "none":
        logger.warning("%s; ignored: pretrained: %s already gives torchvision's %s weights", why, pretrained, weights)
        return pretrained, None, why
    version = (
        " (torchvision's ResNets are v1; the original's TF-slim ResNet was v2)" if "ResNet" in str(weights) else ""
    )
    logger.warning(
        "%s; using torchvision's %s weights for the same trunk instead%s. Set pretrained: imagenet and "
        "pretrained_checkpoint: '' to say so and silence this warning",
        why,
        weights,
        version,
    )
    return "imagenet", None, why


def _cut(
    full: nn.Module,
    names: Sequence[str],
    weights: torchvision.models.WeightsEnum,
    pretrained: str,
    pretrained_checkpoint: str | Path | None,
) -> tuple[nn.Sequential, bool]:
    """Load weights into ``full`` (or its kept part) and keep its children ``names`` in order."""
    pretrained, pretrained_checkpoint, replaced = _replace_tensorflow_checkpoint(
        pretrained, pretrained_checkpoint, weights
    )
    _check_pretrained(pretrained, pretrained_checkpoint)
    if pretrained != "none":
        try:
            state = download_weights(weights)
        except DependencyError as exc:
            if not replaced:
                raise
            raise DependencyError(f"{replaced}, and its replacement failed: {exc}") from None
        full.load_state_dict(state, strict=True)
    children = dict(full.named_children())
    trunk = nn.Sequential(OrderedDict((name, children[name]) for name in names))
    if pretrained_checkpoint:
        path = Path(pretrained_checkpoint).expanduser()
        load_trunk_state(trunk, read_state_dict(path), ignorable=full.state_dict().keys(), source=f"'{path}'")
    return trunk, pretrained != "none" or bool(pretrained_checkpoint)


def inception_v3_trunk(
    pretrained_layer: str = "Mixed_5d", pretrained: str = "none", pretrained_checkpoint: str | Path | None = None
) -> Trunk:
    """torchvision Inception-v3 up to and including ``pretrained_layer`` (Mixed_5d: 288 ch, 35x35 at 299 px).

    Input is [0, 1] RGB scaled to [-1, 1] (mean = std = 0.5), as in the original and
    as torchvision's ImageNet weights (a TensorFlow port) expect. Min input 75 px.
    """
    if pretrained_layer not in INCEPTION_LAYERS:
        raise ConfigError(
            f"pretrained_layer '{pretrained_layer}' is not an Inception-v3 block; choose one of: "
            f"{', '.join(INCEPTION_LAYERS)}"
        )
    full = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=pretrained == "none")
    names = list(INCEPTION_LAYERS)[: list(INCEPTION_LAYERS).index(pretrained_layer) + 1]
    module, loaded = _cut(
        full, names, torchvision.models.Inception_V3_Weights.IMAGENET1K_V1, pretrained, pretrained_checkpoint
    )
    return Trunk(module, INCEPTION_LAYERS[pretrained_layer], UNIT_MEAN, UNIT_STD, min_size=75, pretrained=loaded)


def resnet_trunk(
    depth: int = 50, stage: int = 4, pretrained: str = "none", pretrained_checkpoint: str | Path | None = None
) -> Trunk:
    """torchvision ResNet-18/34/50 up to and including ``layer<stage>`` (stride 4 * 2**(stage-1)).

    Input is ImageNet-normalised (torchvision's convention, with or without its weights).
    """
    if depth not in RESNET_DEPTHS:
        raise ConfigError(f"ResNet depth is {depth}; choose one of: {', '.join(map(str, RESNET_DEPTHS))}")
    if stage not in (1, 2, 3, 4):
        raise ConfigError(f"ResNet pretrained_layer (stage) is {stage}; choose 1, 2, 3 or 4")
    build, weights = {
        18: (torchvision.models.resnet18, torchvision.models.ResNet18_Weights.DEFAULT),
        34: (torchvision.models.resnet34, torchvision.models.ResNet34_Weights.DEFAULT),
        50: (torchvision.models.resnet50, torchvision.models.ResNet50_Weights.DEFAULT),
    }[depth]
    names = ["conv1", "bn1", "relu", "maxpool"] + [f"layer{i}" for i in range(1, stage + 1)]
    module, loaded = _cut(build(weights=None), names, weights, pretrained, pretrained_checkpoint)
    channels = 64 * 2 ** (stage - 1) * (4 if depth >= 50 else 1)
    return Trunk(module, channels, IMAGENET_MEAN, IMAGENET_STD, min_size=32, pretrained=loaded)


def small_conv_trunk(
    channels: Sequence[int] = (32, 64, 128), keep_conv: float = 1.0, pretrained_checkpoint: str | Path | None = None
) -> Trunk:
    """A compact CNN for CPUs: per entry a stride-2 3x3 conv and a 3x3 conv, each with BN + ReLU.

    ``[B, 3, H, W] -> [B, channels[-1], H / 2**n, W / 2**n]``; dropout(keep_conv) after each
    block. Input scaled to [-1, 1]. Random init unless ``pretrained_checkpoint``.
    """
    if not channels:
        raise ConfigError("small_conv.channels is empty; give at least one block, e.g. [32, 64, 128]")
    blocks: OrderedDict[str, nn.Module] = OrderedDict()
    previous = 3
    for i, out in enumerate(channels):
        blocks[f"block{i + 1}"] = nn.Sequential(
            conv_bn_relu(previous, out, stride=2), conv_bn_relu(out, out), dropout(keep_conv)
        )
        previous = out
    module = nn.Sequential(blocks)
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    if pretrained_checkpoint:
        path = Path(pretrained_checkpoint).expanduser()
        load_trunk_state(module, read_state_dict(path), source=f"'{path}'")
    return Trunk(
        module,
        int(channels[-1]),
        UNIT_MEAN,
        UNIT_STD,
        min_size=2 ** len(channels),
        pretrained=bool(pretrained_checkpoint),
    )


def video_trunk(
    name: str = "r3d_18", pretrained: str = "none", pretrained_checkpoint: str | Path | None = None
) -> Trunk:
    """torchvision's r3d_18 or r2plus1d_18 without pooling and classifier: 512 channels.

    ``[B, 3, T, H, W] -> [B, 512, ceil(T / 8), H / 16, W / 16]``; Kinetics-400 normalisation.
    """
    if name not in VIDEO_BACKBONES:
        raise ConfigError(f"video backbone '{name}' is unknown; choose one of: {', '.join(VIDEO_BACKBONES)}")
    build, weights = {
        "r3d_18": (tv_video.r3d_18, tv_video.R3D_18_Weights.KINETICS400_V1),
        "r2plus1d_18": (tv_video.r2plus1d_18, tv_video.R2Plus1D_18_Weights.KINETICS400_V1),
    }[name]
    names = ["stem", "layer1", "layer2", "layer3", "layer4"]
    module, loaded = _cut(build(weights=None), names, weights, pretrained, pretrained_checkpoint)
    return Trunk(module, 512, KINETICS_MEAN, KINETICS_STD, min_size=16, video=True, pretrained=loaded)


__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "INCEPTION_LAYERS",
    "KINETICS_MEAN",
    "KINETICS_STD",
    "RESNET_DEPTHS",
    "UNIT_MEAN",
    "UNIT_STD",
    "VIDEO_BACKBONES",
    "Trunk",
    "download_weights",
    "inception_v3_trunk",
    "load_trunk_state",
    "read_state_dict",
    "resnet_trunk",
    "small_conv_trunk",
    "video_trunk",
]
