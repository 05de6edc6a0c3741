"""Configuration: the typed schema, loading with left-to-right merging, saving."""

from timecontrast.config.loader import (
    CHOICES,
    FINAL_CONFIG_NAME,
    config_from_dict,
    config_to_dict,
    default_config,
    load_config,
    load_user_settings,
    packaged_configs,
    parse_override,
    resolve_config_path,
    save_config,
    split_config_paths,
    validate,
)
from timecontrast.config.schema import TCNConfig

__all__ = [
    "CHOICES",
    "FINAL_CONFIG_NAME",
    "TCNConfig",
    "config_from_dict",
    "config_to_dict",
    "default_config",
    "load_config",
    "load_user_settings",
    "packaged_configs",
    "parse_override",
    "resolve_config_path",
    "save_config",
    "split_config_paths",
    "validate",
]
