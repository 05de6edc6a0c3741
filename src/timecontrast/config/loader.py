"""Load, merge, validate and save configurations.

Order of application: the schema defaults, then each ``--config_paths`` file left to
right, then ``--model_params`` (a YAML string), then ``key=value`` overrides.
Dictionaries merge deeply; lists and scalars are replaced.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from timecontrast.config.original import (
    OriginalKey,
    original_keys_under,
    translate_original_keys,
    warn_original_keys,
)
from timecontrast.config.schema import TCNConfig
from timecontrast.errors import ConfigError
from timecontrast.io.files import write_text

FINAL_CONFIG_NAME = "final_training_config.yaml"

# Allowed values of the string switches. The registries that implement them check too.
CHOICES: dict[str, tuple[str, ...]] = {
    "training_strategy": ("mvtcn", "svtcn", "mftcn"),
    "loss_strategy": ("triplet_semihard", "npairs"),
    "embedder_strategy": ("inception_conv_ss_fc", "resnet", "small_conv", "multi_frame"),
    "learning.optimizer": ("adam", "momentum", "rmsprop"),
    "data.preprocessing.eval_cropping": ("crop_center", "pad", "pad200", "pad_crop_central", "full"),
    "inception_conv_ss_fc.pretrained": ("none", "imagenet"),
    "resnet.pretrained": ("none", "imagenet"),
    "multi_frame.pretrained": ("none", "imagenet"),
    "resnet.pooling": ("avg", "spatial_softmax"),
    "small_conv.pooling": ("avg", "spatial_softmax"),
    "multi_frame.pooling": ("avg", "spatial_softmax"),
    "multi_frame.trunk": ("small_conv", "resnet", "inception_conv_ss_fc", "r3d_18", "r2plus1d_18"),
    "runtime.amp": ("none", "bf16", "fp16"),
}


class _DuplicateKeyError(Exception):
    pass


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that rejects a key given twice in one mapping."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False):
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        line = key_node.start_mark.line + 1
        if key in seen:
            raise _DuplicateKeyError(f"key '{key}' is given twice (lines {seen[key]} and {line}); keep one of them")
        seen[key] = line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """One line from a YAML error: what is wrong and where (PyYAML's own text spans lines)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return " ".join(f"{problem}{where}".split())


def parse_yaml(text: str, source: str) -> dict[str, Any]:
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except _DuplicateKeyError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML ({_yaml_problem(exc)}); fix the file") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: a config must be a mapping of keys to values, got {type(data).__name__}")
    return dict(data)


def _schema_keys(cls: type = TCNConfig) -> dict[str, Any]:
    """Nested dict of the schema's keys; a nested dataclass maps to its own dict."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        out[f.name] = _schema_keys(type(default)) if dataclasses.is_dataclass(default) else None
    return out


def _check_keys(data: Mapping[str, Any], schema: Mapping[str, Any], source: str, prefix: str = "") -> None:
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if not isinstance(key, str):
            raise ConfigError(f"{source}: key {key!r} under '{prefix or '<top>'}' must be a string")
        if key not in schema:
            original = original_keys_under(prefix)
            close = difflib.get_close_matches(key, [*schema, *original], n=1, cutoff=0.5)
            if close and close[0] in original:
                hint = f"; did you mean '{prefix}{close[0]}' (a key of the original release)?"
            elif close:
                hint = f"; did you mean '{prefix}{close[0]}'?"
            else:
                hint = f"; valid keys here: {', '.join(schema)}"
            raise ConfigError(f"{source}: unknown config key '{dotted}'{hint}")
        sub = schema[key]
        if sub is not None:
            if not isinstance(value, Mapping):
                raise ConfigError(f"{source}: '{dotted}' is a section and needs a mapping of keys, got {value!r}")
            _check_keys(value, sub, source, prefix=f"{dotted}.")


def check_keys(data: Mapping[str, Any], source: str) -> None:
    """Raise :class:`ConfigError` naming ``source`` and the closest valid key for an unknown key."""
    _check_keys(data, _schema_keys(), source)


def translate(data: Mapping[str, Any], source: str, done: list[OriginalKey]) -> dict[str, Any]:
    """``data`` with the original release's keys rewritten (see ``config/original.py``).

    What was ignored or mapped is appended to ``done`` for :func:`warn_original_keys`.
    """
    out, changes = translate_original_keys(data, source)
    done.extend(changes)
    return out


def _merge(base: DictConfig, data: Mapping[str, Any], source: str) -> DictConfig:
    check_keys(data, source)
    try:
        return OmegaConf.merge(base, data)  # type: ignore[return-value]
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None) or "?"
        msg = str(exc).splitlines()[0]
        raise ConfigError(f"{source}: bad value for '{key}': {msg}") from None


def split_config_paths(config_paths: str | Sequence[str] | None) -> list[str]:
    """``a.yaml,b.yaml`` (or ``a.yaml#b.yaml`` as the original allowed) into a list."""
    if not config_paths:
        return []
    if isinstance(config_paths, str):
        sep = "," if "," in config_paths else "#"
        return [p.strip() for p in config_paths.split(sep) if p.strip()]
    return [str(p) for p in config_paths]


def parse_override(item: str) -> dict[str, Any]:
    """``data.batch_size=12`` into ``{'data': {'batch_size': 12}}`` (the value read as YAML)."""
    if "=" not in item:
        raise ConfigError(f"command line: override '{item}' must look like key=value, e.g. data.batch_size=12")
    key, _, raw = item.partition("=")
    key = key.strip()
    if not key:
        raise ConfigError(f"command line: override '{item}' has no key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    nested: dict[str, Any] = {}
    node = nested
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return nested


def _select(cfg: TCNConfig, dotted: str) -> Any:
    """The value of a dotted key (``data.batch_size``)."""
    return functools.reduce(getattr, dotted.split("."), cfg)


def validate(cfg: TCNConfig, source: str = "config") -> None:
    """Check choices and cross-key rules that a type alone cannot express."""
    for dotted, allowed in CHOICES.items():
        value = _select(cfg, dotted)
        if value not in allowed:
            close = difflib.get_close_matches(str(value), allowed, n=1, cutoff=0.4)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(f"{source}: '{dotted}' is '{value}'{hint}; choose one of: {', '.join(allowed)}")
    if cfg.svtcn.neg_radius <= cfg.svtcn.pos_radius:
        raise ConfigError(
            f"{source}: svtcn.neg_radius ({cfg.svtcn.neg_radius}) must be greater than "
            f"svtcn.pos_radius ({cfg.svtcn.pos_radius})"
        )
    for dotted in (
        "data.batch_size",
        "data.examples_per_sequence",
        "data.embed_batch_size",
        "data.num_views",
        "data.height",
        "data.width",
        "embedding_size",
    ):
        if _select(cfg, dotted) < 1:
            raise ConfigError(f"{source}: '{dotted}' must be at least 1")
    if any(k < 1 for k in cfg.val.recall_at_k_list):
        raise ConfigError(f"{source}: 'val.recall_at_k_list' values must be at least 1")


def _defaults() -> DictConfig:
    cfg = OmegaConf.structured(TCNConfig)
    OmegaConf.set_struct(cfg, True)
    return cfg


def _as_schema(cfg: DictConfig) -> TCNConfig:
    """``cfg`` typed as the schema it was built from.

    Every config here is a struct-mode ``DictConfig`` made from :class:`TCNConfig` and
    merged only with checked keys, so it has the schema's keys and value types: annotating
    it as the dataclass is OmegaConf's pattern for typed access to structured configs,
    which a type checker cannot follow through ``OmegaConf.merge``.
    """
    return cast(TCNConfig, cfg)


def default_config() -> TCNConfig:
    """The schema defaults, as a struct-mode config (unknown keys are errors)."""
    return _as_schema(_defaults())


PACKAGE_CONFIGS = Path(__file__).resolve().parent.parent / "configs"
# Reconstructions of the original release's tcn_default.yml, pouring.yml and test_estimator.yml.
ORIGINAL_CONFIGS = PACKAGE_CONFIGS / "original"


def packaged_configs() -> list[str]:
    """Names of the configs shipped in the package (``demo.yaml``, ..., the original's ``pouring.yml``, ...)."""
    ours = sorted(p.name for p in PACKAGE_CONFIGS.glob("*.yaml"))
    return ours + sorted(p.name for p in ORIGINAL_CONFIGS.glob("*.yml"))


def read_config_text(path: Path) -> str:
    """The text of a config file, which must be UTF-8 (a byte-order mark is allowed).

    Raises :class:`ConfigError` naming the file and the first byte that is not UTF-8.
    """
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {raw[exc.start : exc.start + 1]!r} at offset {exc.start}, line {line}); "
            "save it as UTF-8 (e.g. 'iconv -f latin1 -t utf-8') and try again"
        ) from None


def _packaged_candidates(name: str) -> list[Path]:
    """Where a bare name may be shipped: the name as given first, then with the other suffix."""
    stem, suffix = os.path.splitext(name)
    if suffix in (".yaml", ".yml"):
        names = [name, stem + (".yml" if suffix == ".yaml" else ".yaml")]
    else:
        names = [name + ".yaml", name + ".yml"]
    return [folder / n for n in names for folder in (PACKAGE_CONFIGS, ORIGINAL_CONFIGS)]


def resolve_config_path(path: str | os.PathLike) -> Path:
    """A config file: the path as given when it exists, else a bare name of a packaged config.

    ``demo.yaml`` (or ``demo``, or ``demo.yml``) finds ``timecontrast/configs/demo.yaml`` from
    any directory, and ``tcn_default.yml`` / ``pouring.yml`` / ``test_estimator.yml`` the
    reconstructions of the original release's configs (``pouring`` and ``pouring.yaml`` are
    this project's); a file of that name in the current directory comes first.
    """
    p = Path(path).expanduser()
    if p.is_file():
        return p
    if p.parent == Path("."):
        for candidate in _packaged_candidates(p.name):
            if candidate.is_file():
                return candidate
    raise ConfigError(
        f"config file '{path}' does not exist; check --config_paths (packaged configs, usable by name: "
        f"{', '.join(packaged_configs())})"
    )


def load_config_file(path: str | os.PathLike) -> dict[str, Any]:
    """The keys of one config file (a path, or the name of a packaged config), unmerged.

    Raises :class:`ConfigError` naming the file when it is missing, not UTF-8, not valid
    YAML, gives a key twice or is not a mapping.
    """
    p = resolve_config_path(path)
    return parse_yaml(read_config_text(p), str(p))


def load_config(
    config_paths: str | Sequence[str] | None = None,
    model_params: str | Mapping[str, Any] | None = None,
    overrides: Iterable[str] = (),
) -> TCNConfig:
    """Build the final config: defaults, files left to right, model_params, overrides.

    Returns an OmegaConf ``DictConfig`` of the :class:`TCNConfig` schema (typed as it) with
    dot access (``cfg.learning.learning_rate``) and dict access (``cfg['learning']``).
    Raises :class:`ConfigError` naming the file.
    """
    cfg = _defaults()
    done: list[OriginalKey] = []
    for source, data in _user_sources(config_paths, model_params, overrides):
        cfg = _merge(cfg, translate(data, source, done), source)
    warn_original_keys(done)
    typed = _as_schema(cfg)
    validate(typed)
    return typed


def _user_sources(
    config_paths: str | Sequence[str] | None, model_params: str | Mapping[str, Any] | None, overrides: Iterable[str]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(source name, keys)`` of each file, ``--model_params`` and override, in the order they apply."""
    for path in split_config_paths(config_paths):
        p = resolve_config_path(path)
        yield str(p), load_config_file(p)
    if model_params:
        data = parse_yaml(model_params, "--model_params") if isinstance(model_params, str) else dict(model_params)
        yield "--model_params", data
    for item in overrides:
        yield f"command line override '{item}'", parse_override(item)


def load_user_settings(
    config_paths: str | Sequence[str] | None = None,
    model_params: str | Mapping[str, Any] | None = None,
    overrides: Iterable[str] = (),
) -> dict[str, Any]:
    """Only the keys the user's files, ``--model_params`` and overrides set, merged in order.

    As :func:`load_config` without the defaults (to apply over a checkpoint's config): the
    original release's keys are mapped or ignored with warnings; an unknown key is an error.
    """
    done: list[OriginalKey] = []
    parts = []
    for source, data in _user_sources(config_paths, model_params, overrides):
        data = translate(data, source, done)
        check_keys(data, source)
        parts.append(OmegaConf.create(data))
    warn_original_keys(done)
    merged = OmegaConf.merge(*parts) if parts else OmegaConf.create({})
    return OmegaConf.to_container(merged)  # type: ignore[return-value]


def save_config(cfg: TCNConfig, logdir: str | os.PathLike) -> Path:
    """Write ``final_training_config.yaml`` into ``logdir`` atomically; return its path."""
    logdir = Path(logdir)
    logdir.mkdir(parents=True, exist_ok=True)
    target = logdir / FINAL_CONFIG_NAME
    text = "# The merged configuration of this run. `tcn ... --config_paths` this file alone rebuilds it.\n"
    text += OmegaConf.to_yaml(cfg, sort_keys=False)
    return write_text(target, text, durable=True)


def config_to_dict(cfg: TCNConfig) -> dict[str, Any]:
    """A plain nested dict (e.g. to store inside a checkpoint)."""
    return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]


def config_from_dict(data: Mapping[str, Any], source: str = "checkpoint") -> TCNConfig:
    """Rebuild a validated config from a plain dict (the inverse of :func:`config_to_dict`)."""
    cfg = _as_schema(_merge(_defaults(), data, source))
    validate(cfg, source)
    return cfg
