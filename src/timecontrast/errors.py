"""All error types of timecontrast, in one place.

Every user mistake raises a subclass of :class:`TimeContrastError`; its message names
the file, record or key at fault and says what to do.
"""

from __future__ import annotations

from timecontrast.io.errors import RecordError, TimeContrastError, VideoError


class ConfigError(TimeContrastError):
    """An unknown key, a value of the wrong type, or an invalid combination of settings."""


class DataError(TimeContrastError):
    """A dataset that does not fit what is asked of it (missing views, too short, ...)."""


class CheckpointError(TimeContrastError):
    """A checkpoint that is missing, incomplete or does not match the model."""


class CaptureError(TimeContrastError):
    """A camera that cannot be opened or stops delivering frames, or a bad capture setting."""


class TrainingError(TimeContrastError):
    """Training cannot go on (e.g. the loss became NaN or infinite); the message names the step."""


class DependencyError(TimeContrastError):
    """An optional dependency, library or system facility (e.g. OpenGL) is missing."""


__all__ = [
    "CaptureError",
    "CheckpointError",
    "ConfigError",
    "DataError",
    "DependencyError",
    "RecordError",
    "TimeContrastError",
    "TrainingError",
    "VideoError",
]
