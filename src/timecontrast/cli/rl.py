"""Reinforcement learning on a simulated world, observing the TCN embedding (or the state, pixels, noise).

  tcn rl train   train a stable-baselines3 policy (PPO, or SAC) and save it in --logdir;
                 running it again resumes from the newest checkpoint up to --steps
  tcn rl eval    mean and std of the return of the newest policy over --episodes episodes
                 (rl_eval.json in the logdir), optionally a video of one episode, and with
                 --record DIR every episode written as tcn synth writes a sequence (records
                 of every camera and the true state: demonstrations for tcn reward)

Observations (--obs): state (the world's true state), position (its positions without the
velocities: what a single frame can show), pixels (camera --view; stable-baselines3's
CNN policy), embedding (the frames through the TCN of --checkpointdir: a multi-frame model sees
the clip of its last frames, built as in training), random (noise of the state's size: what a
policy learns without information). Rewards (--reward): env (the world's own task reward),
imitation (the TCN paper's -alpha*d² - beta*sqrt(gamma + d²) against the embedding of --demo at
the same time step), goal (XIRL: minus the distance to the demo's final embedding). The cameras,
frame size and frame rate are tcn synth's Table I recipe (fixed + lookatcart, 96x48, 50 fps), so
a TCN trained on that data sees the same images. Needs the rl extra: pip install -e '.[rl]'.

Example::

    tcn rl train --world cartpole --task swingup --obs embedding --checkpointdir runs/mftcn \\
        --steps 300000 --logdir runs/ppo_emb
    tcn rl train --obs state --steps 300000 --logdir runs/ppo_state --hyper n_steps=1024
    tcn rl eval --logdir runs/ppo_emb --episodes 20 --video runs/ppo_emb/episode.mp4
"""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="<train|eval>", required=True)
    train = sub.add_parser("train", help="train (or resume) a policy", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    train.add_argument("--logdir", required=True, help="the run's folder (settings, checkpoints, TensorBoard)")
    train.add_argument("--world", default="cartpole", help="cartpole (swingup, balance) or cheetah (run, walk)")
    train.add_argument("--task", default="swingup", help="the world's task (default: swingup)")
    train.add_argument("--obs", default="state", help="state | position | pixels | embedding | random (default: state)")
    train.add_argument("--reward", default="env", help="env | imitation | goal (default: env)")
    train.add_argument("--reward_mode", default="replace", help="replace the env's reward or add to it")
    train.add_argument("--checkpointdir", default=None, help="the TCN run or checkpoint (--obs embedding, --reward)")
    train.add_argument("--demo", default=None, help="the demonstration: sequence records or a video (--reward)")
    train.add_argument("--frames", type=int, default=None, help="frames per clip of a multi-frame model")
    train.add_argument("--algo", default="ppo", help="ppo | sac (stable-baselines3)")
    train.add_argument("--steps", type=int, default=300_000, help="env steps in all (default: 300000)")
    train.add_argument("--n_envs", type=int, default=4, help="environments stepped together (default: 4)")
    train.add_argument("--seed", type=int, default=0, help="seeds the policy and the environments")
    train.add_argument("--width", type=int, default=96, help="frame width (default: 96)")
    train.add_argument("--height", type=int, default=48, help="frame height (default: 48)")
    train.add_argument(
        "--cameras", default=None,
        help="the world's model cameras, comma separated (default: cartpole fixed,lookatcart; cheetah side,back), "
        "or a number of views of the world's randomised rig, as tcn synth --cameras / --views",
    )  # fmt: skip
    train.add_argument("--appearance", default="default", help="default (DM Control's look) or random, as tcn synth")
    train.add_argument("--view", type=int, default=0, help="the camera the policy (or the TCN) sees")
    train.add_argument("--frame_stack", type=int, default=1, help="--obs pixels: the last N frames (default: 1)")
    train.add_argument(
        "--no_normalize", action="store_true",
        help="no VecNormalize (running observation statistics and return scaling, saved with each checkpoint)",
    )  # fmt: skip
    train.add_argument("--max_episode_steps", type=int, default=None, help="steps per episode (default: 10 s)")
    train.add_argument("--save_every", type=int, default=50_000, help="checkpoint every N env steps")
    train.add_argument("--device", default=None, help="the TCN's device: cpu, cuda, cuda:N")
    train.add_argument(
        "--hyper", action="append", default=[], metavar="KEY=VALUE",
        help="a stable-baselines3 hyperparameter, e.g. --hyper n_steps=1024 (repeatable)",
    )  # fmt: skip

    ev = sub.add_parser("eval", help="evaluate the newest policy of a run")
    ev.add_argument("--logdir", required=True, help="a tcn rl train logdir")
    ev.add_argument("--episodes", type=int, default=20, help="episodes to run (default: 20)")
    ev.add_argument("--seed", type=int, default=1_000_000, help="seed of the evaluation episodes")
    ev.add_argument("--stochastic", action="store_true", help="sample actions instead of the most likely one")
    ev.add_argument("--video", default=None, help="write the first episode as this mp4")
    ev.add_argument("--checkpoint", default=None, help="a policy-<steps>.zip (default: the newest)")
    ev.add_argument(
        "--record", default=None, metavar="DIR",
        help="write every episode as tcn synth writes a sequence (DIR/episodes/records, DIR/episodes/state): "
        "demonstrations for tcn reward and --reward imitation",
    )  # fmt: skip
    ev.add_argument("--device", default=None, help="the TCN's device: cpu, cuda, cuda:N")


def run(args: argparse.Namespace) -> int:
    from timecontrast.rl.dependencies import require_rl_extra

    require_rl_extra()
    if args.action == "train":
        return _train(args)
    return _eval(args)


def _train(args: argparse.Namespace) -> int:
    from timecontrast.rl.runs import RunSettings, parse_hyperparameters, train_policy

    settings = RunSettings(
        world=args.world, task=args.task, obs=args.obs, reward=args.reward, reward_mode=args.reward_mode,
        algo=args.algo, steps=args.steps, n_envs=args.n_envs, seed=args.seed, checkpointdir=args.checkpointdir,
        frames=args.frames, demo=args.demo, width=args.width, height=args.height, view=args.view,
        cameras=_cameras(args.cameras), appearance=args.appearance,
        max_episode_steps=args.max_episode_steps, frame_stack=args.frame_stack, save_every=args.save_every, normalize=not args.no_normalize,
        device=args.device, hyperparameters=parse_hyperparameters(args.hyper),
    )  # fmt: skip
    result = train_policy(settings, args.logdir)
    print(
        f"trained {result.start_steps}..{result.steps} env steps in {result.seconds / 60:.1f} min; "
        f"policy: {result.checkpoint}"
    )
    print(f"evaluate: tcn rl eval --logdir {args.logdir}; TensorBoard: tensorboard --logdir {args.logdir}")
    return 0


def _cameras(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _eval(args: argparse.Namespace) -> int:
    from timecontrast.rl.runs import EVAL_FILE, evaluate_run

    result = evaluate_run(
        args.logdir, args.episodes, deterministic=not args.stochastic, seed=args.seed, video=args.video,
        checkpoint=args.checkpoint, device=args.device, record=args.record,
    )  # fmt: skip
    print(f"policy {result['checkpoint']} ({result['env_steps']} env steps), {result['episodes']} episodes")
    print(f"return: {result['mean']:.1f} ± {result['std']:.1f}")
    if result["settings"]["reward"] != "env":
        print(f"task return (the world's own reward): {result['env_mean']:.1f} ± {result['env_std']:.1f}")
    if "video" in result:
        print(f"video: {result['video']}")
    if "recorded" in result:
        print(f"episodes recorded: {len(result['recorded'])} in {args.record}/episodes/records")
    print(f"results: {args.logdir}/{EVAL_FILE}")
    return 0


__all__ = ["add_arguments", "run"]
