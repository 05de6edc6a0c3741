"""TFRecord framing: CRC32C, round trips, the CRC check firing, truncation, atomic writes.

TensorBoard (a dependency) carries its own reader and writer of the TFRecord framing,
independent of ours; agreeing with it byte for byte is the check of TensorFlow
compatibility that needs no TensorFlow.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import google_crc32c
import pytest
from tensorboard.compat.tensorflow_stub import errors as tb_errors
from tensorboard.compat.tensorflow_stub import pywrap_tensorflow as tb_pywrap
from tensorboard.summary.writer.record_writer import RecordWriter

from timecontrast.io.errors import RecordError
from timecontrast.io.tfrecord import (
    TFRecordWriter,
    frame_record,
    index_records,
    iter_records,
    masked_crc32c,
    read_record,
    write_records,
)

PAYLOADS = [b"", b"a", b"hello world", bytes(range(256)) * 400]


def test_crc32c_standard_check_values():
    assert google_crc32c.value(b"123456789") == 0xE3069283
    # RFC 3720 (iSCSI) appendix B.4 vectors.
    assert google_crc32c.value(bytes(32)) == 0x8A9136AA
    assert google_crc32c.value(b"\xff" * 32) == 0x62A8AB43
    assert google_crc32c.value(bytes(range(32))) == 0x46DD794E


def test_masked_crc_known_values():
    assert masked_crc32c(b"") == 0xA282EAD8  # the mask's delta: crc32c(b"") is 0
    assert masked_crc32c(b"123456789") == 0xC78AB0E5
    assert masked_crc32c(b"foo") == 0xFEBE8A61
    for data in PAYLOADS:
        assert masked_crc32c(data) == tb_pywrap.masked_crc32c(data)


def test_frame_layout_by_hand():
    data = b"abcd"
    framed = frame_record(data)
    length = b"\x04" + bytes(7)  # uint64 little endian
    crc = tb_pywrap.masked_crc32c  # TensorBoard's own table-driven implementation
    assert framed == length + struct.pack("<I", crc(length)) + data + struct.pack("<I", crc(data))


def test_round_trip_and_byte_identical_to_tensorboard_writer(tmp_path):
    ours = tmp_path / "ours.tfrecord"
    write_records(ours, PAYLOADS)
    assert list(iter_records(ours)) == PAYLOADS

    theirs = tmp_path / "theirs.tfrecord"
    with open(theirs, "wb") as fh:
        writer = RecordWriter(fh)
        for data in PAYLOADS:
            writer.write(data)
    assert ours.read_bytes() == theirs.read_bytes()


def test_tensorboard_reader_reads_our_file(tmp_path):
    path = tmp_path / "ours.tfrecord"
    write_records(path, PAYLOADS)
    reader = tb_pywrap.PyRecordReader_New(str(path))
    got = []
    while True:
        try:
            reader.GetNext()
        except tb_errors.OutOfRangeError:
            break
        got.append(reader.record())
    assert got == PAYLOADS


def test_index_and_random_access(tmp_path):
    path = tmp_path / "r.tfrecord"
    write_records(path, PAYLOADS)
    spans = index_records(path)
    assert [length for _, length in spans] == [len(p) for p in PAYLOADS]
    with open(path, "rb") as fh:
        for i in reversed(range(len(PAYLOADS))):
            assert read_record(fh, *spans[i], path, i) == PAYLOADS[i]


def _flip(path: Path, offset: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0x40
    path.write_bytes(bytes(raw))


def _offsets(path: Path) -> list[tuple[int, int]]:
    return index_records(path)


def test_crc_fires_on_a_flipped_data_byte(tmp_path):
    path = tmp_path / "bad.tfrecord"
    write_records(path, PAYLOADS)
    offset, length = _offsets(path)[2]
    _flip(path, offset + length // 2)
    records = iter_records(path)
    assert next(records) == PAYLOADS[0]
    assert next(records) == PAYLOADS[1]
    with pytest.raises(RecordError, match=r"bad\.tfrecord: record 2 is corrupt \(data CRC mismatch\)"):
        next(records)
    with open(path, "rb") as fh, pytest.raises(RecordError, match="record 2 is corrupt"):
        read_record(fh, offset, length, path, 2)
    # Without the check the damaged bytes come back (the check is what caught it).
    assert list(iter_records(path, check_crc=False))[2] != PAYLOADS[2]


def test_crc_fires_on_a_flipped_length_byte(tmp_path):
    path = tmp_path / "bad.tfrecord"
    write_records(path, PAYLOADS)
    offset, _ = _offsets(path)[1]
    _flip(path, offset - 12)  # the first byte of record 1's length
    with pytest.raises(RecordError, match=r"bad\.tfrecord: record 1 has a corrupt length"):
        list(iter_records(path))
    with pytest.raises(RecordError, match="record 1 has a corrupt length"):
        index_records(path)


def test_crc_fires_on_a_flipped_footer_byte(tmp_path):
    path = tmp_path / "bad.tfrecord"
    write_records(path, PAYLOADS[:2])
    _flip(path, path.stat().st_size - 1)
    with pytest.raises(RecordError, match="record 1 is corrupt"):
        list(iter_records(path))


@pytest.mark.parametrize("cut", ["in_header", "in_data", "in_footer"])
def test_truncated_file(tmp_path, cut):
    path = tmp_path / "cut.tfrecord"
    write_records(path, PAYLOADS)
    offset, length = _offsets(path)[3]
    size = {"in_header": offset - 6, "in_data": offset + length // 2, "in_footer": offset + length + 2}[cut]
    os.truncate(path, size)
    with pytest.raises(RecordError, match=r"cut\.tfrecord: record 3 is truncated"):
        list(iter_records(path))
    with pytest.raises(RecordError, match="record 3 is truncated"):
        index_records(path)


def test_not_a_tfrecord_file(tmp_path):
    path = tmp_path / "notes.tfrecord"
    path.write_text("just some text that is long enough to hold a header")
    with pytest.raises(RecordError, match="record 0 has a corrupt length"):
        list(iter_records(path))


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(RecordError, match="no such record file"):
        list(iter_records(tmp_path / "nope.tfrecord"))
    with pytest.raises(RecordError, match="is a directory"):
        list(iter_records(tmp_path))


def test_empty_file_has_no_records(tmp_path):
    path = tmp_path / "empty.tfrecord"
    path.write_bytes(b"")
    assert list(iter_records(path)) == []
    assert index_records(path) == []


def test_writer_is_atomic(tmp_path):
    path = tmp_path / "sub" / "out.tfrecord"
    writer = TFRecordWriter(path)
    writer.write(b"x")
    assert not path.exists()  # only the hidden temporary file exists while writing
    assert [p.name.startswith(".out.tfrecord.") for p in path.parent.iterdir()] == [True]
    writer.close()
    assert list(iter_records(path)) == [b"x"]
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.tfrecord"]

    with pytest.raises(RuntimeError), TFRecordWriter(path) as w:
        w.write(b"new")
        raise RuntimeError("crash while writing")
    assert list(iter_records(path)) == [b"x"]  # the old file is untouched
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.tfrecord"]


def test_writer_gives_ordinary_permissions(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    path = tmp_path / "perm.tfrecord"
    write_records(path, [b"x"])
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
