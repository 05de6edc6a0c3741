"""Config loading: merging order, errors naming the file, save/reload, shipped configs."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

from timecontrast.config import default_config, load_config, save_config
from timecontrast.errors import ConfigError

CONFIG_DIR = resources.files("timecontrast") / "configs"


def write(tmp_path: Path, name: str, text: str) -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_files_merge_left_to_right_dicts_deep_lists_replaced(tmp_path):
    a = write(
        tmp_path, "a.yaml", "learning: {learning_rate: 0.5, optimizer: momentum}\nval: {recall_at_k_list: [1, 2, 4]}\n"
    )
    b = write(tmp_path, "b.yaml", "learning: {learning_rate: 0.1}\nval: {recall_at_k_list: [8]}\n")
    cfg = load_config(f"{a},{b}")
    assert cfg.learning.learning_rate == 0.1  # later file wins
    assert cfg.learning.optimizer == "momentum"  # deep merge keeps the sibling key
    assert list(cfg.val.recall_at_k_list) == [8]  # lists are replaced, not concatenated
    assert cfg["learning"]["decay_steps"] == 10000  # dict access and defaults


def test_model_params_then_overrides_win(tmp_path):
    a = write(tmp_path, "a.yaml", "data: {batch_size: 8, examples_per_sequence: 8}\n")
    cfg = load_config(a, "data: {batch_size: 16}", ["data.batch_size=24", "learning.optimizer=rmsprop"])
    assert cfg.data.batch_size == 24
    assert cfg.data.examples_per_sequence == 8
    assert cfg.learning.optimizer == "rmsprop"


def test_hash_separator_of_the_original(tmp_path):
    a = write(tmp_path, "a.yaml", "embedding_size: 8\n")
    b = write(tmp_path, "b.yaml", "seed: 3\n")
    cfg = load_config(f"{a}#{b}")
    assert (cfg.embedding_size, cfg.seed) == (8, 3)


def test_unknown_key_suggests_closest_and_names_file(tmp_path):
    bad = write(tmp_path, "pouring.yaml", "inception_conv_ss_fc:\n  finetunes: false\n")
    with pytest.raises(ConfigError) as err:
        load_config(bad)
    msg = str(err.value)
    assert "pouring.yaml" in msg and "finetunes" in msg and "'inception_conv_ss_fc.finetune'" in msg


def test_duplicate_key_in_one_file_is_an_error(tmp_path):
    bad = write(tmp_path, "dup.yaml", "learning:\n  learning_rate: 0.1\n  learning_rate: 0.2\n")
    with pytest.raises(ConfigError, match=r"dup.yaml.*learning_rate.*twice.*lines 2 and 3"):
        load_config(bad)


def test_wrong_type_names_file_and_key(tmp_path):
    bad = write(tmp_path, "t.yaml", "data:\n  batch_size: lots\n")
    with pytest.raises(ConfigError, match=r"t.yaml.*data.batch_size"):
        load_config(bad)
    with pytest.raises(ConfigError, match=r"'data' is a section"):
        load_config(overrides=["data=3"])


def test_invalid_choice(tmp_path):
    with pytest.raises(ConfigError, match="training_strategy.*mvtcn"):
        load_config(overrides=["training_strategy=mvtnc"])


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(str(tmp_path / "nope.yaml"))
    bad = write(tmp_path, "bad.yaml", "a: [1, 2\n")
    with pytest.raises(ConfigError, match="bad.yaml.*not valid YAML"):
        load_config(bad)


def test_save_then_load_reproduces(tmp_path):
    cfg = load_config(overrides=["embedding_size=16", "val.recall_at_k_list=[1,5]", "learning.learning_rate=3e-4"])
    path = save_config(cfg, tmp_path / "logdir")
    assert path.name == "final_training_config.yaml"
    again = load_config(str(path))
    assert OmegaConf.to_container(again) == OmegaConf.to_container(cfg)
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_default_yaml_matches_schema_and_comments_every_key():
    text = (CONFIG_DIR / "default.yaml").read_text()
    assert yaml.safe_load(text) == OmegaConf.to_container(default_config())
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#") and not line.rstrip().endswith(":"):
            assert "#" in line, f"default.yaml key without a comment: {line!r}"


@pytest.mark.parametrize("name", sorted(p.name for p in CONFIG_DIR.iterdir() if p.name.endswith(".yaml")))
def test_every_shipped_config_loads(name):
    cfg = load_config(str(CONFIG_DIR / name))
    assert cfg.embedding_size >= 1


def test_packaged_configs_by_bare_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    by_name = load_config("demo.yaml,demo_mftcn")
    by_path = load_config(f"{CONFIG_DIR / 'demo.yaml'},{CONFIG_DIR / 'demo_mftcn.yaml'}")
    assert OmegaConf.to_container(by_name) == OmegaConf.to_container(by_path)
    assert by_name.training_strategy == "mftcn"
    (tmp_path / "demo.yaml").write_text("embedding_size: 7\n")  # a local file of that name comes first
    assert load_config("demo.yaml").embedding_size == 7
    with pytest.raises(ConfigError, match=r"'nope.yaml' does not exist.*usable by name: .*demo.yaml"):
        load_config("nope.yaml")
