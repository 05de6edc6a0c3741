"""The true physical state of a sequence: the ``state/<seq>.npz`` sidecar of a dataset.

Written by ``tcn synth`` beside the sequence records (``DIR/<split>/state/<seq>.npz``) and
read by the state probe, the labeled evaluation and ``tcn inspect``. One ``.npz`` holds:

    position             [T, P] float64   generalised positions (MuJoCo qpos) per frame
    velocity             [T, Q] float64   generalised velocities (qvel) per frame
    position_names       [P] str          e.g. "slider", "hinge_1"
    angles               [A] str          position variables that are free rotation angles
                                          (radians, periodic: an image shows them only
                                          modulo 2 pi); optional, [] when absent
    velocity_names       [Q] str
    labels/<name>        [T] int64        one integer class per frame and attribute
    camera_positions     [V, T, 3]        camera centre in world coordinates (m)
    camera_orientations  [V, T, 9]        row-major camera-to-world rotation; its columns
                                          are the camera's right, up and backward axes
                                          (the camera looks along -z, as MuJoCo's cam_xmat)
    fps                  scalar float     frames per second
    extras/<name>        [T, K] float64   other per-frame values of a converted dataset,
                                          e.g. ``action`` (optional)
    extra_names/<name>   [K] str          the names of their columns (optional)

Files are byte-for-byte reproducible (fixed zip timestamps) and written atomically.
"""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from timecontrast.errors import DataError
from timecontrast.io.files import atomic_write

_LABEL_PREFIX = "labels/"
_EXTRA_PREFIX = "extras/"
_EXTRA_NAMES_PREFIX = "extra_names/"
_ARRAYS = ("position", "velocity", "position_names", "velocity_names", "camera_positions", "camera_orientations", "fps")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the zip format's epoch: no wall-clock time in the bytes


@dataclass
class SequenceState:
    """Per-frame true state, labels and camera poses of one multi-view sequence."""

    position: np.ndarray  # [T, P]
    velocity: np.ndarray  # [T, Q]
    position_names: list[str]
    velocity_names: list[str]
    labels: dict[str, np.ndarray] = field(default_factory=dict)  # name -> [T] int64
    camera_positions: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 3)))  # [V, T, 3]
    camera_orientations: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 9)))  # [V, T, 9]
    fps: float = 0.0
    angles: list[str] = field(default_factory=list)  # position names that are periodic angles
    extras: dict[str, np.ndarray] = field(default_factory=dict)  # name -> [T, K], e.g. "action"
    extra_names: dict[str, list[str]] = field(default_factory=dict)  # name -> K column names (optional)

    def __post_init__(self) -> None:
        self.position = np.asarray(self.position, dtype=np.float64)
        self.velocity = np.asarray(self.velocity, dtype=np.float64)
        self.position_names = [str(n) for n in self.position_names]
        self.velocity_names = [str(n) for n in self.velocity_names]
        self.labels = {str(k): np.asarray(v, dtype=np.int64) for k, v in self.labels.items()}
        self.camera_positions = np.asarray(self.camera_positions, dtype=np.float64)
        self.camera_orientations = np.asarray(self.camera_orientations, dtype=np.float64)
        self.fps = float(self.fps)
        self.angles = [str(n) for n in self.angles]
        self.extras = {str(k): np.asarray(v, dtype=np.float64) for k, v in self.extras.items()}
        self.extras = {k: v.reshape(len(v), -1) if v.ndim == 1 else v for k, v in self.extras.items()}
        self.extra_names = {str(k): [str(n) for n in v] for k, v in self.extra_names.items()}
        problems = self._problems()
        if problems:
            raise DataError(f"inconsistent sequence state: {'; '.join(problems)}")

    @property
    def length(self) -> int:
        """Number of timesteps T."""
        return int(self.position.shape[0])

    @property
    def num_views(self) -> int:
        return int(self.camera_positions.shape[0])

    def _problems(self) -> list[str]:
        t = self.position.shape[0] if self.position.ndim == 2 else -1
        out = []
        if self.position.ndim != 2 or self.position.shape[1] != len(self.position_names):
            out.append(f"position has shape {self.position.shape}, expected [T, {len(self.position_names)}]")
        if self.velocity.shape != (t, len(self.velocity_names)):
            out.append(f"velocity has shape {self.velocity.shape}, expected [{t}, {len(self.velocity_names)}]")
        for name, values in self.labels.items():
            if values.shape != (t,):
                out.append(f"labels '{name}' has shape {values.shape}, expected [{t}]")
        views = self.camera_positions.shape[0] if self.camera_positions.ndim == 3 else -1
        if views == 0 and self.camera_orientations.size == 0:  # no cameras: any empty arrays will do
            self.camera_positions = np.zeros((0, t, 3))
            self.camera_orientations = np.zeros((0, t, 9))
        if self.camera_positions.shape != (views, t, 3):
            out.append(f"camera_positions has shape {self.camera_positions.shape}, expected [V, {t}, 3]")
        if self.camera_orientations.shape != (views, t, 9):
            out.append(f"camera_orientations has shape {self.camera_orientations.shape}, expected [{views}, {t}, 9]")
        if self.fps < 0:
            out.append(f"fps is {self.fps}")
        for name, values in self.extras.items():
            if values.ndim != 2 or values.shape[0] != t:
                out.append(f"extras '{name}' has shape {values.shape}, expected [{t}, K]")
            elif name in self.extra_names and len(self.extra_names[name]) != values.shape[1]:
                out.append(
                    f"extra_names '{name}' has {len(self.extra_names[name])} names for {values.shape[1]} columns"
                )
        unknown_extras = sorted(set(self.extra_names) - set(self.extras))
        if unknown_extras:
            out.append(f"extra_names {unknown_extras} name no extras")
        unknown = [n for n in self.angles if n not in self.position_names]
        if unknown:
            out.append(f"angles {unknown} are not position variables ({self.position_names})")
        return out


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(array), allow_pickle=False)
    return buf.getvalue()


def save_state(path: str | os.PathLike, state: SequenceState) -> Path:
    """Write ``state`` to ``path`` (``.npz``) atomically; same state, same bytes."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {
        "position": state.position,
        "velocity": state.velocity,
        "position_names": np.array(state.position_names, dtype=np.str_),
        "velocity_names": np.array(state.velocity_names, dtype=np.str_),
        "camera_positions": state.camera_positions,
        "camera_orientations": state.camera_orientations,
        "fps": np.array(state.fps, dtype=np.float64),
        "angles": np.array(state.angles, dtype=np.str_).reshape(-1),
    }
    for name in sorted(state.labels):
        arrays[_LABEL_PREFIX + name] = state.labels[name]
    for name in sorted(state.extras):
        arrays[_EXTRA_PREFIX + name] = state.extras[name]
        if name in state.extra_names:
            arrays[_EXTRA_NAMES_PREFIX + name] = np.array(state.extra_names[name], dtype=np.str_).reshape(-1)
    with (
        atomic_write(path, "wb", durable=True) as fh,
        zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as archive,
    ):
        for key, array in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, _npy_bytes(array))
    return path


def load_state(path: str | os.PathLike) -> SequenceState:
    """Read a state file written by :func:`save_state`.

    Raises:
        DataError: the file is missing, not an ``.npz``, or lacks a key.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such state file (expected DIR/<split>/state/<seq>.npz beside records/)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in _ARRAYS if k not in npz.files]
            if missing:
                raise DataError(f"{path}: state file lacks {missing}; regenerate it with tcn synth")
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"{path}: not a readable state file ({exc}); regenerate it with tcn synth") from None
    try:
        return SequenceState(
            position=arrays["position"],
            velocity=arrays["velocity"],
            position_names=arrays["position_names"].tolist(),
            velocity_names=arrays["velocity_names"].tolist(),
            labels={k[len(_LABEL_PREFIX) :]: v for k, v in arrays.items() if k.startswith(_LABEL_PREFIX)},
            camera_positions=arrays["camera_positions"],
            camera_orientations=arrays["camera_orientations"],
            fps=float(arrays["fps"]),
            angles=arrays["angles"].tolist() if "angles" in arrays else [],
            extras={k[len(_EXTRA_PREFIX) :]: v for k, v in arrays.items() if k.startswith(_EXTRA_PREFIX)},
            extra_names={
                k[len(_EXTRA_NAMES_PREFIX) :]: v.tolist()
                for k, v in arrays.items()
                if k.startswith(_EXTRA_NAMES_PREFIX)
            },
        )
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from None
