"""Labeled frames in memory and their embeddings, for the kNN classification error.

A :class:`LabeledSet` holds the JPEGs of every view of every labeled frame (small: a few
kB per frame), the sequence name (``task``), the timestep and the integer labels. It is
read once and embedded by each checkpoint. Every view's image becomes one query of the
kNN pool, as in the original.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from timecontrast.data.labeled import iter_labeled_frames
from timecontrast.errors import DataError
from timecontrast.evaluation.knn import ClassificationResult, knn_classification
from timecontrast.inference import Embedder
from timecontrast.io.jpeg import decode_jpeg

log = logging.getLogger(__name__)


@dataclass
class LabeledSet:
    images: list[list[bytes]]  # [V][N] JPEG bytes
    tasks: np.ndarray  # [N] sequence names
    timesteps: np.ndarray  # [N] int64, -1 where unknown
    labels: dict[str, np.ndarray]  # attribute -> [N] int64
    source: str = ""

    @property
    def num_views(self) -> int:
        return len(self.images)

    def __len__(self) -> int:
        return len(self.tasks)


def load_labeled_set(
    path: str | os.PathLike,
    image_keys: Sequence[str] | None = None,
    label_keys: Sequence[str] | None = None,
    task_key: str = "task",
) -> LabeledSet:
    """Read every labeled frame under ``path`` (file, directory or glob)."""
    frames = list(iter_labeled_frames(path, image_keys or None, label_keys or None, task_key))
    if not frames:
        raise DataError(f"{path}: holds no labeled frames; check data.labeled.validation / data.labeled.test")
    num_views = len(frames[0].images)
    attrs = sorted(frames[0].labels)
    for i, f in enumerate(frames):
        if len(f.images) != num_views or sorted(f.labels) != attrs:
            raise DataError(
                f"{path}: labeled frame {i} ({f.task}) has {len(f.images)} images and labels {sorted(f.labels)}, "
                f"the first one {num_views} and {attrs}; set data.labeled.image_attr_keys / label_attr_keys"
            )
    if not attrs:
        raise DataError(f"{path}: labeled frames carry no int64 labels; check data.labeled.label_attr_keys")
    return LabeledSet(
        images=[[f.images[v] for f in frames] for v in range(num_views)],
        tasks=np.array([f.task for f in frames]),
        timesteps=np.array([-1 if f.timestep is None else f.timestep for f in frames], np.int64),
        labels={a: np.array([f.labels[a] for f in frames], np.int64) for a in attrs},
        source=str(path),
    )


def _decoder(jpegs: Sequence[bytes], rows: np.ndarray, source: str):
    def read(lo: int, hi: int) -> np.ndarray:  # [hi - lo, H, W, 3] uint8
        return np.stack([decode_jpeg(jpegs[r], f"{source} (labeled frame {r})") for r in rows[lo:hi]])

    return read


def embed_labeled_set(embedder: Embedder, data: LabeledSet) -> np.ndarray:
    """``[V, N, D]`` embeddings of every view of every labeled frame.

    A multi-frame model needs the frames of a sequence at consecutive timesteps (the
    ``timestep`` key, as ``tcn synth`` writes them): each frame is embedded with the clip
    of the frames before it in its sequence.
    """
    n = len(data)
    out = np.empty((data.num_views, n, embedder.embedding_size), np.float32)
    if embedder.num_frames == 1:
        groups = [np.arange(n)]
    else:
        groups = []
        for task in np.unique(data.tasks):
            rows = np.flatnonzero(data.tasks == task)
            ts = data.timesteps[rows]
            order = np.argsort(ts, kind="stable")
            rows, ts = rows[order], ts[order]
            if (ts < 0).any() or (np.diff(ts) != 1).any():
                raise DataError(
                    f"{data.source}: sequence '{task}' has labeled frames at timesteps {ts[:8].tolist()}...; a "
                    "multi-frame model needs every timestep of each sequence (a 'timestep' key, no gaps)"
                )
            groups.append(rows)
    for v in range(data.num_views):
        for rows in groups:
            read = _decoder(data.images[v], rows, data.source)
            pos = 0
            for chunk in embedder.embed_stream(read, len(rows)):
                out[v, rows[pos : pos + len(chunk)]] = chunk
                pos += len(chunk)
    return out


def labeled_eval(embedder: Embedder, data: LabeledSet, ks: Sequence[int] = (1,)) -> ClassificationResult:
    """Cross-sequence kNN classification error of ``embedder`` on ``data`` (all views pooled)."""
    emb = embed_labeled_set(embedder, data)  # [V, N, D]
    v, n, d = emb.shape
    groups = np.tile(data.tasks, v)  # [V*N]
    labels = {a: np.tile(lab, v) for a, lab in data.labels.items()}
    return knn_classification(emb.reshape(v * n, d), groups, labels, ks, device=embedder.device)
