"""Multi-view sequences to sequence records, as the original ``videos_to_tfrecords`` did.

The sequences come from an input format (:mod:`timecontrast.data.formats`): ``videos``
(``<seq>_view<k>.<ext>`` files, the default), frame folders, TCC or RLDS TFRecords,
LeRobot datasets. Each sequence becomes ``<output_dir>/<seq>.tfrecord``,
or shards ``<seq>_shardNN.tfrecord`` when it is longer than ``max_per_shard``, and a
settings record ``<seq>.convert.json``; what is written, in which order, and when a
re-run writes it again is :mod:`timecontrast.data.convert_outputs`. This module is the
conversion loop. Differences from the original, on purpose:

- every video is decoded once, front to back (the original seeked once per frame);
- views are ordered by number (view10 after view2), not by file name;
- rotation accepts 0/90/180/270 only (the original rotated any other angle by 270);
- a damaged frame fails the whole sequence, shards included (the original could write
  empty frames into shards), and nothing of a failed sequence is written: all its
  shards are renamed into place only once every one of them is complete;
- a re-run redoes a sequence whose settings or videos changed, removing its old files.

State and labels: a sequence whose source has per-frame state (``observation.state``,
actions) or labels (task phases) also gets the project's sidecars, as ``tcn synth``
writes them, when ``output_dir`` is a folder named ``records``:
``../state/<seq>.npz`` (:mod:`timecontrast.data.state`, with the labels) and
``../labeled/<seq>.tfrecord`` (one labeled frame per timestep, when there are labels);
one per shard when sharded. ``tcn probe`` and the labeled evaluations read them.

Failures: a sequence whose videos cannot be read (a damaged file, or an ``OSError`` such
as EIO or EACCES while probing or decoding one) fails alone, with a message naming the
video, and the others go on. An ``OSError`` while writing the outputs (a full disk, a
read-only folder) stops the run, naming the file: every following sequence would fail
the same way. The sequences written before it are complete.

Work is split into one task per view of a sequence (a video): decode it front to back
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

import logging
import multiprocessing
import os
import re
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from timecontrast.data.convert_outputs import (
    Plan,
    Shard,
    existing_outputs,
    outdated_because,
    output_settings,
    remove_killed_temporaries,
    settings_path,
    shard_ranges,
    write_outputs,
)
from timecontrast.data.formats import scan_source, source_format
from timecontrast.data.formats.base import SourceFormat, SourceSequence, VideoFileReader, ViewReader
from timecontrast.data.formats.videos import VideosFormat
from timecontrast.data.interrupts import DeferredInterrupt, ignore_sigint_in_worker, sigint_blocked
from timecontrast.data.layout import RECORD_SUFFIX
from timecontrast.data.sidecars import Sidecars, read_sidecars, sidecar_paths
from timecontrast.data.videos import DEFAULT_VIEW_PATTERN, common_view_count
from timecontrast.errors import DataError, TimeContrastError
from timecontrast.io.files import name_error
from timecontrast.io.jpeg import DEFAULT_QUALITY, encode_jpeg
from timecontrast.io.video import iter_video_frames
from timecontrast.progress import Progress

logger = logging.getLogger(__name__)

__all__ = [
    "ROTATIONS",
    "ConvertResult",
    "Shard",
    "convert_sequences",
    "convert_videos",
    "output_size",
    "settings_path",
    "shard_ranges",
    "video_jpegs",
    "view_jpegs",
]

ROTATIONS = (0, 90, 180, 270)  # degrees clockwise


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
    """The first ``length`` frames of a video as JPEGs, decoded once in order (see
    :func:`view_jpegs`)."""
    return view_jpegs(VideoFileReader(Path(path)), length, size, rotate, quality, cancel, progress)


def _frames_of(reader: ViewReader, size: tuple[int, int] | None) -> Iterator[np.ndarray]:
    if isinstance(reader, VideoFileReader):  # through this module's name, which tests replace
        return iter_video_frames(reader.path, size)
    return reader.frames(size)


def view_jpegs(
    reader: ViewReader,
    length: int,
    size: tuple[int, int] | None = None,
    rotate: int = 0,
    quality: int = DEFAULT_QUALITY,
    cancel: _Flag | None = None,
    progress: Callable[[int], object] | None = None,
    frame_size: tuple[int, int] | None = None,
) -> list[bytes]:
    """The first ``length`` frames of a view as JPEGs, decoded once in order.

    ``size`` = ``(height, width)`` resizes (area averaging) before ``rotate`` (degrees
    clockwise). ``frame_size``: the ``(height, width)`` every decoded frame must have (a
    frame of another size raises :class:`DataError` naming it). Stops early, returning what
    it has, once ``cancel`` is set. An ``OSError`` (EIO, EACCES) names the reader's source.
    """
    out: list[bytes] = []
    frames = _frames_of(reader, size)
    try:
        for frame in frames:
            if cancel is not None and cancel.is_set():
                return out
            if frame_size is not None and frame.shape[:2] != frame_size:
                raise DataError(
                    f"{reader.source}: frame {len(out)} is {frame.shape[1]}x{frame.shape[0]}, the view's frames are "
                    f"{frame_size[1]}x{frame_size[0]}; every frame of a view must have the same size"
                )
            out.append(encode_jpeg(_rotated(frame, rotate), quality))
            if progress is not None:
                progress(1)
            if len(out) == length:
                return out
    except OSError as exc:
        name_error(exc, reader.source)
        raise
    finally:
        close = getattr(frames, "close", None)
        if close is not None:
            close()
    if len(out) < length:
        raise reader.short_error(len(out), length)
    return out


# ------------------------------------------------------------------------ the workers
_worker_counter = None  # in a process-pool worker: the shared count of encoded frames
_worker_abort = None  # in a process-pool worker: set by the main process to stop every task


def _init_worker(counter, abort) -> None:
    """Start of a process-pool worker: Ctrl-C is the main process's to handle."""
    global _worker_counter, _worker_abort
    ignore_sigint_in_worker()
    _worker_counter, _worker_abort = counter, abort


def _count_in_worker(n: int) -> None:
    counter = _worker_counter
    assert counter is not None, "_init_worker sets the counter before any task runs"
    with counter.get_lock():
        counter.value += n


def _view_jpegs_in_worker(
    reader: ViewReader,
    length: int,
    size: tuple[int, int] | None,
    rotate: int,
    quality: int,
    frame_size: tuple[int, int] | None,
) -> list[bytes]:
    return view_jpegs(reader, length, size, rotate, quality, _worker_abort, _count_in_worker, frame_size)


class _Workers:
    """Decode-and-encode tasks (one per view) on a thread pool or a spawned process pool."""

    def __init__(self, parallel: str, workers: int, bar: Progress, interrupt: DeferredInterrupt) -> None:
        self.threads = parallel == "threads"
        self.bar = bar
        self.interrupt = interrupt
        if self.threads:  # Progress.update is thread-safe
            self.executor: ThreadPoolExecutor | ProcessPoolExecutor = ThreadPoolExecutor(workers, "convert")
            return
        ctx = multiprocessing.get_context("spawn")  # never fork a process that runs threads
        self._counter = ctx.Value("q", 0)
        self._abort = ctx.Event()
        self.executor = ProcessPoolExecutor(
            workers, mp_context=ctx, initializer=_init_worker, initargs=(self._counter, self._abort)
        )

    def _count(self, n: int) -> None:
        self.bar.update(n)

    def cancel_flag(self) -> threading.Event | None:
        """A flag that stops one sequence's tasks (threads; processes stop all at once)."""
        return threading.Event() if self.threads else None

    def submit(
        self,
        reader: ViewReader,
        length: int,
        size: tuple[int, int] | None,
        rotate: int,
        quality: int,
        cancel: _Flag | None,
        frame_size: tuple[int, int] | None = None,
    ) -> Future[list[bytes]]:
        if self.threads:
            return self.executor.submit(
                view_jpegs, reader, length, size, rotate, quality, cancel, self._count, frame_size
            )
        with sigint_blocked():  # a submit may start a worker process
            return self.executor.submit(_view_jpegs_in_worker, reader, length, size, rotate, quality, frame_size)

    def poll(self) -> None:
        """Raise a pending Ctrl-C; bring the progress bar up to date with the process workers' count."""
        self.interrupt.check()
        if not self.threads:
            self.bar.update(self._counter.value - self.bar.n)

    def shutdown(self) -> None:
        """Stop every task still running (they return early), drop queued ones, and wait."""
        if not self.threads:
            self._abort.set()
        self.executor.shutdown(wait=True, cancel_futures=True)


# ---------------------------------------------------------------------- the conversion
@dataclass
class _Job:
    """A sequence in flight: one task per view, then its records to write."""

    seq: SourceSequence
    plan: Plan
    on_disk: list[Path]  # its files found in the output before the run
    cancel: threading.Event | None
    sidecars: Sidecars | None = None  # its state and labels, when it has some
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
    """Convert every ``<seq>_view<k>.<ext>`` sequence under ``input_dir`` into records:
    :func:`convert_sequences` with the ``videos`` format."""
    return convert_sequences(
        input_dir,
        output_dir,
        "videos",
        max_per_shard=max_per_shard,
        resize_min_edge=resize_min_edge,
        rotate=rotate,
        rotate_if_matching=rotate_if_matching,
        expected_views=expected_views,
        max_views_discrepancy=max_views_discrepancy,
        overwrite=overwrite,
        workers=workers,
        parallel=parallel,
        view_pattern=view_pattern,
        quality=quality,
        progress=progress,
        on_sequence=on_sequence,
    )


def convert_sequences(
    input_path: str | os.PathLike,
    output_dir: str | os.PathLike,
    input_format: str | SourceFormat | None = None,
    cameras: Sequence[str] | None = None,
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
    """Convert every sequence of ``input_path`` into records.

    ``input_format``: a name of :data:`timecontrast.data.formats.FORMATS` (``videos``,
    ``frames``, ``tcc``, ``rlds``, ...) or a format; None detects it (``videos`` when no format
    recognises the path). ``cameras``: the views to convert, by name, in this order (None:
    every view in the source's order). ``view_pattern`` applies to the ``videos`` format.
    A sequence whose source has state or labels also gets them as sidecars beside
    ``output_dir`` (see the module docstring).

    A sequence that cannot be converted (missing view, unreadable video, an ``OSError``
    while reading one, views whose lengths differ by more than ``max_views_discrepancy``
    frames) is recorded in ``result.failed`` and the others go on; nothing of it is
    written, and its earlier output, if any, is kept. An ``OSError`` while writing (a full
    disk) is raised, naming the file. Temporaries of killed conversions are removed first.
    ``expected_views``: the number of views every sequence must have; None infers it from
    the videos (all sequences must agree, else :class:`DataError` naming them); 0 accepts
    any number. ``rotate`` (degrees
    clockwise) applies to every video, or only to those whose path matches the regex
    ``rotate_if_matching``. ``workers`` videos are decoded and encoded at once (default:
    the number of CPUs), on ``parallel`` = ``"threads"`` or ``"processes"``. A sequence
    whose outputs were made with the same settings from the same videos is skipped unless
    ``overwrite``; one made with other settings or from changed videos is converted again and
    its old files removed.
    ``on_sequence(name, status)`` is called once per sequence with status ``written``,
    ``skipped`` or ``failed``. ``progress``: a bar of frames on a terminal, else a progress
    line every :func:`timecontrast.progress.progress_interval` seconds (frames done, rate,
    ETA, sequences done); False shows neither.
    """
    rotate_re, workers = _checked_options(
        rotate, resize_min_edge, expected_views, rotate_if_matching, workers, parallel
    )
    out_root = Path(os.path.expanduser(str(output_dir)))
    source = source_format(input_path, input_format, view_pattern, expected_views)
    sequences, problems = scan_source(source, input_path, cameras, expected_views)
    if expected_views is None and (num_views := common_view_count(input_path, sequences)) is not None:
        logger.info("%d views per sequence (found in the %s; --expected_views sets it)", num_views, source.name)
    settings = _Settings(
        max_per_shard,
        resize_min_edge,
        rotate,
        rotate_if_matching,
        rotate_re,
        max_views_discrepancy,
        quality,
        None if isinstance(source, VideosFormat) else source.name,
        list(cameras) if cameras is not None else None,
    )
    on_disk = existing_outputs(out_root, [seq.name for seq in sequences])
    remove_killed_temporaries([out_root, *((out_root / seq.name).parent for seq in sequences)])
    bar = Progress(
        total=0, desc="convert", unit="frame", mode="auto" if progress else "off", logger=logger, dynamic_ncols=True
    )
    run = _Run(ConvertResult(), bar, on_sequence, len(sequences) + len(problems))
    for p in problems:
        run.looked_at += 1
        run.fail(p.name, p.message)
    with DeferredInterrupt() as interrupt:  # Ctrl-C is raised by pool.poll, never inside a lock
        pool = _Workers(parallel, workers, bar, interrupt)
        return _convert_all(sequences, run, settings, out_root, on_disk, overwrite, pool, workers)


def _convert_all(
    sequences: list[SourceSequence],
    run: _Run,
    settings: _Settings,
    out_root: Path,
    on_disk: dict[str, list[Path]],
    overwrite: bool,
    pool: _Workers,
    workers: int,
) -> ConvertResult:
    """Start every sequence's tasks and write each once its views are done (the oldest first)."""
    jobs: deque[_Job] = deque()
    try:
        for seq in sequences:
            pool.poll()
            job = run.start(seq, out_root, settings, on_disk[seq.name], overwrite, pool)
            if job is None:
                continue
            jobs.append(job)
            # Write the oldest sequence once the younger ones queue enough work to keep every
            # worker busy meanwhile; this also bounds how many sequences are held in memory.
            while len(jobs) > 1 and sum(len(job.tasks) for job in list(jobs)[1:]) >= workers:
                run.finish(jobs.popleft(), pool, settings.options())
        while jobs:
            run.finish(jobs.popleft(), pool, settings.options())
    finally:
        for job in jobs:  # only after an interrupt or an unexpected error
            job.stop()
        pool.shutdown()
        run.bar.close()
    return run.result


def _checked_options(
    rotate: int,
    resize_min_edge: int,
    expected_views: int | None,
    rotate_if_matching: str | None,
    workers: int | None,
    parallel: str,
) -> tuple[re.Pattern[str] | None, int]:
    """Check convert_videos' options; the compiled ``rotate_if_matching`` and the worker count."""
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
    return rotate_re, workers


@dataclass(frozen=True)
class _Settings:
    """The conversion settings of one run (what a sequence's settings record compares)."""

    max_per_shard: int
    resize_min_edge: int
    rotate: int
    rotate_if_matching: str | None
    rotate_re: re.Pattern[str] | None
    max_views_discrepancy: int
    quality: int
    input_format: str | None = None  # None: videos (whose settings records name no format)
    cameras: list[str] | None = None

    def options(self) -> dict[str, object]:
        options: dict[str, object] = {
            "max_per_shard": self.max_per_shard,
            "resize_min_edge": self.resize_min_edge,
            "rotate": self.rotate,
            "rotate_if_matching": self.rotate_if_matching,
            "jpeg_quality": self.quality,
        }
        if self.input_format is not None:
            options.update({"from": self.input_format, "cameras": self.cameras})
        return options


@dataclass
class _Run:
    """One conversion run: what it did so far, its progress (frames) and its callback."""

    result: ConvertResult
    bar: Progress
    on_sequence: Callable[[str, str], None] | None
    num_sequences: int  # found, including those that failed before starting
    looked_at: int = 0  # sequences started, skipped or failed
    done: int = 0  # sequences written, skipped or failed
    planned: int = 0  # sequences being converted
    planned_frames: int = 0
    warned_sidecars: bool = False  # said once that state and labels cannot go beside these records

    def report(self, name: str, status: str) -> None:
        self.done += 1
        self.bar.set(sequences=f"{self.done}/{self.num_sequences} done")
        if self.on_sequence is not None:
            self.on_sequence(name, status)

    def fail(self, name: str, exc: BaseException | str) -> None:
        self.result.failed[name] = _reason(exc)
        logger.error("%s: %s", name, self.result.failed[name])
        self.report(name, "failed")

    def start(
        self, seq: SourceSequence, out_root: Path, s: _Settings, on_disk: list[Path], overwrite: bool, pool: _Workers
    ) -> _Job | None:
        """Plan a sequence, read its state and labels and submit its views; None when it fails
        or is already converted."""
        self.looked_at += 1
        try:
            plan = _plan(seq, out_root, s)
        except (TimeContrastError, OSError) as exc:  # probing or reading its videos
            self.fail(seq.name, exc)
            return None
        reason = "--overwrite" if overwrite else outdated_because(seq, plan, on_disk)
        if reason is None:
            self.result.skipped.extend(plan.paths)
            logger.info("%s: already converted with these settings, skipped (--overwrite rewrites it)", seq.name)
            self.report(seq.name, "skipped")
            return None
        try:
            sidecars = read_sidecars(seq, plan.length)
        except (TimeContrastError, OSError, ValueError) as exc:  # its state or labels
            self.fail(seq.name, exc)
            return None
        if sidecars is not None and not sidecar_paths(plan.paths[0], plan.shards[0].name, False):
            self._warn_no_sidecars(plan.paths[0].parent)
            sidecars = None
        if reason != "new":
            logger.info("%s: converting again: %s", seq.name, reason)
        self._plan_frames(plan.length * seq.num_views)
        job = _Job(seq, plan, on_disk, pool.cancel_flag(), sidecars)
        for v, (size, rot) in enumerate(zip(plan.sizes, plan.rotations, strict=True)):
            check = plan.decoded_sizes[v] if s.input_format is not None else None  # videos keep one size
            job.tasks.append(pool.submit(seq.reader(v), plan.length, size, rot, s.quality, job.cancel, check))
        return job

    def _warn_no_sidecars(self, folder: Path) -> None:
        if not self.warned_sidecars:
            logger.warning(
                "%s is not a folder named records: the state and labels of the sequences are not written "
                "(they go to DIR/state and DIR/labeled beside DIR/records, where tcn probe finds them); "
                "convert into .../records to keep them",
                folder,
            )
            self.warned_sidecars = True

    def _plan_frames(self, frames: int) -> None:
        """The frames to encode grew; while sequences are still to look at, the final total is
        estimated from the mean of those planned so far (the progress line's ETA)."""
        self.planned += 1
        self.planned_frames += frames
        left = self.num_sequences - self.looked_at
        expected = self.planned_frames + round(self.planned_frames / self.planned * left) if left > 0 else None
        self.bar.set_total(self.planned_frames, expected)

    def finish(self, job: _Job, pool: _Workers, options: dict[str, object]) -> None:
        """Wait for a sequence's views and write its records (an OSError while writing stops the run)."""
        seq = job.seq
        try:
            views = job.views(pool.poll)
        except (TimeContrastError, OSError) as exc:  # reading its videos: this sequence fails
            self.fail(seq.name, exc)
            return
        removed = write_outputs(seq.name, job.plan, views, job.on_disk, options, job.sidecars)
        self.result.frames_encoded += sum(len(v) for v in views)
        self.result.written.extend(job.plan.paths)
        self.result.removed.extend(removed)
        logger.info(
            "%s: %d frames x %d views -> %d file(s)", seq.name, job.plan.length, seq.num_views, len(job.plan.paths)
        )
        if removed:
            logger.info("%s: removed its old file(s) %s", seq.name, ", ".join(p.name for p in removed))
        self.report(seq.name, "written")


def _reason(exc: BaseException | str) -> str:
    """Why a sequence failed, in one line: an ``OSError`` as ``<file>: <cause>``."""
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{os.fsdecode(exc.filename)}: {exc.strerror or exc}"
    return str(exc)


def _plan(seq: SourceSequence, out_root: Path, s: _Settings) -> Plan:
    """Shards, output paths, per-view resize and rotation, view 0's output frame size, and settings."""
    infos = seq.views()  # probes every video: an unreadable one fails here
    lengths = [info.length for info in infos]
    if max(lengths) - min(lengths) > s.max_views_discrepancy:
        differ = f"differing by {max(lengths) - min(lengths)} > --max_views_discrepancy {s.max_views_discrepancy}"
        if s.input_format is None:
            raise DataError(
                f"views have {lengths} frames, {differ}; check the videos are of the same take, or raise the limit"
            )
        views = dict(zip(seq.view_names, lengths, strict=True))
        raise DataError(f"{seq.source}: views have {views} frames, {differ}; the episode is inconsistent")
    if min(lengths) == 0:
        raise DataError(f"{infos[lengths.index(0)].path} holds no frames")
    rotations = [s.rotate if s.rotate_re is None or s.rotate_re.search(info.path) else 0 for info in infos]
    resized = [output_size(i.height, i.width, s.resize_min_edge) for i in infos]
    sizes = [size if s.resize_min_edge > 0 else None for size in resized]
    frame_size = output_size(*resized[0], 0, rotations[0])  # what SequenceRecord.frame_size reads
    length = min(lengths)
    shards = shard_ranges(seq.name, length, s.max_per_shard)
    paths = [out_root / f"{shard.name}{RECORD_SUFFIX}" for shard in shards]
    source = seq.fingerprint() if s.input_format is not None else None
    settings = output_settings(infos, shards, sizes, rotations, s.quality, s.input_format, source)
    where = settings_path(out_root, seq.name)
    return Plan(shards, paths, sizes, rotations, frame_size, settings, where, length, resized)
