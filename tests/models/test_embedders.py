"""Every embedder honours the contract: shapes, normalisation info, freezing, dropout, formats."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from timecontrast.errors import ConfigError
from timecontrast.models import EMBEDDERS, MultiFrameEmbedder, build_embedder, load_model_state
from timecontrast.models.backbones import IMAGENET_MEAN, KINETICS_STD, UNIT_MEAN, UNIT_STD

EXPECTED_NORMALISATION = {
    "inception_conv_ss_fc": (UNIT_MEAN, UNIT_STD),
    "resnet": (IMAGENET_MEAN, (0.229, 0.224, 0.225)),
    "small_conv": (UNIT_MEAN, UNIT_STD),
    "multi_frame": (UNIT_MEAN, UNIT_STD),  # its default per-frame trunk is small_conv
}


@pytest.mark.parametrize("strategy", list(EMBEDDERS))
def test_contract_and_output_shape(strategy, tiny_cfg, make_input):
    cfg = tiny_cfg(strategy)
    model = build_embedder(cfg)
    assert model.input_size == (cfg.data.height, cfg.data.width)
    assert (model.mean, model.std) == EXPECTED_NORMALISATION[strategy]
    assert model.embedding_size == 8
    assert model.num_frames == (cfg.multi_frame.num_frames if strategy == "multi_frame" else 1)
    assert model.frame_stride == (cfg.multi_frame.frame_stride if strategy == "multi_frame" else 1)
    out = model(make_input(model, batch=3))
    assert out.shape == (3, 8) and torch.isfinite(out).all()
    # head parameters are in the head, never in the trunk, and are what gets L2
    head = {id(p) for p in model.head.parameters()}
    assert model.head_parameters() and all(id(p) in head for p in model.head_parameters())
    assert not {id(p) for p in model.trunk.parameters()} & {id(p) for p in model.head_parameters()}


def test_input_of_the_wrong_rank_is_refused(tiny_cfg):
    model = build_embedder(tiny_cfg("small_conv"))
    with pytest.raises(ValueError, match=r"\[B, 3, H, W\]"):
        model(torch.zeros(1, 3, 3, 64, 48))
    clip_model = build_embedder(tiny_cfg("multi_frame", "multi_frame.num_frames=3"))
    with pytest.raises(ValueError, match=r"\[B, 3, 3, H, W\]"):
        clip_model(torch.zeros(1, 2, 3, 32, 32))


@pytest.mark.parametrize("num_frames", [1, 3, 5])
def test_multi_frame_clip_lengths(num_frames, tiny_cfg, make_input):
    model = build_embedder(
        tiny_cfg("multi_frame", f"multi_frame.num_frames={num_frames}", "multi_frame.frame_stride=2")
    )
    assert isinstance(model, MultiFrameEmbedder) and (model.num_frames, model.frame_stride) == (num_frames, 2)
    clips = make_input(model, batch=2)
    assert clips.shape == (2, num_frames, 3, 32, 32)
    out = model.eval()(clips)
    assert out.shape == (2, 8)
    if num_frames > 1:  # the embedding depends on frame order (it sees motion)
        assert not torch.allclose(model(clips.flip(1)), out, atol=1e-5)
    else:  # one frame: plain frames too, as single-frame (mvtcn) training feeds them
        assert torch.equal(model(clips[:, 0]), out)


def test_multi_frame_spatial_softmax_sees_where_things_move(tiny_cfg, make_input):
    """pooling spatial_softmax: one point per channel and frame; moving a blob in one frame
    changes the points of that frame only, before the FC layers."""
    from timecontrast.models.layers import SpatialSoftmax

    model = build_embedder(
        tiny_cfg("multi_frame", "multi_frame.num_frames=3", "multi_frame.pooling=spatial_softmax")
    ).eval()
    assert isinstance(model.head.pool, SpatialSoftmax)
    assert model.head.fcs[0].in_features == 2 * 8 * 3  # conv3d_channels [8], 3 frames
    clips = make_input(model, batch=2)
    assert model(clips).shape == (2, 8)
    features = torch.zeros(1, 2, 3, 4, 4)
    features[0, :, 1, 0, 3] = 50.0  # frame 1: every channel peaks at row 0, column 3
    points = SpatialSoftmax()(features).reshape(2, 3, 2)  # [C, T, (row, column)]
    assert torch.allclose(points[:, 1], torch.tensor([-1.0, 1.0]).expand(2, 2), atol=1e-3)
    assert torch.allclose(points[:, [0, 2]], torch.zeros(2, 2, 2), atol=1e-6)
    with pytest.raises(ConfigError, match="spatial_softmax needs a per-frame trunk"):
        build_embedder(tiny_cfg("multi_frame", "multi_frame.trunk=r3d_18", "multi_frame.pooling=spatial_softmax"))


@pytest.mark.parametrize("trunk", ["r3d_18", "r2plus1d_18"])
def test_multi_frame_video_backbones(trunk, tiny_cfg, make_input):
    model = build_embedder(tiny_cfg("multi_frame", f"multi_frame.trunk={trunk}", "multi_frame.num_frames=4"))
    assert model.std == KINETICS_STD
    assert model(make_input(model)).shape == (2, 8)
    assert model.head.convs[0][0].in_channels == 512


def test_multi_frame_with_resnet_trunk(tiny_cfg, make_input):
    cfg = tiny_cfg("multi_frame", "multi_frame.trunk=resnet", "resnet.depth=18", "resnet.pretrained_layer=2")
    model = build_embedder(cfg)
    assert model.mean == IMAGENET_MEAN and model.head.convs[0][0].in_channels == 128
    assert model(make_input(model)).shape == (2, 8)
    with pytest.raises(ConfigError, match="resnet.pretrained"):
        build_embedder(tiny_cfg("multi_frame", "multi_frame.trunk=resnet", "multi_frame.pretrained=imagenet"))


@pytest.mark.parametrize(
    ("training", "loss", "normalised"),
    [
        ("mvtcn", "triplet_semihard", True),
        ("mvtcn", "npairs", False),
        ("svtcn", "npairs", True),
        ("mftcn", "npairs", False),
    ],
)
def test_l2_normalisation_follows_the_strategy(training, loss, normalised, tiny_cfg, make_input):
    model = build_embedder(tiny_cfg("small_conv", f"training_strategy={training}", f"loss_strategy={loss}"))
    norms = model(make_input(model, batch=4)).norm(dim=1)
    assert torch.allclose(norms, torch.ones(4), atol=1e-5) == normalised


def bn_stats(module: nn.Module) -> list[torch.Tensor]:
    return [b.clone() for name, b in module.named_buffers() if "running_" in name]


def train_step(model, batch) -> None:
    model.train()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    opt.zero_grad()
    model(batch).pow(2).sum().backward()
    opt.step()


@pytest.mark.parametrize(
    ("strategy", "extra"),
    [
        ("small_conv", "small_conv.finetune"),
        ("resnet", "resnet.finetune"),
        ("inception_conv_ss_fc", "inception_conv_ss_fc.finetune"),
        ("multi_frame", "multi_frame.finetune"),
    ],
)
def test_frozen_trunk_gets_no_gradient_and_keeps_bn_statistics(strategy, extra, tiny_cfg, make_input):
    model = build_embedder(tiny_cfg(strategy, f"{extra}=false"))
    batch = make_input(model, batch=3)
    trunk_before = {k: v.clone() for k, v in model.trunk.state_dict().items()}
    head_stats = bn_stats(model.head)
    train_step(model, batch)
    assert all(p.grad is None and not p.requires_grad for p in model.trunk.parameters())
    assert all(p.grad is not None for p in model.head_parameters())
    assert not any(m.training for m in model.trunk.modules())  # BN and dropout of the trunk stay in eval
    for key, value in model.trunk.state_dict().items():  # weights and BN statistics unchanged
        assert torch.equal(value, trunk_before[key]), key
    if head_stats:  # the head still trains its own BN
        assert any(not torch.equal(a, b) for a, b in zip(head_stats, bn_stats(model.head)))


@pytest.mark.parametrize("strategy", ["small_conv", "resnet"])
def test_finetuned_trunk_trains_weights_and_bn_statistics(strategy, tiny_cfg, make_input):
    model = build_embedder(tiny_cfg(strategy, f"{strategy}.finetune=true"))
    batch = make_input(model, batch=3)
    stats = bn_stats(model.trunk)
    train_step(model, batch)
    assert all(p.grad is not None for p in model.trunk.parameters())
    assert all(m.training for m in model.trunk.modules())
    assert all(not torch.equal(a, b) for a, b in zip(stats, bn_stats(model.trunk)))


def test_dropout_keep_probabilities_come_from_the_config(tiny_cfg, make_input):
    model = build_embedder(
        tiny_cfg("small_conv", "small_conv.dropout.keep_pretrained=0.9", "small_conv.dropout.keep_fc=0.5")
    )
    assert model.head.input_dropout.p == pytest.approx(0.1)
    assert [m.p for m in model.head.fcs if isinstance(m, nn.Dropout)] == [pytest.approx(0.5)]
    x = make_input(model)
    torch.manual_seed(0)
    assert not torch.equal(model.train()(x), model(x))  # stochastic in training
    assert torch.equal(model.eval()(x), model(x))
    plain = build_embedder(tiny_cfg("small_conv"))
    assert not any(isinstance(m, nn.Dropout) for m in plain.modules())
    with pytest.raises(ConfigError, match="small_conv.dropout.keep_fc"):
        build_embedder(tiny_cfg("small_conv", "small_conv.dropout.keep_fc=0"))


def test_config_keys_shape_the_network(tiny_cfg):
    assert build_embedder(tiny_cfg("resnet", "resnet.pretrained_layer=3")).head.convs[0][0].in_channels == 256
    r50 = build_embedder(tiny_cfg("resnet", "resnet.depth=50", "resnet.pretrained_layer=1"))
    assert r50.head.convs[0][0].in_channels == 256
    avg = build_embedder(tiny_cfg("resnet", "resnet.pooling=avg"))
    softmax = build_embedder(tiny_cfg("resnet", "resnet.pooling=spatial_softmax"))
    assert (avg.head.embedding.in_features, softmax.head.embedding.in_features) == (16, 32)
    inception = build_embedder(tiny_cfg("inception_conv_ss_fc", "inception_conv_ss_fc.pretrained_layer=Mixed_5b"))
    assert inception.head.convs[0][0].in_channels == 256 and list(inception.trunk.named_children())[-1][0] == "Mixed_5b"
    small = build_embedder(tiny_cfg("small_conv", "small_conv.channels=[4,6,10]", "small_conv.pooling=avg"))
    assert len(small.trunk) == 3 and small.head.fcs[0].in_features == 10
    with pytest.raises(ConfigError, match="Mixed_5d"):
        build_embedder(tiny_cfg("inception_conv_ss_fc", "inception_conv_ss_fc.pretrained_layer=Mixed_9"))
    with pytest.raises(ConfigError, match="data.height"):
        build_embedder(tiny_cfg("inception_conv_ss_fc", "data.height=64"))


@pytest.mark.parametrize("strategy", ["inception_conv_ss_fc", "resnet", "small_conv", "multi_frame"])
def test_channels_last_gives_the_same_output(strategy, tiny_cfg, make_input):
    model = build_embedder(tiny_cfg(strategy)).eval()
    x = make_input(model)
    expected = model(x)
    model.to(memory_format=torch.channels_last)
    for p in model.parameters():
        if p.dim() == 4:
            assert p.is_contiguous(memory_format=torch.channels_last)
        if p.dim() == 5:
            assert p.is_contiguous(memory_format=torch.channels_last_3d)
    if x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    assert torch.allclose(model(x), expected, atol=1e-4, rtol=1e-4)
    model.to(torch.float64)  # the override still does plain .to()
    assert next(model.parameters()).dtype == torch.float64


def test_state_dict_round_trip_is_bit_exact(tiny_cfg, make_input, tmp_path):
    torch.manual_seed(1)
    trained = build_embedder(tiny_cfg("multi_frame"))
    train_step(trained, make_input(trained, batch=3))  # move BN statistics and weights off their init
    torch.save(trained.state_dict(), tmp_path / "model.pt")
    torch.manual_seed(2)
    fresh = build_embedder(tiny_cfg("multi_frame"))
    load_model_state(fresh, torch.load(tmp_path / "model.pt", weights_only=True))
    for (name, a), b in zip(trained.state_dict().items(), fresh.state_dict().values()):
        assert torch.equal(a, b), name
    x = make_input(trained)
    assert torch.equal(trained.eval()(x), fresh.eval()(x))
