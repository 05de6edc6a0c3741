"""tcn reward end to end, on a tiny small_conv checkpoint and toy records / videos made here."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from timecontrast.cli.main import main
from timecontrast.config import load_config
from timecontrast.data import layout
from timecontrast.data.records import open_sequences, write_sequence_record
from timecontrast.data.state import SequenceState, save_state
from timecontrast.inference import Embedder
from timecontrast.io.jpeg import encode_jpeg
from timecontrast.io.video import write_video
from timecontrast.rl.reward_report import CARTPOLE_TRUE_REWARD
from timecontrast.rl.rewards import imitation_reward, squared_distances
from toy_data import MULTI_FRAME_EMBEDDER, SMALL_EMBEDDER, save_tiny_checkpoint

SMALL = [*SMALL_EMBEDDER, "data.embed_batch_size=16", "runtime.device=cpu"]
MULTI = [*MULTI_FRAME_EMBEDDER, "data.embed_batch_size=16", "runtime.device=cpu"]


def _checkpoint(logdir, overrides):
    save_tiny_checkpoint(logdir, load_config(None, None, overrides), step=3, seed=0)
    return logdir


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return _checkpoint(tmp_path_factory.mktemp("run"), SMALL)


def _frame(theta: float, view: int) -> np.ndarray:
    """A 32x32 picture of a pole at angle ``theta`` (0 = up), each view in its own colours."""
    img = np.full((32, 32, 3), 40 + 120 * view, np.uint8)
    for r in np.linspace(0.0, 12.0, 25):
        y, x = int(round(16 - r * np.cos(theta))), int(round(16 + r * np.sin(theta)))
        img[max(y - 1, 0) : y + 2, max(x - 1, 0) : x + 2] = (230, 60 + 50 * view, 40)
    return img


def _angles(length: int, phase: float) -> np.ndarray:
    return np.pi * (1.0 - np.linspace(0.0, 1.0, length)) + phase  # hanging -> up: a swing-up


@pytest.fixture(scope="module")
def cartpole_data(tmp_path_factory):
    """DIR/val/{records,state,videos} of 3 two-view 'swing-ups' (demo 20 frames, episodes 16 and 20)."""
    root = tmp_path_factory.mktemp("cartpole")
    for k, (length, phase) in enumerate([(20, 0.0), (16, 0.1), (20, -0.15)]):
        name = f"cartpole_{k:04d}"
        theta = _angles(length, phase)
        views = [[_frame(float(a), v) for a in theta] for v in range(2)]
        write_sequence_record(
            layout.record_path(root, "val", name), name, [[encode_jpeg(f) for f in frames] for frames in views]
        )
        for v in range(2):
            path = layout.video_path(root, "val", name, v)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_video(path, np.stack(views[v]), fps=10.0)
        position = np.stack([np.linspace(-0.5, 0.5, length), theta], 1)
        velocity = np.stack([np.zeros(length), np.gradient(theta)], 1)
        state = SequenceState(position, velocity, ["slider", "hinge_1"], ["slider", "hinge_1"], fps=10.0)
        save_state(layout.state_path(root, "val", name), state)
    return root / "val"


def _reward(argv, tmp_path, name="out"):
    out = tmp_path / name
    return main(["reward", *argv, "--outdir", str(out)]), out


def test_reward_of_records_against_a_demo_record(run_dir, cartpole_data, tmp_path, capsys):
    records = cartpole_data / "records"
    demo = records / "cartpole_0000.tfrecord"
    rc, out = _reward(["--checkpointdir", str(run_dir), "--demo", str(demo), "--episodes", str(records)], tmp_path)
    assert rc == 0
    result = json.loads((out / "reward.json").read_text())
    assert (out / "reward.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result["demo"] == {"name": "cartpole_0000", "source": str(demo), "view": 0, "length": 20}
    assert result["step"] == 3 and result["align"] == "frame"
    assert (result["alpha"], result["beta"], result["gamma"]) == (0.5, 0.5, 0.001)
    # the demo itself is not scored
    episodes = {e["name"]: e for e in result["episodes"]}
    assert sorted(episodes) == ["cartpole_0001", "cartpole_0002"]
    for e in episodes.values():
        assert e["length"] == len(e["reward"]) == len(e["true_reward"])
        assert e["mean"] == pytest.approx(np.mean(e["reward"]))
        assert e["spearman"] is None or -1.0 <= e["spearman"] <= 1.0
    assert episodes["cartpole_0001"]["length"] == 16
    assert result["true_reward"] == CARTPOLE_TRUE_REWARD
    assert isinstance(result["spearman_overall"], float)

    # the numbers are the formula on the Embedder's embeddings (view 0, frame t against demo frame t)
    embedder = Embedder.from_checkpoint(run_dir, device="cpu")
    demo_emb = embedder.embed_sequence(open_sequences(demo)[0], [0])[0]
    ep = open_sequences(records / "cartpole_0001.tfrecord")[0]
    ep_emb = embedder.embed_sequence(ep, [0])[0]
    want = imitation_reward(squared_distances(ep_emb, demo_emb[:16]))
    np.testing.assert_allclose(episodes["cartpole_0001"]["reward"], want, rtol=1e-5, atol=1e-6)
    # the true reward: dm_control's swing-up reward of the state (here the pole rises: it grows)
    assert episodes["cartpole_0001"]["true_reward"][-1] > episodes["cartpole_0001"]["true_reward"][0]

    printed = capsys.readouterr().out
    assert "spearman" in printed and "cartpole_0002" in printed and "the demo itself" in printed


def test_reward_of_videos_and_multi_frame_model(cartpole_data, tmp_path):
    run = _checkpoint(tmp_path / "mf", MULTI)
    videos = cartpole_data / "videos"
    demo = videos / "cartpole_0002_view1.mp4"  # a single video file: one view, whatever --view says
    argv = ["--checkpointdir", str(run), "--demo", str(demo), "--episodes", str(videos), "--view", "1"]
    rc, out = _reward(argv, tmp_path)
    assert rc == 0
    result = json.loads((out / "reward.json").read_text())
    assert result["frames_per_clip"] == 3
    assert result["demo"]["name"] == "cartpole_0002" and result["demo"]["view"] == 0
    # the folder holds <seq>_view<k> groups: 3 two-view sequences, view 1 of each (the demo's file is one of them)
    assert [e["name"] for e in result["episodes"]] == ["cartpole_0000", "cartpole_0001", "cartpole_0002"]
    same = result["episodes"][2]
    assert same["mean"] == pytest.approx(float(imitation_reward(0.0)), abs=1e-4)  # the demo's own frames
    assert all("spearman" in e for e in result["episodes"])  # state found beside videos/


def test_episode_longer_than_the_demo(run_dir, cartpole_data, tmp_path, capsys):
    records = cartpole_data / "records"
    argv = ["--checkpointdir", str(run_dir), "--demo", str(records / "cartpole_0001.tfrecord")]
    argv += ["--episodes", str(records / "cartpole_0002.tfrecord")]
    rc, out = _reward(argv, tmp_path)
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "'cartpole_0002' has 20 frames but the demo 'cartpole_0001' only 16" in err and "--align time" in err
    assert not out.exists()  # checked before anything is embedded or written

    rc, out = _reward([*argv, "--align", "time"], tmp_path, "stretched")
    assert rc == 0
    result = json.loads((out / "reward.json").read_text())
    assert result["align"] == "time" and result["episodes"][0]["length"] == 20


@pytest.mark.parametrize(
    "case, expected",
    [
        ("missing_demo", "--demo: "),
        ("missing_episodes", "--episodes: "),
        ("several_demos", "holds 3 sequences"),
        ("bad_view", "no view 5; choose another --view"),
        ("bad_checkpoint", "checkpoint"),
        ("bad_alpha", "--alpha must be a finite number >= 0"),
    ],
)
def test_errors_are_one_line(case, expected, run_dir, cartpole_data, tmp_path, capsys):
    records = cartpole_data / "records"
    demo = str(records / "cartpole_0000.tfrecord")
    ok = ["--checkpointdir", str(run_dir), "--demo", demo, "--episodes", str(records)]
    argv = {
        "missing_demo": ["--checkpointdir", str(run_dir), "--demo", str(tmp_path / "nope.tfrecord"), *ok[4:]],
        "missing_episodes": [*ok[:4], "--episodes", str(tmp_path / "nothing_here")],
        "several_demos": ["--checkpointdir", str(run_dir), "--demo", str(records), "--episodes", str(records)],
        "bad_view": [*ok, "--view", "5"],
        "bad_checkpoint": ["--checkpointdir", str(tmp_path / "no_run"), *ok[2:]],
        "bad_alpha": [*ok, "--alpha", "-1"],
    }[case]
    rc, _ = _reward(argv, tmp_path)
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("tcn reward: error:"), err
    assert expected in err


def test_demo_sequence_picks_one_of_several(run_dir, cartpole_data, tmp_path):
    records = cartpole_data / "records"
    copy = tmp_path / "records"
    shutil.copytree(records, copy)
    argv = ["--checkpointdir", str(run_dir), "--demo", str(copy), "--demo_sequence", "cartpole_0002"]
    rc, out = _reward([*argv, "--episodes", str(records / "cartpole_0000.tfrecord")], tmp_path)
    assert rc == 0
    result = json.loads((out / "reward.json").read_text())
    assert result["demo"]["name"] == "cartpole_0002" and [e["name"] for e in result["episodes"]] == ["cartpole_0000"]
