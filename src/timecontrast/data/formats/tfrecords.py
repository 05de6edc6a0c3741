"""What the TFRecord input formats (``tcc``, ``rlds``) share: finding shards, pointing at one
record, and a view whose frames are encoded images inside a record. No TensorFlow: the
records are read by :mod:`timecontrast.io.tfrecord` (CRC-checked) and parsed by
:mod:`timecontrast.io.example`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from google.protobuf.message import DecodeError

from timecontrast.data.folders import walk_folder
from timecontrast.data.formats.base import decode_image, natural_key, resize_frame
from timecontrast.errors import DataError
from timecontrast.io.example import Example, SequenceExample
from timecontrast.io.tfrecord import index_records, iter_records, read_record

# file.tfrecord, file.tfrecords, TFDS shards <name>-<split>.tfrecord-00000-of-00004
_SHARD_NAME = re.compile(r"\.tfrecords?(-\d+-of-\d+)?$")


def is_tfrecord_name(name: str) -> bool:
    return not name.startswith(".") and _SHARD_NAME.search(name) is not None


def find_tfrecord_files(path: Path) -> list[Path]:
    """``path`` itself when a file; otherwise every TFRecord file under it, sorted naturally."""
    if not path.exists():
        raise DataError(f"{path}: no such file or directory")
    if path.is_file():
        return [path]
    found = [folder / f for folder, files in walk_folder(path) for f in files if is_tfrecord_name(f)]
    return sorted(found, key=lambda p: natural_key(p.relative_to(path).as_posix()))


def first_record(path: Path, limit: int = 3) -> tuple[Path, bytes] | None:
    """The first record of the first readable TFRecord file among (at most ``limit`` of)
    those under ``path``; None when there is none. Never raises (for detection)."""
    try:
        files = [path] if path.is_file() else []
        if path.is_dir():
            for folder, names in walk_folder(path, warn=lambda _: None, on_error=lambda _: None):
                files.extend(folder / n for n in names if is_tfrecord_name(n))
                if len(files) >= limit:
                    break
        for f in sorted(files, key=lambda p: natural_key(str(p)))[:limit]:
            for data in iter_records(f):
                return f, data
    except Exception:  # another format's file, unreadable: not ours
        return None
    return None


@dataclass(frozen=True)
class RecordRef:
    """Record ``index`` of TFRecord file ``path``, found at byte ``offset`` (``length`` bytes)."""

    path: str
    index: int
    offset: int
    length: int

    @property
    def where(self) -> str:
        return f"{self.path} record {self.index}"

    def read(self) -> bytes:
        """The record's bytes (CRC-checked; a damaged record raises a RecordError naming it)."""
        with open(self.path, "rb") as fh:
            return read_record(fh, self.offset, self.length, self.path, self.index)


def index_file(path: Path) -> list[RecordRef]:
    """Every record of ``path`` (reads only the headers)."""
    return [RecordRef(str(path), i, offset, length) for i, (offset, length) in enumerate(index_records(path))]


def parse_sequence_example(data: bytes, where: str) -> SequenceExample:
    try:
        return SequenceExample.FromString(data)
    except DecodeError:
        raise DataError(f"{where}: not a tf.train.SequenceExample; the file is damaged or of another kind") from None


def parse_example(data: bytes, where: str) -> Example:
    try:
        return Example.FromString(data)
    except DecodeError:
        raise DataError(f"{where}: not a tf.train.Example; the file is damaged or of another kind") from None


def encoded_frames(data: bytes, kind: str, key: str, where: str) -> list[bytes]:
    """The encoded images of ``key`` in a record: a SequenceExample's feature list (one bytes
    value per step) for ``kind="sequence"``, an Example's bytes list for ``kind="example"``."""
    if kind == "sequence":
        lists = parse_sequence_example(data, where).feature_lists.feature_list
        if key not in lists:
            raise DataError(f"{where}: has no feature list '{key}' (it has {sorted(lists)})")
        out = []
        for t, feature in enumerate(lists[key].feature):
            values = feature.bytes_list.value
            if len(values) != 1:
                raise DataError(f"{where}: step {t} of '{key}' holds {len(values)} images, expected one")
            out.append(values[0])
        return out
    features = parse_example(data, where).features.feature
    if key not in features or features[key].WhichOneof("kind") != "bytes_list":
        raise DataError(f"{where}: has no image key '{key}' (a bytes list)")
    return list(features[key].bytes_list.value)


@dataclass(frozen=True)
class EncodedFramesReader:
    """A view stored as encoded images (JPEG, PNG) in one record, each ``height`` x ``width``."""

    record: RecordRef
    kind: str  # "sequence" (a SequenceExample feature list) or "example" (an Example bytes list)
    key: str
    height: int
    width: int

    @property
    def source(self) -> str:
        return f"{self.record.where} ('{self.key}')"

    def frames(self, size: tuple[int, int] | None = None) -> Iterator[np.ndarray]:
        images = encoded_frames(self.record.read(), self.kind, self.key, self.record.where)
        for t, data in enumerate(images):
            frame = decode_image(data, f"{self.source} frame {t}")
            if frame.shape[:2] != (self.height, self.width):
                raise DataError(
                    f"{self.source} frame {t}: is {frame.shape[1]}x{frame.shape[0]}, the view's first frame is "
                    f"{self.width}x{self.height}; every frame of a view must have the same size"
                )
            yield resize_frame(frame, size)

    def short_error(self, decoded: int, promised: int) -> Exception:
        return DataError(f"{self.source}: holds {decoded} frames, {promised} expected; the record is inconsistent")
