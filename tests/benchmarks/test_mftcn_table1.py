"""benchmarks/mftcn_table1.py: the table beside the paper's, the results JSON shape, the docs section."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "mftcn_table1.py"


@pytest.fixture(scope="module")
def table1():
    spec = importlib.util.spec_from_file_location("mftcn_table1", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _result(table1, motion: dict[int, float]) -> dict:
    rows = {
        str(k): {**dict.fromkeys(table1.KEYS, 0.01), "motion": m, "steps": 100, "train_seconds": 1.0}
        for k, m in motion.items()
    }
    return {
        **rows,
        "episodes": [40, 8],
        "length": 500,
        "fps": 50.0,
        "frames": [20000, 4000],
        "steps": 100,
        "synth_seconds": 60.0,
        "wall_seconds": 600.0,
        "machine": "test machine",
        "date": "2026-12-02",
    }


def test_table_puts_the_papers_rows_beside_ours(table1):
    text = table1.table(table1.lookback_rows(_result(table1, {1: 0.4, 4: 0.1})))
    lines = text.splitlines()
    assert lines[0].startswith("| lookback | source | position MSE | motion MSE | x_cart")
    assert "| 1 | paper | 0.0052 | 0.2201 | 0.0045 | 0.0037 | 0.0072 | 0.3716 | 0.0686 |" in lines
    assert "| 4 | ours | 0.0100 | 0.1000 |" in text
    assert [line.split("|")[1].strip() for line in lines[2:]] == ["1", "1", "2", "4", "4"]  # by lookback


def test_reduction_and_the_docs_section_replace_only_their_part(table1, tmp_path):
    result = _result(table1, {1: 0.4, 2: 0.2, 4: 0.1})
    assert table1.reduction(table1.lookback_rows(result), "motion", 1, 4) == pytest.approx(0.75)
    doc = tmp_path / "reproduction.md"
    doc.write_text("# Reproductions\n\n## Pouring\n\nkept\n")
    table1.write_reproduction(doc, {"cpu": result})
    first = doc.read_text()
    assert "## Pouring\n\nkept" in first and "### Scale `cpu`" in first
    assert "Motion MSE falls by 75% from lookback 1 to 4" in first
    assert "20,000 and 4,000 frames" in first
    table1.write_reproduction(doc, {"cpu": _result(table1, {1: 0.5, 4: 0.25})})
    second = doc.read_text()
    assert second.count("mftcn_table1:start") == 1 and "falls by 50%" in second and "## Pouring" in second
