"""File names of visualisation outputs (atomic writes: :mod:`timecontrast.io.files`)."""

from __future__ import annotations

import os


def safe_name(name: str) -> str:
    """A sequence name usable inside a file name ('/' and other separators become '_')."""
    return name.replace("/", "_").replace("\\", "_").replace(os.sep, "_")
