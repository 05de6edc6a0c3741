"""Trunk weights: local state_dict files, torchvision files cut short, and no-internet ImageNet."""

from __future__ import annotations

import urllib.error

import pytest
import torch
import torchvision

from timecontrast.errors import CheckpointError, ConfigError, DependencyError
from timecontrast.models import build_embedder


def assert_same_tensors(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_trunk_state_dict_file_loads_bit_exactly(tiny_cfg, make_input, tmp_path):
    torch.manual_seed(3)
    source = build_embedder(tiny_cfg("small_conv"))
    with torch.no_grad():
        for name, buf in source.trunk.named_buffers():
            if name.endswith(("running_mean", "running_var")):
                buf.add_(0.5)  # BN statistics that differ from any fresh init
    path = tmp_path / "trunk.pt"
    torch.save(source.trunk.state_dict(), path)
    loaded = build_embedder(tiny_cfg("small_conv", f"small_conv.pretrained_checkpoint={path}"))
    assert_same_tensors(source.trunk.state_dict(), loaded.trunk.state_dict())
    unloaded = build_embedder(tiny_cfg("small_conv"))
    assert not torch.equal(unloaded.trunk.block1[0][0].weight, source.trunk.block1[0][0].weight)
    # a whole embedder's state_dict or a training checkpoint dict: its trunk.* part is used
    torch.save({"model": source.state_dict(), "step": 5}, tmp_path / "ckpt.pt")
    from_ckpt = build_embedder(tiny_cfg("small_conv", f"small_conv.pretrained_checkpoint={tmp_path / 'ckpt.pt'}"))
    assert_same_tensors(source.trunk.state_dict(), from_ckpt.trunk.state_dict())


def test_full_torchvision_state_dict_loads_into_the_cut_trunk(tiny_cfg, tmp_path):
    torch.manual_seed(4)
    full = torchvision.models.resnet18(weights=None)
    path = tmp_path / "resnet18.pth"
    torch.save(full.state_dict(), path)  # like torchvision's downloaded file: fc and all stages
    model = build_embedder(tiny_cfg("resnet", f"resnet.pretrained_checkpoint={path}", "resnet.pretrained_layer=2"))
    expected = {k: v for k, v in full.state_dict().items() if k in model.trunk.state_dict()}
    assert_same_tensors(expected, model.trunk.state_dict())
    assert any(k.startswith("layer2.") for k in expected) and not any(k.startswith("layer3.") for k in expected)


def test_inception_checkpoint_from_a_full_torchvision_model(tiny_cfg, tmp_path):
    torch.manual_seed(5)
    full = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False)
    path = tmp_path / "inception.pth"
    torch.save(full.state_dict(), path)
    model = build_embedder(tiny_cfg("inception_conv_ss_fc", f"inception_conv_ss_fc.pretrained_checkpoint={path}"))
    assert torch.equal(model.trunk.Mixed_5d.branch1x1.conv.weight, full.Mixed_5d.branch1x1.conv.weight)
    assert torch.equal(model.trunk.Conv2d_1a_3x3.bn.running_var, full.Conv2d_1a_3x3.bn.running_var)


def test_mismatching_or_missing_weight_files_are_clear_errors(tiny_cfg, tmp_path):
    resnet_file = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), resnet_file)
    with pytest.raises(CheckpointError, match=r"missing keys.*unexpected keys.*conv1.weight") as info:
        build_embedder(tiny_cfg("small_conv", f"small_conv.pretrained_checkpoint={resnet_file}"))
    assert "small_conv" in str(info.value)
    with pytest.raises(CheckpointError, match=r"missing keys \(12\): layer1.2"):  # resnet-18 file, resnet-34 trunk
        build_embedder(tiny_cfg("resnet", "resnet.depth=34", "resnet.pretrained_layer=1",
                                f"resnet.pretrained_checkpoint={resnet_file}"))  # fmt: skip
    narrow = tmp_path / "narrow.pt"
    torch.save(build_embedder(tiny_cfg("small_conv")).trunk.state_dict(), narrow)  # channels [8, 16]
    with pytest.raises(CheckpointError, match=r"shape mismatches: block2.0.0.weight \(16, 8, 3, 3\)"):
        build_embedder(
            tiny_cfg("small_conv", "small_conv.channels=[8,32]", f"small_conv.pretrained_checkpoint={narrow}")
        )
    with pytest.raises(CheckpointError, match="does not exist"):
        build_embedder(tiny_cfg("resnet", f"resnet.pretrained_checkpoint={tmp_path / 'nope.pth'}"))
    (tmp_path / "junk.pth").write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError, match="could not be read"):
        build_embedder(tiny_cfg("resnet", f"resnet.pretrained_checkpoint={tmp_path / 'junk.pth'}"))
    with pytest.raises(ConfigError, match="pretrained: none"):
        build_embedder(tiny_cfg("resnet", "resnet.pretrained=imagenet", f"resnet.pretrained_checkpoint={resnet_file}"))


@pytest.mark.parametrize(
    ("strategy", "overrides"),
    [
        ("resnet", ["resnet.pretrained=imagenet"]),
        ("inception_conv_ss_fc", ["inception_conv_ss_fc.pretrained=imagenet"]),
        ("multi_frame", ["multi_frame.trunk=r3d_18", "multi_frame.pretrained=imagenet"]),
    ],
)
def test_imagenet_without_internet_is_a_clear_error(strategy, overrides, tiny_cfg, monkeypatch):
    calls = []

    def offline(url, *args, **kwargs):
        calls.append(url)
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", offline)
    with pytest.raises(DependencyError) as info:
        build_embedder(tiny_cfg(strategy, *overrides))
    message = str(info.value)
    assert calls and calls[0] in message  # names the file to fetch
    assert "pretrained_checkpoint" in message and "internet" in message and strategy in message


def test_load_weights_false_skips_downloads_and_files(tiny_cfg, monkeypatch, tmp_path):
    def offline(url, *args, **kwargs):
        raise AssertionError("no download expected")

    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", offline)
    cfg = tiny_cfg("resnet", "resnet.pretrained=imagenet")
    model = build_embedder(cfg, load_weights=False)  # e.g. the weights come from a training checkpoint next
    assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 8) and not model.trunk_pretrained
    missing = tiny_cfg("small_conv", f"small_conv.pretrained_checkpoint={tmp_path / 'gone.pt'}")
    assert build_embedder(missing, load_weights=False).embedding_size == 8
    with pytest.raises(CheckpointError, match="gone.pt"):
        build_embedder(missing)
