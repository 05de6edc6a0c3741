"""The metric loss of a training strategy, applied to a batch's embeddings.

``MetricLoss(kind, ...)`` wraps the pure functions of :mod:`timecontrast.losses` with the
batch layout of :mod:`timecontrast.data.loaders`: pair strategies give
``[anchors; positives]`` with labels unique per pair; svtcn gives timesteps and
sequence ids. ``tag`` is the original's summary name (``training/<tag>``,
``validation/<tag>``).
"""

from __future__ import annotations

from torch import Tensor

from timecontrast import losses
from timecontrast.config import TCNConfig
from timecontrast.errors import ConfigError

# kind -> summary tag (the original's names)
LOSS_TAGS: dict[str, str] = {
    "triplet_semihard": "triplet_semihard",
    "npairs": "npairs",
    "svtcn": "svtcn_loss",
}


class MetricLoss:
    """``loss(embeddings [B, D], batch) -> scalar`` for one of :data:`LOSS_TAGS`."""

    def __init__(
        self,
        kind: str,
        *,
        margin: float = 0.2,
        reg_lambda: float = 0.002,
        pos_radius: int = 6,
        neg_radius: int = 12,
    ) -> None:
        if kind not in LOSS_TAGS:
            raise ConfigError(f"loss '{kind}' is unknown; choose one of: {', '.join(LOSS_TAGS)}")
        self.kind = kind
        self.tag = LOSS_TAGS[kind]
        self.margin, self.reg_lambda = float(margin), float(reg_lambda)
        self.pos_radius, self.neg_radius = int(pos_radius), int(neg_radius)

    def __call__(self, embeddings: Tensor, batch: dict[str, Tensor]) -> Tensor:
        labels = batch["labels"].to(embeddings.device)
        if self.kind == "svtcn":
            return losses.singleview_tcn(
                embeddings,
                batch["timesteps"].to(embeddings.device),
                batch["sequence_ids"].to(embeddings.device),
                pos_radius=self.pos_radius,
                neg_radius=self.neg_radius,
                margin=self.margin,
            )
        if self.kind == "triplet_semihard":
            return losses.triplet_semihard(labels, embeddings, margin=self.margin)
        pairs = embeddings.shape[0] // 2  # [anchors; positives]
        return losses.npairs(labels[:pairs], embeddings[:pairs], embeddings[pairs:], reg_lambda=self.reg_lambda)

    def __repr__(self) -> str:
        return f"MetricLoss({self.kind})"


def build_metric_loss(cfg: TCNConfig) -> MetricLoss:
    """The loss of ``training_strategy`` (svtcn: its own) and ``loss_strategy`` (mvtcn, mftcn)."""
    if cfg.training_strategy == "svtcn":
        return MetricLoss(
            "svtcn",
            margin=cfg.triplet_semihard.margin,
            pos_radius=cfg.svtcn.pos_radius,
            neg_radius=cfg.svtcn.neg_radius,
        )
    if cfg.loss_strategy == "npairs":
        return MetricLoss("npairs", reg_lambda=cfg.npairs.reg_lambda)
    if cfg.loss_strategy == "triplet_semihard":
        return MetricLoss("triplet_semihard", margin=cfg.triplet_semihard.margin)
    raise ConfigError(f"loss_strategy is '{cfg.loss_strategy}'; choose one of: triplet_semihard, npairs")
