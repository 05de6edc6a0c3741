"""The training loop: setup, restore, loop, save. ``train(cfg, logdir)`` behind ``tcn train``.

- Steps: ``learning.max_step`` is the final global step (the original trained that many
  *more* steps on every call). Re-running the same command resumes from the newest
  readable checkpoint in ``logdir/checkpoints`` and continues as if never stopped: batch
  ``b`` and the dropout masks of step ``b`` derive from ``(seed, rank, b)`` alone, so a
  resumed run gives the same parameters as an uninterrupted one (on CPU). The seed and the
  step are thus the whole random state a checkpoint keeps (``rng``: ``{"scheme":
  "per_step", "seed": ...}``); resuming with another ``seed`` is refused. The AMP grad
  scaler is restored from ``grad_scaler``; the learning rate is a function of the step.
- Checkpoints every ``logging.checkpoint.save_checkpoints_steps`` and at the end
  (atomic; the newest ``num_to_keep`` kept, 0 = all). A NaN/inf loss stops training with
  :class:`TrainingError` naming the step; nothing is saved after it.
- Logs (rank 0): TensorBoard scalars ``loss`` (total), ``training/<loss>``,
  ``learning_rate``, ``global_step/sec``, ``images/sec`` every
  ``logging.summary.save_summaries_steps``, image pairs with
  ``logging.summary.image_summaries``, the same scalars in ``metrics.jsonl``, a
  progress bar on a terminal or else a progress line every ``tcn --progress_interval``
  seconds (step, loss, steps/s, images/s, ETA, last checkpoint; see
  :mod:`timecontrast.progress`), and the same numbers in ``logdir/progress.json``
  (rewritten atomically at that interval and at the end, ``finished`` true once at
  ``max_step``). ``final_training_config.yaml`` is written at the start
  (not when the run is already at ``max_step``: it keeps describing the finished run).
- The run owns its logdir: ``.tcn-train.lock`` (see :mod:`timecontrast.training.lock`)
  stops a second ``tcn train`` on it; temporaries of a killed run are removed at start.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from timecontrast.config import TCNConfig, config_to_dict, save_config
from timecontrast.data.loaders import build_batches, check_strategy, make_loader, open_split
from timecontrast.errors import CheckpointError, ConfigError, TrainingError
from timecontrast.io.files import remove_stale_temporaries
from timecontrast.models import build_embedder, list_checkpoints, load_checkpoint, load_model_state, save_checkpoint
from timecontrast.progress import PROGRESS_FILE_NAME, Progress, ProgressFile
from timecontrast.training.distributed import (
    DistributedContext,
    broadcast_buffers,
    init_distributed,
    mean_across_ranks,
    same_on_all_ranks,
    shutdown_distributed,
    unwrap_model,
    wrap_model,
)
from timecontrast.training.lock import LogdirLock
from timecontrast.training.objective import build_metric_loss
from timecontrast.training.optim import build_optimizer, l2_penalty, lr_at, set_learning_rate
from timecontrast.training.summaries import MetricsLog

log = logging.getLogger(__name__)

DROPOUT_STREAM = 2  # seed stream of the per-step global RNG (dropout)
RNG_SCHEME = "per_step"  # every random draw of step b derives from (seed, rank, b)
_AMP_DTYPES = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class TrainResult:
    """Where a ``train`` call ended: the final step, its last total loss and checkpoint."""

    step: int
    start_step: int
    loss: float | None
    logdir: Path
    checkpoint: Path | None
    model: torch.nn.Module  # the trained embedder (unwrapped), in eval mode


def check_training_config(cfg: TCNConfig) -> None:
    """Settings that make no sense, before anything is built."""
    check_strategy(cfg)
    rules: list[tuple[str, bool, str]] = [
        ("learning.max_step", cfg.learning.max_step >= 0, "must be >= 0"),
        ("learning.learning_rate", cfg.learning.learning_rate > 0, "must be > 0"),
        ("learning.decay_steps", cfg.learning.decay_steps >= 1, "must be >= 1"),
        ("learning.l2_reg_weight", cfg.learning.l2_reg_weight >= 0, "must be >= 0"),
        ("learning.grad_clip_norm", cfg.learning.grad_clip_norm >= 0, "must be >= 0 (0 = off)"),
        (
            "logging.checkpoint.save_checkpoints_steps",
            cfg.logging.checkpoint.save_checkpoints_steps >= 1,
            "must be >= 1",
        ),
        ("logging.checkpoint.num_to_keep", cfg.logging.checkpoint.num_to_keep >= 0, "must be >= 0 (0 = keep all)"),
        ("logging.summary.save_summaries_steps", cfg.logging.summary.save_summaries_steps >= 1, "must be >= 1"),
        ("data.num_workers", cfg.data.num_workers >= 0, "must be >= 0"),
    ]
    for key, ok, what in rules:
        if not ok:
            section, name = key.rsplit(".", 1)
            value = getattr(functools.reduce(getattr, section.split("."), cfg), name)
            raise ConfigError(f"{key} is {value}; it {what}")


def step_seed(seed: int, rank: int, step: int) -> int:
    """The global-RNG seed (dropout) of one training step of one rank."""
    state = np.random.SeedSequence([seed, DROPOUT_STREAM, rank, step]).generate_state(1, np.uint64)[0]
    return int(state >> np.uint64(1))


def _amp_dtype(name: str, device: torch.device) -> torch.dtype | None:
    if name not in _AMP_DTYPES:
        raise ConfigError(f"runtime.amp is '{name}'; choose one of: {', '.join(_AMP_DTYPES)}")
    if _AMP_DTYPES[name] is not None and device.type != "cuda":
        log.warning("runtime.amp=%s needs a GPU; training on %s in float32", name, device)
        return None
    return _AMP_DTYPES[name]


def _check_rng(rng: Any, seed: int, path: Path) -> None:
    """The random state a checkpoint continues from: the per-step scheme and ``seed``
    (with the step, they give every later batch and dropout mask)."""
    if not isinstance(rng, dict) or rng.get("scheme") != RNG_SCHEME or not isinstance(rng.get("seed"), int):
        raise CheckpointError(
            f"{path}: its 'rng' entry ({rng!r}) is not the per-step random state tcn train writes, so the run cannot "
            "continue from it; train in a new --logdir"
        )
    if rng["seed"] != seed:
        raise ConfigError(
            f"seed is {seed} but the run in {path.parent.parent} was trained with seed {rng['seed']} ({path.name}): "
            f"its batches and dropout masks continue only with that seed. Resume it with seed={rng['seed']}, or "
            "train with another seed in a new --logdir"
        )


def _restore(checkpoint_dir: Path, model, optimizer, scaler, seed: int, is_main: bool) -> tuple[int, Path | None]:
    """Load the newest readable checkpoint; ``(step, path)``, or ``(0, None)`` if there is none.

    An unreadable one (e.g. cut short by a full disk) is renamed ``*.corrupt`` by rank 0,
    so nothing picks it up again, and the one before it is used.
    """
    for step, path in reversed(list_checkpoints(checkpoint_dir)):
        try:
            state = load_checkpoint(path)
        except CheckpointError as exc:
            log.warning("skipping unreadable checkpoint: %s", exc)
            if is_main:
                path.rename(path.with_name(path.name + ".corrupt"))
            continue
        _check_rng(state["rng"], seed, path)
        load_model_state(model, state["model"], source=str(path))
        try:
            optimizer.load_state_dict(state["optimizer"])
        except (ValueError, KeyError) as exc:
            raise CheckpointError(
                f"{path}: the optimizer state does not match learning.optimizer / the trainable parameters ({exc}); "
                "train in a new --logdir"
            ) from None
        if scaler.is_enabled() and state["grad_scaler"]:  # else a new scaler (the run was not float16 AMP)
            scaler.load_state_dict(state["grad_scaler"])
        log.info("resumed from %s (step %d)", path, step)
        return int(state["step"]), path
    return 0, None


def _resume(
    checkpoint_dir: Path, model, optimizer, scaler, seed: int, ctx: DistributedContext, resuming: bool
) -> tuple[int, Path | None]:
    """:func:`_restore`, checked: a run with checkpoints resumes from one, the same on every rank."""
    step, last_checkpoint = _restore(checkpoint_dir, model, optimizer, scaler, seed, ctx.is_main)
    if resuming and last_checkpoint is None:
        raise TrainingError(
            f"no checkpoint in {checkpoint_dir} could be read (they were renamed *.corrupt); run the same command "
            "again to start from step 0, with the trunk's pretrained weights"
        )
    if not same_on_all_ranks(step, ctx):
        raise TrainingError(
            f"rank {ctx.rank} resumed from step {step} but other ranks from another step; every process must "
            f"see the same {checkpoint_dir} (a shared filesystem, or copy it to every machine)"
        )
    return step, last_checkpoint


class _Stepper:
    """One optimisation step: forward under autocast, loss + L2 on the head, backward, clip, update."""

    def __init__(
        self, cfg: TCNConfig, ctx: DistributedContext, train_model, metric_loss, optimizer, scaler, model, amp_dtype
    ):
        self.cfg, self.ctx, self.train_model, self.metric_loss = cfg, ctx, train_model, metric_loss
        self.optimizer, self.scaler = optimizer, scaler
        self.head = model.head_parameters()
        self.trainable = [p for p in model.parameters() if p.requires_grad]
        self.autocast = torch.autocast("cuda", dtype=amp_dtype) if amp_dtype is not None else contextlib.nullcontext()

    def run(
        self, batch: dict[str, torch.Tensor], step: int, last_checkpoint: Path | None
    ) -> tuple[float, torch.Tensor, torch.Tensor, float]:
        """Train on ``batch`` as step ``step + 1``; ``(loss averaged over ranks, metric loss, images, lr)``."""
        cfg, ctx, learning = self.cfg, self.ctx, self.cfg.learning
        images = batch["images"].to(ctx.device, non_blocking=True)  # [B, 3, H, W] or [B, K, 3, H, W]
        if cfg.runtime.channels_last and images.dim() == 4:
            images = images.contiguous(memory_format=torch.channels_last)
        torch.manual_seed(step_seed(cfg.seed, ctx.rank, step))  # this step's dropout masks
        lr = lr_at(step, learning.learning_rate, learning.decay_steps, learning.decay_factor)
        set_learning_rate(self.optimizer, lr)
        with self.autocast:
            embeddings = self.train_model(images)  # [B, D]
            metric = self.metric_loss(embeddings, batch)
        total = metric + learning.l2_reg_weight * l2_penalty(self.head).to(metric.device)
        total_mean = float(mean_across_ranks(total, ctx))
        if not np.isfinite(total_mean):
            raise TrainingError(
                f"the loss became {total_mean} at step {step + 1} ({self.metric_loss.tag} "
                f"{float(metric.detach()):.4g}); training stopped, the last good checkpoint is "
                f"{last_checkpoint or 'none (nothing was saved)'}. "
                "Lower learning.learning_rate or set learning.grad_clip_norm, then re-run to resume"
            )
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        if learning.grad_clip_norm > 0:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.trainable, learning.grad_clip_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return total_mean, metric, images, lr


def _save(checkpoint_dir: Path, cfg: TCNConfig, model, optimizer, scaler, step: int, num_to_keep: int) -> Path:
    path = save_checkpoint(
        checkpoint_dir,
        {
            "model": unwrap_model(model).state_dict(),
            "optimizer": optimizer.state_dict(),
            "grad_scaler": scaler.state_dict() if scaler.is_enabled() else {},
            "step": int(step),
            # Batches and dropout masks derive from (seed, rank, step): with the step, the seed is the random state.
            "rng": {"scheme": RNG_SCHEME, "seed": int(cfg.seed)},
            "config": config_to_dict(cfg),
        },
    )
    if num_to_keep > 0:
        for _, old in list_checkpoints(checkpoint_dir)[:-num_to_keep]:
            old.unlink(missing_ok=True)
    return path


def _image_summary(batch: dict[str, torch.Tensor], pairs: bool, max_items: int = 8) -> torch.Tensor:
    """``[3, H', W']`` uint8: anchor | positive rows (pair strategies) or a row of frames."""
    raw = batch["raw"]  # [B, 3, h, w] uint8
    if pairs:
        p = raw.shape[0] // 2
        rows = torch.cat([raw[:p], raw[p:]], dim=3)[:max_items]  # [n, 3, h, 2w]
        return torch.cat(list(rows), dim=1)
    return torch.cat(list(raw[:max_items]), dim=2)


def train(cfg: TCNConfig, logdir: str | Path, device: str | None = None) -> TrainResult:
    """Train (or resume) the run ``cfg`` describes in ``logdir``; see the module docstring."""
    check_training_config(cfg)
    logdir = Path(logdir).expanduser()
    ctx = init_distributed(device, cfg.runtime.device)
    try:
        # The run owns its logdir (rank 0 holds the lock; the other ranks write nothing there).
        with LogdirLock(logdir) if ctx.is_main else contextlib.nullcontext():
            if ctx.is_main:
                for folder in (logdir, logdir / "checkpoints"):  # what a killed run was writing
                    for path in remove_stale_temporaries(folder, any_owner=True):
                        log.info("removed %s, left by a run that was killed while writing it", path)
            return _train(cfg, logdir, ctx)
    finally:
        shutdown_distributed(ctx)


def _train(cfg: TCNConfig, logdir: Path, ctx: DistributedContext) -> TrainResult:
    # ---------------------------------------------------------------- setup
    if cfg.runtime.num_threads > 0:
        torch.set_num_threads(cfg.runtime.num_threads)
    if ctx.device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    torch.manual_seed(cfg.seed)  # initial weights (DDP also broadcasts rank 0's)
    # Resuming, the checkpoint holds every weight: the trunk's pretrained weights are not
    # downloaded or read again (a node without internet or without the file can resume).
    resuming = bool(list_checkpoints(logdir / "checkpoints"))
    model = build_embedder(cfg, load_weights=not resuming).to(ctx.device)
    if cfg.runtime.channels_last:
        model = model.to(memory_format=torch.channels_last)
    sequences = open_split(cfg, "training")
    metric_loss = build_metric_loss(cfg)
    optimizer = build_optimizer(cfg.learning.optimizer, model.parameters(), cfg.learning.learning_rate)
    amp_dtype = _amp_dtype(cfg.runtime.amp, ctx.device)
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
    checkpoint_dir = logdir / "checkpoints"
    max_step = cfg.learning.max_step
    save_every, num_to_keep = cfg.logging.checkpoint.save_checkpoints_steps, cfg.logging.checkpoint.num_to_keep
    summary_every, image_summaries = cfg.logging.summary.save_summaries_steps, cfg.logging.summary.image_summaries
    pairs = cfg.training_strategy != "svtcn"

    # -------------------------------------------------------------- restore
    step, last_checkpoint = _resume(checkpoint_dir, model, optimizer, scaler, int(cfg.seed), ctx, resuming)
    start_step = step
    batches = build_batches(
        cfg, model, sequences, train=True, rank=ctx.rank, start_batch=step, with_raw=image_summaries and ctx.is_main
    )
    metrics = None
    if ctx.is_main and step < max_step:  # a finished run's config keeps describing it
        save_config(cfg, logdir)
        # Also from step 0: a run killed before its first checkpoint may have logged steps.
        metrics = MetricsLog(logdir, purge_step=step, flush_secs=cfg.logging.summary.flush_secs)
    if step >= max_step:
        log.info("already at step %d (learning.max_step %d); nothing to train", step, max_step)
    loader = make_loader(batches, cfg.data.num_workers, pin_memory=ctx.device.type == "cuda")
    stepper = _Stepper(cfg, ctx, wrap_model(model, ctx), metric_loss, optimizer, scaler, model, amp_dtype)
    model.train()
    # A finished run's progress.json keeps describing it, as its config does.
    progress_file = ProgressFile(logdir / PROGRESS_FILE_NAME) if ctx.is_main and step < max_step else None
    progress = Progress(
        total=max_step, initial=step, desc="train", unit="step", mode="auto" if ctx.is_main else "off", logger=log,
        on_report=progress_file, fields={"loss": None, "last_checkpoint": last_checkpoint}, dynamic_ncols=True,
    )  # fmt: skip
    log.info(
        "training %s / %s from step %d to %d on %s", cfg.training_strategy, metric_loss.tag, step, max_step, ctx.device
    )

    # ----------------------------------------------------------------- loop
    data = iter(loader) if step < max_step else iter(())
    last_loss, tick, tick_step = None, time.perf_counter(), step
    try:
        while step < max_step:
            batch = next(data)
            total_mean, metric, images, lr = stepper.run(batch, step, last_checkpoint)
            step += 1
            last_loss = total_mean
            progress.update(1, counts={"images": images.shape[0] * ctx.world_size}, loss=total_mean)

            if step % summary_every == 0 or step == max_step:
                now = time.perf_counter()
                steps_per_sec = (step - tick_step) / max(now - tick, 1e-9)
                images_per_sec = steps_per_sec * images.shape[0] * ctx.world_size
                progress.set_postfix(loss=f"{total_mean:.4f}", img_s=f"{images_per_sec:.0f}")
                metric_mean = float(mean_across_ranks(metric, ctx))
                if metrics is not None:
                    scalars = {"loss": total_mean, f"training/{metric_loss.tag}": metric_mean, "learning_rate": lr}
                    scalars.update({"global_step/sec": steps_per_sec, "images/sec": images_per_sec})
                    metrics.scalars(step, scalars)
                    if image_summaries:
                        tag = "training/mvtcn_pairs" if pairs else "training/svtcn_images"
                        metrics.image(step, tag, _image_summary(batch, pairs))
                log.debug("step %d loss %.4f (%.1f images/s)", step, total_mean, images_per_sec)
                tick, tick_step = now, step
            if ctx.is_main and (step % save_every == 0 or step == max_step):
                last_checkpoint = _save(checkpoint_dir, cfg, model, optimizer, scaler, step, num_to_keep)
                progress.set(last_checkpoint=last_checkpoint)
        broadcast_buffers(model, ctx)  # every rank ends with the model rank 0 saved
    except BaseException:
        if metrics is not None:  # closing must not hide why training stopped
            with contextlib.suppress(OSError):
                metrics.close()
            metrics = None
        raise
    finally:  # ------------------------------------------------------ end
        progress.close()  # "finished" once at max_step, else "stopped"
        del data, loader
        if metrics is not None:
            metrics.close()
    log.info("finished at step %d (loss %s)", step, "n/a" if last_loss is None else f"{last_loss:.4f}")
    return TrainResult(step, start_step, last_loss, logdir, last_checkpoint, model.eval())
