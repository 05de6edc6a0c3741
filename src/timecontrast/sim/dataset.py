"""Write a simulated multi-view dataset in the layout every other command reads.

    DIR/<split>/records/<seq>.tfrecord    one SequenceExample per sequence (views view0..)
    DIR/<split>/labeled/<seq>.tfrecord    one Example per timestep: image/view<k>, task, int64 labels
    DIR/<split>/state/<seq>.npz           SequenceState: positions, velocities, labels, camera poses
    DIR/<split>/videos/<seq>_view<k>.mp4  optional raw videos
    DIR/dataset.json                      world, views, size, fps, seed, attribute documentation

(the paths come from :mod:`timecontrast.data.layout`, which owns them).

Sequences are numbered across splits (``cartpole_0000`` ... in split order) and
sequence ``i`` is drawn from ``sequence_rng(seed, i)``: the same arguments give the
same bytes (the videos: the same frames, see docs/sim.md). ``dataset.json`` is written
last, so its presence marks a complete dataset.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from timecontrast.data import layout
from timecontrast.data.dataset_info import read_dataset_info
from timecontrast.data.interrupts import DeferredInterrupt, ignore_sigint_in_worker, sigint_blocked
from timecontrast.data.labeled import LabeledFrame, write_labeled_records
from timecontrast.data.layout import DATASET_FILE
from timecontrast.data.records import write_sequence_record
from timecontrast.data.state import save_state
from timecontrast.errors import ConfigError, DataError
from timecontrast.io.files import atomic_write, remove_stale_temporaries
from timecontrast.io.jpeg import DEFAULT_QUALITY, encode_jpeg
from timecontrast.io.video import VideoWriter
from timecontrast.sim.cameras import check_views
from timecontrast.sim.generate import (
    APPEARANCES,
    SimSequence,
    WorldSimulator,
    check_request,
    sequence_name,
    sequence_rng,
)
from timecontrast.sim.gl import import_mujoco
from timecontrast.sim.worlds import DEFAULT_WORLD, get_world

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
_SPLIT_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_SEQUENCE_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")  # a file name: no folder separators


def parse_splits(text: str) -> dict[str, int]:
    """``"train=16,val=4"`` -> ``{"train": 16, "val": 4}`` (order kept)."""
    splits: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, count = part.partition("=")
        if not sep or not _SPLIT_NAME.match(name.strip()) or not count.strip().isdigit():
            raise ConfigError(f"--split: cannot read {part!r}; write name=count pairs, e.g. train=16,val=4")
        if name.strip() in splits:
            raise ConfigError(f"--split: split {name.strip()!r} is given twice")
        splits[name.strip()] = int(count)
    if not splits:
        raise ConfigError("--split: no splits given; write name=count pairs, e.g. train=16,val=4")
    return splits


def resolve_splits(sequences: int | None, splits: Mapping[str, int] | None) -> dict[str, int]:
    """Sequences per split: ``splits`` as given (checked against ``sequences``), or all in train."""
    if splits is None:
        if sequences is None or sequences < 1:
            raise ConfigError(f"sequences must be a positive number, got {sequences!r}")
        return {"train": int(sequences)}
    for name, count in splits.items():
        if not _SPLIT_NAME.match(name) or int(count) < 0:
            raise ConfigError(f"split {name!r}={count!r}: names are letters, digits, _ or -; counts are >= 0")
    total = sum(splits.values())
    if total < 1:
        raise ConfigError(f"the splits {dict(splits)} hold no sequences")
    if sequences is not None and sequences != total:
        raise ConfigError(
            f"the splits {dict(splits)} add up to {total} sequences but {sequences} were asked for; "
            "make them agree (or give only the splits)"
        )
    return {name: int(count) for name, count in splits.items()}


def _previous_splits(info_path: Path) -> dict[str, list[str]]:
    """``{split: [sequence name, ...]}`` of the dataset.json being replaced. Raises
    DataError naming the file when it is damaged: the files it lists cannot be known then,
    and names are checked so that a damaged file never deletes outside the dataset."""
    fix = "delete the folder by hand (or choose another --output_dir)"
    try:
        splits = read_dataset_info(info_path).get("splits")
    except DataError as exc:
        raise DataError(f"{exc}. It lists the files --overwrite must delete: {fix}") from None
    except OSError as exc:
        raise DataError(f"{info_path}: cannot read the dataset to replace ({exc}); {fix}") from None
    if not isinstance(splits, dict) or not all(
        _SPLIT_NAME.match(str(split)) and isinstance(names, list) and all(
            isinstance(n, str) and _SEQUENCE_NAME.match(n) for n in names
        )
        for split, names in splits.items()
    ):  # fmt: skip
        raise DataError(
            f"{info_path}: 'splits' must map each split to a list of sequence names; the file is damaged, "
            f"so the dataset to replace is unknown: {fix}"
        )
    return {split: list(names) for split, names in splits.items()}


def _remove_previous(output_dir: Path, overwrite: bool) -> None:
    """Refuse to mix datasets; with ``overwrite``, delete the files the old one listed."""
    info_path = layout.dataset_info_path(output_dir)
    if not info_path.exists():
        return
    if not overwrite:
        raise DataError(
            f"{output_dir} already holds a dataset ({DATASET_FILE}); pass --overwrite to replace it "
            "or choose another --output_dir"
        )
    old_splits = _previous_splits(info_path)
    info_path.unlink()
    for split, names in old_splits.items():
        for name in names:
            for path in layout.sequence_paths(output_dir, split, name):
                path.unlink(missing_ok=True)


def write_sequence(output_dir: Path, split: str, seq: SimSequence, jpeg_quality: int, videos: bool) -> None:
    """The records, labeled frames, state and (optionally) videos of one sequence."""
    jpegs = [[encode_jpeg(frame, jpeg_quality) for frame in view] for view in seq.frames]  # [V][T]
    write_sequence_record(layout.record_path(output_dir, split, seq.name), seq.name, jpegs)
    labels = seq.labels
    frames = (
        LabeledFrame(
            images=[view[t] for view in jpegs],
            task=seq.name,
            labels={key: int(values[t]) for key, values in labels.items()},
            timestep=t,
        )
        for t in range(seq.length)
    )
    write_labeled_records(layout.labeled_path(output_dir, split, seq.name), frames)
    save_state(layout.state_path(output_dir, split, seq.name), seq.state)
    if videos:
        height, width = seq.frames.shape[2:4]
        for v, view in enumerate(seq.frames):
            path = layout.video_path(output_dir, split, seq.name, v)
            with VideoWriter(path, seq.state.fps, width, height) as writer:
                for frame in view:
                    writer.write(frame)


@dataclass(frozen=True)
class _Job:
    """What every sequence of one generate_dataset call shares (sent to worker processes)."""

    output_dir: str
    world: str
    views: int
    length: int
    width: int
    height: int
    fps: float
    seed: int
    policy: str
    moving_camera: bool
    cameras: list[str] | None
    jpeg_quality: int
    videos: bool
    appearance: str = "random"


_worker_simulator: WorldSimulator | None = None  # one per worker process


def _simulate_and_write(simulator: WorldSimulator, job: _Job, index: int, split: str, name: str):
    """Simulate sequence ``index``, write it, return its label counts and the state names."""
    seq = simulator.simulate(
        name,
        job.length,
        sequence_rng(job.seed, index),
        views=job.views,
        policy=job.policy,
        moving_camera=job.moving_camera,
        cameras=job.cameras,
        appearance=job.appearance,
    )
    write_sequence(Path(job.output_dir), split, seq, job.jpeg_quality, job.videos)
    world = simulator.world
    counts = {
        a.name: np.bincount(seq.labels[a.name], minlength=len(a.classes)).astype(np.int64) for a in world.attributes
    }
    return index, split, name, counts, (simulator.position_names, simulator.velocity_names)


def _init_worker(job: _Job) -> None:
    global _worker_simulator
    ignore_sigint_in_worker()  # Ctrl-C is the parent's to handle: no worker tracebacks
    _worker_simulator = WorldSimulator(job.world, fps=job.fps, width=job.width, height=job.height)


def _worker_task(job: _Job, index: int, split: str, name: str):
    assert _worker_simulator is not None
    return _simulate_and_write(_worker_simulator, job, index, split, name)


def _run_jobs(job: _Job, plan: list[tuple[str, str]], workers: int) -> Iterator[tuple]:
    """Yield each sequence's result as it is written: in this process, or in ``workers``
    processes (spawned: a forked MuJoCo/EGL or OpenMP state is not safe to share)."""
    if workers <= 1 or len(plan) <= 1:
        with WorldSimulator(job.world, fps=job.fps, width=job.width, height=job.height) as simulator:
            for index, (split, name) in enumerate(plan):
                yield _simulate_and_write(simulator, job, index, split, name)
        return
    context = multiprocessing.get_context("spawn")
    workers = min(workers, len(plan))
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(job,))
    # Ctrl-C is raised between waits, never while `wait` holds the futures' locks.
    with DeferredInterrupt() as interrupt:
        try:
            with sigint_blocked():  # the workers start as the tasks are submitted
                pending = {
                    pool.submit(_worker_task, job, index, split, name) for index, (split, name) in enumerate(plan)
                }
            while pending:
                done, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                interrupt.check()
                for future in done:
                    yield future.result()
        except BaseException:
            # Ctrl-C or a failure: do not wait for the sequences not yet started (a sequence
            # being written finishes its atomic writes or leaves nothing).
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)


def _write_json(path: Path, content: dict[str, Any]) -> None:
    with atomic_write(path, "w", durable=True) as fh:
        json.dump(content, fh, indent=2)
        fh.write("\n")


def generate_dataset(
    output_dir: str | os.PathLike,
    world: str = DEFAULT_WORLD,
    views: int = 2,
    sequences: int | None = None,
    length: int = 120,
    size: int = 128,
    fps: float = 20.0,
    seed: int = 0,
    splits: Mapping[str, int] | None = None,
    policy: str = "scripted",
    moving_camera: bool = False,
    videos: bool = False,
    jpeg_quality: int = DEFAULT_QUALITY,
    overwrite: bool = False,
    on_sequence: Callable[[str, str], object] | None = None,
    *,
    width: int | None = None,
    height: int | None = None,
    cameras: Sequence[str] | None = None,
    workers: int = 1,
    appearance: str = "random",
) -> dict[str, Any]:
    """Simulate ``sequences`` sequences of ``world`` and write them under ``output_dir``.

    ``splits`` maps split names to sequence counts (default: all in ``train``);
    ``on_sequence(split, name)`` is called after each sequence is written (progress).
    ``width`` / ``height`` override ``size`` (square by default). ``cameras``: the
    model's own cameras (e.g. the DM Control cart-pole's ``fixed,lookatcart``) instead of
    the world's randomised rig, one per view. ``workers`` processes simulate, render and
    write sequences at once (each its own simulator); every sequence is written as soon as
    it is done, so memory holds ``workers`` sequences whatever the dataset's size, and the
    files are the same bytes for any number of workers (the videos: the same frames).
    Returns ``dataset.json``'s content.
    """
    world_obj = get_world(world)
    check_views(views)
    width = int(width if width is not None else size)
    height = int(height if height is not None else size)
    for side in (width, height):
        check_request(length, side, fps, policy)
    if appearance not in APPEARANCES:
        raise ConfigError(f"unknown appearance {appearance!r}: choose one of {', '.join(APPEARANCES)}")
    if cameras is not None and len(cameras) != views:
        raise ConfigError(f"--cameras names {len(cameras)} cameras for {views} views; give one camera per view")
    if workers < 1:
        raise ConfigError(f"workers must be at least 1, got {workers}")
    if not 1 <= jpeg_quality <= 100:
        raise ConfigError(f"jpeg_quality must be from 1 to 100, got {jpeg_quality}")
    counts = resolve_splits(sequences, splits)
    output_dir = Path(output_dir)
    _remove_previous(output_dir, overwrite)
    for split in counts:  # what a killed earlier run was writing
        for folder in layout.split_folders(output_dir, split):
            remove_stale_temporaries(folder)
    remove_stale_temporaries(output_dir)
    plan = [
        (split, sequence_name(world_obj.name, i))
        for i, split in enumerate(s for s, n in counts.items() for _ in range(n))
    ]
    class_counts = {
        split: {a.name: np.zeros(len(a.classes), dtype=np.int64) for a in world_obj.attributes} for split in counts
    }
    job = _Job(
        str(output_dir), world_obj.name, views, length, width, height, fps, seed, policy, moving_camera,
        None if cameras is None else list(cameras), jpeg_quality, videos, appearance,
    )  # fmt: skip
    names: tuple[list[str], list[str]] | None = None
    for index, split, name, counts_of_seq, state_names in _run_jobs(job, plan, workers):
        names = state_names
        for key, values in counts_of_seq.items():
            class_counts[split][key] += values
        logger.debug("wrote %s/%s (sequence %d)", split, name, index)
        if on_sequence is not None:
            on_sequence(split, name)
    position_names, velocity_names = names if names is not None else ([], [])
    info = {
        "format": "timecontrast-sim",
        "version": FORMAT_VERSION,
        "world": world_obj.name,
        "description": world_obj.summary,
        "views": views,
        "size": size if width == height else [height, width],
        "height": height,
        "width": width,
        "cameras": None if cameras is None else list(cameras),
        "appearance": appearance,
        "fps": float(fps),
        "length": length,
        "seed": seed,
        "policy": policy,
        "moving_camera": moving_camera,
        "jpeg_quality": jpeg_quality,
        "videos": videos,
        "mujoco_version": import_mujoco().__version__,
        "position_names": position_names,
        "velocity_names": velocity_names,
        "attributes": [a.to_dict() for a in world_obj.attributes],
        "splits": {split: [name for s, name in plan if s == split] for split in counts},
        "class_counts": {
            split: {key: values.tolist() for key, values in per_split.items()}
            for split, per_split in class_counts.items()
        },
    }
    _write_json(layout.dataset_info_path(output_dir), info)
    return info
