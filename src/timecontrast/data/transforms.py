"""Training augmentation and evaluation preprocessing of uint8 RGB frames.

Both work on ``[N, H, W, 3]`` uint8 frames (numpy or torch) and return normalised
float32 tensors ``[N, 3, height, width]``: ``(x / 255 - mean) / std`` with the
embedder's ``mean`` and ``std``. The pixel operations are torchvision's
(``transforms.v2.functional``); the random parameters are drawn here from an explicit
``torch.Generator`` because torchvision's random transforms draw from the global RNG
and because the original's scale augmentation has no torchvision equivalent.

Evaluation (``data.preprocessing.eval_cropping``), a square box in frame coordinates
(outside the frame is black) resized bilinearly to ``height`` x ``width``:

- ``crop_center``: the largest centred square.
- ``pad``: zero-pad the shorter side to a square.
- ``pad200``: zero-pad 200 px left and right, then the largest centred square.
- ``pad_crop_central``: pad to a square, then keep the central 0.875 of each side.
- ``full``: the whole frame, whatever its aspect ratio (e.g. the mfTCN paper's 96x48). The
  training crops are then drawn from the whole frame too, instead of its central square.

Training, per image or per clip (one draw for all frames of a clip):

1. Scale: ``minscale < 1`` zooms in (a random square inside the central square, of
   ``[minscale, 1]`` of its area); ``maxscale > 1`` zooms out (a random square that holds
   the whole central square, inside a black-padded square of ``maxscale`` times its
   area). With both, zoom out has probability ``proportion_scaled_up`` (the original
   had the branch the wrong way round). With neither: the central square. With
   ``full_frame`` (``eval_cropping: full``) the whole frame takes the central square's
   place and the boxes keep the frame's aspect ratio.
2. Bilinear resize to ``height`` x ``width``.
3. Colour (``color``): brightness ``+-32/255`` (additive) and saturation ``[0.5, 1.5]`` in
   random order; without ``fast_mode`` also hue ``+-0.2`` and contrast ``[0.5, 1.5]`` in one
   of four orders (the original's orders). Then clip to ``[0, 1]`` and normalise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
import torch
from torchvision.transforms.v2 import functional as F

from timecontrast.errors import ConfigError

if TYPE_CHECKING:  # data reads the config tree only in its factories; never imported at run time
    from timecontrast.config import TCNConfig

EVAL_CROPPINGS = ("crop_center", "pad", "pad200", "pad_crop_central", "full")
PAD200_PIXELS = 200  # pad200: black pixels added on the left and on the right
CENTRAL_FRACTION = 0.875  # pad_crop_central: the kept fraction of each side
BRIGHTNESS_MAX_DELTA = 32.0 / 255.0
SATURATION_RANGE = (0.5, 1.5)
HUE_MAX_DELTA = 0.2
CONTRAST_RANGE = (0.5, 1.5)

# The original's colour orders (TF-slim inception preprocessing ``distort_color``):
# fast mode uses order 0 (brightness, saturation) or any other (saturation, brightness).
_FULL_ORDERS = (
    ("brightness", "saturation", "hue", "contrast"),
    ("saturation", "brightness", "contrast", "hue"),
    ("contrast", "hue", "brightness", "saturation"),
    ("hue", "saturation", "contrast", "brightness"),
)


@dataclass(frozen=True)
class CropBox:
    """A box at ``(top, left)`` in frame pixels, ``size`` high and ``width`` wide (None: a
    square); it may reach outside the frame (black there)."""

    top: int
    left: int
    size: int
    width: int | None = None

    @property
    def w(self) -> int:
        return self.size if self.width is None else self.width


@dataclass(frozen=True)
class Augmentation:
    """The random draws of one training augmentation (shared by all frames of a clip)."""

    box: CropBox
    zoom: str  # "none" | "in" | "out"
    color_order: tuple[str, ...]  # () when colour augmentation is off
    brightness_delta: float
    saturation_factor: float
    hue_delta: float
    contrast_factor: float


# ------------------------------------------------------------------------- helpers
def as_frames_tensor(frames: np.ndarray | torch.Tensor) -> tuple[torch.Tensor, tuple[int, ...]]:
    """``[..., H, W, 3]`` uint8 into a ``[N, 3, H, W]`` uint8 view and the leading shape.

    A single ``[H, W, 3]`` frame has the leading shape ``(1,)``.
    """
    if isinstance(frames, np.ndarray):
        # Decoded frames may be read-only views (torch warns on those): copy only then.
        frames = np.ascontiguousarray(frames) if frames.flags.writeable else np.array(frames, order="C")
        x = torch.from_numpy(frames)
    else:
        x = frames
    if x.dtype != torch.uint8 or x.ndim < 3 or x.shape[-1] != 3:
        raise ValueError(f"frames must be [..., H, W, 3] uint8 RGB, got {x.dtype} {tuple(x.shape)}")
    lead = tuple(x.shape[:-3]) if x.ndim > 3 else (1,)
    x = x.reshape(-1, *x.shape[-3:])  # [N, H, W, 3]
    return x.permute(0, 3, 1, 2), lead  # [N, 3, H, W], channels-last memory (fast resize path)


def eval_crop_box(eval_cropping: str, height: int, width: int) -> CropBox:
    """The square box of ``eval_cropping`` for a ``height`` x ``width`` frame."""
    if eval_cropping == "crop_center":
        side = min(height, width)
        return CropBox((height - side) // 2, (width - side) // 2, side)
    if eval_cropping in ("pad", "pad_crop_central"):
        side = max(height, width)
        top, left = -((side - height) // 2), -((side - width) // 2)  # pad_to_bounding_box offsets
        if eval_cropping == "pad":
            return CropBox(top, left, side)
        start = int((side - side * CENTRAL_FRACTION) / 2)  # tf.image.central_crop
        return CropBox(top + start, left + start, side - 2 * start)
    if eval_cropping == "full":
        return CropBox(0, 0, height, width)
    if eval_cropping == "pad200":
        padded_width = width + 2 * PAD200_PIXELS
        side = min(height, padded_width)
        return CropBox((height - side) // 2, (padded_width - side) // 2 - PAD200_PIXELS, side)
    raise ConfigError(
        f"data.preprocessing.eval_cropping is '{eval_cropping}'; choose one of: {', '.join(EVAL_CROPPINGS)}"
    )


def _normalise(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    return F.normalize(x, list(mean), list(std))


def _check_mean_std(mean: Sequence[float], std: Sequence[float]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    mean_t = tuple(float(m) for m in torch.as_tensor(mean).flatten().tolist())
    std_t = tuple(float(s) for s in torch.as_tensor(std).flatten().tolist())
    if len(mean_t) != 3 or len(std_t) != 3 or min(std_t) <= 0:
        raise ValueError(f"mean and std need 3 values each (std > 0), got {mean_t} and {std_t}")
    return mean_t, std_t


# ---------------------------------------------------------------------- evaluation
class EvalTransform:
    """Evaluation preprocessing: fixed crop, bilinear resize, normalisation.

    ``EvalTransform(299, 299, "pad200", mean, std)(frames)``: ``[N, H, W, 3]`` uint8 (or one
    ``[H, W, 3]`` frame, giving N = 1; or ``[N, K, H, W, 3]`` clips) into float32
    ``[N, 3, height, width]`` (``[N, K, 3, height, width]`` for clips).
    """

    def __init__(
        self, height: int, width: int, eval_cropping: str, mean: Sequence[float], std: Sequence[float]
    ) -> None:
        eval_crop_box(eval_cropping, 1, 1)  # fail early on an unknown name
        self.height, self.width = int(height), int(width)
        self.eval_cropping = eval_cropping
        self.mean, self.std = _check_mean_std(mean, std)

    def uint8(self, frames: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Cropped and resized but not normalised: uint8 ``[..., 3, height, width]``."""
        x, lead = as_frames_tensor(frames)  # [N, 3, H, W]
        box = eval_crop_box(self.eval_cropping, x.shape[-2], x.shape[-1])
        out = F.resized_crop(x, box.top, box.left, box.size, box.w, [self.height, self.width], antialias=True)
        return out.contiguous().reshape(*lead, 3, self.height, self.width)

    def __call__(self, frames: np.ndarray | torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """``generator`` is accepted (and unused) so both transforms are called alike."""
        x = self.uint8(frames)
        lead = x.shape[:-3]
        x = F.to_dtype(x.reshape(-1, 3, self.height, self.width), torch.float32, scale=True)
        return _normalise(x, self.mean, self.std).reshape(*lead, 3, self.height, self.width)

    def __repr__(self) -> str:
        return f"EvalTransform({self.height}x{self.width}, {self.eval_cropping}, mean={self.mean}, std={self.std})"


# ------------------------------------------------------------------------ training
def _uniform(generator: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator))


def _randint(generator: torch.Generator, low: int, high: int) -> int:
    """An integer in ``[low, high]`` (inclusive); ``low`` when the range is empty."""
    if high <= low:
        return low
    return int(torch.randint(low, high + 1, (), generator=generator))


def _per_item(values: list[float], like: torch.Tensor) -> torch.Tensor:
    return torch.tensor(values, dtype=like.dtype).view(-1, *([1] * (like.dim() - 1)))  # [n, 1, 1, 1, 1]


def _grayscale(x: torch.Tensor) -> torch.Tensor:
    """``[..., 3, h, w]`` into ``[..., 1, h, w]`` with torchvision's weights."""
    r, g, b = x.unbind(dim=-3)
    return r.mul(0.2989).add_(g, alpha=0.587).add_(b, alpha=0.114).unsqueeze(-3)


def _jitter(x: torch.Tensor, augs: Sequence[Augmentation], order: tuple[str, ...]) -> torch.Tensor:
    """Colour jitter of ``[n, K, 3, h, w]`` floats in [0, 1], each item with its own factors.

    The formulas of torchvision's ``adjust_saturation``/``adjust_contrast`` (blend with the
    grayscale image / its per-frame mean, then clamp), vectorised over items; brightness is
    additive as ``tf.image.random_brightness``; hue goes through ``adjust_hue`` item by item.
    """
    for op in order:
        if op == "brightness":
            x = (x + _per_item([a.brightness_delta for a in augs], x)).clamp_(0.0, 1.0)
        elif op == "saturation":
            f = _per_item([a.saturation_factor for a in augs], x)
            x = (x * f + _grayscale(x) * (1.0 - f)).clamp_(0.0, 1.0)
        elif op == "contrast":
            f = _per_item([a.contrast_factor for a in augs], x)
            mean = _grayscale(x).mean(dim=(-3, -2, -1), keepdim=True)  # [n, K, 1, 1, 1] per frame
            x = (x * f + mean * (1.0 - f)).clamp_(0.0, 1.0)
        else:
            x = torch.stack([F.adjust_hue(item, a.hue_delta) for item, a in zip(x, augs, strict=True)])
    return x


class TrainTransform:
    """Training augmentation: scale (zoom in/out), resize, colour jitter, clip, normalise.

    ``transform(frames, generator)``: ``[K, H, W, 3]`` uint8 frames that get ONE draw of
    the augmentation (a clip, or a single image with K = 1) into float32
    ``[K, 3, height, width]``. ``sample`` and ``apply`` split the draw from its use.
    """

    def __init__(
        self,
        height: int,
        width: int,
        mean: Sequence[float],
        std: Sequence[float],
        minscale: float = 1.0,
        maxscale: float = 1.0,
        proportion_scaled_up: float = 0.5,
        color: bool = True,
        fast_mode: bool = True,
        full_frame: bool = False,
    ) -> None:
        if not 0.0 < minscale <= 1.0:
            raise ConfigError(f"data.augmentation.minscale is {minscale}; it must be in (0, 1] (1 = no zoom in)")
        if maxscale < 1.0:
            raise ConfigError(f"data.augmentation.maxscale is {maxscale}; it must be >= 1 (1 = no zoom out)")
        if not 0.0 <= proportion_scaled_up <= 1.0:
            raise ConfigError(
                f"data.augmentation.proportion_scaled_up is {proportion_scaled_up}; it must be a probability in [0, 1]"
            )
        self.height, self.width = int(height), int(width)
        self.mean, self.std = _check_mean_std(mean, std)
        self.minscale, self.maxscale = float(minscale), float(maxscale)
        self.proportion_scaled_up = float(proportion_scaled_up)
        self.color, self.fast_mode = bool(color), bool(fast_mode)
        self.full_frame = bool(full_frame)

    # -- the draw
    def _zoom_in_box_full(self, height: int, width: int, g: torch.Generator) -> CropBox:
        scale = math.sqrt(_uniform(g, self.minscale, 1.0))  # of the frame's area
        h, w = min(height, max(1, round(height * scale))), min(width, max(1, round(width * scale)))
        return CropBox(_randint(g, 0, height - h), _randint(g, 0, width - w), h, w)

    def _zoom_out_box_full(self, height: int, width: int, g: torch.Generator) -> CropBox:
        scale = math.sqrt(self.maxscale * _uniform(g, 1.0 / self.maxscale, 1.0))  # in [1, sqrt(maxscale)]
        h, w = max(height, round(height * scale)), max(width, round(width * scale))
        return CropBox(-_randint(g, 0, h - height), -_randint(g, 0, w - width), h, w)  # holds the whole frame

    def _zoom_in_box(self, height: int, width: int, g: torch.Generator) -> CropBox:
        if self.full_frame:
            return self._zoom_in_box_full(height, width, g)
        side = min(height, width)
        top0, left0 = (height - side) // 2, (width - side) // 2
        area = _uniform(g, self.minscale, 1.0)  # fraction of the central square's area
        size = min(side, max(1, int(round(side * math.sqrt(area)))))
        return CropBox(top0 + _randint(g, 0, side - size), left0 + _randint(g, 0, side - size), size)

    def _zoom_out_box(self, height: int, width: int, g: torch.Generator) -> CropBox:
        if self.full_frame:
            return self._zoom_out_box_full(height, width, g)
        side = min(height, width)
        outer = max(side, int(math.sqrt(self.maxscale) * side))  # the padded (or cropped) square
        area = _uniform(g, 1.0 / self.maxscale, 1.0)  # fraction of the outer square's area
        size = min(outer, max(side, int(round(outer * math.sqrt(area)))))

        def offset(extent: int) -> int:
            origin = (extent - outer) // 2 if extent >= outer else -((outer - extent) // 2)
            inner = (extent - side) // 2  # the central square must stay wholly inside the box
            low, high = max(origin, inner + side - size), min(inner, origin + outer - size)
            return _randint(g, low, high) if low <= high else inner - (size - side) // 2

        top = offset(height)
        return CropBox(top, offset(width), size)

    def sample(self, height: int, width: int, generator: torch.Generator) -> Augmentation:
        """Draw the augmentation of one ``height`` x ``width`` image or clip."""
        g = generator
        can_in, can_out = self.minscale < 1.0, self.maxscale > 1.0
        if can_in and can_out:
            zoom = "out" if float(torch.rand((), generator=g)) < self.proportion_scaled_up else "in"
        else:
            zoom = "out" if can_out else "in" if can_in else "none"
        if zoom == "in":
            box = self._zoom_in_box(height, width, g)
        elif zoom == "out":
            box = self._zoom_out_box(height, width, g)
        else:
            box = eval_crop_box("full" if self.full_frame else "crop_center", height, width)
        order: tuple[str, ...] = ()
        brightness, saturation, hue, contrast = 0.0, 1.0, 0.0, 1.0
        if self.color:
            index = _randint(g, 0, 3)
            if self.fast_mode:
                order = ("brightness", "saturation") if index == 0 else ("saturation", "brightness")
            else:
                order = _FULL_ORDERS[index]
            brightness = _uniform(g, -BRIGHTNESS_MAX_DELTA, BRIGHTNESS_MAX_DELTA)
            saturation = _uniform(g, *SATURATION_RANGE)
            hue = _uniform(g, -HUE_MAX_DELTA, HUE_MAX_DELTA)
            contrast = _uniform(g, *CONTRAST_RANGE)
        return Augmentation(box, zoom, order, brightness, saturation, hue, contrast)

    # -- the use
    def apply(self, frames: np.ndarray | torch.Tensor, aug: Augmentation) -> torch.Tensor:
        """``[K, H, W, 3]`` uint8 into float32 ``[K, 3, height, width]`` with the draw ``aug``."""
        return self.apply_many([frames], [aug])[0]

    def apply_many(self, items: Sequence[np.ndarray | torch.Tensor], augs: Sequence[Augmentation]) -> torch.Tensor:
        """Items ``[K, H, W, 3]`` uint8 (sizes may differ), one draw each, into ``[B, K, 3, height, width]``.

        The crops are per item; colour and normalisation run on the whole batch at once
        (same result as item by item, fewer small operations).
        """
        crops = []
        for frames, aug in zip(items, augs, strict=True):
            x, _ = as_frames_tensor(frames)  # [K, 3, H, W] uint8
            b = aug.box
            crops.append(F.resized_crop(x, b.top, b.left, b.size, b.w, [self.height, self.width], antialias=True))
        x = F.to_dtype(torch.stack(crops), torch.float32, scale=True)  # [B, K, 3, h, w] in [0, 1]
        for order in dict.fromkeys(aug.color_order for aug in augs):  # each colour order, in first-seen order
            if not order:
                continue
            index = [i for i, aug in enumerate(augs) if aug.color_order == order]
            x[index] = _jitter(x[index], [augs[i] for i in index], order)
        return _normalise(x.clamp_(0.0, 1.0), self.mean, self.std)

    def __call__(self, frames: np.ndarray | torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        height, width = frames.shape[-3], frames.shape[-2]
        return self.apply(frames, self.sample(height, width, generator))

    def __repr__(self) -> str:
        return (
            f"TrainTransform({self.height}x{self.width}, scale=[{self.minscale}, {self.maxscale}], "
            f"p_out={self.proportion_scaled_up}, color={self.color}, fast_mode={self.fast_mode})"
        )


# ----------------------------------------------------------------------- factories
class EmbedderInput(Protocol):
    """What the data pipeline reads of the network it feeds: the normalisation of its
    [0, 1] RGB input and the clips it takes. The models' ``EmbeddingNetwork`` and
    ``PooledTrunk`` have it (the embedder contract of docs/architecture.md); data does not
    import models."""

    @property
    def mean(self) -> Sequence[float]: ...
    @property
    def std(self) -> Sequence[float]: ...
    @property
    def num_frames(self) -> int: ...
    @property
    def frame_stride(self) -> int: ...


def _mean_std_of(embedder: EmbedderInput) -> tuple[Sequence[float], Sequence[float]]:
    return embedder.mean, embedder.std


def eval_transform_for(cfg: TCNConfig, embedder: EmbedderInput) -> EvalTransform:
    """The evaluation preprocessing of a config (size, ``eval_cropping``) and an embedder (mean, std)."""
    mean, std = _mean_std_of(embedder)
    return EvalTransform(cfg.data.height, cfg.data.width, cfg.data.preprocessing.eval_cropping, mean, std)


def train_transform_for(cfg: TCNConfig, embedder: EmbedderInput) -> TrainTransform:
    """The training augmentation of a config (``data.augmentation``) and an embedder (mean, std)."""
    mean, std = _mean_std_of(embedder)
    a = cfg.data.augmentation
    return TrainTransform(
        cfg.data.height,
        cfg.data.width,
        mean,
        std,
        minscale=a.minscale,
        maxscale=a.maxscale,
        proportion_scaled_up=a.proportion_scaled_up,
        color=a.color,
        fast_mode=a.fast_mode,
        full_frame=cfg.data.preprocessing.eval_cropping == "full",
    )
