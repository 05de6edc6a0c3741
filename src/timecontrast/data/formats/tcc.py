"""The format ``tcc``: TFRecords of Temporal Cycle-Consistency (TCC, google-research/tcc).

TCC's ``dataset_preparation`` writes one ``tf.train.SequenceExample`` per video, several per
file (``<name>-<shard>-of-<num>.tfrecord``): context ``name`` (bytes), ``len`` (int64),
optionally ``label`` (int64, the video's class), ``label_string`` and ``framelabels_string``
(the class names of the frame labels, comma-separated); feature lists ``video`` (one JPEG
per frame) and optionally ``frame_labels`` (one int64 per frame: the phase of the task).

Each video becomes a one-view sequence named by its ``name``, with the view ``video``. Its
``frame_labels`` become the label ``phase`` (what ``tcn phases`` reads) in the state file
and the labeled frame records. ``--input_dir`` is a file or a folder of them (searched
recursively). A view's fingerprint: the file's name, size, modification time and the
record's index.

Problems, each failing its video alone: a record that is not a TCC SequenceExample, a
``len`` other than the number of frames, ``frame_labels`` of another length, a damaged
record or JPEG, a name used twice. A file none of whose records is a TCC video is a
:class:`DataError` for the whole run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from timecontrast.data.formats.base import (
    SequenceProblem,
    SourceFormat,
    SourceSequence,
    ViewInfo,
    file_fingerprint,
    image_size,
    pick_views,
)
from timecontrast.data.formats.tfrecords import (
    EncodedFramesReader,
    RecordRef,
    find_tfrecord_files,
    first_record,
    index_file,
    parse_sequence_example,
)
from timecontrast.errors import DataError, TimeContrastError
from timecontrast.io.example import SequenceExample, feature_value

VIEW = "video"  # the feature list of the frames, and the name of the one view
LABELS = "frame_labels"
PHASE = "phase"  # the label the frame labels become


class TccVideo(SourceSequence):
    """One TCC video: its record, length, frame size and phase labels (read when scanned)."""

    def __init__(self, name: str, record: RecordRef, length: int, size: tuple[int, int], phases: np.ndarray | None):
        self.name = name
        self.record = record
        self.source = record.where
        self.length = length
        self.size = size
        self.phases = phases

    @property
    def view_names(self) -> list[str]:
        return [VIEW]

    def views(self) -> list[ViewInfo]:
        fingerprint = file_fingerprint(self.record.path, record=self.record.index)
        return [ViewInfo(VIEW, self.length, self.size[0], self.size[1], self.record.path, fingerprint)]

    def reader(self, view: int) -> EncodedFramesReader:
        return EncodedFramesReader(self.record, "sequence", VIEW, *self.size)

    def labels(self) -> dict[str, np.ndarray] | None:
        return {PHASE: self.phases} if self.phases is not None else None


def is_tcc_record(ex: SequenceExample) -> bool:
    return VIEW in ex.feature_lists.feature_list and "name" in ex.context.feature


def read_video(record: RecordRef) -> TccVideo:
    """Parse a TCC record into a :class:`TccVideo`; :class:`DataError` naming it when it is not one."""
    where = record.where
    ex = parse_sequence_example(record.read(), where)
    if not is_tcc_record(ex):
        raise DataError(
            f"{where}: not a TCC video (needs context 'name' and feature list 'video'; it has context "
            f"{sorted(ex.context.feature)} and feature lists {sorted(ex.feature_lists.feature_list)})"
        )
    context, lists = ex.context.feature, ex.feature_lists.feature_list
    name = feature_value(context["name"])[0].decode()
    frames = lists[VIEW].feature
    length = len(frames)
    if length == 0:
        raise DataError(f"{where} ('{name}'): holds no frames")
    stated = feature_value(context["len"]) if "len" in context else [length]
    if stated and int(stated[0]) != length:
        raise DataError(f"{where} ('{name}'): context len is {stated[0]} but 'video' holds {length} frames")
    phases = None
    if LABELS in lists:
        values = [feature_value(f) for f in lists[LABELS].feature]
        if len(values) != length or any(len(v) != 1 for v in values):
            raise DataError(
                f"{where} ('{name}'): '{LABELS}' has {len(values)} entries for {length} frames; "
                "the record is inconsistent"
            )
        phases = np.array([v[0] for v in values], np.int64)
    first = frames[0].bytes_list.value
    if len(first) != 1:
        raise DataError(f"{where} ('{name}'): frame 0 holds {len(first)} images, expected one")
    size = image_size(first[0], f"{where} ('{name}') frame 0")
    return TccVideo(name, record, length, size, phases)


class TccFormat(SourceFormat):
    name = "tcc"
    summary = "TCC TFRecords: SequenceExamples with context name, len and feature lists video (JPEG), frame_labels"

    def detect(self, path: Path) -> bool:
        found = first_record(path)
        if found is None:
            return False
        try:
            return is_tcc_record(SequenceExample.FromString(found[1]))
        except Exception:  # not a protobuf message: another format's file
            return False

    def scan(
        self, path: Path, cameras: Sequence[str] | None = None
    ) -> tuple[list[SourceSequence], list[SequenceProblem]]:
        pick_views([VIEW], cameras, f"{path} (a TCC dataset has the one view '{VIEW}')")
        files = find_tfrecord_files(path)
        if not files:
            raise DataError(f"{path}: holds no .tfrecord files; --from tcc reads TCC's TFRecords")
        videos: dict[str, TccVideo] = {}
        problems: list[SequenceProblem] = []
        for f in files:
            try:
                records = index_file(f)
            except TimeContrastError as exc:  # a damaged file: its readable records are unknown
                problems.append(SequenceProblem(f.name, str(exc)))
                continue
            for record in records:
                try:
                    video = read_video(record)
                except TimeContrastError as exc:
                    problems.append(SequenceProblem(f"{f.name}:{record.index}", str(exc)))
                    continue
                if video.name in videos:
                    other = videos[video.name].record.where
                    problems.append(SequenceProblem(video.name, f"{record.where}: name also used by {other}; skipped"))
                    continue
                videos[video.name] = video
        schema = next((p.message for p in problems if "not a TCC video" in p.message), None)
        if not videos and schema is not None:  # files of another kind altogether
            raise DataError(f"{schema}; is it a TCC dataset? (tcn inspect shows what it holds)")
        return [videos[name] for name in sorted(videos)], problems


FORMAT = TccFormat()
