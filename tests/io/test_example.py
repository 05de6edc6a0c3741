"""tf.train.Example / SequenceExample: bytes built by hand from the protobuf wire format.

The records below are assembled field by field the way TensorFlow lays them out
(feature.proto / example.proto, package ``tensorflow``), framed as TFRecord with
TensorBoard's independent CRC code. Our parser must read them, and our writers must
produce exactly these bytes for the same content.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c as tb_masked_crc32c

from timecontrast.data.labeled import LabeledFrame, encode_labeled_example, iter_labeled_frames
from timecontrast.data.records import (
    SequenceRecord,
    decode_sequence_example,
    encode_sequence_example,
    write_sequence_record,
)
from timecontrast.io.example import (
    Example,
    Feature,
    SequenceExample,
    bytes_feature,
    feature_value,
    float_feature,
    int64_feature,
)
from timecontrast.io.jpeg import encode_jpeg


# ----------------------------------------------------------------- wire format by hand
def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def ld(field: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return varint(field << 3 | 2) + varint(len(payload)) + payload


def bytes_feat(*values: bytes) -> bytes:  # Feature{bytes_list=1: BytesList{value=1}}
    return ld(1, b"".join(ld(1, v) for v in values))


def int64_feat(*values: int) -> bytes:  # Feature{int64_list=3: Int64List{value=1, packed}}
    return ld(3, ld(1, b"".join(varint(v) for v in values)))


def features(entries: list[tuple[str, bytes]]) -> bytes:  # Features{feature=1: map<string, Feature>}
    return b"".join(ld(1, ld(1, k.encode()) + ld(2, v)) for k, v in entries)


def feature_lists(entries: list[tuple[str, list[bytes]]]) -> bytes:  # FeatureLists{feature_list=1: map}
    return b"".join(ld(1, ld(1, k.encode()) + ld(2, b"".join(ld(1, f) for f in fl))) for k, fl in entries)


def sequence_example(context: list[tuple[str, bytes]], lists: list[tuple[str, list[bytes]]]) -> bytes:
    return ld(1, features(context)) + ld(2, feature_lists(lists))


def tfrecord(*records: bytes) -> bytes:
    out = b""
    for r in records:
        length = struct.pack("<Q", len(r))
        out += length + struct.pack("<I", tb_masked_crc32c(length)) + r + struct.pack("<I", tb_masked_crc32c(r))
    return out


# ----------------------------------------------------------------------- test data
def _jpegs(num_views: int, length: int) -> list[list[bytes]]:
    rng = np.random.default_rng(0)
    return [
        [encode_jpeg(rng.integers(0, 255, (8, 12, 3), dtype=np.uint8)) for _ in range(length)] for _ in range(num_views)
    ]


def _original_layout(name: str, views: list[list[bytes]], reverse_maps: bool = False) -> bytes:
    """The original converter's record: context task + len, feature lists view0.. ."""
    context = [("len", int64_feat(len(views[0]))), ("task", bytes_feat(name.encode()))]
    lists = [(f"view{v}", [bytes_feat(j) for j in frames]) for v, frames in enumerate(views)]
    if reverse_maps:  # TensorFlow's C++ serialiser writes map entries in any order
        context, lists = context[::-1], lists[::-1]
    return sequence_example(context, lists)


def test_message_names_are_tensorflows():
    assert SequenceExample.DESCRIPTOR.full_name == "tensorflow.SequenceExample"
    assert Example.DESCRIPTOR.full_name == "tensorflow.Example"
    assert Feature.DESCRIPTOR.fields_by_name["int64_list"].number == 3


def test_our_writer_produces_the_original_bytes(tmp_path):
    views = _jpegs(2, 3)
    hand = _original_layout("pour_07", views)
    assert encode_sequence_example("pour_07", views) == hand

    path = write_sequence_record(tmp_path / "pour_07.tfrecord", "pour_07", views)
    assert path.read_bytes() == tfrecord(hand)


@pytest.mark.parametrize("reverse_maps", [False, True])
def test_we_parse_a_hand_built_record(tmp_path, reverse_maps):
    views = _jpegs(3, 4)
    hand = _original_layout("take_1", views, reverse_maps)

    ex = SequenceExample.FromString(hand)
    assert feature_value(ex.context.feature["task"]) == [b"take_1"]
    assert feature_value(ex.context.feature["len"]) == [4]
    assert decode_sequence_example(hand) == ("take_1", views)

    path = tmp_path / "take_1.tfrecord"
    path.write_bytes(tfrecord(hand))
    rec = SequenceRecord(path)
    assert (rec.name, rec.num_views, rec.length, rec.stored_length) == ("take_1", 3, 4, 4)
    assert [[rec.jpeg(v, t) for t in range(4)] for v in range(3)] == views


def test_unknown_context_and_lists_are_ignored(tmp_path):
    """Files of other tools may carry more context features or feature lists."""
    views = _jpegs(2, 2)
    hand = sequence_example(
        [("len", int64_feat(2)), ("task", bytes_feat(b"s")), ("fps", ld(2, ld(1, struct.pack("<f", 30.0))))],
        [("audio", [int64_feat(1), int64_feat(2)])]
        + [(f"view{v}", [bytes_feat(j) for j in f]) for v, f in enumerate(views)],
    )
    path = tmp_path / "s.tfrecord"
    path.write_bytes(tfrecord(hand))
    rec = SequenceRecord(path)
    assert rec.num_views == 2 and rec.jpeg(1, 1) == views[1][1]


def test_labeled_example_bytes(tmp_path):
    img0, img1 = _jpegs(2, 1)[0][0], _jpegs(2, 1)[1][0]
    frame = LabeledFrame([img0, img1], "pour_07", {"contact": 1, "container_angle": 300}, timestep=5)
    hand = ld(
        1,
        features(
            [  # map keys sorted, as our deterministic writer orders them
                ("contact", int64_feat(1)),
                ("container_angle", int64_feat(300)),
                ("image/view0", bytes_feat(img0)),
                ("image/view1", bytes_feat(img1)),
                ("task", bytes_feat(b"pour_07")),
                ("timestep", int64_feat(5)),
            ]
        ),
    )
    assert encode_labeled_example(frame) == hand

    # The pouring download's layout, entries in another order, no timestep.
    pouring = ld(
        1,
        features(
            [
                ("task", bytes_feat(b"pour_07")),
                ("image/view1", bytes_feat(img1)),
                ("has_liquid", int64_feat(0)),
                ("image/view0", bytes_feat(img0)),
                ("contact", int64_feat(1)),
            ]
        ),
    )
    path = tmp_path / "val.tfrecord"
    path.write_bytes(tfrecord(hand, pouring))
    got = list(iter_labeled_frames(path))
    assert got[0] == frame
    assert got[1] == LabeledFrame([img0, img1], "pour_07", {"contact": 1, "has_liquid": 0}, None)


def test_feature_helpers_round_trip():
    assert feature_value(bytes_feature([b"a", b"b"])) == [b"a", b"b"]
    assert feature_value(int64_feature(-3)) == [-3]
    assert feature_value(float_feature(0.5)) == [0.5]
    assert feature_value(Feature()) == []
    # int64 values are packed varints; a negative one takes ten bytes, as TensorFlow writes it.
    assert Feature.FromString(int64_feat(2**64 - 3)).int64_list.value[0] == -3
