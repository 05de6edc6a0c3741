"""Headless OpenGL for MuJoCo: pick the backend, and fail with a useful message.

MuJoCo chooses its OpenGL backend from the ``MUJOCO_GL`` environment variable when
``mujoco`` is first imported. Without a display the usual choice is EGL (GPU or Mesa's
software rasteriser) or OSMesa (software only). We set ``MUJOCO_GL=egl`` when it is unset,
before importing mujoco, and turn every failure to create a context into a
:class:`~timecontrast.errors.DependencyError` that says which values were tried and how to
install them, instead of a crash deep inside PyOpenGL.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from types import ModuleType
from typing import Any

from timecontrast.errors import DependencyError

logger = logging.getLogger(__name__)

DEFAULT_GL = "egl"
# Headless backends worth probing when the chosen one fails; glx needs a display.
HEADLESS_BACKENDS = ("egl", "osmesa")
INSTALL_HINT = (
    "Install a headless OpenGL library and select it: EGL with `apt-get install libegl1` "
    "(then MUJOCO_GL=egl), or software OSMesa with `apt-get install libosmesa6` "
    "(then MUJOCO_GL=osmesa)."
)
_PROBE = "import mujoco; c = mujoco.GLContext(8, 8); c.make_current(); c.free()"


def import_mujoco() -> ModuleType:
    """Import ``mujoco`` with ``MUJOCO_GL`` set (``egl`` when unset).

    Raises:
        DependencyError: mujoco is not installed, or ``MUJOCO_GL`` holds a value it rejects.
    """
    if "MUJOCO_GL" not in os.environ:
        if "mujoco" in sys.modules:
            logger.debug("mujoco was imported before MUJOCO_GL was set; keeping its choice")
        else:
            os.environ["MUJOCO_GL"] = DEFAULT_GL
    # PyOpenGL announces at INFO level that its optional accelerator module is missing.
    logging.getLogger("OpenGL.acceleratesupport").setLevel(logging.WARNING)
    try:
        import mujoco
    except ImportError as exc:
        raise DependencyError(
            f"MuJoCo is not installed ({exc}). Install the simulation extras: pip install 'timecontrast[sim]'"
        ) from exc
    except RuntimeError as exc:  # mujoco rejects an unknown MUJOCO_GL value at import
        raise DependencyError(
            f"MuJoCo could not start with MUJOCO_GL={os.environ.get('MUJOCO_GL')!r}: {exc}. "
            f"Valid headless values are {', '.join(HEADLESS_BACKENDS)}. {INSTALL_HINT}"
        ) from exc
    return mujoco


def probe_backend(backend: str, timeout_s: float = 60.0) -> str | None:
    """Try to create a MuJoCo GL context with ``MUJOCO_GL=backend`` in a fresh process.

    A fresh process is needed because PyOpenGL fixes its platform on first import.
    Returns None when it works, else a one-line reason.
    """
    env = dict(os.environ, MUJOCO_GL=backend)
    env.pop("PYOPENGL_PLATFORM", None)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if proc.returncode == 0:
        return None
    lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    return lines[-1] if lines else f"exit status {proc.returncode}"


def no_gl_error(backend: str, exc: BaseException) -> DependencyError:
    """The error for a failed context: what was tried, what failed, what to install."""
    tried = [(backend, f"{type(exc).__name__}: {exc}".strip())]
    candidates = list(HEADLESS_BACKENDS) + (["glx"] if os.environ.get("DISPLAY") else [])
    working = []
    for other in candidates:
        if other == backend:
            continue
        reason = probe_backend(other)
        if reason is None:
            working.append(other)
        else:
            tried.append((other, reason))
    report = "; ".join(f"MUJOCO_GL={name}: {reason}" for name, reason in tried)
    message = f"No usable OpenGL for MuJoCo rendering. Tried {report}."
    if working:
        message += f" MUJOCO_GL={working[0]} works on this machine: export MUJOCO_GL={working[0]} and run again."
    else:
        message += f" {INSTALL_HINT}"
    return DependencyError(message)


def _load_torchvision_ops_first() -> None:
    """Load torchvision's compiled ops, when installed, before the first GL context.

    Loading them after MuJoCo has created an EGL context crashes the process (a
    segmentation fault, seen with torchvision 0.29 and mujoco 3.17 on Mesa's EGL), so a
    program that renders and then trains (``tcn demo``, a notebook) would die.
    """
    if "torchvision.ops" in sys.modules:
        return
    try:
        import torchvision.ops  # noqa: F401
    except Exception:  # not installed or broken: nothing to protect
        logger.debug("torchvision not importable before rendering", exc_info=True)


def create_render_context(mujoco: ModuleType, model: Any, width: int, height: int) -> tuple[Any, Any]:
    """A current offscreen GL context and MuJoCo's render context (``MjrContext``) for ``model``.

    Raises:
        DependencyError: no backend could create a context (see :func:`no_gl_error`).
    """
    _load_torchvision_ops_first()
    backend = os.environ.get("MUJOCO_GL", "")
    try:
        gl_context = mujoco.GLContext(width, height)
        gl_context.make_current()
        # Some backends (glfw without a display) only fail here, in mjr_makeContext.
        render_context = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_50)
    except Exception as exc:  # any backend failure (ImportError, EGLError, FatalError) means no GL
        raise no_gl_error(backend or "unset (glfw)", exc) from exc
    return gl_context, render_context
