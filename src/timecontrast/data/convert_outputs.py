"""The outputs of ``tcn convert``: what files a sequence becomes, its settings record,
whether a re-run must write them again, and the order in which they are written.

Each sequence becomes ``<output_dir>/<seq>.tfrecord``, or shards ``<seq>_shardNN.tfrecord``
(context ``task`` = ``<seq>_shardNN``) when it is longer than ``max_per_shard``.

Settings records: beside its records, each converted sequence gets ``<seq>.convert.json``
(written last, atomically) holding the settings that made them: per view the source
video, its size in bytes and modification time (nanoseconds), the resize and the
rotation; the shards; the JPEG quality. Sequences of another input format than ``videos``
(:mod:`timecontrast.data.formats`) also record the format (``from``) and per view its
name and the format's fingerprint of its source (files, sizes, modification times,
episode), and list their state and labeled files (``sidecars``, relative to the record),
which must all be there for a re-run to skip them. A re-run skips a sequence only when its record
holds the same settings, no other record file of the sequence is there and every output
is complete; otherwise the sequence is converted again and, once all its new files are
complete, every old file of it (shards of another ``max_per_shard``, or the unsharded
file) is removed. Outputs without a record (written before records existed, or cut short
between renaming and recording) are converted again: a rotation by 180 degrees or
another JPEG quality cannot be read back from a record file. A record of version 1 holds
no modification times: its videos count as unchanged while none was modified after the
record was written.

Temporaries: every file is written under a hidden temporary name and renamed into place
(:mod:`timecontrast.io.files`); those of a conversion killed by ``kill -9`` or the OOM
killer are removed by the next conversion into the same folders.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from timecontrast.data.formats.base import SourceSequence, ViewInfo
from timecontrast.data.layout import RECORD_SUFFIX, STATE_SUFFIX
from timecontrast.data.records import SequenceRecord, encode_sequence_example
from timecontrast.data.sidecars import Sidecars, relative_names, write_sidecars
from timecontrast.errors import TimeContrastError
from timecontrast.io.files import PendingFile, name_error, stale_temporaries, write_text
from timecontrast.io.tfrecord import frame_record

logger = logging.getLogger(__name__)

SETTINGS_SUFFIX = ".convert.json"  # <seq>.convert.json: the settings that made <seq>'s records
SETTINGS_FORMAT = "timecontrast-convert"
SETTINGS_VERSION = 2  # 2 added each video's mtime_ns
_SHARD_SUFFIX = re.compile(r"_shard\d{2,}$")


@dataclass(frozen=True)
class Shard:
    """Timesteps ``[start, stop)`` of a sequence, written as record ``name``."""

    name: str
    start: int
    stop: int

    @property
    def length(self) -> int:
        return self.stop - self.start


def shard_ranges(name: str, length: int, max_per_shard: int) -> list[Shard]:
    """The original's ``ShardSequences``: a sequence longer than ``max_per_shard`` is cut
    into ``floor(length / max_per_shard) + 1`` shards of ``ceil(length / num_shards)``
    timesteps, the last one taking the remainder. ``max_per_shard <= 0``: no sharding."""
    if max_per_shard <= 0 or length <= max_per_shard:
        return [Shard(name, 0, length)]
    num_shards = length // max_per_shard + 1
    size = -(-length // num_shards)
    starts = range(0, length, size)  # drops the empty tail shard the original could make
    return [Shard(f"{name}_shard{i:02d}", s, min(s + size, length)) for i, s in enumerate(starts)]


@dataclass(frozen=True)
class Plan:
    """What converting one sequence writes, and the settings that describe it."""

    shards: list[Shard]
    paths: list[Path]
    sizes: list[tuple[int, int] | None]  # per view: (height, width) to resize to, or None
    rotations: list[int]  # per view, degrees clockwise
    frame_size: tuple[int, int]  # (height, width) of view 0 in the records
    settings: dict[str, Any]  # compared with the sequence's settings record
    settings_path: Path
    length: int = 0  # timesteps converted (the shortest view's)
    decoded_sizes: list[tuple[int, int]] = field(default_factory=list)  # per view (height, width) before rotation


def settings_path(output_dir: Path, name: str) -> Path:
    """The settings record of sequence ``name`` converted into ``output_dir``."""
    return output_dir / f"{name}{SETTINGS_SUFFIX}"


def output_settings(
    infos: list[ViewInfo],
    shards: list[Shard],
    sizes: list,
    rotations: list[int],
    quality: int,
    input_format: str | None = None,
    source: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything that decides the bytes of a sequence's records, as JSON values.
    ``input_format`` None (videos): each view as the source video's fingerprint; otherwise
    the format is recorded, each view names itself, and ``source`` (the fingerprint of the
    state and labels, when not {}) is recorded too."""
    views = []
    for info, size, rot in zip(infos, sizes, rotations, strict=True):
        named = {} if input_format is None else {"view": info.name}
        views.append({**named, **info.fingerprint, "resize": list(size) if size else None, "rotate": rot})
    settings: dict[str, Any] = {} if input_format is None else {"from": input_format}
    if source:
        settings["source"] = source
    settings.update({"views": views, "shards": [[s.name, s.start, s.stop] for s in shards], "jpeg_quality": quality})
    return settings


def existing_outputs(out_root: Path, names: Sequence[str]) -> dict[str, list[Path]]:
    """Per sequence name, the record files already in the output that carry its name:
    ``<name>.tfrecord`` and ``<name>_shardNN.tfrecord``. One listing per folder."""
    found: dict[str, list[Path]] = {name: [] for name in names}
    for folder in sorted({(out_root / name).parent for name in names}):
        try:
            entries = sorted(os.listdir(folder))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for fname in entries:
            if fname.startswith(".") or not fname.endswith(RECORD_SUFFIX):
                continue
            stem = (folder / fname[: -len(RECORD_SUFFIX)]).relative_to(out_root).as_posix()
            if stem in found:
                found[stem].append(folder / fname)
            elif (owner := _SHARD_SUFFIX.sub("", stem)) in found:  # a shard of a sequence
                found[owner].append(folder / fname)
    return found


def remove_killed_temporaries(folders: Iterable[Path]) -> list[Path]:
    """Remove the hidden temporary records and settings records that a conversion killed
    before renaming them (``kill -9``, the OOM killer) left in ``folders``. Only those of
    dead processes: a conversion still running keeps its own. Returns what was removed."""
    removed = []
    for folder in sorted(set(folders)):
        for path in stale_temporaries(folder):
            target = path.name[1:].rsplit(".", 3)[0]  # .<target>.<pid>.<random>.tmp
            if not target.endswith((RECORD_SUFFIX, SETTINGS_SUFFIX, STATE_SUFFIX)):
                continue  # not a file of ours
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            except OSError as exc:  # e.g. a read-only folder: writing there will say so
                logger.warning("%s: cannot remove this temporary of a killed conversion (%s)", path, exc.strerror)
                continue
            removed.append(path)
    if removed:
        logger.info(
            "removed %d temporary file(s) left by a killed conversion: %s",
            len(removed),
            ", ".join(str(p) for p in removed),
        )
    return removed


def _read_settings(path: Path) -> dict[str, Any] | None:
    """The settings record at ``path``; None when missing or unreadable."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        logger.info("%s: unreadable settings record (%s)", path, exc)
        return None
    if not isinstance(doc, dict) or doc.get("format") != SETTINGS_FORMAT or not isinstance(doc.get("settings"), dict):
        logger.info("%s: not a settings record of tcn convert", path)
        return None
    return doc


def _complete(path: Path, shard: Shard, num_views: int, frame_size: tuple[int, int]) -> bool:
    """Whether ``path`` holds ``shard`` (name, length, views, frame size) as a readable record."""
    if not path.is_file():
        return False
    try:
        rec = SequenceRecord(path)
        ok = (
            rec.name == shard.name
            and rec.length == shard.length
            and rec.stored_length == shard.length
            and rec.num_views == num_views
            and rec.frame_size == frame_size
        )
        rec.close()
    except TimeContrastError as exc:
        logger.info("%s: unreadable (%s)", path, exc)
        return False
    return ok


def _same_views(old: Any, new: list[dict[str, Any]], recorded_ns: int) -> bool:
    """Whether the recorded views ``old`` describe the videos ``new``. A view recorded
    without ``mtime_ns`` (version 1) matches a video not modified after ``recorded_ns``."""
    if not isinstance(old, list) or len(old) != len(new):
        return False
    for was, now in zip(old, new, strict=True):
        if isinstance(was, dict) and "mtime_ns" not in was:
            if now["mtime_ns"] > recorded_ns:
                return False
            now = {key: value for key, value in now.items() if key != "mtime_ns"}
        if was != now:
            return False
    return True


def outdated_because(seq: SourceSequence, plan: Plan, on_disk: list[Path]) -> str | None:
    """Why the outputs of ``seq`` must be written again, or None when they are exactly
    what ``plan`` would write (the resume of an interrupted or repeated run)."""
    recorded = _read_settings(plan.settings_path)
    if recorded is None:
        return "no settings record (converted by an older version, or cut short)" if on_disk else "new"
    old = recorded["settings"]
    changed = [key for key, value in plan.settings.items() if key != "views" and old.get(key) != value]
    try:
        recorded_ns = plan.settings_path.stat().st_mtime_ns
    except OSError:
        recorded_ns = -1  # gone meanwhile: a version-1 record is not trusted
    if not _same_views(old.get("views"), plan.settings["views"], recorded_ns):
        changed.insert(0, "views")
    if changed:
        return f"converted with other settings ({', '.join(changed)})"
    stale = sorted(set(on_disk) - set(plan.paths))
    if stale:
        return f"old files beside its records ({', '.join(p.name for p in stale)})"
    for path, shard in zip(plan.paths, plan.shards, strict=True):
        if not _complete(path, shard, seq.num_views, plan.frame_size):
            return f"{path.name} is missing, damaged or does not match the videos"
    for name in _recorded_sidecars(recorded):
        if not (plan.settings_path.parent / name).is_file():
            return f"its state or labels file {name} is missing"
    return None


def _recorded_sidecars(recorded: dict[str, Any] | None) -> list[str]:
    """The state and labeled files a settings record lists (relative to the record)."""
    names = (recorded or {}).get("sidecars", [])
    return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []


def _pending_record(path: Path, data: bytes) -> PendingFile:
    """``data`` written as a one-record TFRecord file under a temporary name beside
    ``path``; :meth:`PendingFile.commit` renames it into place. An ``OSError`` names ``path``
    (a write on a descriptor names no file)."""
    pending = PendingFile(path, durable=True)
    try:
        with open(pending.take_fd(), "wb") as fh:
            fh.write(frame_record(data))
    except BaseException as exc:
        pending.discard()
        name_error(exc, path, pending.tmp)
        raise
    return pending


def write_outputs(
    name: str,
    plan: Plan,
    views: list[list[bytes]],
    on_disk: list[Path],
    options: dict[str, Any],
    sidecars: Sidecars | None = None,
) -> list[Path]:
    """Write the records of a sequence, replacing its old files; returns the old files removed.

    Order, so that an interruption at any point leaves either the old outputs or, at
    worst, outputs without a settings record (converted again next time): every new file
    complete under a temporary name; the old settings record removed; the new files
    renamed into place; the old files that were not replaced removed; the state and
    labeled files (``sidecars``), each written atomically, and the old ones that were not
    replaced removed; the new settings record written. An ``OSError`` (a full disk, a
    read-only folder) names the file.
    """
    old_sidecars = _recorded_sidecars(_read_settings(plan.settings_path))
    pending: list[PendingFile] = []
    try:
        for shard, path in zip(plan.shards, plan.paths, strict=True):
            pending.append(
                _pending_record(path, encode_sequence_example(shard.name, [v[shard.start : shard.stop] for v in views]))
            )
        plan.settings_path.unlink(missing_ok=True)
        for file in pending:
            file.commit()
    except BaseException:
        for file in pending:
            file.discard()  # the renamed ones stay
        raise
    removed = []
    for path in sorted(set(on_disk) - set(plan.paths)):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    folder = plan.settings_path.parent
    shards = [(s.name, s.start, s.stop, p) for s, p in zip(plan.shards, plan.paths, strict=True)]
    written = write_sidecars(sidecars, shards, views) if sidecars is not None else []
    for stale in sorted(set(old_sidecars) - set(relative_names(written, folder))):
        with contextlib.suppress(FileNotFoundError):
            (folder / stale).unlink()
            removed.append(folder / stale)
    record: dict[str, Any] = {
        "format": SETTINGS_FORMAT,
        "version": SETTINGS_VERSION,
        "sequence": name,
        "files": [p.name for p in plan.paths],
        "settings": plan.settings,
        "options": options,
    }
    if written:
        record["sidecars"] = relative_names(written, folder)
    write_text(plan.settings_path, json.dumps(record, indent=2) + "\n", durable=True)
    return removed
