"""Error types shared by the whole package.

They live in ``io`` because ``io`` imports nothing else of ours; every other module
reaches them through :mod:`timecontrast.errors`.
"""

from __future__ import annotations


class TimeContrastError(Exception):
    """A user mistake or bad input. The message names the file or key and the fix.

    The command line prints it without a traceback and exits with status 2.
    """


class RecordError(TimeContrastError):
    """A TFRecord file that is missing, truncated, corrupt or of the wrong kind."""


class VideoError(TimeContrastError):
    """A video file that cannot be opened, decoded or written."""
