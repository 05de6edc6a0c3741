"""Argument helpers shared by the subcommands."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from timecontrast.config import TCNConfig


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """``--config_paths``, ``--model_params`` and trailing ``key=value`` overrides."""
    parser.add_argument(
        "--config_paths",
        default="",
        help="YAML config files applied left to right, comma separated; shipped configs by bare name "
        "(default.yaml, demo.yaml, demo_mftcn.yaml, pouring.yaml; and the original release's tcn_default.yml, "
        "pouring.yml, test_estimator.yml); a logdir's final_training_config.yaml alone rebuilds a run. Configs "
        "of the original release load as they are: its keys with no effect here are ignored and renamed ones "
        "mapped, each with a warning (docs/training.md)",
    )
    parser.add_argument("--model_params", default="", help="a YAML string merged after the files")
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="key=value",
        help="dotted overrides applied last, e.g. data.batch_size=12 learning.max_step=100",
    )


def config_from_args(args: argparse.Namespace) -> TCNConfig:
    from timecontrast.config import load_config

    return load_config(args.config_paths, args.model_params or None, args.overrides)
