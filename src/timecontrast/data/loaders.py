"""Ready training and validation batches from sequence records.

:class:`SequenceBatches` is an ``IterableDataset`` of whole batches (a DataLoader with
``batch_size=None`` passes them through): batch ``b`` is built from
:func:`~timecontrast.data.samplers.batch_generators` ``(seed, b, rank, stream)``, and
DataLoader worker ``w`` of ``W`` builds batches ``start + w``, ``start + w + W``, ...;
the DataLoader hands them out round-robin, so the stream is ``start, start + 1, ...``
whatever the number of workers, and a resumed run starts at its step.

A batch is a dict of tensors:

- ``images``: ``[B, 3, H, W]`` float32 (clips: ``[B, K, 3, H, W]``), normalised;
- ``labels``, ``timesteps``, ``sequence_ids``, ``views``: ``[B]`` int64;
- ``raw`` (only with ``with_raw``): ``[B, 3, H, W]`` uint8, the embedded frame with the
  evaluation crop and no augmentation (for image summaries).

Pair strategies lay a batch out as ``[anchors; positives]``.

A user-facing error in a DataLoader worker (a damaged frame: ``TimeContrastError``; a
file that went away: ``OSError``) reaches the main process as the same exception with the
same one-line message, as with ``num_workers: 0``: the worker hands it over as a
:class:`WorkerFailure` item and :class:`BatchLoader` raises it. (DataLoader's own
re-raising would build a new exception from the worker's whole traceback.)
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Iterator, Sequence
from itertools import count
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from timecontrast.data.records import SequenceRecord, open_sequences
from timecontrast.data.samplers import (
    STRATEGIES,
    TRAIN_STREAM,
    VALIDATION_STREAM,
    BatchPlan,
    Sampler,
    batch_generators,
    build_sampler,
    clip_indices,
)
from timecontrast.data.transforms import (
    EmbedderInput,
    EvalTransform,
    TrainTransform,
    eval_transform_for,
    train_transform_for,
)
from timecontrast.errors import ConfigError, DataError, TimeContrastError

if TYPE_CHECKING:  # data reads the config tree only in its factories; never imported at run time
    from timecontrast.config import TCNConfig

log = logging.getLogger(__name__)

Batch = dict[str, torch.Tensor]

# Errors a worker hands over to the main process as they are (every other one is a bug,
# and DataLoader's traceback of it is what a bug report needs).
HANDED_OVER = (TimeContrastError, OSError)


def _with_message(kind: type, message: str) -> BaseException | None:
    try:
        return kind(message)
    except Exception:
        return None


def _travels(error: BaseException) -> bool:
    """Whether ``error`` survives the pickling between a worker and the main process."""
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return False
    return True


class WorkerFailure:
    """What a DataLoader worker yields instead of a batch when building it failed."""

    def __init__(self, error: BaseException, worker: int) -> None:
        self.error = error
        self.worker = worker

    @classmethod
    def of(cls, error: BaseException, worker: int) -> WorkerFailure:
        """A failure carrying ``error``, or, when ``error`` cannot travel between processes
        (an exception class whose constructor takes other arguments than its message does
        not unpickle), the nearest base class of it that can, with the same message."""
        for kind in type(error).__mro__:
            candidate = error if kind is type(error) else _with_message(kind, str(error))
            if isinstance(candidate, HANDED_OVER) and _travels(candidate):
                return cls(candidate, worker)
        return cls(TimeContrastError(str(error)), worker)

    def raise_error(self) -> None:
        log.debug("DataLoader worker %d failed: %s", self.worker, self.error)
        raise self.error


class SequenceBatches(IterableDataset):
    """Batches planned by ``sampler`` over ``sequences``, decoded and transformed.

    ``transform`` is a :class:`TrainTransform` (augmentation drawn per item from the
    batch's torch generator; anchor and positive independently, a clip once) or an
    :class:`EvalTransform`. ``num_frames`` > 1 makes clips of ``frame_stride``.
    ``num_batches`` None = an endless stream.
    """

    def __init__(
        self,
        sequences: Sequence[SequenceRecord],
        sampler: Sampler,
        transform: TrainTransform | EvalTransform,
        *,
        seed: int,
        rank: int = 0,
        stream: int = TRAIN_STREAM,
        start_batch: int = 0,
        num_batches: int | None = None,
        num_frames: int = 1,
        frame_stride: int = 1,
        raw_transform: EvalTransform | None = None,
    ) -> None:
        super().__init__()
        self.sequences = list(sequences)
        self.sampler = sampler
        self.transform = transform
        self.seed, self.rank, self.stream = int(seed), int(rank), int(stream)
        self.start_batch = int(start_batch)
        self.num_batches = num_batches
        self.num_frames, self.frame_stride = int(num_frames), int(frame_stride)
        self.raw_transform = raw_transform

    def plan(self, index: int) -> tuple[BatchPlan, torch.Generator]:
        rng, generator = batch_generators(self.seed, index, self.rank, self.stream)
        return self.sampler.sample(rng), generator

    def batch(self, index: int) -> Batch:
        """Batch number ``index`` of this stream (the same every time it is asked for)."""
        plan, generator = self.plan(index)
        cache: dict[tuple[int, int, int], np.ndarray] = {}  # decoded frames, shared by overlapping clips

        def frames(seq: int, view: int, t: int) -> np.ndarray:  # [K, H, W, 3] uint8
            ts = clip_indices(t, self.num_frames, self.frame_stride) if self.num_frames > 1 else (t,)
            out = []
            for u in ts:
                key = (seq, view, int(u))
                if key not in cache:
                    cache[key] = self.sequences[seq].frame(view, int(u))
                out.append(cache[key])
            return np.stack(out)

        clips = [frames(*item) for item in zip(plan.sequence.tolist(), plan.view.tolist(), plan.timestep.tolist())]
        if isinstance(self.transform, TrainTransform):  # one draw per item: anchor and positive independent
            augs = [self.transform.sample(c.shape[1], c.shape[2], generator) for c in clips]
            images = self.transform.apply_many(clips, augs)  # [B, K, 3, h, w]
        else:
            images = torch.stack([self.transform(c) for c in clips])  # [B, K, 3, h, w]
        if self.num_frames == 1:
            images = images[:, 0]  # [B, 3, h, w]
        raws = [self.raw_transform.uint8(c[-1])[0] for c in clips] if self.raw_transform is not None else []
        batch: Batch = {
            "images": images,  # [B, 3, h, w] or [B, K, 3, h, w]
            "labels": torch.from_numpy(plan.label),
            "timesteps": torch.from_numpy(plan.timestep),
            "sequence_ids": torch.from_numpy(plan.sequence),
            "views": torch.from_numpy(plan.view),
        }
        if raws:
            batch["raw"] = torch.stack(raws)  # [B, 3, h, w] uint8
        return batch

    def __iter__(self) -> Iterator[Batch | WorkerFailure]:
        """The batches of this worker's share; in a worker, a failure ends its share (see :class:`WorkerFailure`)."""
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        stop = None if self.num_batches is None else self.start_batch + self.num_batches
        for index in count(self.start_batch + worker, workers):
            if stop is not None and index >= stop:
                return
            if info is None:
                yield self.batch(index)
                continue
            try:
                batch = self.batch(index)
            except HANDED_OVER as exc:
                yield WorkerFailure.of(exc, worker)
                return
            yield batch

    def __len__(self) -> int:
        if self.num_batches is None:
            raise TypeError("an endless batch stream has no length")
        return self.num_batches


# ------------------------------------------------------------------------ factories
def _num_frames(cfg: TCNConfig, embedder: EmbedderInput) -> tuple[int, int]:
    """Clip length and stride of the embedder, checked against the training strategy."""
    k, stride = int(getattr(embedder, "num_frames", 1)), int(getattr(embedder, "frame_stride", 1))
    if cfg.training_strategy == "mftcn" and k < 2:
        raise ConfigError(
            f"training_strategy 'mftcn' trains a multi-frame embedder, but embedder_strategy "
            f"'{cfg.embedder_strategy}' embeds single frames; set embedder_strategy: multi_frame "
            "(multi_frame.num_frames >= 2)"
        )
    if cfg.training_strategy != "mftcn" and k > 1:
        raise ConfigError(
            f"the embedder takes clips of {k} frames; train it with training_strategy: mftcn "
            f"(got '{cfg.training_strategy}')"
        )
    return k, stride


def open_split(cfg: TCNConfig, split: str) -> list[SequenceRecord]:
    """The sequences of ``data.training`` or ``data.validation``, with ``data.num_views`` views."""
    key = {"training": "data.training", "validation": "data.validation"}[split]
    path = cfg.data.training if split == "training" else cfg.data.validation
    if not path:
        raise ConfigError(f"{key} is empty; set it to the directory (or glob) of the {split} sequence records")
    try:
        sequences = open_sequences(path, num_views=cfg.data.num_views)
    except DataError as exc:
        raise DataError(f"{key}: {exc}") from None
    log.info("%s: %d sequences from %s", key, len(sequences), path)
    return sequences


def check_strategy(cfg: TCNConfig) -> None:
    if cfg.training_strategy not in STRATEGIES:
        raise ConfigError(f"training_strategy is '{cfg.training_strategy}'; choose one of: {', '.join(STRATEGIES)}")


def build_batches(
    cfg: TCNConfig,
    embedder: EmbedderInput,
    sequences: Sequence[SequenceRecord],
    *,
    train: bool,
    rank: int = 0,
    start_batch: int = 0,
    num_batches: int | None = None,
    with_raw: bool = False,
) -> SequenceBatches:
    """A :class:`SequenceBatches` of the config's strategy over ``sequences``.

    ``train`` picks the augmentation and the training stream; otherwise evaluation
    preprocessing and the validation stream (the same batches for every checkpoint).
    Raises ConfigError/DataError for a config the data cannot satisfy.
    """
    check_strategy(cfg)
    num_frames, stride = _num_frames(cfg, embedder)
    sampler = build_sampler(cfg, [s.length for s in sequences], [s.name for s in sequences])
    eval_transform = eval_transform_for(cfg, embedder)
    return SequenceBatches(
        sequences,
        sampler,
        train_transform_for(cfg, embedder) if train else eval_transform,
        seed=cfg.seed,
        rank=rank,
        stream=TRAIN_STREAM if train else VALIDATION_STREAM,
        start_batch=start_batch,
        num_batches=num_batches,
        num_frames=num_frames,
        frame_stride=stride,
        raw_transform=eval_transform if with_raw else None,
    )


class BatchLoader(DataLoader):
    """A DataLoader of :class:`SequenceBatches` that raises a worker's error as it was raised."""

    # DataLoader's stubs pin __iter__ to its private iterator class; callers only iterate.
    def __iter__(self) -> Iterator[Batch]:  # type: ignore[override]
        for batch in super().__iter__():
            if isinstance(batch, WorkerFailure):
                batch.raise_error()
            yield batch


def make_loader(batches: SequenceBatches, num_workers: int, pin_memory: bool = False) -> BatchLoader:
    """A DataLoader passing whole batches through, ``num_workers`` processes, in stream order."""
    if num_workers < 0:
        raise ConfigError(f"data.num_workers is {num_workers}; use 0 (main process) or more")
    if batches.num_batches is not None:
        num_workers = min(num_workers, batches.num_batches)
    return BatchLoader(
        batches,
        batch_size=None,
        num_workers=num_workers,
        pin_memory=pin_memory,
        persistent_workers=num_workers > 0,
        prefetch_factor=4 if num_workers > 0 else None,
        # Its own generator: creating an iterator must not draw from the global RNG (resume).
        generator=torch.Generator().manual_seed(0),
    )
