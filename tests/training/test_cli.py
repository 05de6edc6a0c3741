"""``tcn train`` and ``tcn eval`` end to end on the toy dataset."""

from __future__ import annotations

from timecontrast.cli.main import main
from timecontrast.config import FINAL_CONFIG_NAME
from timecontrast.models import list_checkpoints
from timecontrast.training.summaries import read_metrics

from .tiny import STRATEGY_OVERRIDES, tiny_overrides


def test_train_resume_and_eval(toy_dataset, tmp_path, capsys):
    logdir = tmp_path / "run"
    overrides = [*tiny_overrides(toy_dataset), *STRATEGY_OVERRIDES["mvtcn_npairs"]]
    assert main(["train", "--logdir", str(logdir), "--device", "cpu", *overrides]) == 0
    assert "trained steps 0..4" in capsys.readouterr().out
    assert (logdir / FINAL_CONFIG_NAME).is_file()
    # The logdir's final config alone resumes the run; an override trains further.
    assert main(["train", "--logdir", str(logdir), "learning.max_step=6"]) == 0
    assert "trained steps 4..6" in capsys.readouterr().out
    assert [s for s, _ in list_checkpoints(logdir)] == [2, 4, 6]

    assert main(["eval", "--logdir", str(logdir), "--timeout", "0"]) == 0
    out = capsys.readouterr().out
    assert "step 2: validation/npairs" in out and "step 6: validation/npairs" in out
    rows = read_metrics(logdir / "eval")
    assert [r["step"] for r in rows] == [2, 4, 6]
    assert all(r["validation/npairs"] > 0 and r["loss"] >= r["validation/npairs"] for r in rows)
    assert list((logdir / "eval").glob("events.out.tfevents.*"))
    # Evaluated checkpoints are not evaluated again.
    assert main(["eval", "--logdir", str(logdir), "--timeout", "0"]) == 0
    assert "no new checkpoint" in capsys.readouterr().out
    assert len(read_metrics(logdir / "eval")) == 3
    # Checkpoints bring their own weights: trunk weights the config names are not read
    # (a pretrained file that is gone, or a download, must not stop evaluation).
    missing = tmp_path / "gone.pt"
    assert main(["eval", "--logdir", str(logdir), "--once", f"small_conv.pretrained_checkpoint={missing}"]) == 0


def test_eval_once_never_waits_nor_creates_folders(toy_dataset, tmp_path, capsys):
    logdir = tmp_path / "run"
    overrides = [*tiny_overrides(toy_dataset), *STRATEGY_OVERRIDES["mvtcn_npairs"]]
    config = str(tmp_path / "run.yaml")
    assert main(["train", "--logdir", str(logdir), "--device", "cpu", *overrides, "learning.max_step=2"]) == 0
    (tmp_path / "run.yaml").write_text((logdir / FINAL_CONFIG_NAME).read_text())
    capsys.readouterr()
    misspelled = tmp_path / "rnu"
    assert main(["eval", "--logdir", str(misspelled), "--once", "--config_paths", config]) == 2
    assert f"'{misspelled / 'checkpoints'}': it does not exist" in capsys.readouterr().err
    assert not misspelled.exists()
    # The newest checkpoint unreadable: an error naming it, nothing evaluated.
    newest = list_checkpoints(logdir)[-1][1]
    newest.write_bytes(b"not a checkpoint")
    assert main(["eval", "--logdir", str(logdir), "--once"]) == 2
    assert newest.name in capsys.readouterr().err
    assert read_metrics(logdir / "eval") == []


def test_train_with_a_bad_config_exits_2_with_the_reason(toy_dataset, tmp_path, capsys):
    overrides = [*tiny_overrides(toy_dataset), "data.batch_size=6"]
    assert main(["train", "--logdir", str(tmp_path / "run"), *overrides]) == 2
    assert "data.batch_size (6) must be a multiple of data.examples_per_sequence (4)" in capsys.readouterr().err
