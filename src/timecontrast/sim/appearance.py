"""Per-sequence appearance: floor, sky and body colours and the lighting, from the seed.

So that view invariance is not trivial, every sequence of a dataset looks different:
the checker floor and the sky gradient are recoloured (their textures keep their
pattern, the two end colours change), the body materials take new hues, and the
lights change brightness and position. Only ``MjModel`` fields are changed, from a copy
of their original values taken once, so a sequence never inherits the last one's look.
"""

from __future__ import annotations

import colorsys
from collections.abc import Sequence
from typing import Any

import numpy as np

from timecontrast.sim.render import SceneRenderer


def _hsv(rng: np.random.Generator, saturation: tuple[float, float], value: tuple[float, float]) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(rng.uniform(0, 1), rng.uniform(*saturation), rng.uniform(*value)))


class AppearanceRandomizer:
    """Draws and applies a new look for ``model`` (and uploads recoloured textures)."""

    def __init__(
        self,
        model: Any,
        renderer: SceneRenderer,
        body_materials: Sequence[str],
        contrasting: Sequence[tuple[str, str]] = (),
    ):
        """``contrasting``: pairs of materials (a, b) that must not look alike: when their
        drawn hues are less than a quarter turn apart, b takes the hue opposite a's."""
        self.model, self.renderer = model, renderer
        self.materials = [model.material(name).id for name in body_materials if _has(model.material, name)]
        self.contrasting = [
            (model.material(a).id, model.material(b).id)
            for a, b in contrasting
            if _has(model.material, a) and _has(model.material, b)
        ]
        self.textures = {}  # texture id -> (first byte, luminance [n] in [0, 1])
        self.tex_original: dict[str, np.ndarray] = {}  # the model's own texture bytes, for restore()
        for name in ("grid", "skybox"):
            if not _has(model.texture, name):
                continue
            tex = model.texture(name).id
            start = int(model.tex_adr[tex])
            channels = int(model.tex_nchannel[tex])
            size = int(model.tex_width[tex] * model.tex_height[tex])
            pixels = model.tex_data[start : start + size * channels].reshape(size, channels)[:, :3].astype(np.float32)
            luminance = pixels.mean(axis=1)
            span = max(float(luminance.max() - luminance.min()), 1.0)
            self.textures[name] = (tex, start, channels, (luminance - luminance.min()) / span)
            self.tex_original[name] = model.tex_data[start : start + size * channels].copy()
        self.light_pos = model.light_pos.copy()
        self.light_diffuse = model.light_diffuse.copy()
        self.mat_rgba = model.mat_rgba.copy()
        self.headlight = (model.vis.headlight.ambient.copy(), model.vis.headlight.diffuse.copy())

    def apply(self, rng: np.random.Generator) -> None:
        model = self.model
        # Bodies: bright, saturated hues; they must stand out from the floor and sky.
        for mat in self.materials:
            model.mat_rgba[mat, :3] = _hsv(rng, (0.45, 0.9), (0.6, 1.0))
        for a, b in self.contrasting:  # no extra draws: the other colours do not change
            hue_a = colorsys.rgb_to_hsv(*model.mat_rgba[a, :3])[0]
            hue_b, saturation, value = colorsys.rgb_to_hsv(*model.mat_rgba[b, :3])
            if min(abs(hue_a - hue_b), 1 - abs(hue_a - hue_b)) < 0.25:
                model.mat_rgba[b, :3] = colorsys.hsv_to_rgb((hue_a + 0.5) % 1.0, saturation, value)
        if "grid" in self.textures:
            dark = _hsv(rng, (0.1, 0.6), (0.1, 0.35))
            self._recolour("grid", dark, np.clip(dark * rng.uniform(1.3, 1.8), 0, 1))
        if "skybox" in self.textures:
            self._recolour("skybox", _hsv(rng, (0.1, 0.7), (0.0, 0.15)), _hsv(rng, (0.1, 0.7), (0.4, 0.9)))
        model.vis.headlight.ambient[:] = rng.uniform(0.25, 0.5)
        model.vis.headlight.diffuse[:] = rng.uniform(0.5, 0.9)
        model.light_diffuse[:] = self.light_diffuse * rng.uniform(0.6, 1.3, size=(len(self.light_diffuse), 1))
        shift = rng.uniform(-1.0, 1.0, size=self.light_pos.shape) * np.array([1.0, 1.0, 0.0])
        model.light_pos[:] = self.light_pos + shift

    def restore(self) -> None:
        """Back to the model's own look (as loaded)."""
        model = self.model
        model.mat_rgba[:] = self.mat_rgba
        for name, (tex, start, _channels, _) in self.textures.items():
            model.tex_data[start : start + len(self.tex_original[name])] = self.tex_original[name]
            self.renderer.upload_texture(tex)
        model.vis.headlight.ambient[:] = self.headlight[0]
        model.vis.headlight.diffuse[:] = self.headlight[1]
        model.light_diffuse[:] = self.light_diffuse
        model.light_pos[:] = self.light_pos

    def _recolour(self, name: str, low: np.ndarray, high: np.ndarray) -> None:
        tex, start, channels, luminance = self.textures[name]
        rgb = np.rint(255 * (low + luminance[:, None] * (high - low))).astype(np.uint8)  # [n, 3]
        view = self.model.tex_data[start : start + len(luminance) * channels].reshape(-1, channels)
        view[:, :3] = rgb
        self.renderer.upload_texture(tex)


def _has(accessor: Any, name: str) -> bool:
    try:
        accessor(name)
    except KeyError:
        return False
    return True
