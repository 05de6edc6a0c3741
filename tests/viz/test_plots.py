"""PNG plots: PCA / t-SNE maps, trajectories, alignment."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from viz_helpers import make_embedded

from timecontrast.errors import DataError
from timecontrast.viz.plots import pca_2d, sample_colourings, write_embedding_plots
from timecontrast.viz.projector import sample_frames


def png_is_drawn(path, min_width=400) -> bool:
    with Image.open(path) as img:
        img.verify()
    with Image.open(path) as img:
        colours = img.convert("RGB").getcolors(1 << 20)
        return img.size[0] >= min_width and colours is not None and len(colours) > 50


def test_embedding_plots_written(tmp_path, rng):
    seqs = [
        make_embedded(f"s{i}", 2, 15, 6, rng, labels={"contact": (np.arange(15) > 7).astype(np.int64)})
        for i in range(3)
    ]
    sample = sample_frames(seqs, 60, np.random.default_rng(0))
    names = [c.name for c in sample_colourings(sample)]
    assert names == ["time (normalised)", "view", "contact"]
    paths = write_embedding_plots(tmp_path, sample, seqs, tsne=True, perplexity=10, num_trajectories=2)
    assert [p.name for p in paths] == ["pca.png", "tsne.png", "trajectories.png"]
    assert all(png_is_drawn(p) for p in paths)
    assert not list(tmp_path.glob(".*"))
    no_tsne = write_embedding_plots(tmp_path / "b", sample, seqs, tsne=False, num_trajectories=0)
    assert [p.name for p in no_tsne] == ["pca.png"]


def test_pca_projects_onto_main_axes(rng):
    x = np.zeros((50, 4))
    x[:, 2] = np.linspace(-5, 5, 50)  # all variance along one axis
    x[:, 0] = rng.normal(scale=0.1, size=50)
    points, _ = pca_2d(x)
    assert abs(np.corrcoef(points[:, 0], x[:, 2])[0, 1]) > 0.999
    with pytest.raises(DataError, match="num_embed"):
        pca_2d(x[:1])
