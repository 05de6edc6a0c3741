"""Config files a user can get wrong (issue 13): not UTF-8, not YAML, not a mapping.
Each is one ConfigError line naming the file; the CLI prints it and exits 2."""

from __future__ import annotations

import pytest

from timecontrast.cli.main import main
from timecontrast.config import load_config
from timecontrast.config import loader as config_loader
from timecontrast.errors import ConfigError

LATIN1 = "data:\n  batch_size: 4  # café\n".encode("latin-1")  # 0xe9 ("é") at offset 28


def test_latin1_config_is_a_config_error_naming_the_byte(tmp_path):
    path = tmp_path / "latin.yaml"
    path.write_bytes(LATIN1)
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    message = str(info.value)
    assert message.startswith(f"{path}: not UTF-8 text (byte b'\\xe9' at offset 28, line 2); save it as UTF-8")
    assert "\n" not in message


def test_utf8_with_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfdata:\n  batch_size: 6  # caf\xc3\xa9\n")
    assert load_config(str(path)).data.batch_size == 6


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (LATIN1, "not UTF-8 text (byte b'\\xe9' at offset 28, line 2)"),
        (b"data: {batch_size: 4\nlearning: {}\n", "not valid YAML ("),
        (b"data:\n\tbatch_size: 4\n", "not valid YAML ("),
        (b"- data\n- learning\n", "a config must be a mapping of keys to values, got list"),
        (b"just a sentence\n", "a config must be a mapping of keys to values, got str"),
    ],
)
def test_cli_prints_one_line_naming_the_file(toy_dataset, tmp_path, capsys, text, message):
    path = tmp_path / "bad.yaml"
    path.write_bytes(text)
    argv = ["train", "--logdir", str(tmp_path / "run"), "--config_paths", str(path)]
    assert main([*argv, f"data.training={toy_dataset / 'train' / 'records'}"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    [line] = err.strip().splitlines()
    assert line.startswith(f"tcn train: error: {path}: {message}")
    assert not (tmp_path / "run").exists()  # nothing written


def test_yaml_syntax_error_says_where(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("data:\n  batch_size: [4\nlearning: {}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: not valid YAML \(.* at line \d+, column \d+\); fix the file$"):
        load_config(str(path))


def test_load_config_file_returns_the_keys_of_one_file(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text("data: {batch_size: 4}\n")
    assert config_loader.load_config_file(path) == {"data": {"batch_size": 4}}
    path.write_bytes(LATIN1)
    with pytest.raises(ConfigError, match="not UTF-8"):
        config_loader.load_config_file(path)


def test_imitate_and_project_read_config_files_through_the_same_checks(tmp_path):
    import argparse

    from timecontrast.cli.imitate import _user_settings

    path = tmp_path / "bad.yaml"
    path.write_bytes(LATIN1)
    args = argparse.Namespace(config_paths=str(path), model_params="", overrides=[])
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        _user_settings(args)
    args = argparse.Namespace(config_paths="", model_params="[1, 2]", overrides=[])
    with pytest.raises(ConfigError, match="--model_params: a config must be a mapping"):
        _user_settings(args)
