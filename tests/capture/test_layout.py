"""Output names: next free sequence number, refusing to overwrite, safe names."""

from __future__ import annotations

from pathlib import Path

import pytest

from timecontrast.capture.layout import check_name, check_sequence_free, debug_video_path, next_sequence_name
from timecontrast.errors import CaptureError


def test_next_sequence_name_is_one_more_than_the_largest_number(tmp_path: Path) -> None:
    assert next_sequence_name(tmp_path / "missing") == "0"
    assert next_sequence_name(tmp_path) == "0"
    for name in ["0_view0.mp4", "3_view1.mp4", "10_timestamps.json", "notes.txt", "pour_view0.mp4", ".42_view0.x.mp4"]:
        (tmp_path / name).touch()
    assert next_sequence_name(tmp_path) == "11"  # numeric, not lexical; hidden temp files ignored


def test_existing_sequence_is_refused(tmp_path: Path) -> None:
    (tmp_path / "1_view0.mp4").touch()
    with pytest.raises(CaptureError, match="already exists"):
        check_sequence_free(tmp_path, "1")
    check_sequence_free(tmp_path, "10")


@pytest.mark.parametrize("bad", ["../up", "a/b", "", ".hidden", "x_view0"])
def test_unsafe_names_are_refused(bad: str) -> None:
    with pytest.raises(CaptureError, match="--dataset"):
        check_name(bad, "--dataset")


def test_debug_videos_go_beside_the_video_root() -> None:
    assert debug_video_path("data/videos/", "d", "train", "3") == Path("data/videos_debug/d/train/3.mp4")
