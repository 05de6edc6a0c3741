"""The field's standard per-frame metrics of one model in one go, each sequence embedded once.

:func:`sequence_metrics` embeds the validation sequences (the chosen view, and every view
when Kendall's τ across views is asked for) and, for the labelled metrics, the training
sequences (the chosen view), then computes any of:

- ``kendall``: Kendall's τ across sequences and/or across views (:mod:`.kendall`, TCC);
- ``cycle``: 2-way and 3-way cycle consistency (:mod:`.cycles`, XIRL);
- ``classification``: linear SVM phase classification with 10/50/100 % of the training
  sequences; ``few_shot``: with k = 1, 5, 10 of them; ``progression``: R² of the phase
  progress (:mod:`.phases`, TCC).

The labelled metrics read one per-frame label attribute of each sequence (``label``,
e.g. ``phase``; ``MultiViewSequence.labels``, which ``tcn synth`` writes into
``DIR/<split>/state/<name>.npz``). ``tcn kendall``, ``tcn cycle``, ``tcn phases``,
``tcn progression`` and ``tcn phase-eval`` (all of them; what ``tcn demo`` runs) call this.

Example::

    from timecontrast.data.records import open_sequences
    from timecontrast.evaluation.sequence_metrics import SequenceMetricsOptions, sequence_metrics
    from timecontrast.inference import Embedder

    result = sequence_metrics(
        Embedder.from_checkpoint("runs/demo"),
        open_sequences("data/train/records"),
        open_sequences("data/val/records"),
        SequenceMetricsOptions(label="pole_up"),
    )
    print(result.scalars())
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from timecontrast.errors import DataError
from timecontrast.evaluation.cycles import CycleResult, cycle_consistency
from timecontrast.evaluation.kendall import TauResult, kendalls_tau_across_sequences, kendalls_tau_across_views
from timecontrast.evaluation.matches import match_table, strided
from timecontrast.evaluation.phases import (
    FRACTIONS,
    SHOTS,
    FewShotScore,
    LabelledSequence,
    ProgressionScore,
    few_shot_classification,
    phase_classification,
    phase_progression,
)
from timecontrast.progress import Progress

if TYPE_CHECKING:
    from timecontrast.inference import Embedder

log = logging.getLogger(__name__)

METRICS = ("kendall", "cycle", "classification", "few_shot", "progression")
LABELLED = frozenset({"classification", "few_shot", "progression"})
ACROSS = ("sequences", "views")


@dataclass
class SequenceMetricsOptions:
    """What to compute and how (plain values; the CLI fills them from its flags)."""

    metrics: tuple[str, ...] = METRICS
    label: str = "phase"  # the per-frame label attribute of the labelled metrics
    view: int = 0  # the view whose frames are the samples of every metric but τ across views
    across: tuple[str, ...] = ACROSS  # Kendall's τ: across "sequences" and/or "views"
    stride: int = 1  # Kendall's τ and cycle consistency: every stride-th frame
    fractions: tuple[float, ...] = FRACTIONS
    shots: tuple[int, ...] = SHOTS
    draws: int = 10
    max_triples: int = 2000
    c: float = 1.0  # the linear SVM's C
    seed: int = 0
    num_train_sequences: int = -1  # first N (-1 = all)
    num_val_sequences: int = -1

    def __post_init__(self) -> None:
        bad = [m for m in self.metrics if m not in METRICS]
        if bad or not self.metrics:
            raise DataError(f"metrics {list(self.metrics)}: choose from {', '.join(METRICS)}")
        bad = [a for a in self.across if a not in ACROSS]
        if bad or ("kendall" in self.metrics and not self.across):
            raise DataError(f"across {list(self.across)}: choose from {', '.join(ACROSS)}")

    @property
    def labelled(self) -> bool:
        return any(m in LABELLED for m in self.metrics)


def percent(fraction: float) -> str:
    return f"{100 * fraction:g}%"


@dataclass
class SequenceMetricsResult:
    """The metrics computed (absent ones are empty / None)."""

    label: str | None
    view: int
    num_train_sequences: int
    num_val_sequences: int
    kendall: dict[str, TauResult] = field(default_factory=dict)  # "sequences" / "views" -> τ
    cycle: CycleResult | None = None
    classification: dict[float, tuple[float, int]] = field(default_factory=dict)  # fraction -> (accuracy, used)
    few_shot: dict[int, FewShotScore] = field(default_factory=dict)
    progression: ProgressionScore | None = None

    def scalars(self, prefix: str = "validation") -> dict[str, float]:
        out = {f"{prefix}/kendall_tau/across {a}": r.tau for a, r in self.kendall.items()}
        if self.cycle is not None:
            c = self.cycle
            out[f"{prefix}/cycle_consistency/2-way"] = c.two_way
            out[f"{prefix}/cycle_consistency/2-way within 1"] = c.two_way_within_1
            out[f"{prefix}/cycle_consistency/3-way"] = c.three_way
            out[f"{prefix}/cycle_consistency/3-way within 1"] = c.three_way_within_1
        for f, (acc, _) in self.classification.items():
            out[f"{prefix}/phase_classification/{self.label} accuracy {percent(f)}"] = acc
        for k, score in self.few_shot.items():
            out[f"{prefix}/few_shot/{self.label} accuracy k={k}"] = score.mean
        if self.progression is not None:
            out[f"{prefix}/phase_progression/{self.label} r2"] = self.progression.r2
            out[f"{prefix}/phase_progression/{self.label} within-phase r2"] = self.progression.within_phase_r2
        return out

    def to_dict(self) -> dict:
        out: dict = {
            "label": self.label,
            "view": self.view,
            "num_train_sequences": self.num_train_sequences,
            "num_val_sequences": self.num_val_sequences,
        }
        if self.kendall:
            out["kendall_tau"] = {a: r.to_dict() for a, r in self.kendall.items()}
        if self.cycle is not None:
            out["cycle_consistency"] = self.cycle.to_dict()
        if self.classification:
            out["phase_classification"] = {
                percent(f): {"fraction": f, "accuracy": acc, "num_sequences": n}
                for f, (acc, n) in self.classification.items()
            }
        if self.few_shot:
            out["few_shot"] = {str(k): s.to_dict() for k, s in self.few_shot.items()}
        if self.progression is not None:
            out["phase_progression"] = self.progression.to_dict()
        return out


def describe_scalar(tag: str) -> str:
    """A reader's name for one of :meth:`SequenceMetricsResult.scalars`' tags (for reports)."""
    group, _, name = tag.split("/", 1)[-1].partition("/")
    if group == "kendall_tau":
        return f"Kendall's tau {name} (1 = aligned, 0 = chance)"
    if group == "cycle_consistency":
        return f"cycle consistency {name.replace('within 1', '(within 1 frame)')}"
    label, _, what = name.partition(" ")
    if group == "phase_classification":
        return f"{label}: linear SVM accuracy, {what.removeprefix('accuracy ')} of training sequences"
    if group == "few_shot":
        return f"{label}: few-shot accuracy, {what.removeprefix('accuracy ')} sequences (mean of draws)"
    if group == "phase_progression":
        if what == "within-phase r2":
            return f"{label}: fraction of the phase completed, R^2"
        return f"{label}: phase progression R^2 (TCC's, mean over key events)"
    return tag


def _where(seq) -> str:
    path = getattr(seq, "path", None)
    return f" ({path})" if path is not None else ""


def sequence_labels(seq, label: str, split: str) -> np.ndarray:
    """``[T]`` int64: the per-frame ``label`` of ``seq``; a DataError says what labels it has."""
    labels = seq.labels
    if not labels:
        raise DataError(
            f"{split}: sequence '{seq.name}'{_where(seq)} has no per-frame labels; the phase metrics need "
            "labelled sequences (DIR/<split>/state/<name>.npz with labels beside DIR/<split>/records/, as tcn "
            "synth writes)"
        )
    if label not in labels:
        raise DataError(
            f"{split}: sequence '{seq.name}' has no label '{label}'; its labels: {', '.join(sorted(labels))} "
            "(choose one with --label)"
        )
    values = np.asarray(labels[label]).reshape(-1)
    if len(values) != seq.length:
        raise DataError(
            f"{split}: sequence '{seq.name}' has {len(values)} '{label}' labels for {seq.length} frames; "
            "its state file does not belong to it"
        )
    return values.astype(np.int64)


def check_labels(sequences: Sequence, label: str, split: str) -> None:
    """Raise the DataError of :func:`sequence_labels` for the first sequence without ``label``."""
    for seq in sequences:
        sequence_labels(seq, label, split)


def _first(sequences: Sequence, n: int) -> list:
    return list(sequences) if n < 0 else list(sequences)[:n]


def _embed(embedder: Embedder, sequences: Sequence, views: list[int], split: str) -> list[np.ndarray]:
    """``[V, T, D]`` per sequence (the listed views)."""
    out = []
    with Progress(total=len(sequences), desc=f"embedding {split}", unit="sequence", logger=log) as bar:
        for seq in sequences:
            if max(views) >= seq.num_views:
                raise DataError(
                    f"{split}: sequence '{seq.name}'{_where(seq)} has {seq.num_views} view(s); view {max(views)} "
                    "was asked for (--view)"
                )
            out.append(embedder.embed_sequence(seq, views))
            bar.update(1)
    return out


def metrics_of_embeddings(
    val: Sequence[np.ndarray],
    options: SequenceMetricsOptions,
    val_labels: Sequence[np.ndarray] | None = None,
    train: Sequence[np.ndarray] = (),
    train_labels: Sequence[np.ndarray] = (),
    val_all_views: Sequence[np.ndarray] | None = None,
    device=None,
) -> SequenceMetricsResult:
    """The metrics from embeddings already computed.

    ``val``: ``[T, D]`` per validation sequence (the samples); ``val_all_views``: ``[V, T, D]``
    per validation sequence, for τ across views only; ``train``: ``[T, D]`` per training
    sequence; labels ``[T]`` per sequence, needed for the labelled metrics.
    """
    o = options
    result = SequenceMetricsResult(o.label if o.labelled else None, o.view, len(train), len(val))
    table = None  # the nearest frames between validation sequences: built once for tau and cycles
    if len(val) >= 2 and ("cycle" in o.metrics or ("kendall" in o.metrics and "sequences" in o.across)):
        table = match_table(strided(val, o.stride), device=device)
    if "kendall" in o.metrics:
        if "sequences" in o.across:
            result.kendall["sequences"] = kendalls_tau_across_sequences(val, o.stride, device, table)
        if "views" in o.across:
            if val_all_views is None:
                raise DataError("Kendall's tau across views needs the embeddings of every view")
            result.kendall["views"] = kendalls_tau_across_views(val_all_views, o.stride, device)
    if "cycle" in o.metrics:
        result.cycle = cycle_consistency(val, o.stride, o.max_triples, o.seed, device, table)
    if o.labelled:
        if val_labels is None or len(val_labels) != len(val) or len(train_labels) != len(train):
            raise DataError("the phase metrics need per-frame labels of every training and validation sequence")
        tr = [LabelledSequence(f"train {i}", e, y) for i, (e, y) in enumerate(zip(train, train_labels))]
        va = [LabelledSequence(f"val {i}", e, y) for i, (e, y) in enumerate(zip(val, val_labels))]
        if "classification" in o.metrics:
            result.classification = phase_classification(tr, va, o.fractions, o.c, o.seed)
        if "few_shot" in o.metrics:
            result.few_shot = few_shot_classification(tr, va, o.shots, o.draws, o.seed, o.c)
        if "progression" in o.metrics:
            result.progression = phase_progression(tr, va)
    return result


def sequence_metrics(
    embedder: Embedder,
    train_sequences: Sequence,
    val_sequences: Sequence,
    options: SequenceMetricsOptions | None = None,
) -> SequenceMetricsResult:
    """Embed each sequence once with ``embedder`` and compute ``options.metrics``.

    ``train_sequences`` are only read for the labelled metrics (pass ``()`` otherwise).
    """
    o = options or SequenceMetricsOptions()
    val = _first(val_sequences, o.num_val_sequences)
    train = _first(train_sequences, o.num_train_sequences) if o.labelled else []
    if not val:
        raise DataError("no validation sequences to evaluate")
    val_labels: list[np.ndarray] | None = None
    train_labels: list[np.ndarray] = []
    if o.labelled:
        if not train:
            raise DataError("the phase metrics need labelled training sequences (data.training); none were given")
        val_labels = [sequence_labels(s, o.label, "validation") for s in val]
        train_labels = [sequence_labels(s, o.label, "training") for s in train]
    all_views = "kendall" in o.metrics and "views" in o.across
    if all_views:
        num_views = min(s.num_views for s in val)
        if num_views < 2:
            raise DataError("Kendall's tau across views needs sequences of at least 2 views; the validation data has 1")
        val_all = _embed(embedder, val, list(range(max(num_views, o.view + 1))), "validation")  # [V, T, D] each
        val_one = [e[o.view] for e in val_all]
    else:
        val_all = None
        val_one = [e[0] for e in _embed(embedder, val, [o.view], "validation")]
    train_one = [e[0] for e in _embed(embedder, train, [o.view], "training")] if train else []
    return metrics_of_embeddings(val_one, o, val_labels, train_one, train_labels, val_all, device=embedder.device)
