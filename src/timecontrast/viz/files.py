"""File names of visualisation outputs; atomic writes come from :mod:`timecontrast.io.files`."""

from __future__ import annotations

import os

from timecontrast.io.files import atomic_path

__all__ = ["atomic_path", "safe_name"]


def safe_name(name: str) -> str:
    """A sequence name usable inside a file name ('/' and other separators become '_')."""
    return name.replace("/", "_").replace("\\", "_").replace(os.sep, "_")
