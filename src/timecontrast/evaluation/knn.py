"""Cross-sequence kNN classification error (the original's ``labeled_eval``).

Every labeled frame (of every view, all in one pool) is a query; its neighbours are the
k nearest frames of *other* sequences (different ``task``), so the same moment seen from
the other camera and the rest of the same video never count. A query is a hit at k when
its label value is among the labels of its k nearest neighbours.

Per attribute and k we report:
- ``recall`` (class-balanced): the mean over class values of hits / count. Classes with
  zero hits count as recall 0. The original dropped them from the mean (its section 13,
  bug 2), which made the error look smaller; that value is kept as ``original_recall``
  so numbers can be compared with published ones.
- ``micro_recall``: hits / queries over all queries (plain accuracy).
- ``error`` = 1 - recall (the TensorBoard scalar), ``micro_error`` = 1 - micro_recall.
The average over attributes is 1 - the mean class-balanced recall, as in the original.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch

from timecontrast.errors import DataError
from timecontrast.evaluation.neighbors import cross_sequence_neighbors


@dataclass
class Recall:
    """Recall of one label attribute at one k."""

    k: int
    recall: float  # class-balanced, zero-hit classes count as 0
    micro_recall: float  # hits / queries
    original_recall: float  # the original's mean over classes with at least one hit
    class_hits: dict[int, int]
    class_counts: dict[int, int]

    @property
    def error(self) -> float:
        return 1.0 - self.recall

    @property
    def micro_error(self) -> float:
        return 1.0 - self.micro_recall

    def to_dict(self) -> dict:
        d = asdict(self)
        d["error"] = self.error
        d["micro_error"] = self.micro_error
        d["class_hits"] = {str(c): h for c, h in self.class_hits.items()}
        d["class_counts"] = {str(c): n for c, n in self.class_counts.items()}
        return d


def recall_at_k(neighbor_labels: np.ndarray, labels: np.ndarray, k: int) -> Recall:
    """Recall@k from the labels of each query's neighbours ``[N, >=k]`` (nearest first) and its own ``[N]``."""
    neighbor_labels = np.asarray(neighbor_labels)
    labels = np.asarray(labels).reshape(-1)
    if neighbor_labels.ndim != 2 or neighbor_labels.shape[0] != labels.shape[0]:
        raise DataError(f"neighbour labels {neighbor_labels.shape} do not match {labels.shape[0]} queries")
    if not 1 <= k <= neighbor_labels.shape[1]:
        raise DataError(f"k={k} but only {neighbor_labels.shape[1]} neighbours were searched")
    hit = (neighbor_labels[:, :k] == labels[:, None]).any(axis=1)  # [N]
    classes, inverse = np.unique(labels, return_inverse=True)
    counts = np.bincount(inverse, minlength=len(classes))
    hits = np.bincount(inverse, weights=hit, minlength=len(classes)).astype(np.int64)
    per_class = hits / counts
    nonzero = per_class[hits > 0]
    return Recall(
        k=k,
        recall=float(per_class.mean()) if len(classes) else 0.0,
        micro_recall=float(hit.mean()) if len(hit) else 0.0,
        original_recall=float(nonzero.mean()) if len(nonzero) else 0.0,
        class_hits={int(c): int(h) for c, h in zip(classes, hits)},
        class_counts={int(c): int(n) for c, n in zip(classes, counts)},
    )


@dataclass
class ClassificationResult:
    """kNN classification of every attribute at every k."""

    recalls: dict[str, dict[int, Recall]]  # attribute -> k -> Recall
    num_queries: int
    num_sequences: int
    tag_prefix: str = "validation/classification"  # "test/classification" on the test split

    def average_error(self, k: int) -> float:
        """1 - the mean class-balanced recall over attributes (the original's average)."""
        return 1.0 - float(np.mean([r[k].recall for r in self.recalls.values()]))

    def average_micro_error(self, k: int) -> float:
        return 1.0 - float(np.mean([r[k].micro_recall for r in self.recalls.values()]))

    @property
    def ks(self) -> list[int]:
        first = next(iter(self.recalls.values()), {})
        return sorted(first)

    def scalars(self, prefix: str | None = None) -> dict[str, float]:
        """TensorBoard scalars: ``<prefix>/<attr> error@top<k>`` and ``<prefix>/average error@top<k>``
        (class-balanced), and ``<prefix>/average micro error@top<k>``."""
        prefix = prefix or self.tag_prefix
        out: dict[str, float] = {}
        for k in self.ks:
            for attr, by_k in self.recalls.items():
                out[f"{prefix}/{attr} error@top{k}"] = by_k[k].error
            out[f"{prefix}/average error@top{k}"] = self.average_error(k)
            out[f"{prefix}/average micro error@top{k}"] = self.average_micro_error(k)
        return out

    def to_dict(self) -> dict:
        return {
            "num_queries": self.num_queries,
            "num_sequences": self.num_sequences,
            "attributes": {a: {str(k): r.to_dict() for k, r in by_k.items()} for a, by_k in self.recalls.items()},
            "average": {
                str(k): {"error": self.average_error(k), "micro_error": self.average_micro_error(k)} for k in self.ks
            },
        }


def knn_classification(
    embeddings: np.ndarray,
    groups: Sequence | np.ndarray,
    labels: Mapping[str, np.ndarray],
    ks: Sequence[int] = (1,),
    device: str | torch.device | None = None,
) -> ClassificationResult:
    """Cross-sequence kNN recall of each label attribute at each k.

    ``embeddings`` [N, D]; ``groups`` [N] sequence names (neighbours come from other
    groups only); ``labels`` {attribute: [N] int}.
    """
    ks = sorted({int(k) for k in ks})
    if not ks or ks[0] < 1:
        raise DataError(f"recall_at_k_list must hold values >= 1, got {list(ks)}")
    n = len(embeddings)
    for attr, lab in labels.items():
        if len(lab) != n:
            raise DataError(f"label '{attr}' has {len(lab)} values for {n} embeddings")
    neighbors = cross_sequence_neighbors(embeddings, groups, ks[-1], device=device)  # [N, kmax]
    recalls = {}
    for attr, lab in labels.items():
        lab = np.asarray(lab).reshape(-1)
        recalls[attr] = {k: recall_at_k(lab[neighbors], lab, k) for k in ks}
    return ClassificationResult(recalls=recalls, num_queries=n, num_sequences=len(np.unique(np.asarray(groups))))
