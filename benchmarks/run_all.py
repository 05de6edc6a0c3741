"""Run every benchmark script and collect their tables into docs/benchmarks.md.

Each script in this folder prints Markdown (a short title line and tables) to stdout.
This runner adds the machine (CPU model, cores, torch version) and the date.

Example::

    .venv/bin/python benchmarks/run_all.py --output docs/benchmarks.md
    .venv/bin/python benchmarks/run_all.py --only convert,evaluation --quick
"""

from __future__ import annotations

import argparse
import datetime
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def machine_line() -> str:
    from timecontrast.viz.report import machine_summary

    return machine_summary()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default="docs/benchmarks.md")
    parser.add_argument("--only", default="", help="comma-separated script names (without .py)")
    parser.add_argument("--quick", action="store_true", help="pass --quick to every script")
    args = parser.parse_args()
    scripts = sorted(p for p in HERE.glob("*.py") if p.name != Path(__file__).name and not p.name.startswith("_"))
    if args.only:
        wanted = set(args.only.split(","))
        scripts = [p for p in scripts if p.stem in wanted]
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "# Benchmarks",
        "",
        f"Written by `make bench` (benchmarks/run_all.py) on {now}.",
        "",
        f"Machine: {machine_line()}.",
        "",
    ]
    failed = []
    for script in scripts:
        print(f"== {script.name}", file=sys.stderr, flush=True)
        cmd = [sys.executable, str(script)] + (["--quick"] if args.quick else [])
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        seconds = time.perf_counter() - start
        parts += [f"## {script.stem}", "", f"`python benchmarks/{script.name}` ({seconds:.0f} s)", ""]
        if proc.returncode != 0:
            failed.append(script.name)
            parts += ["Failed:", "", "```", proc.stderr[-3000:], "```", ""]
        else:
            parts += [proc.stdout.strip(), ""]
        print(proc.stdout if proc.returncode == 0 else proc.stderr[-3000:], file=sys.stderr)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(args.output).with_suffix(".tmp")
    tmp.write_text("\n".join(parts))
    tmp.replace(args.output)
    print(f"wrote {args.output}" + (f"; failed: {', '.join(failed)}" if failed else ""), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
