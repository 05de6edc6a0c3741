"""Validation loss: the mean metric loss over fixed validation batches (the original ``eval``).

Evaluation preprocessing (no augmentation), BatchNorm and dropout in eval mode, no
gradients. The batches come from the validation stream of
:func:`timecontrast.data.loaders.build_batches`, the same ones for every checkpoint, so
the values of successive checkpoints compare (the original drew new pairs every time).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from timecontrast.config import TCNConfig
from timecontrast.data.loaders import SequenceBatches, build_batches, open_split
from timecontrast.models import EmbeddingNetwork
from timecontrast.training.objective import MetricLoss
from timecontrast.training.optim import l2_penalty


def validation_batches(cfg: TCNConfig, embedder: EmbeddingNetwork) -> SequenceBatches:
    """``max(1, val.num_eval_samples // data.batch_size)`` batches of ``data.validation``."""
    sequences = open_split(cfg, "validation")
    num_batches = max(1, int(cfg.val.num_eval_samples) // int(cfg.data.batch_size))
    return build_batches(cfg, embedder, sequences, train=False, num_batches=num_batches)


@torch.no_grad()
def validation_loss(
    model: nn.Module,
    batches: Iterable[dict[str, torch.Tensor]],
    metric_loss: MetricLoss,
    device: torch.device | str = "cpu",
    l2_reg_weight: float = 0.0,
) -> dict[str, float]:
    """``{'validation/<tag>': mean metric loss, 'loss': that plus the L2 penalty}`` over ``batches``."""
    was_training = model.training
    model.eval()
    try:
        values = []
        for batch in batches:
            embeddings = model(batch["images"].to(device, non_blocking=True))  # [B, D]
            values.append(float(metric_loss(embeddings, batch)))
    finally:
        model.train(was_training)
    if not values:
        raise ValueError("validation_loss got no batches")
    mean = sum(values) / len(values)
    head = getattr(model, "head_parameters", None)
    reg = float(l2_penalty(head())) * l2_reg_weight if head is not None and l2_reg_weight else 0.0
    return {f"validation/{metric_loss.tag}": mean, "loss": mean + reg}
