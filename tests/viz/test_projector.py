"""Projector run: frame sampling, metadata table, sprite, config that TensorBoard parses."""

from __future__ import annotations

import math

import numpy as np
import pytest
from google.protobuf import text_format
from PIL import Image
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig
from viz_helpers import make_embedded

from timecontrast.data.sequence import EmbeddedSequence
from timecontrast.errors import DataError
from timecontrast.viz.projector import letterbox, sample_frames, sample_thumbnails, sprite_size, write_projector


def labelled_sequences(rng, size=(12, 36)):
    """Three sequences; two carry labels (one attribute only in the first)."""
    return [
        make_embedded("a", 2, 10, 5, rng, size, {"side": np.arange(10) % 2, "phase": np.arange(10) // 5}),
        make_embedded("b", 2, 8, 5, rng, size, {"side": np.ones(8, np.int64)}),
        make_embedded("c", 2, 6, 5, rng, size),
    ]


def test_sample_frames_without_replacement_and_seeded(rng):
    seqs = labelled_sequences(rng)
    sample = sample_frames(seqs, 30, np.random.default_rng(5))
    assert len(sample) == 30
    keys = set(zip(sample.sequence.tolist(), sample.view.tolist(), sample.timestep.tolist()))
    assert len(keys) == 30  # no frame twice
    for i in range(30):
        s, v, t = sample.sequence[i], sample.view[i], sample.timestep[i]
        np.testing.assert_allclose(sample.embeddings[i], seqs[s].embeddings[v, t], rtol=1e-6)
        assert sample.labels["side"][i] == (t % 2 if s == 0 else 1 if s == 1 else -1)
        assert sample.labels["phase"][i] == (t // 5 if s == 0 else -1)
    again = sample_frames(seqs, 30, np.random.default_rng(5))
    np.testing.assert_array_equal(again.timestep, sample.timestep)
    assert len(sample_frames(seqs, 1000, np.random.default_rng(0))) == 2 * (10 + 8 + 6)  # all of them
    assert sample.time.min() >= 0 and sample.time.max() <= 1


def test_letterbox_keeps_aspect_ratio():
    wide = np.full((10, 40, 3), 255, np.uint8)
    box = letterbox(wide, 32)  # scaled to 8 x 32, centred vertically
    rows = np.where(box.max(axis=(1, 2)) > 0)[0]
    assert box.shape == (32, 32, 3) and (rows.min(), rows.max()) == (12, 19)
    tall = letterbox(wide.transpose(1, 0, 2), 32)
    cols = np.where(tall.max(axis=(0, 2)) > 0)[0]
    assert (cols.min(), cols.max()) == (12, 19)


def test_projector_files_parse(tmp_path, rng):
    seqs = labelled_sequences(rng)
    sample = sample_frames(seqs, 11, np.random.default_rng(0))
    thumbs = sample_thumbnails(sample, seqs, 24)
    config_path = write_projector(tmp_path, sample, thumbs)
    config = text_format.Parse(config_path.read_text(), ProjectorConfig())
    (emb,) = config.embeddings
    assert list(emb.sprite.single_image_dim) == [24, 24]

    tensors = np.loadtxt(tmp_path / emb.tensor_path, delimiter="\t", ndmin=2)
    np.testing.assert_allclose(tensors, sample.embeddings, rtol=1e-5)
    lines = (tmp_path / emb.metadata_path).read_text().splitlines()
    header, rows = lines[0].split("\t"), [line.split("\t") for line in lines[1:]]
    assert header == ["sequence", "view", "timestep", "time", "phase", "side"]
    assert len(rows) == len(tensors) == 11
    for i, row in enumerate(rows):
        s, t = sample.sequence[i], sample.timestep[i]
        assert row[:3] == [seqs[s].name, str(sample.view[i]), str(t)]
        assert row[5] == ("" if s == 2 else str(sample.labels["side"][i]))

    with Image.open(tmp_path / emb.sprite.image_path) as img:
        sprite = np.asarray(img.convert("RGB"))
    assert sprite.shape[:2] == (sprite_size(11, 24),) * 2 == (math.ceil(math.sqrt(11)) * 24,) * 2
    cell = sprite[:24, :24]  # 12 x 36 frames: content 8 rows tall, centred, black bars above and below
    rows_lit = np.where(cell.max(axis=(1, 2)) > 0)[0]
    assert (rows_lit.min(), rows_lit.max()) == (8, 15)
    np.testing.assert_allclose(cell[12, 12], letterbox(seqs[sample.sequence[0]].sequence.frame(
        int(sample.view[0]), int(sample.timestep[0])), 24)[12, 12], atol=1)  # fmt: skip
    assert not list(tmp_path.glob(".projector-*"))

    # A second run replaces the first (fewer points).
    smaller = sample_frames(seqs, 4, np.random.default_rng(1))
    write_projector(tmp_path, smaller, None)
    config = text_format.Parse(config_path.read_text(), ProjectorConfig())
    assert len(np.loadtxt(tmp_path / config.embeddings[0].tensor_path, ndmin=2)) == 4
    assert not config.embeddings[0].sprite.image_path
    with pytest.raises(DataError, match="thumbnails"):
        write_projector(tmp_path, smaller, thumbs)


def test_sample_reports_the_real_view_of_partial_embeddings(rng):
    seq = make_embedded("a", 3, 5, 2, rng)
    part = EmbeddedSequence("a", seq.embeddings[[2]], seq.sequence, views=(2,))
    sample = sample_frames([part], -1, np.random.default_rng(0))
    assert sample.view.tolist() == [2] * 5
    np.testing.assert_allclose(sample.embeddings, seq.embeddings[2], rtol=1e-6)


def test_class_names_from_the_dataset_show_in_metadata_and_legends(tmp_path, rng):
    """tcn synth's dataset.json names each class; the projector table and plot legends use them."""
    import json

    from timecontrast.data.records import SequenceRecord, write_sequence_record
    from timecontrast.io.jpeg import encode_jpeg
    from timecontrast.viz.plots import sample_colourings
    from timecontrast.viz.projector import metadata_rows

    root = tmp_path / "ds"
    path = write_sequence_record(
        root / "val" / "records" / "s.tfrecord", "s", [[encode_jpeg(np.zeros((4, 4, 3), np.uint8))]]
    )
    assert SequenceRecord(path).class_names == {}
    (root / "dataset.json").write_text(json.dumps({"attributes": [{"name": "side", "classes": ["left", "right"]}]}))
    assert SequenceRecord(path).class_names == {"side": ["left", "right"]}
    (root / "dataset.json").write_text("{not json")
    assert SequenceRecord(path).class_names == {}  # cosmetic: a broken file only loses the names

    seqs = labelled_sequences(rng)
    seqs[0].sequence.class_names = {"side": ["left", "right"]}
    sample = sample_frames(seqs, 24, np.random.default_rng(0))
    assert sample.class_names == {"side": ["left", "right"]}
    header, rows = metadata_rows(sample)
    col = header.index("side")
    assert {r[col] for r in rows} <= {"left", "right", ""} and {"left", "right"} <= {r[col] for r in rows}
    assert sample.label_name("phase", 1) == "1"  # unnamed attributes keep their numbers
    side = next(c for c in sample_colourings(sample) if c.name == "side")
    assert side.class_names == ["left", "right"]
