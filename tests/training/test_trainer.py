"""The training loop: each strategy, learning, exact resume, checkpoints, NaN stop, bad configs."""

from __future__ import annotations

import logging
import random
import re

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from timecontrast.config import FINAL_CONFIG_NAME, load_config
from timecontrast.errors import ConfigError, DataError, TrainingError
from timecontrast.models import build_embedder, list_checkpoints, load_checkpoint
from timecontrast.training import build_metric_loss, build_optimizer, train, validation_batches, validation_loss
from timecontrast.training import trainer as trainer_module
from timecontrast.training.summaries import read_metrics


def steps_of(logdir) -> list[int]:
    return [step for step, _ in list_checkpoints(logdir / "checkpoints")]


def assert_same_tensors(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], dict):
            assert_same_tensors(a[key], b[key])
        elif isinstance(a[key], torch.Tensor):
            assert torch.equal(a[key], b[key]), key
        else:
            assert a[key] == b[key], key


@pytest.mark.parametrize(
    ("strategy", "tag"),
    [("mvtcn", "triplet_semihard"), ("mvtcn_npairs", "npairs"), ("svtcn", "svtcn_loss"), ("mftcn", "triplet_semihard")],
)
def test_each_strategy_trains_logs_and_checkpoints(make_config, tmp_path, strategy, tag):
    cfg = make_config(strategy)
    result = train(cfg, tmp_path)
    assert result.step == 4 and result.start_step == 0
    assert steps_of(tmp_path) == [2, 4]
    rows = read_metrics(tmp_path)
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert all(r[f"training/{tag}"] is not None and r["loss"] >= r[f"training/{tag}"] for r in rows)
    assert load_config(str(tmp_path / FINAL_CONFIG_NAME)) == cfg
    torch.manual_seed(cfg.seed)
    initial = build_embedder(cfg).state_dict()
    trained = load_checkpoint(tmp_path / "checkpoints" / "ckpt-000000004.pt")["model"]
    changed = [k for k in initial if initial[k].is_floating_point() and not torch.equal(initial[k], trained[k])]
    assert len(changed) > len(initial) // 2


@pytest.mark.parametrize(("strategy", "ratio"), [("mvtcn", 0.6), ("mvtcn_npairs", 0.9)])
def test_loss_decreases_on_an_easy_case(make_config, toy_dataset, tmp_path, strategy, ratio):
    # Fit the training sequences; measure on fixed batches of them, in eval mode.
    train_records = toy_dataset / "train" / "records"
    cfg = make_config(
        strategy,
        "learning.max_step=40",
        "learning.learning_rate=0.003",
        "data.augmentation.color=false",
        f"data.validation={train_records}",
        "val.num_eval_samples=64",
    )
    torch.manual_seed(cfg.seed)
    untrained = build_embedder(cfg)
    batches, metric_loss = validation_batches(cfg, untrained), build_metric_loss(cfg)
    before = validation_loss(untrained, batches, metric_loss)["loss"]
    after = validation_loss(train(cfg, tmp_path).model, batches, metric_loss)["loss"]
    assert after < ratio * before


def test_resume_after_a_kill_matches_an_uninterrupted_run(make_config, tmp_path):
    # Dropout, scale and colour augmentation on: every random draw must resume exactly.
    extra = [
        "small_conv.dropout.keep_fc=0.7",
        "data.augmentation.minscale=0.8",
        "data.augmentation.maxscale=1.5",
        "logging.checkpoint.save_checkpoints_steps=3",
    ]
    whole = train(make_config("mvtcn", "learning.max_step=6", *extra), tmp_path / "whole")
    assert whole.step == 6

    run = tmp_path / "killed"
    train(make_config("mvtcn", "learning.max_step=4", *extra), run)
    ckpts = run / "checkpoints"
    # Killed while writing checkpoint 5: a temporary file, and a truncated final name.
    (ckpts / "ckpt-000000004.pt").unlink()
    (ckpts / ".ckpt-000000005.pt.x1y2.tmp").write_bytes(b"partial")
    data = (ckpts / "ckpt-000000003.pt").read_bytes()
    (ckpts / "ckpt-000000005.pt").write_bytes(data[: len(data) // 2])

    # Resumed with data workers this time: the batch stream does not depend on them.
    resumed = train(make_config("mvtcn", "learning.max_step=6", "data.num_workers=2", *extra), run)
    assert (resumed.start_step, resumed.step) == (3, 6)
    assert (ckpts / "ckpt-000000005.pt.corrupt").is_file()  # set aside, never loaded again
    assert steps_of(run) == [3, 6]
    a = load_checkpoint(tmp_path / "whole" / "checkpoints" / "ckpt-000000006.pt")
    b = load_checkpoint(ckpts / "ckpt-000000006.pt")
    assert_same_tensors(a["model"], b["model"])
    assert_same_tensors(a["optimizer"]["state"], b["optimizer"]["state"])
    assert [r["step"] for r in read_metrics(run)] == [1, 2, 3, 4, 5, 6]  # the killed run's step 4 replaced

    again = train(make_config("mvtcn", "learning.max_step=6", *extra), run)  # nothing left to do
    assert (again.start_step, again.step) == (6, 6)


def test_a_checkpoint_holds_the_random_state_and_resuming_continues_it(make_config, tmp_path):
    """The random state of step b is (seed, rank, b): a checkpoint keeps the seed, resuming
    checks it, and neither the global RNGs at resume time nor the older checkpoint layout
    (grad scaler inside ``scheduler``, a torch RNG state in ``rng``) change the result."""
    extra = ["small_conv.dropout.keep_fc=0.7", "data.augmentation.maxscale=1.5"]
    whole = tmp_path / "whole"
    train(make_config("mvtcn", *extra), whole)  # 4 steps, checkpoints at 2 and 4
    run = tmp_path / "run"
    train(make_config("mvtcn", "learning.max_step=2", *extra), run)
    state = load_checkpoint(run / "checkpoints" / "ckpt-000000002.pt")
    assert sorted(state) == ["config", "grad_scaler", "model", "optimizer", "rng", "step"]
    assert state["rng"] == {"scheme": "per_step", "seed": 0} and state["grad_scaler"] == {}  # no AMP on CPU

    # An older-layout copy of the same checkpoint, resumed beside it.
    old = tmp_path / "old" / "checkpoints"
    old.mkdir(parents=True)
    schedule = {"kind": "staircase_exponential_decay", "learning_rate": 0.01, "decay_steps": 10000, "decay_factor": 1}
    legacy = {k: v for k, v in state.items() if k != "grad_scaler"} | {"scheduler": {**schedule, "grad_scaler": {}}}
    legacy["rng"] = {"scheme": "per_step", "seed": 0, "next_batch": 2, "torch": torch.get_rng_state()}
    torch.save(legacy, old / "ckpt-000000002.pt")

    with pytest.raises(ConfigError, match=r"seed is 1 but the run in .*run was trained with seed 0 .*seed=0"):
        train(make_config("mvtcn", "seed=1", *extra), run)
    assert steps_of(run) == [2]  # refused before any step
    torch.manual_seed(1234)  # the global RNGs at resume time do not matter
    np.random.seed(1234)
    random.seed(1234)
    for resumed_dir in (run, old.parent):
        resumed = train(make_config("mvtcn", *extra), resumed_dir)
        assert (resumed.start_step, resumed.step) == (2, 4)
        a = load_checkpoint(whole / "checkpoints" / "ckpt-000000004.pt")
        b = load_checkpoint(resumed_dir / "checkpoints" / "ckpt-000000004.pt")
        assert_same_tensors(a["model"], b["model"])
        assert_same_tensors(a["optimizer"]["state"], b["optimizer"]["state"])
        assert b["rng"] == {"scheme": "per_step", "seed": 0} and "scheduler" not in b


def test_resume_restores_the_amp_grad_scaler_from_either_layout(make_config, tmp_path):
    """float16 AMP needs a GPU, so the trainer's scaler is disabled on CPU; a CPU GradScaler
    shows what resuming restores (the scale and growth tracker an AMP run had reached)."""
    cfg = make_config("mvtcn", "learning.max_step=2")
    train(cfg, tmp_path / "run")
    ckpts = tmp_path / "run" / "checkpoints"
    state = load_checkpoint(ckpts / "ckpt-000000002.pt")
    reached = torch.amp.GradScaler("cpu", init_scale=2.0**10, growth_interval=7).state_dict() | {"_growth_tracker": 3}
    layouts = {
        "current": state | {"grad_scaler": reached},
        "older": {k: v for k, v in state.items() if k != "grad_scaler"} | {"scheduler": {"grad_scaler": reached}},
    }
    for name, saved in layouts.items():
        folder = tmp_path / name
        folder.mkdir()
        torch.save(saved, folder / "ckpt-000000002.pt")
        model = build_embedder(cfg)
        optimizer = build_optimizer(cfg.learning.optimizer, model.parameters(), cfg.learning.learning_rate)
        scaler = torch.amp.GradScaler("cpu")
        step, path = trainer_module._restore(folder, model, optimizer, scaler, 0, is_main=True)
        assert (step, path) == (2, folder / "ckpt-000000002.pt")
        assert scaler.state_dict() == reached, name
        assert_same_tensors(model.state_dict(), state["model"])


def test_a_nan_loss_stops_training_naming_the_step_and_keeps_the_last_good_checkpoint(
    make_config, tmp_path, monkeypatch
):
    real = trainer_module.build_metric_loss
    calls = {"n": 0}

    def nan_on_third_step(cfg):
        loss = real(cfg)

        def poisoned(embeddings, batch):
            calls["n"] += 1
            value = loss(embeddings, batch)
            return value * float("nan") if calls["n"] == 3 else value

        poisoned.tag = loss.tag
        return poisoned

    monkeypatch.setattr(trainer_module, "build_metric_loss", nan_on_third_step)
    with pytest.raises(TrainingError, match=r"nan at step 3.*ckpt-000000002\.pt"):
        train(make_config("mvtcn", "learning.max_step=6"), tmp_path)
    assert steps_of(tmp_path) == [2]
    assert [r["step"] for r in read_metrics(tmp_path)] == [1, 2]


@pytest.mark.parametrize(
    ("overrides", "error", "match"),
    [
        (["data.batch_size=6"], ConfigError, "batch_size .*multiple of data.examples_per_sequence"),
        (["data.training=/no/such/dir"], DataError, "data.training.*/no/such/dir"),
        (["data.training="], ConfigError, "data.training is empty"),
        (["data.num_views=3"], DataError, "has 2 views.*num_views"),
        (["data.batch_size=64", "data.examples_per_sequence=64", "mvtcn.window=100"], DataError, "frames"),
        (["training_strategy=mftcn"], ConfigError, "multi_frame"),
        (["learning.max_step=-1"], ConfigError, "learning.max_step"),
    ],
)
def test_a_wrong_config_fails_before_training(make_config, tmp_path, overrides, error, match):
    with pytest.raises(error, match=match):
        train(make_config("mvtcn", *overrides), tmp_path / "run")
    assert not (tmp_path / "run" / FINAL_CONFIG_NAME).exists()
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_an_unknown_strategy_fails_before_training(make_config, tmp_path):
    cfg = make_config("mvtcn")
    cfg.training_strategy = "xvtcn"  # past load_config's own check
    with pytest.raises(ConfigError, match="training_strategy is 'xvtcn'.*mvtcn"):
        train(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_num_to_keep_keeps_the_newest_checkpoints(make_config, tmp_path):
    cfg = make_config("mvtcn", "logging.checkpoint.save_checkpoints_steps=1", "logging.checkpoint.num_to_keep=2")
    train(cfg, tmp_path)
    assert steps_of(tmp_path) == [3, 4]


def test_learning_rate_decays_in_steps(make_config, tmp_path):
    cfg = make_config(
        "mvtcn",
        "learning.max_step=5",
        "learning.learning_rate=0.01",
        "learning.decay_steps=2",
        "learning.decay_factor=0.5",
    )
    train(cfg, tmp_path)
    assert [r["learning_rate"] for r in read_metrics(tmp_path)] == pytest.approx([0.01, 0.01, 0.005, 0.005, 0.0025])


def test_gradient_clipping_and_l2_settings_change_training(make_config, tmp_path):
    def moved(*overrides: str) -> tuple[float, float]:
        cfg = make_config("mvtcn", "learning.optimizer=momentum", "learning.learning_rate=0.1", *overrides)
        torch.manual_seed(cfg.seed)
        start = dict(build_embedder(cfg).named_parameters())  # parameters only: BN statistics move anyway
        logdir = tmp_path / str(len(list(tmp_path.iterdir())))
        end = dict(train(cfg, logdir).model.named_parameters())
        distance = sum(float((end[k] - start[k]).detach().norm()) for k in start)
        first = read_metrics(logdir)[0]
        return distance, first["loss"] - first["training/triplet_semihard"]

    free, reg_default = moved()
    clipped, _ = moved("learning.grad_clip_norm=1e-6")
    _, reg_big = moved("learning.l2_reg_weight=0.01")
    _, reg_none = moved("learning.l2_reg_weight=0")
    assert clipped < 0.01 * free
    assert reg_none == 0 and reg_big > 1000 * reg_default > 0


def test_amp_on_cpu_is_ignored_with_a_warning_and_channels_last_applies(make_config, tmp_path, caplog):
    cfg = make_config("mvtcn", "runtime.amp=bf16", "runtime.channels_last=true", "learning.max_step=2")
    with caplog.at_level(logging.WARNING):
        result = train(cfg, tmp_path, device="cpu")
    assert "needs a GPU" in caplog.text
    assert all(p.dtype == torch.float32 for p in result.model.parameters())
    conv_weights = [p for p in result.model.parameters() if p.dim() == 4]
    assert conv_weights and all(w.is_contiguous(memory_format=torch.channels_last) for w in conv_weights)


def test_tensorboard_scalars_and_image_summaries_use_the_original_tags(make_config, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train(make_config("mvtcn_npairs", "logging.summary.image_summaries=true", "learning.max_step=2"), tmp_path)
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    tags = events.Tags()
    assert {"loss", "training/npairs", "learning_rate", "global_step/sec", "images/sec"} <= set(tags["scalars"])
    assert "training/mvtcn_pairs" in tags["images"]
    image = events.Images("training/mvtcn_pairs")[-1]
    assert (image.width, image.height) == (2 * 32, 4 * 32)  # anchor | positive, one row per pair


def test_validation_loss_uses_eval_mode_and_fixed_batches(make_config):
    cfg = make_config("mvtcn", "small_conv.dropout.keep_fc=0.5")
    torch.manual_seed(0)
    model = build_embedder(cfg).train()
    batches, metric_loss = validation_batches(cfg, model), build_metric_loss(cfg)
    assert len(batches) == 2  # val.num_eval_samples 16 / data.batch_size 8
    first = validation_loss(model, batches, metric_loss, l2_reg_weight=0.5)
    assert model.training  # restored
    assert validation_loss(model, batches, metric_loss, l2_reg_weight=0.5) == first  # no dropout, same batches
    assert set(first) == {"validation/triplet_semihard", "loss"}
    assert first["loss"] > first["validation/triplet_semihard"]
    cfg_with_nothing = OmegaConf.merge(cfg, {"data": {"validation": ""}})
    with pytest.raises(ConfigError, match="data.validation"):
        validation_batches(cfg_with_nothing, model)


def test_resume_does_not_read_the_trunk_weights_again(make_config, tmp_path):
    """The first run starts from a pretrained trunk file; resuming needs only the checkpoint,
    so it works where that file (or a download) is not available."""
    weights = tmp_path / "trunk.pt"
    cfg = make_config("mvtcn", "learning.max_step=2", "logging.checkpoint.save_checkpoints_steps=2")
    torch.save(build_embedder(cfg).state_dict(), weights)
    run = tmp_path / "run"
    with_weights = ["learning.max_step=2", "logging.checkpoint.save_checkpoints_steps=2"]
    first = train(make_config("mvtcn", *with_weights, f"small_conv.pretrained_checkpoint={weights}"), run)
    assert first.step == 2
    weights.unlink()
    resumed = train(
        make_config(
            "mvtcn",
            "learning.max_step=4",
            "logging.checkpoint.save_checkpoints_steps=2",
            f"small_conv.pretrained_checkpoint={weights}",
        ),
        run,
    )
    assert (resumed.start_step, resumed.step) == (2, 4)

    # Every checkpoint unreadable: a clear error (not a silent start without the trunk
    # weights); the next run starts from step 0 and reads them.
    for _, path in list_checkpoints(run / "checkpoints"):
        path.write_bytes(b"broken")
    again = make_config("mvtcn", "learning.max_step=4", f"small_conv.pretrained_checkpoint={weights}")
    with pytest.raises(TrainingError, match="could be read.*run the same command again"):
        train(again, run)
    from timecontrast.errors import CheckpointError

    with pytest.raises(CheckpointError, match="trunk.pt' does not exist"):  # now it needs the file
        train(again, run)


def test_off_a_terminal_progress_lines_and_progress_json_follow_the_run(make_config, tmp_path, caplog, monkeypatch):
    """Off a terminal a line per interval (here every step) with step, rate, ETA, loss and last
    checkpoint, and progress.json (finished, at the final step); a finished run keeps its file."""
    import io
    import json

    from timecontrast.progress import progress_interval_set

    monkeypatch.setattr("sys.stderr", io.StringIO())  # not a terminal, also under pytest -s
    caplog.set_level(logging.INFO, logger="timecontrast.training.trainer")
    with progress_interval_set(1e-9):
        result = train(make_config("mvtcn"), tmp_path)
    lines = [m for m in caplog.messages if m.startswith("train: ")]
    number = r"[0-9.]+"
    assert len(lines) == 5
    for step, line in enumerate(lines[:4], start=1):
        checkpoint = "none" if step < 3 else "ckpt-000000002.pt"  # the step's checkpoint is saved after its line
        assert re.fullmatch(
            rf"train: {step}/4 steps \({step * 25}%\), {number} steps/s, {number} images/s, ETA \d+s; "
            rf"loss {number}, last checkpoint {checkpoint}",
            line,
        ), line
    assert re.fullmatch(
        rf"train: finished 4/4 steps in \d+s, {number} steps/s, {number} images/s; loss {result.loss:.4g}, "
        "last checkpoint ckpt-000000004.pt",
        lines[4],
    )
    progress = json.loads((tmp_path / "progress.json").read_text())
    assert (progress["step"], progress["final_step"], progress["state"], progress["finished"]) == (
        4,
        4,
        "finished",
        True,
    )
    assert progress["loss"] == result.loss and progress["last_checkpoint"] == str(result.checkpoint)
    assert progress["steps_per_sec"] > 0 and progress["images_per_sec"] > 0 and progress["eta_seconds"] == 0

    before = (tmp_path / "progress.json").read_text()
    train(make_config("mvtcn"), tmp_path)  # already at max_step: nothing trained, nothing rewritten
    assert (tmp_path / "progress.json").read_text() == before


def test_a_run_that_stops_says_so_in_progress_json(make_config, tmp_path, monkeypatch):
    import json

    real = trainer_module._save

    def disk_full(*args, **kwargs):
        if args[5] == 4:  # the checkpoint of step 4
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(trainer_module, "_save", disk_full)
    with pytest.raises(OSError, match="No space"):
        train(make_config("mvtcn", "learning.max_step=6"), tmp_path)
    progress = json.loads((tmp_path / "progress.json").read_text())
    assert (progress["step"], progress["final_step"], progress["state"], progress["finished"]) == (
        4,
        6,
        "stopped",
        False,
    )
    assert progress["last_checkpoint"].endswith("ckpt-000000002.pt")
