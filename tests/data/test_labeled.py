"""Labeled frame records (tf.train.Example per timestep), as in the pouring download."""

from __future__ import annotations

import pytest

from timecontrast.data.labeled import (
    LabeledFrame,
    decode_labeled_example,
    encode_labeled_example,
    iter_labeled_frames,
    split_image_attr_keys,
    write_labeled_records,
)
from timecontrast.data.records import write_sequence_record
from timecontrast.errors import RecordError
from timecontrast.io.example import Example, bytes_feature, int64_feature


def frames_of(task: str, n: int, views: int = 2) -> list[LabeledFrame]:
    return [
        LabeledFrame([f"{task}-{t}-v{v}".encode() for v in range(views)], task, {"contact": t % 2, "angle": t}, t)
        for t in range(n)
    ]


def test_round_trip(tmp_path):
    frames = frames_of("pour_1", 4)
    path = write_labeled_records(tmp_path / "pour_1.tfrecord", frames)
    assert list(iter_labeled_frames(path)) == frames


def test_directory_iteration_is_lazy_and_in_file_order(tmp_path):
    write_labeled_records(tmp_path / "b.tfrecord", frames_of("b", 2))
    write_labeled_records(tmp_path / "a.tfrecord", frames_of("a", 3))
    (tmp_path / "c.tfrecord").write_bytes(b"broken")
    it = iter_labeled_frames(tmp_path)
    assert [next(it).task for _ in range(5)] == ["a"] * 3 + ["b"] * 2
    with pytest.raises(RecordError, match=r"c\.tfrecord: record 0"):
        next(it)


def test_selected_keys_and_order(tmp_path):
    ex = Example()
    for v in (0, 2, 10, 1):
        ex.features.feature[f"image/view{v}"].CopyFrom(bytes_feature(f"img{v}".encode()))
    ex.features.feature["task"].CopyFrom(bytes_feature(b"seq"))
    ex.features.feature["contact"].CopyFrom(int64_feature(1))
    ex.features.feature["distance"].CopyFrom(int64_feature(3))
    data = ex.SerializeToString()
    frame = decode_labeled_example(data)
    assert frame.images == [b"img0", b"img1", b"img2", b"img10"]  # view10 after view2
    assert frame.labels == {"contact": 1, "distance": 3}
    chosen = decode_labeled_example(data, image_keys=["image/view2"], label_keys=["distance"])
    assert chosen.images == [b"img2"] and chosen.labels == {"distance": 3}


def test_original_config_keys():
    images, task = split_image_attr_keys(["image/view0", "image/view1", "task"])
    assert images == ["image/view0", "image/view1"] and task == "task"
    assert split_image_attr_keys(["image/view0"]) == (["image/view0"], "task")


def test_missing_keys_name_the_config_key():
    data = encode_labeled_example(LabeledFrame([b"x"], "s", {"contact": 1}))
    with pytest.raises(RecordError, match=r"val\.tfrecord record 3: labeled record has no int64 label 'angle'.*"
                       r"data.labeled.label_attr_keys"):  # fmt: skip
        decode_labeled_example(data, "val.tfrecord record 3", label_keys=["angle"])
    with pytest.raises(RecordError, match=r"lacks image keys \['image/view1'\].*data.labeled.image_attr_keys"):
        decode_labeled_example(data, image_keys=["image/view0", "image/view1"])
    with pytest.raises(RecordError, match="has no 'name' key"):
        decode_labeled_example(data, task_key="name")


def test_sequence_record_is_the_wrong_kind(tmp_path):
    path = write_sequence_record(tmp_path / "seq.tfrecord", "seq", [[b"j1", b"j2"], [b"k1", b"k2"]])
    with pytest.raises(RecordError, match=r"seq\.tfrecord record 0: is a multi-view sequence record"):
        list(iter_labeled_frames(path))


def test_not_an_example():
    with pytest.raises(RecordError, match="not a tf.train.Example"):
        decode_labeled_example(b"\xff\xff\xff", "x.tfrecord record 0")
    with pytest.raises(RecordError, match="no features"):
        decode_labeled_example(b"", "x.tfrecord record 0")
