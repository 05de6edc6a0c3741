"""What video devices exist and who holds them (Linux; read-only, nothing is ever killed)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class VideoDevice:
    path: str  # /dev/videoN
    name: str  # the driver's name for it, e.g. "HD Pro Webcam C920"; "" when unknown


def _number(path: str) -> int:
    match = re.search(r"(\d+)$", path)
    return int(match.group(1)) if match else -1


def list_video_devices(dev_dir: str = "/dev", sys_dir: str = "/sys/class/video4linux") -> list[VideoDevice]:
    """The ``/dev/videoN`` nodes, in numeric order, with their names from sysfs."""
    devices = []
    for path in sorted((str(p) for p in Path(dev_dir).glob("video[0-9]*")), key=_number):
        name_file = Path(sys_dir) / Path(path).name / "name"
        try:
            name = name_file.read_text().strip()
        except OSError:
            name = ""
        devices.append(VideoDevice(path, name))
    return devices


def device_holders(device: str, proc_dir: str = "/proc") -> list[tuple[int, str]]:
    """``(pid, command)`` of the processes we can see with ``device`` open.

    Only processes whose ``/proc/PID/fd`` we may read are found (other users' need root).
    """
    try:
        target = os.path.realpath(device)
    except OSError:
        return []
    holders = []
    for entry in Path(proc_dir).iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            fds = list((entry / "fd").iterdir())
            if any(os.path.realpath(fd) == target for fd in fds):
                command = (entry / "comm").read_text().strip()
                holders.append((int(entry.name), command))
        except OSError:
            continue
    return holders


def describe_video_devices() -> str:
    """A short text listing the video devices, for error messages."""
    devices = list_video_devices()
    if not devices:
        return "no /dev/video* devices exist on this machine (is a camera plugged in and its driver loaded?)"
    lines = ["video devices here:"]
    for device in devices:
        lines.append(f"  {device.path}" + (f"  {device.name}" if device.name else ""))
    lines.append(
        "(a UVC webcam usually shows two nodes, the first for images and the second for metadata; "
        "/dev/v4l/by-id/ names stay the same across reboots)"
    )
    return "\n".join(lines)
