"""Embedding networks: a trunk and an adaptation head that turn frames (or clips) into embeddings.

:class:`EmbeddingNetwork` is the base class of the trained models (one subclass per
``embedder_strategy``); :class:`PooledTrunk` is a pretrained trunk alone, the "ImageNet
features" baseline. The user-facing wrapper that embeds images, records and loaders is
:class:`timecontrast.inference.Embedder`.

Every embedding network honours one contract (docs/architecture.md): attributes ``input_size``
(H, W), ``mean``/``std`` (normalisation of [0, 1] RGB input, ``(x - mean) / std``),
``num_frames`` (1 = single frame), ``frame_stride``, ``embedding_size``;
``forward([B, 3, H, W]) -> [B, D]`` (multi-frame ``[B, K, 3, H, W]``);
``head_parameters()`` (what the L2 penalty applies to). With ``finetune=False`` the trunk
gets no gradients and its BatchNorm layers stay in eval mode through ``train()`` (the
original kept updating their statistics). ``to(memory_format=torch.channels_last)``
works for 2D and 3D layers alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from timecontrast.errors import ConfigError
from timecontrast.models.backbones import Trunk, inception_v3_trunk, resnet_trunk, small_conv_trunk
from timecontrast.models.layers import EmbeddingHead


class EmbeddingNetwork(nn.Module):
    """A trunk (``self.trunk``) and a head (``self.head``) with the embedder contract."""

    def __init__(
        self,
        trunk: Trunk,
        head: nn.Module,
        *,
        input_size: tuple[int, int],
        embedding_size: int,
        finetune: bool,
        l2_normalize: bool,
        num_frames: int = 1,
        frame_stride: int = 1,
    ) -> None:
        super().__init__()
        height, width = (int(s) for s in input_size)
        if min(height, width) < trunk.min_size:
            raise ConfigError(
                f"input size {height}x{width} is too small for this trunk (at least {trunk.min_size} px); "
                "raise data.height and data.width"
            )
        self.trunk = trunk.module
        self.head = head
        self.input_size: tuple[int, int] = (height, width)
        self.mean: tuple[float, float, float] = tuple(trunk.mean)  # type: ignore[assignment]
        self.std: tuple[float, float, float] = tuple(trunk.std)  # type: ignore[assignment]
        self.embedding_size = int(embedding_size)
        self.num_frames = int(num_frames)
        self.frame_stride = int(frame_stride)
        self.finetune = bool(finetune)
        self.l2_normalize = bool(l2_normalize)
        self.trunk_pretrained = trunk.pretrained  # weights were loaded into the trunk at construction
        if not self.finetune:
            self.trunk.requires_grad_(False)
            self.trunk.eval()

    def train(self, mode: bool = True) -> EmbeddingNetwork:
        """Set train/eval mode; a frozen trunk stays in eval mode (fixed BN statistics, no dropout)."""
        super().train(mode)
        if not self.finetune:
            self.trunk.eval()
        return self

    def to(self, *args, **kwargs) -> EmbeddingNetwork:
        """``nn.Module.to``, except that a channels-last request converts 4D weights to
        ``channels_last`` and 5D weights (3D convs) to ``channels_last_3d`` instead of failing."""
        device, dtype, non_blocking, memory_format = torch._C._nn._parse_to(*args, **kwargs)
        if memory_format not in (torch.channels_last, torch.channels_last_3d):
            return super().to(*args, **kwargs)
        super().to(device=device, dtype=dtype, non_blocking=non_blocking)

        def convert(t: Tensor) -> Tensor:
            if t.dim() == 4:
                return t.contiguous(memory_format=torch.channels_last)
            if t.dim() == 5:
                return t.contiguous(memory_format=torch.channels_last_3d)
            return t

        return self._apply(convert)

    def head_parameters(self) -> list[nn.Parameter]:
        """Weights and biases of the head's conv and FC layers (the L2-regularised ones)."""
        return self.head.regularized_parameters()  # type: ignore[operator]

    def _output(self, embeddings: Tensor) -> Tensor:
        return F.normalize(embeddings.float(), dim=1) if self.l2_normalize else embeddings

    def forward(self, images: Tensor) -> Tensor:
        """``[B, 3, H, W]`` normalised images -> ``[B, D]`` embeddings."""
        if images.dim() != 4:
            raise ValueError(f"{type(self).__name__} expects images [B, 3, H, W], got {tuple(images.shape)}")
        return self._output(self.head(self.trunk(images)))


class InceptionConvSSFCEmbedder(EmbeddingNetwork):
    """The original's main model: Inception-v3 cut at ``pretrained_layer``, convs, spatial softmax, FCs.

    Mixed_5d (35x35x288 at 299 px) -> ``additional_conv_sizes`` 3x3 conv+BN+ReLU ->
    spatial softmax (2C) -> ``fc_hidden_sizes`` FC+BN+ReLU -> linear to ``embedding_size``.
    Unlike the original the last layer is a plain linear layer with bias, not
    batch-normalised (an artefact of its slim arg_scope).
    """

    def __init__(
        self,
        embedding_size: int = 32,
        input_size: tuple[int, int] = (299, 299),
        *,
        pretrained_layer: str = "Mixed_5d",
        additional_conv_sizes: Sequence[int] = (512, 512),
        fc_hidden_sizes: Sequence[int] = (2048,),
        finetune: bool = False,
        pretrained: str = "none",
        pretrained_checkpoint: str | Path | None = None,
        keep_pretrained: float = 1.0,
        keep_conv: float = 1.0,
        keep_fc: float = 1.0,
        l2_normalize: bool = False,
    ) -> None:
        trunk = inception_v3_trunk(pretrained_layer, pretrained, pretrained_checkpoint)
        head = EmbeddingHead(
            trunk.out_channels,
            embedding_size,
            conv_channels=additional_conv_sizes,
            pooling="spatial_softmax",
            fc_hidden_sizes=fc_hidden_sizes,
            fc_batchnorm=True,
            keep_pretrained=keep_pretrained,
            keep_conv=keep_conv,
            keep_fc=keep_fc,
        )
        super().__init__(
            trunk,
            head,
            input_size=input_size,
            embedding_size=embedding_size,
            finetune=finetune,
            l2_normalize=l2_normalize,
        )


class ResnetEmbedder(EmbeddingNetwork):
    """torchvision ResNet-18/34/50 cut at stage ``pretrained_layer``, adaptation convs, pooling, FCs.

    Replaces the original's two extra resnet_v2 blocks and 1x1 conv with
    ``adaptation_channels`` 3x3 conv+BN+ReLU layers, 'avg' or 'spatial_softmax' pooling,
    ``fc_hidden_sizes`` FC+ReLU layers and a linear embedding layer.
    """

    def __init__(
        self,
        embedding_size: int = 32,
        input_size: tuple[int, int] = (224, 224),
        *,
        depth: int = 50,
        pretrained_layer: int = 4,
        adaptation_channels: Sequence[int] = (512,),
        pooling: str = "avg",
        fc_hidden_sizes: Sequence[int] = (),
        finetune: bool = False,
        pretrained: str = "none",
        pretrained_checkpoint: str | Path | None = None,
        keep_pretrained: float = 1.0,
        keep_conv: float = 1.0,
        keep_fc: float = 1.0,
        l2_normalize: bool = False,
    ) -> None:
        trunk = resnet_trunk(depth, pretrained_layer, pretrained, pretrained_checkpoint)
        head = EmbeddingHead(
            trunk.out_channels,
            embedding_size,
            conv_channels=adaptation_channels,
            pooling=pooling,
            fc_hidden_sizes=fc_hidden_sizes,
            keep_pretrained=keep_pretrained,
            keep_conv=keep_conv,
            keep_fc=keep_fc,
        )
        super().__init__(
            trunk,
            head,
            input_size=input_size,
            embedding_size=embedding_size,
            finetune=finetune,
            l2_normalize=l2_normalize,
        )


class SmallConvEmbedder(EmbeddingNetwork):
    """A compact CNN (see :func:`small_conv_trunk`) for CPUs at 64-128 px, then pooling and FCs."""

    def __init__(
        self,
        embedding_size: int = 32,
        input_size: tuple[int, int] = (128, 128),
        *,
        channels: Sequence[int] = (32, 64, 128),
        pooling: str = "spatial_softmax",
        fc_hidden_sizes: Sequence[int] = (256,),
        finetune: bool = True,
        pretrained_checkpoint: str | Path | None = None,
        keep_pretrained: float = 1.0,
        keep_conv: float = 1.0,
        keep_fc: float = 1.0,
        l2_normalize: bool = False,
    ) -> None:
        trunk = small_conv_trunk(channels, keep_conv, pretrained_checkpoint)
        head = EmbeddingHead(
            trunk.out_channels,
            embedding_size,
            pooling=pooling,
            fc_hidden_sizes=fc_hidden_sizes,
            keep_pretrained=keep_pretrained,
            keep_fc=keep_fc,
        )
        super().__init__(
            trunk,
            head,
            input_size=input_size,
            embedding_size=embedding_size,
            finetune=finetune,
            l2_normalize=l2_normalize,
        )


class MultiFrameEmbedder(EmbeddingNetwork):
    """mfTCN: an embedding of a K-frame clip that knows motion as well as position.

    With a per-frame trunk: each frame goes through the trunk, the K feature maps are
    stacked in time ``[B, C, K, h, w]``; with a video trunk (r3d_18, r2plus1d_18) the
    clip goes through it whole. Then ``conv3d_channels`` 3x3x3 conv+BN+ReLU layers over
    (time, height, width), pooling, ``fc_hidden_sizes`` FC+ReLU layers and a linear layer
    to ``embedding_size``. ``pooling``: 'avg' (global average over time and space) or
    'spatial_softmax' (per-frame trunks only: each channel's expected image position in
    each of the K frames, so where things are and how they move both reach the FC layers).
    Input ``[B, K, 3, H, W]``, frames in time order, ``frame_stride`` frames apart, the
    last one the embedded timestep.
    """

    def __init__(
        self,
        trunk: Trunk,
        embedding_size: int = 32,
        input_size: tuple[int, int] = (112, 112),
        *,
        num_frames: int = 3,
        frame_stride: int = 1,
        conv3d_channels: Sequence[int] = (128,),
        pooling: str = "avg",
        fc_hidden_sizes: Sequence[int] = (256,),
        finetune: bool = True,
        keep_pretrained: float = 1.0,
        keep_conv: float = 1.0,
        keep_fc: float = 1.0,
        l2_normalize: bool = False,
    ) -> None:
        if num_frames < 1 or frame_stride < 1:
            raise ConfigError(
                f"multi_frame.num_frames ({num_frames}) and multi_frame.frame_stride ({frame_stride}) must be >= 1"
            )
        if pooling == "spatial_softmax" and trunk.video:
            raise ConfigError(
                "multi_frame.pooling spatial_softmax needs a per-frame trunk (its time steps are the clip's "
                "frames); use pooling: avg with the video trunks r3d_18 / r2plus1d_18"
            )
        if pooling not in ("avg", "spatial_softmax"):
            raise ConfigError(f"multi_frame.pooling is '{pooling}'; choose avg or spatial_softmax")
        head = EmbeddingHead(
            trunk.out_channels,
            embedding_size,
            conv_channels=conv3d_channels,
            pooling=pooling,
            fc_hidden_sizes=fc_hidden_sizes,
            spatial_dims=3,
            time_steps=num_frames,
            keep_pretrained=keep_pretrained,
            keep_conv=keep_conv,
            keep_fc=keep_fc,
        )
        super().__init__(
            trunk,
            head,
            input_size=input_size,
            embedding_size=embedding_size,
            finetune=finetune,
            l2_normalize=l2_normalize,
            num_frames=num_frames,
            frame_stride=frame_stride,
        )
        self.video_trunk = trunk.video

    def forward(self, clips: Tensor) -> Tensor:
        """``[B, K, 3, H, W]`` normalised clips -> ``[B, D]`` embeddings. With ``num_frames``
        1 the frames ``[B, 3, H, W]`` of single-frame training and evaluation are accepted."""
        if clips.dim() == 4 and self.num_frames == 1:
            clips = clips.unsqueeze(1)  # [B, 1, 3, H, W]
        if clips.dim() != 5 or clips.shape[1] != self.num_frames:
            raise ValueError(
                f"MultiFrameEmbedder expects clips [B, {self.num_frames}, 3, H, W], got {tuple(clips.shape)}"
            )
        b, k = clips.shape[:2]
        if self.video_trunk:
            features = self.trunk(clips.transpose(1, 2))  # [B, C, K', h, w]
        else:
            per_frame = self.trunk(clips.flatten(0, 1))  # [B*K, C, h, w]
            features = per_frame.unflatten(0, (b, k)).transpose(1, 2)  # [B, C, K, h, w]
        return self._output(self.head(features))


class PooledTrunk(nn.Module):
    """A pretrained trunk alone, globally average-pooled: the "ImageNet features" baseline.

    Has the contract's attributes (``input_size``, ``mean``, ``std``, ``num_frames`` = 1,
    ``frame_stride`` = 1, ``embedding_size`` = the trunk's channels) but no head.
    """

    def __init__(self, trunk: Trunk, input_size: tuple[int, int]) -> None:
        super().__init__()
        self.trunk = trunk.module
        self.mean, self.std = tuple(trunk.mean), tuple(trunk.std)
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.num_frames, self.frame_stride = 1, 1
        self.embedding_size = int(trunk.out_channels)

    def forward(self, images: Tensor) -> Tensor:
        """``[B, 3, H, W]`` normalised images -> ``[B, C]`` pooled trunk features."""
        return self.trunk(images).mean(dim=(2, 3))  # [B, C, h, w] -> [B, C]


__all__ = [
    "EmbeddingNetwork",
    "InceptionConvSSFCEmbedder",
    "MultiFrameEmbedder",
    "PooledTrunk",
    "ResnetEmbedder",
    "SmallConvEmbedder",
]
