"""The multi-frame TCN paper's Table II on cart-pole swing-up: PPO on the state, noise, pixels and the TCN embedding.

Dwibedi et al. 2018 train PPO on cart-pole swing-up from different observations and report
the return. This runs the same comparison with the same env-step budget for every row,
through the commands a user runs (``tcn rl train``, ``tcn rl eval``):

- ``state``: the true state (position, cos/sin of the angle, velocities);
- ``position``: the true state without its velocities (not in the paper): what any single
  frame can show, so the ceiling of a single-frame observation for a policy without memory;
- ``random``: noise of the state's size (what PPO learns without information);
- ``pixels``: camera 0's 96x48 frames, the last 3 stacked, stable-baselines3's CNN policy;
- ``tcn_1frame``: the single-frame TCN (Table I's lookback 1) of camera 0's frame;
- ``tcn_<K>frames``: the multi-frame TCN with lookback K (the clip of the last K frames; the
  paper's K = 5, ``table1_lookback5.yaml``).

The TCNs are Table I's runs (``benchmarks/mftcn_table1.py``, ``runs/table1_<scale>/lookback<K>``),
trained first when they are not there. Each row is evaluated over ``--episodes`` episodes
(deterministic actions, seeds apart from training's). The script also measures env steps/s
of the embedding environment against the state environment (random actions, 8 environments):
the cost of rendering and embedding. It writes ``benchmarks/results/rl_cartpole.json``
and the Table II part of docs/reproduction.md.

    .venv/bin/python benchmarks/rl_cartpole.py --scale cpu                 # <= 90 min on 2 cores
    .venv/bin/python benchmarks/rl_cartpole.py --scale paper --device cuda
    .venv/bin/python benchmarks/rl_cartpole.py --quick                     # seconds: smoke test
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib.util
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "rl_cartpole.json"
REPRODUCTION = ROOT / "docs" / "reproduction.md"

# Dwibedi et al. 2018, Table II (cart-pole swing-up, PPO, mean return).
PAPER = {"state": 861, "random": 121, "pixels": 284, "tcn_1frame": 551, "tcn_5frames": 701}
ROW_NAMES = {
    "state": "true state",
    "position": "true position, no velocities (what one frame shows)",
    "random": "random state (noise)",
    "pixels": "pixels (3 stacked frames, CNN)",
    "tcn_1frame": "TCN embedding, 1 frame",
}


@dataclass(frozen=True)
class Scale:
    env_steps: int  # per row
    episodes: int  # evaluation episodes per row
    n_envs: int
    hyper: tuple[str, ...]  # PPO hyperparameters (tcn rl train --hyper)
    lookback: int  # the multi-frame TCN's
    table1: str  # benchmarks/mftcn_table1.py's scale for the TCNs
    max_episode_steps: int | None = None  # None: 10 s (500 frames at 50 fps)
    speed_steps: int = 200  # per environment, for the steps/s measurement
    # The CNN policy's updates cost far more CPU than the MLP's: fewer epochs per rollout for pixels.
    pixels_hyper: tuple[str, ...] = ("n_epochs=4",)


PPO = ("n_steps=256", "batch_size=256", "n_epochs=10", "learning_rate=0.0003", "gamma=0.99", "gae_lambda=0.95")
SCALES = {
    "smoke": Scale(256, 2, 2, ("n_steps=64", "batch_size=64", "n_epochs=2"), 2, "smoke", 40, 10),
    "cpu": Scale(200_000, 20, 8, PPO, 5, "cpu"),
    "paper": Scale(1_000_000, 20, 16, PPO, 5, "paper"),
}


@functools.cache
def _table1() -> Any:
    """benchmarks/mftcn_table1.py as a module (loaded once)."""
    spec = importlib.util.spec_from_file_location("mftcn_table1", ROOT / "benchmarks" / "mftcn_table1.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def tcn_runs(scale: Scale, outdir: Path, device: str) -> dict[int, Path]:
    """Table I's lookback-1 and lookback-K runs: reused when they hold a final checkpoint, else trained."""
    table1 = _table1()
    folder = outdir / "tcn" if scale.table1 == "smoke" else ROOT / "runs" / f"table1_{scale.table1}"
    lookbacks = (1, scale.lookback)
    final = table1.SCALES[scale.table1].steps
    missing = tuple(
        k for k in lookbacks if not (folder / f"lookback{k}" / "checkpoints" / f"ckpt-{final:09d}.pt").is_file()
    )
    if missing:
        print(f"training the TCNs of lookback {missing} ({folder})", file=sys.stderr, flush=True)
        table1.run(scale.table1, folder, device, 0, missing)
    return {k: folder / f"lookback{k}" for k in lookbacks}


def tcn(argv: list[str]) -> str:
    """Run a tcn command in this process; what it printed (exit on failure): Table I's runner."""
    return _table1().checked(argv)


def row_arguments(name: str, runs: dict[int, Path], scale: Scale) -> list[str]:
    """tcn rl train's observation options of one row."""
    if name in ("state", "position", "random"):
        return ["--obs", name]
    if name == "pixels":
        return ["--obs", "pixels", "--frame_stack", "3"]
    lookback = 1 if name == "tcn_1frame" else scale.lookback
    return ["--obs", "embedding", "--checkpointdir", str(runs[lookback])]


def hyperparameters(name: str, scale: Scale) -> list[str]:
    """The PPO hyperparameters of one row: the scale's, with the pixel row's changes."""
    items = dict(item.split("=", 1) for item in scale.hyper)
    if name == "pixels":
        items.update(item.split("=", 1) for item in scale.pixels_hyper)
    return [f"{k}={v}" for k, v in items.items()]


def train_and_evaluate(name: str, runs: dict[int, Path], scale: Scale, outdir: Path, device: str) -> dict[str, Any]:
    logdir = outdir / name
    argv = ["rl", "train", "--logdir", str(logdir), "--steps", str(scale.env_steps), "--n_envs", str(scale.n_envs),
            "--save_every", str(max(scale.env_steps // 4, 1)), "--device", device, "--seed", "0",
            *row_arguments(name, runs, scale)]  # fmt: skip
    if scale.max_episode_steps is not None:
        argv += ["--max_episode_steps", str(scale.max_episode_steps)]
    for item in hyperparameters(name, scale):
        argv += ["--hyper", item]
    start = time.perf_counter()
    tcn(argv)
    train_seconds = time.perf_counter() - start
    tcn(["rl", "eval", "--logdir", str(logdir), "--episodes", str(scale.episodes), "--device", device])
    result = json.loads((logdir / "rl_eval.json").read_text())
    return {
        "mean": round(result["mean"], 1),
        "std": round(result["std"], 1),
        "episodes": result["episodes"],
        "env_steps": result["env_steps"],
        "train_seconds": round(train_seconds, 1),
    }


def env_speed(runs: dict[int, Path], scale: Scale, device: str) -> dict[str, float]:
    """Env steps/s (8 environments, random actions) of the state and the embedding environments."""
    import numpy as np

    from timecontrast.rl.envs import make_vec_env

    rates = {}
    options = {"max_episode_steps": scale.max_episode_steps}
    cases = {
        "state": {"obs": "state"},
        "tcn_1frame": {"obs": "embedding", "embedder": str(runs[1]), "device": device},
        f"tcn_{scale.lookback}frames": {"obs": "embedding", "embedder": str(runs[scale.lookback]), "device": device},
    }
    for name, kwargs in cases.items():
        venv = make_vec_env(8, seed=0, world="cartpole", task="swingup", **options, **kwargs)
        rng = np.random.default_rng(0)
        venv.reset()
        start = time.perf_counter()
        for _ in range(scale.speed_steps):
            venv.step(rng.uniform(-1, 1, (8, 1)).astype(np.float32))
        rates[name] = round(8 * scale.speed_steps / (time.perf_counter() - start), 1)
        venv.close()
    return rates


def frames_of(key: str) -> int | None:
    """The frames a TCN row's model embeds (``tcn_1frame`` 1, ``tcn_<K>frames`` K); None for other rows."""
    if key == "tcn_1frame":
        return 1
    if key.startswith("tcn_") and key.endswith("frames") and key[4:-6].isdigit():
        return int(key[4:-6])
    return None


def ordered(rows: dict[str, Any]) -> list[tuple[str, Any]]:
    """The rows in the table's order: the named rows as ROW_NAMES lists them, then the TCNs by frames."""
    names = list(ROW_NAMES)
    return sorted(
        rows.items(), key=lambda kv: (names.index(kv[0]) if kv[0] in names else len(names), frames_of(kv[0]) or 0)
    )


def multi_frame_row(rows: dict[str, Any]) -> str | None:
    """The multi-frame row the targets are about: the paper's 5 frames, else the most frames."""
    multi = {k: frames_of(k) for k in rows if (frames_of(k) or 0) > 1}
    return "tcn_5frames" if "tcn_5frames" in multi else max(multi, key=lambda k: multi[k], default=None)


def table(result: dict[str, Any]) -> str:
    """Our rows beside the paper's."""
    lines = ["| observation | paper return | ours (mean ± std) | train minutes |", "|---|---:|---:|---:|"]
    for key, row in ordered(result["rows"]):
        frames = frames_of(key)
        paper_key = "tcn_5frames" if frames is not None and frames > 1 else key
        paper = PAPER.get(paper_key)
        label = ROW_NAMES.get(key) or f"TCN embedding, {frames} frames"
        if paper_key == "tcn_5frames" and frames != 5:
            label += " (paper: 5 frames)"
        lines.append(
            f"| {label} | {paper if paper is not None else '-'} | {row['mean']:.0f} ± {row['std']:.0f} | "
            f"{row['train_seconds'] / 60:.1f} |"
        )
    return "\n".join(lines)


def section(scale_name: str, result: dict[str, Any]) -> str:
    rows = result["rows"]
    speed = result["env_steps_per_second"]
    lines = [
        f"### Scale `{scale_name}`",
        "",
        f"Measured {result['date']} on {result['machine']}: {result['env_steps']:,} env steps per row "
        f"({result['n_envs']} environments, PPO `{' '.join(result['hyper'])}`; pixels "
        f"`{' '.join(result.get('pixels_hyper', []))}`), {result['episodes']} evaluation "
        f"episodes per row; wall time {result['wall_seconds'] / 60:.0f} min.",
        "",
    ]
    kept = result.get("kept_rows")
    if kept:
        lines += [
            f"That run measured {', '.join(k for k in rows if k not in kept)}; the rows "
            f"{', '.join(f'{k} ({when})' for k, when in kept.items())} are kept from an earlier run with the same "
            "settings (`--rows`).",
            "",
        ]
    lines += [
        table(result),
        "",
    ]
    state = rows.get("state", {}).get("mean")
    random = rows.get("random", {}).get("mean")
    multi_key = multi_frame_row(rows)
    multi = rows[multi_key]["mean"] if multi_key is not None else None
    if state and random is not None and multi is not None:
        lines.append(
            f"The multi-frame embedding ({frames_of(multi_key)} frames) reaches {multi / state:.2f} x the true "
            "state's return and "
            f"{multi / random if random > 0 else float('inf'):.1f} x the random state's."
        )
    base = speed.get("state")
    others = ", ".join(f"{k} {v:.0f} ({base / v:.1f}x slower)" for k, v in speed.items() if k != "state" and base and v)
    lines += ["", f"Env steps/s with random actions (8 environments): state {base:.0f}; {others}.", ""]
    return "\n".join(lines)


def write_reproduction(path: Path, results: dict[str, Any]) -> None:
    """Replace the Table II part of ``path`` (between its markers), keeping the rest."""
    start, end = "<!-- rl_cartpole:start -->", "<!-- rl_cartpole:end -->"
    body = "\n".join(
        [
            start,
            "## Multi-frame TCN, Table II: PPO on cart-pole swing-up from the embedding",
            "",
            "Dwibedi et al. 2018, Table II (return of PPO on cart-pole swing-up, 96x48 frames), beside our",
            "runs of `benchmarks/rl_cartpole.py` (`tcn rl train` / `tcn rl eval`; returns on dm_control's 0-1000",
            "scale, 10 s episodes). The paper's multi-frame row embeds 5 frames; rows of other lookbacks are marked.",
            "",
            *(section(name, results[name]) for name in ("cpu", "paper") if name in results),
            end,
        ]
    )
    _table1().replace_marked_section(path, start, end, body)


def run(scale_name: str, outdir: Path, device: str, rows: tuple[str, ...] | None = None) -> dict[str, Any]:
    from timecontrast.viz.report import machine_summary

    scale = SCALES[scale_name]
    start = time.perf_counter()
    runs = tcn_runs(scale, outdir, device)
    names = rows or ("state", "position", "random", "pixels", "tcn_1frame", f"tcn_{scale.lookback}frames")
    result_rows = {}
    for name in names:
        result_rows[name] = train_and_evaluate(name, runs, scale, outdir, device)
        print(f"{name}: {json.dumps(result_rows[name])}", file=sys.stderr, flush=True)
    return {
        "rows": result_rows,
        "env_steps": scale.env_steps,
        "episodes": scale.episodes,
        "n_envs": scale.n_envs,
        "hyper": list(scale.hyper),
        "pixels_hyper": list(scale.pixels_hyper),
        "env_steps_per_second": env_speed(runs, scale, device),
        "tcn_runs": {str(k): str(v) for k, v in runs.items()},
        "wall_seconds": round(time.perf_counter() - start, 1),
        "machine": machine_summary(),
        "device": device,
        "date": time.strftime("%Y-%m-%d"),
        "scale": asdict(scale),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=list(SCALES), default="cpu")
    parser.add_argument("--quick", action="store_true", help="the smoke scale in a temporary folder")
    parser.add_argument("--outdir", default=None, help="the RL runs (default: runs/rl_cartpole_<scale>)")
    parser.add_argument("--device", default="cpu", help="the TCN's device: cpu | cuda | cuda:N")
    parser.add_argument("--rows", default=None, help="comma separated, e.g. state,random (default: all)")
    parser.add_argument("--env_steps", type=int, default=None, help="env steps per row (default: the scale's)")
    args = parser.parse_args()
    scale_name = "smoke" if args.quick else args.scale
    if args.env_steps is not None:
        SCALES[scale_name] = replace(SCALES[scale_name], env_steps=args.env_steps)
    rows = tuple(args.rows.split(",")) if args.rows else None
    with contextlib.ExitStack() as stack:
        if args.quick:
            outdir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        else:
            outdir = Path(args.outdir or ROOT / "runs" / f"rl_cartpole_{scale_name}")
        result = run(scale_name, outdir, args.device, rows)
    print(f"Table II at scale `{scale_name}` ({result['wall_seconds'] / 60:.1f} min, {os.cpu_count()} cores):")
    print()
    print(table(result))
    print()
    print(f"env steps/s: {result['env_steps_per_second']}")
    if scale_name != "smoke":  # smoke numbers mean nothing: they go nowhere
        from timecontrast.io.files import write_text

        # The file holds the newest run at its top ({"rows": ..., "env_steps": ...}) and every scale's.
        old = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
        if rows:  # some rows again: the others stay as they were measured
            before = old.get("by_scale", {}).get(scale_name, {})
            kept = [k for k in before.get("rows", {}) if k not in result["rows"]]
            if kept:
                result = {
                    **result,
                    "rows": {**before["rows"], **result["rows"]},
                    "kept_rows": {k: before.get("kept_rows", {}).get(k, before.get("date")) for k in kept},
                }
        by_scale = {**old.get("by_scale", {}), scale_name: result}
        write_text(RESULTS, json.dumps({**result, "scale_name": scale_name, "by_scale": by_scale}, indent=1) + "\n")
        write_reproduction(REPRODUCTION, by_scale)
        print(f"\nwrote {RESULTS.relative_to(ROOT)} and {REPRODUCTION.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
