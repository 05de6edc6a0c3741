"""The mfTCN paper's probe: recovers an encoded cart-pole state, fails on noise, names the
variables as Table I does, is seeded, and runs through ``tcn probe --protocol paper``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from timecontrast.cli.main import main
from timecontrast.config import config_to_dict, load_config, save_config
from timecontrast.data.state import SequenceState, save_state
from timecontrast.evaluation.paper_probe import PAPER_KEYS, fit_paper_probe, variable_keys
from timecontrast.evaluation.probe import periodic_targets, probe_dataset
from timecontrast.models import build_embedder, save_checkpoint
from toy_data import SMALL_EMBEDDER, make_toy_dataset

POSITION_NAMES = ["slider", "hinge_1 (cos)", "hinge_1 (sin)"]  # what periodic_targets makes of a cart-pole state
VELOCITY_NAMES = ["slider", "hinge_1"]
FAST = {"batch_size": 64, "max_steps": 600, "eval_interval": 100, "patience": 3}  # the 3x256 MLP, briefly


def _cartpole_sequences(n: int, rng: np.random.Generator, encode: bool, camera: np.ndarray, length: int = 40):
    """Per sequence (embeddings [1, T, 16], position [T, 3], velocity [T, 2]): a swinging,
    spinning pole on a moving cart. Encoded embeddings are a fixed linear map of
    [x, sin th, cos th, xdot, thdot] plus tiny noise; otherwise pure noise."""
    out = []
    t = np.arange(length) / 20.0  # seconds at 20 fps
    for _ in range(n):
        a, w, phase = rng.uniform(0.5, 2.0), rng.uniform(1.0, 3.0), rng.uniform(0, 2 * np.pi)
        x, xdot = a * np.sin(w * t + phase), a * w * np.cos(w * t + phase)
        th0, spin, swing = rng.uniform(-np.pi, np.pi), rng.uniform(-4, 4), rng.uniform(0.5, 2.5)
        th = th0 + spin * t + np.sin(swing * t)
        thdot = spin + swing * np.cos(swing * t)
        position, names = periodic_targets(np.stack([x, th], 1), ["slider", "hinge_1"], ["hinge_1"])
        assert names == POSITION_NAMES
        state = np.stack([x, np.sin(th), np.cos(th), xdot, thdot], 1)  # [T, 5]
        if encode:
            emb = state @ camera + 1e-3 * rng.normal(size=(length, camera.shape[1]))
        else:
            emb = rng.normal(size=(length, camera.shape[1]))
        out.append((emb[None], position, np.stack([xdot, thdot], 1)))
    return out


@pytest.fixture(scope="module")
def cartpole_data():
    rng = np.random.default_rng(0)
    camera = rng.normal(size=(5, 16))
    return {
        "encoded": (
            probe_dataset(_cartpole_sequences(40, rng, True, camera)),
            probe_dataset(_cartpole_sequences(10, rng, True, camera)),
        ),
        # Many short sequences: the targets' variance is estimated closely, so that an
        # error near 1 is the probe's doing, not the test split's.
        "noise": (
            probe_dataset(_cartpole_sequences(2000, rng, False, camera, length=3)),
            probe_dataset(_cartpole_sequences(1000, rng, False, camera, length=3)),
        ),
    }


def test_an_encoded_state_is_recovered_and_noise_is_not(cartpole_data):
    train, test = cartpole_data["encoded"]
    res = fit_paper_probe(train, test, "cpu", 0, POSITION_NAMES, VELOCITY_NAMES, **FAST)
    assert set(res.errors) == {"position", "motion", *PAPER_KEYS}
    for key in PAPER_KEYS:
        assert res.errors[key] < 0.05, (key, res.errors)
    assert res.errors["position"] == pytest.approx(np.mean([res.errors[k] for k in PAPER_KEYS[:3]]))
    assert res.errors["motion"] == pytest.approx(np.mean([res.errors[k] for k in PAPER_KEYS[3:]]))
    # Early stopping holds out whole training sequences (39 samples each), 10% of 40.
    assert res.num_validation == 4 * 39 and res.num_train == 36 * 39 and res.num_test == 10 * 39
    assert res.settings["hidden_sizes"] == [256, 256, 256] and res.settings["learning_rate"] == 1e-3

    noise = fit_paper_probe(
        *cartpole_data["noise"], "cpu", 0, POSITION_NAMES, VELOCITY_NAMES, **{**FAST, "eval_interval": 25}
    )
    for key in PAPER_KEYS:
        assert 0.8 < noise.errors[key] < 1.3, (key, noise.errors)


def test_cartpole_variables_carry_the_papers_names():
    assert variable_keys(POSITION_NAMES, VELOCITY_NAMES) == (
        ["x_cart", "cos_theta", "sin_theta"],
        ["xdot_cart", "thetadot"],
    )
    # Another world (or a cart-pole state without its hinge as an angle) keeps generic names.
    assert variable_keys(["slider", "hinge_1"], VELOCITY_NAMES) == (
        ["position slider", "position hinge_1"],
        ["velocity slider", "velocity hinge_1"],
    )
    assert variable_keys(["rootx", "rootz"], ["rootx"]) == (["position rootx", "position rootz"], ["velocity rootx"])


def test_result_keys_reach_the_json_and_the_scalars(cartpole_data):
    train, test = cartpole_data["encoded"]
    res = fit_paper_probe(train, test, None, 0, POSITION_NAMES, VELOCITY_NAMES, **{**FAST, "max_steps": 5})
    assert res.steps == 5 and res.device == "cpu"
    d = json.loads(json.dumps(res.to_dict()))
    assert d["protocol"] == "paper"
    assert list(d["errors"]) == ["position", "motion", "x_cart", "cos_theta", "sin_theta", "xdot_cart", "thetadot"]
    assert d["variables"] == {"position": ["x_cart", "cos_theta", "sin_theta"], "motion": ["xdot_cart", "thetadot"]}
    scalars = res.scalars()
    assert scalars["validation/probe/paper thetadot mse"] == res.errors["thetadot"]
    assert scalars["validation/probe/paper motion mse"] == res.errors["motion"]
    generic = fit_paper_probe(train, test, "cpu", 0, **{**FAST, "max_steps": 2})  # no names given
    assert list(generic.errors)[2:] == [f"position [{i}]" for i in range(3)] + ["velocity [0]", "velocity [1]"]


def test_the_same_seed_gives_the_same_result(cartpole_data):
    train, test = cartpole_data["encoded"]
    short = {**FAST, "max_steps": 60, "eval_interval": 20}
    first = fit_paper_probe(train, test, "cpu", 3, POSITION_NAMES, VELOCITY_NAMES, **short)
    again = fit_paper_probe(train, test, "cpu", 3, POSITION_NAMES, VELOCITY_NAMES, **short)
    other = fit_paper_probe(train, test, "cpu", 4, POSITION_NAMES, VELOCITY_NAMES, **short)
    assert first.errors == again.errors and first.best_step == again.best_step
    assert first.errors != other.errors


def test_train_and_test_must_match(cartpole_data):
    from timecontrast.errors import DataError

    train, _ = cartpole_data["encoded"]
    other = probe_dataset([(np.zeros((1, 5, 3)), np.zeros((5, 3)), np.zeros((5, 2)))])
    with pytest.raises(DataError, match="differ in size"):
        fit_paper_probe(train, other, "cpu", 0, max_steps=1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_trains_on_the_gpu(cartpole_data):
    train, test = cartpole_data["encoded"]
    res = fit_paper_probe(train, test, "cuda", 0, POSITION_NAMES, VELOCITY_NAMES, **FAST)
    assert res.device.startswith("cuda")
    assert max(res.errors[k] for k in PAPER_KEYS) < 0.05


# ----------------------------------------------------------------------------- tcn probe
SMALL = [*SMALL_EMBEDDER, "data.embed_batch_size=32"]


@pytest.fixture(scope="module")
def cartpole_run(tmp_path_factory):
    """A toy dataset whose state files are named as tcn synth's cart-pole's, and a logdir
    with a checkpoint at step 2."""
    root = make_toy_dataset(tmp_path_factory.mktemp("paperprobe"), {"train": 3, "val": 2}, length=16, seed=2)
    for split in ("train", "val"):
        for f in sorted((root / split).glob("*.toystate.npz")):
            d = np.load(f)
            x, v = d["position"][:, 0], d["velocity"][:, 0]
            th = np.cumsum(3 * v)  # a winding angle
            state = SequenceState(
                np.stack([x, th], 1), np.stack([v, 3 * v], 1), ["slider", "hinge_1"], VELOCITY_NAMES, angles=["hinge_1"]
            )
            save_state(root / split / "state" / f"{f.name.split('.')[0]}.npz", state)
    cfg = load_config(
        None, None, [*SMALL, f"data.training={root}/train/records", f"data.validation={root}/val/records"]
    )
    logdir = root / "run"
    save_config(cfg, logdir)
    torch.manual_seed(0)
    model = build_embedder(cfg)
    state = {"model": model.state_dict(), "optimizer": None, "grad_scaler": {}, "step": 2, "rng": None}
    save_checkpoint(logdir, {**state, "config": config_to_dict(cfg)})
    return logdir


def test_tcn_probe_paper_writes_the_tables_keys(cartpole_run, capsys):
    out = cartpole_run.parent / "probe_out"
    argv = ["probe", "--checkpointdir", str(cartpole_run), "--once", "--outdir", str(out), "--protocol", "paper"]
    assert main([*argv, "--max_steps", "10", "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "paper protocol" in printed and "thetadot" in printed and "motion mse" in printed
    entry = json.loads((out / "probe_paper.json").read_text())["checkpoints"]["2"]
    assert set(entry["result"]["errors"]) == {"position", "motion", *PAPER_KEYS}
    assert entry["result"]["steps"] == 10 and entry["result"]["device"] == "cpu"
    for key in ("position", "motion", *PAPER_KEYS):
        assert entry["scalars"][f"validation/probe/paper {key} mse"] == entry["result"]["errors"][key]
    assert (out / "probe_paper_summaries").is_dir()
    assert not (out / "probe.json").exists()  # the project protocol's results stay apart
    # Flags of the other protocol are mistakes: exit 2 with a message.
    assert main([*argv, "--probes", "linear"]) == 2
    assert "--probes" in capsys.readouterr().err
    assert main([*argv[:-2], "--max_steps", "10"]) == 2
    assert "--max_steps is for --protocol paper" in capsys.readouterr().err


def test_tcn_probe_inputs_current_fits_on_the_embedding_alone_into_its_own_file(cartpole_run, capsys):
    out = cartpole_run.parent / "probe_current_out"
    argv = ["probe", "--checkpointdir", str(cartpole_run), "--once", "--outdir", str(out), "--protocol", "paper"]
    assert main([*argv, "--inputs", "current", "--max_steps", "10", "--device", "cpu"]) == 0
    capsys.readouterr()
    current = json.loads((out / "probe_paper_current.json").read_text())["checkpoints"]["2"]["result"]
    assert set(current["errors"]) == {"position", "motion", *PAPER_KEYS}
    assert not (out / "probe_paper.json").exists()  # the paper's inputs' results stay apart
    assert (
        main(["probe", "--checkpointdir", str(cartpole_run), "--once", "--outdir", str(out), "--inputs", "current"])
        == 0
    )
    assert (out / "probe_current.json").is_file()
    with pytest.raises(SystemExit) as exit_info:  # argparse: one of change, current
        main([*argv, "--inputs", "both"])
    assert exit_info.value.code == 2 and "change" in capsys.readouterr().err
