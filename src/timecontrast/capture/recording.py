"""Setting up a recording from ``tcn collect``'s options: cameras, names, files, tolerance."""

from __future__ import annotations

import logging
from pathlib import Path

from timecontrast.capture.cameras import make_camera
from timecontrast.capture.layout import (
    check_name,
    check_sequence_free,
    debug_video_path,
    next_sequence_name,
    sequence_dir,
    sidecar_path,
    view_path,
)
from timecontrast.capture.opencv_camera import OpenCVCamera
from timecontrast.capture.session import CaptureSession, open_cameras
from timecontrast.capture.sources import CameraInfo
from timecontrast.capture.writer import SequenceWriter
from timecontrast.errors import CaptureError

logger = logging.getLogger(__name__)

WEBCAM_WARMUP_S = 2.0  # webcams adjust exposure for a second or two after they start


def default_tolerance(infos: list[CameraInfo], fallback_fps: float) -> float:
    """Half a frame period of the slowest camera (seconds): each view's nearest frame fits."""
    rates = [info.fps for info in infos if info.fps > 0] or [fallback_fps]
    return 0.5 / min(rates)


def open_session(
    camera_specs: list[str],
    viddir: str | Path,
    dataset: str,
    mode: str,
    seqname: str | None = None,
    *,
    width: int | None = None,
    height: int | None = None,
    fps: float | None = None,
    fourcc: str | None = "MJPG",
    jitter_ms: float = 0.0,
    loop: bool = False,
    seed: int = 0,
    tolerance_ms: float | None = None,
    warmup: float | None = None,
    debug_views: tuple[int, int] | None = None,
    crf: int = 20,
) -> CaptureSession:
    """Open the cameras and the output files of one sequence; ``session.run()`` records it.

    ``seqname`` None takes the next free integer in ``<viddir>/<dataset>/<mode>``; an
    existing name is refused. ``tolerance_ms`` None: half a frame period of the slowest
    camera. ``warmup`` None: 2 s when a webcam or stream is among the cameras, else 0.
    Camera ``k`` gets seed ``seed + k`` (jitter and synthetic content).
    """
    if not camera_specs:
        raise CaptureError("--cameras: give at least one camera")
    directory = sequence_dir(viddir, dataset, mode)
    seqname = check_name(seqname, "--seqname") if seqname else next_sequence_name(directory)
    check_sequence_free(directory, seqname)
    if debug_views is not None and len(camera_specs) < 2 and debug_views != (0, 0):
        raise CaptureError("--debug_video needs two views (or --debug_views 0,0 with a single camera)")
    cameras = [
        make_camera(
            spec, width=width, height=height, fps=fps, fourcc=fourcc, jitter_ms=jitter_ms, loop=loop, seed=seed + k
        )
        for k, spec in enumerate(camera_specs)
    ]
    infos = open_cameras(cameras)
    try:
        tolerance = tolerance_ms / 1000.0 if tolerance_ms is not None else default_tolerance(infos, fps or 30.0)
        if tolerance <= 0:
            raise CaptureError(f"--sync_tolerance_ms {tolerance_ms}: must be positive")
        if warmup is None:
            warmup = WEBCAM_WARMUP_S if any(isinstance(c, OpenCVCamera) for c in cameras) else 0.0
        nominal = min((i.fps for i in infos if i.fps > 0), default=fps or 30.0)
        writer = SequenceWriter(
            [view_path(directory, seqname, k) for k in range(len(cameras))],
            sidecar_path(directory, seqname),
            fps=nominal,
            crf=crf,
            debug_path=debug_video_path(viddir, dataset, mode, seqname) if debug_views is not None else None,
            debug_views=debug_views or (0, 1),
        )
    except BaseException:
        for camera in cameras:
            camera.close()
        raise
    for k, info in enumerate(infos):
        logger.debug("view %d: %s", k, info.summary())
    return CaptureSession(cameras, infos, writer, tolerance, warmup=warmup, seqname=seqname)
