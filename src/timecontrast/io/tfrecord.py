"""TFRecord files without TensorFlow.

Framing of each record (little endian), as TensorFlow writes it::

    uint64 length
    uint32 masked_crc32c(length bytes)
    byte   data[length]
    uint32 masked_crc32c(data)

CRC32C comes from google-crc32c; the mask is TensorFlow's (rotate right by 15, add
0xa282ead8). Both CRCs are checked on read.
"""

from __future__ import annotations

import contextlib
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import google_crc32c

from timecontrast.io.errors import RecordError
from timecontrast.io.files import PendingFile, name_error

_MASK_DELTA = 0xA282EAD8
_HEADER = struct.Struct("<QI")  # length, masked crc of length
_FOOTER = struct.Struct("<I")  # masked crc of data


def masked_crc32c(data: bytes) -> int:
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def frame_record(data: bytes) -> bytes:
    """One record's bytes as they appear in a TFRecord file."""
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked_crc32c(length)) + data + _FOOTER.pack(masked_crc32c(data))


class TFRecordWriter:
    """Write records to ``path``; the file appears only when closed without error.

    Usage::

        with TFRecordWriter("seq.tfrecord") as writer:
            writer.write(example_bytes)
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._pending = PendingFile(self.path, durable=True)
        self._fh: BinaryIO | None = os.fdopen(self._pending.take_fd(), "wb")
        self.num_records = 0

    def write(self, data: bytes) -> None:
        if self._fh is None:
            raise ValueError(f"{self.path}: writer is closed")
        try:
            self._fh.write(frame_record(data))
        except OSError as exc:  # e.g. a full disk: the error names the file
            name_error(exc, self.path)
            raise
        self.num_records += 1

    def close(self) -> None:
        """Flush, fsync and rename the temporary file to its final name (removed on failure)."""
        if self._fh is None:
            return
        fh, self._fh = self._fh, None
        try:
            fh.close()  # flushes: a full disk often shows here
        except BaseException as exc:
            self._pending.discard()
            name_error(exc, self.path)
            raise
        self._pending.commit()

    def abort(self) -> None:
        """Discard everything written; the final file is not created."""
        if self._fh is not None:
            fh, self._fh = self._fh, None
            with contextlib.suppress(OSError):
                fh.close()
        self._pending.discard()

    def __enter__(self) -> TFRecordWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_records(path: str | os.PathLike, records: list[bytes]) -> None:
    """Write all ``records`` to ``path`` atomically."""
    with TFRecordWriter(path) as writer:
        for record in records:
            writer.write(record)


def _open(path: str | os.PathLike) -> BinaryIO:
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise RecordError(f"{path}: no such record file; check the path") from None
    except IsADirectoryError:
        raise RecordError(f"{path}: is a directory, expected a .tfrecord file") from None


def _read_header(fh: BinaryIO, path: str | os.PathLike, index: int) -> int | None:
    """The data length of the record at the file position, or None at a clean end of file."""
    header = fh.read(_HEADER.size)
    if not header:
        return None
    if len(header) < _HEADER.size:
        raise RecordError(
            f"{path}: record {index} is truncated (incomplete header); the file was cut short, re-create it"
        )
    length, length_crc = _HEADER.unpack(header)
    if masked_crc32c(header[:8]) != length_crc:
        raise RecordError(
            f"{path}: record {index} has a corrupt length (CRC mismatch); this is not a TFRecord file "
            "or it is damaged, re-create it"
        )
    return length


def iter_records(path: str | os.PathLike, check_crc: bool = True) -> Iterator[bytes]:
    """Yield the data of every record in ``path``, checking both CRCs."""
    with _open(path) as fh:
        index = 0
        while True:
            length = _read_header(fh, path, index)
            if length is None:
                return
            yield _read_body(fh, length, path, index, check_crc)
            index += 1


def _read_body(fh: BinaryIO, length: int, path: str | os.PathLike, index: int, check_crc: bool = True) -> bytes:
    data = fh.read(length)
    footer = fh.read(_FOOTER.size)
    if len(data) < length or len(footer) < _FOOTER.size:
        raise RecordError(f"{path}: record {index} is truncated; the file was cut short, re-create it")
    if check_crc and masked_crc32c(data) != _FOOTER.unpack(footer)[0]:
        raise RecordError(f"{path}: record {index} is corrupt (data CRC mismatch); re-create the file")
    return data


def index_records(path: str | os.PathLike) -> list[tuple[int, int]]:
    """``(offset, length)`` of each record's data, reading only the headers."""
    out: list[tuple[int, int]] = []
    size = os.path.getsize(path)
    with _open(path) as fh:
        index = 0
        while True:
            length = _read_header(fh, path, index)
            if length is None:
                return out
            offset = fh.tell()
            if offset + length + _FOOTER.size > size:
                raise RecordError(f"{path}: record {index} is truncated; the file was cut short, re-create it")
            out.append((offset, length))
            fh.seek(length + _FOOTER.size, os.SEEK_CUR)
            index += 1


def read_record(fh: BinaryIO, offset: int, length: int, path: str | os.PathLike = "?", index: int = 0) -> bytes:
    """The data of one record found by :func:`index_records`, CRC-checked."""
    fh.seek(offset)
    return _read_body(fh, length, path, index)
