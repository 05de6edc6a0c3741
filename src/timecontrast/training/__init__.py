"""Training: the loop, optimisers and schedule, distributed setup, validation loss."""

from timecontrast.training.objective import LOSS_TAGS, MetricLoss, build_metric_loss
from timecontrast.training.optim import OPTIMIZERS, build_optimizer, l2_penalty, lr_at
from timecontrast.training.trainer import TrainResult, check_training_config, train
from timecontrast.training.validation import validation_batches, validation_loss

__all__ = [
    "LOSS_TAGS",
    "OPTIMIZERS",
    "MetricLoss",
    "TrainResult",
    "build_metric_loss",
    "build_optimizer",
    "check_training_config",
    "l2_penalty",
    "lr_at",
    "train",
    "validation_batches",
    "validation_loss",
]
