"""Imitation: smoothing, nearest-neighbour matching, pair plans, rendered videos."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from viz_helpers import make_embedded

from timecontrast.data.records import open_sequences
from timecontrast.data.sequence import EmbeddedSequence
from timecontrast.errors import ConfigError, DataError
from timecontrast.io.video import probe_video, read_video
from timecontrast.viz.imitation import plan_imitations, write_imitations
from timecontrast.viz.matching import match_pair, nearest_neighbours, smooth_embeddings
from timecontrast.viz.panels import ImitationRenderer, save_frames_png, write_imitation_gif


def smooth_reference(emb: np.ndarray, w: int) -> np.ndarray:
    """Brute force: mean of frames i-w..i+w inclusive, clipped at the ends."""
    return np.stack([emb[max(0, i - w) : min(len(emb), i + w + 1)].mean(0) for i in range(len(emb))])


def nn_reference(q: np.ndarray, t: np.ndarray) -> np.ndarray:
    return np.linalg.norm(q[:, None, :] - t[None, :, :], axis=-1).argmin(1)


@pytest.mark.parametrize("window", [0, 1, 2, 5, 40])
def test_smoothing_equals_centred_window_reference(rng, window):
    emb = rng.normal(size=(23, 4))
    np.testing.assert_allclose(smooth_embeddings(emb, window), smooth_reference(emb, window), atol=1e-12)


def test_smoothing_window_is_centred(rng):
    impulse = np.zeros((11, 1))
    impulse[5] = 1.0
    out = smooth_embeddings(impulse, 2)[:, 0]
    np.testing.assert_allclose(out, out[::-1])  # symmetric around the impulse
    assert (out[3:8] > 0).all() and (out[:3] == 0).all() and (out[8:] == 0).all()
    with pytest.raises(ConfigError, match="smoothing_window"):
        smooth_embeddings(impulse, -1)


def test_nearest_neighbours_equals_brute_force_in_blocks(rng):
    q, t = rng.normal(size=(37, 5)), rng.normal(size=(53, 5))
    idx, dist = nearest_neighbours(q, t, max_elements=100)  # blocks of one query row
    np.testing.assert_array_equal(idx, nn_reference(q, t))
    np.testing.assert_allclose(dist, np.linalg.norm(q - t[idx], axis=1))
    np.testing.assert_array_equal(nearest_neighbours(q, t)[0], idx)


def test_single_mode_matches_brute_force_on_smoothed_embeddings(rng):
    seqs = [make_embedded(f"s{i}", 2, 20 + 3 * i, 6, rng) for i in range(3)]
    pairs = plan_imitations(seqs, seqs, "single", query_view=1, target_view=0)
    assert [p.name for p in pairs][:3] == ["qs0v1_ims0v0", "qs0v1_ims1v0", "qs0v1_ims2v0"]
    assert len(pairs) == 9
    for pair in pairs:
        m = match_pair(pair, smoothing_window=3)
        q = smooth_reference(pair.query.embeddings[1], 3)
        t = smooth_reference(pair.targets[0].embeddings[0], 3)
        np.testing.assert_array_equal(m.target_frame, nn_reference(q, t))
        assert (m.target_index == 0).all()
        np.testing.assert_allclose(m.distance, np.linalg.norm(q - t[m.target_frame], axis=1))


def test_multi_mode_never_matches_the_query_sequence(rng):
    seqs = [make_embedded(f"run/{i}", 2, 15, 4, rng) for i in range(4)]
    # Make every query's own view 0 identical to its view 1: with itself in the pool it would always win.
    for s in seqs:
        s.embeddings[0] = s.embeddings[1]
    pairs = plan_imitations(seqs, seqs, "multi", query_view=1, target_view=0)
    assert [p.name for p in pairs] == [f"qrun_{i}v1_multiv0" for i in range(4)]
    for pair in pairs:
        assert pair.query.name not in [t.name for t in pair.targets]
        m = match_pair(pair, smoothing_window=1)
        assert len(pair.targets) == 3
        assert all(pair.targets[k].name != pair.query.name for k in m.target_index)
        assert (m.distance > 0).all()
        pooled = np.concatenate([smooth_reference(t.embeddings[0], 1) for t in pair.targets])
        flat = nn_reference(smooth_reference(pair.query.embeddings[1], 1), pooled)
        np.testing.assert_array_equal(m.target_index * 15 + m.target_frame, flat)
    limited = plan_imitations(seqs, seqs, "multi", num_multi_targets=2)
    assert [len(p.targets) for p in limited] == [2, 2, 2, 2]
    assert [t.name for t in limited[0].targets] == ["run/1", "run/2"]


def test_same_mode_and_bad_arguments(rng):
    seqs = [make_embedded(f"s{i}", 3, 10, 4, rng) for i in range(2)]
    pairs = plan_imitations(seqs, [], "same", query_view=2, target_view=0)
    assert [(p.name, p.targets[0] is p.query) for p in pairs] == [("qs0v2_ims0v0", True), ("qs1v2_ims1v0", True)]
    with pytest.raises(ConfigError, match="both 1"):
        plan_imitations(seqs, [], "same", query_view=1, target_view=1)
    with pytest.raises(ConfigError, match="--query_view 3"):
        plan_imitations(seqs, seqs, "single", query_view=3)
    with pytest.raises(ConfigError, match="--mode"):
        plan_imitations(seqs, seqs, "pairs")
    with pytest.raises(DataError, match="other than the query"):
        plan_imitations(seqs[:1], seqs[:1], "multi")


def test_video_has_one_frame_per_query_frame_and_shows_query_and_match(toy_dataset, tmp_path, rng):
    records = open_sequences(toy_dataset / "val" / "records")[:2]
    seqs = [EmbeddedSequence(r.name, rng.normal(size=(r.num_views, r.length, 8)), r) for r in records]
    pairs = plan_imitations(seqs[:1], seqs[1:], "single", query_view=1, target_view=0)
    (result,) = write_imitations(pairs, tmp_path, smoothing_window=2, fps=12, progress=False)
    assert result.video == tmp_path / f"q{records[0].name}v1_im{records[1].name}v0.mp4"
    layout = ImitationRenderer(result.pair, result.match).layout
    info = probe_video(result.video)
    assert (info.num_frames, info.fps, info.width, info.height) == (24, 12.0, layout.width, layout.height)
    assert layout.panel_height >= 128  # 32 px frames are upscaled so captions are legible
    video = read_video(result.video)
    assert video.shape == (24, layout.height, layout.width, 3)
    top, h = layout.caption_height, layout.panel_height
    for t in (0, 11, 23):
        j = result.match.target_frame[t]
        for x, frame in ((0, records[0].frame(1, t)), (layout.query_width + layout.gap, records[1].frame(0, j))):
            expected = np.asarray(Image.fromarray(frame).resize((layout.query_width, h), Image.Resampling.BILINEAR))
            shown = video[t, top : top + h, x : x + layout.query_width].astype(float)
            assert np.abs(shown - expected).mean() < 12  # left = query frame t, right = its match
    assert not list(tmp_path.glob(".*"))  # no temporary files left
    with Image.open(result.alignment_plot) as img:
        assert img.size[0] > 300 and len(img.getcolors(1 << 16) or []) > 20


def test_gif_and_png_exports(tmp_path, rng):
    seqs = [make_embedded(f"s{i}", 2, 9, 4, rng, size=(20, 40)) for i in range(2)]
    (pair,) = plan_imitations(seqs[:1], seqs[1:], "single")
    renderer = ImitationRenderer(pair, match_pair(pair, 1), min_panel_height=64)
    assert renderer.layout.query_width == 2 * renderer.layout.panel_height  # aspect ratio kept
    gif = write_imitation_gif(tmp_path / "a.gif", renderer, fps=5, every=2)
    with Image.open(gif) as img:
        assert img.n_frames == 5 and img.size == (renderer.layout.width, renderer.layout.height)
        img.seek(1)  # the frame of t = 2, through a shared 128-colour palette
        assert np.abs(np.asarray(img.convert("RGB"), float) - renderer.frame(2)).mean() < 4
    paths = save_frames_png(tmp_path, renderer, [0, 8])
    assert [p.name for p in paths] == ["qs0v1_ims1v0_t00000.png", "qs0v1_ims1v0_t00008.png"]
    with Image.open(paths[1]) as img:
        np.testing.assert_array_equal(np.asarray(img), renderer.frame(8))


def test_only_some_views_embedded(rng):
    full = [make_embedded(f"s{i}", 3, 12, 4, rng) for i in range(2)]
    # keep views 2 and 0 only, in that order
    part = [EmbeddedSequence(s.name, s.embeddings[[2, 0]], s.sequence, views=(2, 0)) for s in full]
    m_full = match_pair(plan_imitations(full, full, "single", 2, 0)[1], 2)
    m_part = match_pair(plan_imitations(part, part, "single", 2, 0)[1], 2)
    np.testing.assert_array_equal(m_part.target_frame, m_full.target_frame)
    with pytest.raises(ConfigError, match="--query_view 1"):
        plan_imitations(part, part, "single", 1, 0)
    with pytest.raises(DataError, match="do not label"):
        EmbeddedSequence("x", np.zeros((2, 3, 4)), views=(0,))
