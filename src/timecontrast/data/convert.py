"""Multi-view videos to sequence records, as the original ``videos_to_tfrecords`` did.

Each sequence (``<seq>_view<k>.<ext>`` files) becomes ``<output_dir>/<seq>.tfrecord``,
or shards ``<seq>_shardNN.tfrecord`` (context ``task`` = ``<seq>_shardNN``) when it is
longer than ``max_per_shard``. Differences from the original, on purpose:

- every video is decoded once, front to back (the original seeked once per frame);
- views are ordered by number (view10 after view2), not by file name;
- rotation accepts 0/90/180/270 only (the original rotated any other angle by 270);
- a damaged frame fails the whole sequence, shards included (the original could write
  empty frames into shards), and nothing of a failed sequence is written: all its
  shards are renamed into place only once every one of them is complete;
- a re-run redoes a sequence whose settings changed (see below), removing its old files.

Settings records: beside its records, each converted sequence gets ``<seq>.convert.json``
(written last, atomically) holding the settings that made them: per view the source
video, its size in bytes, the resize and the rotation; the shards; the JPEG quality. A
re-run skips a sequence only when its record holds the same settings, no other record
file of the sequence is there and every output is complete; otherwise the sequence is
converted again and, once all its new files are complete, every old file of it (shards
of another ``max_per_shard``, or the unsharded file) is removed. Outputs without a
record (written before records existed, or cut short between renaming and recording)
are converted again: a rotation by 180 degrees or another JPEG quality cannot be read
back from a record file.

Work is split into one task per video (a view of a sequence): decode it front to back
and JPEG-encode each frame. ``workers`` tasks run at once on a thread pool (FFmpeg and
Pillow release the GIL while they work) or a process pool (no GIL at all, but about a
second to start; ``benchmarks/convert.py`` measured both equally fast on 2 cores once
that is amortised); the main thread writes the records of each sequence once all its
views are done. Memory holds the JPEGs of the sequences in flight (about 60 KB per
640x360 frame); shard long recordings or convert them in parts. Process workers ignore
Ctrl-C (SIGINT is blocked while they start, then ignored): the main process stops them
and reports the interrupt once, and only complete sequences are on disk.
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import os
import re
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from tqdm import tqdm

from timecontrast.data.records import RECORD_SUFFIX, SequenceRecord, encode_sequence_example
from timecontrast.data.videos import (
    DEFAULT_VIEW_PATTERN,
    VideoSequence,
    common_view_count,
    scan_video_sequences,
    short_video_error,
)
from timecontrast.errors import DataError, TimeContrastError
from timecontrast.io.files import PendingFile, write_text
from timecontrast.io.jpeg import DEFAULT_QUALITY, encode_jpeg
from timecontrast.io.tfrecord import frame_record
from timecontrast.io.video import iter_video_frames

logger = logging.getLogger(__name__)

ROTATIONS = (0, 90, 180, 270)  # degrees clockwise
SETTINGS_SUFFIX = ".convert.json"  # <seq>.convert.json: the settings that made <seq>'s records
SETTINGS_FORMAT = "timecontrast-convert"
SETTINGS_VERSION = 1
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


@dataclass
class ConvertResult:
    """What :func:`convert_videos` did. ``failed`` maps a sequence name to the reason."""

    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)  # old files of sequences converted again
    failed: dict[str, str] = field(default_factory=dict)
    frames_encoded: int = 0  # JPEGs written, all views

    @property
    def ok(self) -> bool:
        return not self.failed


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


def output_size(height: int, width: int, resize_min_edge: int = 0, rotate: int = 0) -> tuple[int, int]:
    """``(height, width)`` of a converted frame: the shorter edge scaled to
    ``resize_min_edge`` (the longer edge rounded to an even number, so videos rendered
    from the records need no padding), then rotated."""
    if resize_min_edge > 0:
        scale = resize_min_edge / min(height, width)
        longer = max(2, 2 * round(max(height, width) * scale / 2))
        height, width = (resize_min_edge, longer) if height <= width else (longer, resize_min_edge)
    return (width, height) if rotate in (90, 270) else (height, width)


def _rotated(frame: np.ndarray, rotate: int) -> np.ndarray:
    """``frame`` rotated clockwise by ``rotate`` degrees (a multiple of 90)."""
    return np.ascontiguousarray(np.rot90(frame, k=-(rotate // 90))) if rotate else frame


class _Flag(Protocol):
    """A cancellation flag: a ``threading.Event`` or a ``multiprocessing`` one."""

    def is_set(self) -> bool: ...


def video_jpegs(
    path: Path,
    length: int,
    size: tuple[int, int] | None = None,
    rotate: int = 0,
    quality: int = DEFAULT_QUALITY,
    cancel: _Flag | None = None,
    progress: Callable[[int], object] | None = None,
) -> list[bytes]:
    """The first ``length`` frames of a video as JPEGs, decoded once in order.

    ``size`` = ``(height, width)`` resizes (area averaging) before ``rotate`` (degrees
    clockwise). Stops early, returning what it has, once ``cancel`` is set.
    """
    out: list[bytes] = []
    frames = iter_video_frames(path, size)
    try:
        for frame in frames:
            if cancel is not None and cancel.is_set():
                return out
            out.append(encode_jpeg(_rotated(frame, rotate), quality))
            if progress is not None:
                progress(1)
            if len(out) == length:
                return out
    finally:
        frames.close()
    if len(out) < length:
        raise short_video_error(path, len(out), length)
    return out


# ------------------------------------------------------------------------ the workers
_worker_counter = None  # in a process-pool worker: the shared count of encoded frames
_worker_abort = None  # in a process-pool worker: set by the main process to stop every task


def _init_worker(counter, abort) -> None:
    """Start of a process-pool worker: Ctrl-C is the main process's to handle."""
    global _worker_counter, _worker_abort
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):  # blocked by the main process while it started us
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    _worker_counter, _worker_abort = counter, abort


def _count_in_worker(n: int) -> None:
    with _worker_counter.get_lock():
        _worker_counter.value += n


def _video_jpegs_in_worker(
    path: Path, length: int, size: tuple[int, int] | None, rotate: int, quality: int
) -> list[bytes]:
    return video_jpegs(path, length, size, rotate, quality, _worker_abort, _count_in_worker)


@contextlib.contextmanager
def _sigint_blocked() -> Iterator[None]:
    """Block SIGINT in this thread, so that processes started meanwhile begin with it
    blocked (a blocked signal stays blocked through exec) until they ignore it: a Ctrl-C
    while a worker imports its modules would otherwise print its traceback. CPython's
    resource tracker starts the same way. A Ctrl-C meanwhile is delivered afterwards."""
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


class _Workers:
    """Decode-and-encode tasks (one per video) on a thread pool or a spawned process pool."""

    def __init__(self, parallel: str, workers: int, bar: tqdm) -> None:
        self.threads = parallel == "threads"
        self.bar = bar
        if self.threads:
            self._lock = threading.Lock()  # tqdm.update is not atomic across threads
            self.executor: ThreadPoolExecutor | ProcessPoolExecutor = ThreadPoolExecutor(workers, "convert")
            return
        ctx = multiprocessing.get_context("spawn")  # never fork a process that runs threads
        self._counter = ctx.Value("q", 0)
        self._abort = ctx.Event()
        self.executor = ProcessPoolExecutor(
            workers, mp_context=ctx, initializer=_init_worker, initargs=(self._counter, self._abort)
        )

    def _count(self, n: int) -> None:
        with self._lock:
            self.bar.update(n)

    def cancel_flag(self) -> threading.Event | None:
        """A flag that stops one sequence's tasks (threads; processes stop all at once)."""
        return threading.Event() if self.threads else None

    def submit(
        self, path: Path, length: int, size: tuple[int, int] | None, rotate: int, quality: int, cancel: _Flag | None
    ) -> Future[list[bytes]]:
        if self.threads:
            return self.executor.submit(video_jpegs, path, length, size, rotate, quality, cancel, self._count)
        with _sigint_blocked():  # a submit may start a worker process
            return self.executor.submit(_video_jpegs_in_worker, path, length, size, rotate, quality)

    def poll(self) -> None:
        """Bring the progress bar up to date with the process workers' count."""
        if not self.threads:
            self.bar.update(self._counter.value - self.bar.n)

    def shutdown(self) -> None:
        """Stop every task still running (they return early), drop queued ones, and wait."""
        if not self.threads:
            self._abort.set()
        self.executor.shutdown(wait=True, cancel_futures=True)


# ---------------------------------------------------------------- outputs and settings
@dataclass(frozen=True)
class _Plan:
    """What converting one sequence writes, and the settings that describe it."""

    shards: list[Shard]
    paths: list[Path]
    sizes: list[tuple[int, int] | None]  # per view: (height, width) to resize to, or None
    rotations: list[int]  # per view, degrees clockwise
    frame_size: tuple[int, int]  # (height, width) of view 0 in the records
    settings: dict[str, Any]  # compared with the sequence's settings record
    settings_path: Path


def settings_path(output_dir: Path, name: str) -> Path:
    """The settings record of sequence ``name`` converted into ``output_dir``."""
    return output_dir / f"{name}{SETTINGS_SUFFIX}"


def _output_settings(
    seq: VideoSequence, shards: list[Shard], sizes: list, rotations: list[int], quality: int
) -> dict[str, Any]:
    """Everything that decides the bytes of a sequence's records, as JSON values."""
    return {
        "views": [
            {"video": p.name, "bytes": p.stat().st_size, "resize": list(size) if size else None, "rotate": rot}
            for p, size, rot in zip(seq.paths, sizes, rotations, strict=True)
        ],
        "shards": [[s.name, s.start, s.stop] for s in shards],
        "jpeg_quality": quality,
    }


def _existing_outputs(out_root: Path, names: Sequence[str]) -> dict[str, list[Path]]:
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


def _outdated_because(seq: VideoSequence, plan: _Plan, on_disk: list[Path]) -> str | None:
    """Why the outputs of ``seq`` must be written again, or None when they are exactly
    what ``plan`` would write (the resume of an interrupted or repeated run)."""
    recorded = _read_settings(plan.settings_path)
    if recorded is None:
        return "no settings record (converted by an older version, or cut short)" if on_disk else "new"
    old = recorded["settings"]
    changed = [key for key, value in plan.settings.items() if old.get(key) != value]
    if changed:
        return f"converted with other settings ({', '.join(changed)})"
    stale = sorted(set(on_disk) - set(plan.paths))
    if stale:
        return f"old files beside its records ({', '.join(p.name for p in stale)})"
    for path, shard in zip(plan.paths, plan.shards, strict=True):
        if not _complete(path, shard, seq.num_views, plan.frame_size):
            return f"{path.name} is missing, damaged or does not match the videos"
    return None


def _pending_record(path: Path, data: bytes) -> PendingFile:
    """``data`` written as a one-record TFRecord file under a temporary name beside
    ``path``; :meth:`PendingFile.commit` renames it into place."""
    pending = PendingFile(path, durable=True)
    try:
        fd, pending.fd = pending.fd, None
        with open(fd, "wb") as fh:
            fh.write(frame_record(data))
    except BaseException:
        pending.discard()
        raise
    return pending


def _write_outputs(
    name: str, plan: _Plan, views: list[list[bytes]], on_disk: list[Path], options: dict[str, Any]
) -> list[Path]:
    """Write the records of a sequence, replacing its old files; returns the old files removed.

    Order, so that an interruption at any point leaves either the old outputs or, at
    worst, outputs without a settings record (converted again next time): every new file
    complete under a temporary name; the old settings record removed; the new files
    renamed into place; the old files that were not replaced removed; the new settings
    record written.
    """
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
    record = {
        "format": SETTINGS_FORMAT,
        "version": SETTINGS_VERSION,
        "sequence": name,
        "files": [p.name for p in plan.paths],
        "settings": plan.settings,
        "options": options,
    }
    write_text(plan.settings_path, json.dumps(record, indent=2) + "\n", durable=True)
    return removed


# ---------------------------------------------------------------------- the conversion
@dataclass
class _Job:
    """A sequence in flight: one task per view, then its records to write."""

    seq: VideoSequence
    plan: _Plan
    on_disk: list[Path]  # its files found in the output before the run
    cancel: threading.Event | None
    tasks: list[Future[list[bytes]]] = field(default_factory=list)

    def stop(self) -> None:
        if self.cancel is not None:
            self.cancel.set()
        for task in self.tasks:
            task.cancel()

    def views(self, poll: Callable[[], None]) -> list[list[bytes]]:
        """Wait for every view's JPEGs (calling ``poll`` now and then)."""
        try:
            while wait(self.tasks, timeout=0.25).not_done:
                poll()
            poll()
            return [task.result() for task in self.tasks]
        except BaseException:
            self.stop()
            raise


def convert_videos(
    input_dir: str | os.PathLike,
    output_dir: str | os.PathLike,
    max_per_shard: int = -1,
    resize_min_edge: int = 0,
    rotate: int = 0,
    rotate_if_matching: str | None = None,
    expected_views: int | None = None,
    max_views_discrepancy: int = 100,
    overwrite: bool = False,
    workers: int | None = None,
    parallel: str = "threads",
    view_pattern: str = DEFAULT_VIEW_PATTERN,
    quality: int = DEFAULT_QUALITY,
    progress: bool = True,
    on_sequence: Callable[[str, str], None] | None = None,
) -> ConvertResult:
    """Convert every ``<seq>_view<k>.<ext>`` sequence under ``input_dir`` into records.

    A sequence that cannot be converted (missing view, unreadable video, views whose
    lengths differ by more than ``max_views_discrepancy`` frames) is recorded in
    ``result.failed`` and the others go on; nothing of it is written, and its earlier
    output, if any, is kept. ``expected_views``: the number of views every sequence
    must have; None infers it from the videos (all sequences must agree, else
    :class:`DataError` naming them); 0 accepts any number. ``rotate`` (degrees
    clockwise) applies to every video, or only to those whose path matches the regex
    ``rotate_if_matching``. ``workers`` videos are decoded and encoded at once (default:
    the number of CPUs), on ``parallel`` = ``"threads"`` or ``"processes"``. A sequence
    whose outputs were made with the same settings is skipped unless ``overwrite``; one
    made with other settings is converted again and its old files removed.
    ``on_sequence(name, status)`` is called once per sequence with status ``written``,
    ``skipped`` or ``failed``.
    """
    if rotate not in ROTATIONS:
        raise DataError(f"--rotate {rotate}: only 0, 90, 180 or 270 degrees (clockwise) are supported")
    if resize_min_edge < 0:
        raise DataError(f"--resize_min_edge {resize_min_edge}: must be 0 (keep the size) or a positive edge length")
    if resize_min_edge % 2:
        logger.warning(
            "--resize_min_edge %d is odd: videos rendered from these records get a black edge", resize_min_edge
        )
    if expected_views is not None and expected_views < 0:
        raise DataError(f"--expected_views {expected_views}: must be a number of views, or 0 for any number")
    try:
        rotate_re = re.compile(rotate_if_matching) if rotate_if_matching else None
    except re.error as exc:
        raise DataError(
            f"--rotate_if_matching {rotate_if_matching!r} is not a valid regular expression ({exc})"
        ) from None
    workers = workers or os.cpu_count() or 1
    if workers < 1:
        raise DataError(f"--workers {workers}: must be at least 1")
    if parallel not in ("threads", "processes"):
        raise DataError(f"parallel={parallel!r}: use 'threads' or 'processes'")
    out_root = Path(os.path.expanduser(str(output_dir)))
    sequences, problems = scan_video_sequences(input_dir, expected_views or None, view_pattern)
    if not sequences and not problems:
        raise DataError(f"{input_dir}: holds no videos named <seq>_view<k>.<ext>; check --input_dir and --view_pattern")
    if expected_views is None and (num_views := common_view_count(input_dir, sequences)) is not None:
        logger.info("%d views per sequence (found in the videos; --expected_views sets it)", num_views)
    options = {
        "max_per_shard": max_per_shard,
        "resize_min_edge": resize_min_edge,
        "rotate": rotate,
        "rotate_if_matching": rotate_if_matching,
        "jpeg_quality": quality,
    }

    result = ConvertResult()
    on_disk = _existing_outputs(out_root, [seq.name for seq in sequences])
    bar = tqdm(total=0, unit="frame", desc="convert", disable=None if progress else True, dynamic_ncols=True)

    def report(name: str, status: str) -> None:
        if on_sequence is not None:
            on_sequence(name, status)

    def fail(name: str, exc: BaseException | str) -> None:
        result.failed[name] = str(exc)
        logger.error("%s: %s", name, exc)
        report(name, "failed")

    def finish(job: _Job) -> None:
        seq = job.seq
        try:
            views = job.views(pool.poll)
        except TimeContrastError as exc:
            fail(seq.name, exc)
            return
        removed = _write_outputs(seq.name, job.plan, views, job.on_disk, options)
        result.frames_encoded += sum(len(v) for v in views)
        result.written.extend(job.plan.paths)
        result.removed.extend(removed)
        logger.info("%s: %d frames x %d views -> %d file(s)", seq.name, seq.length, seq.num_views, len(job.plan.paths))
        if removed:
            logger.info("%s: removed its old file(s) %s", seq.name, ", ".join(p.name for p in removed))
        report(seq.name, "written")

    for p in problems:
        fail(p.name, p.message)
    pool = _Workers(parallel, workers, bar)
    jobs: deque[_Job] = deque()
    try:
        for seq in sequences:
            try:
                plan = _plan(
                    seq, out_root, max_per_shard, resize_min_edge, rotate, rotate_re, max_views_discrepancy, quality
                )
            except TimeContrastError as exc:
                fail(seq.name, exc)
                continue
            reason = "--overwrite" if overwrite else _outdated_because(seq, plan, on_disk[seq.name])
            if reason is None:
                result.skipped.extend(plan.paths)
                logger.info("%s: already converted with these settings, skipped (--overwrite rewrites it)", seq.name)
                report(seq.name, "skipped")
                continue
            if reason != "new":
                logger.info("%s: converting again: %s", seq.name, reason)
            bar.total += seq.length * seq.num_views
            bar.refresh()
            job = _Job(seq, plan, on_disk[seq.name], pool.cancel_flag())
            jobs.append(job)
            for path, size, rot in zip(seq.paths, plan.sizes, plan.rotations, strict=True):
                job.tasks.append(pool.submit(path, seq.length, size, rot, quality, job.cancel))
            # Write the oldest sequence once the younger ones queue enough work to keep every
            # worker busy meanwhile; this also bounds how many sequences are held in memory.
            while len(jobs) > 1 and sum(len(job.tasks) for job in list(jobs)[1:]) >= workers:
                finish(jobs.popleft())
        while jobs:
            finish(jobs.popleft())
    finally:
        for job in jobs:  # only after an interrupt or an unexpected error
            job.stop()
        pool.shutdown()
        bar.close()
    return result


def _plan(
    seq: VideoSequence,
    out_root: Path,
    max_per_shard: int,
    resize_min_edge: int,
    rotate: int,
    rotate_re: re.Pattern[str] | None,
    max_views_discrepancy: int,
    quality: int,
) -> _Plan:
    """Shards, output paths, per-view resize and rotation, view 0's output frame size, and settings."""
    lengths = seq.view_lengths  # probes every video: an unreadable one fails here
    if max(lengths) - min(lengths) > max_views_discrepancy:
        raise DataError(
            f"views have {lengths} frames, differing by {max(lengths) - min(lengths)} > --max_views_discrepancy "
            f"{max_views_discrepancy}; check the videos are of the same take, or raise the limit"
        )
    if min(lengths) == 0:
        raise DataError(f"{seq.paths[lengths.index(0)]} holds no frames")
    rotations = [rotate if rotate_re is None or rotate_re.search(str(p)) else 0 for p in seq.paths]
    resized = [output_size(i.height, i.width, resize_min_edge) for i in seq.infos]
    sizes = [size if resize_min_edge > 0 else None for size in resized]
    frame_size = output_size(*resized[0], 0, rotations[0])  # what SequenceRecord.frame_size reads
    shards = shard_ranges(seq.name, seq.length, max_per_shard)
    paths = [out_root / f"{s.name}{RECORD_SUFFIX}" for s in shards]
    settings = _output_settings(seq, shards, sizes, rotations, quality)
    return _Plan(shards, paths, sizes, rotations, frame_size, settings, settings_path(out_root, seq.name))
