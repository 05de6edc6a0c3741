"""The Embedder: three embedding modes agree, clips at sequence starts, input checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from timecontrast.config import load_config
from timecontrast.data.records import open_sequences
from timecontrast.data.samplers import clip_indices
from timecontrast.errors import CheckpointError, DataError, DependencyError
from timecontrast.inference import Embedder
from timecontrast.models import save_checkpoint
from toy_data import MULTI_FRAME_EMBEDDER, SMALL_EMBEDDER, save_tiny_checkpoint

SMALL = [*SMALL_EMBEDDER, "data.embed_batch_size=5"]  # several chunks per 24-frame view
MULTI = [*MULTI_FRAME_EMBEDDER, "data.embed_batch_size=7"]  # 2 clips per forward pass


def test_three_modes_give_the_same_embeddings(toy_dataset, tmp_path):
    cfg = load_config(None, None, SMALL)
    _, model = save_tiny_checkpoint(tmp_path / "run", cfg, step=7, seed=3)
    emb = Embedder.from_checkpoint(tmp_path / "run")
    assert emb.step == 7 and emb.embedding_size == 8
    seqs = open_sequences(toy_dataset / "val" / "records")

    by_sequence = {it.name: it for it in emb.embed_sequences(toy_dataset / "val" / "records")}
    assert set(by_sequence) == {s.name for s in seqs}
    seq = seqs[0]
    item = by_sequence[seq.name]
    assert item.embeddings.shape == (2, seq.length, 8) and item.embeddings.dtype == np.float32
    assert item.sequence.frame(1, 3).shape == (32, 32, 3)  # raw frames stay reachable

    for view in range(2):
        frames = seq.frames(view, range(seq.length))  # [T, 32, 32, 3] uint8
        images = emb.embed_images(frames)
        np.testing.assert_allclose(images, item.embeddings[view], atol=1e-5)
        # Loader batches: raw uint8 frames, and frames preprocessed as the training loaders do.
        batches = [
            {"images": frames[:10], "timesteps": torch.arange(10)},
            {"images": emb.transform(frames[10:]), "timesteps": torch.arange(10, seq.length)},
        ]
        out = list(emb.embed_loader(batches))
        assert out[1]["timesteps"].tolist() == list(range(10, seq.length))
        np.testing.assert_allclose(np.concatenate([b["embeddings"] for b in out]), images, atol=1e-5)
    # One record file as a plain string path, and a list of sequence objects.
    first = next(emb.embed_sequences(str(seq.path)))
    assert first.name == seq.name and first.views == (0, 1)
    np.testing.assert_allclose(first.embeddings, item.embeddings, atol=1e-5)
    again = next(emb.embed_sequences([seq], num_views=1))
    np.testing.assert_allclose(again.embeddings, item.embeddings[:1], atol=1e-5)

    # The checkpoint's weights were loaded: the in-memory model gives the same numbers.
    direct = model.eval()(emb.transform(seq.frames(0, range(4)))).detach().numpy()
    np.testing.assert_allclose(direct, item.embeddings[0, :4], atol=1e-5)


def test_multi_frame_clips_at_the_sequence_start(toy_dataset):
    cfg = load_config(None, None, MULTI)
    emb = Embedder.untrained(cfg, seed=1)
    assert emb.num_frames == 3 and emb.frame_stride == 2
    seq = open_sequences(toy_dataset / "val" / "records")[0]
    item = next(emb.embed_sequences([seq]))
    frames = seq.frames(1, range(seq.length))
    # By hand: the clip ending at t is frames t-4, t-2, t with the first frame repeated.
    assert clip_indices(1, 3, 2).tolist() == [0, 0, 1]
    clips = np.stack([frames[[max(0, t - 4), max(0, t - 2), t]] for t in range(seq.length)])
    with torch.no_grad():
        expected = emb.model(emb.transform(clips)).numpy()  # [T, K, 3, h, w] -> [T, D]
    np.testing.assert_allclose(item.embeddings[1], expected, atol=1e-5)
    np.testing.assert_allclose(emb.embed_images(clips), expected, atol=1e-5)  # explicit clips
    np.testing.assert_allclose(emb.embed_images(frames), expected, atol=1e-5)  # a stream of frames
    # Chunking does not change the result (clips reach back into the previous chunk).
    one_per_batch = Embedder(emb.model, cfg, batch_size=1)
    np.testing.assert_allclose(one_per_batch.embed_sequence(seq, [1])[0], expected, atol=1e-5)


def test_image_inputs_are_checked(toy_dataset):
    emb = Embedder.untrained(load_config(None, None, SMALL), seed=0)
    frames = open_sequences(toy_dataset / "val" / "records")[0].frames(0, range(3))
    as_float = frames.astype(np.float32) / 255.0
    np.testing.assert_allclose(emb.embed_images(as_float), emb.embed_images(frames), atol=1e-6)
    one, shown = emb.embed_images(frames[0], return_preprocessed=True)
    assert one.shape == (1, 8) and shown.shape == (1, 32, 32, 3) and shown.dtype == np.uint8
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        emb.embed_images(frames.astype(np.float32))  # 0..255 floats
    with pytest.raises(DataError, match="dtype"):
        emb.embed_images(frames.astype(np.int32))
    with pytest.raises(DataError, match="shape"):
        emb.embed_images(frames[..., :2])
    with pytest.raises(DataError, match="numpy array"):
        emb.embed_images(42)
    with pytest.raises(DataError, match="dict batches with an 'images' entry"):
        next(emb.embed_loader([frames]))  # a bare array is not a batch


def test_untrained_is_seeded_and_leaves_global_rng_alone():
    cfg = load_config(None, None, SMALL)
    x = np.random.default_rng(0).integers(0, 255, size=(2, 32, 32, 3), dtype=np.uint8)
    before = torch.get_rng_state()
    a = Embedder.untrained(cfg, seed=5).embed_images(x)
    b = Embedder.untrained(cfg, seed=5).embed_images(x)
    c = Embedder.untrained(cfg, seed=6).embed_images(x)
    assert torch.equal(before, torch.get_rng_state())
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_checkpoint_selection_and_strict_loading(tmp_path):
    cfg = load_config(None, None, SMALL)
    save_tiny_checkpoint(tmp_path / "run", cfg, step=2, seed=0)
    save_tiny_checkpoint(tmp_path / "run", cfg, step=4, seed=1)
    x = np.random.default_rng(1).integers(0, 255, size=(3, 32, 32, 3), dtype=np.uint8)
    latest = Embedder.from_checkpoint(tmp_path / "run")
    second = Embedder.from_checkpoint(tmp_path / "run", step=2)
    assert latest.step == 4 and second.step == 2
    assert not np.allclose(latest.embed_images(x), second.embed_images(x))
    with pytest.raises(CheckpointError, match="no checkpoint of step 3"):
        Embedder.from_checkpoint(tmp_path / "run", step=3)
    # A checkpoint whose weights do not match its config is refused, not partly loaded.
    state = torch.load(tmp_path / "run" / "checkpoints" / "ckpt-000000004.pt", weights_only=True)
    state["model"].pop(next(iter(state["model"])))
    save_checkpoint(tmp_path / "bad" / "ckpt-000000009.pt", state | {"step": 9})
    with pytest.raises(CheckpointError, match="missing keys"):
        Embedder.from_checkpoint(tmp_path / "bad" / "ckpt-000000009.pt")


def test_pretrained_trunk_baseline_from_a_local_weights_file(tmp_path):
    cfg = load_config(None, None, SMALL)
    trained = Embedder.untrained(cfg, seed=2)
    weights = tmp_path / "trunk.pt"
    torch.save(trained.model.trunk.state_dict(), weights)
    baseline = Embedder.pretrained_trunk(
        load_config(None, None, [*SMALL, f"small_conv.pretrained_checkpoint={weights}"])
    )
    x = np.random.default_rng(2).integers(0, 255, size=(3, 32, 32, 3), dtype=np.uint8)
    with torch.no_grad():
        pooled = trained.model.trunk(trained.transform(x)).mean(dim=(2, 3)).numpy()  # [3, 16]
    np.testing.assert_allclose(baseline.embed_images(x), pooled, atol=1e-5)
    with pytest.raises(DependencyError, match="no pretrained trunk"):
        Embedder.pretrained_trunk(cfg)  # small_conv without a weights file
