"""Show what a record file, dataset or directory holds, so you can check data before training.

PATH may be a .tfrecord file; a directory of records, searched recursively (e.g. the
Multiview Pouring download: tfrecords/train, tfrecords/val, monolithic-labeled/val, ...);
a `tcn synth` dataset root (dataset.json, <split>/records, labeled, state, videos); a
directory of <seq>_view<k> videos; or one video file. For sequence records it lists
sequences, views, lengths and frame sizes; for labeled records the frame count, tasks,
views and each label's class counts; for videos the views, frame counts and fps.
Every record is read and CRC-checked; damaged files (and empty ones, a damaged
dataset.json) are listed at the end and make the exit status 1. Warnings (a sequence of
0 frames, which training skips; a link loop or a file reached twice through links,
counted once) are listed too and leave the exit status 0.

Before conversion, PATH may also be a source that tcn convert reads (--from, detected when
not given): frame folders, TCC or RLDS TFRecords, a LeRobot dataset. Then it lists the
format, the episodes (sequences) with their views, frame counts and sizes, and the state and
label keys each becomes; episodes that cannot be converted are listed as problems.

Example:
    tcn inspect ~/tcn_data/multiview-pouring
    tcn inspect data/cartpole --json > cartpole-summary.json
    tcn inspect records/train/pour_07.tfrecord --limit 0
    tcn inspect ~/tensorflow_datasets/toy_rlds/1.0.0 --from rlds --cameras image
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from timecontrast.errors import DataError, TimeContrastError
from timecontrast.progress import Progress

if TYPE_CHECKING:
    from timecontrast.data.records import SequenceRecord

_VIEW_KEY = re.compile(r"^view\d+$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="a .tfrecord file, a video, or a directory (records, videos, a synth dataset)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    parser.add_argument("--limit", type=int, default=20, help="sequences listed one per line in each group (text)")
    from timecontrast.data.formats import FORMATS

    parser.add_argument(
        "--from",
        dest="input_format",
        choices=tuple(FORMATS),
        default=None,
        help="read PATH as this input format of tcn convert (default: detected; records and videos as before)",
    )
    parser.add_argument("--cameras", default=None, help="with a source format: the views to list, comma-separated")


def run(args: argparse.Namespace) -> int:
    summary = summarize(args.path, args.input_format, args.cameras)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(format_summary(summary, args.limit))
    return 1 if summary["problems"] else 0


# ------------------------------------------------------------------------- gathering
def record_kind(data: bytes) -> str:
    """``sequences``, ``labeled`` or ``unknown`` for one serialised record.

    ``Example.features`` and ``SequenceExample.context`` are both field 1 on the wire, so
    parsing as a SequenceExample reads either kind.
    """
    from google.protobuf.message import DecodeError

    from timecontrast.io.example import SequenceExample

    try:
        ex = SequenceExample.FromString(data)
    except DecodeError:  # not a protobuf message at all
        return "unknown"
    if any(_VIEW_KEY.match(k) for k in ex.feature_lists.feature_list):
        return "sequences"
    if any(k.startswith("image") for k in ex.context.feature):
        return "labeled"
    return "unknown"


def _folder_kind(files: list[Path]) -> tuple[str, str]:
    """The kind of the first readable record among ``files`` (damaged files are reported
    when the folder is summarised), and why none was readable."""
    from timecontrast.io.tfrecord import iter_records

    why = f"{files[0]}: holds no records"
    for f in files:
        try:
            first = next(iter(iter_records(f)), None)
        except TimeContrastError as exc:
            why = str(exc)
            continue
        if first is not None:
            kind = record_kind(first)
            if kind != "unknown":
                return kind, ""
            why = f"{f}: record 0 is neither a sequence (view0, view1, ...) nor a labeled frame (image/view0, ...)"
    return "unknown", why


def _describe_sequence(rec: SequenceRecord, warnings: list[str]) -> dict[str, Any]:
    """One line of the sequence table; a sequence of 0 frames (no frame size) is a warning."""
    frame_size = None
    if rec.length == 0:
        warnings.append(
            f"{rec.path}: sequence '{rec.name}' has 0 frames; training, evaluation and tcn project skip it "
            "(re-convert it or delete it)"
        )
    else:
        frame_size = list(rec.frame_size)
    return {"name": rec.name, "file": str(rec.path), "views": rec.num_views, "length": rec.length,
            "frame_size": frame_size}  # fmt: skip


def _summarize_sequences(files: list[Path], bar: Progress, warnings: list[str]) -> tuple[dict[str, Any], list[str]]:
    from timecontrast.data.records import SequenceRecord
    from timecontrast.io.tfrecord import index_records

    sequences, problems = [], []
    for f in files:
        try:
            for i in range(len(index_records(f))):
                rec = SequenceRecord(f, i)
                sequences.append(_describe_sequence(rec, warnings))
                rec.close()
        except TimeContrastError as exc:
            problems.append(str(exc))
        bar.update(1)
    lengths = [s["length"] for s in sequences]
    return {
        "num_sequences": len(sequences),
        "views": sorted({s["views"] for s in sequences}),
        "timesteps": sum(lengths),
        "length": {"min": min(lengths), "mean": sum(lengths) / len(lengths), "max": max(lengths)} if lengths else None,
        "frame_sizes": sorted({tuple(s["frame_size"]) for s in sequences if s["frame_size"]}),
        "sequences": sequences,
    }, problems


def _summarize_labeled(files: list[Path], bar: Progress) -> tuple[dict[str, Any], list[str]]:
    from timecontrast.data.labeled import decode_labeled_example
    from timecontrast.io.jpeg import decode_jpeg
    from timecontrast.io.tfrecord import iter_records

    tasks: Counter[str] = Counter()
    labels: dict[str, Counter[int]] = defaultdict(Counter)
    views: Counter[int] = Counter()
    frame_size, problems = None, []
    for f in files:
        try:
            for i, data in enumerate(iter_records(f)):
                frame = decode_labeled_example(data, f"{f} record {i}")
                tasks[frame.task] += 1
                views[len(frame.images)] += 1
                for key, value in frame.labels.items():
                    labels[key][value] += 1
                if frame_size is None:
                    frame_size = list(decode_jpeg(frame.images[0], f"{f} record {i} image 0").shape[:2])
        except TimeContrastError as exc:
            problems.append(str(exc))
        bar.update(1)
    return {
        "num_frames": sum(tasks.values()),
        "num_tasks": len(tasks),
        "views": sorted(views),
        "frame_size": frame_size,
        "labels": {k: {str(c): n for c, n in sorted(v.items())} for k, v in sorted(labels.items())},
        "tasks": dict(sorted(tasks.items())),
    }, problems


def _summarize_states(files: list[Path], bar: Progress) -> tuple[dict[str, Any], list[str]]:
    try:
        from timecontrast.data.state import load_state
    except ImportError:  # the state module is optional for inspection
        bar.update(len(files))
        return {"num_files": len(files)}, []
    out: dict[str, Any] = {"num_files": len(files), "timesteps": 0}
    problems = []
    for f in files:
        try:
            state = load_state(f)
        except TimeContrastError as exc:
            problems.append(str(exc))
        else:
            out["timesteps"] += len(state.position)
            out.setdefault("position_names", list(state.position_names))
            out.setdefault("velocity_names", list(state.velocity_names))
            out.setdefault("labels", sorted(state.labels))
            out.setdefault("cameras", int(state.camera_positions.shape[0]))
            out.setdefault("fps", state.fps)
        bar.update(1)
    return out, problems


def _summarize_videos(root: Path) -> tuple[dict[str, Any], list[str]]:
    from timecontrast.data.videos import scan_video_sequences

    found, bad = scan_video_sequences(root, expected_views=None)
    sequences, problems = [], [f"{root / p.name}: {p.message}" for p in bad]
    for seq in found:
        try:
            infos = seq.infos
        except TimeContrastError as exc:
            problems.append(f"{seq.name}: {exc}")
            continue
        sequences.append(
            {
                "name": seq.name,
                "views": seq.num_views,
                "frames": [i.num_frames for i in infos],
                "fps": infos[0].fps,
                "frame_size": [infos[0].height, infos[0].width],
                "files": [str(p) for p in seq.paths],
            }
        )
    return {
        "num_sequences": len(sequences),
        "views": sorted({s["views"] for s in sequences}),
        "sequences": sequences,
    }, (problems)


def _read_dataset(root: Path, summary: dict[str, Any]) -> None:
    """``root/dataset.json`` into ``summary["dataset"]``; a damaged one is a problem (the
    records stay usable without it)."""
    from timecontrast.data.dataset_info import dataset_class_names, read_dataset_info
    from timecontrast.data.layout import dataset_info_path

    path = dataset_info_path(root)
    if not path.is_file():
        return
    try:
        info = read_dataset_info(path)
        dataset_class_names(info, str(path))  # checks the shape of 'attributes'
    except DataError as exc:
        summary["problems"].append(str(exc))
        return
    except OSError as exc:
        summary["problems"].append(f"{path}: cannot read it ({exc.strerror or exc})")
        return
    summary["dataset"] = info


def _scan_error(problems: list[str]) -> Callable[[OSError], None]:
    """An ``on_error`` for the folder walk: a folder that cannot be listed is a problem."""

    def on_error(exc: OSError) -> None:
        problems.append(f"{exc.filename}: cannot list it ({exc.strerror or exc})")

    return on_error


def _empty_files(files: list[Path], problems: list[str]) -> list[Path]:
    """``files`` without the 0-byte ones, each named in ``problems`` (never skipped silently)."""
    from timecontrast.data.records import empty_file_message

    kept = []
    for f in files:
        if f.stat().st_size == 0:
            problems.append(empty_file_message(f))
        else:
            kept.append(f)
    return kept


def _source_format(root: Path, input_format: str | None):
    """The input format to describe ``root`` with: the one given, or the one non-video format
    that recognises it; None for records and videos (summarised as before)."""
    from timecontrast.data.formats import detected_formats, get_format

    if input_format is not None:
        return None if input_format == "videos" else get_format(input_format)
    found = detected_formats(root)
    return get_format(found[0]) if len(found) == 1 and found[0] != "videos" else None


def summarize(path: str | os.PathLike, input_format: str | None = None, cameras: str | None = None) -> dict[str, Any]:
    """A JSON-ready description of everything under ``path`` (see the module docstring):
    a source of tcn convert (``input_format``, or detected) or records, state and videos."""
    from timecontrast.data.formats.base import split_cameras

    root = Path(os.path.expanduser(str(path)))
    source = _source_format(root, input_format)  # before the existence check: a format may read a Hub id
    if source is None:
        return _summarize_data(path, root)
    summary: dict[str, Any] = {"path": str(root), "dataset": None, "groups": [], "problems": [], "warnings": []}
    described = source.describe(root, split_cameras(cameras))
    summary["problems"].extend(described.pop("problems", []))
    summary["groups"].append({"kind": "source", **described, "path": "."})
    return summary


def _summarize_data(path: str | os.PathLike, root: Path) -> dict[str, Any]:
    """What records, state files and videos ``root`` holds."""
    from timecontrast.data.folders import unique_files, walk_folder
    from timecontrast.data.layout import RECORD_SUFFIX, is_state_file
    from timecontrast.io.video import VIDEO_EXTENSIONS, probe_video

    if not root.exists():
        raise DataError(f"{path}: no such file or directory")
    summary: dict[str, Any] = {"path": str(root), "dataset": None, "groups": [], "problems": [], "warnings": []}
    warnings: list[str] = summary["warnings"]
    if root.is_file() and root.suffix.lower() in VIDEO_EXTENSIONS:
        info = probe_video(root)
        summary["groups"].append(
            {"kind": "video", "path": root.name, "frames": info.num_frames, "fps": info.fps,
             "frame_size": [info.height, info.width]}
        )  # fmt: skip
        return summary
    if root.is_file() and root.suffix != RECORD_SUFFIX:
        raise DataError(f"{path}: not a {RECORD_SUFFIX} file, a video or a directory")

    record_dirs: dict[Path, list[Path]] = defaultdict(list)
    state_dirs: dict[Path, list[Path]] = defaultdict(list)
    has_videos = False
    if root.is_file():
        record_dirs[root.parent].append(root)
    else:
        _read_dataset(root, summary)
        found: list[Path] = []
        for folder, filenames in walk_folder(root, warn=warnings.append, on_error=_scan_error(summary["problems"])):
            for name in filenames:
                if name.endswith(RECORD_SUFFIX) or is_state_file(folder / name):
                    found.append(folder / name)
                elif name.lower().endswith(VIDEO_EXTENSIONS):
                    has_videos = True
        for f in unique_files(found, warn=warnings.append):
            (record_dirs if f.name.endswith(RECORD_SUFFIX) else state_dirs)[f.parent].append(f)
    if not record_dirs and not state_dirs and not has_videos:
        raise DataError(f"{path}: holds no {RECORD_SUFFIX} records, state files or <seq>_view<k> videos")

    total = sum(len(f) for f in record_dirs.values()) + sum(len(f) for f in state_dirs.values())
    with Progress(total=total, desc="inspect", unit="file", leave=False) as bar:
        for folder in sorted(record_dirs):
            files = record_dirs[folder]
            rel = folder.relative_to(root).as_posix() if root.is_dir() else folder.as_posix()
            empty: list[str] = []
            readable = _empty_files(files, empty)
            bar.update(len(files) - len(readable))
            kind, why = _folder_kind(readable) if readable else ("empty", "")
            group: dict[str, Any] = {"kind": kind, "path": rel, "num_files": len(files), "empty_files": len(empty)}
            if kind == "sequences":
                details, problems = _summarize_sequences(readable, bar, warnings)
            elif kind == "labeled":
                details, problems = _summarize_labeled(readable, bar)
            else:
                details, problems = {}, [why] if why else []
                bar.update(len(readable))
            problems = empty + problems
            group.update(details)
            summary["groups"].append(group)
            summary["problems"].extend(problems)
        for folder in sorted(state_dirs):
            details, problems = _summarize_states(state_dirs[folder], bar)
            summary["groups"].append({"kind": "state", "path": folder.relative_to(root).as_posix(), **details})
            summary["problems"].extend(problems)
    if has_videos:
        details, problems = _summarize_videos(root)
        summary["groups"].append({"kind": "videos", "path": ".", **details})
        summary["problems"].extend(problems)
    return summary


# -------------------------------------------------------------------------- printing
def _size(frame_size) -> str:
    return f"{frame_size[1]}x{frame_size[0]}" if frame_size else "?"


def _class_names(dataset: dict[str, Any] | None) -> dict[str, list[str]]:
    """``{attribute: [class name, ...]}`` from a synth dataset.json's ``attributes`` ({}
    when it has another shape: :func:`summarize` already listed that as a problem)."""
    from timecontrast.data.dataset_info import dataset_class_names

    try:
        return dataset_class_names(dataset or {})
    except DataError:
        return {}


def _format_group(g: dict[str, Any], limit: int, classes: dict[str, list[str]]) -> list[str]:
    kind, head = g["kind"], f"[{g['kind']}] {g['path']}:"
    if kind == "sequences":
        length = g["length"]
        lines = [
            f"{head} {g['num_sequences']} sequence(s) in {g['num_files']} file(s); views {g['views']}; "
            + (f"length min {length['min']}, mean {length['mean']:.1f}, max {length['max']}; " if length else "")
            + f"{g['timesteps']} timesteps; frames {', '.join(_size(s) for s in g['frame_sizes'])} (WxH)"
        ]
        width = max((len(s["name"]) for s in g["sequences"][:limit]), default=0)
        for s in g["sequences"][:limit]:
            lines.append(
                f"    {s['name']:<{width}}  {s['views']} views  {s['length']:>6} frames  {_size(s['frame_size'])}"
            )
        if len(g["sequences"]) > limit:
            lines.append(f"    ... {len(g['sequences']) - limit} more (--limit, or --json for all)")
        return lines
    if kind == "labeled":
        lines = [
            f"{head} {g['num_frames']} labeled frame(s) in {g['num_files']} file(s) from {g['num_tasks']} task(s); "
            f"views {g['views']}; frames {_size(g['frame_size'])} (WxH)"
        ]
        for key, counts in g["labels"].items():
            names = classes.get(key, [])
            named = {c: f"{c} ({names[int(c)]})" if 0 <= int(c) < len(names) else c for c in counts}
            lines.append(f"    {key}: " + ", ".join(f"{named[c]}: {n}" for c, n in counts.items()))
        return lines
    if kind == "state":
        if "timesteps" not in g:
            return [f"{head} {g['num_files']} state file(s)"]
        return [
            f"{head} {g['num_files']} state file(s), {g['timesteps']} timesteps; "
            f"position {g.get('position_names')}; velocity {g.get('velocity_names')}; labels {g.get('labels')}; "
            f"cameras {g.get('cameras')}; fps {g.get('fps')}"
        ]
    if kind == "videos":
        lines = [f"{head} {g['num_sequences']} video sequence(s); views {g['views']}"]
        for s in g["sequences"][:limit]:
            lines.append(
                f"    {s['name']}  {s['views']} views  frames {s['frames']}  {s['fps']:.2f} fps  {_size(s['frame_size'])}"
            )
        if len(g["sequences"]) > limit:
            lines.append(f"    ... {len(g['sequences']) - limit} more (--limit, or --json for all)")
        return lines
    if kind == "video":
        return [f"{head} {g['frames']} frames, {g['fps']:.2f} fps, {_size(g['frame_size'])} (WxH)"]
    if kind == "source":
        return _format_source(g, head, limit)
    if kind == "empty":
        return [f"{head} {g['num_files']} empty file(s)"]
    return [f"{head} {g['num_files']} file(s) of unknown kind"]


_SOURCE_KEYS = {"kind", "format", "path", "num_sequences", "views", "timesteps", "sequences"}


def _format_source(g: dict[str, Any], head: str, limit: int) -> list[str]:
    """A source of tcn convert: its format, sequences, views, lengths, state and labels."""
    views = " or ".join(",".join(v) for v in g["views"]) or "none"
    extra = ", ".join(f"{k}={v}" for k, v in g.items() if k not in _SOURCE_KEYS and isinstance(v, (str, int, float)))
    lines = [
        f"[{g['format']}] {g['path']}: {g['num_sequences']} sequence(s) to convert (tcn convert --from {g['format']}); "
        f"views {views}; {g['timesteps']} timesteps" + (f"; {extra}" if extra else "")
    ]
    shown = g["sequences"][:limit]
    width = max((len(s["name"]) for s in shown), default=0)
    for s in shown:
        sizes = sorted({_size(size) for size in s["frame_sizes"]})
        state = s["state"]
        keys = []
        if state and state["position"]:
            keys.append(f"state {len(state['position'])}")
        if state and state["extras"]:
            keys.append(f"extras {','.join(state['extras'])}")
        if s["labels"]:
            keys.append(f"labels {','.join(s['labels'])}")
        lines.append(
            f"    {s['name']:<{width}}  frames {s['frames']}  {', '.join(sizes)}"
            + (f"  {'; '.join(keys)}" if keys else "")
        )
    if len(g["sequences"]) > limit:
        lines.append(f"    ... {len(g['sequences']) - limit} more (--limit, or --json for all)")
    return lines


def format_summary(summary: dict[str, Any], limit: int = 20) -> str:
    lines = [summary["path"]]
    dataset = summary["dataset"]
    if dataset is not None:
        scalars = {k: v for k, v in dataset.items() if isinstance(v, (str, int, float, bool)) and k != "description"}
        lines.append("dataset.json: " + ", ".join(f"{k}={v}" for k, v in scalars.items()))
        if dataset.get("description"):
            lines.append(f"    {dataset['description']}")
    for group in summary["groups"]:
        lines.extend(_format_group(group, max(limit, 0), _class_names(dataset)))
    if summary.get("warnings"):
        lines.append(f"{len(summary['warnings'])} warning(s):")
        lines.extend(f"    {w}" for w in summary["warnings"])
    if summary["problems"]:
        lines.append(f"{len(summary['problems'])} problem(s):")
        lines.extend(f"    {p}" for p in summary["problems"])
    return "\n".join(lines)
