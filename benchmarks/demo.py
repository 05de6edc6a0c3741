"""The demo end to end: time of each step of `tcn demo` and the numbers it reports.

Runs `tcn demo --force` into a temporary folder (the same code path as `make demo`) and
prints one table of step times and one of the results against the demo's claims.

    .venv/bin/python benchmarks/demo.py            # the full demo (about 5 minutes on 2 cores)
    .venv/bin/python benchmarks/demo.py --quick    # the seconds-long --quick variant
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import tempfile
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the --quick demo (tiny data; numbers mean nothing)")
    args = parser.parse_args()

    from timecontrast.cli.main import main as tcn_main

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "demo"
        argv = ["demo", "--outdir", str(out), "--force", "--device", "cpu"] + (["--quick"] if args.quick else [])
        log = io.StringIO()
        start = time.perf_counter()
        with contextlib.redirect_stdout(log):
            code = tcn_main(argv)
        total = time.perf_counter() - start
        if code != 0:
            print(log.getvalue()[-3000:])
            return code
        steps = json.loads((out / ".demo_steps.json").read_text())
        summary = log.getvalue().split("=" * 72)[-1].strip().splitlines()

    print(f"`tcn demo{' --quick' if args.quick else ''}` on CPU, {os.cpu_count()} cores: {total / 60:.1f} min in all.")
    print()
    print("| step | seconds |")
    print("|---|---:|")
    for name, entry in steps.items():
        print(f"| {name} | {entry['seconds']:.1f} |")
    print(f"| all, with the report | {total:.1f} |")
    print()
    print("What the demo printed:")
    print()
    print("```")
    print("\n".join(line for line in summary if not line.startswith(("report:", "TensorBoard:"))))
    print("```")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
