"""Multi-view sequence records: one ``tf.train.SequenceExample`` per TFRecord file.

Context ``task`` (bytes: the sequence name) and ``len`` (int64); feature lists
``view0`` ... ``view{N-1}``, one JPEG string per timestep, all of equal length.
A file may hold several records (sequences); each is one :class:`SequenceRecord`.

Random access: opening a record scans the protobuf wire format once to find the byte
range of every JPEG, so ``frame(view, t)`` reads and decodes that frame alone. (The
protobuf library parses whole messages only and cannot report field offsets, hence the
small scanner below; it reads the same wire format the library writes.)
"""

from __future__ import annotations

import glob
import logging
import os
import re
from collections.abc import Iterator, Sequence
from functools import cached_property
from pathlib import Path

import numpy as np

from timecontrast.data.dataset_info import read_class_names
from timecontrast.data.folders import unique_files, walk_folder
from timecontrast.data.layout import RECORD_SUFFIX, dataset_info_path_of, state_path_of
from timecontrast.data.sequence import check_index
from timecontrast.errors import DataError, RecordError
from timecontrast.io.example import SequenceExample, bytes_feature, feature_value, int64_feature
from timecontrast.io.jpeg import decode_jpeg
from timecontrast.io.tfrecord import TFRecordWriter, index_records, iter_records, read_record

log = logging.getLogger(__name__)

_VIEW_KEY = re.compile(r"^view(\d+)$")


# ---------------------------------------------------------------------------- encoding
def encode_sequence_example(name: str, views: Sequence[Sequence[bytes]]) -> bytes:
    """Serialise a multi-view sequence (``views[v][t]`` = JPEG bytes) as a SequenceExample."""
    lengths = {len(v) for v in views}
    if len(lengths) != 1:
        raise DataError(f"sequence '{name}': views have different lengths {sorted(len(v) for v in views)}")
    ex = SequenceExample()
    ex.context.feature["task"].CopyFrom(bytes_feature(name.encode()))
    ex.context.feature["len"].CopyFrom(int64_feature(lengths.pop()))
    for v, frames in enumerate(views):
        fl = ex.feature_lists.feature_list[f"view{v}"]
        for jpeg in frames:
            fl.feature.add().bytes_list.value.append(jpeg)
    return ex.SerializeToString(deterministic=True)


def decode_sequence_example(data: bytes, source: str = "record") -> tuple[str, list[list[bytes]]]:
    """``(name, views[v][t])`` of a serialised SequenceExample."""
    try:
        ex = SequenceExample.FromString(data)
    except Exception:
        raise RecordError(f"{source}: not a tf.train.SequenceExample") from None
    if "task" not in ex.context.feature:
        raise RecordError(f"{source}: SequenceExample has no context 'task' (the sequence name)")
    name = feature_value(ex.context.feature["task"])[0].decode()
    keys = sorted((int(m.group(1)), k) for k in ex.feature_lists.feature_list if (m := _VIEW_KEY.match(k)))
    views = [[feature_value(f)[0] for f in ex.feature_lists.feature_list[k].feature] for _, k in keys]
    return name, views


def write_sequence_record(path: str | os.PathLike, name: str, views: Sequence[Sequence[bytes]]) -> Path:
    """Write one sequence to ``path`` atomically (temporary name, then rename)."""
    data = encode_sequence_example(name, views)
    with TFRecordWriter(path) as writer:
        writer.write(data)
    return Path(path)


# ------------------------------------------------------------------- wire-format scan
def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


_FIXED_SIZE = {1: 8, 5: 4}  # wire types 1 (64-bit) and 5 (32-bit)


def _fields(buf: memoryview, start: int, end: int):
    """Yield ``(field_number, wire_type, value_start, value_end_or_int)`` of one message.

    Raises ValueError when a field runs past ``end`` (a malformed or truncated message).
    """
    pos = start
    while pos < end:
        key, pos = _varint(buf, pos)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, pos = _varint(buf, pos)
            yield num, wt, v, v
            continue
        if wt == 2:
            n, pos = _varint(buf, pos)
        elif wt in _FIXED_SIZE:
            n = _FIXED_SIZE[wt]
        else:
            raise ValueError(f"unsupported wire type {wt} at byte {pos}")
        if pos + n > end:
            raise ValueError(f"field {num} at byte {pos} runs past the end of its message")
        yield num, wt, pos, pos + n
        pos += n
    if pos > end:
        raise ValueError("a varint runs past the end of its message")


def _scan_sequence_example(buf: memoryview) -> tuple[bytes, dict[str, list[tuple[int, int]]]]:
    """Context bytes and, per feature list, the (start, end) of each Feature's first bytes value."""
    context = b""
    lists: dict[str, list[tuple[int, int]]] = {}
    for num, wt, s, e in _fields(buf, 0, len(buf)):
        if num == 1 and wt == 2:
            context = bytes(buf[s:e])
        elif num == 2 and wt == 2:  # FeatureLists
            for n2, w2, s2, e2 in _fields(buf, s, e):
                if n2 != 1 or w2 != 2:
                    continue
                key, spans = "", []
                for n3, w3, s3, e3 in _fields(buf, s2, e2):  # map entry: key=1, value=2 (FeatureList)
                    if n3 == 1 and w3 == 2:
                        key = bytes(buf[s3:e3]).decode()
                    elif n3 == 2 and w3 == 2:
                        for n4, w4, s4, e4 in _fields(buf, s3, e3):  # FeatureList.feature
                            if n4 != 1 or w4 != 2:
                                continue
                            span = (s4, s4)
                            for n5, w5, s5, e5 in _fields(buf, s4, e4):  # Feature.bytes_list
                                if n5 == 1 and w5 == 2:
                                    for n6, w6, s6, e6 in _fields(buf, s5, e5):  # BytesList.value
                                        if n6 == 1 and w6 == 2:
                                            span = (s6, e6)
                                            break
                            spans.append(span)
                lists[key] = spans
    return context, lists


class SequenceRecord:
    """One multi-view sequence stored in a TFRecord file, with random frame access.

    ``SequenceRecord(path)`` opens the first record of the file; ``record_index``
    chooses another. Labels and state come from the sidecar ``../state/<name>.npz``
    beside the ``records/`` folder when it exists (datasets made by ``tcn synth``).
    """

    def __init__(self, path: str | os.PathLike, record_index: int = 0, num_views: int | None = None) -> None:
        self.path = Path(path)
        self.record_index = record_index
        spans = index_records(self.path)
        if record_index >= len(spans):
            raise RecordError(f"{self.path}: has {len(spans)} records, no record {record_index}")
        self._offset, self._size = spans[record_index]
        with open(self.path, "rb") as fh:
            data = read_record(fh, self._offset, self._size, self.path, record_index)  # CRC-checked
        try:
            context, lists = _scan_sequence_example(memoryview(data))
            ctx = SequenceExample.FromString(b"\n" + _len_prefix(context)).context if context else None
        except Exception as exc:  # malformed protobuf: IndexError, ValueError, DecodeError
            raise RecordError(
                f"{self.path}: record {record_index} is not a tf.train.SequenceExample ({exc}); "
                "is this a labeled-frame (tf.train.Example) file?"
            ) from None
        if ctx is None or "task" not in ctx.feature:
            raise RecordError(
                f"{self.path}: record {record_index} has no context 'task'; it is not a multi-view sequence record "
                "(labeled frame records are read with tcn labeled-eval / iter_labeled_frames)"
            )
        self.name: str = feature_value(ctx.feature["task"])[0].decode()
        self.stored_length = int(feature_value(ctx.feature["len"])[0]) if "len" in ctx.feature else None
        view_keys = sorted((int(m.group(1)), k) for k in lists if (m := _VIEW_KEY.match(k)))
        if not view_keys:
            kind = (
                " (it looks like a labeled frame record: read it with iter_labeled_frames)"
                if any(k.startswith("image/") for k in ctx.feature)
                else ""
            )
            raise RecordError(
                f"{self.path}: record {record_index} has no feature lists view0, view1, ...; it is not a multi-view "
                f"sequence record{kind}"
            )
        if [v for v, _ in view_keys] != list(range(len(view_keys))):
            raise RecordError(
                f"{self.path}: sequence '{self.name}' has views {[k for _, k in view_keys]}; "
                "views must be numbered view0..view{N-1} without gaps"
            )
        self._spans = [lists[k] for _, k in view_keys]
        lengths = {len(s) for s in self._spans}
        if len(lengths) != 1:
            raise RecordError(
                f"{self.path}: sequence '{self.name}' has views of different lengths "
                f"{[len(s) for s in self._spans]}; re-convert it"
            )
        if num_views is not None:
            if len(self._spans) < num_views:
                raise DataError(
                    f"{self.path}: sequence '{self.name}' has {len(self._spans)} views, but data.num_views is "
                    f"{num_views}; lower data.num_views or use records with more views"
                )
            self._spans = self._spans[:num_views]
        self._fh = None
        self._fh_pid: int | None = None

    # The file is opened lazily so the object pickles into DataLoader workers, and reopened
    # in a forked child: a descriptor inherited through fork shares its file offset with
    # the parent, so positioned reads (os.pread) are used and never move an offset.
    def __getstate__(self):
        state = self.__dict__.copy()
        state["_fh"] = None
        return state

    def _file(self):
        if self._fh is None or self._fh_pid != os.getpid():
            self._fh = open(self.path, "rb")  # noqa: SIM115 - kept open for random access
            self._fh_pid = os.getpid()
        return self._fh

    def _read_at(self, offset: int, size: int) -> bytes:
        fh = self._file()
        if hasattr(os, "pread"):
            data = os.pread(fh.fileno(), size, offset)
        else:  # no positioned reads (Windows): seek + read
            fh.seek(offset)
            data = fh.read(size)
        if len(data) != size:
            raise RecordError(f"{self.path}: file ends inside a frame at byte {offset}; was it truncated?")
        return data

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __del__(self) -> None:
        fh = getattr(self, "_fh", None)
        if fh is not None and getattr(self, "_fh_pid", None) == os.getpid():
            fh.close()

    @property
    def num_views(self) -> int:
        return len(self._spans)

    @property
    def length(self) -> int:
        return len(self._spans[0])

    def jpeg(self, view: int, t: int) -> bytes:
        """The stored JPEG bytes of frame ``t`` of ``view``."""
        check_index(self, view, t)
        start, end = self._spans[view][t]
        return self._read_at(self._offset + start, end - start)

    def frame(self, view: int, t: int) -> np.ndarray:
        return decode_jpeg(self.jpeg(view, t), f"{self.path} (view {view}, frame {t})")

    def frames(self, view: int, timesteps) -> np.ndarray:
        return np.stack([self.frame(view, int(t)) for t in timesteps])

    @cached_property
    def frame_size(self) -> tuple[int, int]:
        """``(height, width)`` of the first frame."""
        if self.length == 0:
            raise DataError(f"{self.path}: sequence '{self.name}' has 0 frames, so no frame size; re-convert it")
        h, w, _ = self.frame(0, 0).shape
        return h, w

    @cached_property
    def state(self):
        path = state_path_of(self.path, self.name)
        if path is None or not path.is_file():
            return None
        from timecontrast.data.state import load_state

        return load_state(path)

    @cached_property
    def class_names(self) -> dict[str, list[str]]:
        """Class names of each label attribute from the dataset's ``dataset.json`` (as ``tcn
        synth`` writes it beside the splits), e.g. ``{"pole_up": ["down", "up"]}``; {} without one."""
        path = dataset_info_path_of(self.path)
        return read_class_names(path) if path is not None else {}

    @property
    def labels(self) -> dict[str, np.ndarray] | None:
        state = self.state
        return dict(state.labels) if state is not None and state.labels else None

    def __repr__(self) -> str:
        return f"SequenceRecord({str(self.path)!r}, name={self.name!r}, views={self.num_views}, length={self.length})"


def _len_prefix(data: bytes) -> bytes:
    out = bytearray()
    n = len(data)
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out) + data


# ------------------------------------------------------------------- finding files
def find_record_files(path_or_glob: str | os.PathLike) -> list[Path]:
    """Record files under a directory (recursively, following links, each real folder and
    file once), a glob, or one file; sorted."""
    p = Path(os.path.expanduser(str(path_or_glob)))
    if p.is_file():
        return [p]
    if p.is_dir():
        files = [
            folder / f
            for folder, names in walk_folder(p, skip_hidden_folders=False)
            for f in names
            if f.endswith(RECORD_SUFFIX)
        ]
    else:
        files = [Path(f) for f in glob.glob(str(p), recursive=True) if Path(f).is_file()]
        if not files and not any(c in str(path_or_glob) for c in "*?["):
            raise DataError(f"{path_or_glob}: no such file or directory; check the data path")
    if not files:
        raise DataError(f"{path_or_glob}: holds no {RECORD_SUFFIX} files; check the data path")
    return unique_files(sorted(files))


def empty_file_message(path: str | os.PathLike) -> str:
    """What to say about a 0-byte record file."""
    return (
        f"{path}: empty file (0 bytes, no records), probably an interrupted copy or conversion; "
        "delete it or re-convert it"
    )


def check_not_empty(path: str | os.PathLike) -> None:
    """Raise :class:`DataError` naming ``path`` when it is a 0-byte file: skipping it would
    silently change the data."""
    if os.path.getsize(path) == 0:
        raise DataError(empty_file_message(path))


def iter_sequences(path_or_glob: str | os.PathLike, num_views: int | None = None) -> Iterator[SequenceRecord]:
    """Every sequence under ``path_or_glob`` (every record of every file, files sorted by
    name), opened one at a time as the iteration reaches it.

    A 0-byte file is a :class:`DataError`. A sequence of 0 frames is skipped with a
    warning; a DataError when no sequence is left.
    """
    used = skipped = 0
    for f in find_record_files(path_or_glob):
        check_not_empty(f)
        for i in range(len(index_records(f))):
            sequence = SequenceRecord(f, i, num_views=num_views)
            if sequence.length == 0:
                log.warning("%s: sequence '%s' has 0 frames; skipped (re-convert it or delete it)", f, sequence.name)
                sequence.close()
                skipped += 1
                continue
            used += 1
            yield sequence
    if skipped and not used:
        raise DataError(
            f"{path_or_glob}: every sequence ({skipped}) has 0 frames, so there is nothing to use; "
            "re-convert the data or check the data path"
        )


def open_sequences(path_or_glob: str | os.PathLike, num_views: int | None = None) -> list[SequenceRecord]:
    """Every sequence under ``path_or_glob`` (every record of every file), sorted by file
    name; sequences of 0 frames are skipped with a warning (see :func:`iter_sequences`)."""
    return list(iter_sequences(path_or_glob, num_views))


def iter_sequence_examples(path: str | os.PathLike):
    """Yield ``(name, views)`` of every record in a file (whole records, CRC-checked)."""
    for i, data in enumerate(iter_records(path)):
        yield decode_sequence_example(data, f"{path} record {i}")
