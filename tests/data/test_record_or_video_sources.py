"""open_sequence_source: records or videos, from a file, a folder or a glob."""

from __future__ import annotations

import numpy as np
import pytest

from timecontrast.data.records import SequenceRecord, write_sequence_record
from timecontrast.data.sources import open_sequence_source
from timecontrast.data.videos import VideoSequence
from timecontrast.errors import DataError
from timecontrast.io.jpeg import encode_jpeg
from timecontrast.io.video import write_video


def _frames(n: int, shade: int) -> np.ndarray:
    return np.full((n, 32, 32, 3), shade, np.uint8)


@pytest.fixture
def videos(tmp_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    for v in range(2):
        write_video(folder / f"ep_view{v}.mp4", _frames(4, 40 + 80 * v), fps=10.0)
    write_video(folder / "plain.mp4", _frames(3, 200), fps=10.0)
    return folder


def test_records_file_folder_and_glob(tmp_path):
    folder = tmp_path / "records"
    for name in ("a", "b"):
        write_sequence_record(folder / f"{name}.tfrecord", name, [[encode_jpeg(f) for f in _frames(3, 90)]])
    one = open_sequence_source(folder / "a.tfrecord")
    assert [s.name for s in one] == ["a"] and isinstance(one[0], SequenceRecord)
    assert [s.name for s in open_sequence_source(folder)] == ["a", "b"]
    assert [s.name for s in open_sequence_source(str(folder / "*.tfrecord"))] == ["a", "b"]


def test_video_folder_file_and_glob(videos):
    found = open_sequence_source(videos)
    assert [(s.name, s.num_views, s.length) for s in found] == [("ep", 2, 4), ("plain", 1, 3)]
    assert all(isinstance(s, VideoSequence) for s in found)
    # one named file is one view, named without its _view<k> suffix (so its state sidecar is found)
    single = open_sequence_source(videos / "ep_view1.mp4")
    assert [(s.name, s.num_views) for s in single] == [("ep", 1)]
    assert single[0].paths == [videos / "ep_view1.mp4"]
    assert int(single[0].frame(0, 0)[0, 0, 0]) == pytest.approx(120, abs=8)
    globbed = open_sequence_source(str(videos / "*view*.mp4"))
    assert [(s.name, s.paths[0].name) for s in globbed] == [("ep", "ep_view0.mp4"), ("ep", "ep_view1.mp4")]


def test_bad_sources(tmp_path, videos):
    with pytest.raises(DataError, match="no such file or directory"):
        open_sequence_source(tmp_path / "missing.tfrecord")
    with pytest.raises(DataError, match="no file matches"):
        open_sequence_source(str(tmp_path / "none*.mp4"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no .tfrecord files and no videos"):
        open_sequence_source(tmp_path / "empty")
    (videos / "notes.txt").write_text("x")
    with pytest.raises(DataError, match="both videos"):
        open_sequence_source(str(videos / "*"))
    write_video(videos / "gap_view1.mp4", _frames(2, 10), fps=10.0)  # view 0 missing
    with pytest.raises(DataError, match="gap"):
        open_sequence_source(videos)
