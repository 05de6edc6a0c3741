"""Sequence records: random frame access, directory iteration, and the errors of bad files."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from timecontrast.data.labeled import LabeledFrame, write_labeled_records
from timecontrast.data.records import (
    SequenceRecord,
    encode_sequence_example,
    find_record_files,
    iter_sequence_examples,
    iter_sequences,
    open_sequences,
    write_sequence_record,
)
from timecontrast.data.sequence import MultiViewSequence
from timecontrast.errors import DataError, RecordError, TimeContrastError
from timecontrast.io.example import SequenceExample, bytes_feature, int64_feature
from timecontrast.io.jpeg import decode_jpeg, encode_jpeg
from timecontrast.io.tfrecord import index_records, iter_records, write_records


def frame_image(view: int, t: int) -> np.ndarray:
    """A distinct, smooth 12x16 image per (view, t), so frames can be told apart after JPEG."""
    img = np.zeros((12, 16, 3), np.uint8)
    img[..., 0] = 20 * t
    img[..., 1] = 60 * view
    img[:, : t % 16] = 250
    return img


def make_views(num_views: int, length: int) -> list[list[bytes]]:
    return [[encode_jpeg(frame_image(v, t)) for t in range(length)] for v in range(num_views)]


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    views = make_views(3, 7)
    path = write_sequence_record(tmp_path_factory.mktemp("rec") / "seq.tfrecord", "seq", views)
    return path, views


def test_random_access_equals_sequential_decode(record):
    path, views = record
    rec = SequenceRecord(path)
    assert isinstance(rec, MultiViewSequence)
    assert (rec.name, rec.num_views, rec.length, rec.stored_length) == ("seq", 3, 7, 7)
    assert rec.frame_size == (12, 16)
    [(name, stored)] = list(iter_sequence_examples(path))  # whole-record sequential parse
    assert name == "seq" and stored == views
    rng = np.random.default_rng(0)
    for v, t in rng.integers(0, [3, 7], size=(20, 2)):
        assert rec.jpeg(v, t) == views[v][t]
        assert np.array_equal(rec.frame(v, t), decode_jpeg(stored[v][t]))
    assert rec.frames(1, [6, 0, 3]).shape == (3, 12, 16, 3)
    assert np.array_equal(rec.frames(2, [4])[0], rec.frame(2, 4))
    assert rec.labels is None and rec.state is None  # no state/ sidecar here


def test_random_access_decodes_only_the_frame_asked_for(tmp_path):
    good = encode_jpeg(frame_image(0, 3))
    views = [[b"garbage"] * 3 + [good] + [b"garbage"] * 2]
    rec = SequenceRecord(write_sequence_record(tmp_path / "s.tfrecord", "s", views))
    assert np.array_equal(rec.frame(0, 3), decode_jpeg(good))
    with pytest.raises(
        TimeContrastError, match=r"s\.tfrecord \(view 0, frame 1\): cannot decode image \(cannot identify"
    ):
        rec.frame(0, 1)


def test_index_out_of_range(record):
    rec = SequenceRecord(record[0])
    with pytest.raises(IndexError, match="view 3 out of range"):
        rec.frame(3, 0)
    with pytest.raises(IndexError, match="timestep 7 out of range"):
        rec.jpeg(0, 7)


def test_num_views_selects_and_checks(record):
    assert SequenceRecord(record[0], num_views=2).num_views == 2
    with pytest.raises(DataError, match="has 3 views, but data.num_views is 4"):
        SequenceRecord(record[0], num_views=4)


def test_pickles_for_dataloader_workers(record):
    rec = SequenceRecord(record[0])
    rec.frame(0, 0)  # opens the file handle
    clone = pickle.loads(pickle.dumps(rec))
    assert clone.jpeg(2, 5) == record[1][2][5]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_readers_do_not_share_a_file_offset(record):
    """DataLoader workers forked from a process that already read frames: parent and child
    read at the same time without moving each other's position."""
    import multiprocessing as mp

    path, views = record
    rec = SequenceRecord(path)
    rec.jpeg(0, 0)  # the parent's file is open before the fork
    ctx = mp.get_context("fork")
    queue = ctx.Queue()

    def child():
        ok = all(rec.jpeg(v, t) == views[v][t] for _ in range(200) for v in range(3) for t in range(7))
        queue.put(ok)

    proc = ctx.Process(target=child)
    proc.start()
    ok_parent = all(rec.jpeg(v, t) == views[v][t] for _ in range(200) for v in range(3) for t in (6, 0, 3))
    ok_child = queue.get(timeout=60)
    proc.join(timeout=60)
    assert ok_parent and ok_child


def test_several_records_in_one_file(tmp_path):
    a, b = make_views(2, 3), make_views(2, 5)
    path = tmp_path / "two.tfrecord"
    write_records(path, [encode_sequence_example("a", a), encode_sequence_example("b", b)])
    seqs = open_sequences(path)
    assert [(s.name, s.length, s.record_index) for s in seqs] == [("a", 3, 0), ("b", 5, 1)]
    assert seqs[1].jpeg(1, 4) == b[1][4]
    with pytest.raises(RecordError, match="has 2 records, no record 2"):
        SequenceRecord(path, record_index=2)


def test_corrupt_record_error_names_file_and_index(tmp_path):
    path = tmp_path / "two.tfrecord"
    write_records(
        path, [encode_sequence_example("a", make_views(2, 3)), encode_sequence_example("b", make_views(2, 3))]
    )
    offset, length = index_records(path)[1]
    raw = bytearray(path.read_bytes())
    raw[offset + length - 5] ^= 1
    path.write_bytes(bytes(raw))
    assert SequenceRecord(path, 0).name == "a"
    with pytest.raises(RecordError, match=r"two\.tfrecord: record 1 is corrupt \(data CRC mismatch\)"):
        open_sequences(path)


def test_malformed_protobuf_inside_a_valid_frame(tmp_path):
    data = SequenceExample()
    data.context.feature["task"].CopyFrom(bytes_feature(b"x"))
    data.feature_lists.feature_list["view0"].feature.add().bytes_list.value.append(b"j" * 50)
    cut = data.SerializeToString()[:-20]  # CRCs are computed over the cut bytes: only the protobuf is bad
    path = tmp_path / "cut.tfrecord"
    write_records(path, [cut])
    with pytest.raises(RecordError, match=r"cut\.tfrecord: record 0 is not a tf.train.SequenceExample"):
        SequenceRecord(path)


def test_labeled_file_is_the_wrong_kind(tmp_path):
    path = write_labeled_records(tmp_path / "lab.tfrecord", [LabeledFrame([b"jpeg"], "seq", {"contact": 1})])
    with pytest.raises(RecordError, match=r"lab\.tfrecord: record 0 .*labeled frame record"):
        SequenceRecord(path)


def _handmade(path, lists: dict[str, int], task: bool = True):
    ex = SequenceExample()
    if task:
        ex.context.feature["task"].CopyFrom(bytes_feature(b"odd"))
    ex.context.feature["len"].CopyFrom(int64_feature(1))
    for key, n in lists.items():
        for _ in range(n):
            ex.feature_lists.feature_list[key].feature.add().bytes_list.value.append(b"j")
    write_records(path, [ex.SerializeToString()])
    return path


def test_bad_sequence_layouts(tmp_path):
    with pytest.raises(RecordError, match="views must be numbered view0..view"):
        SequenceRecord(_handmade(tmp_path / "gap.tfrecord", {"view0": 2, "view2": 2}))
    with pytest.raises(RecordError, match=r"views of different lengths \[2, 3\]"):
        SequenceRecord(_handmade(tmp_path / "len.tfrecord", {"view0": 2, "view1": 3}))
    with pytest.raises(RecordError, match="no context 'task'"):
        SequenceRecord(_handmade(tmp_path / "task.tfrecord", {"view0": 2}, task=False))
    with pytest.raises(RecordError, match="no feature lists view0"):
        SequenceRecord(_handmade(tmp_path / "none.tfrecord", {"audio": 2}))


def test_views_ordered_numerically_in_records(tmp_path):
    path = _handmade(tmp_path / "many.tfrecord", {f"view{v}": 1 for v in range(12)})
    [data] = list(iter_records(path))
    ex = SequenceExample.FromString(data)
    # Give every view a distinct payload to see the order SequenceRecord keeps.
    for v in range(12):
        ex.feature_lists.feature_list[f"view{v}"].feature[0].bytes_list.value[0] = f"v{v}".encode()
    write_records(path, [ex.SerializeToString()])
    rec = SequenceRecord(path)
    assert [rec.jpeg(v, 0) for v in range(12)] == [f"v{v}".encode() for v in range(12)]


def test_find_record_files(tmp_path):
    for rel in ["b/2.tfrecord", "a/10.tfrecord", "a/9.tfrecord", "a/.9.tfrecord.x1.tmp", "a/notes.txt"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    (tmp_path / "a" / ".hidden.tfrecord").write_bytes(b"")
    names = [p.relative_to(tmp_path).as_posix() for p in find_record_files(tmp_path)]
    assert names == ["a/10.tfrecord", "a/9.tfrecord", "b/2.tfrecord"]
    assert [p.name for p in find_record_files(tmp_path / "a" / "*.tfrecord")] == ["10.tfrecord", "9.tfrecord"]
    assert find_record_files(tmp_path / "b" / "2.tfrecord") == [tmp_path / "b" / "2.tfrecord"]
    with pytest.raises(DataError, match="no such file or directory"):
        find_record_files(tmp_path / "missing")
    with pytest.raises(DataError, match="holds no .tfrecord files"):
        find_record_files(tmp_path / "a" / "*.nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no .tfrecord files"):
        find_record_files(tmp_path / "empty")


def test_directory_iteration_is_lazy_and_sorted(tmp_path):
    for name in ["s2", "s10", "s1"]:
        write_sequence_record(tmp_path / f"{name}.tfrecord", name, make_views(1, 2))
    (tmp_path / "s3.tfrecord").write_bytes(b"definitely not a record file")
    it = iter_sequences(tmp_path)
    assert [next(it).name for _ in range(3)] == ["s1", "s10", "s2"]  # file-name order
    with pytest.raises(RecordError, match=r"s3\.tfrecord: record 0"):
        next(it)  # the bad file is reached only now
    with pytest.raises(RecordError, match=r"s3\.tfrecord"):
        open_sequences(tmp_path)
    os.remove(tmp_path / "s3.tfrecord")
    assert [s.name for s in open_sequences(tmp_path)] == ["s1", "s10", "s2"]
