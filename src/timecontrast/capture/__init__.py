"""Multi-camera recording: timestamped camera readers, a synchroniser, per-view H.264 files.

    from timecontrast.capture import open_session
    session = open_session(["synthetic", "synthetic:320x240@20"], "videos", "demo", "train")
    result = session.run(duration=5)   # videos/demo/train/0_view0.mp4, 0_view1.mp4, 0_timestamps.json

A recording killed mid-way (``kill -9``, a power loss) keeps all but about its last
second; ``recover_interrupted_takes(folder)`` (run by every ``tcn collect``) finishes it.

``tcn collect`` is the command-line front end; ``docs/collect.md`` is the tutorial.
"""

from timecontrast.capture.cameras import make_camera, split_camera_specs
from timecontrast.capture.devices import VideoDevice, list_video_devices
from timecontrast.capture.recording import default_tolerance, open_session
from timecontrast.capture.recovery import RecoveredTake, recover_interrupted_takes
from timecontrast.capture.session import CaptureResult, CaptureSession, CaptureStatus, open_cameras
from timecontrast.capture.sources import CameraInfo, CameraSource, CapturedFrame
from timecontrast.capture.sync import FrameSynchronizer, SyncedFrame
from timecontrast.capture.writer import SequenceWriter

__all__ = [
    "CameraInfo",
    "CameraSource",
    "CaptureResult",
    "CaptureSession",
    "CaptureStatus",
    "CapturedFrame",
    "FrameSynchronizer",
    "RecoveredTake",
    "SequenceWriter",
    "SyncedFrame",
    "VideoDevice",
    "default_tolerance",
    "list_video_devices",
    "make_camera",
    "open_cameras",
    "open_session",
    "recover_interrupted_takes",
    "split_camera_specs",
]
