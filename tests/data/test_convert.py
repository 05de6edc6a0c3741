"""`tcn convert` on tiny generated videos: records, shards, resume, bad inputs, CLI."""

from __future__ import annotations

import errno
import itertools
import json
import re
import shutil

import numpy as np
import pytest

import timecontrast.data.convert as convert_module
import timecontrast.data.convert_outputs as outputs_module
from timecontrast.cli.main import main
from timecontrast.data.convert import Shard, convert_videos, output_size, shard_ranges, video_jpegs
from timecontrast.data.records import SequenceRecord, open_sequences, write_sequence_record
from timecontrast.errors import DataError, VideoError
from timecontrast.io.jpeg import encode_jpeg
from timecontrast.io.video import read_video, write_video

H, W = 24, 32


def convert(*args, **kwargs):
    """convert_videos without a progress bar."""
    return convert_videos(*args, **{"progress": False, **kwargs})


def view_frames(n: int, view: int) -> np.ndarray:
    """Per view a different colour; a bright bar moving right over time."""
    frames = np.zeros((n, H, W, 3), np.uint8)
    frames[:] = (40 + 60 * (view % 3), 200 - 50 * (view % 4), 90)
    for t in range(n):
        frames[t, :, (2 * t) % (W - 4) : (2 * t) % (W - 4) + 4] = 250
    return frames


def make_sequence(root, name: str, lengths: list[int]) -> None:
    for v, n in enumerate(lengths):
        write_video(root / f"{name}_view{v}.mp4", view_frames(n, v), fps=10)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    make_sequence(root, "a", [15, 15])
    make_sequence(root / "sub", "b", [12, 13])
    return root


@pytest.fixture(scope="module")
def converted(videos, tmp_path_factory):
    out = tmp_path_factory.mktemp("records")
    result = convert(videos, out)
    return out, result


def hidden_files(root) -> list[str]:
    return [p.name for p in root.rglob(".*")]


def test_one_record_per_sequence(videos, converted):
    out, result = converted
    assert result.ok and sorted(p.relative_to(out).as_posix() for p in result.written) == [
        "a.tfrecord",
        "sub/b.tfrecord",
    ]
    assert result.frames_encoded == 2 * 15 + 2 * 12
    seqs = open_sequences(out)
    assert [(s.name, s.num_views, s.length, s.frame_size) for s in seqs] == [
        ("a", 2, 15, (H, W)),
        ("sub/b", 2, 12, (H, W)),  # cut to the shorter view
    ]
    source = read_video(videos / "sub" / "b_view1.mp4")
    for t in (0, 5, 11):  # each JPEG is the decoded video frame (JPEG q90: close, not equal)
        assert np.abs(seqs[1].frame(1, t).astype(int) - source[t]).mean() < 3
    assert hidden_files(out) == []


def test_shard_ranges_follow_the_original():
    assert shard_ranges("s", 10, -1) == [Shard("s", 0, 10)]
    assert shard_ranges("s", 10, 10) == [Shard("s", 0, 10)]
    # 800 frames, 400 per shard: floor(800/400)+1 = 3 shards of ceil(800/3) = 267.
    assert [(s.name, s.length) for s in shard_ranges("s", 800, 400)] == [
        ("s_shard00", 267),
        ("s_shard01", 267),
        ("s_shard02", 266),
    ]
    assert [s.length for s in shard_ranges("s", 401, 400)] == [201, 200]
    assert [s.length for s in shard_ranges("s", 3, 1)] == [1, 1, 1]  # no empty fourth shard
    for length, limit in [(1000, 7), (57, 5), (401, 400)]:
        shards = shard_ranges("s", length, limit)
        assert shards[0].start == 0 and shards[-1].stop == length
        assert all(a.stop == b.start for a, b in itertools.pairwise(shards))
        assert max(s.length for s in shards) <= limit


def test_sharded_conversion(videos, converted, tmp_path):
    result = convert(videos, tmp_path, max_per_shard=5)
    names = sorted(p.relative_to(tmp_path).as_posix() for p in result.written)
    assert names == [f"a_shard0{i}.tfrecord" for i in range(4)] + [f"sub/b_shard0{i}.tfrecord" for i in range(3)]
    whole = {s.name: s for s in open_sequences(converted[0])}
    start = {"a": 0, "sub/b": 0}
    shards = open_sequences(tmp_path)
    assert [(s.name, s.length, s.stored_length) for s in shards] == [
        ("a_shard00", 4, 4),
        ("a_shard01", 4, 4),
        ("a_shard02", 4, 4),
        ("a_shard03", 3, 3),
        ("sub/b_shard00", 4, 4),
        ("sub/b_shard01", 4, 4),
        ("sub/b_shard02", 4, 4),
    ]
    for shard in shards:
        base = shard.name.rsplit("_shard", 1)[0]
        for v in range(2):  # the same JPEG bytes as the unsharded record, in order
            got = [shard.jpeg(v, t) for t in range(shard.length)]
            assert got == [whole[base].jpeg(v, start[base] + t) for t in range(shard.length)]
        start[base] += shard.length
    assert start == {"a": 15, "sub/b": 12}


def test_resume_skips_complete_outputs_and_rewrites_others(videos, tmp_path):
    first = convert(videos, tmp_path)
    stamps = {p: p.stat().st_mtime_ns for p in first.written}
    again = convert(videos, tmp_path)
    assert again.written == [] and sorted(again.skipped) == sorted(first.written) and again.frames_encoded == 0
    assert {p: p.stat().st_mtime_ns for p in first.written} == stamps

    forced = convert(videos, tmp_path, overwrite=True)
    assert sorted(forced.written) == sorted(first.written) and forced.skipped == []

    a, b = tmp_path / "a.tfrecord", tmp_path / "sub" / "b.tfrecord"
    write_sequence_record(a, "a", [[encode_jpeg(view_frames(1, 0)[0])] * 3] * 2)  # wrong length
    b.write_bytes(b.read_bytes()[:-100])  # truncated
    mended = convert(videos, tmp_path)
    assert sorted(mended.written) == sorted([a, b]) and mended.skipped == []
    assert SequenceRecord(a).length == 15 and SequenceRecord(b).length == 12

    resized = convert(videos, tmp_path, resize_min_edge=12)  # other settings
    assert len(resized.written) == 2 and SequenceRecord(a).frame_size == (12, 16)


def test_a_failing_input_in_the_middle(tmp_path, monkeypatch):
    src, out = tmp_path / "in", tmp_path / "out"
    for name in ("a", "b", "c", "d"):
        make_sequence(src, name, [10, 10])
    (src / "b_view1.mp4").write_bytes(b"\x00" * 500)  # unreadable: fails when probed
    real = convert_module.iter_video_frames

    def failing(path, size=None):  # c_view1 breaks after 6 frames: fails while decoding
        for t, frame in enumerate(real(path, size)):
            if path.name == "c_view1.mp4" and t == 6:
                raise VideoError(f"{path}: decoding failed (simulated)")
            yield frame

    monkeypatch.setattr(convert_module, "iter_video_frames", failing)
    seen = []
    result = convert(src, out, max_per_shard=4, on_sequence=lambda n, s: seen.append((n, s)))
    assert sorted(seen) == [("a", "written"), ("b", "failed"), ("c", "failed"), ("d", "written")]
    assert result.failed["b"].endswith(
        "b_view1.mp4: cannot open video (Invalid data found when processing input); is it a complete video file?"
    )
    assert "c_view1.mp4: decoding failed (simulated)" in result.failed["c"]
    # a and d complete; nothing of b or c (c's view 0 and its first shard were fine), no temporary files.
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{s}_shard0{i}.tfrecord" for s in "ad" for i in range(3)] + ["a.convert.json", "d.convert.json"]
    )


def test_views_ordered_numerically_beyond_ten(tmp_path):
    src = tmp_path / "in"
    for v in range(11):
        frames = np.full((3, 16, 16, 3), (20 * v, 240 - 20 * v, 100), np.uint8)
        write_video(src / f"many_view{v}.mp4", frames, fps=10)
    result = convert(src, tmp_path / "out", expected_views=11)
    rec = SequenceRecord(result.written[0])
    means = [rec.frame(v, 1)[..., 0].mean() for v in range(11)]
    assert np.allclose(means, [20 * v for v in range(11)], atol=6)  # view10 is last, after view2
    wrong = convert(src, tmp_path / "out2", expected_views=2)
    assert "has 11 views but --expected_views is 2" in wrong.failed["many"]


def test_views_discrepancy(tmp_path):
    make_sequence(tmp_path / "in", "s", [10, 14])
    strict = convert(tmp_path / "in", tmp_path / "out", max_views_discrepancy=3)
    assert "views have [10, 14] frames, differing by 4 > --max_views_discrepancy 3" in strict.failed["s"]
    assert not (tmp_path / "out" / "s.tfrecord").exists()
    loose = convert(tmp_path / "in", tmp_path / "out", max_views_discrepancy=4)
    assert loose.ok and SequenceRecord(tmp_path / "out" / "s.tfrecord").length == 10


def test_rotation_and_resize(videos, tmp_path):
    result = convert(videos, tmp_path, rotate=90, rotate_if_matching=r"a_view1", resize_min_edge=12)
    a = SequenceRecord(tmp_path / "a.tfrecord")
    assert a.frame(0, 0).shape == (12, 16, 3)  # not matching: only resized
    rotated = a.frame(1, 0)
    assert rotated.shape == (16, 12, 3)
    # Clockwise: the bright bar in the leftmost columns at t=0 ends up in the top rows.
    assert rotated[:2].mean() > 200 and rotated[-4:].mean() < 200
    assert SequenceRecord(tmp_path / "sub" / "b.tfrecord").frame(1, 0).shape == (12, 16, 3)
    assert len(result.written) == 2
    with pytest.raises(DataError, match="only 0, 90, 180 or 270"):
        convert(videos, tmp_path, rotate=45)


def test_output_size():
    assert output_size(360, 640) == (360, 640)
    assert output_size(360, 640, 180) == (180, 320)
    assert output_size(36, 48, 20) == (20, 26)  # 26.67 rounded to an even width
    assert output_size(640, 360, 180) == (320, 180)
    assert output_size(360, 640, 0, 90) == (640, 360)
    assert output_size(360, 640, 180, 270) == (320, 180)


def test_processes_write_the_same_bytes(videos, converted, tmp_path):
    result = convert(videos, tmp_path, parallel="processes", workers=2)
    assert result.ok
    for path in converted[1].written:
        assert (tmp_path / path.relative_to(converted[0])).read_bytes() == path.read_bytes()


def test_video_shorter_than_promised(videos):
    with pytest.raises(VideoError, match=r"a_view0\.mp4: ends after 15 decodable frames"):
        video_jpegs(videos / "a_view0.mp4", 20)
    assert len(video_jpegs(videos / "a_view0.mp4", 4)) == 4


def test_cli(videos, tmp_path, capsys):
    assert main(["convert", "--input_dir", str(videos), "--output_dir", str(tmp_path / "out"), "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "2 file(s) written, 0 already complete and skipped, 0 sequence(s) failed; 54 frames encoded" in out

    src = tmp_path / "in"
    shutil.copytree(videos, src)
    (src / "sub" / "b_view0.mp4").unlink()
    assert main(["convert", "--input_dir", str(src), "--output_dir", str(tmp_path / "out2"), "--workers", "1"]) == 1
    err = capsys.readouterr().err
    assert "1 sequence(s) failed and were not written:\n  sub/b: view(s) [0] missing" in err

    assert main(["convert", "--input_dir", str(tmp_path / "nope"), "--output_dir", str(tmp_path)]) == 2
    assert "tcn convert: error: " in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["convert", "--input_dir", str(videos), "--output_dir", str(tmp_path), "--rotate", "45"])
    assert exc.value.code == 2
    assert "invalid choice: 45" in capsys.readouterr().err


def record_names(root) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.tfrecord"))


def test_a_rerun_with_a_size_keeping_rotation_applies_it(videos, tmp_path):
    convert(videos, tmp_path)
    upright = SequenceRecord(tmp_path / "a.tfrecord").frame(1, 3)
    turned = convert(videos, tmp_path, rotate=180)  # same frame size: the old check could not tell
    assert sorted(turned.written) == [tmp_path / "a.tfrecord", tmp_path / "sub" / "b.tfrecord"]
    assert turned.skipped == []
    rotated = SequenceRecord(tmp_path / "a.tfrecord").frame(1, 3)
    assert np.abs(rotated.astype(int) - np.rot90(upright, 2)).mean() < 3
    again = convert(videos, tmp_path, rotate=180)  # identical settings: resume skips
    assert again.written == [] and len(again.skipped) == 2


def test_changing_max_per_shard_replaces_all_old_files(videos, tmp_path):
    convert(videos, tmp_path, max_per_shard=5)
    assert len(record_names(tmp_path)) == 7
    resharded = convert(videos, tmp_path, max_per_shard=8)
    assert record_names(tmp_path) == [
        "a_shard00.tfrecord",
        "a_shard01.tfrecord",
        "sub/b_shard00.tfrecord",
        "sub/b_shard01.tfrecord",
    ]
    assert sorted(p.name for p in resharded.removed) == [
        "a_shard02.tfrecord",
        "a_shard03.tfrecord",
        "b_shard02.tfrecord",
    ]
    whole = convert(videos, tmp_path)  # no sharding: every shard goes
    assert record_names(tmp_path) == ["a.tfrecord", "sub/b.tfrecord"]
    assert len(whole.removed) == 4
    convert(videos, tmp_path, max_per_shard=5)  # and back: the unsharded files go
    assert record_names(tmp_path) == [f"a_shard0{i}.tfrecord" for i in range(4)] + [
        f"sub/b_shard0{i}.tfrecord" for i in range(3)
    ]
    assert sum(s.length for s in open_sequences(tmp_path)) == 15 + 12  # every frame once
    assert hidden_files(tmp_path) == []
    settings = json.loads((tmp_path / "a.convert.json").read_text())
    assert settings["files"] == [f"a_shard0{i}.tfrecord" for i in range(4)]
    assert settings["settings"]["shards"][0] == ["a_shard00", 0, 4] and settings["options"]["max_per_shard"] == 5

    # A shard left over (e.g. by a run killed between renaming and removing) is not trusted.
    shutil.copy(tmp_path / "a_shard00.tfrecord", tmp_path / "a_shard07.tfrecord")
    mended = convert(videos, tmp_path, max_per_shard=5)
    assert len(mended.written) == 4 and mended.removed == [tmp_path / "a_shard07.tfrecord"]


def test_a_failed_write_leaves_the_old_output_whole(videos, tmp_path, monkeypatch):
    convert(videos, tmp_path, max_per_shard=5)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    real, calls = outputs_module.frame_record, []

    def disk_full_at_the_second_shard(data):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(data)

    monkeypatch.setattr(outputs_module, "frame_record", disk_full_at_the_second_shard)
    with pytest.raises(OSError, match="No space left"):
        convert(videos, tmp_path, max_per_shard=8)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_outputs_without_a_settings_record_are_converted_again(videos, tmp_path):
    convert(videos, tmp_path, rotate=180)
    for path in tmp_path.rglob("*.convert.json"):  # as an older version left them
        path.unlink()
    legacy = convert(videos, tmp_path)  # default rotation: the old files cannot say theirs
    assert len(legacy.written) == 2 and legacy.skipped == []
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.convert.json")) == [
        "a.convert.json",
        "sub/b.convert.json",
    ]


def test_a_failed_redo_keeps_the_old_output(videos, tmp_path, monkeypatch):
    convert(videos, tmp_path, max_per_shard=5)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    real = convert_module.iter_video_frames

    def failing(path, size=None):
        for t, frame in enumerate(real(path, size)):
            if path.name == "a_view1.mp4" and t == 9:
                raise VideoError(f"{path}: decoding failed (simulated)")
            yield frame

    monkeypatch.setattr(convert_module, "iter_video_frames", failing)
    result = convert(videos, tmp_path, max_per_shard=8)
    assert "decoding failed (simulated)" in result.failed["a"]
    assert {p: p.read_bytes() for p in tmp_path.rglob("a*") if p.is_file()} == {
        p: data for p, data in before.items() if p.name.startswith("a")
    }
    assert record_names(tmp_path / "sub") == ["b_shard00.tfrecord", "b_shard01.tfrecord"]  # b was redone
    assert hidden_files(tmp_path) == []


def test_the_number_of_views_is_inferred_from_the_videos(tmp_path, capsys):
    three = tmp_path / "three"
    for name in ("p", "q"):
        make_sequence(three, name, [6, 6, 6])
    assert main(["convert", "--input_dir", str(three), "--output_dir", str(tmp_path / "out"), "--workers", "1"]) == 0
    assert [s.num_views for s in open_sequences(tmp_path / "out")] == [3, 3]

    make_sequence(three, "r", [6, 6])
    make_sequence(three, "sub/s", [6, 6])
    with pytest.raises(DataError) as exc:
        convert(three, tmp_path / "out2")
    message = str(exc.value)
    assert "\n" not in message and str(three) in message
    assert "2 views: r, sub/s" in message and "3 views: p, q" in message and "--expected_views" in message
    assert not (tmp_path / "out2").exists()  # nothing converted

    explicit = convert(three, tmp_path / "out3", expected_views=2)  # an explicit count still works
    assert sorted(explicit.failed) == ["p", "q"] and len(explicit.written) == 2
    assert len(convert(three, tmp_path / "out4", expected_views=0).written) == 4  # 0: any number

    with pytest.raises(SystemExit):
        main(["convert", "--help"])
    assert "inferred" in capsys.readouterr().out


def test_off_a_terminal_progress_lines_count_frames_with_an_estimated_total(tmp_path, caplog, monkeypatch):
    import io
    import logging

    from timecontrast.progress import progress_interval_set

    for name in ("x0", "x1", "x2"):
        make_sequence(tmp_path / "in", name, [10, 10])
    monkeypatch.setattr("sys.stderr", io.StringIO())  # not a terminal
    caplog.set_level(logging.INFO, logger="timecontrast.data.convert")
    with progress_interval_set(1e-9):  # a line at every update
        convert_videos(tmp_path / "in", tmp_path / "out", workers=1)
    lines = [m for m in caplog.messages if m.startswith("convert: ")]
    # While sequences are still to be planned, the total is estimated from those planned so far.
    assert any(re.match(r"convert: \d+/~60 frames \(\d+%\), [0-9.]+ frames/s, ETA \d+s", line) for line in lines)
    assert re.fullmatch(r"convert: finished 60/60 frames in \d+s, [0-9.]+ frames/s; sequences 3/3 done", lines[-1])
