"""Embedder.export and tcn export: npz and parquet files hold the Embedder's embeddings with
labels, timesteps and state; manifest.json; resume, overwrite and bad input."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from timecontrast.cli.main import main
from timecontrast.config import save_config
from timecontrast.data import layout
from timecontrast.data.labeled import LabeledFrame, iter_labeled_frames, write_labeled_records
from timecontrast.data.records import open_sequences
from timecontrast.data.state import SequenceState, save_state
from timecontrast.errors import ConfigError, DataError
from timecontrast.inference import Embedder
from toy_data import make_toy_dataset, save_tiny_checkpoint, tiny_config, tiny_embedder

LENGTH = 12


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    """DIR/val/records of 3 two-view toy sequences of 12 frames, with labeled records
    (toy_0002's cover timesteps 0 and 5 only) and a state file for toy_0000."""
    root = make_toy_dataset(tmp_path_factory.mktemp("data"), {"val": 3}, length=LENGTH)
    position = np.linspace(0, 1, LENGTH)[:, None] * [1.0, -1.0]  # [T, 2]
    phase = (np.arange(LENGTH) >= 6).astype(np.int64)
    side = np.full(LENGTH, 7)  # the state's 'side', not the labeled records'
    state = SequenceState(position, position[:, :1] * 0.5, ["x", "y"], ["vx"], {"phase": phase, "side": side})
    save_state(layout.state_path(root, "val", "toy_0000"), state)
    sparse = [LabeledFrame([b"\xff"], "toy_0002", {"side": t % 2}, t) for t in (0, 5)]
    write_labeled_records(layout.labeled_path(root, "val", "toy_0002"), sparse)
    return root / "val" / "records"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A logdir with a tiny checkpoint of step 7 and its final_training_config.yaml."""
    logdir = tmp_path_factory.mktemp("run")
    cfg = tiny_config("data.embed_batch_size=5", "runtime.device=cpu")
    save_config(cfg, logdir)
    save_tiny_checkpoint(logdir, cfg, step=7, seed=3)
    return logdir


def _labeled(records, name: str) -> dict[str, np.ndarray]:
    """The labels of a sequence's labeled records, read independently of the exporter."""
    out: dict[str, np.ndarray] = {}
    for frame in iter_labeled_frames(records.parent / "labeled" / f"{name}.tfrecord"):
        for key, value in frame.labels.items():
            out.setdefault(key, np.full(LENGTH, -1))[frame.timestep] = value
    return out


def test_npz_export_holds_the_embedders_embeddings_labels_and_state(records, run, tmp_path):
    embedder = Embedder.from_checkpoint(run, device="cpu")
    result = embedder.export(records, tmp_path / "out", "npz")
    assert (result.exported, result.skipped, result.num_rows) == (3, 0, 3 * 2 * LENGTH)
    for seq in open_sequences(records):
        with np.load(tmp_path / "out" / f"{seq.name}.npz") as npz:
            np.testing.assert_array_equal(npz["embeddings"], embedder.embed_sequence(seq))  # [2, T, 8]
            assert npz["embeddings"].dtype == np.float32
            assert str(npz["sequence"]) == seq.name
            assert npz["views"].tolist() == [0, 1] and npz["timesteps"].tolist() == list(range(LENGTH))
            labels = {k[len("labels_") :]: npz[k] for k in npz.files if k.startswith("labels_")}
            assert sorted(labels) == npz["label_names"].tolist()
            has_state = "state_position" in npz.files
        want = _labeled(records, seq.name)
        if seq.name == "toy_0000":  # the state's labels: its labeled records are not read
            assert has_state and sorted(labels) == ["phase", "side"] and "moving_right" in want
            assert labels["side"].tolist() == [7] * LENGTH and labels["phase"].tolist() == [0] * 6 + [1] * 6
        else:
            assert not has_state and sorted(labels) == sorted(want)
            for key in want:
                np.testing.assert_array_equal(labels[key], want[key])
    sparse = np.load(tmp_path / "out" / "toy_0002.npz")["labels_side"]
    assert sparse.tolist() == [0, -1, -1, -1, -1, 1] + [-1] * 6  # unlabeled timesteps: -1
    with np.load(tmp_path / "out" / "toy_0000.npz") as npz:
        np.testing.assert_array_equal(npz["state_position"][:, 1], -np.linspace(0, 1, LENGTH))
        assert npz["state_position_names"].tolist() == ["x", "y"] and npz["state_velocity"].shape == (LENGTH, 1)

    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    model = manifest["model"]
    assert manifest["format"] == "npz" and manifest["embedding_size"] == 8 and manifest["unlabeled"] == -1
    assert model["step"] == 7 and model["checkpoint"].endswith("ckpt-000000007.pt") and model["frames_per_clip"] == 1
    # The config hash is that of the run's final_training_config.yaml (after its comment line).
    config_text = (run / "final_training_config.yaml").read_text().split("\n", 1)[1]
    assert model["config_sha256"] == hashlib.sha256(config_text.encode()).hexdigest()
    entries = {e["name"]: e for e in manifest["sequences"]}
    assert sorted(entries) == ["toy_0000", "toy_0001", "toy_0002"] and manifest["num_rows"] == 3 * 2 * LENGTH
    assert entries["toy_0000"]["file"] == "toy_0000.npz" and entries["toy_0000"]["views"] == [0, 1]
    assert entries["toy_0000"]["length"] == LENGTH and entries["toy_0000"]["state"] == {
        "position": ["x", "y"],
        "velocity": ["vx"],
    }
    assert entries["toy_0001"]["labels"] == ["moving_right", "side"] and entries["toy_0001"]["state"] is None


def test_parquet_export_has_a_row_per_frame_and_view(records, run, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    embedder = Embedder.from_checkpoint(run, device="cpu")
    embedder.export(records, tmp_path / "out", "parquet", views=[1])
    seq = open_sequences(records)[0]  # toy_0000: labels and state
    table = pq.read_table(tmp_path / "out" / "toy_0000.parquet")
    assert table.num_rows == LENGTH  # view 1 only
    assert table.column_names[:4] == ["sequence", "view", "timestep", "embedding"]
    assert table.schema.field("embedding").type.list_size == 8
    rows = table.to_pydict()
    assert set(rows["sequence"]) == {"toy_0000"} and set(rows["view"]) == {1}
    assert rows["timestep"] == list(range(LENGTH))
    np.testing.assert_array_equal(np.array(rows["embedding"], np.float32), embedder.embed_sequence(seq, [1])[0])
    assert rows["labels_phase"] == [0] * 6 + [1] * 6 and rows["labels_side"] == [7] * LENGTH
    np.testing.assert_allclose(np.array(rows["state_position"])[:, 0], np.linspace(0, 1, LENGTH))
    both = pq.read_table(tmp_path / "out" / "toy_0001.parquet")
    assert b"timecontrast_export" in both.schema.metadata and "state_position" not in both.column_names
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["format"] == "parquet" and manifest["views"] == [1]
    assert [e["file"] for e in manifest["sequences"]] == [f"toy_000{k}.parquet" for k in range(3)]


def test_export_resumes_and_overwrites(records, run, tmp_path):
    out = tmp_path / "out"
    embedder = Embedder.from_checkpoint(run, device="cpu")
    calls: list[str] = []
    embed = embedder.embed_sequence

    def counting(sequence, views=None):
        calls.append(sequence.name)
        if sequence.name == "toy_0001" and "fail" in calls:
            raise RuntimeError("killed")
        return embed(sequence, views)

    embedder.embed_sequence = counting  # type: ignore[method-assign]
    calls.append("fail")  # the first run dies on its second sequence
    with pytest.raises(RuntimeError, match="killed"):
        embedder.export(records, out)
    assert sorted(p.name for p in out.iterdir()) == [".export.json", "toy_0000.npz"]  # no manifest, no temporaries
    calls.clear()
    result = embedder.export(records, out)  # resumes: toy_0000 is skipped
    assert calls == ["toy_0001", "toy_0002"] and (result.exported, result.skipped) == (2, 1)
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", *(f"toy_000{k}.npz" for k in range(3))]
    first = json.loads((out / "manifest.json").read_text())
    calls.clear()
    assert embedder.export(records, out).skipped == 3 and calls == []
    assert json.loads((out / "manifest.json").read_text())["sequences"] == first["sequences"]

    # Another model, format or views in the same folder: an error, unless overwrite.
    other = tiny_embedder("data.embed_batch_size=5", seed=9)
    with pytest.raises(DataError, match="another model.*--overwrite"):
        other.export(records, out)
    with pytest.raises(DataError, match="format npz"):
        embedder.export(records, out, "parquet")
    with pytest.raises(DataError, match="views"):
        embedder.export(records, out, views=[0])
    (out / "manifest.json").write_text("{")  # damaged: what the folder holds is unknown
    with pytest.raises(DataError, match="not a readable export file"):
        embedder.export(records, out)
    result = other.export(records, out, overwrite=True)
    assert result.exported == 3
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["step"] is None and manifest["model"]["checkpoint"] == "untrained (seed 9)"
    seq = open_sequences(records)[1]
    np.testing.assert_array_equal(np.load(out / f"{seq.name}.npz")["embeddings"], other.embed_sequence(seq))


def test_multi_frame_export_and_bad_arguments(records, tmp_path):
    embedder = tiny_embedder("data.embed_batch_size=4", multi_frame=True)
    embedder.export(records, tmp_path / "mf", views=[1, 0], num_sequences=2)
    manifest = json.loads((tmp_path / "mf" / "manifest.json").read_text())
    assert manifest["model"]["frames_per_clip"] == 3 and len(manifest["sequences"]) == 2
    seq = open_sequences(records)[1]
    with np.load(tmp_path / "mf" / f"{seq.name}.npz") as npz:
        assert npz["views"].tolist() == [1, 0]
        np.testing.assert_array_equal(npz["embeddings"], embedder.embed_sequence(seq, [1, 0]))
    with pytest.raises(ConfigError, match="unknown export format 'csv'"):
        embedder.export(records, tmp_path / "x", "csv")
    with pytest.raises(DataError, match="no view 2"):
        embedder.export(records, tmp_path / "x", views=[2])
    with pytest.raises(DataError, match="no such file"):
        embedder.export(tmp_path / "missing", tmp_path / "x")


def _cli(capsys, *argv):
    rc = main(["export", *map(str, argv)])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def test_tcn_export_and_its_errors(records, run, tmp_path, capsys):
    out = tmp_path / "out"
    rc, printed, _ = _cli(capsys, "--checkpointdir", run, "--records", records, "--outdir", out, "--views", "0")
    assert rc == 0 and "3 sequences" in printed and (out / "manifest.json").is_file()
    assert np.load(out / "toy_0001.npz")["embeddings"].shape == (1, LENGTH, 8)
    rc, printed, _ = _cli(capsys, "--checkpointdir", run, "--records", records, "--outdir", out, "--views", "0")
    assert rc == 0 and "3 already exported" in printed

    (tmp_path / "empty").mkdir()
    (tmp_path / "file").write_text("x")
    good = ["--checkpointdir", run, "--records", records, "--outdir", tmp_path / "new"]
    cases = {
        "no checkpoint": (["--checkpointdir", tmp_path / "empty", *good[2:]], "no checkpoint"),
        "no records": ([*good[:2], "--records", tmp_path / "nothing", *good[4:]], "--records"),
        "records of a split": ([*good[:2], "--records", records.parent, *good[4:]], "is a dataset split"),
        "unknown format": ([*good, "--format", "csv"], "unknown export format 'csv'"),
        "outdir is a file": ([*good[:4], "--outdir", tmp_path / "file"], "is a file"),
        "bad views": ([*good, "--views", "a"], "--views"),
    }
    for case, (argv, message) in cases.items():
        rc, _, err = _cli(capsys, *argv)
        assert rc == 2, case
        assert err.count("\n") == 1 and err.startswith("tcn export: error:") and message in err, (case, err)
    assert not (tmp_path / "new").exists()  # nothing written for bad input
