"""Where a recording goes: ``<viddir>/<dataset>/<mode>/<seq>_view<k>.mp4`` and friends.

This is the layout ``tcn convert --input_dir <viddir>/<dataset>/<mode>`` reads. The
timestamp sidecar ``<seq>_timestamps.json`` sits beside the videos (it does not match
the ``_view<k>`` pattern, so converters skip it); the side-by-side debug video goes to
``<viddir>_debug/<dataset>/<mode>/<seq>.mp4``, outside the folder that gets converted.

While a sequence is being recorded, its files live in a hidden take folder
``<seq_dir>/.<seq>.recording/`` (see :mod:`timecontrast.capture.take`): hidden, so that
``tcn convert`` never reads a recording in progress, and still claiming the name
``<seq>`` so that no other recording takes it.
"""

from __future__ import annotations

import re
from pathlib import Path

from timecontrast.errors import CaptureError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
TAKE_SUFFIX = ".recording"
SIDECAR_SUFFIX = "_timestamps.json"


def check_name(value: str, flag: str) -> str:
    """A dataset, mode or sequence name: letters, digits, '.', '_' and '-', no path parts."""
    if not _NAME.match(value) or ".." in value or re.search(r"_view\d", value):
        raise CaptureError(
            f"{flag} {value!r}: use letters, digits, '.', '_' and '-' only (no '/', no '..', "
            f"no '_view<k>'), e.g. {flag} pouring"
        )
    return value


def sequence_dir(viddir: str | Path, dataset: str, mode: str) -> Path:
    return Path(viddir) / check_name(dataset, "--dataset") / check_name(mode, "--mode")


def view_path(directory: Path, seqname: str, view: int) -> Path:
    return directory / f"{seqname}_view{view}.mp4"


def sidecar_path(directory: Path, seqname: str) -> Path:
    return directory / f"{seqname}{SIDECAR_SUFFIX}"


def take_dir(directory: Path, seqname: str) -> Path:
    """The hidden folder that holds sequence ``seqname`` while it is recorded."""
    return directory / f".{seqname}{TAKE_SUFFIX}"


def take_dir_for_sidecar(sidecar: Path) -> Path:
    """The take folder of the sequence whose sidecar is ``sidecar`` (``<seq>_timestamps.json``)."""
    return take_dir(sidecar.parent, sidecar.name.removesuffix(SIDECAR_SUFFIX).removesuffix(".json"))


def take_sequence_name(path: Path) -> str | None:
    """The sequence a take folder records (``.<seq>.recording``); None for any other name."""
    name = path.name
    if name.startswith(".") and name.endswith(TAKE_SUFFIX) and len(name) > len(TAKE_SUFFIX) + 1:
        return name[1 : -len(TAKE_SUFFIX)]
    return None


def take_dirs(directory: Path) -> list[Path]:
    """The take folders in ``directory`` (recordings in progress or interrupted), by name."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if take_sequence_name(p) is not None and p.is_dir())


def debug_video_path(viddir: str | Path, dataset: str, mode: str, seqname: str) -> Path:
    root = Path(viddir)
    return root.with_name(root.name + "_debug") / dataset / mode / f"{seqname}.mp4"


def next_sequence_name(directory: Path) -> str:
    """One more than the largest integer sequence name in ``directory`` ("0" when none)."""
    numbers = []
    if directory.is_dir():
        for path in directory.iterdir():
            prefix = path.name.split("_", 1)[0]
            if not path.name.startswith(".") and prefix.isdigit():
                numbers.append(int(prefix))
            elif (name := take_sequence_name(path)) is not None and name.isdigit():
                numbers.append(int(name))  # a take in progress (or interrupted) holds its number
    return str(max(numbers) + 1) if numbers else "0"


def check_sequence_free(directory: Path, seqname: str) -> None:
    """Refuse to overwrite an earlier recording of the same name, finished or not."""
    if take_dir(directory, seqname).exists():
        raise CaptureError(
            f"sequence {seqname!r} is being recorded by another tcn collect, or its recording was "
            f"interrupted ({take_dir(directory, seqname)} exists); the next tcn collect into {directory} "
            "finishes an interrupted one. Leave out --seqname to take the next free number"
        )
    taken = sorted(p.name for p in directory.glob(f"{seqname}_*") if not p.name.startswith("."))
    if taken:
        raise CaptureError(
            f"sequence {seqname!r} already exists in {directory} ({', '.join(taken[:3])}); "
            "leave out --seqname to take the next free number, or pick another name"
        )
