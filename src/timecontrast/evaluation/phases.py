"""Phase classification, few-shot phase classification and phase progression (TCC's protocols).

Source: Dwibedi et al., "Temporal Cycle-Consistency Learning", CVPR 2019, Sec. 5
(evaluation) and its few-shot experiment, and its code (``tcc/evaluation/classification.py``,
``event_completion.py``). Every metric fits a small model on frozen per-frame embeddings
of labelled *training* sequences and scores it on the frames of *validation* sequences.
Labels are one integer class per frame (e.g. a task phase); a **key event** is a frame
where the label changes, and a **segment** is a run of frames between key events.

- **Phase classification**: a linear SVM (scikit-learn ``LinearSVC``, C = 1, on features
  standardised with the training mean and deviation) trained on every frame of the first
  ``max(1, int(f * N))`` of the N training sequences for each fraction f (10 %, 50 %,
  100 %, as TCC's ``CLASSIFICATION_FRACTIONS``); the score is the accuracy over all
  validation frames. (TCC's code fits ``sklearn.svm.SVC`` with its default RBF kernel on
  raw embeddings; the linear SVM is the linear-probe reading of the paper's "SVM".)
- **Few-shot**: the same classifier trained on k training sequences drawn at random
  (seeded; k = 1, 5, 10, those not above N), ``draws`` times; the mean accuracy and the 95 %
  confidence interval of that mean (Student's t over draws).
- **Phase progression** (TCC's code, ``event_completion.py`` / ``task_utils.py``): for
  each key event k (the end of phase k, for every phase but the last), the target
  ``(t - last frame of phase k) / T`` (T the sequence's length: negative before the event,
  rising by 1/T per frame); one ``LinearRegression`` per event from the embedding, fitted on
  the training frames and scored by R² (coefficient of determination) on the validation
  frames; the score is the mean R² over events. Also reported: the R² of a ridge
  regression to the fraction of the current phase completed, ``(t - s) / (e - s)`` with s
  the phase's first frame and e the next key event (a saw-tooth: a harder target).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression, RidgeCV
from sklearn.metrics import r2_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from timecontrast.errors import DataError

log = logging.getLogger(__name__)

FRACTIONS = (0.1, 0.5, 1.0)
SHOTS = (1, 5, 10)


@dataclass
class LabelledSequence:
    """One view of a sequence: per-frame embeddings ``[T, D]`` and labels ``[T]`` int64."""

    name: str
    embeddings: np.ndarray  # [T, D]
    labels: np.ndarray  # [T] int64

    def __post_init__(self) -> None:
        self.embeddings = np.asarray(self.embeddings, np.float64)
        self.labels = np.asarray(self.labels).astype(np.int64).reshape(-1)
        if self.embeddings.ndim != 2 or len(self.embeddings) != len(self.labels):
            raise DataError(
                f"sequence '{self.name}': {len(self.labels)} labels for embeddings of shape "
                f"{self.embeddings.shape}; the labels do not belong to this sequence"
            )


def key_events(labels: np.ndarray) -> np.ndarray:
    """Frames where the label changes (``labels[t] != labels[t - 1]``), ``[K]`` int64."""
    labels = np.asarray(labels).reshape(-1)
    return np.flatnonzero(labels[1:] != labels[:-1]).astype(np.int64) + 1


def phase_progress(labels: np.ndarray) -> np.ndarray:
    """``[T]`` float: the fraction of each frame's segment completed, ``(t - s) / (e - s)``."""
    labels = np.asarray(labels).reshape(-1)
    t = len(labels)
    bounds = np.concatenate([[0], key_events(labels), [t]])  # segment k is [bounds[k], bounds[k + 1])
    seg = np.searchsorted(bounds, np.arange(t), side="right") - 1  # [T] segment of each frame
    start, end = bounds[seg], bounds[seg + 1]
    return (np.arange(t) - start) / (end - start)


def _stack(sequences: Sequence[LabelledSequence]) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([s.embeddings for s in sequences]), np.concatenate([s.labels for s in sequences])


def classification_accuracy(
    train: Sequence[LabelledSequence], val: Sequence[LabelledSequence], c: float = 1.0, seed: int = 0
) -> float:
    """Accuracy on every frame of ``val`` of a linear SVM fitted on every frame of ``train``."""
    if not train or not val:
        raise DataError("phase classification needs at least one training and one validation sequence")
    x, y = _stack(train)
    xv, yv = _stack(val)
    classes = np.unique(y)
    if len(classes) == 1:  # nothing to separate: every frame gets the one class seen
        return float(np.mean(yv == classes[0]))
    model = make_pipeline(StandardScaler(), LinearSVC(C=c, max_iter=10000, random_state=seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the iteration cap is enough for a probe
        model.fit(x, y)
    return float(np.mean(model.predict(xv) == yv))


@dataclass
class FewShotScore:
    """Accuracy over ``draws`` random choices of k training sequences."""

    shots: int
    mean: float
    low: float  # 95 % confidence interval of the mean (NaN with one draw)
    high: float
    accuracies: list[float] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "shots": self.shots,
            "mean": self.mean,
            "low": self.low,
            "high": self.high,
            "accuracies": self.accuracies,
        }


def mean_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """``(mean, low, high)``: the Student-t confidence interval of the mean (NaN bounds for one value)."""
    v = np.asarray(values, np.float64)
    mean = float(v.mean())
    if len(v) < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))
    return mean, mean - half, mean + half


def phase_classification(
    train: Sequence[LabelledSequence],
    val: Sequence[LabelledSequence],
    fractions: Sequence[float] = FRACTIONS,
    c: float = 1.0,
    seed: int = 0,
) -> dict[float, tuple[float, int]]:
    """``{fraction: (accuracy, training sequences used)}``: the first ``max(1, int(f * N))``
    training sequences, in order (as TCC's code takes them)."""
    out = {}
    for f in fractions:
        if not 0 < f <= 1:
            raise DataError(f"fraction {f}: must be in (0, 1]")
        used = max(1, int(f * len(train)))
        out[float(f)] = (classification_accuracy(train[:used], val, c, seed), used)
    return out


def few_shot_classification(
    train: Sequence[LabelledSequence],
    val: Sequence[LabelledSequence],
    shots: Sequence[int] = SHOTS,
    draws: int = 10,
    seed: int = 0,
    c: float = 1.0,
) -> dict[int, FewShotScore]:
    """``{k: FewShotScore}`` for each k in ``shots`` that is at most the number of training sequences."""
    if draws < 1:
        raise DataError(f"draws {draws}: must be at least 1")
    out = {}
    for k in shots:
        if k < 1:
            raise DataError(f"shots {k}: must be at least 1 sequence")
        if k > len(train):
            log.info("few-shot k=%d skipped: only %d training sequences", k, len(train))
            continue
        rng = np.random.default_rng([seed, k])
        accs = []
        for _ in range(draws):
            chosen = sorted(rng.choice(len(train), k, replace=False).tolist())
            accs.append(classification_accuracy([train[i] for i in chosen], val, c, seed))
        mean, low, high = mean_interval(accs)
        out[int(k)] = FewShotScore(int(k), mean, low, high, accs)
    return out


def event_progress(labels: np.ndarray, classes: Sequence[int]) -> np.ndarray:
    """``[T, K]`` TCC's progress targets, one column per key event k (class ``classes[k]`` ends):
    ``(t - last frame of that class) / T``, NaN in a column whose class the sequence lacks.

    TCC's ``regression_labels_for_class`` (``tcc/evaluation/task_utils.py``): negative before
    the event, 0 at the phase's last frame, rising by 1/T per frame throughout.
    """
    labels = np.asarray(labels).reshape(-1)
    t = np.arange(len(labels), dtype=np.float64)
    out = np.full((len(labels), len(classes)), np.nan)
    for k, c in enumerate(classes):
        frames = np.flatnonzero(labels == c)
        if len(frames):
            out[:, k] = (t - frames[-1]) / len(labels)
    return out


@dataclass
class ProgressionScore:
    r2: float  # TCC's: the mean over key events of the validation R² (NaN when none can be scored)
    event_r2: dict[int, float]  # per key event: the class whose end it is -> validation R²
    train_r2: float  # TCC's mean, on the training frames
    within_phase_r2: float  # R² of a ridge regression to the fraction of the phase completed
    num_train_frames: int
    num_val_frames: int

    def to_dict(self) -> dict:
        return {
            "r2": self.r2,
            "event_r2": {str(k): v for k, v in self.event_r2.items()},
            "train_r2": self.train_r2,
            "within_phase_r2": self.within_phase_r2,
            "num_train_frames": self.num_train_frames,
            "num_val_frames": self.num_val_frames,
        }


def _r2(y: np.ndarray, prediction: np.ndarray) -> float:
    return float(r2_score(y, prediction)) if len(y) > 1 and np.ptp(y) > 0 else float("nan")


def phase_progression(train: Sequence[LabelledSequence], val: Sequence[LabelledSequence]) -> ProgressionScore:
    """Phase progression, as TCC's code scores it (``event_completion.py``).

    The key events are the ends of the phases in label order but the last (K = classes - 1
    events: TCC's ``num_classes - 1``). For each one a ``LinearRegression`` from the
    embedding to :func:`event_progress`'s column is fitted on the training frames of the
    sequences that have that phase, and scored by R² on the validation frames of those that
    have it; the score is the mean over events. Also reported: ``within_phase_r2``, a ridge
    regression to :func:`phase_progress` (the fraction of the current phase completed, a
    saw-tooth that resets at each key event: a harder target, and one that also suits labels
    that come back, such as ``pole_up``).
    """
    if not train or not val:
        raise DataError("phase progression needs at least one training and one validation sequence")
    x, labels = _stack(train)  # [N, D], [N]
    xv = np.concatenate([s.embeddings for s in val])
    classes = np.unique(labels)[:-1].tolist()  # the last phase ends no event
    y = np.concatenate([event_progress(s.labels, classes) for s in train])  # [N, K]
    yv = np.concatenate([event_progress(s.labels, classes) for s in val])
    event_r2, train_r2 = {}, []
    for k, c in enumerate(classes):
        fit, score = ~np.isnan(y[:, k]), ~np.isnan(yv[:, k])
        if fit.sum() < 2 or not score.any():
            continue
        model = LinearRegression().fit(x[fit], y[fit, k])
        event_r2[int(c)] = _r2(yv[score, k], model.predict(xv[score]))
        train_r2.append(_r2(y[fit, k], model.predict(x[fit])))
    scored = [v for v in event_r2.values() if np.isfinite(v)]
    within = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-4, 4, 17)))
    target = np.concatenate([phase_progress(s.labels) for s in train])
    within.fit(x, target)
    within_r2 = _r2(np.concatenate([phase_progress(s.labels) for s in val]), within.predict(xv))
    nan = float("nan")
    return ProgressionScore(
        float(np.mean(scored)) if scored else nan,
        event_r2,
        float(np.nanmean(train_r2)) if train_r2 and not np.all(np.isnan(train_r2)) else nan,
        within_r2,
        len(x),
        len(xv),
    )
