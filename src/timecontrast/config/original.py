"""Keys of the original TensorFlow release's configs, mapped onto this project's schema.

The original's ``tcn_default.yml``, ``pouring.yml`` and ``test_estimator.yml`` load as
they are. :func:`translate_original_keys` rewrites one source (a file, ``--model_params``
or an override) before it is checked against the schema:

- keys with no effect here (:data:`IGNORED`) are dropped, each with the reason;
- renamed keys (:data:`RENAMED`) move to their new name;
- values whose form changed are converted (:data:`SIZE_LISTS`: ``'1024_512'`` / ``'None'``
  strings to lists; ``resnet.adaptation_blocks`` to ``resnet.adaptation_channels``).

:func:`warn_original_keys` then logs one warning listing every ignored key and one
listing every mapped key. A key that neither release knows stays an error (the loader
checks the rewritten source against the schema). A ``pretrained_checkpoint`` naming a
TF-slim ``.ckpt`` is handled where weights are loaded (``models/backbones.py``): that
path is kept, and only the trunk actually built falls back to torchvision's weights.
"""

from __future__ import annotations

import copy
import difflib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from timecontrast.errors import ConfigError

logger = logging.getLogger(__name__)

_TPU = "TPUs are not supported here; runtime.device picks the CPU or a GPU"
_UNUSED_LOSS = "a loss the original configured but never implemented"
_TF_DATA = "tf.data tuning; data.num_workers sets the DataLoader's worker processes instead"

# Keys of the original that have no effect here, and why.
IGNORED: dict[str, str] = {
    "use_tpu": _TPU,
    "tpu.num_shards": _TPU,
    "tpu.iterations": _TPU,
    "clustering_loss.embedding_l2": _UNUSED_LOSS,
    "clustering_loss.margin": _UNUSED_LOSS,
    "lifted_struct.embedding_l2": _UNUSED_LOSS,
    "lifted_struct.margin": _UNUSED_LOSS,
    "contrastive.embedding_l2": _UNUSED_LOSS,
    "contrastive.margin": _UNUSED_LOSS,
    "data.num_parallel_calls": _TF_DATA,
    "data.sequence_prefetch_size": _TF_DATA,
    "data.batch_prefetch_size": _TF_DATA,
    "data.eval_batch_size": "unused in the original too; validation batches use data.batch_size",
    "data.raw_height": "the original's video canvas size; frame sizes are read from the records here",
    "data.raw_width": "the original's video canvas size; frame sizes are read from the records here",
    "logging.checkpoint.secs": "unused in the original too; checkpoints are saved by step (save_checkpoints_steps)",
    "logging.summary.save_summaries_secs": "unused in the original too; summaries are written by step "
    "(save_summaries_steps)",
    "resnet.emb_connection": "the ResNet head here always ends in a linear embedding layer after the "
    "resnet.fc_hidden_sizes FC layers: 'conv' (with fc_hidden_sizes 'None', as in tcn_default.yml) is that "
    "layer alone, 'fc' adds the hidden layers",
}

# Sections only the original has: they go once their keys above are taken out.
ORIGINAL_SECTIONS: tuple[str, ...] = ("tpu", "clustering_loss", "lifted_struct", "contrastive")

# Renamed keys: the original's name -> ours, and what the mapping means.
RENAMED: dict[str, tuple[str, str]] = {
    "inception_conv_ss_fc.finetune_inception": (
        "inception_conv_ss_fc.finetune",
        "pouring.yml's name for it; the original's code read only 'finetune', here it sets finetune as meant",
    ),
}

# Lists of layer sizes the original could also write as one '_'-separated string ('None' = no layers).
SIZE_LISTS: tuple[str, ...] = (
    "resnet.fc_hidden_sizes",
    "inception_conv_ss_fc.fc_hidden_sizes",
    "inception_conv_ss_fc.additional_conv_sizes",
)

# The original's resnet_v2 adaptation blocks ('<depth>_<units>' joined by '-') -> our adaptation convs.
ADAPTATION_BLOCKS = ("resnet.adaptation_blocks", "resnet.adaptation_channels")
EMB_CONNECTIONS = ("conv", "fc")


@dataclass(frozen=True)
class OriginalKey:
    """What was done with one key of the original release: ignored, or mapped (renamed/converted)."""

    key: str  # the original's dotted key, as given
    source: str  # the file (or --model_params / override) that gave it
    ignored: bool
    detail: str  # ignored: why; mapped: "new_key: value (why)"


def _lookup(tree: Mapping[str, Any], dotted: str) -> tuple[bool, Any]:
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _pop(tree: dict[str, Any], dotted: str) -> Any:
    *parents, last = dotted.split(".")
    node = tree
    for part in parents:
        node = node[part]
    return node.pop(last)


def _put(tree: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    node = tree
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def _show(value: Any) -> str:
    """A value as YAML writes it inline (``false``, ``[512, 512]``, ``'None'``)."""
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value) if isinstance(value, str) else str(value)


def parse_sizes(value: str, key: str, source: str) -> list[int]:
    """The original's ``'1024_512'`` (or ``'None'``/``''`` for no layers) as ``[1024, 512]``."""
    text = value.strip()
    if text in ("", "None", "none"):
        return []
    try:
        sizes = [int(part) for part in text.split("_")]
    except ValueError:
        sizes = []
    if not sizes or any(s < 1 for s in sizes):
        raise ConfigError(
            f"{source}: '{key}' is {value!r}; give a list of sizes, e.g. [1024, 512] "
            "(the original's form '1024_512', or 'None' for no layers, is read too)"
        )
    return sizes


def parse_adaptation_blocks(value: Any, source: str) -> list[int]:
    """The original's ``'512_3-512_3'`` (blocks of ``<depth>_<units>``) as ``[512, 512]``."""
    key = ADAPTATION_BLOCKS[0]
    text = str(value).strip() if value is not None else ""
    if text in ("", "None", "none"):
        return []
    depths = []
    for block in text.split("-"):
        depth, _, units = block.partition("_")
        if not (depth.isdigit() and units.isdigit() and int(depth) > 0 and int(units) > 0):
            raise ConfigError(
                f"{source}: '{key}' is {value!r}; the original's form is blocks of '<depth>_<units>' joined by "
                f"'-' (e.g. '512_3-512_3'); or set {ADAPTATION_BLOCKS[1]} to a list of channels, e.g. [512, 512]"
            )
        depths.append(int(depth))
    return depths


def translate_original_keys(data: Mapping[str, Any], source: str) -> tuple[dict[str, Any], list[OriginalKey]]:
    """``data`` (one source's nested keys) rewritten into this project's keys, and what was done.

    Keys neither release knows are left in place for the schema check to report. Raises
    :class:`ConfigError` naming ``source`` when a value of the original's form is malformed
    or a source gives both an original key and the key that replaces it with other values.
    """
    out: dict[str, Any] = copy.deepcopy(dict(data))
    done: list[OriginalKey] = []
    for key, why in IGNORED.items():
        found, value = _lookup(out, key)
        if not found:
            continue
        if key == "resnet.emb_connection" and value not in EMB_CONNECTIONS:
            raise ConfigError(
                f"{source}: '{key}' is {value!r}; the original allowed {' or '.join(EMB_CONNECTIONS)} "
                "(and it has no effect here: remove it)"
            )
        _pop(out, key)
        done.append(OriginalKey(key, source, True, why))
    for section in ORIGINAL_SECTIONS:
        found, value = _lookup(out, section)
        if not found:
            continue
        known = original_keys_under(f"{section}.")
        if isinstance(value, Mapping) and value:
            unknown = str(next(iter(value)))
            close = difflib.get_close_matches(unknown, known, n=1, cutoff=0.5)
            hint = f"did you mean '{section}.{close[0]}'?" if close else f"it has {', '.join(known)}"
            raise ConfigError(
                f"{source}: unknown config key '{section}.{unknown}' in a section of the original release; {hint} "
                "(that section has no effect here)"
            )
        if value is not None and not isinstance(value, Mapping):
            raise ConfigError(
                f"{source}: '{section}' is a section of the original release ({', '.join(known)}), got {value!r}; "
                "it has no effect here: remove it"
            )
        _pop(out, section)
    for old, (new, why) in RENAMED.items():
        found, value = _lookup(out, old)
        if not found:
            continue
        _pop(out, old)
        has_new, new_value = _lookup(out, new)
        if has_new and new_value != value:
            done.append(OriginalKey(old, source, True, f"this source also sets {new}: {_show(new_value)}, which wins"))
            continue
        _put(out, new, value)
        done.append(OriginalKey(old, source, False, f"{new}: {_show(value)} ({why})"))
    for key in SIZE_LISTS:
        found, value = _lookup(out, key)
        if found and isinstance(value, str):
            sizes = parse_sizes(value, key, source)
            _put(out, key, sizes)
            done.append(OriginalKey(key, source, False, f"{key}: {sizes} (from {_show(value)}: sizes are a list here)"))
    old, new = ADAPTATION_BLOCKS
    found, value = _lookup(out, old)
    if found:
        channels = parse_adaptation_blocks(value, source)
        _pop(out, old)
        has_new, new_value = _lookup(out, new)
        if has_new and list(new_value or []) != channels:
            raise ConfigError(f"{source}: both '{old}' (the original's key) and '{new}' are given; keep '{new}' alone")
        _put(out, new, channels)
        done.append(
            OriginalKey(
                old,
                source,
                False,
                f"{new}: {channels} (from {_show(value)}: one 3x3 conv + BN + ReLU of each block's depth replaces "
                "each block of resnet_v2 bottleneck units)",
            )
        )
    return out, done


def original_keys_under(prefix: str) -> list[str]:
    """Names of the original's keys (ignored or renamed) directly under ``prefix`` ('' = top level)."""
    names = list(ORIGINAL_SECTIONS) if not prefix else []
    for dotted in (*IGNORED, *RENAMED, ADAPTATION_BLOCKS[0]):
        head, _, name = dotted.rpartition(".")
        if (f"{head}." if head else "") == prefix:
            names.append(name)
    return names


def _sources(keys: Sequence[OriginalKey]) -> str:
    return ", ".join(dict.fromkeys(k.source for k in keys))


def warn_original_keys(done: Sequence[OriginalKey]) -> None:
    """One warning listing the ignored keys (grouped by reason), one listing the mapped keys."""
    ignored = [k for k in done if k.ignored]
    mapped = [k for k in done if not k.ignored]
    if ignored:
        by_reason: dict[str, list[str]] = {}
        for k in ignored:
            keys = by_reason.setdefault(k.detail, [])
            if k.key not in keys:
                keys.append(k.key)
        lines = [f"  {', '.join(keys)}: {why}" for why, keys in by_reason.items()]
        logger.warning(
            "%d key(s) of the original TensorFlow release have no effect here and are ignored (from %s; "
            "remove them to silence this warning):\n%s",
            sum(len(v) for v in by_reason.values()),
            _sources(ignored),
            "\n".join(lines),
        )
    if mapped:
        lines = list(dict.fromkeys(f"  {k.key} -> {k.detail}" for k in mapped))
        logger.warning(
            "%d key(s) of the original TensorFlow release are mapped to this project's keys (from %s; "
            "write the new keys to silence this warning):\n%s",
            len(lines),
            _sources(mapped),
            "\n".join(lines),
        )


__all__ = [
    "IGNORED",
    "ORIGINAL_SECTIONS",
    "RENAMED",
    "SIZE_LISTS",
    "OriginalKey",
    "original_keys_under",
    "parse_adaptation_blocks",
    "parse_sizes",
    "translate_original_keys",
    "warn_original_keys",
]
