"""Which frames make a training batch: the ``training_strategy`` samplers.

A sampler turns a ``numpy.random.Generator`` into a :class:`BatchPlan`, a list of
(sequence, view, timestep, label) items; it decodes nothing (the loader reads only the
planned frames). Each batch's generator comes from :func:`batch_generators`
``(seed, batch_index, rank, stream)``, so batch ``b`` is the same whatever the number of
DataLoader workers, every rank gets different data, and a resumed run continues the
stream exactly.

- ``mvtcn`` (:class:`MultiViewPairSampler`): ``batch_size / examples_per_sequence``
  distinct sequences per batch; from each, ``examples_per_sequence / 2`` distinct
  timesteps inside one random window of ``mvtcn.window`` frames (its start may be any
  offset, the last one included; the original never drew the last); anchor and positive
  are that timestep seen from two different random views. Batch order: all anchors,
  then all positives; labels are unique per pair across the whole batch (the original
  restarted them at 1 in every sequence, so pairs of different sequences collided).
- ``mftcn``: the same, with clips (see :func:`clip_indices`) ending at the timesteps,
  which in one sequence are at least ``mftcn.min_separation`` frames apart.
- ``svtcn`` (:class:`SingleViewRunSampler`): ``batch_size / examples_per_sequence`` runs
  of ``examples_per_sequence`` contiguous frames, each from one random view of a
  distinct sequence (with the default batch_size = examples_per_sequence: one run, as
  the original). Labels are the absolute timesteps; the loss uses timesteps and
  sequence ids.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from timecontrast.errors import ConfigError, DataError

if TYPE_CHECKING:  # data reads the config tree only in its factories; never imported at run time
    from timecontrast.config import TCNConfig

log = logging.getLogger(__name__)

TRAIN_STREAM = 0  # the stream tag of training batches
VALIDATION_STREAM = 1  # validation batches (a fixed set per evaluation)


@dataclass(frozen=True)
class BatchPlan:
    """The items of one batch, all arrays ``[B]`` int64.

    Pair strategies: items ``[:num_pairs]`` are anchors, ``[num_pairs:]`` their positives
    (same order, same labels). ``timestep`` is the embedded frame (a clip's last frame).
    """

    sequence: np.ndarray  # index into the sampler's list of sequences
    view: np.ndarray
    timestep: np.ndarray
    label: np.ndarray
    num_pairs: int  # 0 for svtcn

    def __len__(self) -> int:
        return len(self.sequence)


def clip_indices(t: int, num_frames: int, stride: int = 1) -> np.ndarray:
    """The ``num_frames`` frame indices of the clip ending at ``t``: ``[K]``, ascending.

    ``t - (K-1)*stride, ..., t - stride, t``, clamped at 0 at the start of a sequence
    (the first frame repeats).
    """
    if num_frames < 1 or stride < 1:
        raise ValueError(f"num_frames and stride must be >= 1, got {num_frames} and {stride}")
    offsets = np.arange(num_frames - 1, -1, -1, dtype=np.int64) * stride
    return np.maximum(int(t) - offsets, 0)


def batch_generators(
    seed: int, batch_index: int, rank: int = 0, stream: int = TRAIN_STREAM
) -> tuple[np.random.Generator, torch.Generator]:
    """The generators of one batch: numpy for sampling, torch for augmentation.

    Derived from ``(seed, stream, rank, batch_index)`` alone, so any batch can be rebuilt.
    """
    if min(seed, batch_index, rank, stream) < 0:
        raise ValueError(f"seed, batch_index, rank and stream must be >= 0, got {(seed, batch_index, rank, stream)}")
    seq = np.random.SeedSequence([seed, stream, rank, batch_index])
    sample_seq, augment_seq = seq.spawn(2)
    torch_seed = int(augment_seq.generate_state(1, np.uint64)[0] >> np.uint64(1))
    return np.random.default_rng(sample_seq), torch.Generator().manual_seed(torch_seed)


def _check_batch(batch_size: int, examples_per_sequence: int) -> int:
    if examples_per_sequence < 1 or batch_size < 1:
        raise ConfigError("data.batch_size and data.examples_per_sequence must be at least 1")
    if batch_size % examples_per_sequence:
        raise ConfigError(
            f"data.batch_size ({batch_size}) must be a multiple of data.examples_per_sequence "
            f"({examples_per_sequence}); e.g. set data.batch_size={examples_per_sequence * max(1, batch_size // examples_per_sequence)}"
        )
    return batch_size // examples_per_sequence


def _eligible(
    lengths: Sequence[int] | np.ndarray, min_length: int, what: str, names: Sequence[str] | None
) -> np.ndarray:
    lengths_arr = np.asarray(lengths, dtype=np.int64)
    ok = np.flatnonzero(lengths_arr >= min_length)
    short = np.flatnonzero(lengths_arr < min_length)
    if len(short):
        shown = ", ".join((names[i] if names else str(i)) for i in short[:5])
        log.warning(
            "%d of %d sequences have fewer than %d frames (%s) and are never sampled: %s%s",
            len(short),
            len(lengths_arr),
            min_length,
            what,
            shown,
            " ..." if len(short) > 5 else "",
        )
    if not len(ok):
        raise DataError(
            f"no sequence has the {min_length} frames that {what} needs (longest: "
            f"{int(lengths_arr.max()) if len(lengths_arr) else 0}); lower data.examples_per_sequence or use longer sequences"
        )
    return ok


def _choose_sequences(rng: np.random.Generator, eligible: np.ndarray, count: int) -> np.ndarray:
    return rng.choice(eligible, size=count, replace=False)


class MultiViewPairSampler:
    """Anchor/positive pairs: one timestep, two different views (``mvtcn``; ``mftcn`` clips).

    ``lengths[i]`` is the number of frames of sequence ``i``. Each batch holds
    ``batch_size / examples_per_sequence`` distinct sequences, each giving
    ``examples_per_sequence / 2`` pairs whose timesteps lie in one random window of
    ``window`` frames and are at least ``min_separation`` frames apart (1 = distinct).
    """

    def __init__(
        self,
        lengths: Sequence[int],
        num_views: int,
        batch_size: int,
        examples_per_sequence: int,
        window: int,
        min_separation: int = 1,
        names: Sequence[str] | None = None,
    ) -> None:
        self.sequences_per_batch = _check_batch(batch_size, examples_per_sequence)
        if examples_per_sequence % 2:
            raise ConfigError(
                f"data.examples_per_sequence ({examples_per_sequence}) must be even: it counts anchors and positives"
            )
        if num_views < 2:
            raise ConfigError(f"data.num_views is {num_views}; multi-view pairs need at least 2 views")
        if min_separation < 1:
            raise ConfigError(f"mftcn.min_separation is {min_separation}; it must be at least 1 frame")
        self.pairs_per_sequence = examples_per_sequence // 2
        self.min_separation = int(min_separation)
        self.window = int(window)
        self.num_views = int(num_views)
        self.lengths = np.asarray(lengths, dtype=np.int64)
        need = (self.pairs_per_sequence - 1) * self.min_separation + 1  # frames for the timesteps of one sequence
        if self.window < need:
            key = "mftcn.window" if self.min_separation > 1 else "mvtcn.window"
            raise ConfigError(
                f"{key} ({self.window}) is too short for {self.pairs_per_sequence} timesteps "
                f"{self.min_separation} frame(s) apart; it needs at least {need} frames"
            )
        self.eligible = _eligible(self.lengths, need, f"{self.pairs_per_sequence} pairs", names)
        if len(self.eligible) < self.sequences_per_batch:
            raise DataError(
                f"a batch takes {self.sequences_per_batch} distinct sequences (data.batch_size / "
                f"data.examples_per_sequence) but only {len(self.eligible)} are long enough; "
                "lower data.batch_size or raise data.examples_per_sequence"
            )

    @property
    def batch_size(self) -> int:
        return 2 * self.pairs_per_sequence * self.sequences_per_batch

    def _timesteps(self, rng: np.random.Generator, length: int) -> np.ndarray:
        span = min(length, self.window)
        start = int(rng.integers(0, length - span + 1))  # the last offset included (original bug 13.12)
        p, gap = self.pairs_per_sequence, self.min_separation
        # p sorted distinct values of a shrunken range, spread by (gap - 1): uniform over the valid sets.
        free = span - (p - 1) * (gap - 1)
        picked = np.sort(rng.choice(free, size=p, replace=False)) + np.arange(p) * (gap - 1)
        return start + rng.permutation(picked)

    def sample(self, rng: np.random.Generator) -> BatchPlan:
        seqs = _choose_sequences(rng, self.eligible, self.sequences_per_batch)
        sequence = np.repeat(seqs, self.pairs_per_sequence)  # [P] pair -> sequence
        timestep = np.concatenate([self._timesteps(rng, int(self.lengths[s])) for s in seqs])
        views = np.argsort(rng.random((len(sequence), self.num_views)), axis=1)[:, :2]  # a random permutation each
        label = np.arange(len(sequence), dtype=np.int64)  # unique per pair across the batch
        return BatchPlan(
            sequence=np.concatenate([sequence, sequence]).astype(np.int64),
            view=np.concatenate([views[:, 0], views[:, 1]]).astype(np.int64),
            timestep=np.concatenate([timestep, timestep]).astype(np.int64),
            label=np.concatenate([label, label]),
            num_pairs=len(sequence),
        )


class SingleViewRunSampler:
    """Runs of ``examples_per_sequence`` contiguous frames from one random view (``svtcn``).

    ``batch_size / examples_per_sequence`` runs per batch, each from a distinct sequence;
    the run's start may be any offset, the last one included. Labels are timesteps.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        num_views: int,
        batch_size: int,
        examples_per_sequence: int,
        names: Sequence[str] | None = None,
    ) -> None:
        self.runs_per_batch = _check_batch(batch_size, examples_per_sequence)
        self.run_length = int(examples_per_sequence)
        self.num_views = int(num_views)
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.eligible = _eligible(self.lengths, self.run_length, f"a run of {self.run_length} frames", names)
        if len(self.eligible) < self.runs_per_batch:
            raise DataError(
                f"a batch takes {self.runs_per_batch} distinct sequences (data.batch_size / "
                f"data.examples_per_sequence) but only {len(self.eligible)} are long enough; "
                "lower data.batch_size or raise data.examples_per_sequence"
            )

    @property
    def batch_size(self) -> int:
        return self.run_length * self.runs_per_batch

    def sample(self, rng: np.random.Generator) -> BatchPlan:
        seqs = _choose_sequences(rng, self.eligible, self.runs_per_batch)
        starts = [int(rng.integers(0, int(self.lengths[s]) - self.run_length + 1)) for s in seqs]
        views = rng.integers(0, self.num_views, size=len(seqs))
        timestep = np.concatenate([start + np.arange(self.run_length) for start in starts]).astype(np.int64)
        return BatchPlan(
            sequence=np.repeat(seqs, self.run_length).astype(np.int64),
            view=np.repeat(views, self.run_length).astype(np.int64),
            timestep=timestep,
            label=timestep.copy(),
            num_pairs=0,
        )


Sampler = MultiViewPairSampler | SingleViewRunSampler

# The training strategies (the explicit registry; build_sampler maps each to its sampler).
STRATEGIES: dict[str, str] = {
    "mvtcn": "multi-view anchor/positive frame pairs",
    "svtcn": "single-view runs of contiguous frames",
    "mftcn": "multi-view anchor/positive clip pairs",
}


def build_sampler(cfg: TCNConfig, lengths: Sequence[int], names: Sequence[str] | None = None) -> Sampler:
    """The sampler of ``cfg.training_strategy`` for sequences of these ``lengths``."""
    strategy = cfg.training_strategy
    d = cfg.data
    if strategy == "mvtcn":
        return MultiViewPairSampler(
            lengths, d.num_views, d.batch_size, d.examples_per_sequence, cfg.mvtcn.window, 1, names
        )
    if strategy == "mftcn":
        return MultiViewPairSampler(
            lengths,
            d.num_views,
            d.batch_size,
            d.examples_per_sequence,
            cfg.mftcn.window,
            cfg.mftcn.min_separation,
            names,
        )
    if strategy == "svtcn":
        return SingleViewRunSampler(lengths, d.num_views, d.batch_size, d.examples_per_sequence, names)
    raise ConfigError(f"training_strategy is '{strategy}'; choose one of: {', '.join(STRATEGIES)}")
