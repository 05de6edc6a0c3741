"""tcn imitate / tcn project end to end, on a tiny small_conv checkpoint and the toy dataset."""

from __future__ import annotations

import argparse
import shutil

import numpy as np
import pytest
from google.protobuf import text_format
from PIL import Image
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

from timecontrast.cli.main import main
from timecontrast.config import config_to_dict, load_config
from timecontrast.data.records import open_sequences
from timecontrast.data.state import SequenceState, save_state
from timecontrast.inference import Embedder
from timecontrast.io.video import probe_video
from timecontrast.models import save_checkpoint
from timecontrast.viz.matching import nearest_neighbours, smooth_embeddings


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A log directory with one small_conv checkpoint (random weights, step 3)."""
    cfg = load_config(
        None,
        None,
        [
            "embedder_strategy=small_conv",
            "embedding_size=8",
            "small_conv.channels=[8,16]",
            "small_conv.fc_hidden_sizes=[16]",
            "data.height=32",
            "data.width=32",
            "data.embed_batch_size=16",
            "runtime.device=cpu",
        ],
    )
    model = Embedder.untrained(cfg, seed=0).model
    logdir = tmp_path_factory.mktemp("run")
    state = {"model": model.state_dict(), "optimizer": None, "grad_scaler": {}, "step": 3, "rng": None}
    save_checkpoint(logdir, {**state, "config": config_to_dict(cfg)})
    return logdir


@pytest.fixture(scope="module")
def labelled_records(toy_dataset, tmp_path_factory):
    """The toy validation records in the synth layout, with state files holding labels."""
    root = tmp_path_factory.mktemp("data") / "val"
    shutil.copytree(toy_dataset / "val" / "records", root / "records")
    for rec in open_sequences(root / "records"):
        toy = np.load(toy_dataset / "val" / f"{rec.name}.toystate.npz")
        x, v = toy["position"], toy["velocity"]
        labels = {"side": (x[:, 0] > 0).astype(np.int64), "moving_right": (v[:, 0] > 0).astype(np.int64)}
        save_state(root / "state" / f"{rec.name}.npz", SequenceState(x, v, ["x"], ["v"], labels))
    return root / "records"


def test_imitate_single_and_multi(run_dir, toy_dataset, tmp_path, capsys):
    records = toy_dataset / "val" / "records"
    names = [s.name for s in open_sequences(records)]
    out = tmp_path / "single"
    argv = ["imitate", "--checkpointdir", str(run_dir), "--outdir", str(out), "--query_records_dir", str(records)]
    assert main([*argv, "--num_query_sequences", "1", "--fps", "10", "--smoothing_window", "2"]) == 0
    videos = sorted(p.name for p in out.glob("*.mp4"))
    assert videos == sorted(f"q{names[0]}v1_im{n}v0.mp4" for n in names)
    info = probe_video(out / videos[0])
    assert (info.num_frames, info.fps) == (24, 10.0)
    assert len(list(out.glob("*_alignment.png"))) == 2
    assert "2 imitation videos" in capsys.readouterr().out

    # multi mode: the only other sequence is every match; the query's own never is.
    out = tmp_path / "multi"
    assert main([*argv[:3], "--outdir", str(out), *argv[5:], "--mode", "multi", "--no_alignment_plots", "--gif"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(f"q{n}v1_multiv0.{e}" for n in names for e in ("gif", "mp4"))
    from PIL import Image

    with Image.open(out / f"q{names[0]}v1_multiv0.gif") as gif:
        assert gif.n_frames == 24


def test_imitate_matches_brute_force_through_the_embedder(run_dir, toy_dataset, tmp_path):
    from timecontrast.cli.imitate import EmbeddingSetup, add_arguments
    from timecontrast.viz.imitation import plan_imitations
    from timecontrast.viz.matching import match_pair

    records = toy_dataset / "val" / "records"
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        ["--checkpointdir", str(run_dir), "--outdir", str(tmp_path), "--query_records_dir", str(records)]
    )
    setup = EmbeddingSetup.from_args(args)
    queries = setup.embed_records(records, -1, "query", [0, 1])
    assert queries[0].views == (0, 1) and queries[0].embeddings.shape == (2, 24, 8)
    pair = plan_imitations(queries, queries, "same", query_view=1, target_view=0)[0]
    match = match_pair(pair, smoothing_window=3)
    emb = Embedder.from_checkpoint(run_dir).embed_sequence(open_sequences(records)[0])  # [V, T, D]
    expected, _ = nearest_neighbours(smooth_embeddings(emb[1], 3), smooth_embeddings(emb[0], 3))
    np.testing.assert_array_equal(match.target_frame, expected)


def test_imitate_bad_view_is_a_clean_error(run_dir, toy_dataset, tmp_path, capsys):
    argv = ["imitate", "--checkpointdir", str(run_dir), "--outdir", str(tmp_path / "x")]
    argv += ["--query_records_dir", str(toy_dataset / "val" / "records"), "--query_view", "4"]
    assert main(argv) == 2
    assert "no view 4" in capsys.readouterr().err
    assert main([*argv[:-1], "1", "--mode", "same", "--target_view", "1"]) == 2
    assert not (tmp_path / "x").exists()


def test_project_writes_projector_and_plots(run_dir, labelled_records, tmp_path, capsys):
    out = tmp_path / "proj"
    argv = ["project", "--checkpointdir", str(run_dir), "--outdir", str(out), "--embedding_records"]
    argv += [str(labelled_records), "--num_embed", "30", "--sprite_dim", "16", "--no-tsne", "--num_trajectories", "2"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert f"tensorboard --logdir {out}" in printed
    config = text_format.Parse((out / "projector_config.pbtxt").read_text(), ProjectorConfig())
    (emb,) = config.embeddings
    lines = (out / emb.metadata_path).read_text().splitlines()
    assert lines[0].split("\t") == ["sequence", "view", "timestep", "time", "moving_right", "side"]
    assert len(lines) == 31 and len((out / emb.tensor_path).read_text().splitlines()) == 30
    assert all(row.split("\t")[5] in ("0", "1") for row in lines[1:])  # every frame has its label
    with Image.open(out / emb.sprite.image_path) as img:
        assert img.size == (6 * 16, 6 * 16)
    assert {p.name for p in out.glob("*.png")} == {"pca.png", "trajectories.png"}
