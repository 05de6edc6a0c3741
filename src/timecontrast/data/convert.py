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
- an existing output is kept only when its task, length, views and frame size match.

Work is split into one task per video (a view of a sequence): decode it front to back
and JPEG-encode each frame. ``workers`` tasks run at once on a thread pool (FFmpeg and
Pillow release the GIL while they work) or a process pool (no GIL at all, but about a
second to start; ``benchmarks/convert.py`` measured both equally fast on 2 cores once
that is amortised); the main thread writes the records of each sequence once all its
views are done. Memory holds the JPEGs of the sequences in flight (about 60 KB per
640x360 frame); shard long recordings or convert them in parts.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import re
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from timecontrast.data.records import RECORD_SUFFIX, SequenceRecord, encode_sequence_example
from timecontrast.data.videos import DEFAULT_VIEW_PATTERN, VideoSequence, scan_video_sequences, short_video_error
from timecontrast.errors import DataError, TimeContrastError
from timecontrast.io.jpeg import DEFAULT_QUALITY, encode_jpeg
from timecontrast.io.tfrecord import TFRecordWriter
from timecontrast.io.video import iter_video_frames

logger = logging.getLogger(__name__)

ROTATIONS = (0, 90, 180, 270)  # degrees clockwise


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


def video_jpegs(
    path: Path,
    length: int,
    size: tuple[int, int] | None = None,
    rotate: int = 0,
    quality: int = DEFAULT_QUALITY,
    cancel: threading.Event | None = None,
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


_worker_counter = None  # in a process-pool worker: the shared count of encoded frames


def _init_worker(counter) -> None:
    global _worker_counter
    _worker_counter = counter


def _count_in_worker(n: int) -> None:
    with _worker_counter.get_lock():
        _worker_counter.value += n


def _make_pool(parallel: str, workers: int, bar: tqdm) -> tuple[Executor, Callable[[int], object], Callable[[], None]]:
    """The executor, the progress callback its tasks call, and a function that refreshes ``bar``."""
    if parallel == "threads":
        lock = threading.Lock()  # tqdm.update is not atomic across threads

        def count(n: int) -> None:
            with lock:
                bar.update(n)

        return ThreadPoolExecutor(workers, "convert"), count, lambda: None
    ctx = multiprocessing.get_context("spawn")  # never fork a process that runs threads
    counter = ctx.Value("q", 0)
    pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(counter,))
    return pool, _count_in_worker, lambda: bar.update(counter.value - bar.n)


def _complete(path: Path, shard: Shard, num_views: int, frame_size: tuple[int, int]) -> bool:
    """Whether ``path`` already holds ``shard`` as this conversion would write it."""
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
        logger.info("%s: rewriting an unreadable output (%s)", path, exc)
        return False
    if not ok:
        logger.info("%s: rewriting an output that does not match the input", path)
    return ok


@dataclass
class _Job:
    """A sequence in flight: one task per view, then its shards to write."""

    seq: VideoSequence
    shards: list[Shard]
    paths: list[Path]
    tasks: list[Future[list[bytes]]]
    cancel: threading.Event | None

    def stop(self) -> None:
        if self.cancel is not None:
            self.cancel.set()
        for task in self.tasks:
            task.cancel()

    def finish(self, poll: Callable[[], None]) -> int:
        """Wait for every view (calling ``poll`` now and then), write all shards (renamed
        into place together); returns the number of JPEGs."""
        try:
            while wait(self.tasks, timeout=0.25).not_done:
                poll()
            poll()
            views = [task.result() for task in self.tasks]
        except BaseException:
            self.stop()
            raise
        writers: list[TFRecordWriter] = []
        try:
            for shard, path in zip(self.shards, self.paths, strict=True):
                writers.append(TFRecordWriter(path))
                writers[-1].write(encode_sequence_example(shard.name, [v[shard.start : shard.stop] for v in views]))
            for writer in writers:
                writer.close()
        except BaseException:
            for writer in writers:
                writer.abort()
            raise
        return sum(len(v) for v in views)


def convert_videos(
    input_dir: str | os.PathLike,
    output_dir: str | os.PathLike,
    max_per_shard: int = -1,
    resize_min_edge: int = 0,
    rotate: int = 0,
    rotate_if_matching: str | None = None,
    expected_views: int | None = 2,
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
    ``result.failed`` and the others go on; nothing of it is written. ``rotate``
    (degrees clockwise) applies to every video, or only to those whose path matches
    the regex ``rotate_if_matching``. ``workers`` videos are decoded and encoded at
    once (default: the number of CPUs), on ``parallel`` = ``"threads"`` or
    ``"processes"``.
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
    sequences, problems = scan_video_sequences(input_dir, expected_views, view_pattern)
    if not sequences and not problems:
        raise DataError(f"{input_dir}: holds no videos named <seq>_view<k>.<ext>; check --input_dir and --view_pattern")

    result = ConvertResult()
    threads = parallel == "threads"
    bar = tqdm(total=0, unit="frame", desc="convert", disable=None if progress else True, dynamic_ncols=True)

    def fail(name: str, exc: BaseException | str) -> None:
        result.failed[name] = str(exc)
        logger.error("%s: %s", name, exc)
        if on_sequence is not None:
            on_sequence(name, "failed")

    def finish(job: _Job) -> None:
        try:
            frames = job.finish(poll)
        except TimeContrastError as exc:
            fail(job.seq.name, exc)
            return
        result.frames_encoded += frames
        result.written.extend(job.paths)
        seq = job.seq
        logger.info("%s: %d frames x %d views -> %d file(s)", seq.name, seq.length, seq.num_views, len(job.paths))
        if on_sequence is not None:
            on_sequence(job.seq.name, "written")

    for p in problems:
        fail(p.name, p.message)
    pool, count, poll = _make_pool(parallel, workers, bar)
    jobs: deque[_Job] = deque()
    try:
        for seq in sequences:
            try:
                plan = _plan(seq, out_root, max_per_shard, resize_min_edge, rotate, rotate_re, max_views_discrepancy)
            except TimeContrastError as exc:
                fail(seq.name, exc)
                continue
            shards, paths, sizes, rotations, frame_size = plan
            if not overwrite and all(_complete(p, s, seq.num_views, frame_size) for p, s in zip(paths, shards)):
                result.skipped.extend(paths)
                logger.info("%s: already converted, skipped (--overwrite rewrites it)", seq.name)
                if on_sequence is not None:
                    on_sequence(seq.name, "skipped")
                continue
            bar.total += seq.length * seq.num_views
            bar.refresh()
            cancel = threading.Event() if threads else None
            tasks = [
                pool.submit(video_jpegs, path, seq.length, size, rot, quality, cancel, count)
                for path, size, rot in zip(seq.paths, sizes, rotations, strict=True)
            ]
            jobs.append(_Job(seq, shards, paths, tasks, cancel))
            # Write the oldest sequence once the younger ones queue enough work to keep every
            # worker busy meanwhile; this also bounds how many sequences are held in memory.
            while len(jobs) > 1 and sum(len(job.tasks) for job in list(jobs)[1:]) >= workers:
                finish(jobs.popleft())
        while jobs:
            finish(jobs.popleft())
    finally:
        for job in jobs:  # only after an interrupt or an unexpected error
            job.stop()
        pool.shutdown(wait=True, cancel_futures=True)
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
):
    """Shards, output paths, per-view resize and rotation, and the view-0 output frame size."""
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
    return shards, paths, sizes, rotations, frame_size
