"""Spatial softmax and the embedding head."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from timecontrast.models.layers import EmbeddingHead, SpatialSoftmax, dropout


def ref_spatial_softmax(features: np.ndarray, temperature: float) -> np.ndarray:
    """tf.contrib.layers.spatial_softmax, written out: 'ij' grid, [x1, y1, x2, y2, ...]."""
    b, c, h, w = features.shape
    out = np.zeros((b, 2 * c))
    xs, ys = np.meshgrid(np.linspace(-1, 1, h), np.linspace(-1, 1, w), indexing="ij")  # x along rows
    for i in range(b):
        for k in range(c):
            logits = features[i, k].astype(np.float64) / temperature
            p = np.exp(logits - logits.max())
            p /= p.sum()
            out[i, 2 * k] = np.sum(p * xs)
            out[i, 2 * k + 1] = np.sum(p * ys)
    return out


def test_spatial_softmax_matches_reference():
    features = torch.randn(3, 4, 5, 7) * 3
    layer = SpatialSoftmax()
    with torch.no_grad():
        layer.temperature.fill_(0.7)
    got = layer(features).detach().numpy()
    np.testing.assert_allclose(got, ref_spatial_softmax(features.numpy(), 0.7), rtol=1e-5, atol=1e-6)


def test_spatial_softmax_peak_gives_its_coordinates_in_order():
    features = torch.zeros(1, 2, 5, 9)
    features[0, 0, 0, 8] = 100.0  # channel 0 peaks at the top-right: row -1, column +1
    features[0, 1, 4, 2] = 100.0  # channel 1 at the bottom row, column 2 of 9 -> -0.5
    out = SpatialSoftmax()(features)[0]
    assert out.tolist() == pytest.approx([-1.0, 1.0, 1.0, -0.5], abs=1e-5)
    # a flat map has its expectation at the centre
    assert SpatialSoftmax()(torch.zeros(2, 3, 4, 4)).abs().max() < 1e-6


def test_spatial_softmax_temperature_is_learned_and_sharpens():
    layer = SpatialSoftmax()
    assert isinstance(layer.temperature, nn.Parameter) and layer.temperature.item() == 1.0
    features = torch.zeros(1, 1, 3, 3)
    features[0, 0, 2, 2] = 1.0
    soft = layer(features)[0, 0].item()
    with torch.no_grad():
        layer.temperature.fill_(0.1)
    sharp = layer(features)[0, 0].item()
    assert 0 < soft < sharp <= 1.0
    layer(features).sum().backward()
    assert layer.temperature.grad is not None and layer.temperature.grad != 0


def test_spatial_softmax_channels_last_and_autocast():
    features = torch.randn(2, 3, 6, 6)
    layer = SpatialSoftmax()
    expected = layer(features)
    assert torch.allclose(layer(features.contiguous(memory_format=torch.channels_last)), expected, atol=1e-6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer(features.bfloat16())
    assert out.dtype == torch.float32 and torch.allclose(out, expected, atol=2e-2)


def test_dropout_keep_probability():
    assert isinstance(dropout(1.0), nn.Identity)
    assert dropout(0.8).p == pytest.approx(0.2)
    with pytest.raises(ValueError):
        dropout(0.0)


def test_embedding_head_shapes_and_regularized_parameters():
    head = EmbeddingHead(6, 5, conv_channels=[4], pooling="spatial_softmax", fc_hidden_sizes=[7], fc_batchnorm=True)
    assert head(torch.randn(2, 6, 8, 8)).shape == (2, 5)
    assert head.fcs[0].in_features == 8  # 2 x 4 coordinates
    regularized = {id(p) for p in head.regularized_parameters()}
    names = {n for n, p in head.named_parameters() if id(p) in regularized}
    # conv weight (no bias before BN), FC weight (no bias before BN), embedding weight + bias
    assert names == {"convs.0.0.weight", "fcs.0.weight", "embedding.weight", "embedding.bias"}
    avg = EmbeddingHead(6, 5, pooling="avg", spatial_dims=3)
    assert avg(torch.randn(2, 6, 3, 4, 4)).shape == (2, 5) and avg.embedding.in_features == 6
