"""``tcn project`` and the projector on sequences of 0 frames (issue 13): a warning and the
rest is projected, or one clear line when nothing is left; never a traceback."""

from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest
from viz_helpers import make_embedded

from timecontrast.cli.main import main
from timecontrast.config import config_to_dict, load_config
from timecontrast.data.records import write_sequence_record
from timecontrast.errors import DataError
from timecontrast.inference import Embedder
from timecontrast.models import save_checkpoint
from timecontrast.viz.plots import write_embedding_plots
from timecontrast.viz.projector import sample_frames


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A log directory with one small_conv checkpoint (random weights)."""
    overrides = ["embedder_strategy=small_conv", "embedding_size=8", "small_conv.channels=[8,16]",
                 "small_conv.fc_hidden_sizes=[16]", "data.height=32", "data.width=32", "runtime.device=cpu"]  # fmt: skip
    cfg = load_config(None, None, overrides)
    model = Embedder.untrained(cfg, seed=0).model
    logdir = tmp_path_factory.mktemp("run")
    state = {"model": model.state_dict(), "optimizer": None, "grad_scaler": {}, "step": 1, "rng": None}
    save_checkpoint(logdir, {**state, "config": config_to_dict(cfg)})
    return logdir


def project(run_dir, records, outdir) -> int:
    argv = ["project", "--checkpointdir", str(run_dir), "--outdir", str(outdir), "--embedding_records", str(records)]
    return main([*argv, "--num_embed", "20", "--sprite_dim", "8", "--no-tsne", "--num_trajectories", "3"])


def test_project_skips_a_zero_frame_sequence(run_dir, toy_dataset, tmp_path, capsys, caplog):
    records = tmp_path / "records"
    shutil.copytree(toy_dataset / "val" / "records", records)
    blank = records / "a_blank.tfrecord"  # first in file order, so also first for the trajectories
    write_sequence_record(blank, "a_blank", [[], []])
    with caplog.at_level(logging.WARNING):
        code = project(run_dir, records, tmp_path / "proj")
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Traceback" not in captured.err
    assert f"{blank}: sequence 'a_blank' has 0 frames; skipped" in caplog.text
    assert "projector: 20 embeddings of 2 sequences" in captured.out
    assert (tmp_path / "proj" / "projector_config.pbtxt").is_file()


def test_project_with_only_zero_frame_sequences_is_one_line(run_dir, tmp_path, capsys):
    records = tmp_path / "records"
    write_sequence_record(records / "a.tfrecord", "a", [[], []])
    write_sequence_record(records / "b.tfrecord", "b", [[], []])
    out = tmp_path / "proj"
    assert project(run_dir, records, out) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    [line] = [x for x in err.strip().splitlines() if "error" in x]
    assert line.startswith("tcn project: error: ") and str(records) in line and "0 frames" in line
    assert not (out / "projector_config.pbtxt").exists()


def test_sample_frames_never_draws_from_an_empty_sequence(rng, caplog):
    seqs = [make_embedded("a", 2, 6, 4, rng), make_embedded("empty", 2, 0, 4, rng), make_embedded("b", 2, 5, 4, rng)]
    with caplog.at_level(logging.WARNING, logger="timecontrast.viz.projector"):
        sample = sample_frames(seqs, -1, np.random.default_rng(0))
    assert len(sample) == 2 * 6 + 2 * 5 and 1 not in sample.sequence.tolist()
    assert "sequence 'empty' has 0 frames" in caplog.text
    assert np.all(sample.time <= 1.0)


def test_sample_frames_of_empty_sequences_is_a_data_error(rng):
    with pytest.raises(DataError, match="hold no frames"):
        sample_frames([make_embedded("empty", 2, 0, 4, rng)], 10, np.random.default_rng(0))


def test_trajectories_leave_out_empty_sequences(rng, tmp_path):
    seqs = [make_embedded("empty", 2, 0, 4, rng), make_embedded("a", 2, 6, 4, rng), make_embedded("b", 2, 5, 4, rng)]
    sample = sample_frames(seqs, -1, np.random.default_rng(0))
    paths = write_embedding_plots(tmp_path, sample, seqs, tsne=False, num_trajectories=2)
    assert {p.name for p in paths} == {"pca.png", "trajectories.png"}
