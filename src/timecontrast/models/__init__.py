"""Embedders (single-frame and multi-frame), their building blocks and checkpoint files.

``build_embedder(cfg)`` builds the model ``cfg.embedder_strategy`` names (registry
``EMBEDDERS``); see :mod:`timecontrast.models.embedders` for the contract every embedder
honours and :mod:`timecontrast.models.checkpoint` for the checkpoint files.
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
    Embedder,
    InceptionConvSSFCEmbedder,
    MultiFrameEmbedder,
    ResnetEmbedder,
    SmallConvEmbedder,
)
from timecontrast.models.factory import EMBEDDERS, build_embedder, embedding_l2_normalize
from timecontrast.models.layers import EmbeddingHead, SpatialSoftmax

__all__ = [
    "CHECKPOINT_DIRNAME",
    "CHECKPOINT_KEYS",
    "EMBEDDERS",
    "Embedder",
    "EmbeddingHead",
    "InceptionConvSSFCEmbedder",
    "MultiFrameEmbedder",
    "ResnetEmbedder",
    "SmallConvEmbedder",
    "SpatialSoftmax",
    "Trunk",
    "build_embedder",
    "checkpoint_dir",
    "checkpoint_name",
    "embedding_l2_normalize",
    "inception_v3_trunk",
    "latest_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "load_model_state",
    "resnet_trunk",
    "save_checkpoint",
    "small_conv_trunk",
    "unwrap_model",
    "video_trunk",
]
