"""`tcn convert --from frames`: frame folders <seq>/<view>/, <seq>_view<k>/ and <seq>/*.png."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from timecontrast.cli.main import main
from timecontrast.data.convert import convert_sequences
from timecontrast.data.formats import detect_format
from timecontrast.data.formats.frames import FramesFormat
from timecontrast.data.labeled import iter_labeled_frames
from timecontrast.data.records import SequenceRecord
from timecontrast.errors import DataError

H, W = 12, 16


def frame(seq: int, view: int, t: int) -> np.ndarray:
    """Smooth, distinct per sequence, view and time (JPEG keeps it within a few levels)."""
    y, x = np.mgrid[0:H, 0:W]
    img = np.stack([x * 8 + 10 * t, y * 10 + 60 * view, np.full_like(x, 30 * seq + 5 * t)], -1)
    return np.clip(img, 0, 255).astype(np.uint8)


def write_frames(folder, seq: int, view: int, length: int, ext: str = "png", start: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for t in range(length):
        Image.fromarray(frame(seq, view, t)).save(folder / f"frame_{start + t}.{ext}")


def convert(src, out, **kwargs):
    return convert_sequences(src, out, **{"progress": False, "workers": 2, **kwargs})


def assert_frames(record: SequenceRecord, view: int, expected: np.ndarray) -> None:
    got = record.frames(view, range(record.length)).astype(int)
    assert got.shape == expected.shape
    assert np.abs(got - expected).mean() < 3, np.abs(got - expected).mean()


@pytest.fixture()
def dataset(tmp_path):
    """two sequences of views left/right (12 frames: frame_10 sorts after frame_9), labels for one."""
    src = tmp_path / "src"
    for s, name in enumerate(["pour_1", "pour_2"]):
        for v, cam in enumerate(["left", "right"]):
            write_frames(src / name / cam, s, v, 12, "png" if v == 0 else "jpg")
    rows = "".join(f"{t},{t // 4},{int(t > 5)}\n" for t in reversed(range(12)))  # any row order
    (src / "pour_1" / "labels.csv").write_text("frame,phase,contact\n" + rows)
    return src


def test_views_labels_and_state_land_beside_the_records(dataset, tmp_path):
    out = tmp_path / "data" / "train" / "records"
    code = main(["convert", "--input_dir", str(dataset), "--output_dir", str(out), "--cameras", "right,left"])
    assert code == 0
    rec = SequenceRecord(out / "pour_1.tfrecord")
    assert rec.num_views == 2 and rec.length == 12
    # --cameras right,left: view0 of the records is the right camera; frames in natural order
    assert_frames(rec, 0, np.stack([frame(0, 1, t) for t in range(12)]))
    assert_frames(rec, 1, np.stack([frame(0, 0, t) for t in range(12)]))
    labels = rec.labels
    assert labels is not None and sorted(labels) == ["contact", "phase"]
    np.testing.assert_array_equal(labels["phase"], np.arange(12) // 4)
    labeled = list(iter_labeled_frames(tmp_path / "data" / "train" / "labeled" / "pour_1.tfrecord"))
    assert [f.timestep for f in labeled] == list(range(12)) and labeled[5].labels == {"contact": 0, "phase": 1}
    assert labeled[5].images[0] == rec.jpeg(0, 5)  # the same JPEGs as the record
    # pour_2 has no labels: no state, no labeled records
    assert SequenceRecord(out / "pour_2.tfrecord").state is None
    assert not (tmp_path / "data" / "train" / "labeled" / "pour_2.tfrecord").exists()
    settings = json.loads((out / "pour_1.convert.json").read_text())
    assert settings["settings"]["from"] == "frames" and [v["view"] for v in settings["settings"]["views"]] == [
        "right",
        "left",
    ]
    assert settings["sidecars"] == ["../state/pour_1.npz", "../labeled/pour_1.tfrecord"]
    # a re-run skips; a changed labels file converts that sequence again
    again = convert(dataset, out, cameras=["right", "left"])
    assert again.written == [] and len(again.skipped) == 2
    (dataset / "pour_1" / "labels.csv").write_text("frame,phase\n" + "".join(f"{t},{t % 2}\n" for t in range(12)))
    redo = convert(dataset, out, cameras=["right", "left"])
    assert [p.name for p in redo.written] == ["pour_1.tfrecord"]
    np.testing.assert_array_equal(SequenceRecord(out / "pour_1.tfrecord").labels["phase"], np.arange(12) % 2)


def test_numbered_view_folders_and_one_view_folders(tmp_path):
    numbered, single = tmp_path / "numbered", tmp_path / "single"
    for v in (1, 0):
        write_frames(numbered / f"take_view{v}", 0, v, 5)
    write_frames(single / "video_3", 1, 0, 4)
    write_frames(single / "video_12", 2, 0, 6)
    assert detect_format(numbered) == "frames" and detect_format(single) == "frames"
    sequences, problems = FramesFormat().scan(numbered)
    assert problems == [] and [(s.name, s.view_names) for s in sequences] == [("take", ["view0", "view1"])]
    sequences, _ = FramesFormat().scan(single)
    assert [(s.name, s.view_names) for s in sequences] == [("video_3", ["view0"]), ("video_12", ["view0"])]
    out = tmp_path / "out"
    assert convert(numbered, out).ok
    rec = SequenceRecord(out / "take.tfrecord")
    assert_frames(rec, 1, np.stack([frame(0, 1, t) for t in range(5)]))


def test_bad_sequences_fail_alone_naming_the_file(dataset, tmp_path, capsys):
    (dataset / "pour_2" / "right" / "frame_7.jpg").unlink()  # a gap in the numbering
    write_frames(dataset / "pour_3" / "left", 3, 0, 4)
    write_frames(dataset / "pour_3" / "right", 3, 1, 4)
    (dataset / "pour_3" / "right" / "frame_2.jpg").write_bytes(b"not a jpeg")  # undecodable
    write_frames(dataset / "pour_4" / "left", 4, 0, 4)
    write_frames(dataset / "pour_4" / "right", 4, 1, 4)
    (dataset / "pour_4" / "labels.csv").write_text("frame,phase\n0,0\n1,0\n3,1\n")  # frame 2 unlabelled
    write_frames(dataset / "pour_5" / "left", 5, 0, 4)  # no right camera
    out = tmp_path / "out"
    code = main(["convert", "--input_dir", str(dataset), "--output_dir", str(out), "--from", "frames"])
    err = capsys.readouterr().err
    assert code == 1, err
    failed = {line.split(":")[0].strip(): line for line in err.splitlines() if line.startswith("  pour_")}
    assert sorted(failed) == ["pour_2", "pour_3", "pour_4", "pour_5"], err
    assert f"{dataset / 'pour_2' / 'right'}: frame(s) 7 missing" in failed["pour_2"]
    assert f"{dataset / 'pour_3' / 'right' / 'frame_2.jpg'}: cannot decode image" in failed["pour_3"]
    assert f"{dataset / 'pour_4' / 'labels.csv'}: frame(s) 2 have no labels" in failed["pour_4"]
    assert f"{dataset / 'pour_5'}: has no camera 'right'" in failed["pour_5"]
    assert sorted(p.name for p in out.glob("*.tfrecord")) == ["pour_1.tfrecord"]  # the good one
    assert not [p for p in out.rglob(".*")]  # no temporaries


def test_unequal_views_beyond_the_limit_fail(dataset, tmp_path):
    write_frames(dataset / "pour_2" / "right", 1, 1, 3, "jpg", start=12)  # right: 15 frames, left: 12
    result = convert(dataset, tmp_path / "out", max_views_discrepancy=2)
    assert sorted(result.failed) == ["pour_2"]
    assert "views have {'left': 12, 'right': 15} frames" in result.failed["pour_2"]
    assert str(dataset / "pour_2") in result.failed["pour_2"]


def test_a_camera_nobody_has_is_one_line_exit_2(dataset, tmp_path, capsys):
    code = main(["convert", "--input_dir", str(dataset), "--output_dir", str(tmp_path / "out"), "--cameras", "top"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("tcn convert: error: ") and "no sequence has the views ['top']" in err[-1]
    assert str(dataset) in err[-1]


def test_a_missing_folder_is_one_line_exit_2(tmp_path, capsys):
    code = main(["convert", "--from", "frames", "--input_dir", str(tmp_path / "nope"), "--output_dir", str(tmp_path)])
    assert code == 2
    assert capsys.readouterr().err.strip() == f"tcn convert: error: {tmp_path / 'nope'}: no such file or directory"


def test_labels_csv_errors(tmp_path):
    from timecontrast.data.formats.frames import read_labels_csv

    path = tmp_path / "labels.csv"
    path.write_text("t,phase\n0,1\n")
    with pytest.raises(DataError, match="needs a header row with a 'frame' column"):
        read_labels_csv(path, 1)
    path.write_text("frame,phase\n0,one\n")
    with pytest.raises(DataError, match="line 2: frame and labels must be integers"):
        read_labels_csv(path, 1)
    path.write_text("frame,phase\n0,1\n0,2\n")
    with pytest.raises(DataError, match="frame 0 is labelled twice"):
        read_labels_csv(path, 1)
