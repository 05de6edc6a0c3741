"""The ``lerobot`` input format, on datasets written by the real ``lerobot`` library.

tests/data/fixtures/lerobot/ holds what ``make_lerobot_fixtures.py`` made with lerobot 0.4.4
(v3.0: ``tiny_v30``, 3 cameras, 10 episodes spread over several mp4 and parquet files;
``tiny_v30_images``, images in the parquet) and 0.3.3 (v2.1: ``tiny_v21``, 2 cameras, 3
episodes), and ``expected_*.npz``: every frame as lerobot's own ``LeRobotDataset[i]``
decodes it, with its state, action, task and subtask.
"""

from __future__ import annotations

import json
import shutil
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from timecontrast.data.convert import convert_sequences
from timecontrast.data.formats import lerobot_meta
from timecontrast.data.formats.lerobot import FORMAT, LeRobotEpisode
from timecontrast.data.labeled import iter_labeled_frames
from timecontrast.data.records import open_sequences
from timecontrast.data.state import load_state
from timecontrast.errors import DataError, DependencyError
from timecontrast.io.jpeg import decode_jpeg
from timecontrast.io.video import write_video

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "lerobot"
V30, V21, IMAGES = FIXTURES / "tiny_v30", FIXTURES / "tiny_v21", FIXTURES / "tiny_v30_images"
JOINTS = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]
TOLERANCE = 2  # grey levels between our PyAV decoding and lerobot's (0 measured: both FFmpeg)


def expected(name: str) -> dict[str, np.ndarray]:
    with np.load(FIXTURES / f"expected_{name}.npz") as npz:
        return {k: npz[k] for k in npz.files}


def frames_of(seq, view: int, size=None) -> np.ndarray:
    return np.stack(list(seq.reader(view).frames(size)))  # [T, H, W, 3]


def convert(src: Path, out: Path, cameras=None) -> object:
    return convert_sequences(src, out, FORMAT, cameras, workers=2, progress=False)


# ------------------------------------------------------------------ reading the fixtures
@pytest.mark.parametrize(
    ("root", "name", "cameras"),
    [(V30, "v30", ["top", "left", "wrist"]), (V21, "v21", ["top", "wrist"]), (IMAGES, "v30_images", ["top"])],
)
def test_frames_state_and_labels_are_lerobots(root, name, cameras):
    exp = expected(name)
    sequences, problems = FORMAT.scan(root)
    assert problems == []
    lengths = np.bincount(exp["episode_index"])
    assert [s.name for s in sequences] == [f"{root.name}_ep{e:06d}" for e in range(len(lengths))]
    for seq in sequences:
        assert isinstance(seq, LeRobotEpisode)
        rows = exp["episode_index"] == seq.episode.index
        assert seq.view_names == cameras
        assert [(i.length, i.height, i.width) for i in seq.views()] == [(lengths[seq.episode.index], 24, 32)] * len(
            cameras
        )
        for v, camera in enumerate(cameras):
            got = frames_of(seq, v)
            assert got.shape == exp[camera][rows].shape, (seq.name, camera)
            assert np.abs(got.astype(int) - exp[camera][rows]).max() <= TOLERANCE, (seq.name, camera)
        state = seq.state()
        np.testing.assert_array_equal(state.position, exp["state"][rows])
        np.testing.assert_array_equal(state.extras["action"], exp["action"][rows])
        assert state.position_names == JOINTS and state.velocity_names == JOINTS
        assert state.extra_names["action"] == [f"{j}.target" for j in JOINTS]
        assert state.fps == 10.0
        # No observation.velocity in these datasets: d/dt of the state over the timestamps.
        np.testing.assert_allclose(state.velocity, np.gradient(exp["state"][rows], 0.1, axis=0), rtol=1e-4, atol=1e-4)
        labels = seq.labels()
        np.testing.assert_array_equal(labels["task_index"], exp["task_index"][rows])
        if "subtask_index" in exp:
            np.testing.assert_array_equal(labels["subtask_index"], exp["subtask_index"][rows])
        else:
            assert "subtask_index" not in labels


def test_v30_episodes_share_video_files_and_start_mid_file():
    """The boundaries that matter: episodes in the middle of a file, and cameras whose files
    split differently (the wrist's frames are larger, so its files roll over elsewhere)."""
    sequences, _ = FORMAT.scan(V30)
    top = [s.episode.videos["observation.images.top"] for s in sequences]
    wrist = [s.episode.videos["observation.images.wrist"] for s in sequences]
    assert len({v.path for v in top}) < len(top)  # several episodes per mp4
    assert any(v.start > 0 for v in top)
    assert [v.path.name for v in top] != [v.path.name for v in wrist]
    exp = expected("v30")
    # Frame 0 of each episode is its own (decoded) first image, never the previous episode's last.
    first = np.r_[0, np.flatnonzero(np.diff(exp["episode_index"])) + 1]
    for seq in sequences:
        got = frames_of(seq, 2)[0].astype(int)  # wrist
        distances = np.abs(got[None] - exp["source_wrist"].astype(int)).mean(axis=(1, 2, 3))
        assert distances.argmin() == seq.episode.index
        np.testing.assert_array_equal(got, exp["wrist"][first[seq.episode.index]])


def test_cameras_pick_and_order_views_by_short_name_or_key():
    exp = expected("v30")
    sequences, _ = FORMAT.scan(V30, ["wrist", "observation.images.top"])
    seq = sequences[3]
    assert seq.view_names == ["wrist", "top"]
    rows = exp["episode_index"] == 3
    np.testing.assert_array_equal(frames_of(seq, 0), exp["wrist"][rows])
    np.testing.assert_array_equal(frames_of(seq, 1), exp["top"][rows])
    assert frames_of(seq, 1, (12, 16)).shape == (13, 12, 16, 3)


def test_unknown_camera_lists_the_cameras_there_are():
    with pytest.raises(DataError) as err:
        FORMAT.scan(V30, ["top", "gripper"])
    message = str(err.value)
    assert "meta/info.json" in message and "'gripper'" in message
    assert "top (observation.images.top), left (observation.images.left), wrist" in message
    assert "\n" not in message


def test_detection_and_a_folder_of_datasets(tmp_path):
    assert FORMAT.detect(V30) and FORMAT.detect(V21) and FORMAT.detect(FIXTURES)
    assert not FORMAT.detect(tmp_path) and not FORMAT.detect(V30 / "meta" / "info.json")
    # Every dataset under a folder; --cameras that all of them have.
    sequences, problems = FORMAT.scan(FIXTURES, ["top"])
    assert problems == []
    assert len(sequences) == 10 + 3 + 2
    assert {s.name.rsplit("_ep", 1)[0] for s in sequences} == {"tiny_v30", "tiny_v21", "tiny_v30_images"}
    # A camera only one dataset has: the others are reported, that one converts.
    sequences, problems = FORMAT.scan(FIXTURES, ["left"])
    assert {s.name.rsplit("_ep", 1)[0] for s in sequences} == {"tiny_v30"}
    assert sorted(p.name for p in problems) == ["tiny_v21", "tiny_v30_images"]


def test_describe_lists_versions_cameras_tasks_and_subtasks():
    summary = FORMAT.describe(V30)
    assert summary["num_sequences"] == 10 and summary["views"] == [["top", "left", "wrist"]]
    assert summary["timesteps"] == 156 and summary["problems"] == []
    [dataset] = summary["datasets"]
    assert dataset["codebase_version"] == "v3.0" and dataset["fps"] == 10.0
    assert dataset["tasks"] == {0: "pick up the cube", 1: "push the cube to the left"}
    assert dataset["subtasks"] == {0: "reach", 1: "grasp", 2: "lift"}
    assert summary["sequences"][0]["labels"] == ["subtask_index", "task_index"]
    assert FORMAT.describe(V21)["datasets"][0]["codebase_version"] == "v2.1"
    json.dumps(summary)  # what tcn inspect prints


# ------------------------------------------------------------------ conversion
def test_convert_writes_records_state_and_labeled_frames(tmp_path):
    out = tmp_path / "data" / "records"
    result = convert(V30, out, ["top", "wrist"])
    assert result.failed == {} and result.frames_encoded == 2 * 156
    exp = expected("v30")
    [seq] = [s for s in open_sequences(out / "tiny_v30_ep000004.tfrecord")]
    rows = exp["episode_index"] == 4
    assert seq.num_views == 2 and seq.length == 18
    # Through JPEG: the nearest of the episode's frames, and close to it.
    distances = np.abs(seq.frames(1, [5]).astype(int) - exp["wrist"][rows].astype(int)).mean(axis=(1, 2, 3))
    assert distances.argmin() == 5 and distances[5] < 10
    state = load_state(tmp_path / "data" / "state" / "tiny_v30_ep000004.npz")
    np.testing.assert_array_equal(state.position, exp["state"][rows])
    np.testing.assert_array_equal(state.extras["action"], exp["action"][rows])
    np.testing.assert_array_equal(state.labels["subtask_index"], exp["subtask_index"][rows])
    labeled = list(iter_labeled_frames(tmp_path / "data" / "labeled" / "tiny_v30_ep000004.tfrecord"))
    assert [f.labels for f in labeled] == [
        {"subtask_index": int(s), "task_index": int(t)}
        for s, t in zip(exp["subtask_index"][rows], exp["task_index"][rows])
    ]
    assert decode_jpeg(labeled[0].images[0]).shape == (24, 32, 3)
    # A re-run skips what is complete.
    again = convert(V30, out, ["top", "wrist"])
    assert again.written == [] and len(again.skipped) == 10


# ------------------------------------------------------------------ bad input
def copy_of(root: Path, tmp_path: Path) -> Path:
    dst = tmp_path / root.name
    shutil.copytree(root, dst)
    return dst


def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def test_missing_info_json(tmp_path):
    root = copy_of(V21, tmp_path)
    (root / "meta" / "info.json").unlink()
    assert not FORMAT.detect(root)
    with pytest.raises(DataError, match=r"tiny_v21/meta/info.json: no such file; point --input_dir at a LeRobot"):
        FORMAT.scan(root)


def test_unsupported_codebase_version(tmp_path):
    root = copy_of(V21, tmp_path)
    info = json.loads((root / "meta" / "info.json").read_text())
    (root / "meta" / "info.json").write_text(json.dumps({**info, "codebase_version": "v1.6"}))
    with pytest.raises(DataError, match=r"meta/info.json: codebase_version 'v1.6' is not supported \(only v2.0"):
        FORMAT.scan(root)
    (root / "meta" / "info.json").write_text("{not json")
    with pytest.raises(DataError, match=r"meta/info.json: not valid JSON"):
        FORMAT.scan(root)


def test_truncated_episodes_parquet_stops_the_run(tmp_path):
    root = copy_of(V30, tmp_path)
    path = root / "meta" / "episodes" / "chunk-000" / "file-000.parquet"
    truncate(path)
    with pytest.raises(DataError) as err:
        FORMAT.scan(root)
    assert str(err.value).startswith(f"{path}: cannot read parquet (") and "truncated or damaged" in str(err.value)


def test_truncated_data_parquet_fails_its_episodes_alone(tmp_path):
    root = copy_of(V30, tmp_path)
    path = root / "data" / "chunk-000" / "file-001.parquet"  # episodes 8 and 9
    truncate(path)
    result = convert(root, tmp_path / "out" / "records", ["top"])
    assert sorted(result.failed) == ["tiny_v30_ep000008", "tiny_v30_ep000009"]
    for reason in result.failed.values():
        assert reason.startswith(f"{path}: cannot read parquet") and "\n" not in reason
    assert len(result.written) == 8


def test_a_video_shorter_than_its_rows_fails_that_episode_alone(tmp_path):
    root = copy_of(V21, tmp_path)
    exp = expected("v21")
    video = root / "videos" / "chunk-000" / "observation.images.top" / "episode_000001.mp4"
    video.unlink()
    write_video(video, exp["top"][exp["episode_index"] == 1][:9], fps=10)  # H.264, 9 of 16 frames
    result = convert(root, tmp_path / "out" / "records")
    assert list(result.failed) == ["tiny_v21_ep000001"]
    reason = result.failed["tiny_v21_ep000001"]
    assert reason == (
        f"{video} (episode 1, observation.images.top): the video has 9 frames for this episode, its parquet rows 16; "
        "the video is truncated or the episode's time range is wrong"
    )
    assert sorted(p.name for p in (tmp_path / "out" / "records").glob("*.tfrecord")) == [
        "tiny_v21_ep000000.tfrecord",
        "tiny_v21_ep000002.tfrecord",
    ]


def test_a_video_missing_a_frame_in_the_middle(tmp_path):
    root = copy_of(V21, tmp_path)
    exp = expected("v21")
    frames = exp["wrist"][exp["episode_index"] == 2]  # 14 frames; drop the one at 0.5 s
    video = root / "videos" / "chunk-000" / "observation.images.wrist" / "episode_000002.mp4"
    from timecontrast.io.video import VideoWriter

    with VideoWriter(video, 10, 32, 24) as writer:
        for t, frame in enumerate(frames):
            if t != 5:
                writer.write(frame, timestamp=t / 10)
    sequences, _ = FORMAT.scan(root, ["wrist"])
    got = frames_of(sequences[0], 0)  # an untouched episode still reads
    assert got.shape == (12, 24, 32, 3)
    with pytest.raises(
        DataError, match=r"episode_000002.mp4 \(episode 2, observation.images.wrist\): no frame at 0.5000 s"
    ):
        frames_of(sequences[2], 0)


def test_a_missing_video_file_is_a_problem_of_its_episode(tmp_path):
    root = copy_of(V21, tmp_path)
    video = root / "videos" / "chunk-000" / "observation.images.wrist" / "episode_000000.mp4"
    video.unlink()
    sequences, problems = FORMAT.scan(root)
    assert [s.name for s in sequences] == ["tiny_v21_ep000001", "tiny_v21_ep000002"]
    assert [(p.name, p.message) for p in problems] == [
        (
            "tiny_v21_ep000000",
            f"{video}: no such file; episode 0 of observation.images.wrist needs it (is the download complete?)",
        )
    ]
    sequences, problems = FORMAT.scan(root, ["top"])  # that camera is not asked for
    assert len(sequences) == 3 and problems == []


# ------------------------------------------------------------------ the Hub
def test_hub_ids_without_huggingface_hub_or_offline(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert lerobot_meta.looks_like_hub_id("lerobot/pusht") and lerobot_meta.looks_like_hub_id("lerobot/aloha@v3.0")
    assert not lerobot_meta.looks_like_hub_id("data/a/b") and not lerobot_meta.looks_like_hub_id("/abs/x")
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # not installed
    with pytest.raises(DependencyError, match=r"lerobot/pusht: is not a local folder.*pip install huggingface_hub"):
        FORMAT.scan(Path("lerobot/pusht"))

    calls = []

    def offline(repo, **kwargs):
        calls.append((repo, kwargs))
        raise OSError("Cannot find the requested files in the local cache and outgoing traffic has been disabled.")

    monkeypatch.setitem(sys.modules, "huggingface_hub", types.SimpleNamespace(snapshot_download=offline))
    with pytest.raises(DataError, match=r"^lerobot/pusht: cannot get this dataset from the Hugging Face Hub \(OSError"):
        FORMAT.scan(Path("lerobot/pusht"), ["top"])
    assert calls[0][0] == "lerobot/pusht" and calls[0][1]["repo_type"] == "dataset"
    assert "videos/observation.images.top/**" in calls[0][1]["allow_patterns"]
    assert not any("left" in p for p in calls[0][1]["allow_patterns"])

    # Once downloaded (here: the snapshot is a local copy), episodes are named after the repo.
    snapshot = copy_of(V21, tmp_path / "cache")
    monkeypatch.setitem(
        sys.modules, "huggingface_hub", types.SimpleNamespace(snapshot_download=lambda repo, **kw: str(snapshot))
    )
    sequences, _ = FORMAT.scan(Path("someone/toy_arm_data@main"))
    assert sequences[0].name == "toy_arm_data_ep000000"


# ------------------------------------------------------------------ the command line
def test_cli_bad_input_exits_2_with_one_line(tmp_path, capsys):
    from timecontrast.cli.main import main

    root = copy_of(V21, tmp_path)
    (root / "meta" / "info.json").unlink()
    cases = [
        (V30, ["--cameras", "top,gripper"], "has no camera 'gripper'; its cameras are top (observation.images.top)"),
        (root, [], "meta/info.json: no such file"),
    ]
    for src, extra, says in cases:
        argv = ["convert", "--from", "lerobot", "--input_dir", str(src), "--output_dir", str(tmp_path / "out"), *extra]
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert says in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_end_to_end_convert_train_probe(tmp_path, capsys, monkeypatch):
    """``tcn convert --from lerobot`` on the 3-camera v3.0 dataset, ``tcn train --config_paths
    demo.yaml`` a few steps on 7 episodes, ``tcn probe --once`` fitting the state of those
    and scoring it on the other 3: what the README walks through."""
    from timecontrast.cli.main import main

    monkeypatch.chdir(tmp_path)
    assert main(["convert", "--input_dir", str(V30), "--output_dir", "lerobot_data/records", "--workers", "2"]) == 0
    assert "10 file(s) written" in capsys.readouterr().out  # detected as lerobot: 3 views, no --from needed
    records = "lerobot_data/records/tiny_v30_ep00000"
    tiny = [
        "data.num_views=3",
        f"data.training={records}[0-6].tfrecord",
        f"data.validation={records}[7-9].tfrecord",
        "data.labeled.validation=lerobot_data/labeled/tiny_v30_ep00000[7-9].tfrecord",
        "data.test=",
        "data.labeled.test=",
        "embedder_strategy=small_conv",
        "embedding_size=8",
        "small_conv.channels=[8,16]",
        "small_conv.fc_hidden_sizes=[16]",
        "data.height=32",
        "data.width=32",
        "data.batch_size=12",
        "data.examples_per_sequence=4",
        "data.num_workers=0",
        "mvtcn.window=12",
        "learning.max_step=2",
        "logging.checkpoint.save_checkpoints_steps=2",
        "val.num_eval_samples=16",
        "runtime.device=cpu",
    ]
    assert main(["train", "--config_paths", "demo.yaml", "--logdir", "run", *tiny]) == 0
    assert main(["probe", "--checkpointdir", "run", "--once", "--outdir", "probe", "--probes", "linear"]) == 0
    out = capsys.readouterr().out
    assert "linear position mse" in out and "shoulder_pan" in out
    entry = json.loads((tmp_path / "probe" / "probe.json").read_text())["checkpoints"]["2"]
    # Fitted on 7 episodes (106 frames), scored on 3 (50 frames); t >= 1 of each, 3 views.
    assert (entry["result"]["num_train_samples"], entry["result"]["num_test_samples"]) == (3 * 99, 3 * 47)
    assert np.isfinite(entry["scalars"]["validation/probe/linear position mse"])
