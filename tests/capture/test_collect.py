"""`tcn collect` end to end with synthetic and file-backed cameras (no hardware)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from timecontrast.capture.devices import describe_video_devices
from timecontrast.capture.synthetic import read_frame_counter, render_synthetic_frame
from timecontrast.cli.main import main
from timecontrast.data.convert import convert_videos
from timecontrast.data.records import SequenceRecord
from timecontrast.io.video import iter_video_frames, probe_video, write_video

SMALL = ["synthetic:64x48@30", "synthetic:64x48@20"]


def _collect(viddir: Path, *args: str) -> int:
    return main(["collect", "--viddir", str(viddir), "--dataset", "d", "--mode", "train", *args])


def _check_sequence(directory: Path, seq: str, num_views: int, synthetic: bool = True) -> dict:
    """Every view decodes (PyAV) to the frames the sidecar lists; returns the sidecar."""
    sidecar = json.loads((directory / f"{seq}_timestamps.json").read_text())
    n = sidecar["num_frames"]
    assert n > 0 and sidecar["num_views"] == num_views and len(sidecar["frame_time"]) == n
    for k, view in enumerate(sidecar["views"]):
        path = directory / f"{seq}_view{k}.mp4"
        assert view["file"] == path.name
        frames = list(iter_video_frames(path))
        assert len(frames) == n == probe_video(path).num_frames
        assert len(view["timestamps"]) == len(view["camera_frame_index"]) == n
        if synthetic:  # the frames in the file are exactly the camera frames the sidecar names
            assert [read_frame_counter(f) for f in frames] == view["camera_frame_index"]
        assert view["received"] == n + view["dropped"] + view["unmatched_at_stop"]
    stamps = np.array([v["timestamps"] for v in sidecar["views"]])  # [V, T]
    assert np.all(np.diff(stamps, axis=1) > 0)
    # Each view within the tolerance of the frame's instant.
    assert np.all(np.abs(stamps - np.array(sidecar["frame_time"])) <= sidecar["sync_tolerance_ms"] / 1000 + 1e-6)
    assert not [p.name for p in directory.iterdir() if p.name.startswith(".")]  # no temporary files left
    return sidecar


def test_cameras_at_30_and_20_fps_give_20_fps_with_drops_counted(tmp_path: Path) -> None:
    rc = _collect(
        tmp_path, "--cameras", ",".join(SMALL), "--max_frames", "20", "--sync_tolerance_ms", "20",
        "--jitter_ms", "2", "--debug_video",
    )  # fmt: skip
    assert rc == 0
    sidecar = _check_sequence(tmp_path / "d" / "train", "0", 2)
    assert sidecar["num_frames"] == 20 and sidecar["stop_reason"] == "max_frames"
    assert abs(sidecar["fps"] - 20) < 3  # the slower camera's rate
    fast, slow = sidecar["views"]
    assert fast["dropped"] >= 5 and slow["dropped"] <= 2  # about 1 in 3 of the 30 fps frames is left out
    debug = probe_video(tmp_path.with_name(tmp_path.name + "_debug") / "d" / "train" / "0.mp4")
    assert (debug.num_frames, debug.width, debug.height) == (20, 128, 48)


def test_next_free_seqname_and_existing_name_refused(tmp_path: Path, capsys) -> None:
    directory = tmp_path / "d" / "train"
    directory.mkdir(parents=True)
    (directory / "7_view0.mp4").touch()  # an older recording, not ours to touch
    assert _collect(tmp_path, "--cameras", "synthetic:64x48@60", "--max_frames", "3") == 0
    assert _collect(tmp_path, "--cameras", "synthetic:64x48@60", "--max_frames", "3") == 0
    assert probe_video(directory / "8_view0.mp4").num_frames == 3
    assert probe_video(directory / "9_view0.mp4").num_frames == 3
    assert _collect(tmp_path, "--cameras", "synthetic", "--seqname", "8", "--max_frames", "3") == 2
    assert "already exists" in capsys.readouterr().err


def test_camera_that_cannot_be_opened_is_a_clear_error(tmp_path: Path, capsys) -> None:
    rc = _collect(tmp_path, "--cameras", "synthetic,/dev/video97", "--max_frames", "3")
    assert rc == 2
    err = capsys.readouterr().err
    assert "camera '/dev/video97'" in err and describe_video_devices() in err  # the devices this machine has
    assert not (tmp_path / "d" / "train").exists() or not any((tmp_path / "d" / "train").iterdir())


def _clip(path: Path, num: int, fps: float) -> Path:
    frames = np.stack([render_synthetic_frame(64, 48, i / fps, i, tint=0) for i in range(num)])
    return write_video(path, frames, fps=fps)


def test_file_cameras_record_until_the_files_end_and_convert(tmp_path: Path) -> None:
    a, b = _clip(tmp_path / "a.mp4", 15, 30), _clip(tmp_path / "b.mp4", 10, 20)
    viddir = tmp_path / "videos"
    assert _collect(viddir, "--cameras", f"file:{a},file:{b}") == 0
    directory = viddir / "d" / "train"
    sidecar = _check_sequence(directory, "0", 2)
    assert sidecar["stop_reason"] == "end_of_stream"
    assert sidecar["num_frames"] >= 9  # the 20 fps file's 10 frames (all, unless the machine stalls)
    result = convert_videos(directory, tmp_path / "records", expected_views=2, workers=1, progress=False)
    assert result.ok and [p.name for p in result.written] == ["0.tfrecord"]
    record = SequenceRecord(result.written[0])
    assert (record.num_views, record.length) == (2, sidecar["num_frames"])
    assert read_frame_counter(record.frame(1, 0)) == sidecar["views"][1]["camera_frame_index"][0]


def test_sigint_finalises_every_file(tmp_path: Path) -> None:
    cmd = [
        sys.executable, "-m", "timecontrast", "collect", "--viddir", str(tmp_path), "--dataset", "d",
        "--mode", "train", "--cameras", ",".join(SMALL), "--status_interval", "0.2",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        # Wait (on the pipe, not on a clock) until a status line shows frames being written.
        seen = []
        for line in proc.stderr:
            seen.append(line)
            if "frames" in line and " frames 0 " not in line:
                break
        assert proc.poll() is None, "".join(seen)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, "".join(seen) + err
    assert "stopped by interrupted" in out
    sidecar = _check_sequence(tmp_path / "d" / "train", "0", 2)
    assert sidecar["stop_reason"] == "interrupted"


@pytest.mark.parametrize("bad", [["--max_frames", "0"], ["--debug_video", "--debug_views", "0,5"]])
def test_bad_options_are_refused_without_files(tmp_path: Path, bad: list[str]) -> None:
    assert _collect(tmp_path, "--cameras", "synthetic,synthetic", *bad) == 2
    assert not list(tmp_path.rglob("*.mp4"))


def _opencv_has_gui() -> bool:
    import cv2

    return not any(line.split() == ["GUI:", "NONE"] for line in cv2.getBuildInformation().splitlines())


@pytest.mark.parametrize("display", [None, ":99"])
def test_preview_without_a_usable_display_still_records(tmp_path: Path, monkeypatch, capsys, display) -> None:
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    if display is None:
        monkeypatch.delenv("DISPLAY", raising=False)
    elif _opencv_has_gui():
        pytest.skip("a GUI build of OpenCV would try to reach the display (the project installs -headless)")
    else:
        monkeypatch.setenv("DISPLAY", display)  # a display variable, but headless OpenCV has no GUI
    rc = _collect(tmp_path, "--cameras", "synthetic:64x48@60", "--max_frames", "3", "--preview")
    err = capsys.readouterr().err
    assert rc == 0 and "--preview:" in err and "recording without a window" in err
    assert probe_video(tmp_path / "d" / "train" / "0_view0.mp4").num_frames == 3
