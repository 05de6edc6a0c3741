"""The dataset layout: the paths writers use are the paths readers find, and no other
module spells the folder names."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest

import timecontrast
from timecontrast.data import layout
from timecontrast.data.records import SequenceRecord, write_sequence_record
from timecontrast.data.state import SequenceState, save_state
from timecontrast.data.videos import VideoSequence
from timecontrast.io.jpeg import encode_jpeg


def test_paths_of_a_split_follow_the_documented_layout(tmp_path):
    root = tmp_path / "ds"
    assert layout.dataset_info_path(root) == root / "dataset.json"
    assert layout.records_dir(root, "val") == root / "val" / "records"
    assert layout.labeled_dir(root, "val") == root / "val" / "labeled"
    assert layout.record_path(root, "val", "seq_0001") == root / "val" / "records" / "seq_0001.tfrecord"
    assert layout.labeled_path(root, "val", "seq_0001") == root / "val" / "labeled" / "seq_0001.tfrecord"
    assert layout.state_path(root, "val", "seq_0001") == root / "val" / "state" / "seq_0001.npz"
    assert layout.video_path(root, "val", "seq_0001", 3) == root / "val" / "videos" / "seq_0001_view3.mp4"
    assert layout.split_folders(root, "train") == tuple(
        root / "train" / f for f in ("records", "labeled", "state", "videos")
    )


def test_sequence_paths_list_its_three_files_and_the_videos_that_exist(tmp_path):
    root = tmp_path / "ds"
    first = [layout.record_path(root, "train", "a"), layout.labeled_path(root, "train", "a")]
    first.append(layout.state_path(root, "train", "a"))
    assert layout.sequence_paths(root, "train", "a") == first  # no videos folder: none listed
    for name, view in (("a", 1), ("a", 0), ("ab", 0), ("b", 0)):
        path = layout.video_path(root, "train", name, view)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    videos = root / "train" / "videos"
    assert layout.sequence_paths(root, "train", "a") == [*first, videos / "a_view0.mp4", videos / "a_view1.mp4"]


@pytest.mark.parametrize(
    ("data_file", "name", "state"),
    [
        ("ds/train/records/seq.tfrecord", "seq", "ds/train/state/seq.npz"),
        ("ds/train/records/shard.tfrecord", "seq_shard00", "ds/train/state/seq_shard00.npz"),  # by sequence name
        ("ds/val/videos/seq_view1.mp4", "seq", "ds/val/state/seq.npz"),
        ("records/seq.tfrecord", "seq", "state/seq.npz"),
        ("ds/train/elsewhere/seq.tfrecord", "seq", None),
        ("ds/train/state/seq.npz", "seq", None),
    ],
)
def test_state_sidecar_of_a_data_file(data_file, name, state):
    assert layout.state_path_of(data_file, name) == (None if state is None else Path(state))


def test_dataset_info_of_a_record_file():
    assert layout.dataset_info_path_of("ds/train/records/a.tfrecord") == Path("ds/dataset.json")
    assert layout.dataset_info_path_of("ds/train/videos/a_view0.mp4") is None
    assert layout.dataset_info_path_of("ds/train/a.tfrecord") is None


def test_is_state_file():
    assert layout.is_state_file("ds/train/state/a.npz")
    assert not layout.is_state_file("ds/train/records/a.npz") and not layout.is_state_file("ds/train/state/a.json")


def test_readers_find_what_the_layout_paths_write(tmp_path):
    """A sequence written at the layout's paths: its record and its videos find its state,
    and its record finds the class names of dataset.json."""
    root = tmp_path / "ds"
    jpegs = [[encode_jpeg(np.full((8, 8, 3), 40 * t, np.uint8)) for t in range(3)] for _ in range(2)]
    write_sequence_record(layout.record_path(root, "val", "toy_0000"), "toy_0000", jpegs)
    labels = {"side": np.array([0, 1, 1])}
    state = SequenceState(np.zeros((3, 1)), np.ones((3, 1)), ["x"], ["vx"], labels=labels)
    save_state(layout.state_path(root, "val", "toy_0000"), state)
    layout.dataset_info_path(root).write_text(json.dumps({"attributes": [{"name": "side", "classes": ["l", "r"]}]}))

    record = SequenceRecord(layout.record_path(root, "val", "toy_0000"))
    np.testing.assert_array_equal(record.labels["side"], [0, 1, 1])
    np.testing.assert_array_equal(record.state.velocity, np.ones((3, 1)))
    assert record.class_names == {"side": ["l", "r"]}
    videos = VideoSequence("toy_0000", [layout.video_path(root, "val", "toy_0000", v) for v in range(2)])
    np.testing.assert_array_equal(videos.labels["side"], [0, 1, 1])

    # Outside the layout (a bare folder of records): no sidecars, no class names.
    bare = tmp_path / "bare" / "toy_0000.tfrecord"
    write_sequence_record(bare, "toy_0000", jpegs)
    record = SequenceRecord(bare)
    assert record.state is None and record.labels is None and record.class_names == {}


_FOLDER_NAMES = {"records", "labeled", "state", "videos", "dataset.json"}


def _spelled_paths(path: Path) -> list[str]:
    """``path / "records"``-like joins (and ``joinpath("state")``) of the layout's names."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        parts: list[ast.expr] = []
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            parts = [node.left, node.right]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "joinpath":
            parts = list(node.args)
        found += [
            f"{path}:{node.lineno}: {part.value!r}"
            for part in parts
            if isinstance(part, ast.Constant) and part.value in _FOLDER_NAMES
        ]
    return found


def test_no_module_but_layout_spells_the_dataset_folders(tmp_path):
    package = Path(timecontrast.__file__).parent
    spelled = [
        hit for f in sorted(package.rglob("*.py")) if f != package / "data" / "layout.py" for hit in _spelled_paths(f)
    ]
    assert spelled == [], "use timecontrast.data.layout for these paths"
    sample = tmp_path / "sample.py"  # the check sees what it looks for
    sample.write_text('a = root / "val" / "records"\nb = root.joinpath("dataset.json")\nc = "state" / x\n')
    assert [hit.split(": ")[-1] for hit in _spelled_paths(sample)] == ["'records'", "'dataset.json'", "'state'"]
