"""Video sequences: discovery of <seq>_view<k> files (numeric view order) and frame access."""

from __future__ import annotations

import numpy as np
import pytest

from timecontrast.data.sequence import MultiViewSequence
from timecontrast.data.videos import VideoSequence, find_video_sequences, scan_video_sequences
from timecontrast.errors import DataError, VideoError
from timecontrast.io.video import read_video, write_video


def touch(root, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


def test_views_are_ordered_numerically(tmp_path):
    touch(tmp_path, *[f"take_view{v}.mp4" for v in (10, 2, 0, 11, 1, 3, 4, 5, 6, 7, 8, 9)])
    [seq] = find_video_sequences(tmp_path, expected_views=12)
    assert [p.name for p in seq.paths] == [f"take_view{v}.mp4" for v in range(12)]


def test_names_are_relative_paths_and_other_files_are_ignored(tmp_path):
    touch(
        tmp_path,
        "train/pour_1_view0.mp4",
        "train/pour_1_view1.mp4",
        "train/deep/pour_2_view_00.MOV",
        "train/deep/pour_2_view_01.MOV",
        "b_view0.avi",
        "b_view1.avi",
        "train/.pour_3_view0.mp4.x7.mp4",  # an interrupted writer's temporary file
        "train/pour_1_view0.json",
        "train/readme.txt",
        ".hidden/c_view0.mp4",
    )
    seqs = find_video_sequences(tmp_path)
    assert [s.name for s in seqs] == ["b", "train/deep/pour_2", "train/pour_1"]
    assert [p.name for p in seqs[1].paths] == ["pour_2_view_00.MOV", "pour_2_view_01.MOV"]


def test_problems_are_collected_and_reported(tmp_path):
    touch(
        tmp_path,
        "gap_view0.mp4",
        "gap_view2.mp4",
        "dup_view0.mp4",
        "dup_view00.mp4",
        "dup_view1.mp4",
        "three_view0.mp4",
        "three_view1.mp4",
        "three_view2.mp4",
        "ok_view0.mp4",
        "ok_view1.mp4",
    )
    seqs, problems = scan_video_sequences(tmp_path, expected_views=2)
    assert [s.name for s in seqs] == ["ok"]
    msgs = {p.name: p.message for p in problems}
    assert "view(s) [1] missing" in msgs["gap"]
    assert "view 0 is given by several files ['dup_view0.mp4', 'dup_view00.mp4']" in msgs["dup"]
    assert "has 3 views but --expected_views is 2" in msgs["three"]
    with pytest.raises(DataError, match=r"3 sequence\(s\) cannot be used:\n  dup: .*\n  gap: .*\n  three: "):
        find_video_sequences(tmp_path, expected_views=2)


def test_view_pattern(tmp_path):
    touch(tmp_path, "s-cam1.mp4", "s-cam0.mp4", "s_view0.mp4")
    [seq] = find_video_sequences(tmp_path, view_pattern=r"-cam(\d+)\.mp4$")
    assert seq.name == "s" and [p.name for p in seq.paths] == ["s-cam0.mp4", "s-cam1.mp4"]
    with pytest.raises(DataError, match="must capture the view number in a group"):
        find_video_sequences(tmp_path, view_pattern=r"_view\d+")
    with pytest.raises(DataError, match="not a valid regular expression"):
        find_video_sequences(tmp_path, view_pattern=r"_view(\d+")


def test_bad_directories(tmp_path):
    with pytest.raises(DataError, match="no such directory"):
        find_video_sequences(tmp_path / "missing")
    touch(tmp_path, "notes.txt", "clip.mp4")
    with pytest.raises(DataError, match="holds no videos named <seq>_view<k>"):
        find_video_sequences(tmp_path)


def colour_frames(n: int, colour: tuple[int, int, int], h: int = 24, w: int = 32) -> np.ndarray:
    frames = np.zeros((n, h, w, 3), np.uint8)
    frames[:] = colour
    for t in range(n):
        frames[t, :, 2 * t : 2 * t + 4] = 255  # a bar moving right: frames differ
    return frames


def test_video_sequence_frames(tmp_path):
    write_video(tmp_path / "s_view0.mp4", colour_frames(8, (200, 30, 30)), fps=12)
    write_video(tmp_path / "s_view1.mp4", colour_frames(6, (30, 30, 200)), fps=12)
    [seq] = find_video_sequences(tmp_path)
    assert isinstance(seq, MultiViewSequence)
    assert (seq.num_views, seq.view_lengths, seq.length, seq.fps, seq.frame_size) == (2, [8, 6], 6, 12.0, (24, 32))
    decoded = [read_video(p) for p in seq.paths]
    for v, t in [(0, 3), (0, 5), (0, 1), (1, 0), (1, 5), (1, 5), (0, 0)]:  # forwards, backwards, repeats
        assert np.array_equal(seq.frame(v, t), decoded[v][t])
    assert np.array_equal(seq.frames(1, [1, 2, 4]), decoded[1][[1, 2, 4]])
    assert seq.jpeg(0, 2)[:2] == b"\xff\xd8"
    with pytest.raises(IndexError, match="timestep 6 out of range"):
        seq.frame(0, 6)  # view 0 has 8 frames, but the sequence is cut to the shortest view
    assert seq.labels is None and seq.state is None
    seq.close()


def test_unreadable_video_names_the_file(tmp_path):
    (tmp_path / "s_view0.mp4").write_bytes(b"not a video")
    seq = VideoSequence("s", [tmp_path / "s_view0.mp4"])
    with pytest.raises(VideoError, match=r"s_view0\.mp4: cannot open video"):
        _ = seq.length


def test_a_link_loop_does_not_multiply_sequences(tmp_path):
    frames = np.zeros((3, 8, 8, 3), np.uint8)
    for v in range(2):
        write_video(tmp_path / "sub" / f"a_view{v}.mp4", frames, fps=10)
    (tmp_path / "sub" / "loop").symlink_to(tmp_path)  # sub/loop -> the root, which holds sub
    sequences, problems = scan_video_sequences(tmp_path, None)
    assert [s.name for s in sequences] == ["sub/a"] and problems == []
