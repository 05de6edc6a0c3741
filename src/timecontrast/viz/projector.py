"""A TensorBoard embedding-projector run, written without TensorFlow.

``torch.utils.tensorboard.SummaryWriter.add_embedding`` writes exactly the files the
projector reads (``projector_config.pbtxt`` and, under ``00000/<tag>/``, ``tensors.tsv``,
``metadata.tsv`` and ``sprite.png``), so it is used as is. What we add:

- thumbnails that keep their aspect ratio: each frame is scaled so its longer side is
  ``sprite_dim`` and centred on a black square cell (the original stretched frames to
  a square); the sprite is a ``ceil(sqrt(N))`` x ``ceil(sqrt(N))`` grid of cells;
- a metadata table with sequence, view, timestep, normalised time and every label
  attribute (the original wrote no metadata, so points could not be coloured);
- atomic output: the run is written to a temporary folder and moved into place.

Open it with ``tensorboard --logdir OUTDIR`` (tab "Projector").
"""

from __future__ import annotations

import logging
import math
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from timecontrast.data.sequence import EmbeddedSequence
from timecontrast.errors import DataError
from timecontrast.io.files import name_error, temporary_directory

logger = logging.getLogger(__name__)

PROJECTOR_CONFIG = "projector_config.pbtxt"
FIXED_COLUMNS = ["sequence", "view", "timestep", "time"]


@dataclass
class FrameSample:
    """Frames drawn from several sequences: their embeddings and where they come from."""

    embeddings: np.ndarray  # [N, D]
    sequence: np.ndarray  # [N] int64, index into names
    view: np.ndarray  # [N] int64
    timestep: np.ndarray  # [N] int64
    names: list[str]  # [S] sequence names
    lengths: np.ndarray  # [S] int64
    labels: dict[str, np.ndarray] = field(default_factory=dict)  # attribute -> [N] int64, -1 = unknown
    class_names: dict[str, list[str]] = field(default_factory=dict)  # attribute -> name of each class

    def label_name(self, key: str, value: int) -> str:
        """A label value as its class name when the dataset names it, else the number."""
        names = self.class_names.get(key, [])
        return names[value] if 0 <= value < len(names) else str(value)

    @property
    def time(self) -> np.ndarray:
        """Timestep normalised to [0, 1] within its sequence: ``[N]`` float64."""
        return self.timestep / np.maximum(self.lengths[self.sequence] - 1, 1)

    def __len__(self) -> int:
        return len(self.embeddings)


def _sequence_labels(seq: EmbeddedSequence) -> dict[str, np.ndarray]:
    labels = getattr(seq.sequence, "labels", None) if seq.sequence is not None else None
    out = {}
    for key, values in (labels or {}).items():
        values = np.asarray(values).astype(np.int64)
        if values.shape != (seq.length,):
            raise DataError(
                f"sequence '{seq.name}': label '{key}' has shape {values.shape} but the sequence has {seq.length} "
                "frames; regenerate its labels"
            )
        out[key] = values
    return out


def sample_frames(sequences: Sequence[EmbeddedSequence], num_embed: int, rng: np.random.Generator) -> FrameSample:
    """Draw ``num_embed`` frames uniformly without replacement over every frame of every
    view of every sequence (all of them when ``num_embed`` is -1 or exceeds the total)."""
    if not sequences:
        raise DataError("no sequences to embed; check --embedding_records")
    dims = {s.embeddings.shape[2] for s in sequences}
    if len(dims) != 1:
        raise DataError(f"sequences have embeddings of different sizes {sorted(dims)}")
    for s in sequences:
        if s.length == 0:
            logger.warning("sequence '%s' has 0 frames; none of its frames can be drawn", s.name)
    counts = np.array([len(s.views) * s.length for s in sequences])
    total = int(counts.sum())
    if total == 0:
        raise DataError(
            f"the {len(sequences)} sequence(s) to embed hold no frames; check --embedding_records "
            "(tcn inspect shows what they hold)"
        )
    n = total if num_embed < 0 or num_embed >= total else num_embed
    if n < num_embed:
        logger.warning("asked for %d frames but the sequences hold %d; embedding all of them", num_embed, total)
    flat = np.sort(rng.choice(total, size=n, replace=False)) if n < total else np.arange(total)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    seq_idx = np.searchsorted(offsets, flat, side="right") - 1  # [N]
    within = flat - offsets[seq_idx]
    lengths = np.array([s.length for s in sequences], np.int64)
    row, timestep = within // lengths[seq_idx], within % lengths[seq_idx]
    emb = np.stack([sequences[s].embeddings[r, t] for s, r, t in zip(seq_idx, row, timestep)]).astype(np.float32)
    view = np.array([sequences[s].views[r] for s, r in zip(seq_idx, row)], np.int64)

    per_seq = [_sequence_labels(s) for s in sequences]
    keys = sorted({k for labels in per_seq for k in labels})
    labels = {}
    for key in keys:
        col = np.full(n, -1, np.int64)
        for i, (s, t) in enumerate(zip(seq_idx, timestep)):
            if key in per_seq[s]:
                col[i] = per_seq[s][key][t]
        labels[key] = col
    class_names: dict[str, list[str]] = {}
    for s in sequences:  # the first dataset that names an attribute's classes
        for key, names in (getattr(s.sequence, "class_names", None) or {}).items():
            if key in labels:
                class_names.setdefault(key, list(names))
    return FrameSample(
        emb, seq_idx.astype(np.int64), view.astype(np.int64), timestep.astype(np.int64), [s.name for s in sequences],
        lengths, labels, class_names,
    )  # fmt: skip


def letterbox(rgb: np.ndarray, size: int) -> np.ndarray:
    """Scale ``[H, W, 3]`` uint8 so its longer side is ``size``, centred on a black
    ``[size, size, 3]`` square (the aspect ratio is kept)."""
    h, w = rgb.shape[:2]
    scale = size / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    img = Image.fromarray(rgb).resize((nw, nh), Image.Resampling.LANCZOS)
    out = np.zeros((size, size, 3), np.uint8)
    top, left = (size - nh) // 2, (size - nw) // 2
    out[top : top + nh, left : left + nw] = np.asarray(img)
    return out


def sample_thumbnails(sample: FrameSample, sequences: Sequence[EmbeddedSequence], sprite_dim: int) -> np.ndarray:
    """Letterboxed thumbnails of the sampled frames: ``[N, sprite_dim, sprite_dim, 3]`` uint8."""
    out = np.zeros((len(sample), sprite_dim, sprite_dim, 3), np.uint8)
    for i, (s, v, t) in enumerate(zip(sample.sequence, sample.view, sample.timestep)):
        seq = sequences[s].sequence
        if seq is None:
            raise DataError(f"sequence '{sequences[s].name}': no frames attached for the sprite")
        out[i] = letterbox(seq.frame(int(v), int(t)), sprite_dim)
    return out


def _cell(value: object) -> str:
    return str(value).replace("\t", " ").replace("\n", " ").replace("\r", " ")


def metadata_rows(sample: FrameSample) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the projector's metadata table (unknown labels are empty cells)."""
    keys = sorted(sample.labels)
    header = FIXED_COLUMNS + keys
    time = sample.time
    rows = []
    for i in range(len(sample)):
        row = [_cell(sample.names[sample.sequence[i]]), str(sample.view[i]), str(sample.timestep[i]), f"{time[i]:.4f}"]
        row += ["" if sample.labels[k][i] < 0 else _cell(sample.label_name(k, int(sample.labels[k][i]))) for k in keys]
        rows.append(row)
    return header, rows


def write_projector(
    outdir: str | os.PathLike, sample: FrameSample, thumbnails: np.ndarray | None = None, tag: str = "embeddings"
) -> Path:
    """Write the projector run into ``outdir``; returns the path of ``projector_config.pbtxt``.

    ``thumbnails [N, s, s, 3]`` uint8 become the sprite. A previous projector run in
    ``outdir`` is replaced (its config lists only this run's tag).
    """
    import torch
    from torch.utils.tensorboard import SummaryWriter

    if thumbnails is not None and len(thumbnails) != len(sample):
        raise DataError(f"{len(thumbnails)} thumbnails for {len(sample)} embeddings")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    header, rows = metadata_rows(sample)
    label_img = None
    if thumbnails is not None:
        label_img = (
            torch.from_numpy(np.ascontiguousarray(thumbnails.transpose(0, 3, 1, 2))).float() / 255.0
        )  # [N, 3, s, s]
    tmp = temporary_directory(outdir, "projector")  # a killed run's is removed here
    try:
        writer = SummaryWriter(log_dir=str(tmp))
        try:
            writer.add_embedding(
                torch.from_numpy(sample.embeddings), metadata=rows, label_img=label_img, metadata_header=header, tag=tag
            )
        finally:
            writer.close()
        # Move into place; the config goes last so a reader never sees it before its files.
        entries = sorted(tmp.iterdir(), key=lambda p: p.name == PROJECTOR_CONFIG)
        for entry in entries:
            dest = outdir / entry.name
            if entry.is_dir():
                for sub in entry.iterdir():  # 00000/<tag>
                    target = dest / sub.name
                    if target.exists():
                        shutil.rmtree(target)
                    dest.mkdir(exist_ok=True)
                    os.replace(sub, target)
            else:
                os.replace(entry, dest)
    except OSError as exc:  # name the output folder, not our hidden one
        name_error(exc, outdir, tmp)
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    logger.info("projector run: %d embeddings, %d metadata columns in %s", len(sample), len(header), outdir)
    return outdir / PROJECTOR_CONFIG


def sprite_size(num: int, sprite_dim: int) -> int:
    """Side in pixels of the square sprite holding ``num`` thumbnails."""
    return math.ceil(math.sqrt(num)) * sprite_dim
