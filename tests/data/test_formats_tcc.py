"""`tcn convert --from tcc` on TCC TFRecords written by TensorFlow (fixtures/make_tfrecord_fixtures.py)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from format_fixtures import FIXTURES, assert_same_frames, tensorflow_expected
from timecontrast.cli.inspect import summarize
from timecontrast.cli.main import main
from timecontrast.data.convert import convert_sequences
from timecontrast.data.formats import detect_format
from timecontrast.data.labeled import iter_labeled_frames
from timecontrast.data.records import SequenceRecord, write_sequence_record
from timecontrast.io.example import SequenceExample, bytes_feature, int64_feature
from timecontrast.io.jpeg import encode_jpeg
from timecontrast.io.tfrecord import write_records

TCC_FILE = FIXTURES / "tcc" / "pouring_toy-0-of-1.tfrecord"


@pytest.fixture(scope="module")
def expected():
    return tensorflow_expected()


def test_tcc_videos_become_one_view_records_with_phase_labels(tmp_path, expected):
    assert detect_format(FIXTURES / "tcc") == "tcc"
    out = tmp_path / "data" / "train" / "records"
    assert main(["convert", "--input_dir", str(FIXTURES / "tcc"), "--output_dir", str(out)]) == 0
    for name in ("pour_a", "pour_b"):
        rec = SequenceRecord(out / f"{name}.tfrecord")
        video = expected[f"tcc/{name}/video"]
        assert rec.name == name and rec.num_views == 1 and rec.length == len(video)
        assert_same_frames(rec.frames(0, range(rec.length)), video)
        np.testing.assert_array_equal(rec.labels["phase"], expected[f"tcc/{name}/frame_labels"])
        labeled = list(iter_labeled_frames(tmp_path / "data" / "train" / "labeled" / f"{name}.tfrecord"))
        assert [f.labels["phase"] for f in labeled] == expected[f"tcc/{name}/frame_labels"].tolist()
        assert {f.task for f in labeled} == {name}
    summary = summarize(FIXTURES / "tcc")
    [group] = summary["groups"]
    assert group["format"] == "tcc" and group["views"] == [["video"]] and group["timesteps"] == 11
    assert [(s["name"], s["frames"], s["labels"]) for s in group["sequences"]] == [
        ("pour_a", [6], ["phase"]),
        ("pour_b", [5], ["phase"]),
    ]


def tcc_record(name: str, frames: list[bytes], length: int, labels: list[int] | None = None) -> bytes:
    ex = SequenceExample()
    ex.context.feature["name"].CopyFrom(bytes_feature(name.encode()))
    ex.context.feature["len"].CopyFrom(int64_feature(length))
    for jpeg in frames:
        ex.feature_lists.feature_list["video"].feature.add().CopyFrom(bytes_feature(jpeg))
    for label in labels or []:
        ex.feature_lists.feature_list["frame_labels"].feature.add().CopyFrom(int64_feature(label))
    return ex.SerializeToString()


def test_bad_videos_fail_alone_naming_file_and_record(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(TCC_FILE, src / "good.tfrecord")
    jpeg = encode_jpeg(np.full((8, 8, 3), 99, np.uint8))
    write_records(
        src / "bad.tfrecord",
        [
            tcc_record("wrong_len", [jpeg] * 3, 4),  # len says 4, 3 frames
            tcc_record("short_labels", [jpeg] * 3, 3, [0, 1]),  # 2 labels for 3 frames
            tcc_record("broken_jpeg", [jpeg, b"\xff\xd8garbage"], 2),  # frame 1 undecodable
            tcc_record("fine", [jpeg] * 2, 2),
        ],
    )
    out = tmp_path / "out"
    code = main(["convert", "--input_dir", str(src), "--output_dir", str(out), "--from", "tcc"])
    err = capsys.readouterr().err
    assert code == 1, err
    assert f"{src / 'bad.tfrecord'} record 0 ('wrong_len'): context len is 4 but 'video' holds 3 frames" in err
    assert f"{src / 'bad.tfrecord'} record 1 ('short_labels'): 'frame_labels' has 2 entries for 3 frames" in err
    assert f"{src / 'bad.tfrecord'} record 2 ('video') frame 1: cannot decode image" in err
    assert sorted(p.name for p in out.glob("*.tfrecord")) == ["fine.tfrecord", "pour_a.tfrecord", "pour_b.tfrecord"]


def test_a_truncated_file_fails_its_videos_only(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(TCC_FILE, src / "a.tfrecord")
    (src / "b.tfrecord").write_bytes(TCC_FILE.read_bytes()[:-100])  # cut short inside pour_b
    result = convert_sequences(src, tmp_path / "out", "tcc", progress=False, workers=1)
    assert "b.tfrecord" in result.failed and "truncated" in result.failed["b.tfrecord"]
    assert [p.name for p in result.written] == ["pour_a.tfrecord", "pour_b.tfrecord"]  # from a.tfrecord


def test_not_a_tcc_file_and_an_unknown_camera_are_one_line_exit_2(tmp_path, capsys):
    ours = tmp_path / "ours"
    write_sequence_record(ours / "seq.tfrecord", "seq", [[encode_jpeg(np.zeros((4, 4, 3), np.uint8))]])
    code = main(["convert", "--from", "tcc", "--input_dir", str(ours), "--output_dir", str(tmp_path / "o")])
    line = capsys.readouterr().err.strip()
    assert code == 2 and line.count("\n") == 0
    assert line.startswith(f"tcn convert: error: {ours / 'seq.tfrecord'} record 0: not a TCC video")
    code = main(
        ["convert", "--input_dir", str(FIXTURES / "tcc"), "--output_dir", str(tmp_path / "o"), "--cameras", "top"]
    )
    line = capsys.readouterr().err.strip()
    assert code == 2 and "has no camera 'top'" in line and "the one view 'video'" in line
