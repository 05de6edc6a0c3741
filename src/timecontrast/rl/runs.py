"""RL runs on the simulated worlds: train a stable-baselines3 policy, resume it, evaluate it.

A run lives in one logdir (``tcn rl train --logdir DIR``)::

    DIR/rl_run.json                    the settings (what the observation and reward are)
    DIR/checkpoints/policy-<steps>.zip stable-baselines3 saves, every --save_every env steps
    DIR/checkpoints/normalize-<steps>.pkl  the running observation/return statistics beside each
    DIR/tensorboard/                   stable-baselines3's TensorBoard logs
    DIR/progress.json                  env steps done, rate and time left (while it runs)
    DIR/rl_eval.json                   tcn rl eval's result

Running the same command again resumes from the newest checkpoint up to ``--steps``;
the settings must be the same (the error names the ones that differ). The algorithms are
stable-baselines3's PPO and SAC: no home-made RL here. Seeding: the policy and every
environment derive from ``seed`` (environment ``i`` of ``n_envs`` from ``seed + i``); a
resumed run continues with fresh environments, so it is not step-for-step the same as an
uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from timecontrast.data import layout
from timecontrast.errors import CheckpointError, ConfigError, DataError
from timecontrast.io.files import atomic_path, remove_stale_temporaries, write_text
from timecontrast.rl.dependencies import missing_rl_extra

log = logging.getLogger(__name__)

RUN_FILE = "rl_run.json"
EVAL_FILE = "rl_eval.json"
CHECKPOINT_DIR = "checkpoints"
TENSORBOARD_DIR = "tensorboard"
ALGOS = ("ppo", "sac")
REWARDS = ("env", "imitation", "goal")
OBSERVATIONS = ("state", "position", "pixels", "embedding", "random")
_CHECKPOINT = re.compile(r"^policy-(\d{9})\.zip$")
# Settings that may change between a run and its resumption (they do not change what is learned).
RESUMABLE = ("steps", "save_every", "device")


@dataclass(frozen=True)
class RunSettings:
    """What an RL run learns from: the world, observation, reward, algorithm and budget."""

    world: str = "cartpole"
    task: str = "swingup"
    obs: str = "state"
    reward: str = "env"
    reward_mode: str = "replace"  # the imitation/goal reward replaces the env's, or is added to it
    algo: str = "ppo"
    steps: int = 300_000  # env steps (frames) in all, over every environment
    n_envs: int = 4
    seed: int = 0
    checkpointdir: str | None = None  # the TCN run (obs=embedding, reward=imitation|goal)
    checkpoint: str | None = None  # its checkpoint file, filled in when the run starts
    frames: int | None = None  # frames per clip for a multi-frame model (None: the model's own)
    demo: str | None = None  # records/video of the demonstration (reward=imitation|goal)
    width: int = 96
    height: int = 48
    cameras: tuple[str, ...] | None = None
    view: int = 0
    appearance: str = "default"
    max_episode_steps: int | None = None
    frame_stack: int = 1  # obs=pixels: the policy sees this many last frames
    # stable-baselines3's VecNormalize: running mean/std of the observations (not of pixels) and
    # scaling of the rewards by the return's spread, which PPO needs on dm_control's 0-1000 returns.
    normalize: bool = True
    save_every: int = 50_000
    device: str | None = None  # the embedder's device (the policy of an MLP runs on the CPU)
    hyperparameters: dict[str, Any] = field(default_factory=dict)  # passed to the SB3 algorithm

    def check(self) -> None:
        """Raise :class:`ConfigError` for settings that cannot work, naming the option."""
        choices = {"--obs": (self.obs, OBSERVATIONS), "--reward": (self.reward, REWARDS), "--algo": (self.algo, ALGOS)}
        for flag, (value, allowed) in choices.items():
            if value not in allowed:
                raise ConfigError(f"{flag} {value!r}: choose one of {', '.join(allowed)}")
        if self.reward_mode not in ("replace", "add"):
            raise ConfigError(f"--reward_mode {self.reward_mode!r}: choose replace or add")
        needs_model = self.obs == "embedding" or self.reward != "env"
        if needs_model and not self.checkpointdir:
            what = "--obs embedding" if self.obs == "embedding" else f"--reward {self.reward}"
            raise ConfigError(f"{what} needs a trained TCN: give --checkpointdir (a tcn train logdir or checkpoint)")
        if self.reward != "env" and not self.demo:
            raise ConfigError(f"--reward {self.reward} needs --demo (sequence records or a video of the demonstration)")
        counts = {"--steps": self.steps, "--n_envs": self.n_envs, "--save_every": self.save_every}
        for flag, count in counts.items():
            if count < 1:
                raise ConfigError(f"{flag} {count}: must be at least 1")
        if self.frame_stack < 1 or (self.frame_stack > 1 and self.obs != "pixels"):
            raise ConfigError(
                f"--frame_stack {self.frame_stack}: a positive number, and more than 1 only for --obs pixels"
            )

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["cameras"] = list(self.cameras) if self.cameras is not None else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str) -> RunSettings:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"{source}: unknown settings {', '.join(unknown)}; was it written by a newer timecontrast?"
            )
        values = dict(data)
        if values.get("cameras") is not None:
            values["cameras"] = tuple(values["cameras"])
        return cls(**values)


@dataclass
class RunResult:
    """What :func:`train_policy` did."""

    logdir: Path
    start_steps: int
    steps: int
    checkpoint: Path | None
    seconds: float


def _sb3() -> Any:
    try:
        import stable_baselines3
    except ImportError as exc:
        raise missing_rl_extra(exc) from None
    return stable_baselines3


def algorithm_class(name: str) -> Any:
    sb3 = _sb3()
    return {"ppo": sb3.PPO, "sac": sb3.SAC}[name]


# ----------------------------------------------------------------------------- checkpoints
def checkpoint_path(logdir: str | os.PathLike, steps: int) -> Path:
    return Path(logdir) / CHECKPOINT_DIR / f"policy-{int(steps):09d}.zip"


def normalize_path(policy: Path) -> Path:
    """The VecNormalize statistics saved beside a policy checkpoint."""
    return policy.with_name(policy.name.replace("policy-", "normalize-").replace(".zip", ".pkl"))


def list_policy_checkpoints(logdir: str | os.PathLike) -> list[tuple[int, Path]]:
    """``(env steps, path)`` of a run's policy checkpoints, oldest first."""
    folder = Path(logdir) / CHECKPOINT_DIR
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _CHECKPOINT.match(p.name))]
    return sorted(found)


def read_settings(logdir: str | os.PathLike) -> RunSettings:
    """The settings of the run in ``logdir`` (its ``rl_run.json``)."""
    path = Path(logdir) / RUN_FILE
    if not path.is_file():
        raise DataError(f"{path} does not exist: '{logdir}' is not a tcn rl train logdir (check --logdir)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not valid JSON ({exc}); it was damaged: train in a new --logdir") from None
    return RunSettings.from_json(data, str(path))


def _differences(saved: RunSettings, wanted: RunSettings) -> list[str]:
    a, b = saved.to_json(), wanted.to_json()
    return [f"{k} {a[k]!r} -> {b[k]!r}" for k in a if k not in RESUMABLE and k != "checkpoint" and a[k] != b[k]]


# ----------------------------------------------------------------------------- environments
def _load_demo(settings: RunSettings) -> np.ndarray:
    """The demonstration's frames of view ``settings.view``: ``[T, H, W, 3]`` uint8."""
    from timecontrast.data.sources import open_sequence_source

    assert settings.demo is not None  # RunSettings.check
    sequences = open_sequence_source(settings.demo)
    if len(sequences) != 1:
        raise DataError(
            f"--demo {settings.demo}: holds {len(sequences)} sequences; give one demonstration (one record file or video)"
        )
    seq = sequences[0]
    if settings.view >= seq.num_views:
        raise DataError(f"--demo {settings.demo}: has {seq.num_views} view(s), no view {settings.view} (--view)")
    return seq.frames(settings.view, list(range(seq.length)))


def camera_choice(cameras: tuple[str, ...] | None) -> tuple[str, ...] | int | None:
    """``--cameras``: model camera names, or one number (that many views of the world's rig)."""
    if cameras is not None and len(cameras) == 1 and cameras[0].isdigit():
        return int(cameras[0])
    return cameras


def _reward_wrapper(settings: RunSettings, embedder: Any) -> Callable[[Any], Any] | None:
    if settings.reward == "env":
        return None
    from timecontrast.rl.wrappers import GoalReward, ImitationReward, embed_demonstration

    frames = _load_demo(settings)
    if frames.shape[1:3] != (settings.height, settings.width):
        raise DataError(
            f"--demo {settings.demo}: its frames are {frames.shape[2]}x{frames.shape[1]} but the environment renders "
            f"{settings.width}x{settings.height}; record the demonstration with the same --width/--height"
        )
    demo = embed_demonstration(embedder, frames, settings.frames)  # once, for every environment
    common = {"embedder": embedder, "mode": settings.reward_mode, "frames": settings.frames, "source": "render"}
    if settings.reward == "imitation":
        return partial(ImitationReward, demo=demo, **common)
    return partial(GoalReward, demos=[demo], **common)


def make_run_env(
    settings: RunSettings,
    n_envs: int,
    seed: int,
    embedder: Any = None,
    statistics: Path | None = None,
    training: bool = True,
    wrapper: Callable[[Any], Any] | None = None,
) -> Any:
    """The stable-baselines3 VecEnv a run trains (or is evaluated) on.

    With ``settings.normalize``, a ``VecNormalize`` wraps it (outermost): new statistics, or
    those of ``statistics`` (a checkpoint's: an error when that file is missing);
    ``training=False`` freezes them and gives raw rewards. ``wrapper`` is applied to each
    environment after the reward wrapper.
    """
    from timecontrast.rl.envs import make_vec_env

    kwargs: dict[str, Any] = {
        "world": settings.world, "task": settings.task, "obs": settings.obs, "width": settings.width,
        "height": settings.height, "cameras": camera_choice(settings.cameras), "view": settings.view,
        "appearance": settings.appearance, "max_episode_steps": settings.max_episode_steps,
    }  # fmt: skip
    if settings.obs == "embedding":
        kwargs.update(embedder=embedder, frames=settings.frames)
    wrappers = [w for w in (_reward_wrapper(settings, embedder), wrapper) if w is not None]
    venv = make_vec_env(n_envs, seed=seed, wrapper=_chain(wrappers) if wrappers else None, **kwargs)
    if settings.frame_stack > 1:
        from stable_baselines3.common.vec_env import VecFrameStack

        venv = VecFrameStack(venv, settings.frame_stack)
    if settings.obs == "pixels":
        from stable_baselines3.common.vec_env import VecTransposeImage

        venv = VecTransposeImage(venv)  # channels first, under VecNormalize (SAC stores its unnormalised obs)
    if settings.normalize:
        from stable_baselines3.common.vec_env import VecNormalize

        if statistics is not None:
            if not statistics.is_file():
                raise CheckpointError(
                    f"{statistics} is missing: the VecNormalize statistics saved with the policy beside it; without "
                    "them the policy would see differently scaled observations (copy it along with the policy)"
                )
            venv = VecNormalize.load(str(statistics), venv)
        else:
            gamma = float(settings.hyperparameters.get("gamma", 0.99))
            venv = VecNormalize(venv, norm_obs=settings.obs != "pixels", norm_reward=True, gamma=gamma)
        venv.training, venv.norm_reward = training, training
    return venv


def _chain(wrappers: list[Callable[[Any], Any]]) -> Callable[[Any], Any]:
    return partial(_apply_wrappers, wrappers)


def _apply_wrappers(wrappers: list[Callable[[Any], Any]], env: Any) -> Any:
    for wrap in wrappers:
        env = wrap(env)
    return env


def _embedder(settings: RunSettings) -> Any:
    if settings.obs != "embedding" and settings.reward == "env":
        return None
    from timecontrast.rl.cameras import resolve_cameras
    from timecontrast.rl.compatibility import check_embedder_fits, load_embedder
    from timecontrast.rl.envs import DEFAULT_FPS

    path = settings.checkpoint or settings.checkpointdir
    embedder = load_embedder(path, settings.device)
    if settings.obs == "embedding":
        return embedder  # make_vec_env checks it against the environment it builds
    check_embedder_fits(
        embedder, world=settings.world, task=settings.task, width=settings.width, height=settings.height,
        cameras=resolve_cameras(settings.world, camera_choice(settings.cameras)), view=settings.view, fps=DEFAULT_FPS,
        appearance=settings.appearance,
    )  # fmt: skip
    return embedder


# ----------------------------------------------------------------------------- training
class _Callback:
    """stable-baselines3 callback: periodic checkpoints and progress (built lazily: SB3 is optional)."""

    @staticmethod
    def make(logdir: Path, save_every: int, progress: Any) -> Any:
        from stable_baselines3.common.callbacks import BaseCallback

        class Checkpoints(BaseCallback):
            def __init__(self) -> None:
                super().__init__()
                self.saved: Path | None = None
                self._next = 0
                self._done = 0

            def _on_training_start(self) -> None:
                self._next = (self.num_timesteps // save_every + 1) * save_every
                self._done = self.num_timesteps

            def _on_step(self) -> bool:
                episodes = [i["episode"]["r"] for i in self.locals.get("infos", ()) if "episode" in i]
                fields = {"episode_return": float(np.mean(episodes))} if episodes else {}
                progress.update(self.num_timesteps - self._done, **fields)
                self._done = self.num_timesteps
                if self.num_timesteps >= self._next:
                    self.saved = save_policy(self.model, logdir)
                    progress.set(last_checkpoint=self.saved)
                    self._next = (self.num_timesteps // save_every + 1) * save_every
                return True

        return Checkpoints()


def save_policy(model: Any, logdir: Path) -> Path:
    """Save ``model`` as ``checkpoints/policy-<steps>.zip`` atomically (and its VecNormalize
    statistics first, as ``normalize-<steps>.pkl``); return the policy's path."""
    target = checkpoint_path(logdir, model.num_timesteps)
    target.parent.mkdir(parents=True, exist_ok=True)
    normalizer = _normalizer(model.get_env())
    if normalizer is not None:
        with atomic_path(normalize_path(target), durable=True) as tmp:
            normalizer.save(str(tmp))
    with atomic_path(target, durable=True) as tmp:
        model.save(tmp)
    log.info("saved %s", target)
    return target


def _normalizer(venv: Any) -> Any:
    """The VecNormalize in a chain of VecEnv wrappers, or None."""
    from stable_baselines3.common.vec_env import VecEnvWrapper, VecNormalize

    while isinstance(venv, VecEnvWrapper):
        if isinstance(venv, VecNormalize):
            return venv
        venv = venv.venv
    return None


def _policy_name(settings: RunSettings) -> str:
    return "CnnPolicy" if settings.obs == "pixels" else "MlpPolicy"


def train_policy(settings: RunSettings, logdir: str | os.PathLike) -> RunResult:
    """Train (or resume) the run ``settings`` describes in ``logdir`` up to ``settings.steps``.

    Progress: a bar on a terminal, else a log line every 30 s (:mod:`timecontrast.progress`:
    env steps, steps/s, time left, the mean return of the episodes just ended, the last
    checkpoint), and ``progress.json`` in the logdir.
    """
    settings.check()
    from timecontrast.training.lock import LogdirLock

    logdir = Path(logdir).expanduser()
    logdir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with LogdirLock(logdir):
        # What a killed run was writing (checkpoints are this run's alone; in the logdir itself
        # only dead processes' temporaries go: a `tcn rl eval` may be writing there now).
        remove_stale_temporaries(logdir / CHECKPOINT_DIR, any_owner=True)
        remove_stale_temporaries(logdir)
        settings = _settings_for(settings, logdir)
        found = list_policy_checkpoints(logdir)
        newest = found[-1] if found else None
        if newest is not None and newest[0] >= settings.steps:
            log.info("already at %d env steps (--steps %d); nothing to train", newest[0], settings.steps)
            return RunResult(logdir, newest[0], newest[0], newest[1], time.perf_counter() - start)
        embedder = _embedder(settings)
        statistics = normalize_path(newest[1]) if newest is not None and settings.normalize else None
        venv = make_run_env(settings, settings.n_envs, settings.seed, embedder, statistics)
        try:
            model, start_steps = _model(settings, logdir, venv, newest[1] if newest is not None else None)
            # Written once everything was built: a run refused for a wrong option can be run again, fixed.
            write_text(logdir / RUN_FILE, json.dumps(settings.to_json(), indent=2) + "\n", durable=True)
            last = newest[1] if newest is not None else None
            remaining = settings.steps - start_steps
            log.info(
                "training %s on %s/%s (obs %s, reward %s) from %d to %d env steps",
                settings.algo.upper(), settings.world, settings.task, settings.obs, settings.reward, start_steps,
                settings.steps,
            )  # fmt: skip
            from timecontrast.progress import PROGRESS_FILE_NAME, Progress, ProgressFile

            with Progress(
                total=settings.steps, initial=start_steps, desc="rl train", unit="step", logger=log,
                on_report=ProgressFile(logdir / PROGRESS_FILE_NAME),
                fields={"episode_return": None, "last_checkpoint": last}, dynamic_ncols=True,
            ) as progress:  # fmt: skip
                callback = _Callback.make(logdir, settings.save_every, progress)
                model.learn(
                    remaining,
                    callback=callback,
                    reset_num_timesteps=start_steps == 0,
                    tb_log_name=settings.algo,
                    progress_bar=False,
                )
                if callback.saved is None or model.num_timesteps > _steps_of(callback.saved):
                    last = save_policy(model, logdir)
                else:
                    last = callback.saved
                progress.set(last_checkpoint=last)
            return RunResult(logdir, start_steps, int(model.num_timesteps), last, time.perf_counter() - start)
        finally:
            venv.close()


def _steps_of(path: Path) -> int:
    m = _CHECKPOINT.match(path.name)
    return int(m.group(1)) if m else -1


def _settings_for(settings: RunSettings, logdir: Path) -> RunSettings:
    """The run's settings: checked against a resumed run's, with the TCN checkpoint pinned."""
    if (logdir / RUN_FILE).is_file():
        saved = read_settings(logdir)
        changed = _differences(saved, settings)
        if changed:
            raise ConfigError(
                f"{logdir} holds a run with other settings ({'; '.join(changed)}); use the same options to resume, "
                "or a new --logdir"
            )
        settings = dataclasses.replace(settings, checkpoint=saved.checkpoint)
    elif settings.checkpointdir:
        from timecontrast.models.loading import find_checkpoint

        settings = dataclasses.replace(settings, checkpoint=str(find_checkpoint(settings.checkpointdir)))
    return settings


def _policy_device(settings: RunSettings) -> str:
    """Where the policy runs: an MLP on the CPU (stable-baselines3's advice), a CNN on ``--device``."""
    if _policy_name(settings) == "MlpPolicy":
        return "cpu"
    return settings.device or "auto"


def _model(settings: RunSettings, logdir: Path, venv: Any, checkpoint: Path | None) -> tuple[Any, int]:
    algo = algorithm_class(settings.algo)
    if checkpoint is not None:
        log.info("resuming from %s", checkpoint)
        model = algo.load(checkpoint, env=venv, device=_policy_device(settings))
        if settings.algo == "sac":
            log.warning("SAC resumes with an empty replay buffer (stable-baselines3 saves the policy without it)")
        return model, int(model.num_timesteps)
    try:
        model = algo(
            _policy_name(settings),
            venv,
            seed=settings.seed,
            tensorboard_log=str(logdir / TENSORBOARD_DIR),
            device=_policy_device(settings),
            verbose=0,
            **settings.hyperparameters,
        )
    except (TypeError, ValueError, AssertionError) as exc:  # an unknown hyperparameter, or a bad value
        raise ConfigError(
            f"--hyper {' '.join(f'{k}={v}' for k, v in settings.hyperparameters.items())}: stable-baselines3 "
            f"{settings.algo.upper()} refused it ({type(exc).__name__}: {exc}); see its documentation"
        ) from None
    return model, 0


# ----------------------------------------------------------------------------- evaluation
def evaluate_run(
    logdir: str | os.PathLike,
    episodes: int = 20,
    *,
    deterministic: bool = True,
    seed: int = 1_000_000,
    video: str | os.PathLike | None = None,
    checkpoint: str | os.PathLike | None = None,
    device: str | None = None,
    record: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Run the newest policy (or ``checkpoint``) for ``episodes`` episodes; write ``rl_eval.json``.

    Returns ``{"mean", "std", "returns", "env_mean", "env_std", "env_returns", ...}``:
    ``returns`` are of the reward the policy was trained on, ``env_returns`` of the
    world's own task reward (the same when ``--reward env``). Episodes are seeded from
    ``seed`` (not the training seeds). ``video``: an mp4 of the first episode.
    ``record``: a dataset folder; every episode is written there as ``tcn synth`` writes a
    sequence (``episodes/records/<name>.tfrecord`` with every camera's frames,
    ``episodes/state/<name>.npz`` with the true state), e.g. expert demonstrations for
    ``tcn reward`` or ``--reward imitation``.
    """
    if episodes < 1:
        raise ConfigError(f"--episodes {episodes}: must be at least 1")
    logdir = Path(logdir).expanduser()
    settings = read_settings(logdir)
    if device is not None:
        settings = dataclasses.replace(settings, device=device)
    found = list_policy_checkpoints(logdir)
    path = Path(checkpoint).expanduser() if checkpoint else (found[-1][1] if found else None)
    if path is None or not path.is_file():
        raise DataError(f"no policy checkpoint (checkpoints/policy-<steps>.zip) in '{logdir}': train it first")
    statistics = normalize_path(path) if settings.normalize else None
    keep_last = _keep_final_frame if record is not None else None
    venv = make_run_env(settings, 1, seed, _embedder(settings), statistics, training=False, wrapper=keep_last)
    try:
        model = algorithm_class(settings.algo).load(path, device=_policy_device(settings))
        name = f"{settings.world}_{settings.task}_{settings.obs}_step{_steps_of(path)}_seed{seed}"
        recorder = _Recorder(Path(record).expanduser(), venv, settings, name) if record is not None else None
        returns, env_returns, frames = _episodes(model, venv, episodes, deterministic, video is not None, recorder)
    finally:
        venv.close()
    result = {
        "checkpoint": str(path),
        "env_steps": _steps_of(path),
        "episodes": episodes,
        "deterministic": deterministic,
        "mean": float(np.mean(returns)),
        "std": float(np.std(returns)),
        "returns": [float(r) for r in returns],
        "env_mean": float(np.mean(env_returns)),
        "env_std": float(np.std(env_returns)),
        "env_returns": [float(r) for r in env_returns],
        "settings": settings.to_json(),
    }
    if recorder is not None:
        result["recorded"] = [str(p) for p in recorder.written]
    if video is not None and frames:
        from timecontrast.io.video import write_video

        write_video(video, np.stack(frames), fps=_fps(settings))
        result["video"] = str(video)
    write_text(logdir / EVAL_FILE, json.dumps(result, indent=2) + "\n", durable=True)
    return result


def _fps(settings: RunSettings) -> float:
    from timecontrast.rl.envs import DEFAULT_FPS

    return DEFAULT_FPS  # the environments film at the synth recipe's rate


def _keep_final_frame(env: Any) -> Any:
    """Wrap ``env`` so that the step ending an episode puts its frame and state in ``info``
    (a VecEnv resets at once, so the last frame is gone before anyone can render it)."""
    import gymnasium as gym

    class KeepFinalFrame(gym.Wrapper):
        def step(self, action: Any) -> Any:
            obs, reward, terminated, truncated, info = self.env.step(action)
            if terminated or truncated:
                base: Any = self.env.unwrapped  # a SimWorldEnv
                info = {**info, "final_views": base.render_views(), "final_state": base.true_state()}
            return obs, reward, terminated, truncated, info

    return KeepFinalFrame(env)


class _Recorder:
    """Writes evaluation episodes as a dataset (records of every camera, state files): an
    episode of T steps gives T + 1 frames (its start and the frame after each step)."""

    def __init__(self, root: Path, venv: Any, settings: RunSettings, name: str) -> None:
        self.root, self.venv, self.settings, self.name = root, venv, settings, name
        existing = layout.records_dir(root, "episodes")
        if existing.is_dir() and any(existing.glob(f"{name}_ep*{layout.RECORD_SUFFIX}")):
            raise DataError(
                f"{existing} already holds episodes of this policy and seed ({name}_ep*); give another --record "
                "folder, or another --seed for other episodes"
            )
        self.views: list[np.ndarray] = []  # per step: [V, H, W, 3]
        self.positions: list[np.ndarray] = []
        self.velocities: list[np.ndarray] = []
        self.written: list[Path] = []

    def frame(self) -> None:
        self.views.append(np.asarray(self.venv.env_method("render_views", indices=[0])[0]))
        position, velocity = self.venv.env_method("true_state", indices=[0])[0]
        self.positions.append(position)
        self.velocities.append(velocity)

    def episode_done(self, index: int, info: dict[str, Any]) -> None:
        from timecontrast.data.records import write_sequence_record
        from timecontrast.data.state import SequenceState, save_state
        from timecontrast.io.jpeg import encode_jpeg

        s = self.settings
        name = f"{self.name}_ep{index:04d}"
        self.views.append(np.asarray(info["final_views"]))
        self.positions.append(info["final_state"][0])
        self.velocities.append(info["final_state"][1])
        frames = np.stack(self.views, axis=1)  # [V, T + 1, H, W, 3]
        position_names, velocity_names, angles = self.venv.env_method("state_names", indices=[0])[0]
        state = SequenceState(
            position=np.stack(self.positions), velocity=np.stack(self.velocities), position_names=position_names,
            velocity_names=velocity_names, fps=_fps(s), angles=angles,
        )  # fmt: skip
        path = layout.record_path(self.root, "episodes", name)
        path.parent.mkdir(parents=True, exist_ok=True)
        layout.state_path(self.root, "episodes", name).parent.mkdir(parents=True, exist_ok=True)
        write_sequence_record(path, name, [[encode_jpeg(f) for f in view] for view in frames])
        save_state(layout.state_path(self.root, "episodes", name), state)
        self.written.append(path)
        self.views, self.positions, self.velocities = [], [], []


def _episodes(
    model: Any, venv: Any, episodes: int, deterministic: bool, record: bool, recorder: _Recorder | None = None
) -> tuple[list[float], list[float], list[np.ndarray]]:
    returns: list[float] = []
    env_returns: list[float] = []
    frames: list[np.ndarray] = []
    obs = venv.reset()
    total = env_total = 0.0
    while len(returns) < episodes:
        if record and not returns:
            frames.append(np.asarray(venv.env_method("render", indices=[0])[0]))
        if recorder is not None:
            recorder.frame()
        action, _ = model.predict(obs, deterministic=deterministic)
        obs, reward, done, info = venv.step(action)
        total += float(reward[0])
        env_total += float(info[0].get("env_reward", reward[0]))
        if done[0]:
            if recorder is not None:
                recorder.episode_done(len(returns), info[0])
            returns.append(total)
            env_returns.append(env_total)
            total = env_total = 0.0
    return returns, env_returns, frames


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        return float(text)  # ValueError when it is not a number either


def parse_hyperparameters(items: Sequence[str]) -> dict[str, Any]:
    """``key=value`` items (values read as YAML: numbers, lists, dicts) for the SB3 algorithm."""
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip().isidentifier():
            raise ConfigError(
                f"--hyper {item!r}: write key=value, e.g. --hyper n_steps=1024 --hyper learning_rate=3e-4"
            )
        try:
            out[key.strip()] = _number(value.strip())
        except ValueError:
            pass
        else:
            continue
        try:  # YAML for the rest (lists, dicts, booleans); YAML 1.1 would read 3e-4 as a string
            out[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise ConfigError(f"--hyper {item!r}: the value is not valid YAML ({exc})") from None
    return out


__all__ = [
    "ALGOS",
    "EVAL_FILE",
    "OBSERVATIONS",
    "REWARDS",
    "RUN_FILE",
    "RunResult",
    "RunSettings",
    "checkpoint_path",
    "evaluate_run",
    "list_policy_checkpoints",
    "make_run_env",
    "parse_hyperparameters",
    "read_settings",
    "save_policy",
    "train_policy",
]
