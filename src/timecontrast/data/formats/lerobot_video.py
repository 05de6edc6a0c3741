"""The frames of one camera of one LeRobot episode: picklable readers for the convert workers.

:class:`EpisodeVideoReader` decodes an episode's time range of an mp4 with PyAV (AV1,
H.264, anything FFmpeg reads): it reads the episode's ``timestamp`` rows from the data
parquet, seeks to the keyframe before ``start + timestamp[0]`` and gives, for each row in
order, the decoded frame whose presentation time is nearest ``start + timestamp`` (within
half a frame period, as lerobot's own decoder matches frames to rows). A row without such
a frame (a dropped frame) is a :class:`DataError` naming the file, the episode and the
time; a video that ends before the last row leaves the frames short, and
:meth:`EpisodeVideoReader.short_error` says so. :class:`EpisodeImageReader` reads an
``image`` feature (PNG or JPEG bytes in the data parquet, or files beside it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from timecontrast.data.formats.base import decode_image, resize_frame
from timecontrast.data.formats.lerobot_meta import read_parquet
from timecontrast.errors import DataError

logger = logging.getLogger(__name__)

Size = tuple[int, int]  # (height, width)


def episode_timestamps(data_path: Path, episode: int, length: int, source: str) -> np.ndarray:
    """``[T]`` float64: the ``timestamp`` column of an episode's rows, checked against ``length``."""
    rows = read_parquet(data_path, ["timestamp"], episode=episode)
    stamps = np.asarray(rows["timestamp"], dtype=np.float64).reshape(-1)
    if len(stamps) != length:
        raise DataError(
            f"{data_path}: episode {episode} has {len(stamps)} rows, but meta/ says {length} frames; "
            f"the dataset is inconsistent ({source})"
        )
    if len(stamps) > 1 and (np.diff(stamps) <= 0).any():
        raise DataError(f"{data_path}: episode {episode}: timestamps are not increasing; the file is damaged")
    return stamps


@dataclass(frozen=True)
class EpisodeVideoReader:
    """Camera ``key`` of episode ``episode``: ``length`` frames of ``path`` from ``start`` s."""

    path: str  # the mp4
    key: str  # the camera's feature key
    episode: int
    start: float  # seconds: the episode's first frame in the file (v3.0 from_timestamp; v2.x 0)
    data_path: str  # the parquet whose rows (timestamp) the frames are matched to
    length: int
    fps: float

    @property
    def source(self) -> str:
        return f"{self.path} (episode {self.episode}, {self.key})"

    def frames(self, size: Size | None = None) -> Iterator[np.ndarray]:
        """``[H, W, 3]`` uint8 RGB frames, one per data row, resized to ``size`` (area averaging)."""
        targets = self.start + episode_timestamps(Path(self.data_path), self.episode, self.length, self.source)
        tolerance = 0.5 / self.fps if self.fps > 0 else 1e-3
        resize = {} if size is None else {"height": int(size[0]), "width": int(size[1]), "interpolation": "AREA"}
        if not Path(self.path).is_file():
            raise DataError(f"{self.path}: no such video file; episode {self.episode} of {self.key} needs it")
        try:
            container = av.open(self.path)
        except av.FFmpegError as exc:
            raise DataError(f"{self.path}: cannot open video ({exc.strerror or exc}); the file is damaged") from None
        try:
            if not container.streams.video:
                raise DataError(f"{self.path}: has no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            if targets[0] - tolerance > 0 and stream.time_base is not None:
                container.seek(int((targets[0] - tolerance) / stream.time_base), stream=stream, backward=True)
            yield from self._matched(container, stream, targets, tolerance, resize)
        except av.FFmpegError as exc:
            raise DataError(
                f"{self.source}: decoding failed ({exc.strerror or exc}); the file is damaged or truncated"
            ) from None
        finally:
            container.close()

    def _matched(self, container, stream, targets: np.ndarray, tolerance: float, resize: dict) -> Iterator[np.ndarray]:
        i, previous = 0, None
        for frame in container.decode(stream):
            if frame.pts is not None and frame.time_base is not None:
                time = float(frame.pts * frame.time_base)
            else:  # no timestamp: one frame period after the previous one
                time = (previous if previous is not None else targets[0]) + 1.0 / self.fps
            previous = time
            if time < targets[i] - tolerance:
                continue  # before this episode (the seek lands on an earlier keyframe)
            if time > targets[i] + tolerance:
                raise DataError(
                    f"{self.source}: no frame at {targets[i]:.4f} s (row {i} of the episode; the next frame is at "
                    f"{time:.4f} s): the video misses frames, re-encode or drop the episode"
                )
            yield frame.to_ndarray(format="rgb24", **resize)
            i += 1
            if i == len(targets):
                return

    def short_error(self, decoded: int, promised: int) -> Exception:
        return DataError(
            f"{self.source}: the video has {decoded} frames for this episode, its parquet rows {promised}; "
            "the video is truncated or the episode's time range is wrong"
        )


@dataclass(frozen=True)
class EpisodeImageReader:
    """Camera ``key`` of episode ``episode`` stored as images in the data parquet (dtype ``image``)."""

    data_path: str
    root: str  # the dataset root: image paths in the parquet are relative to it
    key: str
    episode: int
    length: int

    @property
    def source(self) -> str:
        return f"{self.data_path} (episode {self.episode}, {self.key})"

    def frames(self, size: Size | None = None) -> Iterator[np.ndarray]:
        rows = read_parquet(Path(self.data_path), [self.key], episode=self.episode)[self.key]
        for t, cell in enumerate(rows):
            where = f"{self.source} frame {t}"
            if isinstance(cell, dict) and cell.get("bytes"):
                frame = decode_image(cell["bytes"], where)
            elif isinstance(cell, dict) and cell.get("path"):
                path = Path(self.root) / cell["path"]
                frame = decode_image(None, str(path), path)
            elif isinstance(cell, bytes | bytearray):
                frame = decode_image(bytes(cell), where)
            else:
                raise DataError(f"{where}: holds no image (neither bytes nor a path); the file is damaged")
            yield resize_frame(frame, size)

    def short_error(self, decoded: int, promised: int) -> Exception:
        return DataError(f"{self.source}: has {decoded} images for {promised} frames; the file is damaged")
