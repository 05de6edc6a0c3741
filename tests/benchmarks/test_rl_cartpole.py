"""benchmarks/rl_cartpole.py: the rows beside the paper's Table II, the docs section, the JSON shape."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "rl_cartpole.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("rl_cartpole", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _result(returns: dict[str, float]) -> dict:
    rows = {
        k: {"mean": v, "std": 10.0, "episodes": 20, "env_steps": 1000, "train_seconds": 120.0}
        for k, v in returns.items()
    }
    return {
        "rows": rows,
        "env_steps": 1000,
        "episodes": 20,
        "n_envs": 8,
        "hyper": ["n_steps=256"],
        "env_steps_per_second": {"state": 2000.0, "tcn_1frame": 400.0, "tcn_4frames": 250.0},
        "wall_seconds": 3600.0,
        "machine": "test machine",
        "date": "2026-12-02",
    }


def test_table_puts_the_papers_returns_beside_ours(bench):
    text = bench.table(_result({"state": 800.0, "random": 100.0, "tcn_1frame": 400.0, "tcn_4frames": 600.0}))
    lines = text.splitlines()
    assert lines[0] == "| observation | paper return | ours (mean ± std) | train minutes |"
    assert "| true state | 861 | 800 ± 10 | 2.0 |" in lines
    assert "| TCN embedding, 4 frames (paper: 5 frames) | 701 | 600 ± 10 | 2.0 |" in lines
    assert "| TCN embedding, 1 frame | 551 | 400 ± 10 | 2.0 |" in lines


def test_section_reports_the_ratios_and_replaces_only_its_part(bench, tmp_path):
    doc = tmp_path / "reproduction.md"
    doc.write_text("# Reproductions\n\n## Table I\n\nkept\n")
    bench.write_reproduction(doc, {"cpu": _result({"state": 800.0, "random": 100.0, "tcn_4frames": 600.0})})
    first = doc.read_text()
    assert "## Table I\n\nkept" in first and "### Scale `cpu`" in first
    assert "reaches 0.75 x the true state's return and 6.0 x the random state's" in first
    assert "state 2000; tcn_1frame 400 (5.0x slower), tcn_4frames 250 (8.0x slower)" in first
    bench.write_reproduction(doc, {"cpu": _result({"state": 800.0, "random": 100.0, "tcn_4frames": 400.0})})
    second = doc.read_text()
    assert second.count("rl_cartpole:start") == 1 and "reaches 0.50 x" in second and "## Table I" in second


def test_rows_observe_what_their_names_say(bench, tmp_path):
    runs = {1: tmp_path / "lookback1", 5: tmp_path / "lookback5"}
    scale = bench.SCALES["cpu"]
    assert scale.lookback == 5  # the paper's multi-frame row
    assert bench.row_arguments("random", runs, scale) == ["--obs", "random"]
    assert bench.row_arguments("position", runs, scale) == ["--obs", "position"]
    assert bench.row_arguments("pixels", runs, scale) == ["--obs", "pixels", "--frame_stack", "3"]
    assert bench.row_arguments("tcn_1frame", runs, scale)[-1] == str(runs[1])
    assert bench.row_arguments("tcn_5frames", runs, scale)[-1] == str(runs[5])


def test_only_the_pixel_row_changes_the_hyperparameters(bench):
    scale = bench.SCALES["cpu"]
    assert bench.hyperparameters("state", scale) == list(scale.hyper)
    pixels = dict(item.split("=") for item in bench.hyperparameters("pixels", scale))
    assert pixels["n_epochs"] == "4" and pixels["n_steps"] == "256"


def test_rows_come_in_the_tables_order_and_the_targets_use_the_papers_five_frames(bench):
    rows = {key: {} for key in ["tcn_5frames", "random", "tcn_4frames", "position", "state", "tcn_1frame", "pixels"]}
    assert [k for k, _ in bench.ordered(rows)] == [
        "state", "position", "random", "pixels", "tcn_1frame", "tcn_4frames", "tcn_5frames"
    ]  # fmt: skip
    assert bench.multi_frame_row(rows) == "tcn_5frames"
    assert bench.multi_frame_row({"tcn_1frame": {}, "tcn_2frames": {}, "tcn_3frames": {}}) == "tcn_3frames"
    assert bench.multi_frame_row({"state": {}, "tcn_1frame": {}}) is None
    text = bench.table(_result({"state": 800.0, "tcn_4frames": 300.0, "tcn_5frames": 600.0, "position": 200.0}))
    assert "| TCN embedding, 5 frames | 701 | 600 ± 10 | 2.0 |" in text  # no "(paper: 5 frames)" on the paper's own
    assert "| true position, no velocities (what one frame shows) | - | 200 ± 10 | 2.0 |" in text


def test_a_run_of_some_rows_keeps_the_others_and_says_so(bench, tmp_path, monkeypatch):
    results, doc = tmp_path / "rl_cartpole.json", tmp_path / "reproduction.md"
    monkeypatch.setattr(bench, "RESULTS", results)
    monkeypatch.setattr(bench, "REPRODUCTION", doc)
    monkeypatch.setattr(bench, "ROOT", tmp_path)
    first = {**_result({"state": 800.0, "random": 100.0, "tcn_5frames": 300.0}), "date": "2026-11-30"}
    second = {**_result({"tcn_5frames": 600.0, "position": 200.0}), "date": "2026-12-02"}
    runs = iter([first, second])
    monkeypatch.setattr(bench, "run", lambda *args: next(runs))
    monkeypatch.setattr(sys, "argv", ["rl_cartpole.py", "--scale", "cpu"])
    assert bench.main() == 0
    monkeypatch.setattr(sys, "argv", ["rl_cartpole.py", "--scale", "cpu", "--rows", "tcn_5frames,position"])
    assert bench.main() == 0
    import json

    saved = json.loads(results.read_text())
    assert {k: v["mean"] for k, v in saved["rows"].items()} == {
        "state": 800.0, "random": 100.0, "tcn_5frames": 600.0, "position": 200.0
    }  # fmt: skip
    assert saved["kept_rows"] == {"state": "2026-11-30", "random": "2026-11-30"}
    text = doc.read_text()
    assert "That run measured tcn_5frames, position; the rows state (2026-11-30), random (2026-11-30) are kept" in text
    assert "reaches 0.75 x the true state's return" in text
