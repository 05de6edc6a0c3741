"""How many cameras `tcn collect` keeps up with: synthetic cameras, synchronised and encoded live.

Synthetic cameras stand in for webcams (generating a frame costs about what decoding an
MJPG frame does), so this measures the machine's side: reader threads, synchroniser and
one H.264 encoder per view. A setup keeps up when the synchronised rate is the cameras'
rate and the encoder backlog stays near zero. USB bandwidth is not measured here (see
docs/collect.md). Prints Markdown.

Example::

    .venv/bin/python benchmarks/capture.py            # 6 s per setup
    .venv/bin/python benchmarks/capture.py --quick    # 2 s per setup, fewer setups
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time

from timecontrast.capture import open_session


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_setup(num: int, width: int, height: int, fps: float, seconds: float) -> dict:
    specs = [f"synthetic:{width}x{height}@{fps:g}"] * num
    with tempfile.TemporaryDirectory() as tmp:
        session = open_session(specs, tmp, "bench", "train", jitter_ms=2.0)
        backlog = []
        cpu0, wall0 = cpu_seconds(), time.monotonic()
        result = session.run(duration=seconds, on_status=lambda s: backlog.append(s.backlog), status_interval=0.5)
        cpu, wall = cpu_seconds() - cpu0, time.monotonic() - wall0
    return {
        "setup": f"{num} x {width}x{height}@{fps:g}",
        "synced fps": f"{result.fps:.1f}",
        "frames": result.num_frames,
        "dropped (all cameras)": sum(result.dropped),
        "max encoder backlog": max(backlog or [0]),
        "CPU cores busy": f"{cpu / wall:.2f}",
        "finalise s": f"{wall - seconds:.2f}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 s per setup and fewer setups")
    parser.add_argument("--seconds", type=float, default=None)
    args = parser.parse_args()
    seconds = args.seconds or (2.0 if args.quick else 6.0)
    setups = [(1, 640, 480, 30), (2, 640, 480, 30), (4, 640, 480, 30), (8, 640, 480, 30), (2, 1280, 720, 30)]
    if args.quick:
        setups = setups[:2]
    rows = [run_setup(*setup, seconds) for setup in setups]
    print("## Capture (`tcn collect`, synthetic cameras)\n")
    print(f"Each setup records {seconds:g} s; H.264 crf 20, preset veryfast, one encoder thread per view.\n")
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(str(row[k]) for k in keys) + " |")


if __name__ == "__main__":
    main()
