"""Speed of `tcn export` against embedding alone.

Writes a dataset in the `tcn synth` layout (records, labeled frame records, state files):
100 sequences x 2 views x 400 frames at 64x64 (--quick: 20 x 2 x 100), and a checkpoint
of the demo's embedder (demo.yaml: small_conv [32, 64, 128], spatial softmax, D = 32;
untrained weights: the speed does not depend on them). The data is split into --parts
parts (10), and on each part in turn times:

- embedding alone: `Embedder.from_checkpoint` and `embed_sequence` of every sequence
  (read + JPEG decode + forward, nothing written);
- `tcn export --format npz` and `--format parquet` (in-process, a fresh output folder
  each time): the same embedding plus labels, state and writing.

The target: export within 2x the time of embedding alone. Prints a Markdown table.

Example::

    .venv/bin/python benchmarks/export.py
    .venv/bin/python benchmarks/export.py --quick
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from timecontrast.cli.main import main as tcn
from timecontrast.config import config_to_dict, load_config
from timecontrast.data import layout
from timecontrast.data.labeled import LabeledFrame, write_labeled_records
from timecontrast.data.records import iter_sequences, write_sequence_record
from timecontrast.data.state import SequenceState, save_state
from timecontrast.inference import Embedder
from timecontrast.io.jpeg import encode_jpeg
from timecontrast.models import build_untrained_embedder, save_checkpoint

SIZE = 64  # the demo's frames


def frames(length: int, view: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``[T, 64, 64, 3]`` uint8 frames of a disc moving over a noisy background, and its x position."""
    x = np.sin(np.linspace(0, rng.uniform(2, 6), length) + rng.uniform(0, 6))
    background = rng.integers(20 + 60 * view, 90 + 60 * view, (SIZE, SIZE, 3), dtype=np.uint8)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    out = np.repeat(background[None], length, axis=0)
    for t in range(length):
        cx = SIZE / 2 + SIZE / 3 * x[t]
        out[t][(xx - cx) ** 2 + (yy - SIZE / 2 - 8 * view) ** 2 < 64] = (230, 60 + 100 * view, 40)
    return out, x


def make_dataset(root: Path, split: str, names: list[str], length: int, rng: np.random.Generator) -> Path:
    """``root/<split>/{records,labeled,state}`` as tcn synth writes them; returns the records folder."""
    for name in names:
        views, x = zip(*(frames(length, v, rng) for v in range(2)), strict=True)
        jpegs = [[encode_jpeg(f) for f in view] for view in views]
        write_sequence_record(layout.record_path(root, split, name), name, jpegs)
        labels = {"right": (x[0] > 0).astype(np.int64), "stage": np.minimum(np.arange(length) * 3 // length, 2)}
        write_labeled_records(
            layout.labeled_path(root, split, name),
            (
                LabeledFrame([j[t] for j in jpegs], name, {k: int(v[t]) for k, v in labels.items()}, t)
                for t in range(length)
            ),
        )
        position = np.stack([x[0], np.gradient(x[0])], 1)
        state = SequenceState(position, position[:, 1:], ["x", "angle"], ["vx"], labels)
        save_state(layout.state_path(root, split, name), state)
    return layout.records_dir(root, split)


def write_checkpoint(logdir: Path) -> None:
    cfg = load_config("demo.yaml", None, ["runtime.device=cpu"])
    model = build_untrained_embedder(cfg, seed=0)
    state = {"model": model.state_dict(), "optimizer": None, "grad_scaler": {}, "step": 0, "rng": None}
    save_checkpoint(logdir, {**state, "config": config_to_dict(cfg)})


def embed_alone(run: Path, records: Path) -> float:
    start = time.perf_counter()
    embedder = Embedder.from_checkpoint(run, device="cpu")
    for sequence in iter_sequences(records):
        embedder.embed_sequence(sequence)
        sequence.close()
    return time.perf_counter() - start


def export(run: Path, records: Path, outdir: Path, fmt: str) -> float:
    shutil.rmtree(outdir, ignore_errors=True)
    start = time.perf_counter()
    argv = ["export", "--checkpointdir", str(run), "--records", str(records), "--outdir", str(outdir)]
    with contextlib.redirect_stdout(sys.stderr):  # its summary line is not part of the table
        rc = tcn([*argv, "--format", fmt, "--device", "cpu"])
    seconds = time.perf_counter() - start
    assert rc == 0, f"tcn export --format {fmt} exited with {rc}"
    return seconds


def folder_mib(path: Path) -> float:
    return sum(f.stat().st_size for f in path.iterdir()) / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smaller set (20 sequences x 100 frames)")
    parser.add_argument("--sequences", type=int, default=100, help="2-view sequences to generate")
    parser.add_argument("--frames", type=int, default=400, help="frames per view and sequence")
    parser.add_argument("--parts", type=int, default=10, help="interleave the paths over this many parts of the data")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    num_sequences, length = (20, 100) if args.quick else (args.sequences, args.frames)
    parts = max(1, min(args.parts, num_sequences))
    total = num_sequences * 2 * length
    paths = [
        "embedding alone (Embedder.embed_sequence, nothing written)",
        "tcn export --format npz",
        "tcn export --format parquet",
    ]
    seconds = dict.fromkeys(paths, 0.0)
    sizes = {"npz": 0.0, "parquet": 0.0}
    with tempfile.TemporaryDirectory(prefix="tcn-bench-export-") as tmp:
        root = Path(tmp)
        print(f"generating {num_sequences} sequences x 2 views x {length} frames at {SIZE}x{SIZE}", file=sys.stderr)
        rng = np.random.default_rng(0)
        names = [f"seq_{s:04d}" for s in range(num_sequences)]
        splits = [f"part{k:02d}" for k in range(parts)]
        records = [make_dataset(root / "data", split, names[k::parts], length, rng) for k, split in enumerate(splits)]
        write_checkpoint(root / "run")
        # The paths take turns on each part of the data (in a rotating order), so that the
        # machine's drifting load (2 shared cores) falls on all of them alike.
        for k, part in enumerate(records):
            runs = {
                paths[0]: lambda part=part: embed_alone(root / "run", part),
                paths[1]: lambda part=part, k=k: export(root / "run", part, root / f"npz{k}", "npz"),
                paths[2]: lambda part=part, k=k: export(root / "run", part, root / f"parquet{k}", "parquet"),
            }
            for name in paths[k % 3 :] + paths[: k % 3]:
                seconds[name] += runs[name]()
            for fmt in sizes:
                sizes[fmt] += folder_mib(root / f"{fmt}{k}")
            print(f"  part {k + 1}/{parts}: " + ", ".join(f"{s:.1f} s" for s in seconds.values()), file=sys.stderr)
    alone = seconds[paths[0]]
    print(
        f"## tcn export: {num_sequences} sequences x 2 views x {length} frames, {SIZE}x{SIZE}, demo embedder "
        f"(D = 32, CPU, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs)"
    )
    print()
    print("| path | seconds | frames/s | ratio to embedding alone | output |")
    print("|---|---:|---:|---:|---:|")
    for name, s in seconds.items():
        fmt = name.rsplit(" ", 1)[-1]
        size = f"{sizes[fmt]:.1f} MiB" if fmt in sizes else "-"
        print(f"| {name} | {s:.1f} | {total / s:.0f} | {s / alone:.2f}x | {size} |")
    print()
    print(
        f"A frame is one view at one timestep. Both paths read and decode every JPEG once and load the model; the "
        f"paths take turns on {parts} parts of the data, so the machine's load falls on them alike."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
