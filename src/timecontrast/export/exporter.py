"""Export embeddings: every sequence of a records folder to one file each, then ``manifest.json``.

Streams (one sequence in memory at a time), writes each file atomically and resumes: a
sequence whose file already holds this model's embeddings of the same views and length is
skipped. The model is whatever ``embed(sequence, views) -> [V, T, D]`` computes, described
by a :class:`~timecontrast.export.manifest.ModelInfo`; ``Embedder.export`` passes its own.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sized
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from timecontrast.data.layout import DATASET_FILE, dataset_info_path, records_dir
from timecontrast.data.records import find_record_files, iter_sequences
from timecontrast.data.sequence import MultiViewSequence
from timecontrast.errors import ConfigError, DataError
from timecontrast.export.content import (
    UNLABELED,
    SequenceExport,
    sequence_labels,
    sequence_source,
    sequence_state,
)
from timecontrast.export.formats import FORMATS
from timecontrast.export.manifest import (
    MANIFEST_NAME,
    PENDING_NAME,
    ModelInfo,
    describe_difference,
    export_identity,
    previous_identity,
    write_manifest,
)
from timecontrast.io.files import remove_stale_temporaries, write_text
from timecontrast.io.tfrecord import index_records
from timecontrast.progress import Progress

log = logging.getLogger(__name__)

EmbedFunction = Callable[[MultiViewSequence, list[int]], np.ndarray]  # (sequence, views) -> [V, T, D]
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class ExportResult:
    """What an export wrote: ``exported`` new files, ``skipped`` ones already there."""

    outdir: Path
    manifest: Path
    format: str
    exported: int = 0
    skipped: int = 0
    sequences: list[dict[str, Any]] = field(default_factory=list)  # the manifest's entries

    @property
    def num_rows(self) -> int:
        """Frames x views over all sequences."""
        return sum(len(s["views"]) * s["length"] for s in self.sequences)


def file_name(sequence_name: str, suffix: str) -> str:
    """The file of a sequence: its name with anything but ``A-Za-z0-9._-`` replaced by ``_``."""
    return (_UNSAFE.sub("_", sequence_name).strip(".") or "sequence") + suffix


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format '{fmt}'; choose one of {', '.join(FORMATS)}")


def check_outdir(outdir: Path) -> None:
    if outdir.exists() and not outdir.is_dir():
        raise DataError(f"{outdir}: is a file, not a folder; choose another output folder")


def check_records(records: str | os.PathLike) -> list[Path]:
    """The record files of ``records`` (a file, folder or glob); a dataset root or split
    folder (which also holds labeled records) is a :class:`DataError` naming its records folder."""
    path = Path(os.path.expanduser(str(records)))
    if dataset_info_path(path).is_file():
        raise DataError(
            f"{path}: is a dataset (it has {DATASET_FILE}); export one split's records: {path}/<split>/records"
        )
    if path.is_dir() and records_dir(path.parent, path.name).is_dir():
        raise DataError(
            f"{path}: is a dataset split (records, labeled frames, state); export its sequence records: "
            f"{records_dir(path.parent, path.name)}"
        )
    return find_record_files(records)


def _open(sequences: str | os.PathLike | Iterable[MultiViewSequence]) -> tuple[Iterable[MultiViewSequence], int | None]:
    """The sequences to export, opened one at a time, and how many there are (None: unknown)."""
    if isinstance(sequences, str | os.PathLike):
        total = sum(len(index_records(f)) for f in check_records(sequences))
        return iter_sequences(sequences), total
    return sequences, len(sequences) if isinstance(sequences, Sized) else None


def _wanted_views(sequence: MultiViewSequence, views: list[int] | None) -> list[int]:
    wanted = list(range(sequence.num_views)) if views is None else views
    bad = [v for v in wanted if not 0 <= v < sequence.num_views]
    if bad:
        raise DataError(
            f"{sequence_source(sequence)}: sequence '{sequence.name}' has {sequence.num_views} views "
            f"(0..{sequence.num_views - 1}), no view {bad[0]}; choose other views"
        )
    return wanted


def _embed(embed: EmbedFunction, sequence: MultiViewSequence, wanted: list[int], model: ModelInfo) -> np.ndarray:
    embeddings = np.asarray(embed(sequence, wanted), np.float32)
    expected = (len(wanted), sequence.length, model.embedding_size)
    if embeddings.shape != expected:
        raise DataError(f"sequence '{sequence.name}': embeddings of shape {embeddings.shape}, expected {expected}")
    return embeddings


def _entry(item: SequenceExport, file: str) -> dict[str, Any]:
    state = item.state
    return {
        "name": item.name,
        "file": file,
        "source": item.source,
        "views": list(item.views),
        "length": item.length,
        "labels": list(item.labels),
        "state": None
        if state is None
        else {"position": list(state.position_names), "velocity": list(state.velocity_names)},
    }


def _up_to_date(meta: dict[str, Any] | None, identity: dict[str, Any], wanted: list[int], length: int) -> bool:
    if not meta or meta.get("identity") != identity:
        return False
    entry = meta.get("sequence") or {}
    return entry.get("views") == wanted and entry.get("length") == length


def _limited(sequences: Iterable[MultiViewSequence], num_sequences: int) -> Iterator[MultiViewSequence]:
    for i, sequence in enumerate(sequences):
        if 0 <= num_sequences <= i:
            return
        yield sequence


def export_embeddings(
    sequences: str | os.PathLike | Iterable[MultiViewSequence],
    embed: EmbedFunction,
    outdir: str | os.PathLike,
    model: ModelInfo,
    fmt: str = "npz",
    views: list[int] | None = None,
    overwrite: bool = False,
    num_sequences: int = -1,
) -> ExportResult:
    """Write each sequence's ``[V, T, D]`` embeddings, timesteps, labels and true state to
    ``outdir/<sequence>.<fmt>``, then ``outdir/manifest.json``.

    ``sequences``: records (a file, folder or glob) or sequence objects; ``views``: the views
    of each sequence (None: all); ``num_sequences``: the first N only (-1: all). A re-run
    skips the sequences already exported by the same model; ``outdir`` holding an export of
    another model, format or views is a :class:`DataError` unless ``overwrite``, which
    writes every file again.
    """
    check_format(fmt)
    outdir = Path(os.path.expanduser(str(outdir)))
    check_outdir(outdir)
    views = None if views is None else [int(v) for v in views]
    if views is not None and (not views or len(set(views)) != len(views) or min(views) < 0):
        raise ConfigError(f"views {views}: give distinct view numbers >= 0 (or none for every view)")
    suffix, write, read_metadata = FORMATS[fmt]
    identity = export_identity(fmt, model, views)
    records = str(sequences) if isinstance(sequences, str | os.PathLike) else "<sequences>"
    opened, total = _open(sequences)  # before anything is written: no records is an error here

    previous = None if overwrite or not outdir.is_dir() else previous_identity(outdir)
    if previous is not None and previous != identity:
        raise DataError(
            f"{outdir}: holds an export of {describe_difference(previous, identity)}; pass --overwrite "
            "(overwrite=True) to replace it, or choose another output folder"
        )
    outdir.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(outdir)  # what a killed earlier run was writing
    if overwrite:
        (outdir / MANIFEST_NAME).unlink(missing_ok=True)
    write_text(outdir / PENDING_NAME, _json({"identity": identity}))

    result = ExportResult(outdir, outdir / MANIFEST_NAME, fmt)
    files: dict[str, str] = {}  # file -> the sequence written there
    if num_sequences >= 0 and total is not None:
        total = min(total, num_sequences)
    with Progress(total=total, desc=f"export {fmt}", unit="seq", units="sequences", logger=log) as progress:
        for sequence in _limited(opened, num_sequences):
            name = file_name(sequence.name, suffix)
            if name in files:
                raise DataError(
                    f"{sequence_source(sequence)}: sequence '{sequence.name}' goes to {name}, as '{files[name]}' "
                    "did; sequence names must be unique: export each split to its own folder"
                )
            files[name] = sequence.name
            wanted = _wanted_views(sequence, views)
            path = outdir / name
            meta = None if overwrite or not path.is_file() else read_metadata(path)
            if _up_to_date(meta, identity, wanted, sequence.length):
                assert meta is not None
                result.sequences.append(meta["sequence"])
                result.skipped += 1
            else:
                item = SequenceExport(
                    name=sequence.name,
                    embeddings=_embed(embed, sequence, wanted, model),
                    views=tuple(wanted),
                    labels=sequence_labels(sequence),
                    state=sequence_state(sequence),
                    source=sequence_source(sequence),
                )
                entry = _entry(item, name)
                write(path, item, {"identity": identity, "sequence": entry})
                result.sequences.append(entry)
                result.exported += 1
            close = getattr(sequence, "close", None)
            if callable(close):
                close()
            progress.update(1, counts={"frames": len(wanted) * sequence.length}, skipped=result.skipped)
    if not result.sequences:
        raise DataError(f"{records}: no sequence to export")
    write_manifest(outdir, fmt, model, records, views, result.sequences, UNLABELED)
    (outdir / PENDING_NAME).unlink(missing_ok=True)
    log.info("exported %d sequences (%d already there) to %s", result.exported + result.skipped, result.skipped, outdir)
    return result


def _json(data: Any) -> str:
    return json.dumps(data, indent=1) + "\n"
