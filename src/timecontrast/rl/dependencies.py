"""The ``rl`` extra's libraries: a missing one is a :class:`DependencyError` naming the fix.

Gymnasium gives the environment API, stable-baselines3 the vectorised environments and
the RL algorithms. Neither is a core dependency, so a module of ``timecontrast.rl`` that
needs one imports it inside ``try`` and turns the ``ImportError`` into
:func:`missing_rl_extra`, or calls :func:`require_rl_extra` first::

    try:
        import gymnasium as gym
    except ImportError as exc:
        raise missing_rl_extra(exc) from None
"""

from __future__ import annotations

import importlib

from timecontrast.errors import DependencyError

INSTALL_HINT = "install the robot-learning extras: pip install -e '.[rl]' (or pip install 'timecontrast[rl]')"
RL_PACKAGES = ("gymnasium", "stable_baselines3")


def missing_rl_extra(exc: ImportError) -> DependencyError:
    """The error for an ``rl`` library that failed to import: which one, and the install command."""
    name = getattr(exc, "name", None) or str(exc)
    return DependencyError(f"timecontrast.rl needs {name}, which is not installed ({exc}); {INSTALL_HINT}")


def require_rl_extra() -> None:
    """Import gymnasium and stable-baselines3 or raise :class:`DependencyError` (for the CLI's checks)."""
    for package in RL_PACKAGES:
        try:
            importlib.import_module(package)
        except ImportError as exc:
            raise missing_rl_extra(exc) from None


__all__ = ["INSTALL_HINT", "RL_PACKAGES", "missing_rl_extra", "require_rl_extra"]
