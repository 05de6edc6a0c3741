"""Embedding networks (single-frame and multi-frame), their building blocks and checkpoint files.

``build_embedder(cfg)`` builds the network ``cfg.embedder_strategy`` names (registry
``EMBEDDERS``); see :mod:`timecontrast.models.embedders` for the contract every embedding
network honours, :mod:`timecontrast.models.checkpoint` for the checkpoint files and
:mod:`timecontrast.models.loading` for a checkpoint's network and the baselines.
"""

from timecontrast.models.backbones import (
    Trunk,
    inception_v3_trunk,
    resnet_trunk,
    small_conv_trunk,
    video_trunk,
)
from timecontrast.models.checkpoint import (
    CHECKPOINT_DIRNAME,
    CHECKPOINT_KEYS,
    checkpoint_dir,
    checkpoint_name,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    load_model_state,
    save_checkpoint,
    unwrap_model,
)
from timecontrast.models.embedders import (
    EmbeddingNetwork,
    InceptionConvSSFCEmbedder,
    MultiFrameEmbedder,
    PooledTrunk,
    ResnetEmbedder,
    SmallConvEmbedder,
)
from timecontrast.models.factory import EMBEDDERS, build_embedder, build_pretrained_trunk, embedding_l2_normalize
from timecontrast.models.layers import EmbeddingHead, SpatialSoftmax
from timecontrast.models.loading import TrainedModel, build_untrained_embedder, find_checkpoint, load_trained_model

__all__ = [
    "CHECKPOINT_DIRNAME",
    "CHECKPOINT_KEYS",
    "EMBEDDERS",
    "EmbeddingHead",
    "EmbeddingNetwork",
    "InceptionConvSSFCEmbedder",
    "MultiFrameEmbedder",
    "PooledTrunk",
    "ResnetEmbedder",
    "SmallConvEmbedder",
    "SpatialSoftmax",
    "TrainedModel",
    "Trunk",
    "build_embedder",
    "build_pretrained_trunk",
    "build_untrained_embedder",
    "checkpoint_dir",
    "checkpoint_name",
    "embedding_l2_normalize",
    "find_checkpoint",
    "inception_v3_trunk",
    "latest_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "load_model_state",
    "load_trained_model",
    "resnet_trunk",
    "save_checkpoint",
    "small_conv_trunk",
    "unwrap_model",
    "video_trunk",
]
