"""The input-format framework of `tcn convert`: registry, detection, --cameras, process workers."""

from __future__ import annotations

import logging
import pickle

import numpy as np
import pytest
from PIL import Image

from format_fixtures import FIXTURES
from timecontrast.data.convert import convert_sequences, convert_videos
from timecontrast.data.formats import FORMATS, detect_format, get_format
from timecontrast.data.formats.base import SourceFormat, split_cameras
from timecontrast.data.records import SequenceRecord
from timecontrast.errors import DataError
from timecontrast.io.video import write_video


def write_frame_folders(root, views=("a", "b"), length=6) -> None:
    for v, view in enumerate(views):
        folder = root / "seq" / view
        folder.mkdir(parents=True)
        for t in range(length):
            Image.fromarray(np.full((8, 10, 3), 20 * t + 100 * v, np.uint8)).save(folder / f"{t}.png")


def test_registry_and_detection(tmp_path):
    assert set(FORMATS) >= {"videos", "frames", "tcc", "rlds"}
    assert all(isinstance(f, SourceFormat) and f.name == name for name, f in FORMATS.items())
    with pytest.raises(DataError, match="unknown input format; use one of videos, frames"):
        get_format("hdf5")
    assert detect_format(FIXTURES / "tcc") == "tcc"
    assert detect_format(FIXTURES / "rlds" / "toy_rlds" / "1.0.0") == "rlds"
    assert detect_format(tmp_path) == "videos"  # nothing recognised: the default
    with pytest.raises(DataError, match="is none of the input formats"):
        detect_format(tmp_path, default=None)
    write_frame_folders(tmp_path)
    write_video(tmp_path / "take_view0.mp4", np.zeros((3, 8, 8, 3), np.uint8), fps=5)
    with pytest.raises(DataError, match=r"looks like several input formats \(videos, frames\); say which with --from"):
        detect_format(tmp_path)


def test_every_reader_pickles_for_process_workers(tmp_path):
    write_frame_folders(tmp_path / "frames")
    write_video(tmp_path / "videos" / "take_view0.mp4", np.zeros((3, 8, 8, 3), np.uint8), fps=5)
    sources = {
        "frames": tmp_path / "frames",
        "videos": tmp_path / "videos",
        "tcc": FIXTURES / "tcc",
        "rlds": FIXTURES / "rlds" / "toy_rlds" / "1.0.0",
    }
    for name, path in sources.items():
        sequences, problems = get_format(name).scan(path)
        assert sequences and not problems, name
        seq = sequences[0]
        seq.views()
        for v in range(seq.num_views):
            reader = pickle.loads(pickle.dumps(seq.reader(v)))
            first = next(iter(reader.frames(None)))
            assert first.dtype == np.uint8 and first.ndim == 3, name


def test_a_frame_folder_converts_on_process_workers(tmp_path):
    write_frame_folders(tmp_path / "src")
    result = convert_sequences(tmp_path / "src", tmp_path / "out", progress=False, workers=2, parallel="processes")
    assert result.ok and SequenceRecord(tmp_path / "out" / "seq.tfrecord").length == 6


def test_cameras_pick_and_order_video_views(tmp_path):
    for v in range(3):
        write_video(tmp_path / "src" / f"take_view{v}.mp4", np.full((4, 8, 8, 3), 60 * v, np.uint8), fps=5)
    result = convert_sequences(tmp_path / "src", tmp_path / "out", cameras=["view2", "view0"], progress=False)
    rec = SequenceRecord(result.written[0])
    assert rec.num_views == 2
    assert [round(rec.frame(v, 0).mean() / 60) for v in range(2)] == [2, 0]  # view2 (grey 120), then view0 (0)
    plain = convert_videos(tmp_path / "src", tmp_path / "plain", progress=False)  # the default keeps all views
    assert SequenceRecord(plain.written[0]).num_views == 3
    with pytest.raises(DataError, match="no sequence has the views"):
        convert_sequences(tmp_path / "src", tmp_path / "o", cameras=["view7"], progress=False)
    assert split_cameras(" a, b ,c") == ["a", "b", "c"] and split_cameras("") is None
    with pytest.raises(DataError, match="names \\['a'\\] more than once"):
        split_cameras("a,b,a")


def test_outside_a_records_folder_state_and_labels_are_not_written(tmp_path, caplog):
    write_frame_folders(tmp_path / "src")
    (tmp_path / "src" / "seq" / "labels.csv").write_text("frame,phase\n" + "".join(f"{t},{t // 3}\n" for t in range(6)))
    with caplog.at_level(logging.WARNING, logger="timecontrast.data"):
        result = convert_sequences(tmp_path / "src", tmp_path / "out", progress=False)
    assert result.ok and sorted(p.name for p in tmp_path.iterdir()) == ["out", "src"]
    assert "is not a folder named records: the state and labels" in caplog.text
    convert_sequences(tmp_path / "src", tmp_path / "d" / "train" / "records", progress=False)
    rec = SequenceRecord(tmp_path / "d" / "train" / "records" / "seq.tfrecord")
    np.testing.assert_array_equal(rec.labels["phase"], [0, 0, 0, 1, 1, 1])
