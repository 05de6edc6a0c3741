"""Record folders as users leave them: sequences of 0 frames, 0-byte files (interrupted
copies), link loops and files reached twice through links, damaged dataset.json files.
Never a traceback, never a silent change of the data."""

from __future__ import annotations

import json
import logging
import os
import shutil

import pytest

from timecontrast.cli.main import main
from timecontrast.config import load_config
from timecontrast.data import dataset_info, folders
from timecontrast.data.dataset_info import read_class_names
from timecontrast.data.labeled import iter_labeled_frames
from timecontrast.data.loaders import open_split
from timecontrast.data.records import (
    SequenceRecord,
    find_record_files,
    open_sequences,
    write_sequence_record,
)
from timecontrast.errors import DataError
from timecontrast.sim.dataset import _remove_previous


@pytest.fixture
def records(toy_dataset, tmp_path):
    """A private copy of the toy training records (4 sequences of 24 frames)."""
    folder = tmp_path / "train" / "records"
    shutil.copytree(toy_dataset / "train" / "records", folder)
    return folder


def tiny_train_overrides(training, validation) -> list[str]:
    return [
        "embedder_strategy=small_conv",
        "embedding_size=8",
        "small_conv.channels=[8,16]",
        "small_conv.fc_hidden_sizes=[16]",
        f"data.training={training}",
        f"data.validation={validation}",
        "data.height=32",
        "data.width=32",
        "data.batch_size=8",
        "data.examples_per_sequence=4",
        "data.num_workers=0",
        "mvtcn.window=24",
        "learning.max_step=1",
        "logging.checkpoint.save_checkpoints_steps=1",
        "val.num_eval_samples=8",
    ]


# ------------------------------------------------------------------ 0-frame sequences
def test_zero_frame_sequence_is_a_valid_record(records):
    write_sequence_record(records / "blank.tfrecord", "blank", [[], []])
    rec = SequenceRecord(records / "blank.tfrecord")
    assert (rec.name, rec.num_views, rec.length) == ("blank", 2, 0)
    with pytest.raises(DataError, match="blank.tfrecord: sequence 'blank' has 0 frames"):
        rec.frame_size  # noqa: B018 - the property raises


def test_zero_frame_sequence_is_skipped_with_a_warning(records, caplog):
    write_sequence_record(records / "blank.tfrecord", "blank", [[], []])
    with caplog.at_level(logging.WARNING, logger="timecontrast.data.records"):
        sequences = open_sequences(records)
    assert [s.name for s in sequences] == ["toy_0000", "toy_0001", "toy_0002", "toy_0003"]
    assert f"{records / 'blank.tfrecord'}: sequence 'blank' has 0 frames; skipped" in caplog.text


def test_only_zero_frame_sequences_is_an_error(tmp_path):
    write_sequence_record(tmp_path / "a.tfrecord", "a", [[], []])
    write_sequence_record(tmp_path / "b.tfrecord", "b", [[]])
    with pytest.raises(DataError, match=r"every sequence \(2\) has 0 frames"):
        open_sequences(tmp_path)


def test_train_skips_a_zero_frame_sequence(records, toy_dataset, tmp_path, capsys, caplog):
    write_sequence_record(records / "blank.tfrecord", "blank", [[], []])
    logdir = tmp_path / "run"
    overrides = tiny_train_overrides(records, toy_dataset / "val" / "records")
    with caplog.at_level(logging.WARNING):
        code = main(["train", "--logdir", str(logdir), "--device", "cpu", *overrides])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Traceback" not in err
    assert "blank.tfrecord: sequence 'blank' has 0 frames; skipped" in caplog.text


# ---------------------------------------------------------------------- 0-byte files
def test_zero_byte_file_is_an_error_naming_it(records):
    (records / "toy_0009.tfrecord").write_bytes(b"")
    with pytest.raises(DataError, match=r"toy_0009.tfrecord: empty file \(0 bytes.*delete it or re-convert it"):
        open_sequences(records)


def test_open_split_names_the_key_and_the_empty_file(records, toy_dataset):
    (records / "toy_0009.tfrecord").write_bytes(b"")
    cfg = load_config(None, None, tiny_train_overrides(records, toy_dataset / "val" / "records"))
    with pytest.raises(DataError, match=r"^data.training: .*toy_0009.tfrecord: empty file"):
        open_split(cfg, "training")


def test_train_refuses_a_zero_byte_file(records, toy_dataset, tmp_path, capsys):
    empty = records / "toy_0009.tfrecord"
    empty.write_bytes(b"")
    overrides = tiny_train_overrides(records, toy_dataset / "val" / "records")
    assert main(["train", "--logdir", str(tmp_path / "run"), "--device", "cpu", *overrides]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    [line] = err.strip().splitlines()
    assert line.startswith("tcn train: error: data.training: ") and f"{empty}: empty file" in line


def test_labeled_zero_byte_file_is_an_error(toy_dataset, tmp_path):
    folder = tmp_path / "labeled"
    shutil.copytree(toy_dataset / "val" / "labeled", folder)
    (folder / "toy_0009.tfrecord").write_bytes(b"")
    with pytest.raises(DataError, match="toy_0009.tfrecord: empty file"):
        list(iter_labeled_frames(folder))


# ------------------------------------------------------------------------- links
@pytest.mark.parametrize("link", ["loop", "sub/back"])
def test_link_loop_does_not_multiply_the_data(records, caplog, link):
    (records / link).parent.mkdir(exist_ok=True)
    os.symlink(records, records / link)  # records/loop -> records (or records/sub/back -> records)
    with caplog.at_level(logging.WARNING, logger="timecontrast.data.records"):
        files = find_record_files(records)
        sequences = open_sequences(records)
    assert [f.name for f in files] == [f"toy_000{i}.tfrecord" for i in range(4)]
    assert len(sequences) == 4
    assert f"{records / link}: leads to {records.resolve()}, a folder already scanned" in caplog.text


def test_same_file_through_links_counts_once(records, tmp_path, caplog):
    os.symlink(records / "toy_0001.tfrecord", records / "alias.tfrecord")
    other = tmp_path / "elsewhere"
    other.mkdir()
    os.symlink(other, records / "a")
    os.symlink(other, records / "b")  # two links to one folder
    write_sequence_record(other / "extra.tfrecord", "extra", [[b"x"], [b"y"]])
    with caplog.at_level(logging.WARNING, logger="timecontrast.data.records"):
        files = find_record_files(records)
    assert [f.relative_to(records).as_posix() for f in files] == [
        "a/extra.tfrecord",
        *[f"toy_000{i}.tfrecord" for i in range(4)],
    ]
    assert f"{records / 'alias.tfrecord'}: the same file as {records / 'toy_0001.tfrecord'}" in caplog.text
    assert f"{records / 'b'}: leads to {other.resolve()}, a folder already scanned" in caplog.text


def test_glob_through_a_link_loop_counts_each_file_once(records, caplog):
    os.symlink(records, records / "loop")
    with caplog.at_level(logging.WARNING, logger="timecontrast.data.records"):
        files = find_record_files(str(records / "**" / "*.tfrecord"))
    assert files == [records / f"toy_000{i}.tfrecord" for i in range(4)]
    assert "more times through links" in caplog.text


def test_walk_folder_reports_unlistable_folders(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    real_scandir = os.scandir

    def scandir(path):
        if str(path).endswith("sub"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(PermissionError):
        list(folders.walk_folder(tmp_path))
    errors: list[OSError] = []
    assert [f for f, _ in folders.walk_folder(tmp_path, on_error=errors.append)] == [tmp_path]
    assert [e.filename for e in errors] == [str(tmp_path / "sub")]


# ------------------------------------------------------------------- dataset.json
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"world": "toy", ', "not valid JSON"),
        (b"[1, 2]", "must hold a JSON object, got a JSON list"),
        (b'{"world": "caf\xe9"}', "not UTF-8 text"),
    ],
)
def test_damaged_dataset_json_is_a_data_error(tmp_path, content, message):
    path = tmp_path / "dataset.json"
    path.write_bytes(content)
    with pytest.raises(DataError, match=f"dataset.json: {message}.*regenerate the dataset"):
        dataset_info.read_dataset_info(path)


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[1, 2]",
        json.dumps({"attributes": "side"}),
        json.dumps({"attributes": [{"name": "side", "classes": 2}]}),
        json.dumps({"attributes": [["side"]]}),
    ],
)
def test_damaged_dataset_json_class_names_warn_once(records, content, caplog):
    """Class names are cosmetic: a damaged dataset.json is one warning, labels stay numbers."""
    (records.parent.parent / "dataset.json").write_text(content)
    with caplog.at_level(logging.WARNING, logger="timecontrast.data.records"):
        names = [s.class_names for s in open_sequences(records)]
    assert names == [{}] * 4
    warnings = [r for r in caplog.records if "dataset.json" in r.getMessage()]
    assert len(warnings) == 1 and "labels are shown as numbers" in warnings[0].getMessage()


def test_dataset_json_class_names(tmp_path):
    path = tmp_path / "dataset.json"
    path.write_text(json.dumps({"attributes": [{"name": "side", "classes": ["left", "right"]}, {"name": "x"}]}))
    assert read_class_names(path) == {"side": ["left", "right"]}


@pytest.mark.parametrize(
    "content",
    [
        "{oops",
        json.dumps({"splits": ["train"]}),
        json.dumps({"splits": {"train": "toy_0000"}}),
        json.dumps({"splits": {"train": ["../../../outside"]}}),
    ],
)
def test_synth_overwrite_refuses_a_damaged_dataset_json(tmp_path, content):
    """``tcn synth --overwrite`` deletes the files the old dataset.json lists: a damaged one
    is a DataError naming it, and never deletes anything (not even outside the dataset)."""
    root = tmp_path / "a" / "b" / "ds"
    (root / "train" / "state").mkdir(parents=True)
    (root / "dataset.json").write_text(content)
    outside = root.parent / "outside.npz"  # where train/state/../../../outside.npz leads
    outside.write_bytes(b"keep me")
    with pytest.raises(DataError, match="dataset.json: .*delete the folder by hand"):
        _remove_previous(root, overwrite=True)
    assert outside.exists() and (root / "dataset.json").exists()
