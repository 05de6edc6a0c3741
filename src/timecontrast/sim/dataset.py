"""Write a simulated multi-view dataset in the layout every other command reads.

    DIR/<split>/records/<seq>.tfrecord    one SequenceExample per sequence (views view0..)
    DIR/<split>/labeled/<seq>.tfrecord    one Example per timestep: image/view<k>, task, int64 labels
    DIR/<split>/state/<seq>.npz           SequenceState: positions, velocities, labels, camera poses
    DIR/<split>/videos/<seq>_view<k>.mp4  optional raw videos
    DIR/dataset.json                      world, views, size, fps, seed, attribute documentation

Sequences are numbered across splits (``cartpole_0000`` ... in split order) and
sequence ``i`` is drawn from ``sequence_rng(seed, i)``: the same arguments give the
same bytes. ``dataset.json`` is written last, so its presence marks a complete dataset.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from timecontrast.data.labeled import LabeledFrame, write_labeled_records
from timecontrast.data.records import write_sequence_record
from timecontrast.data.state import save_state
from timecontrast.errors import ConfigError, DataError
from timecontrast.io.files import atomic_write
from timecontrast.io.jpeg import DEFAULT_QUALITY, encode_jpeg
from timecontrast.io.video import VideoWriter
from timecontrast.sim.cameras import check_views
from timecontrast.sim.generate import SimSequence, WorldSimulator, check_request, sequence_name, sequence_rng
from timecontrast.sim.gl import import_mujoco
from timecontrast.sim.worlds import DEFAULT_WORLD, get_world

logger = logging.getLogger(__name__)

DATASET_FILE = "dataset.json"
FORMAT_VERSION = 1
_SPLIT_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


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


def _remove_previous(output_dir: Path, overwrite: bool) -> None:
    """Refuse to mix datasets; with ``overwrite``, delete the files the old one listed."""
    info_path = output_dir / DATASET_FILE
    if not info_path.exists():
        return
    if not overwrite:
        raise DataError(
            f"{output_dir} already holds a dataset ({DATASET_FILE}); pass --overwrite to replace it "
            "or choose another --output_dir"
        )
    try:
        old = json.loads(info_path.read_text())
        old_splits = {split: list(names) for split, names in old["splits"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DataError(f"{info_path}: cannot read the dataset to replace ({exc}); delete the folder by hand") from None
    info_path.unlink()
    for split, names in old_splits.items():
        for name in names:
            for sub, pattern in (("records", "{}.tfrecord"), ("labeled", "{}.tfrecord"), ("state", "{}.npz")):
                (output_dir / split / sub / pattern.format(name)).unlink(missing_ok=True)
            for video in (output_dir / split / "videos").glob(f"{name}_view*.mp4"):
                video.unlink()


def write_sequence(split_dir: Path, seq: SimSequence, jpeg_quality: int, videos: bool) -> None:
    """The records, labeled frames, state and (optionally) videos of one sequence."""
    jpegs = [[encode_jpeg(frame, jpeg_quality) for frame in view] for view in seq.frames]  # [V][T]
    write_sequence_record(split_dir / "records" / f"{seq.name}.tfrecord", seq.name, jpegs)
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
    write_labeled_records(split_dir / "labeled" / f"{seq.name}.tfrecord", frames)
    save_state(split_dir / "state" / f"{seq.name}.npz", seq.state)
    if videos:
        height, width = seq.frames.shape[2:4]
        for v, view in enumerate(seq.frames):
            with VideoWriter(split_dir / "videos" / f"{seq.name}_view{v}.mp4", seq.state.fps, width, height) as writer:
                for frame in view:
                    writer.write(frame)


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
    on_sequence: Callable[[str, str], None] | None = None,
) -> dict[str, Any]:
    """Simulate ``sequences`` sequences of ``world`` and write them under ``output_dir``.

    ``splits`` maps split names to sequence counts (default: all in ``train``);
    ``on_sequence(split, name)`` is called after each sequence is written (progress).
    Returns the content of ``dataset.json``.
    """
    world_obj = get_world(world)
    check_views(views)
    check_request(length, size, fps, policy)
    if not 1 <= jpeg_quality <= 100:
        raise ConfigError(f"jpeg_quality must be from 1 to 100, got {jpeg_quality}")
    counts = resolve_splits(sequences, splits)
    output_dir = Path(output_dir)
    _remove_previous(output_dir, overwrite)
    plan = [
        (split, sequence_name(world_obj.name, i))
        for i, split in enumerate(s for s, n in counts.items() for _ in range(n))
    ]
    class_counts = {
        split: {a.name: np.zeros(len(a.classes), dtype=np.int64) for a in world_obj.attributes} for split in counts
    }
    with WorldSimulator(world_obj, size, fps) as simulator:
        for index, (split, name) in enumerate(plan):
            seq = simulator.simulate(
                name, length, sequence_rng(seed, index), views=views, policy=policy, moving_camera=moving_camera
            )
            write_sequence(output_dir / split, seq, jpeg_quality, videos)
            for key, values in seq.labels.items():
                class_counts[split][key] += np.bincount(values, minlength=len(class_counts[split][key]))
            logger.debug("wrote %s/%s", split, name)
            if on_sequence is not None:
                on_sequence(split, name)
        position_names, velocity_names = simulator.position_names, simulator.velocity_names
    info = {
        "format": "timecontrast-sim",
        "version": FORMAT_VERSION,
        "world": world_obj.name,
        "description": world_obj.summary,
        "views": views,
        "size": size,
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
    _write_json(output_dir / DATASET_FILE, info)
    return info
