"""Compatibility with TensorFlow's files, checked against files TensorFlow itself wrote or parsed.

fixtures/tf_*.tfrecord were written by TensorFlow 2.21 (fixtures/make_tensorflow_files.py);
fixtures/ours_*.tfrecord were written by this package (``python tests/io/test_tensorflow_files.py``)
and parsed by TensorFlow with tf.io.parse_single_sequence_example / parse_single_example
in that same script, which checks every value. Here: we read TensorFlow's files, and our
writer still produces exactly the bytes TensorFlow parsed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from timecontrast.data.labeled import LabeledFrame, iter_labeled_frames, write_labeled_records
from timecontrast.data.records import SequenceRecord, write_sequence_record
from timecontrast.io.jpeg import encode_jpeg

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def test_reads_a_sequence_example_written_by_tensorflow():
    expected = np.load(FIXTURES / "tf_expected.npz")
    rec = SequenceRecord(FIXTURES / "tf_sequence.tfrecord")
    assert (rec.name, rec.num_views, rec.length, rec.stored_length) == ("tf_made", 2, 3, 3)
    ends = expected["jpeg_ends"].tolist()
    blobs = [expected["jpeg_bytes"][a:b].tobytes() for a, b in zip([0, *ends[:-1]], ends)]
    for v in range(2):
        for t in range(3):
            assert rec.jpeg(v, t) == blobs[3 * v + t]  # the stored bytes, exactly
            # The same JPEG decoded by TensorFlow and by us: the libraries' IDCT and chroma
            # upsampling differ by a few levels (RGB order and geometry must agree).
            diff = np.abs(rec.frame(v, t).astype(int) - expected["frames"][v, t].astype(int))
            assert diff.mean() < 4 and diff.max() <= 16, (v, t, diff.mean(), diff.max())


def test_reads_labeled_examples_written_by_tensorflow():
    frames = list(iter_labeled_frames(FIXTURES / "tf_labeled.tfrecord"))
    assert [f.task for f in frames] == ["tf_made"] * 3
    assert [f.labels["contact"] for f in frames] == np.load(FIXTURES / "tf_expected.npz")["contact"].tolist()
    assert [f.timestep for f in frames] == [0, 1, 2]
    rec = SequenceRecord(FIXTURES / "tf_sequence.tfrecord")
    assert [f.images for f in frames] == [[rec.jpeg(0, t), rec.jpeg(1, t)] for t in range(3)]


def ours_image(view: int, t: int) -> np.ndarray:
    y, x = np.mgrid[0:10, 0:14]
    return np.stack([(x * 18 + 50 * t) % 256, (y * 25 + 70 * view) % 256, np.full_like(x, 40 * t)], -1).astype(np.uint8)


def write_ours(folder: Path) -> tuple[Path, Path]:
    jpegs = [[encode_jpeg(ours_image(v, t), quality=90) for t in range(4)] for v in range(2)]
    seq = write_sequence_record(folder / "ours_sequence.tfrecord", "ours_made", jpegs)
    frames = [LabeledFrame([jpegs[0][t], jpegs[1][t]], "ours_made", {"contact": t % 2}, t) for t in range(4)]
    labeled = write_labeled_records(folder / "ours_labeled.tfrecord", frames)
    return seq, labeled


def test_our_writer_still_makes_the_bytes_tensorflow_parsed(tmp_path):
    seq, labeled = write_ours(tmp_path)
    assert seq.read_bytes() == (FIXTURES / "ours_sequence.tfrecord").read_bytes()
    assert labeled.read_bytes() == (FIXTURES / "ours_labeled.tfrecord").read_bytes()


if __name__ == "__main__":  # regenerate fixtures/ours_*.tfrecord (then run make_tensorflow_files.py)
    print(write_ours(FIXTURES))
