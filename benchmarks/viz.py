"""Speed of the visualisation code (`tcn imitate`, `tcn project`) on synthetic embeddings.

Prints Markdown tables of:

- nearest-neighbour matching (`viz.imitation.nearest_neighbours`, numpy float64 blocks)
  against `torch.cdist(...).argmin` (float32), 1000 query frames vs N pooled target
  frames, D = 32;
- imitation video frames per second: drawing only (`ImitationRenderer.frame`), and
  drawing + H.264 encoding (`write_imitation_video`), for small and 360p frames;
- the projector run (`write_projector`, N x 32 with a 64 px sprite) and the plots
  (`write_embedding_plots`: PCA, t-SNE, trajectories).

Example::

    .venv/bin/python benchmarks/viz.py
    .venv/bin/python benchmarks/viz.py --quick
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from timecontrast.data.sequence import EmbeddedSequence
from timecontrast.viz.imitation import plan_imitations
from timecontrast.viz.matching import match_pair, nearest_neighbours
from timecontrast.viz.panels import ImitationRenderer, write_imitation_video
from timecontrast.viz.plots import pca_2d, tsne_2d, write_embedding_plots
from timecontrast.viz.projector import sample_frames, sample_thumbnails, write_projector


class Frames:
    """A MultiViewSequence of synthetic frames (a gradient with a moving square), made on request."""

    def __init__(self, name: str, views: int, length: int, size: tuple[int, int]) -> None:
        self.name, self._views, self._length, self._size = name, views, length, size
        h, w = size
        self._base = (np.mgrid[0:h, 0:w].sum(0) % 256).astype(np.uint8)
        self.labels, self.state = None, None

    num_views = property(lambda self: self._views)
    length = property(lambda self: self._length)

    def frame(self, view: int, t: int) -> np.ndarray:
        h, w = self._size
        img = np.repeat(self._base[:, :, None], 3, axis=2)
        x = int((t * 7 + view * 31) % max(1, w - h // 4))
        img[h // 3 : h // 3 + h // 4, x : x + h // 4] = (220, 60 + 50 * view, 40)
        return img

    def frames(self, view: int, timesteps) -> np.ndarray:
        return np.stack([self.frame(view, t) for t in timesteps])


def timed(fn, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def bench_matching(quick: bool) -> None:
    rng = np.random.default_rng(0)
    q = rng.normal(size=(1000, 32))
    print("### Nearest-neighbour matching (1000 query frames, D = 32)\n")
    print("| target frames | ours (numpy f64 blocks) ms | torch.cdist f32 argmin ms | same indices |")
    print("|---:|---:|---:|:---:|")
    for n in (1_000, 10_000) if quick else (1_000, 10_000, 100_000):
        t = rng.normal(size=(n, 32))
        ours = timed(lambda t=t: nearest_neighbours(q, t), 3)
        qt, tt = torch.from_numpy(q).float(), torch.from_numpy(t).float()
        ref = timed(lambda qt=qt, tt=tt: torch.cdist(qt, tt).argmin(1), 3)
        same = np.array_equal(nearest_neighbours(q, t)[0], torch.cdist(qt, tt).argmin(1).numpy())
        print(f"| {n:,} | {1000 * ours:.1f} | {1000 * ref:.1f} | {'yes' if same else 'no'} |")
    print()


def bench_rendering(quick: bool, tmp: Path) -> None:
    length = 30 if quick else 90
    print(f"### Imitation video ({length} query frames, single mode)\n")
    print("| frame size | video size | draw frames/s | draw + H.264 frames/s |")
    print("|---|---|---:|---:|")
    rng = np.random.default_rng(0)
    for size in ((32, 32), (360, 640)):
        seqs = [
            EmbeddedSequence(f"s{i}", rng.normal(size=(2, length, 32)), Frames(f"s{i}", 2, length, size))
            for i in range(2)
        ]
        pair = plan_imitations(seqs[:1], seqs[1:], "single")[0]
        renderer = ImitationRenderer(pair, match_pair(pair, 5))
        draw = timed(lambda r=renderer: [r.frame(t) for t in range(length)])
        encode = timed(lambda r=renderer, s=size: write_imitation_video(tmp / f"v{s[0]}.mp4", r, 15))
        lay = renderer.layout
        print(f"| {size[0]}x{size[1]} | {lay.height}x{lay.width} | {length / draw:.0f} | {length / encode:.0f} |")
    print()


def bench_projector(quick: bool, tmp: Path) -> None:
    n = 300 if quick else 1000
    rng = np.random.default_rng(0)
    seqs = [
        EmbeddedSequence(f"s{i}", rng.normal(size=(2, 100, 32)), Frames(f"s{i}", 2, 100, (120, 160))) for i in range(10)
    ]
    sample = sample_frames(seqs, n, np.random.default_rng(0))
    print(f"### Projector and plots ({n} points, D = 32, 120x160 frames)\n")
    print("| step | seconds |")
    print("|---|---:|")
    thumbs = None

    def make_thumbs():
        nonlocal thumbs
        thumbs = sample_thumbnails(sample, seqs, 64)

    rows = [
        ("thumbnails (64 px, letterboxed)", timed(make_thumbs)),
        ("write_projector (tensors, metadata, sprite)", timed(lambda: write_projector(tmp / "proj", sample, thumbs))),
        ("PCA", timed(lambda: pca_2d(sample.embeddings))),
        ("t-SNE", timed(lambda: tsne_2d(sample.embeddings))),
        ("all plots (PCA, t-SNE, trajectories PNGs)", timed(lambda: write_embedding_plots(tmp / "proj", sample, seqs))),
    ]
    for name, seconds in rows:
        print(f"| {name} | {seconds:.2f} |")
    print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print("Visualisation speed (`tcn imitate`, `tcn project`), synthetic embeddings.\n")
    with tempfile.TemporaryDirectory() as d:
        bench_matching(args.quick)
        bench_rendering(args.quick, Path(d))
        bench_projector(args.quick, Path(d))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
