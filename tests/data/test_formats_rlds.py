"""`tcn convert --from rlds` on an RLDS dataset built by TensorFlow Datasets
(fixtures/make_tfrecord_fixtures.py), read without TensorFlow."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from format_fixtures import FIXTURES, assert_same_frames, tensorflow_expected
from timecontrast.cli.inspect import summarize
from timecontrast.cli.main import main
from timecontrast.data.convert import convert_sequences
from timecontrast.data.formats import detect_format
from timecontrast.data.records import SequenceRecord
from timecontrast.io.example import Example, bytes_feature, float_feature, int64_feature
from timecontrast.io.jpeg import encode_jpeg
from timecontrast.io.tfrecord import write_records

DATASET = FIXTURES / "rlds" / "toy_rlds" / "1.0.0"
SHARD = DATASET / "toy_rlds-train.tfrecord-00000-of-00001"


@pytest.fixture(scope="module")
def expected():
    return tensorflow_expected()


def test_episodes_become_sequences_with_state_and_actions(tmp_path, expected):
    assert detect_format(DATASET) == "rlds"
    out = tmp_path / "data" / "train" / "records"
    args = ["convert", "--input_dir", str(DATASET), "--output_dir", str(out), "--cameras", "wrist_image,image"]
    assert main(args) == 0
    for i, episode in enumerate(expected["rlds/order"]):  # the shard's order, as TFDS reads it
        rec = SequenceRecord(out / f"train_episode_{i:06d}.tfrecord")
        assert rec.num_views == 2
        assert_same_frames(rec.frames(0, range(rec.length)), expected[f"rlds/{episode}/wrist_image"])  # PNG
        assert_same_frames(rec.frames(1, range(rec.length)), expected[f"rlds/{episode}/image"])  # JPEG
        state = rec.state
        assert state is not None and state.position_names == [f"state[{k}]" for k in range(4)]
        np.testing.assert_allclose(state.position, expected[f"rlds/{episode}/state"])
        np.testing.assert_allclose(state.extras["action"], expected[f"rlds/{episode}/action"])
        assert sorted(state.extras) == ["action", "reward"] and state.velocity.shape == (rec.length, 0)
    summary = summarize(DATASET)
    [group] = summary["groups"]
    assert group["format"] == "rlds" and group["views"] == [["image", "wrist_image"]] and summary["problems"] == []


def test_one_shard_file_reads_its_schema_from_the_first_episode(tmp_path):
    result = convert_sequences(SHARD, tmp_path / "out", progress=False, workers=1)
    assert result.ok and len(result.written) == 2
    assert SequenceRecord(result.written[0]).num_views == 2


def step_example(images: dict[str, list[bytes]], steps: int) -> bytes:
    ex = Example()
    for key, values in images.items():
        ex.features.feature[f"steps/observation/{key}"].CopyFrom(bytes_feature(values))
    ex.features.feature["steps/is_first"].CopyFrom(int64_feature([1] + [0] * (steps - 1)))
    ex.features.feature["steps/action"].CopyFrom(float_feature([0.5] * (2 * steps)))
    return ex.SerializeToString()


def test_a_bad_episode_fails_alone_naming_the_shard_and_episode(tmp_path, capsys):
    src = tmp_path / "toy_rlds" / "1.0.0"
    shutil.copytree(DATASET, src)
    jpeg = encode_jpeg(np.full((24, 32, 3), 80, np.uint8))
    shard = src / "toy_rlds-val.tfrecord-00000-of-00001"
    write_records(
        shard,
        [
            step_example({"image": [jpeg] * 3, "wrist_image": [jpeg] * 2}, 3),  # a step lacks its wrist image
            step_example({"image": [jpeg] * 3}, 3),  # no wrist camera at all
            step_example({"image": [jpeg] * 2, "wrist_image": [jpeg, b"\x89PNG broken"]}, 2),  # undecodable
            step_example({"image": [jpeg] * 2, "wrist_image": [jpeg] * 2}, 2),  # fine
        ],
    )
    out = tmp_path / "out"
    code = main(["convert", "--input_dir", str(src), "--output_dir", str(out)])
    err = capsys.readouterr().err
    assert code == 1, err
    assert f"{shard} record 0 (episode val_episode_000000): 3 steps but the cameras hold" in err
    assert f"{shard} record 1 (episode val_episode_000001): has no camera 'wrist_image'" in err
    assert f"{shard} record 2 ('steps/observation/wrist_image') frame 1: cannot decode image" in err
    written = sorted(p.name for p in out.glob("*.tfrecord"))
    assert written == ["train_episode_000000.tfrecord", "train_episode_000001.tfrecord", "val_episode_000003.tfrecord"]


def test_dataset_level_mistakes_are_one_line_exit_2(tmp_path, capsys):
    def run(src, *extra) -> str:
        code = main(["convert", "--from", "rlds", "--input_dir", str(src), "--output_dir", str(tmp_path / "o"), *extra])
        err = capsys.readouterr().err.strip()
        assert code == 2 and "\n" not in err, err
        return err

    no_meta = tmp_path / "no_meta"
    no_meta.mkdir()
    shutil.copy(SHARD, no_meta)
    assert run(no_meta).startswith(f"tcn convert: error: {no_meta}: no features.json; a TFDS dataset folder holds")
    assert f"{DATASET / 'features.json'}: has no camera 'top'" in run(DATASET, "--cameras", "image,top")
    wrong = tmp_path / "wrong"
    shutil.copytree(DATASET, wrong)
    features = json.loads((wrong / "features.json").read_text())
    del features["featuresDict"]["features"]["steps"]
    (wrong / "features.json").write_text(json.dumps(features))
    assert f"{wrong / 'features.json'}: not an RLDS schema (no 'steps' dataset" in run(wrong)
    (wrong / "features.json").write_text("{not json")
    assert f"{wrong / 'features.json'}: cannot read it as JSON" in run(wrong)
