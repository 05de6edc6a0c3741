"""The original TensorFlow release's configs load as they are: ignored keys, mapped keys,
converted values and TF-slim checkpoints each give a warning; unknown keys stay errors.

The three configs are the packaged reconstructions (``timecontrast/configs/original``),
made from the key lists in the reference description of the original release.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest
import torch
import torchvision
import yaml
from omegaconf import OmegaConf

from timecontrast.cli.main import main
from timecontrast.config import FINAL_CONFIG_NAME, load_config, resolve_config_path
from timecontrast.config.loader import ORIGINAL_CONFIGS, PACKAGE_CONFIGS, load_user_settings, packaged_configs
from timecontrast.config.original import IGNORED
from timecontrast.errors import CheckpointError, ConfigError, DependencyError
from timecontrast.models import build_embedder, list_checkpoints
from timecontrast.models.backbones import is_tensorflow_checkpoint, read_state_dict
from toy_data import SMALL_EMBEDDER, make_toy_dataset

ORIGINAL_LOGGER = "timecontrast.config.original"
TF_INCEPTION = "pretrained_checkpoints/inception/inception_v3.ckpt"
TF_RESNET = "pretrained_checkpoints/resnet/resnet_v2_50.ckpt"

# Every key of the three original files that has no effect here.
IGNORED_IN_DEFAULT = [
    "use_tpu",
    "tpu.num_shards",
    "tpu.iterations",
    "clustering_loss.embedding_l2",
    "clustering_loss.margin",
    "lifted_struct.embedding_l2",
    "lifted_struct.margin",
    "contrastive.embedding_l2",
    "contrastive.margin",
    "resnet.emb_connection",
    "data.num_parallel_calls",
    "data.sequence_prefetch_size",
    "data.batch_prefetch_size",
    "data.eval_batch_size",
    "logging.checkpoint.secs",
]
IGNORED_IN_POURING = ["data.raw_height", "data.raw_width"]
IGNORED_IN_TEST_ESTIMATOR = [
    "use_tpu",
    "data.num_parallel_calls",
    "data.sequence_prefetch_size",
    "data.batch_prefetch_size",
    "logging.summary.save_summaries_secs",
    "logging.checkpoint.secs",
]


def write(tmp_path: Path, name: str, text: str) -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def messages(caplog, contains: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == ORIGINAL_LOGGER and contains in r.getMessage()]


def listed_keys(message: str) -> list[str]:
    """The keys of a warning's indented lines (``  key, key: why`` or ``  key -> new``)."""
    keys = []
    for line in message.splitlines()[1:]:
        head = line.strip().split(" -> ")[0].split(": ")[0]
        keys.extend(k.strip() for k in head.split(","))
    return keys


# --- file lookup ---------------------------------------------------------------------------


def test_bare_yml_names_find_the_original_configs_and_resolve_like_yaml(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("tcn_default.yml", "tcn_default", "test_estimator.yml", "test_estimator"):
        assert resolve_config_path(name) == ORIGINAL_CONFIGS / f"{name.removesuffix('.yml')}.yml"
    assert resolve_config_path("pouring.yml") == ORIGINAL_CONFIGS / "pouring.yml"
    # Our own pouring settings keep their names; .yml finds a .yaml config like .yaml does.
    assert resolve_config_path("pouring") == PACKAGE_CONFIGS / "pouring.yaml"
    assert resolve_config_path("pouring.yaml") == PACKAGE_CONFIGS / "pouring.yaml"
    assert resolve_config_path("demo.yml") == PACKAGE_CONFIGS / "demo.yaml"
    by_yml = load_config("demo.yml")
    assert by_yml == load_config("demo.yaml")
    # A local file of that name still comes first.
    (tmp_path / "pouring.yml").write_text("embedding_size: 5\n")
    assert load_config("pouring.yml").embedding_size == 5
    assert {"tcn_default.yml", "pouring.yml", "test_estimator.yml"} <= set(packaged_configs())
    with pytest.raises(ConfigError, match=r"'nope.yml' does not exist.*tcn_default.yml"):
        load_config("nope.yml")


def test_the_original_configs_are_package_data():
    if sys.version_info < (3, 11):
        pytest.skip("reads pyproject.toml with tomllib, which needs Python 3.11")
    import tomllib

    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["timecontrast"]
    assert "configs/original/*.yml" in patterns
    assert sorted(p.name for p in ORIGINAL_CONFIGS.glob("*.yml")) == [
        "pouring.yml",
        "tcn_default.yml",
        "test_estimator.yml",
    ]


# --- ignored, renamed and converted keys ---------------------------------------------------------


def test_every_key_of_the_originals_is_known_here_or_to_the_mapping():
    """Each key of the three files is a schema key, an ignored key or a mapped key."""
    from timecontrast.config.original import ADAPTATION_BLOCKS, RENAMED

    default = load_config()

    def leaves(d, prefix=""):
        for k, v in d.items():
            if isinstance(v, dict) and v:
                yield from leaves(v, f"{prefix}{k}.")
            else:
                yield f"{prefix}{k}"

    for name in ("tcn_default.yml", "pouring.yml", "test_estimator.yml"):
        for key in leaves(yaml.safe_load((ORIGINAL_CONFIGS / name).read_text())):
            known = key in IGNORED or key in RENAMED or key == ADAPTATION_BLOCKS[0]
            assert known or OmegaConf.select(default, key, default="<absent>") != "<absent>", (name, key)


def test_ignored_keys_give_one_warning_listing_them(caplog):
    caplog.set_level(logging.WARNING)
    cfg = load_config("tcn_default.yml,test_estimator.yml")
    ignored = messages(caplog, "no effect here")
    assert len(ignored) == 1  # one warning for both files
    listed = listed_keys(ignored[0])
    assert sorted(listed) == sorted(set(IGNORED_IN_DEFAULT + IGNORED_IN_TEST_ESTIMATOR))
    assert "tcn_default.yml" in ignored[0] and "test_estimator.yml" in ignored[0]
    for why in ("TPUs are not supported", "tf.data tuning", "unused in the original too", "never implemented"):
        assert why in ignored[0]
    # The keys that do exist here took the files' values.
    assert cfg.learning.max_step == 2 and cfg.embedding_size == 8 and cfg.data.batch_size == 12
    assert cfg.loss_strategy == "triplet_semihard" and cfg.data.embed_batch_size == 12


def test_an_ignored_key_in_an_override_or_model_params_warns_too(caplog):
    caplog.set_level(logging.WARNING)
    cfg = load_config(model_params="use_tpu: true\ntpu: {num_shards: 8}", overrides=["data.num_parallel_calls=4"])
    assert cfg.data.num_workers == 2  # not mapped onto the DataLoader's workers
    (message,) = messages(caplog, "no effect here")
    assert listed_keys(message) == ["use_tpu", "tpu.num_shards", "data.num_parallel_calls"]
    assert "--model_params" in message and "data.num_parallel_calls=4" in message


def test_renamed_key_maps_with_a_warning_naming_the_new_key(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    cfg = load_config("tcn_default.yml,pouring.yml")
    assert cfg.inception_conv_ss_fc.finetune is False and cfg.loss_strategy == "npairs"
    (mapped,) = messages(caplog, "mapped to this project's keys")
    assert "inception_conv_ss_fc.finetune_inception -> inception_conv_ss_fc.finetune: false" in mapped
    (ignored,) = messages(caplog, "no effect here")
    assert sorted(listed_keys(ignored)) == sorted(IGNORED_IN_DEFAULT + IGNORED_IN_POURING)

    # finetune_inception: true trains the trunk here (the original ignored the key).
    caplog.clear()
    on = write(tmp_path, "on.yml", "inception_conv_ss_fc: {finetune_inception: true}\n")
    assert load_config(on).inception_conv_ss_fc.finetune is True
    assert "inception_conv_ss_fc.finetune: true" in messages(caplog, "mapped")[0]
    # Given with the key the original's code read, that key wins.
    caplog.clear()
    both = write(tmp_path, "both.yml", "inception_conv_ss_fc: {finetune_inception: true, finetune: false}\n")
    assert load_config(both).inception_conv_ss_fc.finetune is False
    assert "inception_conv_ss_fc.finetune_inception" in messages(caplog, "no effect here")[0]


def test_size_strings_and_adaptation_blocks_convert(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    cfg = load_config("tcn_default.yml")
    assert list(cfg.resnet.fc_hidden_sizes) == []  # 'None'
    assert list(cfg.resnet.adaptation_channels) == [512, 512]  # '512_3-512_3'
    (mapped,) = messages(caplog, "mapped")
    assert "resnet.fc_hidden_sizes -> resnet.fc_hidden_sizes: [] (from 'None'" in mapped
    assert "resnet.adaptation_blocks -> resnet.adaptation_channels: [512, 512]" in mapped

    caplog.clear()
    other = write(
        tmp_path,
        "sizes.yml",
        "resnet: {fc_hidden_sizes: '1024_512', adaptation_blocks: '256_2'}\n"
        "inception_conv_ss_fc: {fc_hidden_sizes: '64', additional_conv_sizes: 'None'}\n",
    )
    cfg = load_config(f"tcn_default.yml,{other}")
    assert list(cfg.resnet.fc_hidden_sizes) == [1024, 512]
    assert list(cfg.resnet.adaptation_channels) == [256]
    assert list(cfg.inception_conv_ss_fc.fc_hidden_sizes) == [64]
    assert list(cfg.inception_conv_ss_fc.additional_conv_sizes) == []
    # Lists, this project's form, pass without a warning.
    caplog.clear()
    load_config(overrides=["resnet.fc_hidden_sizes=[8]"])
    assert messages(caplog, "mapped") == []


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("resnet: {fc_hidden_sizes: '1024_x'}", r"bad.yml: 'resnet.fc_hidden_sizes' is '1024_x'; give a list"),
        ("resnet: {adaptation_blocks: '512'}", r"bad.yml: 'resnet.adaptation_blocks' is '512'.*'<depth>_<units>'"),
        ("resnet: {adaptation_blocks: '512_3', adaptation_channels: [64]}", r"bad.yml: both 'resnet.adaptation_b"),
        ("resnet: {emb_connection: dense}", r"bad.yml: 'resnet.emb_connection' is 'dense'.*conv or fc"),
        ("tpu: {num_shard: 2}", r"bad.yml: unknown config key 'tpu.num_shard'.*did you mean 'tpu.num_shards'"),
        ("use_tpus: false", r"bad.yml: unknown config key 'use_tpus'; did you mean 'use_tpu' \(a key of the orig"),
        ("data: {batch_sise: 3}", r"bad.yml: unknown config key 'data.batch_sise'; did you mean 'data.batch_size'"),
        ("learning: {nonsense_key: 3}", r"bad.yml: unknown config key 'learning.nonsense_key'; valid keys here"),
    ],
)
def test_malformed_original_values_and_unknown_keys_are_errors(tmp_path, text, match):
    bad = write(tmp_path, "bad.yml", text + "\n")
    with pytest.raises(ConfigError, match=match):
        load_config(f"tcn_default.yml,{bad}")


def test_user_settings_over_a_checkpoint_config_map_the_original_keys_too(tmp_path, caplog):
    """``tcn imitate``/``project`` apply only the user's keys over a run's config."""
    caplog.set_level(logging.WARNING)
    settings = load_user_settings("pouring.yml", None, ["data.embed_batch_size=4"])
    assert settings["inception_conv_ss_fc"]["finetune"] is False
    assert "raw_height" not in settings["data"] and settings["data"]["embed_batch_size"] == 4
    assert len(messages(caplog, "no effect here")) == 1
    with pytest.raises(ConfigError, match="did you mean 'data.batch_size'"):
        load_user_settings(None, None, ["data.batch_sise=3"])


def test_tcn_default_alone_trains_with_this_projects_default_loss():
    """The original failed without a loss_strategy; here the default (triplet_semihard) applies."""
    cfg = load_config("tcn_default.yml")
    assert cfg.loss_strategy == "triplet_semihard" and cfg.training_strategy == "mvtcn"
    assert cfg.inception_conv_ss_fc.pretrained_checkpoint == TF_INCEPTION


# --- TF-slim checkpoints -----------------------------------------------------------------------


def test_tensorflow_checkpoint_names_are_recognised(tmp_path):
    assert is_tensorflow_checkpoint(TF_INCEPTION)  # absent, as after the original's download_pretrained
    assert is_tensorflow_checkpoint(tmp_path / "model.ckpt-1000")
    (tmp_path / "prefix.index").write_bytes(b"\x00")
    assert is_tensorflow_checkpoint(tmp_path / "prefix")  # a TF2 checkpoint prefix
    v1 = tmp_path / "inception_v3.ckpt"
    v1.write_bytes(b"\x00\x01tensorflow table")
    assert is_tensorflow_checkpoint(v1)
    with pytest.raises(CheckpointError, match=r"inception_v3.ckpt' is a TensorFlow checkpoint.*torch.save"):
        read_state_dict(v1)
    # A torch.save file named .ckpt (as PyTorch Lightning names them) is not one.
    torch_ckpt = tmp_path / "lightning.ckpt"
    torch.save({"w": torch.ones(2)}, torch_ckpt)
    assert not is_tensorflow_checkpoint(torch_ckpt)
    assert read_state_dict(torch_ckpt)["w"].tolist() == [1.0, 1.0]
    assert not is_tensorflow_checkpoint(tmp_path / "weights.pt")


@pytest.fixture
def fake_imagenet(tmp_path, monkeypatch):
    """torchvision's weight download replaced by state_dicts saved here; records what was asked."""
    asked: list[str] = []

    def get_state_dict(self, *args, **kwargs):
        asked.append(str(self))
        if "Inception" in str(self):
            model = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False)
            first = model.Conv2d_1a_3x3.conv.weight
        else:
            model = torchvision.models.resnet50(weights=None)
            first = model.conv1.weight
        with torch.no_grad():
            first.fill_(0.125)
        path = tmp_path / "cache.pt"
        torch.save(model.state_dict(), path)
        return torch.load(path, weights_only=True)

    monkeypatch.setattr(torchvision.models.WeightsEnum, "get_state_dict", get_state_dict)
    return asked


def test_tensorflow_inception_checkpoint_falls_back_to_torchvision_imagenet(fake_imagenet, monkeypatch, caplog):
    caplog.set_level(logging.WARNING)
    cfg = load_config("tcn_default.yml,pouring.yml", overrides=["data.height=80", "data.width=80"])
    model = build_embedder(cfg)
    assert fake_imagenet == ["Inception_V3_Weights.IMAGENET1K_V1"]
    assert model.trunk_pretrained
    # The trunk's weights came from torchvision's (mocked) download.
    assert torch.all(model.state_dict()["trunk.Conv2d_1a_3x3.conv.weight"] == 0.125)
    warned = [r.getMessage() for r in caplog.records if "TensorFlow checkpoint" in r.getMessage()]
    assert len(warned) == 1
    assert TF_INCEPTION in warned[0] and "Inception_V3_Weights.IMAGENET1K_V1" in warned[0]
    assert "Set pretrained: imagenet and pretrained_checkpoint: ''" in warned[0]
    # Only the trunk that is built falls back (nothing about the resnet section's checkpoint).
    assert TF_RESNET not in " ".join(warned)
    # No "frozen but randomly initialised" warning: the frozen trunk has its weights.
    assert not [r for r in caplog.records if "randomly initialised" in r.getMessage()]


def test_tensorflow_resnet_checkpoint_falls_back_and_says_v1(fake_imagenet, caplog):
    caplog.set_level(logging.WARNING)
    cfg = load_config("tcn_default.yml", overrides=["embedder_strategy=resnet", "data.height=64", "data.width=64"])
    model = build_embedder(cfg)
    assert fake_imagenet == ["ResNet50_Weights.IMAGENET1K_V2"]
    assert torch.all(model.state_dict()["trunk.conv1.weight"] == 0.125)
    warned = [r.getMessage() for r in caplog.records if "TensorFlow checkpoint" in r.getMessage()]
    assert len(warned) == 1 and TF_RESNET in warned[0] and "v1" in warned[0]
    embedding = model(torch.rand(2, 3, 64, 64))
    assert embedding.shape == (2, 32)


def test_tensorflow_checkpoint_offline_says_how_to_get_the_weights(monkeypatch):
    def offline(self, *args, **kwargs):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(torchvision.models.WeightsEnum, "get_state_dict", offline)
    cfg = load_config("tcn_default.yml,pouring.yml", overrides=["data.height=80", "data.width=80"])
    with pytest.raises(DependencyError) as err:
        build_embedder(cfg)
    msg = str(err.value)
    assert f"pretrained_checkpoint '{TF_INCEPTION}' is a TensorFlow checkpoint" in msg
    assert "Network is unreachable" in msg
    weights = torchvision.models.Inception_V3_Weights.IMAGENET1K_V1
    assert weights.url in msg and "set pretrained_checkpoint to that file" in msg


def test_tensorflow_checkpoint_and_pretrained_imagenet_uses_imagenet(fake_imagenet, tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    cfg = load_config(
        "tcn_default.yml",
        overrides=["inception_conv_ss_fc.pretrained=imagenet", "data.height=80", "data.width=80"],
    )
    assert build_embedder(cfg).trunk_pretrained
    assert any("ignored: pretrained: imagenet" in r.getMessage() for r in caplog.records)


# --- the originals train ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def long_toy_dataset(tmp_path_factory) -> Path:
    """Sequences of 40 frames: long enough for the originals' 32 and 36 images per sequence."""
    return make_toy_dataset(tmp_path_factory.mktemp("toy40"), {"train": 2, "val": 1}, length=40)


@pytest.mark.parametrize(
    ("config_paths", "max_step", "loss", "embedding_size", "batch_size"),
    [
        ("tcn_default.yml,pouring.yml", ["learning.max_step=2"], "npairs", 32, 32),
        ("tcn_default.yml,test_estimator.yml", [], "triplet_semihard", 8, 12),  # max_step 2 is the file's
        ("tcn_default.yml", ["learning.max_step=2"], "triplet_semihard", 32, 36),
    ],
)
def test_original_configs_train_two_steps_with_only_warnings(
    long_toy_dataset, tmp_path, caplog, capsys, config_paths, max_step, loss, embedding_size, batch_size
):
    """The files as they are; overrides only for the data, a small embedder and the step count."""
    caplog.set_level(logging.INFO)
    small = [o for o in SMALL_EMBEDDER if not o.startswith("embedding_size=")]
    overrides = [
        f"data.training={long_toy_dataset / 'train' / 'records'}",
        f"data.validation={long_toy_dataset / 'val' / 'records'}",
        "data.num_workers=0",
        *small,
        *max_step,
    ]
    logdir = tmp_path / "run"
    argv = ["train", "--config_paths", config_paths, "--logdir", str(logdir), "--device", "cpu", *overrides]
    assert main(argv) == 0, capsys.readouterr().err
    assert "trained steps 0..2" in capsys.readouterr().out
    assert [s for s, _ in list_checkpoints(logdir)] == [2]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert {r.name for r in warnings} == {ORIGINAL_LOGGER}  # the mapping's warnings and nothing else
    assert len(messages(caplog, "no effect here")) == 1 and len(messages(caplog, "mapped")) == 1
    final = yaml.safe_load((logdir / FINAL_CONFIG_NAME).read_text())
    assert final["loss_strategy"] == loss
    assert final["embedding_size"] == embedding_size and final["data"]["batch_size"] == batch_size
    assert "use_tpu" not in final and "num_parallel_calls" not in final["data"]
    # The logdir's final config alone resumes, without the original's keys or warnings.
    caplog.clear()
    assert main(["train", "--logdir", str(logdir), "learning.max_step=3"]) == 0
    assert not messages(caplog, "original TensorFlow release")
