"""Is the data pipeline the bottleneck of training? End-to-end vs in-memory throughput.

For each case (the demo config; the pouring config at reduced size) the script writes its
own multi-view records (JPEG frames of the raw size the case stands for), then measures:

- end to end: ``timecontrast.training.train`` from the records on disk with the default
  ``data.num_workers``, the per-step rate read back from ``metrics.jsonl`` (a summary every
  step; the first steps after each (re)start are left out);
- in memory: the same model's forward + loss + backward + optimiser step on one batch
  already in memory (the work of a training step without loading).

The two alternate in rounds (training resumes from its checkpoint each round), so both
see the same machine load; rates are medians of per-step rates. The ratio end-to-end /
in-memory should be at least 0.9. Each case runs twice: with torch's default threads (the
model and the data workers share the cores) and with 1 training thread (a core left to the
workers, as on a machine with cores to spare). Peak memory is the maximum resident set
size of the training process and of one data worker. Each row runs in a fresh process.

Example::

    .venv/bin/python benchmarks/train_throughput.py
    .venv/bin/python benchmarks/train_throughput.py --quick --cases demo
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

import numpy as np

CONFIGS = resources.files("timecontrast") / "configs"

# name -> (config files, overrides, raw frame height, width, sequences, frames per sequence)
CASES: dict[str, tuple[list[str], list[str], int, int, int, int]] = {
    "demo": (["demo.yaml"], [], 64, 64, 4, 120),  # the frame size tcn demo writes
    "demo, 128 px frames": (["demo.yaml"], [], 128, 128, 4, 120),  # decoding twice the size
    "pouring @139px, batch 8": (
        ["pouring.yaml"],
        ["data.height=139", "data.width=139", "data.batch_size=8", "data.examples_per_sequence=8",
         "inception_conv_ss_fc.pretrained=none"],
        480, 360, 3, 100,
    ),
}  # fmt: skip


def write_records(root: Path, height: int, width: int, sequences: int, frames: int, views: int = 2) -> Path:
    """Smooth moving shapes with a little noise: JPEGs of a realistic size and decode cost."""
    from timecontrast.data.records import write_sequence_record
    from timecontrast.io.jpeg import encode_jpeg

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width]
    for s in range(sequences):
        jpegs: list[list[bytes]] = [[] for _ in range(views)]
        for t in range(frames):
            for v in range(views):
                img = np.empty((height, width, 3), np.float32)
                img[..., 0] = 120 + 60 * np.sin(xx / (17 + 5 * v) + t / 9)
                img[..., 1] = 110 + 50 * np.cos(yy / (23 + 3 * v) - t / 11)
                img[..., 2] = 90 + 40 * np.sin((xx + yy) / 31 + s)
                cy, cx = int(height * (0.5 + 0.3 * np.sin(t / 13 + v))), int(width * (0.5 + 0.3 * np.cos(t / 7)))
                img[max(cy - height // 10, 0) : cy + height // 10, max(cx - width // 10, 0) : cx + width // 10] = (
                    230,
                    40,
                    40,
                )
                img += rng.normal(0, 4, img.shape)
                jpegs[v].append(encode_jpeg(np.clip(img, 0, 255).astype(np.uint8)))
        write_sequence_record(root / f"seq{s:03d}.tfrecord", f"seq{s:03d}", jpegs)
    return root


def in_memory_stepper(cfg):
    """A function running one forward + loss + backward + step on a batch held in memory; returns images/s."""
    import torch

    from timecontrast.data.loaders import build_batches, open_split
    from timecontrast.models import build_embedder
    from timecontrast.training import build_metric_loss, build_optimizer, l2_penalty

    torch.manual_seed(cfg.seed)
    model = build_embedder(cfg).train()
    batch = build_batches(cfg, model, open_split(cfg, "training"), train=True).batch(0)
    metric_loss = build_metric_loss(cfg)
    optimizer = build_optimizer(cfg.learning.optimizer, model.parameters(), cfg.learning.learning_rate)
    head = model.head_parameters()
    images = batch["images"]

    def step() -> float:
        start = time.perf_counter()
        loss = metric_loss(model(images), batch) + cfg.learning.l2_reg_weight * l2_penalty(head)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        float(loss.detach())
        return images.shape[0] / (time.perf_counter() - start)

    for _ in range(3):  # warm-up
        step()
    return step


def run_case(name: str, steps: int, rounds: int, threads: int) -> dict:
    """Alternate rounds of in-memory steps and end-to-end training (resumed each round)."""
    import torch

    from timecontrast.config import load_config
    from timecontrast.training import train

    if threads:
        torch.set_num_threads(threads)
    files, overrides, height, width, sequences, frames = CASES[name]
    warmup, chunk = 3, max(2, steps // rounds)  # steps of each end-to-end round left out / measured
    memory, end_to_end = [], []
    with tempfile.TemporaryDirectory() as tmp:
        records = write_records(Path(tmp) / "records", height, width, sequences, frames)
        logdir = Path(tmp) / "run"

        def config(max_step: int):
            return load_config(
                [str(CONFIGS / f) for f in files],
                None,
                [
                    *overrides,
                    f"data.training={records}",
                    f"learning.max_step={max_step}",
                    "logging.summary.save_summaries_steps=1",
                    f"runtime.num_threads={threads}",
                ],
            )

        cfg = config(0)
        stepper = in_memory_stepper(cfg)
        for r in range(rounds):
            memory += [stepper() for _ in range(chunk)]
            start, stop = r * (warmup + chunk), (r + 1) * (warmup + chunk)
            train(config(stop), logdir, device="cpu")
            rows = [json.loads(line) for line in (logdir / "metrics.jsonl").read_text().splitlines()]
            end_to_end += [row["images/sec"] for row in rows if start + warmup < row["step"] <= stop]
    main_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    worker_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "case": name,
        "embedder": cfg.embedder_strategy,
        "input": f"{cfg.data.height}x{cfg.data.width}",
        "raw": f"{height}x{width}",
        "batch": cfg.data.batch_size,
        "workers": cfg.data.num_workers,
        "threads": torch.get_num_threads(),
        "end_to_end": statistics.median(end_to_end),
        "in_memory": statistics.median(memory),
        "main_mib": main_kb / 1024,
        "worker_mib": worker_kb / 1024,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer steps")
    parser.add_argument("--steps", type=int, default=0, help="measured steps per case and side (default 45, quick 12)")
    parser.add_argument("--cases", default="", help="comma-separated case names (prefixes), default all")
    parser.add_argument(
        "--threads", default="0,1", help="torch threads of the training process, one row each (0 = torch's default)"
    )
    parser.add_argument("--one", default="", help=argparse.SUPPRESS)  # internal: run one case, print JSON
    args = parser.parse_args()
    steps = args.steps or (12 if args.quick else 45)
    rounds = 2 if args.quick else 3
    if args.one:
        logging.basicConfig(level=logging.ERROR)
        case, threads = args.one.rsplit("@@", 1)
        print(json.dumps(run_case(case, steps, rounds, int(threads))))
        return 0
    wanted = [c for c in CASES if not args.cases or any(c.startswith(p) for p in args.cases.split(","))]
    results = []
    for name in wanted:
        for threads in [int(t) for t in args.threads.split(",")]:
            cmd = [sys.executable, __file__, "--one", f"{name}@@{threads}", "--steps", str(steps)]
            cmd += ["--quick"] if args.quick else []
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                print(proc.stderr[-3000:], file=sys.stderr)
                return 1
            results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    import os

    print(
        f"Training throughput on CPU ({os.cpu_count()} cores), images/s: medians of per-step rates over "
        f"{rounds} alternating rounds of in-memory and end-to-end steps ({steps} steps each side)."
    )
    print()
    print(
        "| case | embedder | input (raw) | batch | workers | torch threads | end to end img/s | in memory img/s "
        "| ratio | peak RSS main / worker |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['case']} | {r['embedder']} | {r['input']} ({r['raw']}) | {r['batch']} | {r['workers']} | "
            f"{r['threads']} | {r['end_to_end']:.1f} | {r['in_memory']:.1f} | {r['end_to_end'] / r['in_memory']:.2f} | "
            f"{r['main_mib']:.0f} / {r['worker_mib']:.0f} MiB |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
