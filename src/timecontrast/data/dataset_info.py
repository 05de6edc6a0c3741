"""``dataset.json``: what a dataset written by ``tcn synth`` says about itself.

The readers check what they read: a damaged file (not UTF-8, not JSON, not an object, or
``attributes`` of another shape) is a :class:`DataError` naming the file and the fix, and
for class names (cosmetic) a warning after which labels show as numbers.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from timecontrast.errors import DataError

log = logging.getLogger(__name__)

_DATASET_JSON_FIX = (
    "tcn synth writes it last, so a damaged one is usually an interrupted or edited copy: "
    "copy it again or regenerate the dataset"
)
_warned_class_names: set[str] = set()


def read_dataset_info(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON object of a dataset's ``dataset.json`` (as ``tcn synth`` writes it).

    Raises :class:`DataError` naming the file when it is not UTF-8, not valid JSON or not
    a JSON object; OSError when it cannot be read at all.
    """
    p = Path(path)
    raw = p.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{p}: not UTF-8 text (byte {raw[exc.start : exc.start + 1]!r} at offset {exc.start}); {_DATASET_JSON_FIX}"
        ) from None
    try:
        info = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{p}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); {_DATASET_JSON_FIX}"
        ) from None
    if not isinstance(info, dict):
        raise DataError(f"{p}: must hold a JSON object, got a JSON {type(info).__name__}; {_DATASET_JSON_FIX}")
    return info


def dataset_class_names(info: dict[str, Any], source: str = "dataset.json") -> dict[str, list[str]]:
    """``{attribute: [class name, ...]}`` from a dataset.json's ``attributes`` (a list of
    ``{"name": ..., "classes": [...]}``; attributes without classes are left out).
    Raises :class:`DataError` naming ``source`` when ``attributes`` has another shape."""
    attributes = info.get("attributes", [])
    if not isinstance(attributes, list):
        raise DataError(f"{source}: 'attributes' must be a list, got {type(attributes).__name__}; {_DATASET_JSON_FIX}")
    names: dict[str, list[str]] = {}
    for i, attribute in enumerate(attributes):
        if not isinstance(attribute, dict) or not isinstance(attribute.get("name"), str):
            raise DataError(f"{source}: attributes[{i}] must be an object with a 'name'; {_DATASET_JSON_FIX}")
        classes = attribute.get("classes")
        if classes is None:
            continue
        if not isinstance(classes, list):
            raise DataError(
                f"{source}: attributes[{i}] ('{attribute['name']}'): 'classes' must be a list of names; "
                f"{_DATASET_JSON_FIX}"
            )
        names[attribute["name"]] = [str(c) for c in classes]
    return names


def read_class_names(path: str | os.PathLike) -> dict[str, list[str]]:
    """``{attribute: [class name, ...]}`` from a dataset.json's ``attributes``; {} when the
    file is missing or holds none. A damaged file is a warning (logged once per file) and
    {}: class names are cosmetic, the labels stay usable as numbers."""
    p = Path(path)
    if not p.is_file():
        return {}
    try:
        return dataset_class_names(read_dataset_info(p), str(p))
    except (OSError, DataError) as exc:
        message = str(exc) if isinstance(exc, DataError) else f"{p}: cannot read it ({exc})"
        if message not in _warned_class_names:
            _warned_class_names.add(message)
            log.warning("%s; labels are shown as numbers", message)
        return {}
