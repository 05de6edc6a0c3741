"""The evaluation loop and the tcn align / labeled-eval / probe commands on a toy dataset."""

from __future__ import annotations

import json
import logging
import re
import threading

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from timecontrast.cli.main import main
from timecontrast.config import config_to_dict, load_config, save_config
from timecontrast.data.state import SequenceState, save_state
from timecontrast.evaluation.runner import evaluate_checkpoints
from timecontrast.models import build_embedder, save_checkpoint
from timecontrast.progress import progress_interval_set
from toy_data import make_toy_dataset

SMALL = [
    "embedder_strategy=small_conv",
    "data.height=32",
    "data.width=32",
    "small_conv.channels=[8,16]",
    "small_conv.fc_hidden_sizes=[16]",
    "embedding_size=8",
    "data.embed_batch_size=32",
    "val.recall_at_k_list=[1,2]",
]


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    """A toy dataset with state sidecars and a logdir with checkpoints at steps 2 and 4."""
    root = make_toy_dataset(tmp_path_factory.mktemp("evaltoy"), {"train": 3, "val": 2}, length=16, seed=1)
    for split in ("train", "val"):
        for f in sorted((root / split).glob("*.toystate.npz")):
            d = np.load(f)
            name = f.name.split(".")[0]
            (root / split / "state").mkdir(exist_ok=True)
            save_state(
                root / split / "state" / f"{name}.npz", SequenceState(d["position"], d["velocity"], ["x"], ["vx"])
            )
    cfg = load_config(
        None,
        None,
        [
            *SMALL,
            f"data.training={root}/train/records",
            f"data.validation={root}/val/records",
            f"data.labeled.validation={root}/val/labeled",
        ],
    )
    logdir = root / "run"
    save_config(cfg, logdir)
    for step, seed in ((2, 0), (4, 1)):
        torch.manual_seed(seed)
        model = build_embedder(cfg)
        state = {"model": model.state_dict(), "optimizer": None, "grad_scaler": {}, "step": step, "rng": None}
        save_checkpoint(logdir, {**state, "config": config_to_dict(cfg)})
    return logdir, cfg


class _Count:
    def __init__(self, value: float) -> None:
        self.value = value

    def scalars(self) -> dict[str, float]:
        return {"validation/count": self.value}

    def to_dict(self) -> dict:
        return {"value": self.value}


def test_watch_evaluates_each_checkpoint_once_across_restarts(toy_run, tmp_path, caplog):
    logdir, _ = toy_run
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoints").mkdir()
    for step in (2, 4):  # reuse the module's checkpoints
        name = f"ckpt-{step:09d}.pt"
        (run / "checkpoints" / name).write_bytes((logdir / "checkpoints" / name).read_bytes())
    (run / "checkpoints" / ".ckpt-000000008.pt.abc.tmp").write_bytes(b"partial")
    calls: list[int] = []

    def evaluate(embedder):
        calls.append(embedder.step)
        return _Count(float(embedder.step))

    def later():  # a new checkpoint appears while watching
        state = torch.load(logdir / "checkpoints" / "ckpt-000000004.pt", weights_only=True)
        save_checkpoint(run, state | {"step": 6})

    timer = threading.Timer(0.5, later)
    timer.start()
    caplog.set_level(logging.INFO, logger="timecontrast.evaluation")
    try:
        with progress_interval_set(0.2):  # the log says what it evaluates, and what it waits for
            evaluate_checkpoints("count", evaluate, run, tmp_path / "out", interval_secs=0.05, timeout_secs=2.0)
    finally:
        timer.cancel()
    assert calls == [2, 4, 6]
    assert f"count: evaluating step 6 ({run / 'checkpoints' / 'ckpt-000000006.pt'})" in caplog.messages
    assert any(re.fullmatch(r"count: step 6 evaluated in \d+s: validation/count 6", m) for m in caplog.messages)
    waiting = [m for m in caplog.messages if m.startswith("count: waiting for a new checkpoint")]
    assert (
        waiting and "(the newest, step 6, is evaluated;" in waiting[-1] and "stops after 2s without one" in waiting[-1]
    )
    # A restart evaluates nothing again: the steps are in the results file.
    evaluate_checkpoints("count", evaluate, run, tmp_path / "out", interval_secs=0.05, timeout_secs=0.0)
    assert calls == [2, 4, 6]
    results = json.loads((tmp_path / "out" / "count.json").read_text())
    assert list(results["checkpoints"]) == ["2", "4", "6"]
    acc = EventAccumulator(str(tmp_path / "out" / "count_summaries"))
    acc.Reload()
    assert [(e.step, e.value) for e in acc.Scalars("validation/count")] == [(2, 2.0), (4, 4.0), (6, 6.0)]


def test_tcn_align_once_with_baseline(toy_run, capsys):
    logdir, _ = toy_run
    out = logdir.parent / "align_out"
    assert main(["align", "--checkpointdir", str(logdir), "--once", "--baseline", "--outdir", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "view 1 -> 0" in printed and "untrained" in printed
    results = json.loads((out / "alignment.json").read_text())
    entry = results["checkpoints"]["4"]
    assert 0.0 <= entry["scalars"]["validation/alignment"] <= 1.0
    assert set(entry["result"]["pairs"]) == {"0->1", "1->0"}
    assert "validation/alignment" in results["baselines"]["untrained"]["scalars"]
    assert "not available" in results["baselines"]["pretrained_trunk"]["note"]  # small_conv: no ImageNet weights
    acc = EventAccumulator(str(out / "alignment_summaries" / "baseline_untrained"))
    acc.Reload()
    assert [e.step for e in acc.Scalars("validation/alignment")] == [4]


def test_tcn_labeled_eval_one_checkpoint(toy_run, capsys):
    logdir, _ = toy_run
    out = logdir.parent / "labeled_out"
    assert main(["labeled-eval", "--checkpointdir", str(logdir), "--checkpoint_iter", "2", "--outdir", str(out)]) == 0
    assert "average error@top2" in capsys.readouterr().out
    scalars = json.loads((out / "labeled_eval.json").read_text())["checkpoints"]["2"]["scalars"]
    for tag in ("side error@top1", "moving_right error@top2", "average error@top1"):
        assert 0.0 <= scalars[f"validation/classification/{tag}"] <= 1.0
    for k in (1, 2):  # the average is over the attributes
        errors = [scalars[f"validation/classification/{attr} error@top{k}"] for attr in ("side", "moving_right")]
        assert scalars[f"validation/classification/average error@top{k}"] == pytest.approx(sum(errors) / 2)


def test_labeled_eval_test_mode_keeps_validation_results(toy_run, tmp_path, capsys):
    logdir, cfg = toy_run
    out = tmp_path / "labeled_out"
    labeled = cfg.data.labeled.validation
    common = ["--checkpointdir", str(logdir), "--outdir", str(out), f"data.labeled.test={labeled}"]
    assert main(["labeled-eval", *common, "--checkpoint_iter", "2"]) == 0
    validation = (out / "labeled_eval.json").read_text()
    # Watching in test mode: the checkpoints scored on validation are still scored on test.
    assert main(["labeled-eval", *common, "--mode", "test", "--timeout", "0", "--interval", "0"]) == 0
    capsys.readouterr()
    assert (out / "labeled_eval.json").read_text() == validation
    test = json.loads((out / "labeled_eval_test.json").read_text())
    assert sorted(test["checkpoints"]) == ["2", "4"]
    assert "test/classification/average error@top1" in test["checkpoints"]["2"]["scalars"]
    acc = EventAccumulator(str(out / "labeled_eval_test_summaries"))
    acc.Reload()
    assert [e.step for e in acc.Scalars("test/classification/average error@top1")] == [2, 4]
    assert not [
        t for t in EventAccumulator(str(out / "labeled_eval_summaries")).Reload().Tags()["scalars"] if "test" in t
    ]


@pytest.mark.parametrize("command", ["align", "labeled-eval", "probe"])
def test_once_without_checkpoints_exits_2_at_once(toy_run, tmp_path, capsys, command):
    logdir, _ = toy_run
    config = str(logdir / "final_training_config.yaml")
    empty = tmp_path / "run"
    (empty / "checkpoints").mkdir(parents=True)
    for folder, says in ((tmp_path / "misspelled", "does not exist"), (empty, "is empty")):
        argv = [command, "--checkpointdir", str(folder), "--once", "--config_paths", config]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert str(folder) in err and says in err
    assert not (tmp_path / "misspelled").exists()


def test_tcn_probe_and_errors(toy_run, tmp_path, capsys):
    logdir, _ = toy_run
    out = logdir.parent / "probe_out"
    argv = [
        "probe",
        "--checkpointdir",
        str(logdir),
        "--checkpoint_iter",
        "4",
        "--outdir",
        str(out),
        "--probes",
        "linear",
    ]
    assert main(argv) == 0
    assert "linear velocity mse" in capsys.readouterr().out
    entry = json.loads((out / "probe.json").read_text())["checkpoints"]["4"]
    # Fitted on the 3 training sequences, scored on the 2 validation ones: 15 samples
    # (t >= 1 of 16 frames) per view of each, 2 views.
    assert (entry["result"]["num_train_samples"], entry["result"]["num_test_samples"]) == (90, 60)
    # The square's position is plain in the frames and even this untrained network keeps it
    # (0.20 measured): well below 1.0, the error of predicting the training mean, which is
    # what states not matched to their frames give (1.01 with the validation states swapped).
    assert entry["scalars"]["validation/probe/linear position mse"] < 0.5
    # Records without state, a missing step, a missing config: exit status 2 with a message.
    bare = tmp_path / "bare" / "records"  # no ../state beside it
    bare.mkdir(parents=True)
    for f in (logdir.parent / "val" / "records").iterdir():
        (bare / f.name).write_bytes(f.read_bytes())
    assert main([*argv, f"data.validation={bare}"]) == 2
    assert "has no state" in capsys.readouterr().err
    assert main(["align", "--checkpointdir", str(logdir), "--checkpoint_iter", "3"]) == 2
    assert "no checkpoint of step 3" in capsys.readouterr().err
    assert main(["align", "--checkpointdir", str(tmp_path)]) == 2
    assert "--config_paths" in capsys.readouterr().err
