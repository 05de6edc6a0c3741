"""Batch loaders: shapes per strategy, only chosen frames decoded, a worker-independent stream."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from timecontrast.data.loaders import WorkerFailure, build_batches, make_loader, open_split
from timecontrast.data.records import write_sequence_record
from timecontrast.errors import DataError, TimeContrastError
from timecontrast.io.jpeg import encode_jpeg
from timecontrast.models import build_embedder


@pytest.mark.parametrize(
    ("strategy", "shape"),
    [("mvtcn", (8, 3, 32, 32)), ("svtcn", (16, 3, 32, 32)), ("mftcn", (8, 2, 3, 32, 32))],
)
def test_batches_have_the_contract_shapes(make_config, strategy, shape):
    cfg = make_config(strategy)
    model = build_embedder(cfg)
    batches = build_batches(cfg, model, open_split(cfg, "training"), train=True, with_raw=True)
    batch = batches.batch(0)
    assert tuple(batch["images"].shape) == shape and batch["images"].dtype == torch.float32
    b = shape[0]
    for key in ("labels", "timesteps", "sequence_ids", "views"):
        assert batch[key].shape == (b,) and batch[key].dtype == torch.int64
    assert batch["raw"].shape == (b, 3, 32, 32) and batch["raw"].dtype == torch.uint8
    if strategy != "svtcn":  # [anchors; positives] of the same timesteps
        assert torch.equal(batch["timesteps"][: b // 2], batch["timesteps"][b // 2 :])


class CountingSequence:
    """Wraps a sequence record and counts decoded frames."""

    def __init__(self, seq, counter):
        self.seq, self.counter = seq, counter
        self.name, self.length, self.num_views = seq.name, seq.length, seq.num_views

    def frame(self, view, t):
        self.counter.append((self.name, view, t))
        return self.seq.frame(view, t)

    def close(self):
        self.seq.close()


def test_only_the_planned_frames_are_decoded_once_each(make_config):
    cfg = make_config("mftcn", "multi_frame.num_frames=3", "multi_frame.frame_stride=1")
    decoded: list = []
    sequences = [CountingSequence(s, decoded) for s in open_split(cfg, "training")]
    batches = build_batches(cfg, build_embedder(cfg), sequences, train=True)
    plan, _ = batches.plan(0)
    batches.batch(0)
    wanted = {
        (sequences[s].name, v, max(t - d, 0))
        for s, v, t in zip(plan.sequence.tolist(), plan.view.tolist(), plan.timestep.tolist())
        for d in range(3)
    }
    assert len(decoded) == len(set(decoded)) == len(wanted) and set(decoded) == wanted


def test_the_stream_is_the_same_with_any_number_of_workers(make_config):
    cfg = make_config("mvtcn")
    model = build_embedder(cfg)
    batches = build_batches(cfg, model, open_split(cfg, "training"), train=True, start_batch=5)
    loader = make_loader(batches, num_workers=2)
    got = [batch for _, batch in zip(range(4), loader)]
    for i, batch in enumerate(got):
        expected = batches.batch(5 + i)
        assert torch.equal(batch["images"], expected["images"]) and torch.equal(batch["views"], expected["views"])
    assert not torch.equal(got[0]["images"], got[1]["images"])  # workers do not repeat each other
    other_rank = build_batches(cfg, model, open_split(cfg, "training"), train=True, rank=1, start_batch=5)
    assert not torch.equal(other_rank.batch(5)["images"], got[0]["images"])


def test_validation_batches_are_fixed_and_unaugmented(make_config):
    cfg = make_config("mvtcn", "data.augmentation.minscale=0.5")
    model = build_embedder(cfg)
    val = build_batches(cfg, model, open_split(cfg, "validation"), train=False, num_batches=2)
    assert len(list(make_loader(val, num_workers=0))) == 2
    a, b = val.batch(0), val.batch(0)
    assert torch.equal(a["images"], b["images"])
    # The same frame twice (anchor and positive of a pair share no view, so compare per frame):
    frame = val.sequences[int(a["sequence_ids"][0])].frame(int(a["views"][0]), int(a["timesteps"][0]))
    torch.testing.assert_close(a["images"][0], val.transform(frame)[0])


def test_missing_views_is_a_data_error_naming_the_key(make_config):
    with pytest.raises(DataError, match=r"data.training: .*2 views.*data.num_views is 3"):
        open_split(make_config("mvtcn", "data.num_views=3"), "training")


def test_a_damaged_frame_read_in_a_worker_is_the_same_one_line_error(make_config, tmp_path):
    good = encode_jpeg(np.zeros((32, 32, 3), np.uint8))
    for name in ("s0", "s1"):
        views = [[b"\xff\xd8 this is not a JPEG"] * 24, [good] * 24]  # every batch meets a damaged frame
        write_sequence_record(tmp_path / f"{name}.tfrecord", name, views)
    cfg = make_config("mvtcn", f"data.training={tmp_path}")
    batches = build_batches(cfg, build_embedder(cfg), open_split(cfg, "training"), train=True)
    errors = []
    for workers in (0, 2):
        with pytest.raises(TimeContrastError) as exc:
            next(iter(make_loader(batches, num_workers=workers)))
        errors.append(exc.value)
    in_main, in_worker = errors
    assert type(in_worker) is type(in_main)
    assert str(in_worker) == str(in_main)
    assert "\n" not in str(in_worker) and str(tmp_path) in str(in_worker) and "cannot decode image" in str(in_worker)


class NamedFileError(DataError):
    """An error class whose constructor takes more than the message (does not unpickle)."""

    def __init__(self, path, reason):
        super().__init__(f"{path}: {reason}")


def test_an_error_that_cannot_cross_processes_arrives_as_its_base_class():
    failure = WorkerFailure.of(NamedFileError("s.tfrecord", "damaged"), worker=1)
    assert type(failure.error) is DataError and str(failure.error) == "s.tfrecord: damaged"
    missing = WorkerFailure.of(FileNotFoundError(2, "No such file or directory", "s.tfrecord"), worker=0)
    assert type(missing.error) is FileNotFoundError and missing.error.filename == "s.tfrecord"
