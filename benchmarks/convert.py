"""Speed of `tcn convert` and of random frame access in sequence records.

Generates a 2-view 640x360 H.264 set (4 sequences x 150 frames; --quick: 2 x 60), then
prints frames/s (one frame = one view at one timestep) of:

- the bound: decode + JPEG-encode the same frames, one after the other, in one thread;
- the convert code path (`convert_videos`, what `tcn convert` runs: one decode+encode
  task per video, records written as sequences complete) with 1 and 2 workers, on
  threads (the default) and on processes (`tcn convert --processes`);

and, per input format (`tcn convert --from FORMAT`: `frames` JPEG folders, `tcc` and `rlds`
TFRecords of the same frames as JPEGs, a `lerobot` v3.0 dataset of them as AV1 mp4s, two
episodes per file, benchmarks/lerobot_input.py), its own bound (the format's reader decoding every
frame + JPEG-encode, one after the other in one thread) beside `convert_sequences` on 2
worker threads; and random single-frame reads per second from a 400-frame 2-view shard
(read + JPEG decode, and read only), plus the time to open (index) the shard.

Example::

    .venv/bin/python benchmarks/convert.py
    .venv/bin/python benchmarks/convert.py --quick
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from timecontrast.data.convert import convert_sequences, convert_videos
from timecontrast.data.formats import get_format
from timecontrast.data.records import SequenceRecord, write_sequence_record
from timecontrast.io.example import Example, SequenceExample, bytes_feature, int64_feature
from timecontrast.io.files import write_bytes
from timecontrast.io.jpeg import decode_jpeg, encode_jpeg
from timecontrast.io.tfrecord import write_records
from timecontrast.io.video import VideoWriter, iter_video_frames

HEIGHT, WIDTH = 360, 640


def scene(num_frames: int, view: int, rng: np.random.Generator):
    """Yield natural-ish frames: a smooth textured background panning, a moving disc."""
    small = rng.uniform(0, 255, (HEIGHT // 20 + 2, WIDTH // 20 + 2, 3)).astype(np.float32)
    texture = np.kron(small, np.ones((20, 20, 1), np.float32))  # blocky low-frequency texture
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    grain = rng.normal(0, 6, (HEIGHT, WIDTH, 3)).astype(np.float32)
    for t in range(num_frames):
        dx = (t * (3 + view)) % 20
        img = texture[dx // 2 : dx // 2 + HEIGHT, dx : dx + WIDTH] * 0.6 + 50
        cx = WIDTH / 2 + WIDTH / 3 * np.sin(0.05 * t + view)
        cy = HEIGHT / 2 + HEIGHT / 4 * np.cos(0.07 * t)
        disc = (xx - cx) ** 2 + (yy - cy) ** 2 < 40**2
        img[disc] = (230, 60 + 100 * view, 40)
        yield np.clip(img + grain, 0, 255).astype(np.uint8)


def make_videos(root: Path, num_sequences: int, num_frames: int) -> None:
    rng = np.random.default_rng(0)
    for s in range(num_sequences):
        for v in range(2):
            with VideoWriter(root / f"seq{s:02d}_view{v}.mp4", 30, WIDTH, HEIGHT, crf=20) as writer:
                for frame in scene(num_frames, v, rng):
                    writer.write(frame)


def bound(video_dir: Path) -> tuple[int, float]:
    """Decode + encode every frame of every video sequentially in this thread."""
    start = time.perf_counter()
    n = 0
    for path in sorted(video_dir.glob("*.mp4")):
        for frame in iter_video_frames(path):
            encode_jpeg(frame)
            n += 1
    return n, time.perf_counter() - start


def timed_convert(video_dir: Path, out_dir: Path, workers: int, parallel: str) -> tuple[int, float]:
    start = time.perf_counter()
    result = convert_videos(
        video_dir, out_dir, workers=workers, parallel=parallel, overwrite=True, progress=False, expected_views=2
    )
    seconds = time.perf_counter() - start
    assert result.ok and result.frames_encoded, result.failed
    return result.frames_encoded, seconds


# ------------------------------------------------------------------ the other input formats
def source_jpegs(num_sequences: int, num_frames: int) -> list[list[list[bytes]]]:
    """``[sequence][view][t]`` JPEGs (q95) of the scene: what the other formats store."""
    rng = np.random.default_rng(0)
    return [[[encode_jpeg(f, 95) for f in scene(num_frames, v, rng)] for v in range(2)] for _ in range(num_sequences)]


def make_frames(root: Path, jpegs: list[list[list[bytes]]]) -> Path:
    """``<seq>/<view>/<t>.jpg`` folders."""
    for s, views in enumerate(jpegs):
        for v, frames in enumerate(views):
            for t, data in enumerate(frames):
                write_bytes(root / f"seq{s:02d}" / f"cam{v}" / f"{t:05d}.jpg", data)
    return root


def make_tcc(root: Path, jpegs: list[list[list[bytes]]]) -> Path:
    """TCC records, one video per (sequence, view) (TCC is single-view), all in one file."""
    records = []
    for s, views in enumerate(jpegs):
        for v, frames in enumerate(views):
            ex = SequenceExample()
            ex.context.feature["name"].CopyFrom(bytes_feature(f"seq{s:02d}_cam{v}".encode()))
            ex.context.feature["len"].CopyFrom(int64_feature(len(frames)))
            for data in frames:
                ex.feature_lists.feature_list["video"].feature.add().CopyFrom(bytes_feature(data))
            records.append(ex.SerializeToString())
    write_records(root / "toy-0-of-1.tfrecord", records)
    return root


def make_rlds(root: Path, jpegs: list[list[list[bytes]]]) -> Path:
    """One RLDS shard: an Example per episode, views steps/observation/cam<k> (a single shard
    file: the format reads its schema from the first episode)."""
    records = []
    for views in jpegs:
        ex = Example()
        for v, frames in enumerate(views):
            ex.features.feature[f"steps/observation/cam{v}"].CopyFrom(bytes_feature(frames))
        ex.features.feature["steps/is_first"].CopyFrom(int64_feature([1] + [0] * (len(views[0]) - 1)))
        records.append(ex.SerializeToString())
    path = root / "toy-train.tfrecord-00000-of-00001"
    write_records(path, records)
    return path


def make_lerobot(root: Path, jpegs: list[list[list[bytes]]]) -> Path:
    """A LeRobot v3.0 dataset (two episodes per AV1 mp4 per camera) of the same frames."""
    from lerobot_input import write_lerobot_dataset

    frames = [[[decode_jpeg(data) for data in view] for view in views] for views in jpegs]
    return write_lerobot_dataset(root, frames)


# format -> writer of its layout
SOURCES = {"frames": make_frames, "tcc": make_tcc, "rlds": make_rlds, "lerobot": make_lerobot}


def format_bound(name: str, path: Path) -> tuple[int, float]:
    """The format's readers decode every frame, each encoded to JPEG, in this thread."""
    start = time.perf_counter()
    n = 0
    for seq in get_format(name).scan(path)[0]:
        seq.views()
        for v in range(seq.num_views):
            for frame in seq.reader(v).frames(None):
                encode_jpeg(frame)
                n += 1
    return n, time.perf_counter() - start


def format_convert(name: str, path: Path, out: Path) -> tuple[int, float]:
    start = time.perf_counter()
    result = convert_sequences(path, out, name, workers=2, overwrite=True, progress=False)
    seconds = time.perf_counter() - start
    assert result.ok and result.frames_encoded, result.failed
    return result.frames_encoded, seconds


def format_rows(root: Path, num_sequences: int, num_frames: int, repeats: int) -> list[tuple[str, float, float]]:
    """``(format, bound frames/s, convert frames/s)``, each the best of ``repeats`` rounds."""
    jpegs = source_jpegs(num_sequences, num_frames)
    paths = {name: make(root / name, jpegs) for name, make in SOURCES.items()}
    best = {name: [0.0, 0.0] for name in SOURCES}
    for _ in range(repeats):
        for name, path in paths.items():
            n, seconds = format_bound(name, path)
            best[name][0] = max(best[name][0], n / seconds)
            n, seconds = format_convert(name, path, root / f"{name}-out" / "records")
            best[name][1] = max(best[name][1], n / seconds)
    return [(name, bound_fps, fps) for name, (bound_fps, fps) in best.items()]


def random_access(path: Path, reads: int) -> list[tuple[str, float]]:
    start = time.perf_counter()
    rec = SequenceRecord(path)
    open_s = time.perf_counter() - start
    rng = np.random.default_rng(0)
    picks = [(int(rng.integers(rec.num_views)), int(rng.integers(rec.length))) for _ in range(reads)]
    start = time.perf_counter()
    for v, t in picks:
        rec.frame(v, t)
    decode_s = time.perf_counter() - start
    start = time.perf_counter()
    for v, t in picks:
        rec.jpeg(v, t)
    read_s = time.perf_counter() - start
    size_mb = path.stat().st_size / 2**20
    return [
        (f"open the shard (index + scan, {size_mb:.0f} MiB, CRC checked)", 1 / open_s),
        ("random frame: read + JPEG decode", reads / decode_s),
        ("random frame: read only (JPEG bytes)", reads / read_s),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smaller set (2 sequences x 60 frames)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds; each row reports its best round")
    parser.add_argument("--sequences", type=int, default=4, help="2-view sequences to generate")
    parser.add_argument("--frames", type=int, default=150, help="frames per view and sequence")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    num_sequences, num_frames = (2, 60) if args.quick else (args.sequences, args.frames)
    shard_frames = 100 if args.quick else 400

    with tempfile.TemporaryDirectory(prefix="tcn-bench-convert-") as tmp:
        root = Path(tmp)
        print(
            f"generating {num_sequences} sequences x 2 views x {num_frames} frames at {WIDTH}x{HEIGHT}", file=sys.stderr
        )
        make_videos(root / "videos", num_sequences, num_frames)

        runs = {"bound: decode + JPEG-encode in one thread": lambda: bound(root / "videos")}
        for parallel in ("threads", "processes"):
            for workers in (1, 2):
                runs[f"convert_videos, {workers} worker {parallel}"] = lambda w=workers, p=parallel: timed_convert(
                    root / "videos", root / "records", w, p
                )
        # Rounds of every row in turn, best of the rounds: the machine's load drifts over
        # time and would otherwise favour whichever row ran in a quiet moment.
        best = dict.fromkeys(runs, 0.0)
        for _ in range(args.repeats):
            for name, fn in runs.items():
                n, seconds = fn()
                best[name] = max(best[name], n / seconds)
        rows = list(best.items())
        bound_fps = rows[0][1]

        print(
            f"## tcn convert: {num_sequences} sequences x 2 views x {num_frames} frames, {WIDTH}x{HEIGHT} H.264 "
            f"-> JPEG q90 ({os.cpu_count()} CPUs; best of {args.repeats})"
        )
        print()
        print("| path | frames/s | ratio to bound |")
        print("|---|---:|---:|")
        for name, fps in rows:
            print(f"| {name} | {fps:.0f} | {fps / bound_fps:.2f}x |")

        print(file=sys.stderr)
        print("generating the same scene as frame folders, TCC and RLDS records (JPEG q95)", file=sys.stderr)
        print()
        print(
            f"## tcn convert --from FORMAT: {num_sequences} sequences x 2 views x {num_frames} frames, "
            f"{WIDTH}x{HEIGHT} JPEG -> JPEG q90 (best of {args.repeats})"
        )
        print()
        print("| format | bound: its reader's decode + JPEG-encode, one thread (frames/s) | convert, 2 worker threads "
              "(frames/s) | ratio to bound |")  # fmt: skip
        print("|---|---:|---:|---:|")
        for name, bound_fps, fps in format_rows(root / "formats", num_sequences, num_frames, args.repeats):
            print(f"| {name} | {bound_fps:.0f} | {fps:.0f} | {fps / bound_fps:.2f}x |")

        rng = np.random.default_rng(1)
        jpegs = [[encode_jpeg(f) for f in scene(shard_frames, v, rng)] for v in range(2)]
        shard = write_sequence_record(root / "shard.tfrecord", "shard", jpegs)
        print()
        print(f"## Random access: one {shard_frames}-frame 2-view {WIDTH}x{HEIGHT} shard")
        print()
        print("| operation | per second |")
        print("|---|---:|")
        for name, rate in random_access(shard, 200 if args.quick else 1000):
            print(f"| {name} | {rate:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
