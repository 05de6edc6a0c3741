"""tcn rl train / tcn rl eval: a tiny PPO run that saves, resumes and evaluates; the errors."""

from __future__ import annotations

import json
import sys

import pytest

pytest.importorskip("gymnasium")
pytest.importorskip("stable_baselines3")

from timecontrast.cli.main import main
from timecontrast.rl.runs import list_policy_checkpoints

TINY = ["--n_envs", "2", "--max_episode_steps", "40", "--hyper", "n_steps=64", "--hyper", "batch_size=64"]


def _train(logdir, steps, *extra):
    return main(["rl", "train", "--logdir", str(logdir), "--steps", str(steps), "--save_every", "128", *TINY, *extra])


def test_train_saves_resumes_and_evaluates(tmp_path, capsys):
    logdir = tmp_path / "ppo"
    assert _train(logdir, 256) == 0
    assert [s for s, _ in list_policy_checkpoints(logdir)] == [128, 256]
    # VecNormalize's statistics are saved beside each policy, and a resumed run starts from them.
    assert sorted(p.name for p in (logdir / "checkpoints").glob("normalize-*.pkl")) == [
        "normalize-000000128.pkl",
        "normalize-000000256.pkl",
    ]
    settings = json.loads((logdir / "rl_run.json").read_text())
    assert settings["obs"] == "state" and settings["algo"] == "ppo" and settings["hyperparameters"]["n_steps"] == 64
    assert list((logdir / "tensorboard").rglob("events.out.tfevents.*"))
    progress = json.loads((logdir / "progress.json").read_text())
    assert progress["step"] == 256 and progress["final_step"] == 256 and progress["finished"] is True
    assert progress["last_checkpoint"].endswith("policy-000000256.zip")

    # Again with a larger budget: it continues from 256 (PPO collects 2 x 64 steps per update).
    assert _train(logdir, 512) == 0
    out = capsys.readouterr().out
    assert "trained 256..512 env steps" in out
    assert [s for s, _ in list_policy_checkpoints(logdir)] == [128, 256, 384, 512]
    from stable_baselines3 import PPO

    assert PPO.load(list_policy_checkpoints(logdir)[-1][1]).num_timesteps == 512

    # At the budget already: nothing to do, nothing written.
    assert _train(logdir, 512) == 0
    assert "trained 512..512" in capsys.readouterr().out

    video = tmp_path / "episode.mp4"
    assert main(["rl", "eval", "--logdir", str(logdir), "--episodes", "3", "--video", str(video)]) == 0
    result = json.loads((logdir / "rl_eval.json").read_text())
    assert result["episodes"] == 3 and len(result["returns"]) == 3 and result["env_steps"] == 512
    assert result["returns"] == result["env_returns"]  # --reward env: the policy's reward is the task's
    # Swing-up rewards are in [0, 1] per control step, 2 control steps per frame, 40 frames.
    assert all(0.0 <= r <= 80.0 for r in result["returns"])
    assert abs(result["mean"] - sum(result["returns"]) / 3) < 1e-9
    from timecontrast.io.video import probe_video

    assert probe_video(video).num_frames == 40

    # The same seed gives the same evaluation.
    assert main(["rl", "eval", "--logdir", str(logdir), "--episodes", "3"]) == 0
    assert json.loads((logdir / "rl_eval.json").read_text())["returns"] == result["returns"]


def test_progress_lines_off_a_terminal(tmp_path, caplog):
    from timecontrast.progress import progress_interval_set

    with progress_interval_set(1e-9), caplog.at_level("INFO", logger="timecontrast.rl.runs"):
        assert _train(tmp_path / "ppo", 256) == 0
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("rl train:")]
    assert any("/256 steps" in line and "steps/s" in line for line in lines)
    assert lines[-1].startswith("rl train: finished 256/256 steps")
    assert any("episode return" in line for line in lines)  # 40-step episodes end within the run


def test_resume_continues_the_normalisation_statistics(tmp_path):
    import pickle

    logdir = tmp_path / "ppo"
    assert _train(logdir, 128) == 0
    assert _train(logdir, 256) == 0
    # VecNormalize.save pickles the wrapper without its environments.
    first, second = (pickle.loads((logdir / "checkpoints" / f"normalize-{n:09d}.pkl").read_bytes()) for n in (128, 256))
    # The counts go on from the first run's (a fresh VecNormalize would start again from 0).
    assert second.obs_rms.count > first.obs_rms.count > 100


def test_resuming_with_other_settings_is_refused(tmp_path, capsys):
    logdir = tmp_path / "ppo"
    assert _train(logdir, 128) == 0
    capsys.readouterr()
    assert _train(logdir, 256, "--obs", "random") == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "obs 'state' -> 'random'" in err and "new --logdir" in err
    assert [s for s, _ in list_policy_checkpoints(logdir)] == [128]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--obs", "embedding"], "--obs embedding needs a trained TCN: give --checkpointdir"),
        (["--reward", "imitation", "--checkpointdir", "runs/x"], "--reward imitation needs --demo"),
        (["--obs", "sound"], "--obs 'sound': choose one of state, position, pixels, embedding, random"),
        (["--algo", "dqn"], "--algo 'dqn': choose one of ppo, sac"),
        (["--hyper", "n_steps"], "--hyper 'n_steps': write key=value"),
        (["--hyper", "no_such_option=1"], "unexpected keyword argument 'no_such_option'"),
        (["--world", "pendulum"], "pendulum"),
    ],
)
def test_bad_options_are_one_line_errors(tmp_path, capsys, extra, expected):
    assert _train(tmp_path / "run", 64, *extra) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("tcn rl: error:") and err.count("\n") == 0 and expected in err


def test_a_refused_run_can_be_run_again_fixed(tmp_path, capsys):
    logdir = tmp_path / "ppo"
    assert _train(logdir, 64, "--hyper", "batch_size=1") == 2  # refused by stable-baselines3
    assert "stable-baselines3 PPO refused it" in capsys.readouterr().err
    assert not (logdir / "rl_run.json").exists()
    # Numbers as people write them (YAML 1.1 alone reads 3e-4 as a string).
    assert _train(logdir, 128, "--hyper", "learning_rate=3e-4") == 0
    assert json.loads((logdir / "rl_run.json").read_text())["hyperparameters"]["learning_rate"] == 3e-4


def test_missing_normalisation_statistics_are_an_error(tmp_path, capsys):
    logdir = tmp_path / "ppo"
    assert _train(logdir, 128) == 0
    (logdir / "checkpoints" / "normalize-000000128.pkl").unlink()
    capsys.readouterr()
    assert main(["rl", "eval", "--logdir", str(logdir), "--episodes", "1"]) == 2
    assert "normalize-000000128.pkl is missing" in capsys.readouterr().err
    assert _train(logdir, 256) == 2


def test_sac_on_pixels(tmp_path):
    """SAC stores unnormalised observations: the pixel stack must be channels-first below VecNormalize."""
    logdir = tmp_path / "sac"
    argv = ["rl", "train", "--logdir", str(logdir), "--algo", "sac", "--obs", "pixels", "--frame_stack", "2",
            "--steps", "24", "--n_envs", "1", "--max_episode_steps", "10", "--width", "48", "--height", "48",
            "--hyper", "learning_starts=8", "--hyper", "batch_size=4", "--hyper", "buffer_size=100"]  # fmt: skip
    assert main(argv) == 0
    assert main(["rl", "eval", "--logdir", str(logdir), "--episodes", "1"]) == 0


def test_eval_of_a_folder_without_a_run(tmp_path, capsys):
    assert main(["rl", "eval", "--logdir", str(tmp_path)]) == 2
    assert "is not a tcn rl train logdir" in capsys.readouterr().err


def test_missing_rl_extra_says_how_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "stable_baselines3", None)  # import fails as if not installed
    assert _train(tmp_path / "run", 64) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "pip install -e '.[rl]'" in err


def test_eval_records_episodes_as_a_dataset(tmp_path):
    import numpy as np

    from timecontrast.data.records import open_sequences
    from timecontrast.rl.envs import make_env

    logdir = tmp_path / "ppo"
    assert _train(logdir, 128) == 0
    out = tmp_path / "expert"
    assert main(["rl", "eval", "--logdir", str(logdir), "--episodes", "2", "--record", str(out)]) == 0
    result = json.loads((logdir / "rl_eval.json").read_text())
    assert len(result["recorded"]) == 2
    sequences = open_sequences(out / "episodes" / "records")
    name = "cartpole_swingup_state_step128_seed1000000"
    assert [s.name for s in sequences] == [f"{name}_ep0000", f"{name}_ep0001"]
    first = sequences[0]
    # 40 steps: the start and the frame after each step, so it can be the demo of a 40-step episode.
    assert first.num_views == 2 and first.length == 41
    state = first.state  # found beside the records, as tcn synth's
    assert state is not None and state.length == 41 and {"slider", "hinge_1"} <= set(state.position_names)
    assert not np.allclose(state.position[-1], state.position[-2])  # the final frame is the episode's, not a reset
    # Frame 0 is the first evaluation episode's start: the environment reset with the evaluation seed.
    env = make_env("cartpole", "swingup", max_episode_steps=40)
    env.reset(seed=1_000_000)
    expected = env.render().astype(np.int16)
    assert np.abs(first.frame(0, 0).astype(np.int16) - expected).mean() < 3.0  # JPEG
    assert np.allclose(state.position[0], env.unwrapped.true_state()[0])
    env.close()
    # Recording the same policy and seed again would mix two sets of episodes: refused.
    assert main(["rl", "eval", "--logdir", str(logdir), "--episodes", "1", "--record", str(out)]) == 2
