"""Frames of an imitation video: the query frame on the left, its nearest neighbour on the
right, each with a caption (sequence, view, frame index, distance), and a timeline strip
below showing where the query is and where its match falls in the target(s).

:class:`ImitationRenderer` draws frame ``t`` as ``[H, W, 3]`` uint8; the writers turn
its frames into an H.264 mp4, an animated GIF or a few PNGs (for documentation).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from timecontrast.data.sequence import EmbeddedSequence, MultiViewSequence
from timecontrast.errors import DataError
from timecontrast.io.files import atomic_path
from timecontrast.io.video import VideoWriter
from timecontrast.viz.matching import ImitationMatch, ImitationPair

logger = logging.getLogger(__name__)

BACKGROUND = (24, 24, 24)
TEXT = (235, 235, 235)
BAR = (70, 70, 70)
BAR_ALT = (100, 100, 100)
QUERY_COLOUR = (90, 170, 255)
MATCH_COLOUR = (255, 150, 40)
HISTORY_COLOUR = (160, 110, 60)


def _even(n: int) -> int:
    return n + n % 2


@dataclass(frozen=True)
class FrameLayout:
    """Pixel geometry of one imitation frame (all sizes even, so H.264 needs no padding)."""

    panel_height: int
    query_width: int
    target_width: int
    gap: int
    font_size: int
    caption_height: int
    timeline_height: int

    @property
    def width(self) -> int:
        return _even(self.query_width + self.gap + self.target_width)

    @property
    def height(self) -> int:
        return _even(self.caption_height + self.panel_height + self.timeline_height)


def _frames_of(seq: EmbeddedSequence) -> MultiViewSequence:
    """The frames attached to ``seq``; a :class:`DataError` when there are none."""
    if seq.sequence is None:
        raise DataError(f"sequence '{seq.name}': no frames attached (EmbeddedSequence.sequence is None)")
    return seq.sequence


def _scaled_width(size: tuple[int, int], height: int) -> int:
    h, w = size
    return max(2, _even(round(w * height / h)))


def _fit(draw: ImageDraw.ImageDraw, text: str, font, width: float) -> str:
    """``text`` shortened in the middle with '…' until it fits ``width`` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    keep = len(text)
    while keep > 1:
        keep -= 1
        head = (keep + 1) // 2
        short = text[:head] + "…" + text[len(text) - (keep - head) :]
        if draw.textlength(short, font=font) <= width:
            return short
    return "…"


class ImitationRenderer:
    """Draw the frames of one imitation pair.

    Frames are read through ``pair.query.sequence`` and ``pair.targets[k].sequence``
    (``frame(view, t) -> [h, w, 3] uint8``). Every panel is scaled to a common height,
    at least ``min_panel_height`` pixels so that captions stay legible on small frames.
    """

    def __init__(self, pair: ImitationPair, match: ImitationMatch, min_panel_height: int = 128) -> None:
        for seq in [pair.query, *pair.targets]:
            frames = _frames_of(seq)
            if frames.length != seq.length:
                raise DataError(f"sequence '{seq.name}': {seq.length} embeddings per view but {frames.length} frames")
        if len(match.target_frame) != pair.query.length:
            raise DataError(
                f"{pair.name}: the match has {len(match.target_frame)} frames but the query {pair.query.length}"
            )
        self.pair, self.match = pair, match
        q_size = _frames_of(pair.query).frame(pair.query_view, 0).shape[:2]
        t_sizes = [_frames_of(t).frame(pair.target_view, 0).shape[:2] for t in pair.targets]
        height = _even(max([min_panel_height, q_size[0], *(s[0] for s in t_sizes)]))
        font_size = max(10, height // 12)
        line = font_size + 3
        self.layout = FrameLayout(
            panel_height=height,
            query_width=_scaled_width(q_size, height),
            target_width=max(_scaled_width(s, height) for s in t_sizes),
            gap=4,
            font_size=font_size,
            caption_height=3 * line + 6,
            timeline_height=2 * (font_size + 8) + 8,
        )
        self.font = ImageFont.load_default(size=font_size)
        probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
        self._label_width = int(max(probe.textlength(s, font=self.font) for s in ("query", "match")))
        self._lengths = np.array([t.length for t in pair.targets])
        self._base = self._draw_base()

    @property
    def num_frames(self) -> int:
        return self.pair.query.length

    # ------------------------------------------------------------------ timeline
    def _bar_geometry(self, row: int) -> tuple[int, int, int, int]:
        lay = self.layout
        top = lay.caption_height + lay.panel_height + 6 + row * (lay.font_size + 8)
        x0 = 16 + self._label_width
        return x0, top, lay.width - 8, top + lay.font_size + 2

    def _target_x(self, target_index: np.ndarray, frame: np.ndarray) -> np.ndarray:
        """x pixel of a (target sequence, frame) position on the pooled target bar."""
        x0, _, x1, _ = self._bar_geometry(1)
        offsets = np.concatenate([[0], np.cumsum(self._lengths)[:-1]])
        pos = (offsets[target_index] + frame + 0.5) / self._lengths.sum()
        return np.clip(np.round(x0 + pos * (x1 - x0)).astype(int), x0, x1 - 1)

    def _draw_base(self) -> Image.Image:
        """The parts of a frame that do not change: background, labels, timeline bars."""
        lay = self.layout
        img = Image.new("RGB", (lay.width, lay.height), BACKGROUND)
        draw = ImageDraw.Draw(img)
        for row, label in enumerate(("query", "match")):
            x0, y0, x1, y1 = self._bar_geometry(row)
            draw.text((8, y0 - 1), label, fill=TEXT, font=self.font)
            if row == 0:
                draw.rectangle([x0, y0, x1 - 1, y1], fill=BAR)
                continue
            # one segment per pooled target sequence, alternating shades
            edges = np.concatenate([[0], np.cumsum(self._lengths)]) / self._lengths.sum()
            for k in range(len(self._lengths)):
                a, b = x0 + edges[k] * (x1 - x0), x0 + edges[k + 1] * (x1 - x0)
                draw.rectangle([round(a), y0, max(round(a), round(b) - 1), y1], fill=BAR if k % 2 == 0 else BAR_ALT)
        return img

    # -------------------------------------------------------------------- frames
    def _panel(self, frame: np.ndarray, width: int) -> Image.Image:
        """Scale to the panel height, keep the aspect ratio, centre in ``width``."""
        lay = self.layout
        img = Image.fromarray(frame)
        w = _scaled_width(frame.shape[:2], lay.panel_height)
        img = img.resize((w, lay.panel_height), Image.Resampling.BILINEAR)
        if w == width:
            return img
        out = Image.new("RGB", (width, lay.panel_height), BACKGROUND)
        out.paste(img, ((width - w) // 2, 0))
        return out

    def frame(self, t: int) -> np.ndarray:
        """Frame ``t`` of the video: ``[H, W, 3]`` uint8."""
        pair, match, lay = self.pair, self.match, self.layout
        k, j, d = int(match.target_index[t]), int(match.target_frame[t]), float(match.distance[t])
        target = pair.targets[k]
        img = self._base.copy()
        draw = ImageDraw.Draw(img)
        tx = lay.query_width + lay.gap
        query_frame = _frames_of(pair.query).frame(pair.query_view, t)
        target_frame = _frames_of(target).frame(pair.target_view, j)
        img.paste(self._panel(query_frame, lay.query_width), (0, lay.caption_height))
        img.paste(self._panel(target_frame, lay.target_width), (tx, lay.caption_height))

        line = lay.font_size + 3
        target_line = f"match: {target.name}"
        if len(pair.targets) > 1:
            target_line += f" ({k + 1}/{len(pair.targets)})"
        captions = [
            (
                0,
                lay.query_width,
                [f"query: {pair.query.name}", f"view {pair.query_view}  frame {t}/{pair.query.length - 1}", ""],
            ),
            (
                tx,
                lay.target_width,
                [target_line, f"view {pair.target_view}  frame {j}/{target.length - 1}", f"distance {d:.3f}"],
            ),
        ]
        for x, width, lines in captions:
            for i, text in enumerate(lines):
                draw.text((x + 3, 3 + i * line), _fit(draw, text, self.font, width - 6), fill=TEXT, font=self.font)

        # timeline: query progress; past matches (history) and the current match
        x0, y0, x1, y1 = self._bar_geometry(0)
        xq = x0 + round((t + 0.5) / pair.query.length * (x1 - x0))
        draw.rectangle([x0, y0, max(x0, xq - 1), y1], fill=tuple(c // 2 for c in QUERY_COLOUR))
        draw.rectangle([xq - 1, y0 - 1, xq + 1, y1 + 1], fill=QUERY_COLOUR)
        _, y0, _, y1 = self._bar_geometry(1)
        arr = np.asarray(img).copy()
        hist = self._target_x(match.target_index[: t + 1], match.target_frame[: t + 1])
        arr[y0 + 2 : y1 - 1, hist] = HISTORY_COLOUR
        xm = int(self._target_x(np.array([k]), np.array([j]))[0])
        arr[max(0, y0 - 2) : y1 + 3, max(0, xm - 1) : xm + 2] = MATCH_COLOUR
        return arr

    def frames(self) -> Iterator[np.ndarray]:
        for t in range(self.num_frames):
            yield self.frame(t)


# ---------------------------------------------------------------------------- writers
def write_imitation_video(
    path: str | os.PathLike, renderer: ImitationRenderer, fps: float, on_frame: Callable[[], object] | None = None
) -> Path:
    """H.264 mp4 with one frame per query frame at ``fps`` (written atomically)."""
    lay = renderer.layout
    with VideoWriter(path, fps, lay.width, lay.height) as writer:
        for frame in renderer.frames():
            writer.write(frame)
            if on_frame is not None:
                on_frame()
    return Path(path)


def write_gif(
    path: str | os.PathLike, frames: Iterable[np.ndarray], fps: float, scale: float = 1.0, colours: int = 128
) -> Path:
    """Animated GIF (loops forever) of ``[H, W, 3]`` uint8 frames, e.g. for a README.

    All frames share one palette of ``colours`` colours taken from a few of them, without
    dithering, which keeps the file small (a per-frame dithered palette is 2-3x larger).
    """
    images = []
    for f in frames:
        img = Image.fromarray(f)
        if scale != 1.0:
            size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
            img = img.resize(size, Image.Resampling.LANCZOS)
        images.append(img)
    if not images:
        raise DataError(f"{path}: no frames to write")
    picks = [images[i] for i in sorted({0, len(images) // 3, 2 * len(images) // 3, len(images) - 1})]
    montage = Image.fromarray(np.concatenate([np.asarray(im) for im in picks], axis=0))
    palette = montage.quantize(colors=colours, dither=Image.Dither.NONE)
    indexed = [im.quantize(palette=palette, dither=Image.Dither.NONE) for im in images]
    with atomic_path(path) as tmp:
        indexed[0].save(
            tmp,
            format="GIF",
            save_all=True,
            append_images=indexed[1:],
            duration=round(1000 / fps),
            loop=0,
            optimize=True,
        )
    return Path(path)


def write_imitation_gif(
    path: str | os.PathLike,
    renderer: ImitationRenderer,
    fps: float = 10.0,
    every: int = 1,
    max_frames: int | None = None,
    scale: float = 1.0,
) -> Path:
    """GIF of every ``every``-th frame of an imitation (at most ``max_frames``), for docs."""
    timesteps = list(range(0, renderer.num_frames, max(1, every)))[:max_frames]
    return write_gif(path, (renderer.frame(t) for t in timesteps), fps, scale)


def save_frames_png(
    outdir: str | os.PathLike, renderer: ImitationRenderer, timesteps: Sequence[int], prefix: str | None = None
) -> list[Path]:
    """Frames ``timesteps`` as ``<outdir>/<prefix>_t<t:05d>.png`` (prefix: the pair name)."""
    prefix = prefix or renderer.pair.name
    paths = []
    for t in timesteps:
        path = Path(outdir) / f"{prefix}_t{int(t):05d}.png"
        with atomic_path(path) as tmp:
            Image.fromarray(renderer.frame(int(t))).save(tmp, format="PNG")
        paths.append(path)
    return paths
