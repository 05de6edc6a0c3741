"""Building blocks of the embedding heads: spatial softmax, conv blocks, the head itself."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


class SpatialSoftmax(nn.Module):
    """Expected image coordinates of each channel's activation: ``[B, C, H, W] -> [B, 2C]``.

    Clip features ``[B, C, T, H, W]`` give one point per channel and time step,
    ``[B, 2CT]`` (channel-major), so the layers after it see how points move.

    A reimplementation of ``tf.contrib.layers.spatial_softmax``: a softmax over the H*W
    positions of each channel of ``features / temperature`` (one learnable temperature,
    initially ``temperature``), then the expected position under that distribution with
    coordinates on ``linspace(-1, 1)``. Output ``[x1, y1, x2, y2, ...]`` where, as in the
    original ('ij' meshgrid), x follows the height (row) axis and y the width axis.
    Computed in float32 (also under autocast).
    """

    def __init__(self, temperature: float = 1.0, learnable_temperature: bool = True) -> None:
        super().__init__()
        t = torch.tensor(float(temperature))
        if learnable_temperature:
            self.temperature = nn.Parameter(t)
        else:
            self.register_buffer("temperature", t)

    def forward(self, features: Tensor) -> Tensor:
        if features.dim() == 5:  # [B, C, T, H, W]: a softmax per channel and time step
            features = features.flatten(1, 2)
        b, c, h, w = features.shape
        with torch.autocast(device_type=features.device.type, enabled=False):
            logits = features.float().flatten(2) / self.temperature.float()  # [B, C, H*W]
            attention = logits.softmax(dim=-1)
            pos_x = torch.linspace(-1.0, 1.0, h, device=features.device)[:, None].expand(h, w).reshape(-1)  # [H*W]
            pos_y = torch.linspace(-1.0, 1.0, w, device=features.device)[None, :].expand(h, w).reshape(-1)
            expected = torch.stack([attention @ pos_x, attention @ pos_y], dim=-1)  # [B, C, 2]
        return expected.reshape(b, 2 * c)


def dropout(keep: float) -> nn.Module:
    """Dropout given a keep probability (the original's convention): p = 1 - keep."""
    if not 0.0 < keep <= 1.0:
        raise ValueError(f"keep probability must be in (0, 1], got {keep}")
    return nn.Identity() if keep == 1.0 else nn.Dropout(p=1.0 - keep)


def conv_bn_relu(in_channels: int, out_channels: int, *, spatial_dims: int = 2, stride: int = 1) -> nn.Sequential:
    """A 3x3 (or 3x3x3) convolution, 'same' padding, without bias, then batch norm and ReLU.

    BN eps is 1e-3 as in slim's batch_norm; its momentum is PyTorch's 0.1 rather than
    slim's 0.001 (decay 0.999), so short runs on a CPU get usable running statistics.
    """
    conv = nn.Conv2d if spatial_dims == 2 else nn.Conv3d
    norm = nn.BatchNorm2d if spatial_dims == 2 else nn.BatchNorm3d
    return nn.Sequential(
        conv(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        norm(out_channels, eps=1e-3),
        nn.ReLU(inplace=True),
    )


class EmbeddingHead(nn.Module):
    """Trunk features to an embedding: ``[B, C, *S] -> [B, D]`` (S = (H, W) or (T, H, W)).

    dropout(keep_pretrained) -> ``conv_channels`` 3x3 conv+BN+ReLU blocks, each followed by
    dropout(keep_conv) -> pooling ('spatial_softmax': expected coordinates, 2C values, or
    with 3D features 2C per time step for ``time_steps`` steps; 'avg': global average, C
    values) -> ``fc_hidden_sizes`` FC(+BN)+ReLU layers, each followed by dropout(keep_fc)
    -> a linear layer to ``embedding_size``.
    Conv and FC weights are Xavier-uniform initialised, biases zero (slim's defaults).
    """

    def __init__(
        self,
        in_channels: int,
        embedding_size: int,
        *,
        conv_channels: Sequence[int] = (),
        pooling: str = "avg",
        fc_hidden_sizes: Sequence[int] = (),
        fc_batchnorm: bool = False,
        spatial_dims: int = 2,
        time_steps: int = 1,
        keep_pretrained: float = 1.0,
        keep_conv: float = 1.0,
        keep_fc: float = 1.0,
    ) -> None:
        super().__init__()
        if pooling not in ("avg", "spatial_softmax"):
            raise ValueError(f"pooling must be 'avg' or 'spatial_softmax', got {pooling!r}")
        self.input_dropout = dropout(keep_pretrained)
        convs: list[nn.Module] = []
        channels = in_channels
        for out in conv_channels:
            convs += [conv_bn_relu(channels, out, spatial_dims=spatial_dims), dropout(keep_conv)]
            channels = out
        self.convs = nn.Sequential(*convs)
        if pooling == "spatial_softmax":
            self.pool: nn.Module = SpatialSoftmax()
            features = 2 * channels * (time_steps if spatial_dims == 3 else 1)
        else:
            self.pool = nn.Sequential(
                nn.AdaptiveAvgPool2d(1) if spatial_dims == 2 else nn.AdaptiveAvgPool3d(1), nn.Flatten(1)
            )
            features = channels
        fcs: list[nn.Module] = []
        for size in fc_hidden_sizes:
            layer: list[nn.Module] = [nn.Linear(features, size, bias=not fc_batchnorm)]
            if fc_batchnorm:
                layer.append(nn.BatchNorm1d(size, eps=1e-3))
            fcs += [*layer, nn.ReLU(inplace=True), dropout(keep_fc)]
            features = size
        self.fcs = nn.Sequential(*fcs)
        self.embedding = nn.Linear(features, embedding_size)
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Conv3d, nn.Linear)):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def forward(self, features: Tensor) -> Tensor:
        x = self.convs(self.input_dropout(features))  # [B, C', *S]
        x = self.pool(x)  # [B, C'] or [B, 2C']
        return self.embedding(self.fcs(x))  # [B, D]

    def regularized_parameters(self) -> list[nn.Parameter]:
        """Weights and biases of the conv and FC layers (what the original's L2 applied to)."""
        return [
            p
            for m in self.modules()
            if isinstance(m, (nn.Conv2d, nn.Conv3d, nn.Linear))
            for p in m.parameters(recurse=False)
        ]
