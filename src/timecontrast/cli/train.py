"""Train a TCN embedder (multi-view, single-view or multi-frame) from sequence records.

Writes <logdir>/final_training_config.yaml, checkpoints in <logdir>/checkpoints/, TensorBoard
events and metrics.jsonl in <logdir>. Re-running the same command resumes from the newest
checkpoint; with no --config_paths, <logdir>/final_training_config.yaml is used.
learning.max_step is the final step (a run already there is left as it is). A run owns its
logdir: a second tcn train on it exits 2 naming the owner's pid and host (<logdir>/.tcn-train.lock;
the lock of a killed run is taken over). Under torchrun every process trains on different
batches (DDP: NCCL on GPUs, Gloo on CPUs) and rank 0 writes the logs and checkpoints.
Progress: a bar on a terminal; with output to a file, a line every 30 s (tcn --progress_interval
or TCN_PROGRESS_INTERVAL) with the step, loss, steps/s, images/s, ETA and last checkpoint; and
<logdir>/progress.json (step, final_step, rates, eta_seconds, loss, state, finished) at that interval.

Example:
    tcn synth --world cartpole --split train=16,val=4 --output_dir demo_data
    tcn train --config_paths demo.yaml --logdir runs/demo \\
        data.training=demo_data/train/records learning.max_step=2000
    tcn train --logdir runs/demo learning.max_step=4000        # resume and train further
    tcn train --config_paths tcn_default.yml,pouring.yml --logdir runs/pouring  # the original's configs
    torchrun --nproc_per_node=2 -m timecontrast train --config_paths my.yaml --logdir runs/ddp
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from timecontrast.cli.common import add_config_arguments, config_from_args
from timecontrast.config import FINAL_CONFIG_NAME


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument("--logdir", required=True, help="run directory: checkpoints, logs, final config")
    parser.add_argument("--device", default=None, help="auto | cpu | cuda | cuda:N (overrides runtime.device)")


def use_logdir_config(args: argparse.Namespace) -> None:
    """Without --config_paths, rebuild the run from <logdir>/final_training_config.yaml when it exists."""
    saved = Path(args.logdir).expanduser() / FINAL_CONFIG_NAME
    if not args.config_paths and saved.is_file():
        args.config_paths = str(saved)


def run(args: argparse.Namespace) -> int:
    from timecontrast.training import train

    use_logdir_config(args)
    cfg = config_from_args(args)
    result = train(cfg, args.logdir, device=args.device)
    if int(os.environ.get("RANK", "0")) == 0:
        if result.step == result.start_step:
            print(f"nothing to do: {args.logdir} is already at step {result.step} (learning.max_step)")
        else:
            loss = "n/a" if result.loss is None else f"{result.loss:.4f}"
            print(f"trained steps {result.start_step}..{result.step} (loss {loss}); checkpoint: {result.checkpoint}")
    return 0
