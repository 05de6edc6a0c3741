"""A LeRobot v3.0 dataset made of given frames, for benchmarks/convert.py (pyarrow + PyAV, no lerobot).

The layout is what lerobot 0.4 writes (the tests read real lerobot files, see
tests/data/fixtures/lerobot; this only makes a large input quickly): several episodes per
mp4 per camera (AV1 through libsvtav1, lerobot's default, g=2, yuv420p; H.264 where PyAV
lacks it) and per data parquet (one row group per episode), time ranges in
meta/episodes/chunk-000/file-000.parquet.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def write_lerobot_dataset(
    root: Path, frames: list[list[list[np.ndarray]]], fps: int = 30, episodes_per_file: int = 2
) -> Path:
    """Write ``root`` (a v3.0 dataset) holding ``frames[episode][camera][t]`` ([H, W, 3] uint8)."""
    codec = "libsvtav1" if "libsvtav1" in av.codecs_available else "libx264"
    num_cameras = len(frames[0])
    height, width = frames[0][0][0].shape[:2]
    keys = [f"observation.images.cam{c}" for c in range(num_cameras)]
    (root / "meta" / "episodes" / "chunk-000").mkdir(parents=True, exist_ok=True)
    video_info = {"video.height": height, "video.width": width, "video.codec": "av1" if codec == "libsvtav1" else "h264",
                  "video.pix_fmt": "yuv420p", "video.fps": fps, "video.channels": 3, "has_audio": False}  # fmt: skip
    features: dict[str, dict] = {
        k: {"dtype": "video", "shape": [height, width, 3], "names": ["height", "width", "channels"], "info": video_info}
        for k in keys
    }
    joints = [f"joint{j}" for j in range(6)]
    features["observation.state"] = {"dtype": "float32", "shape": [6], "names": joints}
    features["action"] = {"dtype": "float32", "shape": [6], "names": joints}
    for k in ("frame_index", "episode_index", "index", "task_index"):
        features[k] = {"dtype": "int64", "shape": [1], "names": None}
    features["timestamp"] = {"dtype": "float32", "shape": [1], "names": None}
    lengths = [len(views[0]) for views in frames]
    info = {"codebase_version": "v3.0", "robot_type": "bench", "total_episodes": len(frames),
            "total_frames": sum(lengths), "total_tasks": 1, "chunks_size": 1000, "fps": fps,
            "data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
            "video_path": "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4",
            "features": features}  # fmt: skip
    (root / "meta" / "info.json").write_text(json.dumps(info, indent=2))
    pq.write_table(pa.table({"task_index": [0], "task": ["benchmark"]}), root / "meta" / "tasks.parquet")
    rows: dict[str, list] = {"episode_index": [], "length": [], "data/chunk_index": [], "data/file_index": [],
                             "dataset_from_index": [], "dataset_to_index": [], "tasks": []}  # fmt: skip
    for key in keys:
        for c in ("chunk_index", "file_index", "from_timestamp", "to_timestamp"):
            rows[f"videos/{key}/{c}"] = []
    starts = np.concatenate([[0], np.cumsum(lengths)])
    for file_index, first in enumerate(range(0, len(frames), episodes_per_file)):
        group = list(range(first, min(first + episodes_per_file, len(frames))))
        offsets = np.concatenate([[0], np.cumsum([lengths[ep] for ep in group])])
        for v, key in enumerate(keys):
            _write_video(root / "videos" / key / "chunk-000" / f"file-{file_index:03d}.mp4",
                         [f for ep in group for f in frames[ep][v]], codec, fps)  # fmt: skip
        path = root / "data" / "chunk-000" / f"file-{file_index:03d}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        vec = pa.list_(pa.float32(), 6)
        schema = pa.schema([("observation.state", vec), ("action", vec), ("timestamp", pa.float32()),
                            *[(k, pa.int64()) for k in ("frame_index", "episode_index", "index", "task_index")]])  # fmt: skip
        with pq.ParquetWriter(path, schema) as writer:  # one row group per episode, as lerobot writes
            for i, ep in enumerate(group):
                length, start = lengths[ep], int(starts[ep])
                rows["episode_index"].append(ep)
                rows["length"].append(length)
                rows["data/chunk_index"].append(0)
                rows["data/file_index"].append(file_index)
                rows["dataset_from_index"].append(start)
                rows["dataset_to_index"].append(start + length)
                rows["tasks"].append(["benchmark"])
                for key in keys:
                    rows[f"videos/{key}/chunk_index"].append(0)
                    rows[f"videos/{key}/file_index"].append(file_index)
                    rows[f"videos/{key}/from_timestamp"].append(float(offsets[i]) / fps)
                    rows[f"videos/{key}/to_timestamp"].append(float(offsets[i + 1]) / fps)
                t = np.arange(length)
                state = np.sin(t[:, None] / fps + np.arange(6)[None] + ep).astype(np.float32)
                table = pa.table({
                    "observation.state": pa.FixedSizeListArray.from_arrays(state.reshape(-1), 6),
                    "action": pa.FixedSizeListArray.from_arrays((state + 0.1).reshape(-1), 6),
                    "timestamp": pa.array((t / fps).astype(np.float32)),
                    "frame_index": pa.array(t, pa.int64()),
                    "episode_index": pa.array(np.full(length, ep), pa.int64()),
                    "index": pa.array(start + t, pa.int64()),
                    "task_index": pa.array(np.zeros(length, np.int64)),
                }, schema=schema)  # fmt: skip
                writer.write_table(table)
    pq.write_table(pa.table(rows), root / "meta" / "episodes" / "chunk-000" / "file-000.parquet")
    return root


def _write_video(path: Path, frames: list[np.ndarray], codec: str, fps: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames[0].shape[:2]
    options = {"g": "2", "crf": "30", "preset": "12"} if codec == "libsvtav1" else {"g": "2", "crf": "23"}
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps, options=options)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = Fraction(1, fps)
        for n, img in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = n, Fraction(1, fps)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
