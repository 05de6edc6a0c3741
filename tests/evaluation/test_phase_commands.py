"""tcn kendall / cycle / phases / progression / phase-eval and sequence_metrics on a toy dataset."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from timecontrast.cli.main import main
from timecontrast.config import config_to_dict, load_config, save_config
from timecontrast.data import layout
from timecontrast.data.records import open_sequences
from timecontrast.data.state import SequenceState, save_state
from timecontrast.evaluation.sequence_metrics import (
    SequenceMetricsOptions,
    metrics_of_embeddings,
    sequence_metrics,
)
from timecontrast.inference import Embedder
from timecontrast.models import build_embedder, save_checkpoint
from toy_data import SMALL_EMBEDDER, make_toy_dataset

LENGTH = 16


def _phase(length: int) -> np.ndarray:
    return np.minimum(np.arange(length) * 3 // length, 2)  # 0 | 1 | 2, in order


def _write_states(root, labels: bool = True) -> None:
    """State sidecars (with a ``phase`` and a ``side`` label) from the toy trajectories."""
    for split in ("train", "val"):
        for f in sorted((root / split).glob("*.toystate.npz")):
            d = np.load(f)
            name = f.name.split(".")[0]
            x = d["position"][:, 0]
            lab = {"phase": _phase(len(x)), "side": (x > 0).astype(np.int64)} if labels else {}
            save_state(
                layout.state_path(root, split, name), SequenceState(d["position"], d["velocity"], ["x"], ["vx"], lab)
            )


def _run(root, name: str, num_views: int = 2):
    cfg = load_config(
        None,
        None,
        [
            *SMALL_EMBEDDER,
            "data.embed_batch_size=32",
            f"data.num_views={num_views}",
            f"data.training={layout.records_dir(root, 'train')}",
            f"data.validation={layout.records_dir(root, 'val')}",
        ],
    )
    logdir = root / name
    save_config(cfg, logdir)
    torch.manual_seed(0)
    model = build_embedder(cfg)
    state = {"model": model.state_dict(), "optimizer": None, "grad_scaler": {}, "step": 3, "rng": None}
    save_checkpoint(logdir, {**state, "config": config_to_dict(cfg)})
    return logdir


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    root = make_toy_dataset(tmp_path_factory.mktemp("phases"), {"train": 4, "val": 3}, length=LENGTH, seed=2)
    _write_states(root)
    return root, _run(root, "run"), _run(root, "run1", num_views=1)


def _error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


def test_phase_eval_once_with_baseline_writes_every_metric(labelled, tmp_path, capsys):
    _, logdir, _ = labelled
    out = tmp_path / "eval"
    argv = ["phase-eval", "--checkpointdir", str(logdir), "--once", "--baseline", "--outdir", str(out)]
    assert main([*argv, "--shots", "1,2,9", "--draws", "3"]) == 0
    printed = capsys.readouterr().out
    assert "Kendall's tau across sequences" in printed and "phase: few-shot accuracy, k=2" in printed
    data = json.loads((out / "phase_eval.json").read_text())
    entry = data["checkpoints"]["3"]
    scalars, result = entry["scalars"], entry["result"]
    for key in (
        "validation/kendall_tau/across sequences",
        "validation/kendall_tau/across views",
        "validation/cycle_consistency/3-way within 1",
        "validation/phase_classification/phase accuracy 10%",
        "validation/phase_classification/phase accuracy 100%",
        "validation/few_shot/phase accuracy k=2",
        "validation/phase_progression/phase r2",
    ):
        assert key in scalars, key
    assert "validation/few_shot/phase accuracy k=9" not in scalars  # more than the 4 training sequences
    assert -1 <= scalars["validation/kendall_tau/across sequences"] <= 1
    assert 0 <= scalars["validation/phase_classification/phase accuracy 100%"] <= 1
    assert result["phase_classification"]["10%"]["num_sequences"] == 1  # at least one sequence
    assert result["phase_classification"]["50%"]["num_sequences"] == 2
    assert len(result["few_shot"]["1"]["accuracies"]) == 3
    assert result["kendall_tau"]["sequences"]["num_pairs"] == 6 and result["cycle_consistency"]["num_triples"] == 6
    assert set(data["baselines"]["untrained"]["scalars"]) == set(scalars)
    assert (out / "phase_eval_summaries" / "baseline_untrained").is_dir()


def test_single_metric_commands_write_their_own_files(labelled, tmp_path, capsys):
    _, logdir, _ = labelled
    common = ["--checkpointdir", str(logdir), "--once", "--outdir", str(tmp_path)]
    assert main(["kendall", *common, "--across", "sequences", "--stride", "2"]) == 0
    assert main(["cycle", *common]) == 0
    assert main(["phases", *common, "--label", "side", "--fractions", "0.5,1", "--shots", "1", "--draws", "2"]) == 0
    assert main(["progression", *common]) == 0
    capsys.readouterr()
    scalars = {
        name: json.loads((tmp_path / f"{name}.json").read_text())["checkpoints"]["3"]["scalars"]
        for name in ("kendall", "cycle", "phases_side", "progression")
    }
    assert list(scalars["kendall"]) == ["validation/kendall_tau/across sequences"]
    assert len(scalars["cycle"]) == 4
    assert sorted(scalars["phases_side"]) == [
        "validation/few_shot/side accuracy k=1",
        "validation/phase_classification/side accuracy 100%",
        "validation/phase_classification/side accuracy 50%",
    ]
    assert list(scalars["progression"]) == [
        "validation/phase_progression/phase r2",
        "validation/phase_progression/phase within-phase r2",
    ]


def test_library_function_embeds_each_sequence_once(labelled, monkeypatch):
    root, logdir, _ = labelled
    embedder = Embedder.from_checkpoint(logdir)
    calls = []
    original = embedder.embed_sequence
    monkeypatch.setattr(
        embedder, "embed_sequence", lambda seq, views=None: calls.append(seq.name) or original(seq, views)
    )
    train, val = open_sequences(layout.records_dir(root, "train")), open_sequences(layout.records_dir(root, "val"))
    result = sequence_metrics(embedder, train, val, SequenceMetricsOptions(shots=(1,), draws=2))
    assert sorted(calls) == sorted(s.name for s in train + val)
    assert set(result.kendall) == {"sequences", "views"} and result.progression is not None


def test_metrics_of_known_embeddings():
    """Every sequence the same path, phases in order along it: every metric at its best."""
    t = np.linspace(0, 1, 30)
    emb = np.stack([t, t**2], 1)  # [T, D]
    labels = np.minimum((t * 3).astype(int), 2)
    val = [emb + 1e-4 * k for k in range(3)]
    both = [np.stack([e, e + 1e-5]) for e in val]  # [V, T, D]
    # Phase progress is not linear in (t, t^2); append it so that the regression can be exact.
    from timecontrast.evaluation.phases import phase_progress

    with_progress = [np.concatenate([e, phase_progress(labels)[:, None]], 1) for e in val]
    r = metrics_of_embeddings(
        with_progress,
        SequenceMetricsOptions(shots=(1, 2), draws=2),
        [labels] * 3,
        with_progress[:2],
        [labels] * 2,
        val_all_views=both,
    )
    s = r.scalars()
    assert s["validation/kendall_tau/across sequences"] == pytest.approx(1.0)
    assert s["validation/kendall_tau/across views"] == pytest.approx(1.0)
    assert s["validation/cycle_consistency/2-way"] == 1.0 and s["validation/cycle_consistency/3-way"] == 1.0
    assert s["validation/phase_classification/phase accuracy 100%"] == 1.0
    assert s["validation/few_shot/phase accuracy k=2"] == 1.0
    assert s["validation/phase_progression/phase r2"] > 0.99  # TCC's targets are linear in t
    assert s["validation/phase_progression/phase within-phase r2"] > 0.99


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["phases", "--label", "nope"], "has no label 'nope'; its labels: phase, side (choose one with --label)"),
        (["progression", "--label", "nope"], "its labels: phase, side"),
        (["kendall", "--num_sequences", "1"], "Kendall's tau across sequences needs at least 2 validation sequences"),
        (["cycle", "--num_sequences", "1"], "cycle consistency needs at least 2 validation sequences"),
        (["kendall", "--view", "2"], "--view 2: the data has 2 view(s)"),
        (["phases", "--fractions", "0.5,x"], "--fractions '0.5,x'"),
        (["phases", "--shots", "0"], "--shots '0'"),
    ],
)
def test_user_mistakes_exit_2_with_one_line(labelled, tmp_path, capsys, argv, message):
    _, logdir, _ = labelled
    assert main([*argv, "--checkpointdir", str(logdir), "--once", "--outdir", str(tmp_path)]) == 2
    assert message in _error(capsys)
    assert not (tmp_path / "kendall.json").exists()


def test_single_view_data_refuses_tau_across_views_and_takes_sequences_by_default(labelled, tmp_path, capsys):
    _, _, single = labelled
    common = ["--checkpointdir", str(single), "--once", "--outdir", str(tmp_path)]
    assert main(["kendall", *common, "--across", "views"]) == 2
    assert "Kendall's tau across views needs 2 views; the data has 1" in _error(capsys)
    assert main(["kendall", *common]) == 0
    data = json.loads((tmp_path / "kendall.json").read_text())
    assert list(data["checkpoints"]["3"]["scalars"]) == ["validation/kendall_tau/across sequences"]


def test_data_without_labels_exits_2(tmp_path, capsys):
    root = make_toy_dataset(tmp_path / "nolabels", {"train": 2, "val": 2}, length=8, seed=3)
    _write_states(root, labels=False)
    logdir = _run(root, "run")
    assert main(["phases", "--checkpointdir", str(logdir), "--once"]) == 2
    assert "has no per-frame labels" in _error(capsys)
    # Kendall's tau needs no labels.
    assert main(["kendall", "--checkpointdir", str(logdir), "--once"]) == 0


def test_help_describes_every_flag(capsys):
    with pytest.raises(SystemExit):
        main(["phase-eval", "--help"])
    text = capsys.readouterr().out
    for flag in ("--label", "--view", "--across", "--stride", "--max_triples", "--fractions", "--shots", "--draws",
                 "--svm_c", "--baseline", "--once", "--checkpoint_iter"):  # fmt: skip
        assert flag in text
    assert "tcn phase-eval --checkpointdir runs/demo --once --baseline --label pole_up" in text


def test_the_commands_metric_names_are_the_librarys():
    from timecontrast.cli import phase_eval
    from timecontrast.evaluation import sequence_metrics

    assert phase_eval.ALL == sequence_metrics.METRICS and set(sequence_metrics.LABELLED) == phase_eval.LABELLED
