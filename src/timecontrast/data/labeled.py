"""Labeled frame records: one ``tf.train.Example`` per labeled timestep.

Keys: ``image/view0`` ... (JPEG bytes, one per view), ``task`` (bytes: the sequence
name) and int64 label attributes (e.g. ``contact``, ``pole_up``). This is the format of
the Multiview Pouring dataset's "monolithic-labeled" records.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from google.protobuf.message import DecodeError

from timecontrast.data.records import check_not_empty, find_record_files
from timecontrast.errors import RecordError
from timecontrast.io.example import Example, SequenceExample, bytes_feature, feature_value, int64_feature
from timecontrast.io.tfrecord import TFRecordWriter, iter_records

_IMAGE_KEY = re.compile(r"^image/view(\d+)$")


@dataclass
class LabeledFrame:
    """One labeled timestep: a JPEG per view, the sequence name, integer labels."""

    images: list[bytes]
    task: str
    labels: dict[str, int] = field(default_factory=dict)
    timestep: int | None = None  # stored as int64 'timestep' when known


def encode_labeled_example(frame: LabeledFrame, image_keys: Sequence[str] | None = None) -> bytes:
    ex = Example()
    keys = image_keys or [f"image/view{v}" for v in range(len(frame.images))]
    for key, img in zip(keys, frame.images, strict=True):
        ex.features.feature[key].CopyFrom(bytes_feature(img))
    ex.features.feature["task"].CopyFrom(bytes_feature(frame.task.encode()))
    for k, v in frame.labels.items():
        ex.features.feature[k].CopyFrom(int64_feature(int(v)))
    if frame.timestep is not None:
        ex.features.feature["timestep"].CopyFrom(int64_feature(int(frame.timestep)))
    return ex.SerializeToString(deterministic=True)


def decode_labeled_example(
    data: bytes,
    source: str = "record",
    image_keys: Sequence[str] | None = None,
    label_keys: Sequence[str] | None = None,
    task_key: str = "task",
) -> LabeledFrame:
    """Parse a labeled Example. ``image_keys`` default to ``image/view<k>`` in view order;
    ``label_keys`` default to every int64 feature except ``timestep``."""
    try:
        ex = Example.FromString(data)
    except Exception:
        raise RecordError(f"{source}: not a tf.train.Example (is it a sequence record?)") from None
    feats = ex.features.feature
    if not feats:
        raise RecordError(f"{source}: not a labeled frame record (no features; is it a sequence record?)")
    if task_key not in feats:
        raise RecordError(
            f"{source}: labeled record has no '{task_key}' key (the sequence name); "
            "set data.labeled.image_attr_keys so its last entry names the task key"
        )
    if image_keys is None:
        numbered = sorted((int(m.group(1)), k) for k in feats if (m := _IMAGE_KEY.match(k)))
        image_keys = [k for _, k in numbered]
    missing = [k for k in image_keys if k not in feats]
    if (missing or not image_keys) and _is_sequence_example(data):
        raise RecordError(
            f"{source}: is a multi-view sequence record (tf.train.SequenceExample with view0, view1, ...), "
            "not a labeled frame record; read it with SequenceRecord/open_sequences (tcn inspect shows what a file holds)"
        )
    if missing or not image_keys:
        raise RecordError(
            f"{source}: labeled record lacks image keys {missing or ['image/view0']}; "
            f"it has {sorted(feats)}; check data.labeled.image_attr_keys"
        )
    if label_keys is None:
        label_keys = sorted(k for k, f in feats.items() if f.WhichOneof("kind") == "int64_list" and k != "timestep")
    labels = {}
    for k in label_keys:
        if k not in feats or feats[k].WhichOneof("kind") != "int64_list":
            raise RecordError(
                f"{source}: labeled record has no int64 label '{k}'; it has {sorted(feats)}; "
                "check data.labeled.label_attr_keys"
            )
        labels[k] = int(feature_value(feats[k])[0])
    t = int(feature_value(feats["timestep"])[0]) if "timestep" in feats else None
    return LabeledFrame(
        images=[feature_value(feats[k])[0] for k in image_keys],
        task=feature_value(feats[task_key])[0].decode(),
        labels=labels,
        timestep=t,
    )


def _is_sequence_example(data: bytes) -> bool:
    try:
        return bool(SequenceExample.FromString(data).feature_lists.feature_list)
    except DecodeError:  # not parseable as one either
        return False


def write_labeled_records(path: str | os.PathLike, frames: Iterable[LabeledFrame]) -> Path:
    """Write labeled frames to one file atomically."""
    with TFRecordWriter(path) as writer:
        for frame in frames:
            writer.write(encode_labeled_example(frame))
    return Path(path)


def iter_labeled_frames(
    path_or_dir: str | os.PathLike,
    image_keys: Sequence[str] | None = None,
    label_keys: Sequence[str] | None = None,
    task_key: str = "task",
) -> Iterator[LabeledFrame]:
    """Every labeled frame under a file, directory or glob, in file order (a 0-byte file
    is a :class:`~timecontrast.errors.DataError`, never skipped)."""
    for f in find_record_files(path_or_dir):
        check_not_empty(f)
        for i, data in enumerate(iter_records(f)):
            yield decode_labeled_example(data, f"{f} record {i}", image_keys, label_keys, task_key)


def split_image_attr_keys(image_attr_keys: Sequence[str]) -> tuple[list[str], str]:
    """The original's ``data.labeled.image_attr_keys``: image keys (those containing 'image') and the task key."""
    images = [k for k in image_attr_keys if "image" in k]
    rest = [k for k in image_attr_keys if "image" not in k]
    return images, (rest[0] if rest else "task")
