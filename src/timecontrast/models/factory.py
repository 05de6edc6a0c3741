"""Build a network from the config: the one place in models that reads the config tree.

``EMBEDDERS`` maps each ``embedder_strategy`` to a builder ``(cfg) -> EmbeddingNetwork``;
``build_pretrained_trunk(cfg)`` gives the configured trunk alone with its pretrained
weights (the ``--baseline`` "ImageNet features"). The
input size comes from ``data.height``/``data.width``; the embedding is L2-normalised
when ``training_strategy`` is svtcn (always, as in the original) or when
``<loss_strategy>.embedding_l2`` is true (mvtcn, mftcn).

``multi_frame`` takes its per-frame trunk's architecture and weights from that trunk's
own section (``small_conv.channels``, ``resnet.depth``/``pretrained_layer``/``pretrained``/
``pretrained_checkpoint``, ``inception_conv_ss_fc.pretrained_layer``/...);
``multi_frame.pretrained``/``pretrained_checkpoint`` are for the video trunks
(r3d_18, r2plus1d_18); ``multi_frame.finetune`` and ``multi_frame.dropout`` apply to all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from timecontrast.config.schema import (
    InceptionConvSSFCConfig,
    MultiFrameConfig,
    ResnetConfig,
    SmallConvConfig,
    TCNConfig,
)
from timecontrast.errors import ConfigError, DependencyError, TimeContrastError
from timecontrast.models.backbones import Trunk, inception_v3_trunk, resnet_trunk, small_conv_trunk, video_trunk
from timecontrast.models.embedders import (
    EmbeddingNetwork,
    InceptionConvSSFCEmbedder,
    MultiFrameEmbedder,
    PooledTrunk,
    ResnetEmbedder,
    SmallConvEmbedder,
)

logger = logging.getLogger(__name__)


def embedding_l2_normalize(cfg: TCNConfig) -> bool:
    """Whether the embedder L2-normalises its output for this run."""
    if cfg.training_strategy == "svtcn":
        return True
    return bool(getattr(cfg, cfg.loss_strategy).embedding_l2)


def _keeps(cfg: TCNConfig, section: str) -> dict[str, float]:
    keeps = {}
    for name in ("keep_pretrained", "keep_conv", "keep_fc"):
        value = float(getattr(cfg, section).dropout[name])
        if not 0.0 < value <= 1.0:
            raise ConfigError(f"'{section}.dropout.{name}' is {value}; a keep probability must be in (0, 1]")
        keeps[name] = value
    return keeps


def _common(cfg: TCNConfig, section: str) -> dict[str, Any]:
    return {
        "embedding_size": int(cfg.embedding_size),
        "input_size": (int(cfg.data.height), int(cfg.data.width)),
        "l2_normalize": embedding_l2_normalize(cfg),
        **_keeps(cfg, section),
    }


TrunkSection = InceptionConvSSFCConfig | ResnetConfig | SmallConvConfig | MultiFrameConfig


def _weights(section: TrunkSection, load_weights: bool) -> dict[str, Any]:
    """The trunk weight settings of a config section; none at all when not loading weights."""
    if not load_weights:
        return {"pretrained": "none", "pretrained_checkpoint": None}
    return {
        "pretrained": getattr(section, "pretrained", "none"),  # small_conv has no ImageNet weights
        "pretrained_checkpoint": section.pretrained_checkpoint or None,
    }


def _build_inception(cfg: TCNConfig, load_weights: bool) -> EmbeddingNetwork:
    s = cfg.inception_conv_ss_fc
    return InceptionConvSSFCEmbedder(
        pretrained_layer=s.pretrained_layer,
        additional_conv_sizes=list(s.additional_conv_sizes),
        fc_hidden_sizes=list(s.fc_hidden_sizes),
        finetune=s.finetune,
        **_weights(s, load_weights),
        **_common(cfg, "inception_conv_ss_fc"),
    )


def _build_resnet(cfg: TCNConfig, load_weights: bool) -> EmbeddingNetwork:
    s = cfg.resnet
    return ResnetEmbedder(
        depth=s.depth,
        pretrained_layer=s.pretrained_layer,
        adaptation_channels=list(s.adaptation_channels),
        pooling=s.pooling,
        fc_hidden_sizes=list(s.fc_hidden_sizes),
        finetune=s.finetune,
        **_weights(s, load_weights),
        **_common(cfg, "resnet"),
    )


def _build_small_conv(cfg: TCNConfig, load_weights: bool) -> EmbeddingNetwork:
    s = cfg.small_conv
    return SmallConvEmbedder(
        channels=list(s.channels),
        pooling=s.pooling,
        fc_hidden_sizes=list(s.fc_hidden_sizes),
        finetune=s.finetune,
        pretrained_checkpoint=_weights(s, load_weights)["pretrained_checkpoint"],
        **_common(cfg, "small_conv"),
    )


def _multi_frame_trunk(cfg: TCNConfig, load_weights: bool) -> Trunk:
    s = cfg.multi_frame
    if s.trunk in ("r3d_18", "r2plus1d_18"):
        return video_trunk(s.trunk, **_weights(s, load_weights))
    if s.pretrained != "none" or s.pretrained_checkpoint:
        raise ConfigError(
            f"multi_frame.pretrained / multi_frame.pretrained_checkpoint are for the video trunks; with "
            f"multi_frame.trunk: {s.trunk} set {s.trunk}.pretrained / {s.trunk}.pretrained_checkpoint instead"
        )
    if s.trunk == "small_conv":
        keep_conv = _keeps(cfg, "small_conv")["keep_conv"]
        checkpoint = _weights(cfg.small_conv, load_weights)["pretrained_checkpoint"]
        return small_conv_trunk(list(cfg.small_conv.channels), keep_conv, checkpoint)
    if s.trunk == "resnet":
        r = cfg.resnet
        return resnet_trunk(r.depth, r.pretrained_layer, **_weights(r, load_weights))
    if s.trunk == "inception_conv_ss_fc":
        i = cfg.inception_conv_ss_fc
        return inception_v3_trunk(i.pretrained_layer, **_weights(i, load_weights))
    raise ConfigError(
        f"multi_frame.trunk is '{s.trunk}'; choose small_conv, resnet, inception_conv_ss_fc, r3d_18 or r2plus1d_18"
    )


def _build_multi_frame(cfg: TCNConfig, load_weights: bool) -> EmbeddingNetwork:
    s = cfg.multi_frame
    return MultiFrameEmbedder(
        _multi_frame_trunk(cfg, load_weights),
        num_frames=s.num_frames,
        frame_stride=s.frame_stride,
        conv3d_channels=list(s.conv3d_channels),
        pooling=s.pooling,
        fc_hidden_sizes=list(s.fc_hidden_sizes),
        finetune=s.finetune,
        **_common(cfg, "multi_frame"),
    )


# embedder_strategy -> builder(cfg, load_weights)
EMBEDDERS: dict[str, Callable[[TCNConfig, bool], EmbeddingNetwork]] = {
    "inception_conv_ss_fc": _build_inception,
    "resnet": _build_resnet,
    "small_conv": _build_small_conv,
    "multi_frame": _build_multi_frame,
}


def build_embedder(cfg: TCNConfig, *, load_weights: bool = True) -> EmbeddingNetwork:
    """The embedder ``cfg.embedder_strategy`` describes, randomly initialised or with its trunk weights.

    ``load_weights=False`` skips ``pretrained`` / ``pretrained_checkpoint`` (no download,
    no file read): use it when the weights come from a training checkpoint next, as in
    inference and resuming. Errors (unknown strategy, bad sizes, unreadable or
    mismatching weight files, no internet for ``pretrained: imagenet``) are
    :class:`TimeContrastError` subclasses whose message starts with the embedder (and
    trunk) at fault.
    """
    strategy = cfg.embedder_strategy
    if strategy not in EMBEDDERS:
        raise ConfigError(f"embedder_strategy is '{strategy}'; choose one of: {', '.join(EMBEDDERS)}")
    try:
        model = EMBEDDERS[strategy](cfg, load_weights)
    except TimeContrastError as exc:
        where = f"embedder_strategy {strategy}"
        if strategy == "multi_frame":
            where += f" (multi_frame.trunk {cfg.multi_frame.trunk})"
        raise type(exc)(f"{where}: {exc}") from None
    if load_weights and not model.finetune and not model.trunk_pretrained:
        logger.warning(
            "%s: the trunk is frozen (finetune: false) but randomly initialised; set pretrained or "
            "pretrained_checkpoint, or finetune: true",
            strategy,
        )
    return model


def build_pretrained_trunk(cfg: TCNConfig) -> PooledTrunk:
    """The trunk of ``cfg.embedder_strategy`` with its pretrained weights, average-pooled (no head).

    Weights: the trunk section's ``pretrained_checkpoint`` if set, else torchvision's
    ImageNet weights (resnet, inception_conv_ss_fc). Raises :class:`DependencyError`
    when no pretrained weights exist or they cannot be fetched.
    """
    strategy = cfg.embedder_strategy
    try:
        if strategy == "resnet":
            r = cfg.resnet
            ckpt = r.pretrained_checkpoint or None
            trunk = resnet_trunk(r.depth, r.pretrained_layer, "none" if ckpt else "imagenet", ckpt)
        elif strategy == "inception_conv_ss_fc":
            i = cfg.inception_conv_ss_fc
            ckpt = i.pretrained_checkpoint or None
            trunk = inception_v3_trunk(i.pretrained_layer, "none" if ckpt else "imagenet", ckpt)
        elif strategy == "small_conv" and cfg.small_conv.pretrained_checkpoint:
            c = cfg.small_conv
            trunk = small_conv_trunk(list(c.channels), 1.0, c.pretrained_checkpoint)
        else:
            raise DependencyError(
                f"embedder_strategy {strategy} has no pretrained trunk weights (ImageNet weights exist for "
                "resnet and inception_conv_ss_fc; small_conv needs small_conv.pretrained_checkpoint)"
            )
    except DependencyError:
        raise
    except Exception as exc:  # no internet, a bad weights file, ...
        raise DependencyError(f"pretrained trunk weights for {strategy} are not available: {exc}") from None
    return PooledTrunk(trunk, (int(cfg.data.height), int(cfg.data.width)))


__all__ = ["EMBEDDERS", "build_embedder", "build_pretrained_trunk", "embedding_l2_normalize"]
