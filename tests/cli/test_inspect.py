"""`tcn inspect` on the synth layout, the Multiview Pouring layout, videos and single files."""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter

import numpy as np
import pytest

from timecontrast.cli.main import main
from timecontrast.io.example import Example, feature_value
from timecontrast.io.tfrecord import iter_records, write_records
from timecontrast.io.video import write_video


def inspect_json(capsys, *args) -> tuple[int, dict]:
    code = main(["inspect", *map(str, args), "--json"])
    return code, json.loads(capsys.readouterr().out)


def label_counts(folder) -> dict[str, dict[str, int]]:
    """Class counts read straight from the Example protos (not through timecontrast.data)."""
    counts: dict[str, Counter] = {}
    for path in sorted(folder.glob("*.tfrecord")):
        for data in iter_records(path):
            for key, feat in Example.FromString(data).features.feature.items():
                if feat.WhichOneof("kind") == "int64_list" and key != "timestep":
                    counts.setdefault(key, Counter())[str(feature_value(feat)[0])] += 1
    return {k: dict(sorted(v.items())) for k, v in sorted(counts.items())}


def test_synth_layout(toy_dataset, capsys):
    code, summary = inspect_json(capsys, toy_dataset)
    assert code == 0 and summary["problems"] == []
    groups = {g["path"]: g for g in summary["groups"]}
    assert [(g["kind"], p) for p, g in groups.items()] == [
        ("labeled", "train/labeled"),
        ("sequences", "train/records"),
        ("labeled", "val/labeled"),
        ("sequences", "val/records"),
    ]
    train = groups["train/records"]
    assert (train["num_sequences"], train["views"], train["timesteps"]) == (4, [2], 96)
    assert train["length"] == {"min": 24, "mean": 24.0, "max": 24} and train["frame_sizes"] == [[32, 32]]
    assert [s["name"] for s in train["sequences"]] == ["toy_0000", "toy_0001", "toy_0002", "toy_0003"]
    val = groups["val/labeled"]
    assert (val["num_frames"], val["num_tasks"], val["views"], val["frame_size"]) == (48, 2, [2], [32, 32])
    assert val["labels"] == label_counts(toy_dataset / "val" / "labeled")

    assert main(["inspect", str(toy_dataset), "--limit", "1"]) == 0
    text = capsys.readouterr().out
    assert "[sequences] train/records: 4 sequence(s) in 4 file(s); views [2]; length min 24" in text
    assert "toy_0000  2 views" in text and "toy_0001" not in text and "... 3 more" in text
    side = val["labels"]["side"]
    assert "    side: " + ", ".join(f"{c}: {n}" for c, n in side.items()) in text


def test_synth_root_with_dataset_json_and_state(toy_dataset, tmp_path, capsys):
    from timecontrast.data.state import SequenceState, save_state

    root = tmp_path / "ds"
    shutil.copytree(toy_dataset / "val", root / "val")
    attributes = [{"name": "side", "classes": ["left", "right"]}]
    (root / "dataset.json").write_text(json.dumps({"world": "toy", "views": 2, "attributes": attributes}))
    state = SequenceState(np.zeros((24, 2)), np.zeros((24, 1)), ["x", "y"], ["vx"], {"side": np.zeros(24, np.int64)})
    for name in ("toy_0004", "toy_0005"):
        save_state(root / "val" / "state" / f"{name}.npz", state)
    code, summary = inspect_json(capsys, root)
    assert code == 0 and summary["dataset"]["world"] == "toy"
    [st] = [g for g in summary["groups"] if g["kind"] == "state"]
    assert (st["path"], st["num_files"], st["timesteps"], st["position_names"]) == ("val/state", 2, 48, ["x", "y"])
    main(["inspect", str(root)])
    text = capsys.readouterr().out
    assert "dataset.json: world=toy, views=2" in text and "side: 0 (left): " in text


def test_pouring_layout_with_a_damaged_file(toy_dataset, tmp_path, capsys):
    root = tmp_path / "multiview-pouring"
    shutil.copytree(toy_dataset / "train" / "records", root / "tfrecords" / "train")
    shutil.copytree(toy_dataset / "val" / "records", root / "tfrecords" / "val")
    shutil.copytree(toy_dataset / "val" / "labeled", root / "monolithic-labeled" / "val")
    bad = root / "tfrecords" / "train" / "toy_0000.tfrecord"  # the first file: the folder's kind comes from the next
    raw = bytearray(bad.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    bad.write_bytes(bytes(raw))
    code, summary = inspect_json(capsys, root)
    assert code == 1
    assert [(g["kind"], g["path"]) for g in summary["groups"]] == [
        ("labeled", "monolithic-labeled/val"),
        ("sequences", "tfrecords/train"),
        ("sequences", "tfrecords/val"),
    ]
    assert summary["groups"][1]["num_sequences"] == 3  # the damaged one is left out ...
    [problem] = summary["problems"]  # ... and named
    assert problem == f"{bad}: record 0 is corrupt (data CRC mismatch); re-create the file"


def test_videos_and_single_files(toy_dataset, tmp_path, capsys):
    frames = np.zeros((5, 24, 32, 3), np.uint8)
    write_video(tmp_path / "s_view0.mp4", frames, fps=10)
    write_video(tmp_path / "s_view1.mp4", frames[:4], fps=10)
    write_video(tmp_path / "lonely_view1.mp4", frames, fps=10)
    code, summary = inspect_json(capsys, tmp_path)
    [g] = summary["groups"]
    assert g["kind"] == "videos" and [(s["name"], s["frames"], s["fps"]) for s in g["sequences"]] == [
        ("s", [5, 4], 10.0)
    ]
    assert g["sequences"][0]["frame_size"] == [24, 32]
    assert code == 1 and "lonely: view(s) [0] missing" in summary["problems"][0]

    code, summary = inspect_json(capsys, tmp_path / "s_view1.mp4")
    assert code == 0 and summary["groups"][0]["frames"] == 4

    code, summary = inspect_json(capsys, toy_dataset / "train" / "records" / "toy_0002.tfrecord")
    assert code == 0 and [s["name"] for s in summary["groups"][0]["sequences"]] == ["toy_0002"]


@pytest.mark.parametrize("name", ["missing", "notes.txt"])
def test_bad_paths(tmp_path, capsys, name):
    (tmp_path / "notes.txt").write_text("hello")
    assert main(["inspect", str(tmp_path / name)]) == 2
    assert "tcn inspect: error: " in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["inspect", str(empty)]) == 2
    assert "holds no .tfrecord records" in capsys.readouterr().err


def test_folder_of_unreadable_records(tmp_path, capsys):
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.tfrecord").write_text("not a record at all, but long enough")
    (tmp_path / "other").mkdir()
    write_records(tmp_path / "other" / "b.tfrecord", [b"\x0a\x00"])  # a valid message of neither kind
    code, summary = inspect_json(capsys, tmp_path)
    assert code == 1 and [g["kind"] for g in summary["groups"]] == ["unknown", "unknown"]
    assert "a.tfrecord: record 0 has a corrupt length" in summary["problems"][0]
    assert "b.tfrecord: record 0 is neither a sequence" in summary["problems"][1]


# ------------------------------------------------- damaged folders (issue 13): no traceback
def copy_records(toy_dataset, tmp_path):
    folder = tmp_path / "records"
    shutil.copytree(toy_dataset / "train" / "records", folder)
    return folder


def test_zero_frame_sequence_is_a_warning(toy_dataset, tmp_path, capsys):
    from timecontrast.data.records import write_sequence_record

    folder = copy_records(toy_dataset, tmp_path)
    blank = folder / "blank.tfrecord"
    write_sequence_record(blank, "blank", [[], []])
    code, summary = inspect_json(capsys, folder)
    assert code == 0 and summary["problems"] == []
    [group] = summary["groups"]
    assert group["num_sequences"] == 5 and group["frame_sizes"] == [[32, 32]]
    assert {"name": "blank", "file": str(blank), "views": 2, "length": 0, "frame_size": None} in group["sequences"]
    [warning] = summary["warnings"]
    assert warning.startswith(f"{blank}: sequence 'blank' has 0 frames; training, evaluation and tcn project skip it")

    assert main(["inspect", str(folder)]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert "1 warning(s):" in captured.out and f"    {blank}: sequence 'blank' has 0 frames" in captured.out
    assert main(["inspect", str(blank)]) == 0  # the file alone
    assert "blank  2 views       0 frames  ?" in capsys.readouterr().out


def test_zero_byte_file_is_a_problem(toy_dataset, tmp_path, capsys):
    folder = copy_records(toy_dataset, tmp_path)
    empty = folder / "toy_0009.tfrecord"
    empty.write_bytes(b"")
    code, summary = inspect_json(capsys, folder)
    assert code == 1
    [group] = summary["groups"]
    assert (group["kind"], group["num_files"], group["empty_files"], group["num_sequences"]) == ("sequences", 5, 1, 4)
    assert summary["problems"] == [
        f"{empty}: empty file (0 bytes, no records), probably an interrupted copy or conversion; "
        "delete it or re-convert it"
    ]
    assert main(["inspect", str(empty)]) == 1  # the file alone
    text = capsys.readouterr().out
    assert "[empty]" in text and f"{empty}: empty file" in text


def test_folder_of_only_empty_files(tmp_path, capsys):
    (tmp_path / "a.tfrecord").write_bytes(b"")
    (tmp_path / "b.tfrecord").write_bytes(b"")
    code, summary = inspect_json(capsys, tmp_path)
    assert code == 1 and [g["kind"] for g in summary["groups"]] == ["empty"]
    assert [p.split(":")[0] for p in summary["problems"]] == [
        str(tmp_path / "a.tfrecord"),
        str(tmp_path / "b.tfrecord"),
    ]


def test_link_loop_and_linked_file_count_once(toy_dataset, tmp_path, capsys):
    folder = copy_records(toy_dataset, tmp_path)
    os.symlink(folder, folder / "loop")
    os.symlink(folder / "toy_0002.tfrecord", folder / "again.tfrecord")
    code, summary = inspect_json(capsys, tmp_path)
    assert code == 0
    [group] = summary["groups"]
    assert (group["path"], group["num_sequences"], group["num_files"]) == ("records", 4, 4)
    assert summary["warnings"] == [
        f"{folder / 'loop'}: leads to {folder.resolve()}, a folder already scanned (a link loop or a second link "
        "to one folder); not followed again",
        f"{folder / 'again.tfrecord'}: the same file as {folder / 'toy_0002.tfrecord'} (reached through a link); "
        "counted once",
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"world": "toy", "views": ', "not valid JSON (Expecting value at line 1, column 27)"),
        ('["toy"]', "must hold a JSON object, got a JSON list"),
        ('{"world": "toy", "attributes": {"side": 2}}', "'attributes' must be a list, got dict"),
        ('{"attributes": [{"name": "side", "classes": "lr"}]}', "attributes[0] ('side'): 'classes' must be a list"),
    ],
)
def test_damaged_dataset_json_is_a_problem(toy_dataset, tmp_path, capsys, content, message):
    root = tmp_path / "ds"
    shutil.copytree(toy_dataset / "val", root / "val")
    (root / "dataset.json").write_text(content)
    code, summary = inspect_json(capsys, root)
    assert code == 1 and summary["dataset"] is None
    [problem] = summary["problems"]
    assert problem.startswith(f"{root / 'dataset.json'}: {message}") and "regenerate the dataset" in problem
    assert len(summary["groups"]) == 2  # the records are still inspected
    assert main(["inspect", str(root)]) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "[sequences] val/records: 2 sequence(s)" in captured.out
    assert f"    {root / 'dataset.json'}: {message}" in captured.out


def test_unlistable_folder_is_a_problem(toy_dataset, tmp_path, capsys, monkeypatch):
    root = tmp_path / "ds"
    shutil.copytree(toy_dataset / "val", root / "val")
    (root / "locked").mkdir()
    real_scandir = os.scandir

    def scandir(path):
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    code, summary = inspect_json(capsys, root)
    assert code == 1 and summary["problems"] == [f"{root / 'locked'}: cannot list it (Permission denied)"]
