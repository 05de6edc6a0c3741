"""The multi-frame TCN paper's Table I: regress the cart-pole's true state from embeddings.

Dwibedi et al. 2018 ("Learning Actionable Representations from Visual Observations"),
Table I: a multi-frame TCN is trained on cart-pole video (random actions, two DM Control
cameras, 96x48 frames) with each lookback (frames embedded at once), then a regressor
(3 x 256 MLP on ``[e_t, e_t - e_{t-1}]``, Adam 1e-3) predicts the true state; the table
gives the test MSE of each standardised variable. This script runs the whole experiment
through the ordinary commands, one after the other, each resumable:

1. ``tcn synth`` the data (``--policy random --cameras fixed,lookatcart --appearance default
   --width 96 --height 48``: DM Control's own cameras and look, as the paper had them);
2. ``tcn train --config_paths table1.yaml,table1_lookback<K>.yaml`` for each lookback K;
3. ``tcn probe --protocol paper`` on each run's last checkpoint;

then prints the paper's table beside ours, writes ``benchmarks/results/mftcn_table1.json``
(merged by scale) and the Table I section of ``docs/reproduction.md``.

Scales: ``cpu`` (48 episodes of 500 frames at 50 fps, 2000 steps per lookback: under 2 h
on 2 cores), ``paper`` (the paper's 160k training and 20k test frames: 180 episodes of
1000 steps at 100 Hz; for a GPU), ``smoke`` (seconds; the numbers mean nothing; what
``--quick`` runs, e.g. under ``make bench``, writing nothing outside a temporary folder).

Example::

    .venv/bin/python benchmarks/mftcn_table1.py --scale cpu            # runs/table1_cpu, ~2 h
    .venv/bin/python benchmarks/mftcn_table1.py --scale paper --device cuda
    .venv/bin/python benchmarks/mftcn_table1.py --scale cpu --lookbacks 1,4 --steps 500   # a shorter try
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from timecontrast.data import layout

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "mftcn_table1.json"
REPRODUCTION = ROOT / "docs" / "reproduction.md"
KEYS = ("position", "motion", "x_cart", "sin_theta", "cos_theta", "xdot_cart", "thetadot")

# Dwibedi et al. 2018, Table I: test MSE of the standardised state variables by lookback.
PAPER: dict[int, dict[str, float]] = {
    1: dict(zip(KEYS, (0.0052, 0.2201, 0.0045, 0.0037, 0.0072, 0.3716, 0.0686), strict=True)),
    2: dict(zip(KEYS, (0.0019, 0.0974, 0.0014, 0.0027, 0.0015, 0.1456, 0.0492), strict=True)),
    4: dict(zip(KEYS, (0.0013, 0.0476, 0.0008, 0.0020, 0.0013, 0.0748, 0.0203), strict=True)),
}


@dataclass(frozen=True)
class Scale:
    train: int  # training episodes
    val: int  # test episodes
    length: int  # frames per episode
    fps: float
    steps: int  # training steps per lookback
    probe_steps: int  # at most, for the probe (early stopping usually ends it sooner)
    lookbacks: tuple[int, ...] = (1, 2, 3, 4)
    extra: tuple[str, ...] = ()  # config overrides

    @property
    def frames(self) -> tuple[int, int]:
        return self.train * self.length, self.val * self.length


SCALES = {
    "smoke": Scale(
        2,
        1,
        24,
        50.0,
        4,
        300,
        (1, 2),
        ("data.num_workers=0", "mftcn.window=24", "mvtcn.window=24", "data.embed_batch_size=32"),
    ),
    "cpu": Scale(40, 8, 500, 50.0, 2000, 20_000),
    "paper": Scale(160, 20, 1000, 100.0, 20_000, 50_000, extra=("mftcn.window=1000", "mvtcn.window=1000")),
}


def tcn(argv: list[str]) -> tuple[int, str]:
    """Run a tcn command in this process; its exit status and what it printed."""
    from timecontrast.cli.main import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(argv)
    return code, out.getvalue()


def checked(argv: list[str]) -> str:
    code, printed = tcn(argv)
    if code != 0:
        raise SystemExit(f"tcn {' '.join(argv)} failed (exit {code}):\n{printed[-2000:]}")
    return printed


def synthesise(scale: Scale, data: Path, workers: int) -> float:
    """The dataset (kept when it is already there with the same settings); seconds spent."""
    info_path = layout.dataset_info_path(data)
    if info_path.is_file():
        info = json.loads(info_path.read_text())
        same = (
            info["length"],
            info["fps"],
            len(info["splits"]["train"]),
            len(info["splits"]["val"]),
            info.get("appearance"),
        ) == (scale.length, scale.fps, scale.train, scale.val, "default")
        if same:
            return 0.0
        raise SystemExit(f"{data} holds another dataset; remove it or choose another --outdir")
    start = time.perf_counter()
    checked(
        [
            "synth", "--world", "cartpole", "--policy", "random", "--cameras", "fixed,lookatcart", "--appearance", "default",
            "--width", "96", "--height", "48", "--length", str(scale.length), "--fps", str(scale.fps),
            "--split", f"train={scale.train},val={scale.val}", "--workers", str(workers), "--output_dir", str(data),
        ]
    )  # fmt: skip
    return time.perf_counter() - start


def train_and_probe(scale: Scale, lookback: int, data: Path, outdir: Path, device: str) -> dict[str, Any]:
    """Train one lookback (resuming a run already there) and probe it; the row of the table."""
    logdir = outdir / f"lookback{lookback}"
    overrides = [
        f"data.training={layout.records_dir(data, 'train')}",
        f"data.validation={layout.records_dir(data, 'val')}",
        *scale.extra,
    ]
    start = time.perf_counter()
    checked(
        [
            "train", "--config_paths", f"table1.yaml,table1_lookback{lookback}.yaml", "--logdir", str(logdir),
            "--device", device, *overrides, f"learning.max_step={scale.steps}",
        ]
    )  # fmt: skip
    train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    checked(
        [
            "probe", "--checkpointdir", str(logdir), "--once", "--protocol", "paper", "--device", device,
            "--max_steps", str(scale.probe_steps), *overrides,
        ]
    )  # fmt: skip
    probe_seconds = time.perf_counter() - start
    results = json.loads((logdir / "evaluation" / "probe_paper.json").read_text())
    step, entry = max(results["checkpoints"].items(), key=lambda kv: int(kv[0]))
    errors = entry["result"]["errors"]
    return {
        **{key: errors[key] for key in KEYS},
        "steps": int(step),
        "train_seconds": round(train_seconds, 1),
        "probe_seconds": round(probe_seconds, 1),
    }


def table(ours: dict[str, dict[str, Any]]) -> str:
    """The paper's rows and ours, as one Markdown table (``ours`` maps lookback -> row)."""
    header = "| lookback | source | position MSE | motion MSE | x_cart | sin θ | cos θ | ẋ_cart | θ̇ |"
    lines = [header, "|---|---|" + "---:|" * 7]
    lookbacks = sorted({*PAPER, *(int(k) for k in ours)})
    for k in lookbacks:
        for source, row in (("paper", PAPER.get(k)), ("ours", ours.get(str(k)))):
            if row is not None:
                lines.append(f"| {k} | {source} | " + " | ".join(f"{row[key]:.4f}" for key in KEYS) + " |")
    return "\n".join(lines)


def reduction(ours: dict[str, dict[str, Any]], key: str, first: int, last: int) -> float | None:
    """Relative reduction of ``key`` from lookback ``first`` to ``last`` (0.5 = halved)."""
    a, b = ours.get(str(first)), ours.get(str(last))
    if a is None or b is None or not a[key]:
        return None
    return 1.0 - b[key] / a[key]


def lookback_rows(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The rows of one scale's result: its keys that are lookbacks."""
    return {k: v for k, v in result.items() if k.isdigit()}


def section(scale_name: str, result: dict[str, Any]) -> str:
    """The Table I section of docs/reproduction.md for one scale's result."""
    rows = lookback_rows(result)
    train_frames, test_frames = result["frames"]
    motion = reduction(rows, "motion", 1, max(int(k) for k in rows))
    lines = [
        f"### Scale `{scale_name}`",
        "",
        f"Measured {result['date']} on {result['machine']}.",
        f"Data: {result['episodes'][0]} training and {result['episodes'][1]} test episodes of "
        f"{result['length']} frames at {result['fps']:g} fps ({train_frames:,} and {test_frames:,} frames, 2 views, "
        f"96x48). Training: {result['steps']:,} steps per lookback. Wall time: {result['wall_seconds'] / 60:.0f} min "
        f"(synth {result['synth_seconds'] / 60:.1f} min).",
        "",
        table(rows),
        "",
    ]
    if motion is not None:
        lines.append(
            f"Motion MSE falls by {motion:.0%} from lookback 1 to {max(int(k) for k in rows)} (paper: 78 % from 1 to 4)."
        )
        lines.append("")
    return "\n".join(lines)


def write_reproduction(path: Path, results: dict[str, Any]) -> None:
    """Replace the Table I part of ``path`` (between its markers), keeping the rest."""
    start, end = "<!-- mftcn_table1:start -->", "<!-- mftcn_table1:end -->"
    body = "\n".join(
        [
            start,
            "## Multi-frame TCN, Table I: the cart-pole's state from the embedding",
            "",
            "Dwibedi et al. 2018, Table I, beside our runs of `benchmarks/mftcn_table1.py` (MSE of each",
            "standardised state variable on the test episodes; position = mean of x_cart, sin θ, cos θ;",
            "motion = mean of ẋ_cart, θ̇). The paper reports lookbacks 1, 2 and 4.",
            "",
            *(section(name, results[name]) for name in ("cpu", "paper") if name in results),
            end,
        ]
    )
    replace_marked_section(path, start, end, body)


def replace_marked_section(path: Path, start: str, end: str, body: str) -> None:
    """Put ``body`` (which begins with ``start`` and ends with ``end``) in place of the text
    between those markers in ``path``, or append it; the rest of the file is kept."""
    from timecontrast.io.files import write_text

    text = path.read_text() if path.is_file() else "# Reproductions\n\nPapers' numbers beside ours.\n\n"
    if start in text and end in text:
        text = text[: text.index(start)] + body + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + "\n\n" + body + "\n"
    write_text(path, text)


def run(scale_name: str, outdir: Path, device: str, workers: int, lookbacks: tuple[int, ...]) -> dict[str, Any]:
    from timecontrast.viz.report import machine_summary

    scale = SCALES[scale_name]
    start = time.perf_counter()
    data = outdir / "data"
    synth_seconds = synthesise(scale, data, workers)
    print(f"data: {data} ({synth_seconds:.0f} s)", file=sys.stderr, flush=True)
    rows = {}
    for k in lookbacks:
        rows[str(k)] = train_and_probe(scale, k, data, outdir, device)
        print(f"lookback {k}: " + json.dumps(rows[str(k)]), file=sys.stderr, flush=True)
    return {
        **rows,  # "<lookback>": the row, as the JSON shape has it
        "episodes": [scale.train, scale.val],
        "length": scale.length,
        "fps": scale.fps,
        "frames": list(scale.frames),
        "steps": scale.steps,
        "probe_max_steps": scale.probe_steps,
        "synth_seconds": round(synth_seconds, 1),
        "wall_seconds": round(time.perf_counter() - start, 1),
        "machine": machine_summary(),
        "device": device,
        "date": time.strftime("%Y-%m-%d"),
        "scale": asdict(scale),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=list(SCALES), default="cpu")
    parser.add_argument("--quick", action="store_true", help="the smoke scale in a temporary folder (make bench)")
    parser.add_argument("--outdir", default=None, help="data and runs (default: runs/table1_<scale>)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--workers", type=int, default=0, help="tcn synth --workers (0: one per core)")
    parser.add_argument("--lookbacks", default=None, help="comma separated, e.g. 1,4 (default: the scale's)")
    parser.add_argument("--steps", type=int, default=None, help="training steps per lookback (default: the scale's)")
    args = parser.parse_args()
    scale_name = "smoke" if args.quick else args.scale
    if args.steps is not None:
        SCALES[scale_name] = replace(SCALES[scale_name], steps=args.steps)
    lookbacks = tuple(int(k) for k in args.lookbacks.split(",")) if args.lookbacks else SCALES[scale_name].lookbacks
    with contextlib.ExitStack() as stack:
        if args.quick:
            outdir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        else:
            outdir = Path(args.outdir or ROOT / "runs" / f"table1_{scale_name}")
        result = run(scale_name, outdir, args.device, args.workers, lookbacks)
    print(f"Table I at scale `{scale_name}` ({result['wall_seconds'] / 60:.1f} min, {os.cpu_count()} cores):")
    print()
    print(table(lookback_rows(result)))
    if scale_name != "smoke":  # smoke numbers mean nothing: they go nowhere
        from timecontrast.io.files import write_text

        results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
        results[scale_name] = result
        write_text(RESULTS, json.dumps(results, indent=1) + "\n")
        write_reproduction(REPRODUCTION, results)
        print(f"\nwrote {RESULTS.relative_to(ROOT)} and {REPRODUCTION.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
