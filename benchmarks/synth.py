"""Speed of the simulated worlds (`tcn synth`).

Prints two tables:

- rendered frames/s (one frame = one view at one timestep; physics, labels and camera
  poses included, no encoding) per world at 128x128 with 2 and 3 cameras, shadows,
  reflections and anti-aliasing off (the default), and for cartpole also with them on.
  Wall-clock frames/s depend on what else runs on the machine; frames per CPU-second
  (all threads of the process, Mesa's included) are the load-independent measure;
- the wall time of the demo dataset (cartpole, 2 views, 20 train + 6 val sequences of
  100 frames at 96x96: render, JPEG, records, labeled records, state files), and of the
  pouring demo's (2 views, 40 train + 8 val sequences of 100 frames at 64x64, the model's
  own look: what configs/demo_pouring.yaml trains on; it must take under 2 minutes);
- the Table I recipe (``--policy random --cameras fixed,lookatcart --appearance default``,
  96x48) written with 1 worker process and with one per core, and with twice the episodes:
  frames/s against one process, and the peak memory of the main process and of the largest
  worker (flat in the number of frames: each sequence is written as soon as it is done).

Example::

    .venv/bin/python benchmarks/synth.py
    .venv/bin/python benchmarks/synth.py --quick
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from timecontrast.sim import WORLDS, WorldSimulator, generate_dataset, sequence_rng


def frames_per_second(world: str, views: int, length: int, **options: bool) -> str:
    """``"wall fps / fps per CPU-second"`` of rendering one sequence."""
    with WorldSimulator(world, 128, 20.0, **options) as sim:
        sim.simulate("warmup", 3, sequence_rng(0, 0), views=views)
        wall, cpu = time.perf_counter(), time.process_time()
        sim.simulate("timed", length, sequence_rng(0, 1), views=views)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return f"{views * length / wall:.0f} / {views * length / cpu:.0f}"


_RECIPE = """
import json, resource, sys, time
from timecontrast.sim import generate_dataset
out, episodes, length, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
start = time.perf_counter()
generate_dataset(out, "cartpole", views=2, splits={"train": episodes}, length=length, width=96, height=48,
                 fps=50.0, policy="random", cameras=["fixed", "lookatcart"], appearance="default", workers=workers)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds,
                  "main_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "worker_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def recipe_run(episodes: int, length: int, workers: int) -> dict[str, float]:
    """Write the Table I recipe in a fresh process; its wall seconds and peak RSS (MiB)."""
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [sys.executable, "-c", _RECIPE, tmp, str(episodes), str(length), str(workers)],
            check=True,
            capture_output=True,
            text=True,
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter sequences, a smaller demo dataset")
    args = parser.parse_args()
    length = 40 if args.quick else 150

    print(f"Load average before measuring: {os.getloadavg()[0]:.1f} (on {os.cpu_count()} cores).")
    print()
    print(f"Rendered frames/s at 128x128, {length} timesteps per measurement (one frame = one view, one timestep).")
    print()
    print("| world | rendering | 2 cameras (wall / CPU) | 3 cameras (wall / CPU) |")
    print("|---|---|---:|---:|")
    for world in WORLDS:
        two, three = (frames_per_second(world, v, length) for v in (2, 3))
        print(f"| {world} | default | {two} | {three} |")
    for label, options in (
        ("4x anti-aliasing", {"antialiasing": True}),
        ("shadows, reflections, anti-aliasing", {"shadows": True, "reflections": True, "antialiasing": True}),
    ):
        two, three = (frames_per_second("cartpole", v, length // 2, **options) for v in (2, 3))
        print(f"| cartpole | {label} | {two} | {three} |")
    print()

    print("Demo datasets (2 views; render + JPEG + records + labeled records + state).")
    print()
    print("| world | sequences | frames x size | wall seconds | CPU seconds | frames/s (wall) |")
    print("|---|---|---|---:|---:|---:|")
    demos = (
        ("cartpole", *((4, 2, 50, 96) if args.quick else (20, 6, 100, 96)), "random"),
        ("pouring", *((4, 2, 50, 64) if args.quick else (40, 8, 100, 64)), "default"),
    )
    for world, train, val, frames, size, look in demos:
        with tempfile.TemporaryDirectory() as tmp:
            start, cpu = time.perf_counter(), time.process_time()
            generate_dataset(
                tmp, world, views=2, splits={"train": train, "val": val}, length=frames, size=size, appearance=look
            )
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        total = (train + val) * frames * 2
        print(
            f"| {world} | {train} train + {val} val | {frames} x {size}px | {seconds:.1f} | {cpu:.1f} | "
            f"{total / seconds:.0f} |"
        )
    print()
    cores = os.cpu_count() or 1
    episodes, length = (4, 100) if args.quick else (8, 500)
    print(f"Table I recipe (cartpole, random actions, cameras fixed + lookatcart, 96x48, {length} frames per episode).")
    print()
    print("| episodes | frames | workers | wall seconds | frames/s | vs 1 worker | peak RSS main / largest worker |")
    print("|---:|---:|---:|---:|---:|---:|---|")
    single = None
    for count, workers in ((episodes, 1), (episodes, cores), (2 * episodes, cores)):
        result = recipe_run(count, length, workers)
        frames = count * length * 2
        rate = frames / result["seconds"]
        if workers == 1:
            single = rate
        worker = f"{result['worker_mib']:.0f} MiB" if workers > 1 else "-"
        print(
            f"| {count} | {frames} | {workers} | {result['seconds']:.1f} | {rate:.0f} | "
            f"{rate / single:.2f}x | {result['main_mib']:.0f} MiB / {worker} |"
        )
    print()
    print(f"Load average while measuring: {os.getloadavg()[0]:.1f} (on {cores} cores).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
