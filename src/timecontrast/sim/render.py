"""Offscreen rendering of one MuJoCo model from many cameras, with one GL context.

We drive MuJoCo's own renderer (``mjv_updateScene`` / ``mjr_render``) directly rather than
through ``mujoco.Renderer`` because we need three things it does not offer publicly:
re-uploading a recoloured texture into the live context (per-sequence floor and sky
colours), the exact pose of each rendered camera, and an explicit context lifetime.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import numpy as np

from timecontrast.errors import ConfigError
from timecontrast.sim.gl import create_render_context, import_mujoco


class SceneRenderer:
    """Renders RGB frames of ``model`` at ``height`` x ``width`` from free cameras.

    Shadows, reflections and multisample anti-aliasing are off by default: with a
    software rasteriser (Mesa llvmpipe through EGL) shadows and reflections cost 3-4x the
    frame time and 4x anti-aliasing another 2x, and at 64-128 pixels they add little.
    Use as a context manager or call :meth:`close`.
    """

    def __init__(
        self,
        model: Any,
        width: int,
        height: int,
        *,
        shadows: bool = False,
        reflections: bool = False,
        antialiasing: bool = False,
    ):
        if width < 1 or height < 1:
            raise ConfigError(f"image size must be at least 1x1 pixels, got {width}x{height}")
        mujoco = import_mujoco()
        self._mujoco = mujoco
        self.model = model
        self.width, self.height = width, height
        # The offscreen framebuffer is allocated from these when the context is made.
        model.vis.global_.offwidth = max(int(model.vis.global_.offwidth), width)
        model.vis.global_.offheight = max(int(model.vis.global_.offheight), height)
        model.vis.quality.offsamples = 4 if antialiasing else 0
        self._gl, self._context = create_render_context(mujoco, model, width, height)
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self._context)
        self._scene = mujoco.MjvScene(model, maxgeom=1000)
        self._scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = shadows
        self._scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = reflections
        self._option = mujoco.MjvOption()
        self._perturb = mujoco.MjvPerturb()
        self._rect = mujoco.MjrRect(0, 0, width, height)
        self._buffer = np.empty((height, width, 3), dtype=np.uint8)  # bottom row first (OpenGL)

    def render(self, data: Any, camera: Any, out: np.ndarray | None = None) -> np.ndarray:
        """Render ``data`` seen by ``camera`` (an ``MjvCamera``) into ``out`` [H, W, 3] uint8."""
        mj = self._mujoco
        self._gl.make_current()
        mj.mjv_updateScene(self.model, data, self._option, self._perturb, camera, mj.mjtCatBit.mjCAT_ALL, self._scene)
        mj.mjr_render(self._rect, self._scene, self._context)
        mj.mjr_readPixels(self._buffer, None, self._rect, self._context)
        if out is None:
            out = np.empty_like(self._buffer)
        np.copyto(out, self._buffer[::-1])
        return out

    def camera_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """Position [3] and orientation [9] of the camera of the last :meth:`render`.

        The orientation is a row-major camera-to-world rotation whose columns are the
        camera's right, up and backward axes (it looks along -z), like MuJoCo's ``cam_xmat``.
        """
        mj = self._mujoco
        eye = mj.mjv_averageCamera(self._scene.camera[0], self._scene.camera[1])
        forward = np.asarray(eye.forward, dtype=np.float64)
        up = np.asarray(eye.up, dtype=np.float64)
        right = np.cross(forward, up)
        rotation = np.stack([right, up, -forward], axis=1)  # [3, 3], columns = camera axes
        return np.asarray(eye.pos, dtype=np.float64).copy(), rotation.reshape(9)

    def upload_texture(self, texture_id: int) -> None:
        """Send ``model.tex_data`` of one texture to the GL context after it was changed."""
        self._gl.make_current()
        self._mujoco.mjr_uploadTexture(self.model, self._context, texture_id)

    def close(self) -> None:
        if self._gl is not None:
            self._gl.make_current()
            self._context.free()
            self._gl.free()
            self._gl = None

    def __enter__(self) -> SceneRenderer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
