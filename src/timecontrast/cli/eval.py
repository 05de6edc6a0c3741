"""Running validation loss of new checkpoints (the original's eval binary).

Waits for checkpoints in <logdir>/checkpoints, evaluates each new one once on
val.num_eval_samples validation images (data.validation; evaluation preprocessing, BatchNorm
in eval mode; the same batches for every checkpoint) and logs validation/<loss> and loss
(with the L2 penalty) to TensorBoard and metrics.jsonl in <logdir>/eval, polling every
val.eval_interval_secs (while waiting, a line every tcn --progress_interval seconds, default 30,
says what for). Checkpoints already in <logdir>/eval/metrics.jsonl are skipped.
With no --config_paths, <logdir>/final_training_config.yaml is used.

Example:
    tcn eval --logdir runs/demo --once
    tcn eval --logdir runs/demo --timeout 3600 val.eval_interval_secs=60 data.validation=demo_data/val/records
"""

from __future__ import annotations

import argparse
from pathlib import Path

from timecontrast.cli.common import add_config_arguments, config_from_args
from timecontrast.cli.train import use_logdir_config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument("--logdir", required=True, help="the training run directory (holds checkpoints/)")
    parser.add_argument(
        "--once",
        action="store_true",
        help="evaluate the newest checkpoint once and exit; never waits: no checkpoint, or an unreadable "
        "newest one, is an error (exit 2)",
    )
    parser.add_argument(
        "--timeout", type=float, default=None, help="stop after this many seconds without a new checkpoint"
    )
    parser.add_argument("--device", default=None, help="auto | cpu | cuda | cuda:N (overrides runtime.device)")


def run(args: argparse.Namespace) -> int:
    import torch

    from timecontrast.data.loaders import make_loader
    from timecontrast.devices import resolve_device
    from timecontrast.errors import CheckpointError
    from timecontrast.evaluation.watcher import iter_new_checkpoints
    from timecontrast.models import build_embedder, load_checkpoint, load_model_state
    from timecontrast.training import build_metric_loss, validation_batches, validation_loss
    from timecontrast.training.summaries import MetricsLog, read_metrics

    use_logdir_config(args)
    cfg = config_from_args(args)
    logdir = Path(args.logdir).expanduser()
    device = resolve_device(args.device, cfg.runtime.device)
    if cfg.runtime.num_threads > 0:
        torch.set_num_threads(cfg.runtime.num_threads)
    torch.manual_seed(cfg.seed)
    model = build_embedder(cfg, load_weights=False).to(device)  # every checkpoint brings its weights
    metric_loss = build_metric_loss(cfg)
    loader = make_loader(validation_batches(cfg, model), cfg.data.num_workers, pin_memory=device.type == "cuda")
    eval_dir = logdir / "eval"
    done = {int(r["step"]) for r in read_metrics(eval_dir)}
    evaluated = 0
    metrics: MetricsLog | None = None  # made at the first result: a misspelled --logdir gets no folders
    try:
        for step, path in iter_new_checkpoints(
            logdir / "checkpoints", cfg.val.eval_interval_secs, args.timeout, args.once, skip_steps=done, label="eval"
        ):
            try:
                state = load_checkpoint(path)
            except CheckpointError:
                if args.once or path.exists():  # unreadable: an error, as in tcn align
                    raise
                print(f"skipping {path}: removed while waiting (logging.checkpoint.num_to_keep)")
                continue
            load_model_state(model, state["model"], source=str(path))
            values = validation_loss(model, loader, metric_loss, device, cfg.learning.l2_reg_weight)
            if metrics is None:
                metrics = MetricsLog(eval_dir, flush_secs=cfg.logging.summary.flush_secs)
            metrics.scalars(step, values)
            metrics.flush()
            evaluated += 1
            print(f"step {step}: " + ", ".join(f"{k} {v:.4f}" for k, v in values.items()), flush=True)
    finally:
        if metrics is not None:
            metrics.close()
    if not evaluated:
        print(f"no new checkpoint evaluated in {logdir / 'checkpoints'}")
    return 0
